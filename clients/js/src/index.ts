/* @roomkit/client - the roomkit client SDK (see docs/CLIENT.md). */
export { Room, RoomError, createRoom, appStateLifecycle } from './client.js';
export type {
  RoomOptions, RoomSnapshot, RoomEvents, Status, Me, OpPromise, Lifecycle, SocketLike, SocketCtor, ErrorCode,
} from './client.js';
export { applyOp, checkOp, draft, emptyState, stateFromJSON, stateToJSON } from './state.js';
export type { Draft, Refusal } from './state.js';
export type * from './types.js';
