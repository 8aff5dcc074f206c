/*
 * client.ts - one room connection: status, reconnect with full-jitter
 * backoff, heartbeat, resume (since/epoch/client), the confirmed state plus
 * an outbox of optimistic ops, presence, cursors and signals.
 *
 * Runs unchanged in browsers, Node (inject `WebSocket`, e.g. from `ws`) and
 * React Native / Hermes: it uses only WebSocket, timers, JSON and Promise
 * (no Event, EventTarget, crypto.randomUUID or window).
 *
 * Exactly once: every op has an id `<client>:<n>` and stays in the outbox
 * until roomd answers it. After a reconnect every unanswered op is sent
 * again with the same id; roomd commits an id once per user and answers a
 * repeat with `ack {dup: true}` (PROTOCOL.md section 3, idempotent ops).
 */
import { applyOp, checkOp, draft, emptyState, stateFromJSON, type Draft } from './state.js';
import type { Actor, ChatEntry, EventMsg, Op, Peer, Poll, RejectCode, Role, RoomState, ServerMsg, Shape, NewShape, Point } from './types.js';

/** The part of the WebSocket API the client uses (browser, RN and `ws`). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onmessage: ((ev: { data: any }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}
/** A WebSocket class: the browser's, React Native's, or `ws`'s (loosely
 * typed so that each one's own declarations are accepted as they are). */
export type SocketCtor = new (url: any, protocols?: any) => any;

/** Calls wake() when the app comes back (foreground, network back);
 * returns an unsubscribe function. */
export type Lifecycle = (wake: () => void) => () => void;

export type Status = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface RoomOptions {
  /** the server: ws://host:port or wss://host (the client adds /ws/<room>) */
  url: string;
  room: string;
  /** a token, or a function called before every connect */
  token?: string | (() => string | Promise<string>);
  /** display name, for a server without a secret */
  name?: string;
  /** default: globalThis.WebSocket */
  WebSocket?: SocketCtor;
  /** kept across reconnects (presence does not flap); default: random */
  clientId?: string;
  /** default: visibilitychange + online where `document` exists */
  lifecycle?: Lifecycle;
  /** ms between pings (default 5000); a socket silent for 2 of them is dead */
  pingInterval?: number;
  /** ms of trouble before `lost` (default 5000) */
  lostAfter?: number;
  /** ms an op may wait unsent before it is dropped (default 20000) */
  opTimeout?: number;
  /** backoff: first and largest delay, and how long a connection must stay
   * live before the backoff resets (default 500, 30000, 10000 ms) */
  backoff?: { min?: number; max?: number; stable?: number };
  /** ms between cursor sends (default 50) */
  cursorInterval?: number;
}

export type ErrorCode =
  RejectCode | 'unauthorized' | 'forbidden_room' | 'too_large_frame' | 'protocol' | 'room_deleted';

/** A refused op (code from roomd or the local prediction), a timeout, or a
 * terminal connection failure. */
export class RoomError extends Error {
  constructor(readonly code: ErrorCode | string, message: string) {
    super(message);
    this.name = 'RoomError';
  }
}

/** An op's promise: resolves with its seq, rejects with a RoomError.
 * `opId` is the op id; `id` the shape or poll id it creates, if any. */
export type OpPromise = Promise<number> & { opId: string; id?: string };

export interface Me { session: string; user: string; role: Role }

/** What useSyncExternalStore wants: a new object after every change. */
export interface RoomSnapshot {
  status: Status;
  /** true after `lostAfter` ms without a live connection */
  lost: boolean;
  /** the terminal failure that stopped reconnecting, if any */
  error: RoomError | null;
  me: Me | null;
  /** last seq applied to `confirmed` */
  seq: number;
  epoch: string;
  /** confirmed state with every pending op applied: what to show */
  state: RoomState;
  /** what roomd committed up to seq */
  confirmed: RoomState;
  /** ops not yet answered */
  pending: number;
  peers: readonly Peer[];
  cursors: ReadonlyMap<string, { x: number; y: number }>;
}

