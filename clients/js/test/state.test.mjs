// state.test.mjs - one state machine, two languages: roomd (C) judges a
// seeded mix of valid and invalid ops from an owner, an editor and a viewer;
// the JS prediction must give every op the verdict roomd gave (the same
// reject code), and replaying roomd's own log through the JS apply must give,
// after every prefix, the state `roomctl replay --upto N` prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { applyOp, checkOp, draft, emptyState, stateToJSON } from './sdk.mjs';
import { Roomd, roomctl, until } from './harness.mjs';

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(rand) {
  const int = n => Math.floor(rand() * n);
  const pick = a => a[int(a.length)];
  // Mostly valid values (so that ops commit and later ops meet real
  // state), with every kind of invalid one now and then.
  const mix = (good, bad) => (rand() < 0.85 ? pick(good) : pick(bad));
  const shapeId = () => mix(['s1', 's2', 's3', 's4', 's5', 'é-ß', 'x'.repeat(64)], ['y'.repeat(65), '', 7]);
  const pollId = () => mix(['p1', 'p2', 'p3'], ['p' + 'q'.repeat(70), null]);
  const pts = () => mix([undefined, [[1, 2]], [[0, 0], [10, 10]], [[1, 1], [2, 2], [3, 3]]],
    [[], [[1.5, 2]], [[1, 2, 3]], [[2 ** 53, 0]], Array.from({ length: 4097 }, (_, i) => [i, -i]), 'no']);
  const text = () => mix([undefined, 'hello', '😀 two', 'z'.repeat(2000)], ['', 'z'.repeat(2001), null, 5]);
  return () => {
    switch (int(9)) {
      case 0: case 1: {
        const shape = { id: shapeId(), type: mix(['stroke', 'line', 'rect', 'text'], ['circle']), color: mix([0, 3, 7], [8, -1, 2.5]) };
        const good = { stroke: [[1, 1], [2, 3], [4, 4]], line: [[0, 0], [9, 9]], rect: [[-5, -5], [5, 5]], text: [[3, 3]] };
        const p = rand() < 0.7 ? good[shape.type] : pts();
        const t = rand() < 0.7 ? (shape.type === 'text' ? 'label' : undefined) : text();
        if (p !== undefined) shape.points = p;
        if (t !== undefined) shape.text = t;
        return { k: 'shape.add', shape };
      }
      case 2: {
        const set = {};
        if (rand() < 0.4) set.color = pick([1, 6, 9]);
        if (rand() < 0.4) set.points = pts() ?? [[5, 5]];
        if (rand() < 0.4) set.text = text() ?? 'new';
        return { k: 'shape.update', id: shapeId(), set };
      }
      case 3:
        return rand() < 0.15 ? { k: 'board.clear' } : { k: 'shape.delete', id: shapeId() };
      case 4: {
        const poll = { id: pollId(), question: mix(['Lunch?'], ['', 'q'.repeat(201)]),
          options: mix([['a', 'b'], ['x', 'y', 'z']], [['a'], Array.from({ length: 11 }, (_, i) => 'o' + i), ['a', 'o'.repeat(81)], ['a', '']]) };
        const at = mix([undefined, 4102444800000], [5, 0]);
        if (at !== undefined) poll.closes_at = at;
        return { k: 'poll.create', poll };
      }
      case 5: case 6:
        return { k: 'poll.vote', poll: pollId(), choice: mix([0, 1, 2], [3, -1, 1.5]) };
      case 7:
        return rand() < 0.3 ? { k: 'poll.close', poll: pollId() } : { k: 'chat.post', text: 'ok' };
      default:
        return rand() < 0.05 ? { k: pick(['nope', 5]) } : { k: 'chat.post', text: text() ?? 'hi' };
    }
  };
}

