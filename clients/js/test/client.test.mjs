// client.test.mjs - the Room client against a real roomd: reconnect and
// resume, the outbox across a kill -9 (every op committed exactly once),
// epoch reset, reject rollback, dead-socket detection (SIGSTOP), presence
// without ghosts, terminal failures that do not loop, the token function.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Room, RoomError, stateToJSON, appStateLifecycle } from './sdk.mjs';
import { Roomd, roomctl, until, room, live, SCALE } from './harness.mjs';

const FAST = ['--ops-per-sec', '100000', '--ops-burst', '100000'];
const json = s => JSON.parse(JSON.stringify(stateToJSON(s)));

/** A `ws` socket whose incoming messages can be held back (a slow
 * network) and that counts how often the client constructs one. */
function heldSocket() {
  const H = class {
    constructor(url, proto) {
      H.opened++;
      this.q = [];
      const ws = (this.ws = new WebSocket(url, proto));
      ws.onopen = e => this.onopen?.(e);
      ws.onmessage = e => (H.hold ? this.q.push(e) : this.onmessage?.(e));
      ws.onclose = e => this.onclose?.(e);
      ws.onerror = e => this.onerror?.(e);
      H.last = this;
    }
    get readyState() { return this.ws.readyState; }
    send(d) { this.ws.send(d); }
    close(c, r) { this.ws.close(c, r); }
    static release() {
      H.hold = false;
      const s = H.last;
      s.q.splice(0).forEach(e => s.onmessage?.(e));
    }
  };
  H.opened = 0;
  H.hold = false;
  return H;
}

test('reconnect + resume: ops sent while roomd is down are committed once after restart, and the peer sees them', async () => {
  const d = await new Roomd(FAST).start();
  const a = room(d, 'alice'), b = room(d, 'bob');
  try {
    await live(a);
    await live(b);
    await a.post('before');
    await until(() => b.getSnapshot().state.chat.length === 1, 'bob sees the first post');
    await d.kill('SIGKILL');
    await until(() => a.getSnapshot().status !== 'live', 'alice notices');
    const p1 = a.post('while down'), p2 = a.addShape({ type: 'line', color: 2, points: [[0, 0], [5, 5]] });
    assert.equal(a.getSnapshot().pending, 2);
    assert.equal(a.getSnapshot().state.chat.length, 2, 'the pending post shows at once');
    await d.start();
    const [s1, s2] = await Promise.all([p1, p2]);
    assert.deepEqual([s1, s2], [2, 3]);
    await until(() => b.getSnapshot().seq === 3, 'bob resumes to seq 3');
    // Bob's copy (all events) is exactly roomd's; Alice's differs only in
    // the ts of her own posts (an ack carries no ts: PROTOCOL-NOTES.md).
    await d.kill('SIGTERM');
    assert.deepEqual(json(b.getSnapshot().state), JSON.parse(roomctl('replay', d.roomFile('r1'))));
    const noTs = s => ({ ...s, chat: s.chat.map(c => ({ ...c, ts: 0 })) });
    assert.deepEqual(noTs(json(a.getSnapshot().state)), noTs(json(b.getSnapshot().state)));
    assert.equal(a.getSnapshot().pending, 0);
    assert.equal(b.getSnapshot().state.shapes.get(p2.id).by, 'alice');
  } finally {
    a.close();
    b.close();
    await d.stop();
  }
});

for (const [how, args] of [['resumed', []], ['full-state', ['--resume-max', '0']]])
test(`outbox across kill -9 (${how} welcome): ops committed but never acked are committed exactly once`, async () => {
  // With --resume-max 0 every reconnect gets a full state: no replay settles
  // anything, so exactly once rests on roomd answering a resent id `dup`.
  const d = await new Roomd(FAST.concat(args)).start();
  const H = heldSocket();
  const a = room(d, 'alice', { WebSocket: H });
  try {
    await live(a);
    const N = 300, promises = [];
    for (let i = 0; i < N; i++) {
      if (i === 150) H.hold = true; // acks from here on reach the socket, not the client
      promises.push(a.post('m' + i));
      if (i % 5 === 4) await new Promise(ok => setTimeout(ok, 1));
      if (i === 159) {
        await until(() => H.last.q.length >= 10, 'ten acks held back');
        await d.kill('SIGKILL'); // those ten are committed, never acked
        H.hold = false;
      }
    }
    const committed = roomctl('events', d.roomFile('r1')).trim().split('\n').length;
    await until(() => a.getSnapshot().status !== 'live', 'alice notices the crash');
    const acked = a.getSnapshot().seq;
    assert.ok(committed - acked >= 10, `committed ${committed}, acked ${acked}`);
    await d.start();
    const seqs = await Promise.all(promises);
    assert.equal(new Set(seqs).size, N, 'every op has its own seq');
    await d.kill('SIGTERM');
    const posts = roomctl('events', d.roomFile('r1')).trim().split('\n').map(l => JSON.parse(l).op.text);
    assert.equal(posts.length, N, 'no op lost, none doubled');
    assert.deepEqual(posts, Array.from({ length: N }, (_, i) => 'm' + i), 'in the order they were sent');
    console.log(`# ${how}: crash with ${acked} acked, ${committed} committed; all ${N} committed once`);
  } finally {
    a.close();
    await d.stop();
  }
});

