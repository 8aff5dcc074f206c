// api.test.tsx - the public types, checked by tsc --noEmit (ctest js.types):
// what an app may write compiles, and every @ts-expect-error line is a
// mistake the types must catch (tsc fails if one of them compiles).
import WebSocket from 'ws';
import { createRoom, Room, RoomError, appStateLifecycle, type Op, type RoomSnapshot, type Shape, type SocketCtor } from '../../src/index.js';
import { useRoom, useRoomSnapshot, useRoomSelector } from '../../src/react.js';

// Node: the `ws` package's WebSocket is accepted as is.
const room: Room = createRoom({ url: 'ws://127.0.0.1:8080', room: 'demo', name: 'alice', WebSocket });
createRoom({ url: 'wss://x', room: 'r', token: async () => 'jwt' });
createRoom({ url: 'wss://x', room: 'r', token: 'jwt', backoff: { min: 100 }, pingInterval: 1000 });
// @ts-expect-error a token is a string or a function returning one
createRoom({ url: 'wss://x', room: 'r', token: 42 });
// @ts-expect-error the room is required
createRoom({ url: 'wss://x' });

// Op helpers: typed arguments, a promise of the seq with the ids on it.
const p = room.addShape({ type: 'rect', color: 3, points: [[0, 0], [10, 10]] });
const seq: Promise<number> = p;
const shapeId: string | undefined = p.id;
const opId: string = p.opId;
// @ts-expect-error no such shape type
room.addShape({ type: 'circle', color: 1, points: [[0, 0]] });
// @ts-expect-error points are [x, y] pairs
room.addShape({ type: 'line', color: 1, points: [0, 0, 1, 1] });
room.updateShape('s1', { color: 2 });
// @ts-expect-error `set` has color, points or text only
room.updateShape('s1', { colour: 2 });
room.createPoll({ question: 'Lunch?', options: ['a', 'b'], closesAt: Date.now() + 60000 });
// @ts-expect-error options are strings
room.createPoll({ question: 'Lunch?', options: [1, 2] });
room.vote('p1', 0);
// @ts-expect-error a choice is a number
room.vote('p1', 'pizza');
room.post('hi');
room.send({ k: 'board.clear' });
// @ts-expect-error an unknown op kind
room.send({ k: 'board.wipe' });
const op: Op = { k: 'poll.close', poll: 'p1' };
room.send(op);

// The store: a snapshot with typed state.
const s: RoomSnapshot = room.getSnapshot();
const shapes: ReadonlyMap<string, Shape> = s.state.shapes;
const status: 'connecting' | 'live' | 'reconnecting' | 'closed' = s.status;
// @ts-expect-error the state is read-only
s.state.chat.push({ seq: 1, ts: 1, user: 'u', id: 'i', text: 't' });
// @ts-expect-error status has four values
const bad: 'online' = s.status;
room.on('reject', r => {
  const e: RoomError = r.error;
  const code: string = e.code;
  void code;
});
// @ts-expect-error no such event
room.on('message', () => {});
room.cursor(1, 2);
room.signal({ emoji: '👍' });

// React Native: the lifecycle adapter takes the modules, imports none.
const AppState = { addEventListener: (_t: 'change', _fn: (s: string) => void) => ({ remove() {} }) };
createRoom({ url: 'wss://x', room: 'r', lifecycle: appStateLifecycle(AppState) });

// React hooks.
function Board() {
  const r = useRoom({ url: 'ws://127.0.0.1:8080', room: 'demo', name: 'alice' });
  const snap = useRoomSnapshot(r);
  const polls = useRoomSelector(r, x => x.state.polls);
  // @ts-expect-error the selector's result type is kept
  const n: number = useRoomSelector(r, x => x.status);
  return <p>{snap.status} {polls.size} {n}</p>;
}
void [seq, shapeId, opId, shapes, status, bad, Board];
