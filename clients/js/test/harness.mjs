// harness.mjs - run the real roomd (and roomctl) for the JS tests: started
// on a free port in a temp dir, ready when it logs "roomd listening on
// HOST:PORT" (never a sleep), killed with the test. ROOMD_BIN / ROOMCTL_BIN
// name the binaries (ctest sets them; default: ../../build).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Room } from './sdk.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const build = join(here, '../../../build');
export const ROOMD = process.env.ROOMD_BIN || join(build, 'roomd/roomd');
export const ROOMCTL = process.env.ROOMCTL_BIN || join(build, 'roomctl/roomctl');
/** RK_TIMEOUT_SCALE multiplies every wait, as in the C harness. */
export const SCALE = Number(process.env.RK_TIMEOUT_SCALE || 1);

export class Roomd {
  constructor(args = []) {
    this.dir = mkdtempSync(join(tmpdir(), 'rkjs-'));
    this.data = join(this.dir, 'data');
    this.args = [...args];
    this.port = 0;
    this.log = '';
  }

  /** Start (again, on the same port once it has one). */
  start() {
    const listen = `127.0.0.1:${this.port}`;
    const p = (this.proc = spawn(ROOMD, ['--listen', listen, '--data', this.data, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = ''; // this run's output: the ready line of an earlier run must not count
    return new Promise((ok, ko) => {
      const t = setTimeout(() => ko(new Error('roomd not ready in 10 s:\n' + this.log)), 10000 * SCALE);
      const onData = d => {
        this.log += d;
        if (p.ready) return;
        out += d;
        const m = /roomd listening on [\d.]+:(\d+)/.exec(out);
        if (m && p.ready !== true) {
          p.ready = true;
          this.port = +m[1];
          clearTimeout(t);
          ok(this);
        }
      };
      p.stdout.on('data', onData);
      p.stderr.on('data', onData);
      p.on('exit', c => {
        if (!p.ready) {
          clearTimeout(t);
          ko(new Error(`roomd exited ${c}:\n${this.log}`));
        }
      });
    });
  }

  get url() {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Signal roomd and wait until it is gone. */
  kill(sig = 'SIGKILL') {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode) return Promise.resolve();
    return new Promise(ok => {
      p.once('exit', ok);
      p.kill(sig);
    });
  }

  stop(sig) {
    if (this.proc && !this.proc.killed) this.proc.kill('SIGCONT');
    return this.kill(sig).then(() => rmSync(this.dir, { recursive: true, force: true }));
  }

  roomFile(room) {
    return join(this.data, 'rooms', room + '.db');
  }
}

export function roomctl(...args) {
  return execFileSync(ROOMCTL, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** Poll cond() until it is truthy (a condition, not a guess at time). */
export async function until(cond, what = 'condition', ms = 10000) {
  const end = Date.now() + ms * SCALE;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise(r => setTimeout(r, 10));
  }
}

/** A Room on roomd d with `ws` as its WebSocket; fast test timings. */
export function room(d, name, opts = {}) {
  return new Room({ url: d.url, room: 'r1', name, WebSocket, pingInterval: 400, lostAfter: 1500,
    backoff: { min: 50, max: 400 }, ...opts }).connect();
}

export const live = r => until(() => r.getSnapshot().status === 'live', `${r.clientId} live`);