export interface RoomEvents {
  change: RoomSnapshot;
  status: Status;
  /** a committed op from someone else (or ours, replayed on resume) */
  event: EventMsg;
  reject: { opId: string; op: Op; error: RoomError };
  /** the room's history was reset (new epoch): state and outbox are new */
  reset: { epoch: string };
  signal: { session: string; user: string; data: unknown };
  cursor: { session: string; x: number; y: number };
  error: RoomError;
}

interface Pending {
  id: string;
  op: Op;
  /** written on an earlier connection: roomd may have committed it */
  tried: boolean;
  ok: (seq: number) => void;
  ko: (e: RoomError) => void;
  timer: any;
}

// Close codes and pre-upgrade statuses after which retrying cannot help.
const TERMINAL: Record<number, [ErrorCode, string]> = {
  401: ['unauthorized', 'token refused'],
  403: ['forbidden_room', 'token not valid for this room'],
  400: ['protocol', 'bad request (room id or name)'],
  4409: ['room_full', 'room full'],
  1009: ['too_large_frame', 'message too large for the server'],
  4400: ['protocol', 'protocol abuse'],
  // A reconnect would create a new, empty room under the same name.
  4404: ['room_deleted', 'the room was deleted'],
};

const rnd = () => Math.random().toString(36).slice(2, 10);

export class Room {
  private o: RoomOptions;
  private WS: SocketCtor;
  private ws: SocketLike | null = null;
  private st: Status = 'closed';
  private err: RoomError | null = null;
  private lostFlag = false;
  private me: Me | null = null;
  private confirmed: Draft = emptyState();
  private seq = 0;
  private epoch = '';
  private fresh = false;
  /** after a resumed welcome: resend the outbox once seq reaches this */
  private resumeUntil = -1;
  private outbox: Pending[] = [];
  private peers = new Map<string, Peer>();
  private cursors = new Map<string, { x: number; y: number }>();
  private listeners: { [K in keyof RoomEvents]?: Set<(v: RoomEvents[K]) => void> } = {};
  private subs = new Set<() => void>();
  private snap: RoomSnapshot | null = null;
  private notifyQueued = false;
  private attempt = 0;
  private timers: Record<string, any> = {};
  private lastRx = 0;
  private lastPing = 0;
  private n = 0;
  private cursorAt = 0;
  private cursorNext: [number, number] | null = null;
  private httpStatus: number = 0;
  private unwake: (() => void) | null = null;
  private wanted = false;
  private woken = false;
  readonly clientId: string;

  constructor(opts: RoomOptions) {
    this.o = opts;
    const W = opts.WebSocket || (globalThis as any).WebSocket;
    if (!W) throw new RoomError('protocol', 'no WebSocket: pass options.WebSocket');
    this.WS = W;
    this.clientId = (opts.clientId || rnd() + rnd()).slice(0, 40);
  }

  // ---- events and the store ------------------------------------------------

  /** Listen to one kind of event; returns the unsubscribe function. */
  on<K extends keyof RoomEvents>(k: K, fn: (v: RoomEvents[K]) => void): () => void {
    const s = (this.listeners[k] ||= new Set() as any) as Set<typeof fn>;
    s.add(fn);
    return () => s.delete(fn);
  }

  private emit<K extends keyof RoomEvents>(k: K, v: RoomEvents[K]): void {
    this.listeners[k]?.forEach(fn => fn(v));
  }

  /** useSyncExternalStore's subscribe: fn runs (batched) after changes. */
  subscribe = (fn: () => void): (() => void) => {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  };

