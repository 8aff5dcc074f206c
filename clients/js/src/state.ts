/*
 * state.ts - the room state machine of PROTOCOL.md sections 3 and 5, the
 * same rules as libcommon (op_codec.c: the static checks; state.c: the
 * rules that need the state), so that a client predicts exactly what roomd
 * will do. A test replays roomd's own logs through it and compares every
 * prefix with `roomctl replay`.
 *
 * checkOp() is op_codec's decode (static rules, checked in the same order, so
 * the first failing rule gives the same code); applyOp() is rk_state_apply.
 * applyOp changes the containers of a draft (see draft()) but never an
 * element: a changed shape or poll is a new object, so states handed out
 * earlier stay as they were.
 */
import type { Actor, ChatEntry, Op, Point, Poll, RejectCode, RoomState, Shape } from './types.js';

const ID_MAX = 64, NAME_MAX = 32, TEXT_MAX = 2000, QUESTION_MAX = 200, OPTION_MAX = 80;
const POINTS_MAX = 4096, COLORS = 8, CHAT_KEEP = 200, INT_MAX = Number.MAX_SAFE_INTEGER;
const TYPES = ['stroke', 'line', 'rect', 'text'];

/** A refusal: [code, reason]. */
export type Refusal = [RejectCode, string];

/** A state whose containers may be changed (applyOp's input). */
export interface Draft {
  shapes: Map<string, Shape>;
  polls: Map<string, Poll>;
  chat: ChatEntry[];
}

export const emptyState = (): Draft => ({ shapes: new Map(), polls: new Map(), chat: [] });

/** A copy whose containers may be changed; elements are shared. */
export const draft = (s: RoomState): Draft =>
  ({ shapes: new Map(s.shapes), polls: new Map(s.polls), chat: s.chat.slice() });

/** Code points of s, or -1 if s is not valid Unicode (a lone surrogate,
 * which has no UTF-8 form). */
function chars(s: string): number {
  let n = 0;
  for (const c of s) {
    const u = c.charCodeAt(0);
    if (c.length === 1 && u >= 0xd800 && u <= 0xdfff) return -1;
    n++;
  }
  return n;
}

/** UTF-8 bytes of s (valid Unicode). */
function bytes(s: string): number {
  let n = 0;
  for (const c of s) {
    const u = c.codePointAt(0)!;
    n += u < 0x80 ? 1 : u < 0x800 ? 2 : u < 0x10000 ? 3 : 4;
  }
  return n;
}

const isObj = (v: unknown): v is Record<string, any> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number, max: number): boolean =>
  typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= INT_MAX && v >= min && v <= max;
const textOk = (s: unknown, max: number): boolean => {
  if (typeof s !== 'string') return false;
  const n = chars(s);
  return n >= 1 && n <= max;
};
const idOk = (s: unknown): boolean =>
  typeof s === 'string' && chars(s) >= 1 && bytes(s) <= ID_MAX;

// ---- static rules (op_codec.c) --------------------------------------------

function id(o: Record<string, any>, f: string): Refusal | void {
  if (!idOk(o[f])) return ['invalid', `${f}: must be a string of 1..64 bytes`];
}

/** A text field: absent (when optional), or 1..max chars: too_large above. */
function text(o: Record<string, any>, f: string, max: number, optional: boolean): Refusal | void {
  const v = o[f];
  if (v === undefined && optional) return;
  if (typeof v !== 'string' || !v) return ['invalid', `${f}: must be a non-empty string`];
  const n = chars(v);
  if (n > max) return ['too_large', `${f}: longer than ${max} characters`];
  if (n < 0) return ['invalid', `${f}: must be valid UTF-8`];
}

function points(v: unknown, f: string): Refusal | void {
  if (!Array.isArray(v)) return ['invalid', `${f}: must be an array of [x, y] pairs`];
  if (!v.length) return ['invalid', `${f}: must not be empty`];
  if (v.length > POINTS_MAX) return ['too_large', `${f}: more than ${POINTS_MAX} points`];
  for (const p of v)
    if (!Array.isArray(p) || p.length !== 2 || !isInt(p[0], -INT_MAX, INT_MAX) || !isInt(p[1], -INT_MAX, INT_MAX))
      return ['invalid', `${f}: must hold [x, y] integer pairs`];
}

const color = (v: unknown, f: string): Refusal | void =>
  isInt(v, 0, COLORS - 1) ? undefined : ['invalid', `${f}: must be 0-7`];

/** The static rules of section 3 (what roomd checks before it looks at the
 * state), in libcommon's order. Undefined if the op passes. */