test('epoch reset: a recreated room replaces the state, fails the old outbox and tells the app', async () => {
  const d = await new Roomd(FAST).start();
  const a = room(d, 'alice');
  try {
    await live(a);
    await a.post('old history');
    const epoch = a.getSnapshot().epoch;
    let reset = null;
    a.on('reset', r => (reset = r));
    await d.kill('SIGKILL');
    rmSync(d.roomFile('r1'), { force: true });
    for (const ext of ['-wal', '-shm']) rmSync(d.roomFile('r1') + ext, { force: true });
    await until(() => a.getSnapshot().status !== 'live', 'alice notices');
    const lost = a.post('sent into the old history');
    await d.start();
    await assert.rejects(lost, e => e instanceof RoomError && e.code === 'reset');
    await until(() => reset, 'reset event');
    const s = a.getSnapshot();
    assert.notEqual(s.epoch, epoch);
    assert.equal(reset.epoch, s.epoch);
    assert.equal(s.state.chat.length, 0);
    assert.equal(s.pending, 0);
    assert.equal(await a.post('new history'), 1);
  } finally {
    a.close();
    await d.stop();
  }
});

test('reject rollback: a vote on a poll closed meanwhile shows at once, then rolls back with a typed error', async () => {
  const d = await new Roomd(FAST).start();
  const H = heldSocket();
  const a = room(d, 'alice'), b = room(d, 'bob', { WebSocket: H, pingInterval: 5000 });
  try {
    await live(a);
    await live(b);
    const poll = a.createPoll({ question: 'Lunch?', options: ['pizza', 'soup'] });
    await poll;
    await until(() => b.getSnapshot().state.polls.has(poll.id), 'bob sees the poll');
    H.hold = true; // bob's network is slow: he will not hear of the close in time
    await a.closePoll(poll.id);
    const vote = b.vote(poll.id, 1);
    assert.deepEqual(b.getSnapshot().state.polls.get(poll.id).tally, [0, 1], 'optimistic');
    let rejected = null;
    b.on('reject', r => (rejected = r));
    H.release();
    await assert.rejects(vote, e => e instanceof RoomError && e.code === 'forbidden');
    assert.equal(rejected.opId, vote.opId);
    const s = b.getSnapshot();
    assert.deepEqual(s.state.polls.get(poll.id).tally, [0, 0], 'rolled back');
    assert.equal(s.state.polls.get(poll.id).closed, true);
    assert.equal(s.pending, 0);
    // A prediction that already fails is refused locally, never sent.
    await assert.rejects(b.vote(poll.id, 0), e => e.code === 'forbidden');
    await assert.rejects(b.post(''), e => e.code === 'invalid');
    await assert.rejects(b.post('x'.repeat(2001)), e => e.code === 'too_large');
  } finally {
    a.close();
    b.close();
    await d.stop();
  }
});

test('dead socket: a stopped roomd is noticed within about 2 ping intervals, lost is raised, then it recovers', async () => {
  const d = await new Roomd(FAST).start();
  const a = room(d, 'alice', { pingInterval: 300, lostAfter: 1000 });
  try {
    await live(a);
    d.proc.kill('SIGSTOP');
    const t0 = Date.now();
    await until(() => a.getSnapshot().status !== 'live', 'dead socket detected', 5000);
    const took = Date.now() - t0;
    console.log(`# dead socket detected after ${took} ms (ping interval 300 ms)`);
    assert.ok(took <= 3 * 300 + 300 * SCALE, `detected after ${took} ms`);
    await until(() => a.getSnapshot().lost, 'lost after lostAfter');
    d.proc.kill('SIGCONT');
    await live(a);
    assert.equal(a.getSnapshot().lost, false);
    assert.equal(await a.post('back'), 1);
  } finally {
    a.close();
    await d.stop();
  }
});

