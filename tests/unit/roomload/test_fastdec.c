/* test_fastdec.c - roomload's fast frame decoder agrees with the full
 * decoder (rk_smsg_decode) on every frame type it takes (event, ack,
 * cursor, presence, welcome with state and peers), built by roomd's real
 * encoders (rk_enc_*); it declines (falls back) on frames it does not
 * take, on escapes, on every truncation and on malformed numbers, ids and
 * layouts; and rl_parse_id accepts exactly cIDX.SEQ within 32 bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "buf.h"
#include "op.h"
#include "proto.h"
#include "fastdec.h" /* compiled in: RK_UNIT_SRC_ in tests/CMakeLists.txt */

/* Full decode of b, which must succeed. */
static void full_decode(const rk_buf *b, rk_smsg *m)
{
	char err[200];
	rk_err rc = rk_smsg_decode(b->data, b->len, false, m, err, sizeof(err));
	if (rc != RK_OK)
		fail_msg("full decode of %.*s: %s", (int)b->len, b->data, err);
}

/* The fast path takes b and agrees with the full decoder on every field
 * the checks use. */
static void agree(const rk_buf *b)
{
	rl_msg f;
	rk_smsg m;
	if (!rl_fast_decode(b->data, b->len, &f))
		fail_msg("fast path declined %.*s", (int)b->len, b->data);
	full_decode(b, &m);
	assert_int_equal(f.t, m.t);
	if (m.t == RK_S_EVENT || m.t == RK_S_ACK) {
		assert_int_equal(f.seq, m.seq);
		uint32_t c = 0, l = 0;
		bool ours = rl_parse_id(m.id, strlen(m.id), &c, &l);
		assert_int_equal(f.ours, ours);
		if (ours) {
			assert_int_equal(f.cidx, c);
			assert_int_equal(f.lseq, l);
		}
	}
	if (m.t == RK_S_ACK)
		assert_int_equal(f.dup, m.dup); /* --reconnect counts ack.dup */
	if (m.t == RK_S_CURSOR) {
		assert_int_equal(f.x, m.x);
		assert_int_equal(f.y, m.y);
	}
	if (m.t == RK_S_WELCOME) {
		assert_int_equal(f.seq, m.welcome.seq);
		assert_int_equal(f.resumed, m.welcome.resumed);
		assert_string_equal(f.epoch, m.welcome.epoch);
	}
	rk_smsg_free(&m);
}

/* The fast path declines b (the caller then decodes it fully). */
static void declines(const char *s, size_t n)
{
	rl_msg f;
	if (rl_fast_decode(s, n, &f))
		fail_msg("fast path took %.*s", (int)n, s);
}

static void enc_chat_event(rk_buf *b, int64_t seq, const char *user, const char *id,
			   const char *text)
{
	rk_op op;
	memset(&op, 0, sizeof(op));
	op.k = RK_OP_CHAT_POST;
	op.text = (char *)text;
	rk_buf ob;
	rk_buf_init(&ob, 0);
	rk_op_encode(&op, &ob);
	assert_int_equal(rk_buf_ok(&ob), RK_OK);
	rk_buf_reset(b);
	rk_enc_event(b, seq, 1764000000123, "s-1a2b", user, id, ob.data, ob.len);
	assert_int_equal(rk_buf_ok(b), RK_OK);
	rk_buf_free(&ob);
}

static void enc_shape_event(rk_buf *b, int64_t seq, const char *id)
{
	rk_point pts[3] = {{1, 2}, {-3, 4}, {5, -6}};
	rk_op op;
	memset(&op, 0, sizeof(op));
	op.k = RK_OP_SHAPE_ADD;
	op.id = (char *)"shape-9";
	op.type = RK_SHAPE_STROKE;
	op.color = 3;
	op.points = pts;
	op.npoints = 3;
	rk_buf ob;
	rk_buf_init(&ob, 0);
	rk_op_encode(&op, &ob);
	rk_buf_reset(b);
	rk_enc_event(b, seq, 5, "s", "u", id, ob.data, ob.len);
	assert_int_equal(rk_buf_ok(b), RK_OK);
	rk_buf_free(&ob);
}

/* A welcome as roomd sends it: npeers peers, and the state of a room with
 * a chat message and a shape in it (NULL when resumed). */
