/*
 * state.h - the room state machine of PROTOCOL.md sections 3 and 5.
 *
 * rk_state_apply() is the one function that decides whether an op is applied
 * and what it does: roomd applies with it, roomctl replays with it, roomtui
 * predicts with it. It is a pure function of (state, op, actor): it reads no
 * clock (the event's ts is in the actor) and no randomness, so applying events
 * 1..N gives byte-identical snapshots everywhere.
 *
 * Fields of the structs below are read-only outside state.c.
 */
#ifndef RK_STATE_H
#define RK_STATE_H

#include "rk_common.h"
#include "buf.h"
#include "omap.h"
#include "op.h"

typedef struct rk_shape {
	char *id;
	rk_shape_type type;
	int color;
	rk_point *points; /* NULL if none */
	size_t npoints;
	char *text; /* NULL if none */
	char *by;   /* user who added it */
} rk_shape;

typedef struct rk_poll {
	char *id;
	char *question;
	char **options;
	size_t noptions;
	int64_t *tally; /* noptions counts */
	rk_omap votes;	/* user -> (intptr_t)(choice + 1), in first-vote order */
	bool closed;
	int64_t closes_at; /* 0 = no alarm */
	char *by;	   /* creator */
} rk_poll;

typedef struct rk_chat {
	int64_t seq;
	int64_t ts;
	char *user;
	char *id; /* the post's op id; "" in snapshots older than
		   * revision 2, which did not keep it */
	char *text;
} rk_chat;

typedef struct rk_state {
	rk_omap shapes; /* id -> rk_shape*, insertion order = z-order */
	rk_omap polls;	/* id -> rk_poll*, creation order */
	rk_chat *chat;	/* ring of RK_CHAT_KEEP, oldest at chat_head; allocated at
			 * the first post (a room without chat: 4 KiB less) */
	size_t chat_head;
	size_t chat_len;
} rk_state;

/* Who performs an op, and the event context it is applied in. */
typedef struct rk_actor {
	const char *user; /* "roomd" for the server's own ops */
	rk_role role;	  /* the server's own ops use RK_ROLE_OWNER */
	int64_t seq;	  /* the seq this op will get if applied */
	int64_t ts;	  /* the event's ts (ms since epoch) */
	const char *id;	  /* the op's client id (kept with chat posts); NULL = "" */
} rk_actor;

/* A new empty state, or NULL if out of memory. */
rk_state *rk_state_new(void);
void rk_state_free(rk_state *st);

/*
 * Apply op to st as actor. Returns RK_REJ_NONE when applied: st changed and
 * op is now "as applied" (poll.vote gets its tally). Otherwise returns the
 * reject code with a message in msg, and st is unchanged. Checks every rule of
 * PROTOCOL.md section 3 that needs the state or the role:
 *  viewer -> forbidden for every op; shape.add existing id -> conflict;
 *  shape.update/delete missing -> not_found; update that breaks the shape's
 *  type rules -> invalid; board.clear non-owner -> forbidden; poll.create
 *  existing id -> conflict, closes_at <= ts -> invalid; poll.vote missing ->
 *  not_found, closed (or closes_at <= ts) -> forbidden, choice out of range ->
 *  invalid; poll.close missing -> not_found, neither creator nor owner ->
 *  forbidden, already closed -> conflict.
 * Also invalid, so that every state survives a snapshot round trip: an op
 * that breaks a static rule of section 3 (id 1-64 bytes, color, text and
 * option lengths, UTF-8, coordinates within +-RK_INT_MAX, the shape type
 * rules -- also on shape.add, where text is allowed on text shapes only), an
 * actor user that is not 1-32 characters, an actor id over RK_ID_MAX bytes
 * or not UTF-8, a chat.post with seq or ts outside 0..RK_INT_MAX, and NULL
 * arguments. The checks run in the order listed
 * (role first), each before anything is allocated.
 * Out of memory is reported as RK_REJ_INVALID with msg "out of memory" and
 * leaves st unchanged.
 */
rk_reject rk_state_apply(rk_state *st, rk_op *op, const rk_actor *actor, char *msg,
			 size_t msglen);

/* Append the snapshot JSON of section 5 to b. Deterministic: maps in
 * insertion order, fixed key order; a chat post's "id" is written unless it
 * is "" (a post restored from a pre-revision-2 snapshot). Errors surface
 * via rk_buf_ok(b). */
void rk_state_encode(const rk_state *st, rk_buf *b);
/* One poll as it appears in the snapshot's "polls" (id, question, options,
 * tally, votes, closed, ...): the webhook of a closed poll carries it. */
void rk_state_encode_poll(const rk_poll *p, rk_buf *b);
/* The same without any chat post's "id": what a pre-revision-2 roomd wrote,
 * so that roomctl verify can compare such a file's snapshots. */
void rk_state_encode_legacy(const rk_state *st, rk_buf *b);

/* Decode a snapshot from a parsed tree / from text. On success returns RK_OK
 * and a new state in *out (NULL otherwise). Returns RK_ECORRUPT (message in
 * err) if anything does not follow section 5 and the rules of section 3 --
 * including, for rk_state_decode_text, text that is not JSON (truncated,
 * bad UTF-8): a stored snapshot that does not parse is corrupt -- or
 * RK_ENOMEM. Map order in the input is kept, so encode(decode(encode(s)))
 * gives the same bytes as encode(s). */
rk_err rk_state_decode(const cJSON *obj, rk_state **out, char *err, size_t errlen);
rk_err rk_state_decode_text(const char *s, size_t n, rk_state **out, char *err,
			    size_t errlen);

/* Deep copy, or NULL if out of memory. */
rk_state *rk_state_clone(const rk_state *st);

/* The open poll with the earliest closes_at; false if none. */
bool rk_state_next_alarm(const rk_state *st, const rk_poll **poll);

/* Chat post i (0 = oldest kept) of st->chat_len. */
const rk_chat *rk_state_chat_at(const rk_state *st, size_t i);

#endif