  /** useSyncExternalStore's getSnapshot: the same object until a change. */
  getSnapshot = (): RoomSnapshot => {
    if (!this.snap) {
      const view = draft(this.confirmed), now = Date.now(), me = this.me;
      this.outbox.forEach((p, i) =>
        applyOp(view, copy(p.op), { user: me?.user || this.o.name || 'me', role: me?.role || 'editor', seq: this.seq + 1 + i, ts: now, id: p.id }));
      this.snap = {
        status: this.st, lost: this.lostFlag, error: this.err, me, seq: this.seq, epoch: this.epoch,
        state: view, confirmed: draft(this.confirmed), pending: this.outbox.length,
        peers: [...this.peers.values()], cursors: new Map(this.cursors),
      };
    }
    return this.snap;
  };

  private changed(): void {
    this.snap = null;
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    Promise.resolve().then(() => {
      this.notifyQueued = false;
      this.subs.forEach(fn => fn());
      if (this.listeners.change) this.emit('change', this.getSnapshot());
    });
  }

  private status(s: Status): void {
    if (this.st === s) return;
    this.st = s;
    if (s === 'live') {
      this.clear('lost');
      this.lostFlag = false;
    } else if (s !== 'closed' && !this.timers.lost && !this.lostFlag) {
      this.timers.lost = setTimeout(() => {
        this.lostFlag = true;
        this.changed();
      }, this.o.lostAfter ?? 5000);
    }
    this.emit('status', s);
    this.changed();
  }

  private clear(t: string): void {
    clearTimeout(this.timers[t]);
    clearInterval(this.timers[t]);
    delete this.timers[t];
  }

  // ---- connection ------------------------------------------------------------

  /** Connect (again): after close() or a terminal error too. */
  connect(): this {
    this.wanted = true;
    this.err = null;
    if (!this.unwake) {
      const lc = this.o.lifecycle || browserLifecycle;
      this.unwake = lc(() => this.wake());
    }
    if (!this.ws && !this.timers.retry) this.open();
    return this;
  }

  /** Close the connection. State and outbox are kept: connect() again
   * sends what is pending; ops never sent still time out. */
  close(): void {
    this.wanted = false;
    this.unwake?.();
    this.unwake = null;
    this.clear('retry');
    this.clear('lost');
    this.drop(1000, true);
    this.status('closed');
  }

  /** The app is back (foreground, online): retry now with the backoff
   * reset; a live socket is checked with a ping. */
  wake(): void {
    if (!this.wanted) return;
    this.attempt = 0;
    if (this.timers.retry) {
      this.clear('retry');
      this.open();
    } else if (this.st === 'live') this.ping();
    else this.woken = true; // an attempt is under way: if it fails, retry at once
  }

  private url(token: string | undefined): string {
    const o = this.o, q: string[] = ['client=' + enc(this.clientId)];
    if (token) q.push('token=' + enc(token));
    else if (o.name) q.push('name=' + enc(o.name));
    if (this.epoch && !this.fresh) q.push('since=' + this.seq, 'epoch=' + enc(this.epoch));
    return o.url.replace(/\/+$/, '') + '/ws/' + enc(o.room) + '?' + q.join('&');
  }

  private async open(): Promise<void> {
    this.status(this.me ? 'reconnecting' : 'connecting');
    let token: string | undefined;
    try {
      const t = this.o.token;
      token = typeof t === 'function' ? await t() : t;
    } catch (e) {
      return this.retry();
    }
    if (!this.wanted || this.ws) return;
    this.httpStatus = 0;
    const ws: SocketLike = (this.ws = new this.WS(this.url(token), 'room.v1'));
    // The heartbeat starts with the attempt: a connect or a welcome that
    // does not come within 2 intervals counts as a dead socket too.
    const iv = this.o.pingInterval ?? 5000;
    this.lastRx = this.lastPing = Date.now();
    this.timers.hb = setInterval(() => this.beat(iv), iv / 2);
    ws.onmessage = e => ws === this.ws && this.rx(String(e.data));
    // `ws` (Node) reports a refused upgrade as "Unexpected server response: 401".
    ws.onerror = e => {
      const m = /response: (\d+)/.exec(e && e.message);
      if (m) this.httpStatus = +m[1];
    };
    ws.onclose = e => ws === this.ws && this.closed(e.code, e.reason);
  }

