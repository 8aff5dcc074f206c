/*
 * types.ts - the wire types of PROTOCOL.md (revision 2): ops (section 3),
 * the room state (section 5) and the server messages (section 2).
 */

/** Reject codes of section 2, plus the client's own: `timeout` (never sent
 * within opTimeout), `reset` (the room's history was reset: a new epoch),
 * `closed` (the client was closed). */
export type RejectCode =
  | 'invalid' | 'forbidden' | 'conflict' | 'not_found' | 'rate_limited'
  | 'too_large' | 'room_full' | 'timeout' | 'reset' | 'closed';

export type Role = 'viewer' | 'editor' | 'owner';
export type ShapeType = 'stroke' | 'line' | 'rect' | 'text';
export type Point = [number, number];

export interface NewShape {
  /** Omit to get a fresh unique id. */
  id?: string;
  type: ShapeType;
  /** 0-7 */
  color: number;
  points: Point[];
  /** text shapes only */
  text?: string;
}

export type Op =
  | { k: 'shape.add'; shape: { id: string; type: ShapeType; color: number; points: Point[]; text?: string } }
  | { k: 'shape.update'; id: string; set: { color?: number; points?: Point[]; text?: string } }
  | { k: 'shape.delete'; id: string }
  | { k: 'board.clear' }
  | { k: 'poll.create'; poll: { id: string; question: string; options: string[]; closes_at?: number } }
  | { k: 'poll.vote'; poll: string; choice: number; tally?: number[] }
  | { k: 'poll.close'; poll: string }
  | { k: 'chat.post'; text: string };

export interface Shape {
  readonly id: string;
  readonly type: ShapeType;
  readonly color: number;
  readonly points: readonly Point[];
  readonly text?: string;
  /** the user who added it */
  readonly by: string;
}

export interface Poll {
  readonly id: string;
  readonly question: string;
  readonly options: readonly string[];
  readonly tally: readonly number[];
  /** user -> choice */
  readonly votes: Readonly<Record<string, number>>;
  readonly closed: boolean;
  readonly closes_at?: number;
  readonly by: string;
}

export interface ChatEntry {
  readonly seq: number;
  readonly ts: number;
  readonly user: string;
  /** the op id of the post (revision 2) */
  readonly id: string;
  readonly text: string;
}

/** The room state. Maps keep insertion order (shapes: z-order). Never
 * mutated once handed out: every change makes a new RoomState. */
export interface RoomState {
  readonly shapes: ReadonlyMap<string, Shape>;
  readonly polls: ReadonlyMap<string, Poll>;
  /** the last 200 posts, oldest first */
  readonly chat: readonly ChatEntry[];
}

/** Who applies an op, and in which event (state.h's rk_actor). */
export interface Actor {
  user: string;
  role: Role;
  seq: number;
  ts: number;
  /** the op id (chat entries keep it) */
  id: string;
}

export interface Peer {
  readonly session: string;
  readonly user: string;
  readonly color: number;
}

export interface Welcome {
  t: 'welcome'; v: number; room: string; session: string; user: string; role: Role;
  seq: number; epoch: string; resumed: boolean; state?: unknown; peers: Peer[];
  limits: { max_frame: number; ops_per_sec: number };
}

export interface EventMsg {
  t: 'event'; seq: number; ts: number; session: string; user: string; id: string; op: Op;
}

export type ServerMsg =
  | Welcome
  | EventMsg
  | { t: 'ack'; id: string; seq: number; dup?: boolean }
  | { t: 'reject'; id: string; code: RejectCode; msg: string }
  | { t: 'presence'; join?: Peer; leave?: string }
  | { t: 'cursor'; session: string; x: number; y: number }
  | { t: 'signal'; session: string; user: string; data: unknown }
  | { t: 'pong'; id: unknown; seq: number }
  | { t: 'error'; code: string; msg: string };
