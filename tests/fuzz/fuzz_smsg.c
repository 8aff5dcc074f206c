/*
 * fuzz_smsg.c - rk_smsg_decode, the decoder every client (roomtui, roomload,
 * third-party code on libcommon) runs on what a server sends, with and
 * without the welcome state.
 *
 * Invariants: decoding never crashes or leaks; a decoded welcome and event
 * re-encode (rk_enc_welcome, rk_enc_event) to frames that decode to the same
 * seq, state snapshot bytes and op bytes.
 */
#include <string.h>
#include "buf.h"
#include "fuzz.h"
#include "proto.h"

static void same_bytes(const rk_buf *a, const rk_buf *b)
{
	FUZZ_CHECK(rk_buf_ok(a) == RK_OK && rk_buf_ok(b) == RK_OK);
	FUZZ_CHECK(a->len == b->len && memcmp(a->data, b->data, a->len) == 0);
}

static void check_welcome(const rk_smsg *m)
{
	rk_buf frame, s1, s2;
	rk_buf_init(&frame, 0);
	rk_buf_init(&s1, 0);
	rk_buf_init(&s2, 0);
	rk_enc_welcome(&frame, &m->welcome, m->state);
	FUZZ_CHECK(rk_buf_ok(&frame) == RK_OK);
	rk_smsg m2;
	FUZZ_CHECK(rk_smsg_decode(frame.data, frame.len, true, &m2, NULL, 0) == RK_OK);
	FUZZ_CHECK(m2.t == RK_S_WELCOME && m2.welcome.seq == m->welcome.seq &&
		   m2.welcome.npeers == m->welcome.npeers &&
		   m2.welcome.resumed == m->welcome.resumed &&
		   strcmp(m2.welcome.epoch, m->welcome.epoch) == 0);
	FUZZ_CHECK(!m->state == !m2.state);
	if (m->state) {
		rk_state_encode(m->state, &s1);
		rk_state_encode(m2.state, &s2);
		same_bytes(&s1, &s2);
	}
	rk_smsg_free(&m2);
	rk_buf_free(&frame);
	rk_buf_free(&s1);
	rk_buf_free(&s2);
}

static void check_event(const rk_smsg *m)
{
	rk_buf op1, frame, op2;
	rk_buf_init(&op1, 0);
	rk_buf_init(&frame, 0);
	rk_buf_init(&op2, 0);
	rk_op_encode(&m->op, &op1);
	FUZZ_CHECK(rk_buf_ok(&op1) == RK_OK);
	rk_enc_event(&frame, m->seq, m->ts, m->session, m->user, m->id, op1.data,
		     op1.len);
	FUZZ_CHECK(rk_buf_ok(&frame) == RK_OK);
	rk_smsg m2;
	FUZZ_CHECK(rk_smsg_decode(frame.data, frame.len, false, &m2, NULL, 0) == RK_OK);
	FUZZ_CHECK(m2.t == RK_S_EVENT && m2.seq == m->seq && m2.ts == m->ts &&
		   strcmp(m2.id, m->id) == 0 && strcmp(m2.user, m->user) == 0);
	rk_op_encode(&m2.op, &op2);
	same_bytes(&op1, &op2);
	rk_smsg_free(&m2);
	rk_buf_free(&op1);
	rk_buf_free(&frame);
	rk_buf_free(&op2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	for (int want_state = 0; want_state < 2; want_state++) {
		rk_smsg m;
		rk_err e = rk_smsg_decode((const char *)data, size, want_state, &m, err,
					  sizeof(err));
		if (e == RK_OK && m.t == RK_S_WELCOME &&
		    (want_state || m.welcome.resumed))
			check_welcome(&m);
		if (e == RK_OK && m.t == RK_S_EVENT)
			check_event(&m);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		rk_smsg_free(&m);
	}
	return 0;
}
