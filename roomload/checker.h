/*
 * checker.h - correctness checks run while loading (PROTOCOL.md section 1:
 * per-room seqs 1, 2, 3, ... seen in order by every connection; an `ack`
 * and every `event` for one op carry the same seq).
 *
 * Owns three kinds of bookkeeping, all plain data with no I/O:
 *  - chk_stream: one per connection; the seqs it has seen (welcome seq, then
 *    every event and ack) must rise by exactly one: a jump is a gap, a seq
 *    seen again is a duplicate, a missing seq arriving late is a reorder.
 *  - chk_ops: one per sending client; a ring of its recent ops by local
 *    sequence number with the send time, the seq its ack carried and the
 *    seq the first event for it carried, so that "event seq == ack seq" is
 *    checked whichever arrives first.
 *  - chk_room: one per room; a ring seq -> op (client, local seq), so that
 *    every connection of the room agrees on which op a seq is.
 * A checker counts violations by kind and keeps the first few, with detail.
 * Rings are windows: an op or seq that fell out of its ring is counted in
 * `unchecked`, never reported as a violation.
 */
#ifndef RK_CHECKER_H
#define RK_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum chk_kind {
	CHK_GAP = 0,	/* a connection skipped seqs */
	CHK_DUP,	/* a connection saw a seq twice */
	CHK_REORDER,	/* a skipped seq arrived later, or a seq went backwards */
	CHK_SEQ_OP,	/* two different ops observed at one seq of a room */
	CHK_ACK_EVENT,	/* an op's ack seq differs from its event seq */
	CHK_UNKNOWN_OP, /* an ack or our-id event for an op never sent */
	CHK_DIVERGED,	/* at the end, connections of a room disagree on the last seq */
	CHK_REWOUND,	/* a reconnect's welcome is behind a seq the client already saw:
			 * the room lost committed (acked or delivered) ops */
	CHK_KIND_COUNT
} chk_kind;

#define CHK_FIRST_MAX 8 /* violations kept with detail */
#define CHK_DETAIL_LEN 200
#define CHK_MISSING_MAX 64 /* skipped seqs remembered per stream */

typedef struct chk_stream {
	int64_t last;			  /* highest seq seen; -1 before welcome */
	int64_t missing[CHK_MISSING_MAX]; /* seqs skipped by a gap, not yet seen */
	int nmissing;
} chk_stream;

typedef struct chk_oprec {
	uint32_t lseq;	   /* local sequence number; 0 = slot empty */
	bool setup;	   /* a setup op (not counted in the load figures) */
	bool done;	   /* ack or reject arrived */
	int64_t sent_ns;   /* intended send time (open loop), monotonic */
	int64_t ack_seq;   /* seq of the ack, 0 until acked */
	int64_t event_seq; /* seq of the first event seen for it, 0 if none */
} chk_oprec;

typedef struct chk_ops {
	chk_oprec *r;  /* ring, indexed by lseq & mask; owned */
	uint32_t mask; /* ring size - 1 (size is a power of two) */
} chk_ops;

typedef struct chk_seqrec {
	int64_t seq;	 /* 0 = slot empty */
	uint32_t client; /* global client index of the op's sender */
	uint32_t lseq;	 /* sender's local sequence number */
} chk_seqrec;

typedef struct chk_room {
	chk_seqrec *r; /* ring, indexed by seq & mask; owned */
	uint32_t mask;
} chk_room;

typedef struct checker {
	uint64_t counts[CHK_KIND_COUNT]; /* violations by kind */
	uint64_t total;			 /* sum of counts */
	uint64_t unchecked;		 /* observations outside a ring window */
	char first[CHK_FIRST_MAX][CHK_DETAIL_LEN]; /* the first violations */
	int nfirst;
} checker;

const char *chk_kind_name(chk_kind k); /* "gap", "duplicate", ... */

void chk_init(checker *c);
/* Add src's counts into dst and append its first violations while dst has
 * room for them (another process's checker, --procs). Can't fail. */
void chk_merge(checker *dst, const checker *src);

/* Streams. `conn` is an index used only in messages. Can't fail. */
void chk_stream_init(chk_stream *s);
void chk_stream_welcome(checker *c, chk_stream *s, uint32_t conn, int64_t seq);
/* An event or ack with this seq arrived on the connection. */
void chk_stream_seq(checker *c, chk_stream *s, uint32_t conn, int64_t seq);
/* An ack with dup: true arrived. It carries the seq of the op's earlier
 * commit (PROTOCOL.md section 2), which the connection has already been
 * shown (its ack or event, a replay, a full state): the seq must not be
 * ahead of the stream (else CHK_REORDER), and the stream does not move. A
 * resend racing its original's commit gets the event, then this ack with
 * the same seq. Can't fail. */
void chk_stream_dup_ack(checker *c, chk_stream *s, uint32_t conn, int64_t seq);
/*
 * The welcome of a reconnection of the same client (--reconnect, churn): its
 * stream goes on. Every seq the stream saw was committed before the new
 * connection was opened, so a welcome seq below the stream's last is
 * CHK_REWOUND (the room lost ops it had acked or delivered), resumed or not.
 * resumed: the stream carries on from its last seq (the replay follows and
 * is checked for gaps as usual); otherwise (a full state) it restarts at
 * seq. Can't fail.
 */
void chk_stream_rewelcome(checker *c, chk_stream *s, uint32_t conn, int64_t seq,
			  bool resumed);

/* Op rings: size is rounded up to a power of two (min 16). Returns false
 * when out of memory (nothing allocated). chk_ops_free is safe on zeroed. */
bool chk_ops_init(chk_ops *o, uint32_t size);
void chk_ops_free(chk_ops *o);
/* Record a sent op (lseq >= 1). Overwrites the slot's older op. */
void chk_op_sent(chk_ops *o, uint32_t lseq, int64_t sent_ns, bool setup);
/* The record of an op still in the ring, or NULL. */
chk_oprec *chk_op_find(chk_ops *o, uint32_t lseq);
/* The seq the server reported op r committed at: its ack's (an ack.dup
 * included), else the first event seen for it (by any client, its sender's
 * replay included); 0 if neither came. */
int64_t chk_op_seq(const chk_oprec *r);
/* The smallest lseq in [from, to] whose op is still in the ring and not
 * done (neither acked, rejected nor seen as its own replayed event; a
 * cursor is done once written): what a reconnected client resends, in
 * order. 0 if none. Can't fail. */
uint32_t chk_ops_next_open(const chk_ops *o, uint32_t from, uint32_t to);

/* Room rings; same contract as the op rings. */
bool chk_room_init(chk_room *r, uint32_t size);
void chk_room_free(chk_room *r);

/*
 * The sender got `ack` for its op (client, lseq) at seq; or a connection of
 * the room got an `event` for it. Both check the room's seq -> op agreement
 * and the op's ack seq against its event seq. Return the op's record (for
 * its send time), or NULL if the op is unknown (counted as CHK_UNKNOWN_OP
 * when the ring still covers lseq, else as unchecked).
 */
chk_oprec *chk_ack(checker *c, chk_room *room, chk_ops *sender, uint32_t client,
		   uint32_t lseq, int64_t seq);
chk_oprec *chk_event(checker *c, chk_room *room, chk_ops *sender, uint32_t client,
		     uint32_t lseq, int64_t seq);
/* At the end: the last seqs of a room's live connections must be equal.
 * `room` is an index used only in messages. */
void chk_final(checker *c, uint32_t room, const int64_t *last, size_t n);

#endif