export function checkOp(op: unknown): Refusal | void {
  if (!isObj(op)) return ['invalid', 'op: must be an object'];
  if (typeof op.k !== 'string') return ['invalid', 'k: must be a string'];
  let r: Refusal | void;
  switch (op.k) {
    case 'shape.add': {
      const s = op.shape;
      if (!isObj(s)) return ['invalid', 'shape: must be an object'];
      if ((r = id(s, 'id'))) return r;
      if (!TYPES.includes(s.type)) return ['invalid', 'shape.type: must be stroke, line, rect or text'];
      if ((r = color(s.color, 'shape.color'))) return r;
      if (s.points !== undefined && (r = points(s.points, 'shape.points'))) return r;
      const n = s.points === undefined ? 0 : s.points.length;
      if ((r = text(s, 'text', TEXT_MAX, true))) return r;
      if (s.type === 'text' ? n !== 1 || s.text === undefined : s.text !== undefined ||
          (s.type === 'stroke' ? n < 1 : n !== 2))
        return ['invalid', `shape: wrong points or text for a ${s.type}`];
      return;
    }
    case 'shape.update': {
      if ((r = id(op, 'id'))) return r;
      const s = op.set;
      if (!isObj(s)) return ['invalid', 'set: must be an object'];
      if (s.color !== undefined && (r = color(s.color, 'set.color'))) return r;
      if (s.points !== undefined && (r = points(s.points, 'set.points'))) return r;
      if ((r = text(s, 'text', TEXT_MAX, true))) return r;
      if (s.color === undefined && s.points === undefined && s.text === undefined)
        return ['invalid', 'set: must contain color, points or text'];
      return;
    }
    case 'shape.delete':
      return id(op, 'id');
    case 'board.clear':
      return;
    case 'poll.create': {
      const p = op.poll;
      if (!isObj(p)) return ['invalid', 'poll: must be an object'];
      if ((r = id(p, 'id')) || (r = text(p, 'question', QUESTION_MAX, false))) return r;
      const o = p.options;
      if (!Array.isArray(o)) return ['invalid', 'poll.options: must be an array of strings'];
      if (o.length > 10) return ['too_large', 'poll.options: more than 10 options'];
      if (o.length < 2) return ['invalid', 'poll.options: needs at least 2 options'];
      for (let i = 0; i < o.length; i++)
        if ((r = text(o, '' + i, OPTION_MAX, false))) return r;
      if (p.closes_at !== undefined && !isInt(p.closes_at, 1, INT_MAX))
        return ['invalid', 'poll.closes_at: must be a time in ms'];
      return;
    }
    case 'poll.vote':
      if ((r = id(op, 'poll'))) return r;
      if (!isInt(op.choice, 0, 2147483647)) return ['invalid', 'choice: must be an integer'];
      return;
    case 'poll.close':
      return id(op, 'poll');
    case 'chat.post':
      return text(op, 'text', TEXT_MAX, false);
  }
  return ['invalid', 'k: unknown op kind'];
}

// ---- the state rules (state.c) --------------------------------------------

/** state.c's shape_rule: what a shape of this type must keep. */
function shapeRule(type: string, n: number, t: string | undefined): string | void {
  if (type === 'text') {
    if (n !== 1 || !textOk(t, TEXT_MAX)) return 'a text shape needs 1 point and 1-2000 characters';
    return;
  }
  if (type === 'stroke' ? n < 1 || n > POINTS_MAX : n !== 2) return 'wrong number of points';
  if (t !== undefined) return 'text is only allowed on text shapes';
}

const inRange = (p: readonly Point[] | undefined): boolean =>
  !p || p.every(q => isInt(q[0], -INT_MAX, INT_MAX) && isInt(q[1], -INT_MAX, INT_MAX));

/**
 * rk_state_apply: apply op (checked with checkOp, or committed by roomd) to
 * d as actor. Returns undefined when applied (d changed; a poll.vote gets
 * its `tally`, as roomd's event carries it), else the refusal, and d is
 * unchanged.
 */
