/*
 * fuzz_apply.c - op validation and apply: rk_op_decode_text then
 * rk_state_apply, the code roomd, roomctl replay and roomtui share.
 *
 * Input: lines. Each line is one event: its first byte picks the actor (role
 * and user), the rest is the op JSON. The ops are applied in order to a seed
 * state (a small room with shapes, an open poll with an alarm, a closed poll
 * and chat), so later lines see what earlier ones did.
 *
 * Invariants, per op: applying is deterministic (a clone of the state gets
 * the same verdict and the same snapshot bytes); a rejected op leaves the
 * state unchanged; an applied op encodes "as applied" to JSON that decodes
 * and re-encodes to the same bytes. At the end: the snapshot survives a
 * decode/encode round trip byte for byte.
 */
#include <string.h>
#include "buf.h"
#include "fuzz.h"
#include "state.h"

static const char SEED_STATE[] =
    "{\"shapes\":{"
    "\"s1\":{\"id\":\"s1\",\"type\":\"stroke\",\"color\":1,\"points\":[[0,0],[1,1],[2,4]]"
    ","
    "\"by\":\"alice\"},"
    "\"r1\":{\"id\":\"r1\",\"type\":\"rect\",\"color\":2,\"points\":[[-5,-5],[5,5]],"
    "\"by\":\"bob\"},"
    "\"t1\":{\"id\":\"t1\",\"type\":\"text\",\"color\":0,\"points\":[[3,3]],"
    "\"text\":\"h\\u00e9llo\",\"by\":\"alice\"}},"
    "\"polls\":{"
    "\"p1\":{\"id\":\"p1\",\"question\":\"lunch?\",\"options\":[\"pizza\",\"soup\"],"
    "\"tally\":[1,0],\"votes\":{\"alice\":0},\"closed\":false,\"closes_at\":"
    "1700000100000,"
    "\"by\":\"alice\"},"
    "\"p2\":{\"id\":\"p2\",\"question\":\"done?\",\"options\":[\"y\",\"n\",\"maybe\"],"
    "\"tally\":[0,1,0],\"votes\":{\"bob\":1},\"closed\":true,\"by\":\"bob\"}},"
    "\"chat\":[{\"seq\":7,\"ts\":1699999990000,\"user\":\"bob\",\"text\":\"hi\"}]}";

static const char *const USERS[] = {"alice", "bob", "carol", "roomd"};
#define BASE_SEQ 10
#define BASE_TS INT64_C(1700000000000)

static void encode(const rk_state *st, rk_buf *b)
{
	rk_buf_reset(b);
	rk_state_encode(st, b);
	FUZZ_CHECK(rk_buf_ok(b) == RK_OK);
}

static bool same(const rk_buf *a, const rk_buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* The op as applied re-encodes to itself through the text decoder. */
static void check_op_json(const rk_op *op)
{
	rk_buf a, b;
	rk_buf_init(&a, 0);
	rk_buf_init(&b, 0);
	rk_op_encode(op, &a);
	FUZZ_CHECK(rk_buf_ok(&a) == RK_OK);
	rk_op op2;
	char msg[RK_MSG_MSG_MAX + 1];
	FUZZ_CHECK(rk_op_decode_text(a.data, a.len, &op2, msg, sizeof(msg)) ==
		   RK_REJ_NONE);
	/* The decoder ignores tally (it is recomputed on apply). */
	rk_op tmp = *op;
	tmp.tally = NULL;
	tmp.ntally = 0;
	rk_buf_reset(&a);
	rk_op_encode(&tmp, &a);
	rk_op_encode(&op2, &b);
	FUZZ_CHECK(same(&a, &b));
	rk_op_free(&op2);
	rk_buf_free(&a);
	rk_buf_free(&b);
}

static void apply_line(rk_state *st, const char *line, size_t n, int64_t i,
		       rk_buf *before, rk_buf *after, rk_buf *other)
{
	if (n == 0)
		return;
	unsigned char sel = (unsigned char)line[0];
	rk_actor actor = {
	    .user = USERS[(sel >> 2) % RK_ARRAY_LEN(USERS)],
	    .role = (rk_role)(sel & 3), /* none, viewer, editor, owner */
	    .seq = BASE_SEQ + i,
	    .ts = BASE_TS + i * 20000, /* walks past p1's closes_at */
	};
	rk_op op;
	char msg[RK_MSG_MSG_MAX + 1];
	if (rk_op_decode_text(line + 1, n - 1, &op, msg, sizeof(msg)) != RK_REJ_NONE)
		return;
	rk_op op_clone;
	FUZZ_CHECK(rk_op_copy(&op_clone, &op) == RK_OK);
	rk_state *clone = rk_state_clone(st);
	FUZZ_CHECK(clone != NULL);
	encode(st, before);

	rk_reject r1 = rk_state_apply(st, &op, &actor, msg, sizeof(msg));
	rk_reject r2 = rk_state_apply(clone, &op_clone, &actor, msg, sizeof(msg));
	FUZZ_CHECK(r1 == r2);
	encode(st, after);
	encode(clone, other);
	FUZZ_CHECK(same(after, other));
	if (r1 != RK_REJ_NONE)
		FUZZ_CHECK(same(before, after));
	else
		check_op_json(&op);
	rk_op_free(&op);
	rk_op_free(&op_clone);
	rk_state_free(clone);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	rk_state *st = NULL;
	FUZZ_CHECK(rk_state_decode_text(SEED_STATE, strlen(SEED_STATE), &st, err,
					sizeof(err)) == RK_OK);
	rk_buf before, after, other;
	rk_buf_init(&before, 0);
	rk_buf_init(&after, 0);
	rk_buf_init(&other, 0);
	const char *p = (const char *)data, *end = p + size;
	for (int64_t i = 0; p < end && i < 64; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		apply_line(st, p, n, i, &before, &after, &other);
		p += n + (nl ? 1 : 0);
	}
	/* Every reachable state survives a snapshot round trip. */
	encode(st, &before);
	rk_state *back = NULL;
	FUZZ_CHECK(rk_state_decode_text(before.data, before.len, &back, err,
					sizeof(err)) == RK_OK);
	encode(back, &after);
	FUZZ_CHECK(same(&before, &after));
	rk_state_free(back);
	rk_state_free(st);
	rk_buf_free(&before);
	rk_buf_free(&after);
	rk_buf_free(&other);
	return 0;
}
