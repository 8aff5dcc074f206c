// sdk.mjs - the SDK under test: the bundles the C build made (RK_JS_DIST,
// set by ctest) or, by hand, clients/js/dist (npm run build).
const dir = process.env.RK_JS_DIST || new URL('../dist', import.meta.url).pathname;
export const { Room, RoomError, createRoom, appStateLifecycle, applyOp, checkOp, draft, emptyState, stateToJSON, stateFromJSON } = await import(dir + '/index.js');
