/*
 * test_proto_welcome.c - the welcome message with a full state snapshot
 * (proto.c over state.c): a room built by applying ops survives
 * encode -> decode -> encode byte for byte; the empty snapshot the encoder
 * writes without a state is the one state.c writes; a corrupt snapshot is
 * RK_ECORRUPT; want_state false skips it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "proto.h"
#include "state.h"

static char *steal(rk_buf *b)
{
	assert_int_equal(rk_buf_ok(b), RK_OK);
	char *s = rk_buf_steal(b, NULL);
	assert_non_null(s);
	return s;
}

static char *state_json(const rk_state *st)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_state_encode(st, &b);
	return steal(&b);
}

static void apply(rk_state *st, const char *user, int64_t seq, const char *op_json)
{
	rk_op op;
	char msg[RK_MSG_MSG_MAX + 1] = "";
	assert_int_equal(
	    rk_op_decode_text(op_json, strlen(op_json), &op, msg, sizeof(msg)),
	    RK_REJ_NONE);
	rk_actor a = {
	    .user = user, .role = RK_ROLE_EDITOR, .seq = seq, .ts = 1700000000000 + seq};
	rk_reject r = rk_state_apply(st, &op, &a, msg, sizeof(msg));
	if (r != RK_REJ_NONE)
		fail_msg("apply %s: %s (%s)", op_json, rk_reject_name(r), msg);
	rk_op_free(&op);
}

/* A room with something of everything. */
static rk_state *sample_state(void)
{
	rk_state *st = rk_state_new();
	assert_non_null(st);
	apply(st, "alice", 1,
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s1\",\"type\":\"stroke\","
	      "\"color\":1,\"points\":[[0,0],[1,1],[-9007199254740991,3]]}}");
	apply(st, "bob", 2,
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"t1\",\"type\":\"text\","
	      "\"color\":4,\"points\":[[5,5]],\"text\":\"h\xc3\xa9llo \\\"x\\\"\\n\"}}");
	apply(st, "alice", 3,
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"r1\",\"type\":\"rect\","
	      "\"color\":0,\"points\":[[0,0],[9,9]]}}");
	apply(st, "bob", 4,
	      "{\"k\":\"shape.update\",\"id\":\"s1\",\"set\":{\"color\":6}}");
	apply(st, "bob", 5, "{\"k\":\"shape.delete\",\"id\":\"r1\"}");
	apply(st, "alice", 6,
	      "{\"k\":\"poll.create\",\"poll\":{\"id\":\"p1\",\"question\":\"lunch?\","
	      "\"options\":[\"yes\",\"no\",\"later\"]}}");
	apply(st, "bob", 7, "{\"k\":\"poll.vote\",\"poll\":\"p1\",\"choice\":2}");
	apply(st, "alice", 8, "{\"k\":\"poll.vote\",\"poll\":\"p1\",\"choice\":0}");
	apply(st, "alice", 9, "{\"k\":\"chat.post\",\"text\":\"hi\"}");
	apply(st, "bob", 10, "{\"k\":\"chat.post\",\"text\":\"hey \xe2\x9c\x93\"}");
	return st;
}

static const rk_welcome sample_welcome = {
    .room = "room-1",
    .session = "s9",
    .user = "carol",
    .role = RK_ROLE_EDITOR,
    .seq = 10,
    .epoch = "ep0",
    .resumed = false,
    .peers = NULL,
    .npeers = 0,
    .max_frame = 262144,
    .ops_per_sec = 50,
};

static char *welcome_json(const rk_welcome *w, const rk_state *st)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_enc_welcome(&b, w, st);
	return steal(&b);
}

/* encode -> decode -> encode gives the same bytes, state included. */
static void test_welcome_state_roundtrip(void **state)
{
	rk_state *st = sample_state();
	rk_peer peers[] = {{.session = "s1", .user = "alice", .color = 1},
			   {.session = "s2", .user = "bob", .color = 2}};
	rk_welcome w = sample_welcome;
	w.peers = peers;
	w.npeers = 2;
	char *e1 = welcome_json(&w, st);
	char *want_state = state_json(st);
	assert_non_null(strstr(e1, want_state)); /* the snapshot verbatim */

	rk_smsg m;
	char msg[RK_MSG_MSG_MAX + 1] = "";
	rk_err err = rk_smsg_decode(e1, strlen(e1), true, &m, msg, sizeof(msg));
	if (err != RK_OK)
		fail_msg("decode: %s (%s)", rk_strerror(err), msg);
	assert_int_equal(m.t, RK_S_WELCOME);
	assert_non_null(m.state);
	char *got_state = state_json(m.state);
	assert_string_equal(got_state, want_state);
	assert_int_equal(rk_omap_count(&m.state->shapes), 2);
	assert_int_equal(rk_omap_count(&m.state->polls), 1);
	assert_int_equal(m.state->chat_len, 2);
	assert_int_equal(m.welcome.npeers, 2);
	assert_string_equal(m.welcome.peers[1].user, "bob");

	char *e2 = welcome_json(&m.welcome, m.state);
	assert_string_equal(e1, e2);

	rk_smsg_free(&m);
	rk_state_free(st);
	free(e1);
	free(e2);
	free(want_state);
	free(got_state);
}