static void enc_welcome(rk_buf *b, int64_t seq, bool resumed, size_t npeers,
			const char *epoch)
{
	rk_welcome w;
	memset(&w, 0, sizeof(w));
	snprintf(w.room, sizeof(w.room), "room-1");
	snprintf(w.session, sizeof(w.session), "s-9");
	snprintf(w.user, sizeof(w.user), "c12");
	snprintf(w.epoch, sizeof(w.epoch), "%s", epoch);
	w.role = RK_ROLE_EDITOR;
	w.seq = seq;
	w.resumed = resumed;
	w.max_frame = 65536;
	w.ops_per_sec = 50;
	rk_peer peers[120];
	assert_true(npeers <= 120);
	for (size_t i = 0; i < npeers; i++) {
		memset(&peers[i], 0, sizeof(peers[i]));
		snprintf(peers[i].session, sizeof(peers[i].session), "s-%zu", i);
		snprintf(peers[i].user, sizeof(peers[i].user), "c%zu", i);
		peers[i].color = (int)(i % 8);
	}
	w.peers = peers;
	w.npeers = npeers;
	rk_state *st = NULL;
	if (!resumed) {
		st = rk_state_new();
		assert_non_null(st);
		rk_actor a;
		memset(&a, 0, sizeof(a));
		a.user = "c1";
		a.role = RK_ROLE_EDITOR;
		a.seq = 1;
		a.ts = 1000;
		rk_op op;
		memset(&op, 0, sizeof(op));
		op.k = RK_OP_CHAT_POST;
		op.text = strdup("a [chat] {message} with \"quotes\"");
		char msg[128];
		assert_int_equal(rk_state_apply(st, &op, &a, msg, sizeof(msg)),
				 RK_REJ_NONE);
		rk_op_free(&op);
	}
	rk_buf_reset(b);
	rk_enc_welcome(b, &w, st);
	assert_int_equal(rk_buf_ok(b), RK_OK);
	rk_state_free(st);
}

static void test_agrees_with_full_decoder(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 0);
	static const struct {
		int64_t seq;
		const char *id;
	} ev[] = {
	    {1, "c0.1"},
	    {42, "c12.34"},
	    {9007199254740991, "c4294967295.4294967295"},
	    {7, ""} /* a server op: no client id */,
	    {8, "other-client-op"},
	    {9, "c1.2.3"},
	    {10, "c-1.2"},
	};
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		enc_chat_event(&b, ev[i].seq, "alice", ev[i].id, "hello, world");
		agree(&b);
		enc_shape_event(&b, ev[i].seq, ev[i].id);
		agree(&b);
	}
	/* Non-ASCII (UTF-8) in the skipped strings and the op is fine. */
	enc_chat_event(&b, 3, "Zoë 🙂", "c5.6", "héllo {\"}\" ]");
	agree(&b);
	static const char *const acks[] = {"c0.1", "c99999.12345", "op-from-elsewhere"};
	for (size_t i = 0; i < 3; i++) {
		rk_buf_reset(&b);
		rk_enc_ack(&b, acks[i], (int64_t)i + 1, i % 2 == 1);
		agree(&b);
	}
	static const int64_t xy[][2] = {
	    {0, 0}, {5, 7}, {-1, -9007199254740991}, {9007199254740991, 1}};
	for (size_t i = 0; i < 4; i++) {
		rk_buf_reset(&b);
		rk_enc_cursor(&b, "s-xyz", xy[i][0], xy[i][1]);
		agree(&b);
	}
	rk_peer p;
	memset(&p, 0, sizeof(p));
	snprintf(p.session, sizeof(p.session), "s-77");
	snprintf(p.user, sizeof(p.user), "bob");
	p.color = 3;
	rk_buf_reset(&b);
	rk_enc_presence_join(&b, &p);
	agree(&b);
	rk_buf_reset(&b);
	rk_enc_presence_leave(&b, "s-77");
	agree(&b);
	enc_welcome(&b, 0, false, 0, "ep-1");
	agree(&b);
	enc_welcome(&b, 1234, false, 99, "0123456789abcdef");
	agree(&b);
	enc_welcome(&b, 77, true, 5, "e");
	agree(&b);
	rk_buf_free(&b);
}

