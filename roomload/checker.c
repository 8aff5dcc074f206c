/*
 * checker.c - the ordering and agreement checks of checker.h.
 */
#include "checker.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rk_common.h"

static const char *const kind_names[CHK_KIND_COUNT] = {
    [CHK_GAP] = "gap",
    [CHK_DUP] = "duplicate",
    [CHK_REORDER] = "reorder",
    [CHK_SEQ_OP] = "seq_op_mismatch",
    [CHK_ACK_EVENT] = "ack_event_mismatch",
    [CHK_UNKNOWN_OP] = "unknown_op",
    [CHK_DIVERGED] = "diverged",
    [CHK_REWOUND] = "rewound",
};

const char *chk_kind_name(chk_kind k)
{
	return (unsigned)k < CHK_KIND_COUNT ? kind_names[k] : "?";
}

void chk_init(checker *c)
{
	memset(c, 0, sizeof(*c));
}

void chk_merge(checker *dst, const checker *src)
{
	for (int k = 0; k < CHK_KIND_COUNT; k++)
		dst->counts[k] += src->counts[k];
	dst->total += src->total;
	dst->unchecked += src->unchecked;
	for (int i = 0; i < src->nfirst && dst->nfirst < CHK_FIRST_MAX; i++)
		memcpy(dst->first[dst->nfirst++], src->first[i], CHK_DETAIL_LEN);
}