/* want_state false: the snapshot is checked to be an object but not decoded. */
static void test_welcome_skip_state(void **state)
{
	rk_state *st = sample_state();
	char *e = welcome_json(&sample_welcome, st);
	rk_smsg m;
	assert_int_equal(rk_smsg_decode(e, strlen(e), false, &m, NULL, 0), RK_OK);
	assert_null(m.state);
	assert_int_equal(m.welcome.seq, 10);
	assert_string_equal(m.welcome.room, "room-1");
	rk_smsg_free(&m);
	rk_state_free(st);
	free(e);
}

/* Without a state the encoder writes the empty snapshot, exactly as state.c
 * would encode a new state, and it decodes to an empty state. */
static void test_welcome_empty_state(void **state)
{
	rk_state *empty = rk_state_new();
	assert_non_null(empty);
	char *with = welcome_json(&sample_welcome, empty);
	char *without = welcome_json(&sample_welcome, NULL);
	assert_string_equal(with, without);

	rk_smsg m;
	assert_int_equal(rk_smsg_decode(without, strlen(without), true, &m, NULL, 0),
			 RK_OK);
	assert_non_null(m.state);
	assert_int_equal(rk_omap_count(&m.state->shapes), 0);
	assert_int_equal(m.state->chat_len, 0);
	rk_smsg_free(&m);
	rk_state_free(empty);
	free(with);
	free(without);
}

/* A resumed welcome has no state; one sent anyway is ignored. */
static void test_welcome_resumed(void **state)
{
	rk_state *st = sample_state();
	rk_welcome w = sample_welcome;
	w.resumed = true;
	char *e = welcome_json(&w, st);
	assert_null(strstr(e, "\"state\""));
	rk_smsg m;
	assert_int_equal(rk_smsg_decode(e, strlen(e), true, &m, NULL, 0), RK_OK);
	assert_true(m.welcome.resumed);
	assert_null(m.state);
	rk_smsg_free(&m);
	free(e);

	const char *extra = "{\"t\":\"welcome\",\"v\":1,\"room\":\"r\",\"session\":\"s\","
			    "\"user\":\"u\",\"role\":\"owner\",\"seq\":1,\"epoch\":\"e\","
			    "\"resumed\":true,\"state\":{\"shapes\":7},\"peers\":[],"
			    "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}}";
	assert_int_equal(rk_smsg_decode(extra, strlen(extra), true, &m, NULL, 0), RK_OK);
	assert_null(m.state);
	rk_smsg_free(&m);
	rk_state_free(st);
}

/* A snapshot that does not follow section 5 is RK_ECORRUPT, with nothing
 * left to free. */
static void test_welcome_corrupt_state(void **state)
{
	static const char *const states[] = {
	    "{\"shapes\":[],\"polls\":{},\"chat\":[]}",
	    "{\"shapes\":{\"a\":{\"id\":\"a\",\"type\":\"blob\",\"color\":1,"
	    "\"points\":[[0,0]],\"by\":\"x\"}},\"polls\":{},\"chat\":[]}",
	    "{\"shapes\":{},\"polls\":{},\"chat\":[{\"seq\":\"one\"}]}",
	    "{}",
	};
	for (size_t i = 0; i < RK_ARRAY_LEN(states); i++) {
		rk_buf b;
		rk_buf_init(&b, 0);
		rk_buf_puts(&b,
			    "{\"t\":\"welcome\",\"v\":1,\"room\":\"r\",\"session\":\"s\","
			    "\"user\":\"u\",\"role\":\"owner\",\"seq\":1,\"epoch\":\"e\","
			    "\"resumed\":false,\"state\":");
		rk_buf_puts(&b, states[i]);
		rk_buf_puts(&b, ",\"peers\":[],\"limits\":{\"max_frame\":1,"
				"\"ops_per_sec\":1}}");
		char *e = steal(&b);
		rk_smsg m;
		char msg[RK_MSG_MSG_MAX + 1] = "";
		rk_err err = rk_smsg_decode(e, strlen(e), true, &m, msg, sizeof(msg));
		if (err != RK_ECORRUPT)
			fail_msg("state %s: %s (%s)", states[i], rk_strerror(err), msg);
		assert_true(msg[0] != '\0');
		assert_null(m.state);
		assert_null(m.welcome.peers);
		/* skipping the state, the same frame is fine */
		assert_int_equal(rk_smsg_decode(e, strlen(e), false, &m, NULL, 0), RK_OK);
		rk_smsg_free(&m);
		free(e);
	}
}

/* Every proper prefix of a welcome with state is refused as bad JSON. */
static void test_welcome_prefixes(void **state)
{
	rk_state *st = sample_state();
	char *e = welcome_json(&sample_welcome, st);
	size_t n = strlen(e);
	for (size_t i = 0; i < n; i++) {
		char *p = malloc(i ? i : 1);
		assert_non_null(p);
		memcpy(p, e, i);
		rk_smsg m;
		rk_err err = rk_smsg_decode(p, i, true, &m, NULL, 0);
		free(p);
		if (err != RK_EBADJSON)
			fail_msg("prefix %zu: %s", i, rk_strerror(err));
	}
	rk_state_free(st);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_welcome_state_roundtrip),
	    cmocka_unit_test(test_welcome_skip_state),
	    cmocka_unit_test(test_welcome_empty_state),
	    cmocka_unit_test(test_welcome_resumed),
	    cmocka_unit_test(test_welcome_corrupt_state),
	    cmocka_unit_test(test_welcome_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