/* Frames the fast path leaves to the full decoder, built by the encoders. */
static void test_declines_other_types_and_escapes(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_enc_reject(&b, "c1.2", RK_REJ_INVALID, "bad op");
	declines(b.data, b.len);
	rk_buf_reset(&b);
	rk_enc_error(&b, RK_ERRC_BAD_JSON, "no");
	declines(b.data, b.len);
	rk_buf_reset(&b);
	rk_enc_pong(&b, "\"p1\"", 4);
	declines(b.data, b.len);
	rk_buf_reset(&b);
	rk_enc_signal(&b, "s", "u", "{\"a\":1}", 7);
	declines(b.data, b.len);
	/* A welcome whose epoch needs an escape. */
	enc_welcome(&b, 3, true, 1, "e\"1");
	declines(b.data, b.len);
	/* An escaped quote in a string the fast path reads or skips: it
	 * declines, and the full decoder (the fallback) still takes it. */
	enc_chat_event(&b, 3, "a\"b", "c1.2", "x");
	declines(b.data, b.len);
	rk_smsg m;
	full_decode(&b, &m);
	assert_string_equal(m.user, "a\"b");
	rk_smsg_free(&m);
	rk_buf_reset(&b);
	rk_enc_ack(&b, "c1\\.2", 5, false);
	declines(b.data, b.len);
	rk_buf_reset(&b);
	rk_enc_cursor(&b, "s\n", 1, 2);
	declines(b.data, b.len);
	rk_buf_free(&b);
}

/* No proper prefix of a valid frame is taken. */
static void test_declines_truncations(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 0);
	for (int kind = 0; kind < 6; kind++) {
		rk_buf_reset(&b);
		if (kind == 0)
			enc_chat_event(&b, 12, "alice", "c3.4", "hi");
		else if (kind == 1)
			enc_shape_event(&b, 12, "c3.4");
		else if (kind == 2)
			rk_enc_ack(&b, "c3.4", 12, false);
		else if (kind == 3)
			rk_enc_cursor(&b, "s", -5, 6);
		else if (kind == 4)
			rk_enc_presence_leave(&b, "s-1");
		else
			enc_welcome(&b, 9, false, 3, "ep");
		for (size_t n = 0; n < b.len; n++)
			declines(b.data, n);
	}
	rk_buf_free(&b);
}