  private beat(iv: number): void {
    const now = Date.now();
    if (now - this.lastRx >= 2 * iv) this.closed(4408, 'no answer', true);
    else if (now - this.lastPing >= iv) this.ping(); // (not sent before the socket opens)
  }

  private ping(): void {
    this.lastPing = Date.now();
    this.tx({ t: 'ping', id: ++this.n });
  }

  private tx(m: object): boolean {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(m));
    return true;
  }

  /** Forget the socket (its late callbacks are ignored). */
  private drop(code: number, close: boolean): void {
    const ws = this.ws;
    this.ws = null;
    ['hb', 'stable', 'cursor'].forEach(t => this.clear(t));
    this.cursors.clear();
    this.cursorNext = null;
    if (ws && close) {
      // No-ops, not null: `ws` (Node) reports closing a socket that is
      // still connecting as an error, which must not go unhandled.
      ws.onclose = ws.onmessage = ws.onerror = () => {};
      try {
        ws.close(code);
      } catch (e) { /* already closing */ }
    }
  }

  /** The socket ended (or we ended it: a dead socket, a gap). */
  private closed(code: number, reason: string, kill = false): void {
    this.drop(code, kill);
    this.outbox.forEach(p => (p.tried = true));
    const t = TERMINAL[this.httpStatus] || TERMINAL[code];
    if (t) {
      this.err = new RoomError(t[0], t[1] + (reason ? ': ' + reason : ''));
      this.wanted = false;
      this.status('closed');
      this.emit('error', this.err);
      return;
    }
    if (this.wanted) this.retry();
  }

  private retry(): void {
    const b = this.o.backoff || {};
    const d = this.woken ? 0 : Math.random() * Math.min(b.max ?? 30000, (b.min ?? 500) * 2 ** this.attempt++);
    this.woken = false;
    this.status(this.me ? 'reconnecting' : 'connecting');
    this.timers.retry = setTimeout(() => {
      delete this.timers.retry;
      this.open();
    }, d);
  }

  /** Our copy of the room cannot be trusted to follow on (a gap, a
   * diverging op): reconnect now, resuming, or with full = a full state. */
  private resync(full: boolean): void {
    this.fresh ||= full;
    this.closed(4000, 'resync', true);
  }

  // ---- server messages -------------------------------------------------------

  private rx(data: string): void {
    this.lastRx = Date.now();
    let m: ServerMsg;
    try {
      m = JSON.parse(data);
    } catch (e) {
      return;
    }
    switch (m.t) {
      case 'welcome':
        return this.welcome(m);
      case 'event':
        return this.event(m);
      case 'ack': {
        const p = this.take(m.id);
        if (!p) return;
        if (m.seq === this.seq + 1) {
          const op = p.op, me = this.me!;
          // The ack has no ts (PROTOCOL-NOTES.md): an ack's own ts if a
          // server sends one, else our clock, kept before the closing time
          // of a poll roomd accepted the op for.
          let ts = (m as { ts?: number }).ts ?? Date.now();
          const poll = op.k === 'poll.vote' ? this.confirmed.polls.get(op.poll) : op.k === 'poll.create' ? op.poll : null;
          if (poll?.closes_at) ts = Math.min(ts, poll.closes_at - 1);
          if (applyOp(this.confirmed, op, { user: me.user, role: 'owner', seq: m.seq, ts, id: p.id })) this.resync(true);
          else this.seq = m.seq;
        } else if (m.seq > this.seq) this.resync(false);
        p.ok(m.seq);
        return this.changed();
      }
      case 'reject': {
        const p = this.take(m.id);
        if (!p) return;
        const error = new RoomError(m.code, m.msg);
        p.ko(error);
        this.emit('reject', { opId: p.id, op: p.op, error });
        return this.changed();
      }
      case 'presence':
        if (m.join) this.peers.set(m.join.session, m.join);
        if (m.leave) {
          this.peers.delete(m.leave);
          this.cursors.delete(m.leave);
        }
        return this.changed();
      case 'cursor':
        this.cursors.set(m.session, { x: m.x, y: m.y });
        this.emit('cursor', m);
        return this.changed();
      case 'signal':
        return this.emit('signal', m);
      case 'error':
        this.emit('error', new RoomError('protocol', m.code + ': ' + m.msg));
    }
  }

  private welcome(w: Extract<ServerMsg, { t: 'welcome' }>): void {
    const reset = !!this.epoch && w.epoch !== this.epoch;
    if (w.resumed) {
      if (w.epoch !== this.epoch || w.seq < this.seq) return this.resync(true);
    } else {
      this.confirmed = stateFromJSON(w.state);
      this.seq = w.seq;
      if (reset)
        this.outbox.splice(0).forEach(p => {
          clearTimeout(p.timer);
          p.ko(new RoomError('reset', 'the room was reset'));
        });
    }
    this.fresh = false;
    this.epoch = w.epoch;
    this.me = { session: w.session, user: w.user, role: w.role };
    this.peers = new Map(w.peers.map(p => [p.session, p]));
    this.cursors.clear();
    this.status('live');
    this.timers.stable = setTimeout(() => (this.attempt = 0), this.o.backoff?.stable ?? 10000);
    if (reset) this.emit('reset', { epoch: w.epoch });
    // Everything unanswered goes again, same ids: roomd commits each once.
    // After a resume, once the replay (our own committed ops among it)
    // has settled what it can.
    this.resumeUntil = w.resumed ? w.seq : -1;
    this.flush();
    this.changed();
  }

  private flush(): void {
    if (this.seq < this.resumeUntil) return;
    this.resumeUntil = -1;
    this.outbox.forEach(p => this.sendOp(p));
  }

  private event(e: EventMsg): void {
    if (e.seq <= this.seq) return;
    if (e.seq > this.seq + 1) return this.resync(false);
    if (applyOp(this.confirmed, e.op, { user: e.user, role: 'owner', seq: e.seq, ts: e.ts, id: e.id })) return this.resync(true);
    this.seq = e.seq;
    const p = e.user === this.me?.user && this.take(e.id);
    if (p) p.ok(e.seq);
    if (this.resumeUntil >= 0) this.flush();
    this.emit('event', e);
    this.changed();
  }

  private take(id: string): Pending | undefined {
    const i = this.outbox.findIndex(p => p.id === id);
    if (i < 0) return;
    const p = this.outbox.splice(i, 1)[0];
    clearTimeout(p.timer);
    return p;
  }

  // ---- ops ---------------------------------------------------------------------

  private sendOp(p: Pending): void {
    if (this.tx({ t: 'op', id: p.id, op: p.op })) p.tried = true;
  }

  /** Send any op of section 3: applied at once to `state`, answered by the
   * promise. An op the prediction refuses is never sent. */
  send(op: Op): OpPromise {
    const id = this.clientId + ':' + ++this.n;
    const c = copy(op);
    const s = this.getSnapshot(), me = this.me;
    const actor: Actor = { user: me?.user || this.o.name || 'me', role: me?.role || 'editor', seq: s.seq + 1 + s.pending, ts: Date.now(), id };
    const why = checkOp(c) || applyOp(draft(s.state), copy(c), actor);
    let p!: Pending;
    const pr = new Promise<number>((ok, ko) => {
      p = { id, op: c, tried: false, ok, ko, timer: 0 };
    }) as OpPromise;
    pr.catch(() => {}); // a dropped op must not be an unhandled rejection
    pr.opId = id;
    if (why) {
      const error = new RoomError(why[0], why[1]);
      p.ko(error);
      this.emit('reject', { opId: id, op: c, error });
      return pr;
    }
    p.timer = setTimeout(() => {
      if (!p.tried && this.take(id)) {
        p.ko(new RoomError('timeout', 'not sent within opTimeout'));
        this.changed();
      }
    }, this.o.opTimeout ?? 20000);
    this.outbox.push(p);
    if (this.st === 'live' && this.resumeUntil < 0) this.sendOp(p);
    this.changed();
    return pr;
  }

  /** A fresh id for a shape or poll (unique to this client). */
  newId(): string {
    return this.clientId + '-' + ++this.n;
  }

  addShape(s: NewShape): OpPromise {
    const shape = { ...s, id: s.id || this.newId() };
    const p = this.send({ k: 'shape.add', shape });
    p.id = shape.id;
    return p;
  }
  updateShape(id: string, set: { color?: number; points?: Point[]; text?: string }): OpPromise {
    return this.send({ k: 'shape.update', id, set });
  }
  deleteShape(id: string): OpPromise {
    return this.send({ k: 'shape.delete', id });
  }
  clearBoard(): OpPromise {
    return this.send({ k: 'board.clear' });
  }
  createPoll(poll: { id?: string; question: string; options: string[]; closesAt?: number }): OpPromise {
    const id = poll.id || this.newId();
    const p = this.send({ k: 'poll.create', poll: { id, question: poll.question, options: poll.options, closes_at: poll.closesAt } });
    p.id = id;
    return p;
  }
  vote(poll: string, choice: number): OpPromise {
    return this.send({ k: 'poll.vote', poll, choice });
  }
  closePoll(poll: string): OpPromise {
    return this.send({ k: 'poll.close', poll });
  }
  post(text: string): OpPromise {
    return this.send({ k: 'chat.post', text });
  }

  // ---- ephemeral ---------------------------------------------------------------

  /** Move our pointer: throttled to one send per cursorInterval (the last
   * position wins); dropped while not live, never queued. */
  cursor(x: number, y: number): void {
    if (this.st !== 'live') return;
    this.cursorNext = [Math.round(x), Math.round(y)];
    const iv = this.o.cursorInterval ?? 50, wait = this.cursorAt + iv - Date.now();
    if (wait <= 0) this.flushCursor();
    else this.timers.cursor ||= setTimeout(() => this.flushCursor(), wait);
  }

  private flushCursor(): void {
    delete this.timers.cursor;
    const c = this.cursorNext;
    this.cursorNext = null;
    if (c && this.tx({ t: 'cursor', x: c[0], y: c[1] })) this.cursorAt = Date.now();
  }

  /** Broadcast any JSON (≤ 4 KiB encoded) to the others; false when not
   * live (never queued). */
  signal(data: unknown): boolean {
    return this.st === 'live' && this.tx({ t: 'signal', data });
  }
}

