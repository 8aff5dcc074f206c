// cluster.test.mjs - the Room client against roomd's cluster mode (--pg,
// docs/CLUSTER.md): two nodes on a throwaway PostgreSQL (scripts/pgtmp.sh).
// Alice's node stalls past its lease while another node takes her room and
// commits; when hers wakes up it closes her with 1001 (the room moved), and
// her reconnects meet 1013 (the room is moving) until the other node hands
// the room back. She resumes with since/epoch - same epoch, no full state -
// sees what was committed meanwhile, and her op sent during the stall is
// committed exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Roomd, roomctl, until, room, live, SCALE } from './harness.mjs';

const PGTMP = join(dirname(fileURLToPath(import.meta.url)), '../../../scripts/pgtmp.sh');

/** Join room on node d with a raw socket, retrying while the room is
 * moving (1013), until its welcome; resolves to [socket, welcome]. */
async function joinRaw(d, roomId, name) {
  const end = Date.now() + 10000 * SCALE;
  while (Date.now() < end) {
    const got = await new Promise(ok => {
      const ws = new WebSocket(`${d.url}/ws/${roomId}?name=${name}`, 'room.v1');
      ws.onmessage = e => ok([ws, JSON.parse(e.data)]);
      ws.onclose = () => ok(null);
      ws.onerror = () => {};
    });
    if (got && got[1].t === 'welcome') return got;
    await new Promise(ok => setTimeout(ok, 100));
  }
  throw new Error(`no welcome to ${roomId} on ${d.url}`);
}

test('a room that moves between nodes: 1001, 1013, resume with the same epoch, outbox committed once', async () => {
  const dir = mkdtempSync('/tmp/rkjs-pg-');
  chmodSync(dir, 0o755); // the postgres user runs the server in it
  const url = execFileSync('sh', [PGTMP, 'start', dir], { encoding: 'utf8' }).trim();
  const node = n => new Roomd(['--pg', url, '--node', n, '--lease', '1500']);
  const n1 = await node('n1').start(), n2 = await node('n2').start();
  const a = room(n1, 'alice', { room: 'moving' });
  try {
    await live(a);
    assert.equal(await a.post('before'), 1);
    const epoch = a.getSnapshot().epoch;

    n1.proc.kill('SIGSTOP');
    const pending = a.post('during the stall'); // waits in her outbox
    // Bob's node takes the room once n1's lease has run out.
    const [bob, welcome] = await joinRaw(n2, 'moving', 'bob');
    assert.equal(welcome.epoch, epoch, 'the log is shared: same epoch');
    assert.equal(welcome.seq, 1);
    const ack = await new Promise(ok => {
      bob.onmessage = e => { const m = JSON.parse(e.data); if (m.t === 'ack') ok(m); };
      bob.send(JSON.stringify({ t: 'op', id: 'b1', op: { k: 'chat.post', text: 'from n2' } }));
    });
    assert.equal(ack.seq, 2);
    bob.close(1000);

    n1.proc.kill('SIGCONT');
    // Alice is closed (1001), retries through 1013 until n2 lets go, and
    // resumes on n1 from seq 2 with the same epoch.
    const seq = await pending;
    assert.equal(seq, 3, 'her stalled op is committed after bob\'s');
    await live(a);
    const snap = a.getSnapshot();
    assert.equal(snap.epoch, epoch, 'resumed, not a new room');
    assert.deepEqual(snap.state.chat.map(c => c.text), ['before', 'from n2', 'during the stall']);
    assert.match(n1.log, /room moved to another node|another node/);
    assert.match(n1.log, /asked it to hand the room over/);

    const file = join(dir, 'moving.db');
    roomctl('pull', '--pg', url, 'moving', '-o', file);
    const posts = roomctl('events', file).trim().split('\n').map(l => JSON.parse(l).op.text);
    assert.deepEqual(posts, ['before', 'from n2', 'during the stall'], 'one history, each op once');
  } finally {
    a.close();
    await n1.stop();
    await n2.stop();
    try { execFileSync('sh', [PGTMP, 'stop', dir]); } catch {}
    rmSync(dir, { recursive: true, force: true });
  }
});
