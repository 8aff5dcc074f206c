/*
 * @roomkit/client/react - hooks on useSyncExternalStore.
 *
 * useRoom() makes one Room per (url, room, name) and connects it in an
 * effect; the effect's cleanup closes it. Under StrictMode's double mount
 * the same Room object is connected, closed and connected again: the
 * outbox and state survive, and no socket is left behind.
 */
import { useEffect, useState, useSyncExternalStore } from 'react';
import { Room, type RoomOptions, type RoomSnapshot } from './index.js';

/** A Room for these options, connected while the component is mounted.
 * A new url, room or name makes a new Room. */
export function useRoom(opts: RoomOptions): Room {
  const key = opts.url + '\n' + opts.room + '\n' + (opts.name || '');
  const [held, setHeld] = useState(() => ({ key, room: new Room(opts) }));
  let room = held.room;
  if (held.key !== key) {
    room = new Room(opts);
    setHeld({ key, room });
  }
  useEffect(() => {
    room.connect();
    return () => room.close();
  }, [room]);
  return room;
}

/** The room's snapshot; re-renders on every change. */
export function useRoomSnapshot(room: Room): RoomSnapshot {
  return useSyncExternalStore(room.subscribe, room.getSnapshot, room.getSnapshot);
}

/** A part of the snapshot; re-renders only when it changes (Object.is).
 * The selector must return stable values (e.g. `s => s.state.polls`). */
export function useRoomSelector<T>(room: Room, select: (s: RoomSnapshot) => T): T {
  return useSyncExternalStore(room.subscribe, () => select(room.getSnapshot()), () => select(room.getSnapshot()));
}