test('presence: peers are rebuilt from every welcome, with no ghost after a crash and a leave on close', async () => {
  const d = await new Roomd(FAST).start();
  const a = room(d, 'alice'), b = room(d, 'bob');
  try {
    await live(a);
    await live(b);
    await until(() => a.getSnapshot().peers.length === 1, 'alice sees bob');
    await d.kill('SIGKILL');
    await until(() => a.getSnapshot().status !== 'live' && b.getSnapshot().status !== 'live', 'both notice');
    await d.start();
    await live(a);
    await live(b);
    await until(() => a.getSnapshot().peers.some(p => p.session === b.getSnapshot().me.session), 'alice sees the new bob');
    const peers = a.getSnapshot().peers;
    assert.equal(peers.length, 1, 'no ghost of the old bob: ' + JSON.stringify(peers));
    assert.equal(peers[0].user, 'bob');
    b.cursor(10, 20);
    await until(() => a.getSnapshot().cursors.get(b.getSnapshot().me.session)?.x === 10, 'cursor relayed');
    b.close();
    await until(() => a.getSnapshot().peers.length === 0, 'bob left');
    assert.equal(a.getSnapshot().cursors.size, 0);
  } finally {
    a.close();
    b.close();
    await d.stop();
  }
});

test('terminal failures do not loop: 401, 403, room full (4409) and a frame too large (1009) stop with a clear error', async () => {
  const d = new Roomd(FAST.concat(['--max-room-conns', '1', '--max-frame', '512']));
  const secret = join(d.dir, 'secret');
  writeFileSync(secret, 'js-terminal-test-secret-0123456789abcdef');
  d.args.push('--secret-file', secret);
  await d.start();
  const tok = (roomId, user) => roomctl('token', '--secret-file', secret, '--room', roomId, '--user', user, '--role', 'editor').trim();
  const rooms = [];
  const attempt = async (opts, code) => {
    const H = heldSocket();
    const r = room(d, undefined, { WebSocket: H, ...opts });
    rooms.push(r);
    let errors = 0;
    r.on('error', () => errors++);
    await until(() => r.getSnapshot().error, `error ${code}`);
    const s = r.getSnapshot();
    assert.equal(s.error.code, code);
    assert.equal(s.status, 'closed');
    await new Promise(ok => setTimeout(ok, 500)); // room for a retry loop to show itself
    assert.equal(H.opened, 1, `${code}: one connection attempt, no loop`);
    assert.equal(errors, 1);
    return r;
  };
  try {
    await attempt({ token: 'not-a-token' }, 'unauthorized');
    await attempt({ token: tok('other-room', 'eve') }, 'forbidden_room');
    const first = room(d, undefined, { token: tok('r1', 'alice') });
    rooms.push(first);
    await live(first);
    await attempt({ token: tok('r1', 'bob') }, 'room_full');
    first.close();
    let calls = 0;
    const big = await (async () => {
      const H = heldSocket();
      const r = room(d, undefined, { WebSocket: H, token: async () => (calls++, tok('r1', 'carol')) });
      rooms.push(r);
      await live(r);
      r.post('y'.repeat(600)).catch(() => {});
      await until(() => r.getSnapshot().error, 'error 1009');
      assert.equal(r.getSnapshot().error.code, 'too_large_frame');
      assert.equal(H.opened, 1);
      return r;
    })();
    assert.equal(calls, 1, 'the token function runs before every connect');
    assert.equal(big.getSnapshot().status, 'closed');
  } finally {
    rooms.forEach(r => r.close());
    await d.stop();
  }
});

