/*
 * model.h - roomtui's client model: the confirmed room state (what the
 * server committed, up to seq), the list of this client's pending ops (sent
 * or about to be sent, not yet acked), and the view (confirmed state with
 * every pending op applied on top: what the screen shows).
 *
 * Pure: no I/O, no clock, no curses. Every transition goes through
 * rk_state_apply, the same function roomd runs, so the prediction of a local
 * op is exactly what the server will do unless someone else's op gets in
 * between. Fields are read-only outside model.c.
 *
 * Resume: after a reconnect that the server resumed, the events this client
 * missed arrive first, its own committed ops among them (same op id). Each
 * settles its pending op; once the replay has reached the welcome's seq, the
 * ops still pending were never committed and are sent again
 * (tm_resend_ready).
 *
 * After a full-state welcome (a gap too big to replay, or a new epoch) there
 * are no events to go by, so the state itself tells what was committed:
 * - shape.add / poll.create whose id is in the state: committed (the ids
 *   carry this client's random prefix, so nobody else made them): settled.
 * - chat.post that was sent before the drop (tried), same epoch: a kept
 *   post by us with the same op id (state.chat entries carry it) settles
 *   it. Not found: resent with the same id. The server remembers committed
 *   op ids (PROTOCOL.md section 3, idempotent ops), so a post that was
 *   committed and then pushed out of the 200 kept is acked as a duplicate,
 *   not posted twice.
 * - With a new epoch the old history is gone: nothing sent there is in the
 *   new one, so nothing is matched.
 * - Any other op that no longer applies: if it was sent before, its effect
 *   is already there (a delete of a deleted shape, a close of a closed poll):
 *   settled quietly; if it was never sent, it conflicts with what others did
 *   meanwhile: dropped and counted.
 * Everything still pending is sent again (shape.update and poll.vote are
 * idempotent, so resending a committed one changes nothing).
 */
#ifndef RT_MODEL_H
#define RT_MODEL_H

#include "proto.h"
#include "state.h"

/* One local op the server has not answered yet. */
typedef struct tm_pending {
	char id[RK_ID_MAX + 1]; /* client op id, unique across reconnects */
	rk_op op;		/* owned */
	bool sent;		/* written on the current connection */
	bool tried;		/* written on an earlier connection: it may
				 * have been committed without our knowing */
} tm_pending;

typedef struct tui_model {
	/* read-only */
	rk_state *confirmed; /* committed state up to seq (never NULL after init) */
	int64_t seq;	     /* last seq applied to confirmed */
	char epoch[RK_EPOCH_MAX + 1]; /* from the last welcome, "" before */
	char user[RK_NAME_BYTES + 1]; /* our user name, from the welcome */
	rk_role role;		      /* our role, from the welcome */
	tm_pending *pend;	      /* pending ops, in send order */
	size_t npend;
	size_t cap;
	int64_t resume_until; /* hold resends until seq >= this */
	bool joined;	      /* a welcome arrived since the last drop */
	/* private */
	rk_state *view; /* confirmed + pending; rebuilt when dirty */
	bool dirty;
	char prefix[24];  /* op id prefix: this client's id */
	uint64_t next_id; /* op id counter */
} tui_model;

/* Initialise with an op id prefix (the client id: random per process, so
 * our ids never collide with another client's). Returns RK_OK or RK_ENOMEM
 * (then the model holds nothing; tm_free is still safe). */
RK_WARN_UNUSED rk_err tm_init(tui_model *m, const char *id_prefix);
void tm_free(tui_model *m);

/*
 * A welcome (m->t == RK_S_WELCOME). With a state (not resumed) the
 * confirmed state is replaced by it (ownership moves from msg->state to the
 * model; msg->state becomes NULL) and pending ops are settled or dropped as
 * the comment at the top says; *dropped (may be NULL) counts the ops the
 * user should hear about: dropped, not settled. When resumed,
 * the confirmed state is kept and the replayed events follow.
 * Every pending op is marked unsent. Returns RK_OK, or RK_ECORRUPT when a
 * resumed welcome names another epoch or a seq behind ours (the caller should
 * reconnect without resume), or RK_ENOMEM.
 */
rk_err tm_welcome(tui_model *m, rk_smsg *msg, size_t *dropped);

/* The connection dropped: every pending op becomes unsent, and resends wait
 * for the next welcome. */
void tm_disconnected(tui_model *m);

/*
 * A committed op from the server (`event`). Events at or below seq are
 * ignored (returns false). If the event carries the id of one of our pending
 * ops and our user name, that op is settled (removed: the event is its
 * answer). The op is applied to the confirmed state as committed. Returns
 * true if it was applied.
 */
bool tm_event(tui_model *m, rk_smsg *msg);

/* Our op id was committed at seq: settle it and apply it to the confirmed
 * state (ts: the local wall clock, the ack carries none). Returns false if
 * no pending op has that id (a stale ack: ignored). */
bool tm_ack(tui_model *m, const char *id, int64_t seq, int64_t ts);

/* Our op id was refused: roll it back. Returns false if unknown; otherwise
 * true, and *kind is the op's kind (for the status line). */
bool tm_reject(tui_model *m, const char *id, rk_op_kind *kind);

/*
 * A new local op (ownership of *op moves to the model; *op is zeroed).
 * It is first applied to the view: when that fails (e.g. a viewer, a deleted
 * shape, a closed poll) the op is refused locally, never sent, and the
 * reject code is returned with a reason in msg. Otherwise RK_REJ_NONE, the
 * op is pending and unsent, and its id is copied to id_out (RK_ID_MAX + 1).
 */
rk_reject tm_local_op(tui_model *m, rk_op *op, char *id_out, char *msg, size_t msglen);

/* True when unsent pending ops may be (re)sent now: joined, and any resume
 * replay has caught up. */
bool tm_resend_ready(const tui_model *m);

/* The state to show: confirmed with every pending op applied in order (ops
 * that no longer apply are skipped). Owned by the model; valid until the
 * next call that changes it. NULL only if out of memory. */
const rk_state *tm_view(tui_model *m);

/* True if shape id is only pending (added locally, not yet committed). */
bool tm_shape_pending(const tui_model *m, const char *shape_id);

/* A fresh id for a local object (shape or poll): "<prefix>-s<N>". */
void tm_new_object_id(tui_model *m, char *out, size_t n);

#endif