static void violation(checker *c, chk_kind k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void violation(checker *c, chk_kind k, const char *fmt, ...)
{
	c->counts[k]++;
	c->total++;
	if (c->nfirst >= CHK_FIRST_MAX)
		return;
	char *d = c->first[c->nfirst++];
	int n = snprintf(d, CHK_DETAIL_LEN, "%s: ", chk_kind_name(k));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d + n, CHK_DETAIL_LEN - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ---- streams ----------------------------------------------------------- */

void chk_stream_init(chk_stream *s)
{
	memset(s, 0, sizeof(*s));
	s->last = -1;
}

void chk_stream_welcome(checker *c, chk_stream *s, uint32_t conn, int64_t seq)
{
	(void)c;
	(void)conn;
	s->last = seq;
	s->nmissing = 0;
}

void chk_stream_rewelcome(checker *c, chk_stream *s, uint32_t conn, int64_t seq,
			  bool resumed)
{
	if (s->last >= 0 && seq < s->last)
		violation(c, CHK_REWOUND,
			  "conn %u: reconnected at seq %lld after seeing %lld (%s)", conn,
			  (long long)seq, (long long)s->last,
			  resumed ? "resumed" : "full state");
	if (!resumed || s->last < 0)
		chk_stream_welcome(c, s, conn, seq);
}

static bool take_missing(chk_stream *s, int64_t seq)
{
	for (int i = 0; i < s->nmissing; i++) {
		if (s->missing[i] == seq) {
			s->missing[i] = s->missing[--s->nmissing];
			return true;
		}
	}
	return false;
}

void chk_stream_seq(checker *c, chk_stream *s, uint32_t conn, int64_t seq)
{
	if (s->last < 0) {
		/* Seqs before the welcome: the welcome must come first. */
		violation(c, CHK_REORDER, "conn %u: seq %lld before its welcome", conn,
			  (long long)seq);
		s->last = seq;
		return;
	}
	if (seq == s->last + 1) {
		s->last = seq;
		return;
	}
	if (seq > s->last + 1) {
		violation(c, CHK_GAP, "conn %u: seq %lld after %lld (missing %lld..%lld)",
			  conn, (long long)seq, (long long)s->last,
			  (long long)s->last + 1, (long long)seq - 1);
		for (int64_t m = s->last + 1; m < seq && s->nmissing < CHK_MISSING_MAX;
		     m++)
			s->missing[s->nmissing++] = m;
		s->last = seq;
		return;
	}
	if (take_missing(s, seq))
		violation(c, CHK_REORDER, "conn %u: seq %lld arrived after %lld", conn,
			  (long long)seq, (long long)s->last);
	else
		violation(c, CHK_DUP, "conn %u: seq %lld seen again (last %lld)", conn,
			  (long long)seq, (long long)s->last);
}

void chk_stream_dup_ack(checker *c, chk_stream *s, uint32_t conn, int64_t seq)
{
	if (s->last < 0 || seq > s->last)
		violation(c, CHK_REORDER, "conn %u: dup ack seq %lld ahead of %lld", conn,
			  (long long)seq, (long long)s->last);
}

/* ---- rings ------------------------------------------------------------- */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 16;
	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

/* A zeroed ring of at least size slots (a power of two) of elem bytes, its
 * index mask in *mask; NULL (mask 0) if out of memory. */
static void *ring_new(uint32_t size, size_t elem, uint32_t *mask)
{
	uint32_t n = pow2_at_least(size);
	void *r = calloc(n, elem);
	*mask = r ? n - 1 : 0;
	return r;
}

bool chk_ops_init(chk_ops *o, uint32_t size)
{
	o->r = ring_new(size, sizeof(*o->r), &o->mask);
	return o->r != NULL;
}

void chk_ops_free(chk_ops *o)
{
	RK_FREE(o->r);
	o->mask = 0;
}

void chk_op_sent(chk_ops *o, uint32_t lseq, int64_t sent_ns, bool setup)
{
	if (!o->r)
		return;
	chk_oprec *r = &o->r[lseq & o->mask];
	memset(r, 0, sizeof(*r));
	r->lseq = lseq;
	r->sent_ns = sent_ns;
	r->setup = setup;
}

chk_oprec *chk_op_find(chk_ops *o, uint32_t lseq)
{
	if (!o->r || lseq == 0)
		return NULL;
	chk_oprec *r = &o->r[lseq & o->mask];
	return r->lseq == lseq ? r : NULL;
}

int64_t chk_op_seq(const chk_oprec *r)
{
	return r->ack_seq ? r->ack_seq : r->event_seq;
}

uint32_t chk_ops_next_open(const chk_ops *o, uint32_t from, uint32_t to)
{
	if (!o->r)
		return 0;
	for (uint32_t l = from ? from : 1; l <= to && l != 0; l++) {
		const chk_oprec *r = &o->r[l & o->mask];
		if (r->lseq == l && !r->done)
			return l;
	}
	return 0;
}

bool chk_room_init(chk_room *r, uint32_t size)
{
	r->r = ring_new(size, sizeof(*r->r), &r->mask);
	return r->r != NULL;
}

void chk_room_free(chk_room *r)
{
	RK_FREE(r->r);
	r->mask = 0;
}

/* Seq -> op agreement within a room. */
static void room_observe(checker *c, chk_room *room, uint32_t client, uint32_t lseq,
			 int64_t seq, const char *what)
{
	if (!room->r || seq <= 0)
		return;
	chk_seqrec *s = &room->r[(uint64_t)seq & room->mask];
	if (s->seq == seq) {
		if (s->client != client || s->lseq != lseq)
			violation(
			    c, CHK_SEQ_OP,
			    "seq %lld is op c%u.%u for one connection, c%u.%u in an %s",
			    (long long)seq, s->client, s->lseq, client, lseq, what);
		return;
	}
	if (s->seq > seq) {
		c->unchecked++; /* the ring has moved past this seq */
		return;
	}
	s->seq = seq;
	s->client = client;
	s->lseq = lseq;
}

/* Find the sender's record, counting an unknown op when the ring covers it. */
static chk_oprec *find_op(checker *c, chk_ops *sender, uint32_t client, uint32_t lseq,
			  int64_t seq, const char *what)
{
	chk_oprec *r = sender ? chk_op_find(sender, lseq) : NULL;
	if (r)
		return r;
	if (sender && sender->r) {
		chk_oprec *slot = &sender->r[lseq & sender->mask];
		if (lseq == 0 || slot->lseq < lseq) {
			violation(c, CHK_UNKNOWN_OP,
				  "%s at seq %lld for op c%u.%u never sent", what,
				  (long long)seq, client, lseq);
			return NULL;
		}
	}
	c->unchecked++;
	return NULL;
}

chk_oprec *chk_ack(checker *c, chk_room *room, chk_ops *sender, uint32_t client,
		   uint32_t lseq, int64_t seq)
{
	room_observe(c, room, client, lseq, seq, "ack");
	chk_oprec *r = find_op(c, sender, client, lseq, seq, "ack");
	if (!r)
		return NULL;
	if (r->ack_seq) {
		violation(c, CHK_DUP, "op c%u.%u acked twice (seq %lld, then %lld)",
			  client, lseq, (long long)r->ack_seq, (long long)seq);
		return r;
	}
	r->ack_seq = seq;
	r->done = true;
	if (r->event_seq && r->event_seq != seq)
		violation(c, CHK_ACK_EVENT,
			  "op c%u.%u acked at seq %lld, delivered at %lld", client, lseq,
			  (long long)seq, (long long)r->event_seq);
	return r;
}

chk_oprec *chk_event(checker *c, chk_room *room, chk_ops *sender, uint32_t client,
		     uint32_t lseq, int64_t seq)
{
	room_observe(c, room, client, lseq, seq, "event");
	chk_oprec *r = find_op(c, sender, client, lseq, seq, "event");
	if (!r)
		return NULL;
	if (r->ack_seq && r->ack_seq != seq)
		violation(c, CHK_ACK_EVENT,
			  "op c%u.%u acked at seq %lld, delivered at %lld", client, lseq,
			  (long long)r->ack_seq, (long long)seq);
	else if (!r->ack_seq && r->event_seq && r->event_seq != seq)
		violation(c, CHK_ACK_EVENT, "op c%u.%u delivered at seq %lld and at %lld",
			  client, lseq, (long long)r->event_seq, (long long)seq);
	if (!r->event_seq)
		r->event_seq = seq;
	return r;
}

void chk_final(checker *c, uint32_t room, const int64_t *last, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		if (last[i] != last[0]) {
			violation(c, CHK_DIVERGED,
				  "room %u: connections end at seq %lld and %lld", room,
				  (long long)last[0], (long long)last[i]);
			return;
		}
	}
}