const enc = encodeURIComponent;
const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** Browsers: visibilitychange (to visible) and online wake the client. */
const browserLifecycle: Lifecycle = wake => {
  const g = globalThis as any, d = g.document;
  if (!d || !g.addEventListener) return () => {};
  const vis = () => d.visibilityState === 'visible' && wake();
  d.addEventListener('visibilitychange', vis);
  g.addEventListener('online', wake);
  return () => {
    d.removeEventListener('visibilitychange', vis);
    g.removeEventListener('online', wake);
  };
};

/**
 * React Native: wake on AppState "active" and, with NetInfo, on a
 * connection coming back. Pass the modules in (the core imports nothing):
 *   lifecycle: appStateLifecycle(AppState, NetInfo)
 */
export function appStateLifecycle(
  appState: { addEventListener(t: 'change', fn: (s: string) => void): { remove(): void } },
  netInfo?: { addEventListener(fn: (s: { isConnected: boolean | null }) => void): () => void },
): Lifecycle {
  return wake => {
    const a = appState.addEventListener('change', s => s === 'active' && wake());
    const n = netInfo?.addEventListener(s => s.isConnected && wake());
    return () => {
      a.remove();
      n?.();
    };
  };
}

/** Create a room client and connect it. */
export function createRoom(opts: RoomOptions): Room {
  return new Room(opts).connect();
}

export type { ChatEntry, Poll, Shape };