export function applyOp(d: Draft, op: Op, a: Actor): Refusal | void {
  if (a.role === 'viewer') return ['forbidden', 'a viewer may not change the room'];
  if (!textOk(a.user, NAME_MAX)) return ['invalid', 'user: must be 1-32 characters'];
  switch (op.k) {
    case 'shape.add': {
      const s = op.shape;
      if (!idOk(s.id) || !isInt(s.color, 0, COLORS - 1)) return ['invalid', 'shape: bad id or color'];
      const why = shapeRule(s.type, s.points ? s.points.length : 0, s.text);
      if (why || !inRange(s.points)) return ['invalid', 'shape: ' + (why || 'coordinate out of range')];
      if (d.shapes.has(s.id)) return ['conflict', `shape ${s.id} already exists`];
      const sh: Shape = { id: s.id, type: s.type, color: s.color, points: s.points || [], by: a.user };
      if (s.text !== undefined) (sh as any).text = s.text;
      d.shapes.set(s.id, sh);
      return;
    }
    case 'shape.update': {
      if (!idOk(op.id)) return ['invalid', 'id: must be 1-64 bytes'];
      const sh = d.shapes.get(op.id);
      if (!sh) return ['not_found', `no shape ${op.id}`];
      const { color: c, points: p, text: t } = op.set;
      if (c === undefined && p === undefined && t === undefined) return ['invalid', 'set: empty'];
      if (c !== undefined && !isInt(c, 0, COLORS - 1)) return ['invalid', 'set.color: must be 0-7'];
      if (!inRange(p)) return ['invalid', 'set.points: coordinate out of range'];
      if (t !== undefined && sh.type !== 'text') return ['invalid', 'set.text: text shapes only'];
      const n: Shape = { ...sh };
      if (c !== undefined) (n as any).color = c;
      if (p !== undefined) (n as any).points = p;
      if (t !== undefined) (n as any).text = t;
      const why = shapeRule(n.type, n.points.length, n.text);
      if (why) return ['invalid', 'set: ' + why];
      d.shapes.set(op.id, n);
      return;
    }
    case 'shape.delete':
      if (!idOk(op.id)) return ['invalid', 'id: must be 1-64 bytes'];
      if (!d.shapes.delete(op.id)) return ['not_found', `no shape ${op.id}`];
      return;
    case 'board.clear':
      if (a.role !== 'owner') return ['forbidden', 'board.clear: owner only'];
      d.shapes.clear();
      return;
    case 'poll.create': {
      const p = op.poll, at = p.closes_at || 0;
      if (!idOk(p.id) || !textOk(p.question, QUESTION_MAX) || !Array.isArray(p.options) ||
          p.options.length < 2 || p.options.length > 10 || !p.options.every(o => textOk(o, OPTION_MAX)) ||
          !isInt(at, 0, INT_MAX))
        return ['invalid', 'poll: bad id, question, options or closes_at'];
      if (d.polls.has(p.id)) return ['conflict', `poll ${p.id} already exists`];
      if (at && at <= a.ts) return ['invalid', 'poll.closes_at: must be in the future'];
      const np: Poll = {
        id: p.id, question: p.question, options: p.options.slice(),
        tally: p.options.map(() => 0), votes: Object.create(null), closed: false, by: a.user,
      };
      if (at) (np as any).closes_at = at;
      d.polls.set(p.id, np);
      return;
    }
    case 'poll.vote': {
      if (!idOk(op.poll)) return ['invalid', 'poll: must be 1-64 bytes'];
      const p = d.polls.get(op.poll);
      if (!p) return ['not_found', `no poll ${op.poll}`];
      if (p.closed || (p.closes_at && a.ts >= p.closes_at)) return ['forbidden', `poll ${op.poll} is closed`];
      if (!isInt(op.choice, 0, p.options.length - 1)) return ['invalid', 'choice: out of range'];
      const votes = Object.assign(Object.create(null), p.votes), tally = p.tally.slice();
      const prev = votes[a.user];
      if (prev !== undefined) tally[prev]--;
      tally[op.choice]++;
      votes[a.user] = op.choice;
      d.polls.set(op.poll, { ...p, votes, tally });
      op.tally = tally.slice();
      return;
    }
    case 'poll.close': {
      if (!idOk(op.poll)) return ['invalid', 'poll: must be 1-64 bytes'];
      const p = d.polls.get(op.poll);
      if (!p) return ['not_found', `no poll ${op.poll}`];
      if (a.role !== 'owner' && p.by !== a.user) return ['forbidden', 'poll.close: creator or owner only'];
      if (p.closed) return ['conflict', `poll ${op.poll} is already closed`];
      d.polls.set(op.poll, { ...p, closed: true });
      return;
    }
    case 'chat.post':
      if (!textOk(op.text, TEXT_MAX)) return ['invalid', 'text: must be 1-2000 characters'];
      if (!isInt(a.seq, 0, INT_MAX) || !isInt(a.ts, 0, INT_MAX)) return ['invalid', 'chat.post: seq or ts out of range'];
      d.chat.push({ seq: a.seq, ts: a.ts, user: a.user, id: a.id, text: op.text });
      if (d.chat.length > CHAT_KEEP) d.chat.shift();
      return;
  }
  return ['invalid', 'unknown op kind'];
}

/** A state from its section 5 JSON (a welcome's `state`; roomd built it). */
export function stateFromJSON(j: any): Draft {
  const d = emptyState();
  for (const k in j.shapes) d.shapes.set(k, j.shapes[k]);
  for (const k in j.polls) d.polls.set(k, { ...j.polls[k], votes: Object.assign(Object.create(null), j.polls[k].votes) });
  d.chat = j.chat.slice();
  return d;
}

/** The section 5 JSON of a state (what `roomctl replay` prints). */
export function stateToJSON(s: RoomState): { shapes: Record<string, Shape>; polls: Record<string, Poll>; chat: ChatEntry[] } {
  return { shapes: Object.fromEntries(s.shapes), polls: Object.fromEntries(s.polls), chat: s.chat.slice() };
}
