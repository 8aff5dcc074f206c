// react.test.mjs - the React hooks under StrictMode (which mounts, unmounts
// and mounts again): one Room survives the double mount, exactly one socket
// is open afterwards (the other user sees one peer, no ghost), the component
// re-renders on changes, and unmounting closes the socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import React from 'react';
import TestRenderer from 'react-test-renderer';
import { Roomd, until, room, live } from './harness.mjs';

const dir = process.env.RK_JS_DIST || new URL('../dist', import.meta.url).pathname;
const { useRoom, useRoomSnapshot, useRoomSelector } = await import(dir + '/react.js');
// Updates come from a socket, as in an app, not from act() scopes.
globalThis.IS_REACT_ACT_ENVIRONMENT = false;

test('useRoom under StrictMode: one Room, one socket, live re-renders, closed on unmount', async () => {
  const d = await new Roomd().start();
  const other = room(d, 'bob');
  const seen = { rooms: new Set(), renders: 0, last: null };
  function Chat() {
    const r = useRoom({ url: d.url, room: 'r1', name: 'alice', WebSocket, pingInterval: 400 });
    const snap = useRoomSnapshot(r);
    const n = useRoomSelector(r, s => s.state.chat.length);
    seen.rooms.add(r);
    seen.renders++;
    seen.last = { status: snap.status, n, room: r };
    return React.createElement('p', null, `${snap.status} ${n}`);
  }
  let tree;
  try {
    await live(other);
    await TestRenderer.act(async () => {
      tree = TestRenderer.create(React.createElement(React.StrictMode, null, React.createElement(Chat)));
    });
    await until(() => seen.last.status === 'live', 'live in the component');
    assert.equal(seen.rooms.size, 1, 'the double mount keeps one Room');
    await until(() => other.getSnapshot().peers.length === 1, 'bob sees alice');
    await other.post('hello');
    await until(() => seen.last.n === 1, 're-rendered with the post');
    assert.equal(tree.toJSON().children.join(''), 'live 1');
    assert.equal(other.getSnapshot().peers.length, 1, 'no second socket from the double mount');
    await TestRenderer.act(async () => tree.unmount());
    await until(() => other.getSnapshot().peers.length === 0, 'unmount closes the socket');
    assert.equal(seen.last.room.getSnapshot().status, 'closed');
  } finally {
    other.close();
    await d.stop();
  }
});