test('a deleted room (close 4404) is final: one attempt, error room_deleted, the room is not re-created', async () => {
  const d = await new Roomd(FAST).start();
  const H = heldSocket();
  const a = room(d, 'alice', { WebSocket: H });
  try {
    await live(a);
    await a.post('before the delete');
    const res = await fetch(`http://127.0.0.1:${d.port}/v1/rooms/r1`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    await until(() => a.getSnapshot().error, 'error after 4404');
    assert.equal(a.getSnapshot().error.code, 'room_deleted');
    assert.equal(a.getSnapshot().status, 'closed');
    await new Promise(ok => setTimeout(ok, 500)); // room for a retry loop to show itself
    assert.equal(H.opened, 1, 'no reconnect after 4404');
    const list = await (await fetch(`http://127.0.0.1:${d.port}/v1/rooms`)).json();
    assert.deepEqual(list.map(r => r.room), [], 'nobody re-created the room');
  } finally {
    a.close();
    await d.stop();
  }
});

test('the token function is called before every connect', async () => {
  const d = new Roomd(FAST);
  const secret = join(d.dir, 'secret');
  writeFileSync(secret, 'js-token-fn-secret-0123456789abcdef0123');
  d.args.push('--secret-file', secret);
  await d.start();
  let calls = 0;
  const a = room(d, undefined, {
    token: async () => {
      calls++;
      return roomctl('token', '--secret-file', secret, '--room', 'r1', '--user', 'alice', '--role', 'editor').trim();
    },
  });
  try {
    await live(a);
    await d.kill('SIGKILL');
    await until(() => a.getSnapshot().status !== 'live', 'alice notices');
    await d.start();
    await live(a);
    assert.ok(calls >= 2, `called ${calls} times`);
    assert.equal(a.getSnapshot().me.user, 'alice');
  } finally {
    a.close();
    await d.stop();
  }
});

test('lifecycle: a wake (app foreground, network back) reconnects at once, whatever the backoff', async () => {
  const d = await new Roomd(FAST).start();
  // React Native's AppState and NetInfo, as the adapter sees them.
  const appListeners = [], netListeners = [];
  const AppState = { addEventListener: (t, fn) => (appListeners.push(fn), { remove: () => appListeners.splice(appListeners.indexOf(fn), 1) }) };
  const NetInfo = { addEventListener: fn => (netListeners.push(fn), () => netListeners.splice(netListeners.indexOf(fn), 1)) };
  const a = room(d, 'alice', { backoff: { min: 60000, max: 60000 }, lifecycle: appStateLifecycle(AppState, NetInfo) });
  try {
    await live(a);
    assert.equal(appListeners.length, 1);
    await d.kill('SIGKILL');
    await until(() => a.getSnapshot().status === 'reconnecting', 'reconnecting');
    await d.start();
    // The backoff is a minute or so; only the wake brings it back now.
    appListeners.forEach(fn => fn('background'));
    await new Promise(ok => setTimeout(ok, 300));
    assert.equal(a.getSnapshot().status, 'reconnecting', 'background does not wake');
    appListeners.forEach(fn => fn('active'));
    await until(() => a.getSnapshot().status === 'live', 'live at once after the wake', 3000);
    await d.kill('SIGKILL');
    await until(() => a.getSnapshot().status === 'reconnecting', 'reconnecting again');
    await d.start();
    netListeners.forEach(fn => fn({ isConnected: true }));
    await until(() => a.getSnapshot().status === 'live', 'live at once when the network is back', 3000);
    a.close();
    assert.equal(appListeners.length + netListeners.length, 0, 'close unsubscribes');
  } finally {
    a.close();
    await d.stop();
  }
});

test('a connect that hangs (TCP accepted, no upgrade answer) is given up after 2 ping intervals and retried', async () => {
  const net = await import('node:net');
  const sockets = [];
  const srv = net.createServer(s => sockets.push(s)); // accepts, never answers
  await new Promise(ok => srv.listen(0, '127.0.0.1', ok));
  const H = heldSocket();
  const a = new Room({ url: `ws://127.0.0.1:${srv.address().port}`, room: 'r1', name: 'alice', WebSocket: H,
    pingInterval: 200, backoff: { min: 10, max: 20 } }).connect();
  try {
    await until(() => H.opened >= 3, 'three attempts', 5000);
    assert.equal(a.getSnapshot().status, 'connecting');
    assert.ok(sockets.length >= 2, 'each attempt reached the server');
  } finally {
    a.close();
    sockets.forEach(s => s.destroy());
    srv.close();
  }
});

test('the browser build runs with only timers and JS built-ins (no Event, EventTarget, window, crypto, URL, queueMicrotask: as on Hermes)', async () => {
  const vm = await import('node:vm');
  const { readFileSync } = await import('node:fs');
  const dir = process.env.RK_JS_DIST || new URL('../dist', import.meta.url).pathname;
  const sandbox = vm.createContext({ setTimeout, clearTimeout, setInterval, clearInterval });
  vm.runInContext(readFileSync(dir + '/roomkit.js', 'utf8'), sandbox);
  for (const g of ['Event', 'EventTarget', 'window', 'document', 'crypto', 'URL', 'URLSearchParams', 'queueMicrotask', 'WebSocket', 'TextEncoder'])
    assert.equal(vm.runInContext(`typeof ${g}`, sandbox), 'undefined', g);
  const d = await new Roomd(FAST).start();
  sandbox.opts = { url: d.url, room: 'hermes', name: 'rn', WebSocket };
  const r = vm.runInContext('Roomkit.createRoom(opts)', sandbox);
  try {
    await until(() => r.getSnapshot().status === 'live', 'live in the bare context');
    assert.equal(await r.post('from a bare runtime'), 1);
    assert.equal(r.getSnapshot().state.chat[0].text, 'from a bare runtime');
  } finally {
    r.close();
    await d.stop();
  }
});