static void test_declines_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "not json",
	    "{\"t\":\"event\"}",
	    "{\"t\":\"ack\",\"id\":\"c1.2\",\"seq\":0}", /* seq must be >= 1 */
	    "{\"t\":\"ack\",\"id\":\"c1.2\",\"seq\":-3}",
	    "{\"t\":\"ack\",\"id\":\"c1.2\",\"seq\":01}", /* leading zero */
	    "{\"t\":\"ack\",\"id\":\"c1.2\",\"seq\":1e3}",
	    "{\"t\":\"ack\",\"id\":\"c1.2\",\"seq\":1.5}",
	    "{\"t\":\"ack\",\"id\":\"c1.2\",\"seq\":9007199254740992}", /* > RK_INT_MAX */
	    "{\"t\":\"ack\",\"id\":\"c1.2\",\"seq\":123456789012345678901}",
	    "{\"t\":\"ack\",\"id\":\"c1.2\",\"seq\": 1}",	 /* whitespace */
	    "{\"t\":\"ack\",\"id\":\"c1.2\",\"seq\":1,\"x\":1}", /* extra field */
	    "{\"t\":\"ack\",\"seq\":1,\"id\":\"c1.2\"}",	 /* other order */
	    "{\"t\":\"ack\",\"id\":\"\",\"seq\":1}",		 /* empty id */
	    "{\"t\":\"ack\",\"id\":\"c1.2,\"seq\":1}",		 /* broken quote */
	    "{\"t\":\"ack\",\"id\":\"c1.2\",\"seq\":1}}",
	    "{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"\",\"user\":\"u\","
	    "\"id\":\"c1.2\",\"op\":{}}", /* empty session */
	    "{\"t\":\"event\",\"seq\":1,\"ts\":-2,\"session\":\"s\",\"user\":\"u\","
	    "\"id\":\"c1.2\",\"op\":{}}", /* negative ts */
	    "{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\","
	    "\"id\":\"c1.2\",\"op\":[]}",
	    "{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\","
	    "\"id\":\"c1.2\",\"op\":{}", /* unclosed */
	    "{\"t\":\"cursor\",\"session\":\"s\",\"x\":-,\"y\":1}",
	    "{\"t\":\"cursor\",\"session\":\"s\",\"x\":1,\"y\":-9007199254740992}",
	    "{\"t\":\"presence\",\"leave\":\"\"}",
	    "{\"t\":\"presence\",\"other\":1}",
	    "{\"t\":\"presence\",\"join\":{\"a\":{}}", /* unbalanced */
	    "{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\","
	    "\"id\":\"c1.2\",\"op\":{\"a\":\"}}\"}", /* braces in a string */
	    "{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\","
	    "\"id\":\"c1.2\",\"op\":{}}{}", /* run-on */
	    "{\"t\":\"eventx\",\"seq\":1}",
	    "{\"t\" :\"ack\",\"id\":\"c1.2\",\"seq\":1}",
	    "{\"t\":\"welcome\",\"v\":2,\"room\":\"r\",\"session\":\"s\",\"user\":\"u\","
	    "\"role\":\"editor\",\"seq\":1,\"epoch\":\"e\",\"resumed\":true,"
	    "\"peers\":[],\"limits\":{}}", /* version 2 */
	    "{\"t\":\"welcome\",\"v\":1,\"room\":\"r\",\"session\":\"s\",\"user\":\"u\","
	    "\"role\":\"editor\",\"seq\":1,\"epoch\":\"e\",\"resumed\":yes,"
	    "\"peers\":[],\"limits\":{}}",
	    "{\"t\":\"welcome\",\"v\":1,\"room\":\"r\",\"session\":\"s\",\"user\":\"u\","
	    "\"role\":\"editor\",\"seq\":1,\"epoch\":\"\",\"resumed\":true,"
	    "\"peers\":[],\"limits\":{}}", /* empty epoch */
	    "{\"t\":\"welcome\",\"v\":1,\"room\":\"r\",\"session\":\"s\",\"user\":\"u\","
	    "\"role\":\"editor\",\"seq\":1,\"epoch\":\"e\",\"resumed\":true,"
	    "\"peers\":[{]}", /* unbalanced */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		declines(bad[i], strlen(bad[i]));
	/* A NUL inside the frame is not the end of it. */
	static const char nul[] = "{\"t\":\"ack\",\"id\":\"c1\0.2\",\"seq\":1}";
	declines(nul, sizeof(nul) - 1);
}

static void test_parse_id(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool ok;
		uint32_t c, l;
	} t[] = {
	    {"c0.1", true, 0, 1},
	    {"c12.34", true, 12, 34},
	    {"c4294967295.4294967295", true, UINT32_MAX, UINT32_MAX},
	    {"c4294967296.1", false, 0, 0},
	    {"c1.4294967296", false, 0, 0},
	    {"c99999999999.1", false, 0, 0},
	    {"c1.", false, 0, 0},
	    {"c.1", false, 0, 0},
	    {"c1", false, 0, 0},
	    {"c1.2x", false, 0, 0},
	    {"c1.2.3", false, 0, 0},
	    {"d1.2", false, 0, 0},
	    {"c-1.2", false, 0, 0},
	    {"c+1.2", false, 0, 0},
	    {"", false, 0, 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t c = 77, l = 77;
		bool ok = rl_parse_id(t[i].s, strlen(t[i].s), &c, &l);
		if (ok != t[i].ok)
			fail_msg("rl_parse_id(\"%s\") = %d", t[i].s, ok);
		if (ok) {
			assert_int_equal(c, t[i].c);
			assert_int_equal(l, t[i].l);
		}
	}
	/* Length-bounded: the bytes after n are not read. */
	uint32_t c, l;
	assert_true(rl_parse_id("c5.6789", 4, &c, &l));
	assert_int_equal(l, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_agrees_with_full_decoder),
	    cmocka_unit_test(test_declines_other_types_and_escapes),
	    cmocka_unit_test(test_declines_truncations),
	    cmocka_unit_test(test_declines_malformed),
	    cmocka_unit_test(test_parse_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