/** A raw client: sends an op, resolves with roomd's answer to it. */
async function rawClient(url, token) {
  const ws = new WebSocket(`${url}/ws/xlang?token=${token}`, 'room.v1');
  const waiting = new Map();
  let welcome;
  ws.on('message', d => {
    const m = JSON.parse(d);
    if (m.t === 'welcome') welcome = m;
    if ((m.t === 'ack' || m.t === 'reject') && waiting.has(m.id)) waiting.get(m.id)(m);
  });
  await until(() => welcome, 'welcome');
  let n = 0;
  return {
    welcome,
    send(op) {
      const id = `${welcome.user}:${++n}`;
      return new Promise(ok => {
        waiting.set(id, ok);
        ws.send(JSON.stringify({ t: 'op', id, op }));
      });
    },
    close: () => ws.close(),
  };
}

test('JS verdicts and states equal roomd\'s for every op and every prefix of the log', async () => {
  const d = new Roomd(['--ops-per-sec', '100000', '--ops-burst', '100000']);
  const secret = join(d.dir, 'secret');
  writeFileSync(secret, 'js-cross-language-test-secret-0123456789');
  d.args.push('--secret-file', secret);
  await d.start();
  try {
    const tok = (user, role) => roomctl('token', '--secret-file', secret, '--room', 'xlang', '--user', user, '--role', role).trim();
    const clients = [await rawClient(d.url, tok('alice', 'owner')), await rawClient(d.url, tok('bob', 'editor')),
      await rawClient(d.url, tok('carol', 'viewer'))];
    const rand = prng(20261202), next = generator(rand);
    const st = emptyState();
    let seq = 0, rejects = 0, agreed = 0;
    const codes = {};
    for (let i = 0; i < 800; i++) {
      const r = rand(), c = clients[r < 0.5 ? 0 : r < 0.92 ? 1 : 2], op = next();
      const actor = { user: c.welcome.user, role: c.welcome.role, seq: seq + 1, ts: Date.now(), id: 'x' };
      const mine = checkOp(op) || applyOp(draft(st), JSON.parse(JSON.stringify(op)), actor);
      const theirs = await c.send(op);
      assert.equal(mine ? mine[0] : 'ack', theirs.t === 'ack' ? 'ack' : theirs.code,
        `op ${i} ${JSON.stringify(op).slice(0, 200)} by ${actor.user}/${actor.role}: JS ${mine} vs roomd ${JSON.stringify(theirs)}`);
      agreed++;
      if (theirs.t === 'ack') {
        seq = theirs.seq;
        assert.equal(applyOp(st, op, { ...actor, role: 'owner', seq }), undefined);
      } else {
        rejects++;
        codes[theirs.code] = (codes[theirs.code] || 0) + 1;
      }
    }
    clients.forEach(c => c.close());
    console.log(`# ${agreed} verdicts agree (${seq} committed, ${rejects} rejected: ${JSON.stringify(codes)})`);
    assert.ok(seq > 100 && rejects > 100, 'the mix must exercise both paths');
    for (const code of ['invalid', 'forbidden', 'conflict', 'not_found', 'too_large'])
      assert.ok(codes[code], `no ${code} reject in the mix`);

    // Replay roomd's log through the JS apply; compare every prefix.
    await d.kill('SIGTERM');
    const db = d.roomFile('xlang');
    const events = roomctl('events', db).trim().split('\n').map(l => JSON.parse(l));
    assert.equal(events.length, seq);
    const js = emptyState();
    for (const e of events) {
      assert.equal(applyOp(js, e.op, { user: e.user, role: 'owner', seq: e.seq, ts: e.ts, id: e.id }), undefined, `event ${e.seq}`);
      const want = JSON.parse(roomctl('replay', db, '--upto', String(e.seq)));
      const got = JSON.parse(JSON.stringify(stateToJSON(js)));
      assert.deepEqual(got, want, `state after event ${e.seq}`);
      assert.deepEqual(Object.keys(got.shapes), Object.keys(want.shapes), `shape order after ${e.seq}`);
    }
    console.log(`# ${events.length} prefixes of the log: JS state == roomctl replay`);
  } finally {
    await d.stop();
  }
});
