/*
 * fuzz_cmsg.c - rk_cmsg_decode, roomd's decoder of every client frame, and
 * rk_cmsg_decode_op_body, the same decoder for POST ops bodies.
 *
 * Invariants: decoding never crashes or leaks; an OK op message re-encodes
 * (rk_enc_c_op) to a frame that decodes to the same op (same rk_op_encode
 * bytes), cursor and signal frames round-trip the same way, and a
 * rejected op message names its op id.
 */
#include <string.h>
#include "buf.h"
#include "fuzz.h"
#include "proto.h"

/* The frame cap roomd uses by default (--max-frame). */
#define MAX_FRAME 65536

static void check_op_round_trip(const rk_cmsg *m)
{
	rk_buf a, frame, b;
	rk_buf_init(&a, 0);
	rk_buf_init(&frame, 0);
	rk_buf_init(&b, 0);
	rk_op_encode(&m->op, &a);
	rk_enc_c_op(&frame, m->id, &m->op);
	FUZZ_CHECK(rk_buf_ok(&a) == RK_OK && rk_buf_ok(&frame) == RK_OK);
	rk_cmsg m2;
	rk_reject rej = RK_REJ_NONE;
	char msg[RK_MSG_MSG_MAX + 1];
	rk_err e =
	    rk_cmsg_decode(frame.data, frame.len, SIZE_MAX, &m2, &rej, msg, sizeof(msg));
	FUZZ_CHECK(e == RK_OK && m2.t == RK_C_OP && strcmp(m2.id, m->id) == 0);
	rk_op_encode(&m2.op, &b);
	FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	rk_cmsg_free(&m2);
	rk_buf_free(&a);
	rk_buf_free(&frame);
	rk_buf_free(&b);
}

/* Cursor and signal frames re-encode to the same message. */
static void check_other_round_trip(const rk_cmsg *m)
{
	rk_buf frame;
	rk_buf_init(&frame, 0);
	if (m->t == RK_C_CURSOR)
		rk_enc_c_cursor(&frame, m->x, m->y);
	else if (m->t == RK_C_SIGNAL)
		rk_enc_c_signal(&frame, m->data, m->data_len);
	else
		return;
	FUZZ_CHECK(rk_buf_ok(&frame) == RK_OK);
	rk_cmsg m2;
	rk_err e = rk_cmsg_decode(frame.data, frame.len, SIZE_MAX, &m2, NULL, NULL, 0);
	FUZZ_CHECK(e == RK_OK && m2.t == m->t);
	if (m->t == RK_C_CURSOR)
		FUZZ_CHECK(m2.x == m->x && m2.y == m->y);
	else
		FUZZ_CHECK(m2.data_len == m->data_len &&
			   memcmp(m2.data, m->data, m->data_len) == 0);
	rk_cmsg_free(&m2);
	rk_buf_free(&frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rk_cmsg m;
	rk_reject rej = RK_REJ_NONE;
	char msg[RK_MSG_MSG_MAX + 1];
	rk_err e = rk_cmsg_decode((const char *)data, size, MAX_FRAME, &m, &rej, msg,
				  sizeof(msg));
	if (e == RK_OK && m.t == RK_C_OP)
		check_op_round_trip(&m);
	else if (e == RK_OK)
		check_other_round_trip(&m);
	if (e == RK_EREJECT)
		FUZZ_CHECK(m.t == RK_C_OP && m.id[0] && rej != RK_REJ_NONE);
	if (e != RK_OK)
		FUZZ_CHECK(memchr(msg, '\0', sizeof(msg)) != NULL);
	rk_cmsg_free(&m);
	/* The same bytes as a POST /v1/rooms/<room>/ops body: an op or an
	 * error, never a crash or leak; an accepted body round-trips as a frame. */
	e = rk_cmsg_decode_op_body((const char *)data, size, MAX_FRAME, &m, &rej, msg,
				   sizeof(msg));
	FUZZ_CHECK(e != RK_OK || m.t == RK_C_OP);
	if (e == RK_OK)
		check_op_round_trip(&m);
	if (e == RK_EREJECT)
		FUZZ_CHECK(m.id[0] && rej != RK_REJ_NONE);
	rk_cmsg_free(&m);
	return 0;
}
