/* test_tui_model.c - roomtui's client model: a local op shows at once in the
 * view and settles on its ack; a reject rolls it back; others' events land
 * under our pending ops; a resumed replay settles our committed ops by op id
 * (never applying them twice) and holds resends until it has caught up; a
 * full-state welcome settles what it shows committed (shape ids, our chat
 * posts after our last seq), quietly drops sent ops made moot, reports
 * unsent ones that conflict or chat it cannot tell, and resends the rest;
 * a viewer's ops are refused locally. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "model.h" /* compiled in: RK_UNIT_SRC_ in tests/CMakeLists.txt */

static rk_op op_of(const char *json)
{
	rk_op op;
	char msg[160];
	assert_int_equal(rk_op_decode_text(json, strlen(json), &op, msg, sizeof(msg)),
			 RK_REJ_NONE);
	return op;
}

static void welcome(tui_model *m, const char *user, rk_role role, int64_t seq,
		    const char *epoch, bool resumed, rk_state *st)
{
	rk_smsg w;
	memset(&w, 0, sizeof(w));
	w.t = RK_S_WELCOME;
	snprintf(w.welcome.user, sizeof(w.welcome.user), "%s", user);
	snprintf(w.welcome.epoch, sizeof(w.welcome.epoch), "%s", epoch);
	w.welcome.role = role;
	w.welcome.seq = seq;
	w.welcome.resumed = resumed;
	w.state = resumed ? NULL : (st ? st : rk_state_new());
	assert_int_equal(tm_welcome(m, &w, NULL), RK_OK);
	rk_state_free(w.state);
}

static void event(tui_model *m, int64_t seq, const char *user, const char *id,
		  const char *op_json)
{
	rk_smsg e;
	memset(&e, 0, sizeof(e));
	e.t = RK_S_EVENT;
	e.seq = seq;
	e.ts = 1700000000000 + seq;
	snprintf(e.user, sizeof(e.user), "%s", user);
	snprintf(e.id, sizeof(e.id), "%s", id);
	e.op = op_of(op_json);
	tm_event(m, &e);
	rk_op_free(&e.op);
}

static const char *local(tui_model *m, const char *op_json, char *id)
{
	rk_op op = op_of(op_json);
	char msg[160];
	assert_int_equal(tm_local_op(m, &op, id, msg, sizeof(msg)), RK_REJ_NONE);
	return id;
}

static bool has_shape(const rk_state *st, const char *id)
{
	return rk_omap_get(&st->shapes, id, strlen(id)) != NULL;
}

static const rk_poll *poll_of(const rk_state *st, const char *id)
{
	return rk_omap_get(&st->polls, id, strlen(id));
}

static void test_pending_then_ack(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	welcome(&m, "alice", RK_ROLE_EDITOR, 0, "e1", false, NULL);
	char id[RK_ID_MAX + 1];
	local(&m,
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s1\",\"type\":\"line\","
	      "\"color\":2,\"points\":[[0,0],[4,0]]}}",
	      id);
	assert_int_equal(m.npend, 1);
	assert_true(has_shape(tm_view(&m), "s1"));
	assert_false(has_shape(m.confirmed, "s1"));
	assert_true(tm_shape_pending(&m, "s1"));
	assert_true(tm_ack(&m, id, 1, 1700000000000));
	assert_int_equal(m.npend, 0);
	assert_int_equal(m.seq, 1);
	assert_true(has_shape(m.confirmed, "s1"));
	assert_true(has_shape(tm_view(&m), "s1"));
	assert_false(tm_shape_pending(&m, "s1"));
	/* A stale ack settles nothing. */
	assert_false(tm_ack(&m, id, 2, 0));
	assert_int_equal(m.seq, 1);
	tm_free(&m);
}

static void test_reject_rolls_back(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	welcome(&m, "alice", RK_ROLE_EDITOR, 0, "e1", false, NULL);
	char id1[RK_ID_MAX + 1], id2[RK_ID_MAX + 1];
	local(&m, "{\"k\":\"chat.post\",\"text\":\"first\"}", id1);
	local(&m, "{\"k\":\"chat.post\",\"text\":\"second\"}", id2);
	assert_int_equal(tm_view(&m)->chat_len, 2);
	rk_op_kind k = RK_OP_NONE;
	assert_true(tm_reject(&m, id1, &k));
	assert_int_equal(k, RK_OP_CHAT_POST);
	const rk_state *v = tm_view(&m);
	assert_int_equal(v->chat_len, 1);
	assert_string_equal(rk_state_chat_at(v, 0)->text, "second");
	assert_false(tm_reject(&m, id1, &k));
	tm_free(&m);
}

static void test_others_events_under_pending(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	welcome(&m, "alice", RK_ROLE_EDITOR, 0, "e1", false, NULL);
	event(&m, 1, "bob", "b1",
	      "{\"k\":\"poll.create\",\"poll\":{\"id\":\"p\",\"question\":\"q?\","
	      "\"options\":[\"a\",\"b\"]}}");
	char id[RK_ID_MAX + 1];
	local(&m, "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1}", id);
	event(&m, 2, "bob", "b2", "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1}");
	const rk_poll *p = poll_of(tm_view(&m), "p");
	assert_non_null(p);
	assert_int_equal(p->tally[1], 2); /* bob's committed + ours pending */
	assert_int_equal(poll_of(m.confirmed, "p")->tally[1], 1);
	/* An event at or below our seq is a duplicate. */
	event(&m, 2, "bob", "b2", "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":0}");
	assert_int_equal(poll_of(m.confirmed, "p")->tally[0], 0);
	assert_true(tm_ack(&m, id, 3, 0));
	assert_int_equal(poll_of(m.confirmed, "p")->tally[1], 2);
	tm_free(&m);
}

static void test_resume_dedup(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	welcome(&m, "alice", RK_ROLE_EDITOR, 3, "e1", false, NULL);
	char a[RK_ID_MAX + 1], b[RK_ID_MAX + 1];
	local(&m, "{\"k\":\"chat.post\",\"text\":\"committed before the drop\"}", a);
	local(&m,
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s9\",\"type\":\"rect\","
	      "\"color\":1,\"points\":[[0,0],[3,3]]}}",
	      b);
	m.pend[0].sent = m.pend[1].sent = true;
	tm_disconnected(&m);
	assert_false(tm_resend_ready(&m));
	assert_false(m.pend[0].sent);
	/* Resumed at seq 5: events 4 (ours, its ack was lost) and 5 follow. */
	welcome(&m, "alice", RK_ROLE_EDITOR, 5, "e1", true, NULL);
	assert_int_equal(m.seq, 3);
	assert_false(tm_resend_ready(&m));
	event(&m, 4, "alice", a,
	      "{\"k\":\"chat.post\",\"text\":\"committed before the drop\"}");
	assert_int_equal(m.npend, 1);
	assert_string_equal(m.pend[0].id, b);
	assert_false(tm_resend_ready(&m));
	event(&m, 5, "bob", "x", "{\"k\":\"chat.post\",\"text\":\"hi\"}");
	assert_true(tm_resend_ready(&m));
	/* The chat line appears once, not twice. */
	const rk_state *v = tm_view(&m);
	assert_int_equal(v->chat_len, 2);
	assert_true(has_shape(v, "s9"));
	assert_false(has_shape(m.confirmed, "s9"));
	/* Someone else's op with our op id does not settle ours. */
	event(&m, 6, "mallory", b, "{\"k\":\"chat.post\",\"text\":\"same id\"}");
	assert_int_equal(m.npend, 1);
	tm_free(&m);
}

static void test_resume_wrong_epoch(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	welcome(&m, "alice", RK_ROLE_EDITOR, 3, "e1", false, NULL);
	rk_smsg w;
	memset(&w, 0, sizeof(w));
	w.t = RK_S_WELCOME;
	snprintf(w.welcome.epoch, sizeof(w.welcome.epoch), "e2");
	w.welcome.seq = 9;
	w.welcome.resumed = true;
	assert_int_equal(tm_welcome(&m, &w, NULL), RK_ECORRUPT);
	tm_free(&m);
}

/* A full-state welcome (no resume) named as in a join after a drop. */
static size_t full_welcome(tui_model *m, const char *epoch, int64_t seq, const char *snap)
{
	rk_state *st;
	char err[160];
	assert_int_equal(rk_state_decode_text(snap, strlen(snap), &st, err, sizeof(err)),
			 RK_OK);
	rk_smsg w;
	memset(&w, 0, sizeof(w));
	w.t = RK_S_WELCOME;
	snprintf(w.welcome.user, sizeof(w.welcome.user), "alice");
	snprintf(w.welcome.epoch, sizeof(w.welcome.epoch), "%s", epoch);
	w.welcome.role = RK_ROLE_EDITOR;
	w.welcome.seq = seq;
	w.state = st;
	size_t dropped = 99;
	assert_int_equal(tm_welcome(m, &w, &dropped), RK_OK);
	assert_null(w.state);
	return dropped;
}

/* Mark every pending op as written on the current connection. */
static void all_sent(tui_model *m)
{
	for (size_t i = 0; i < m->npend; i++)
		m->pend[i].sent = true;
}

static size_t chat_count(const rk_state *st, const char *user, const char *text)
{
	size_t n = 0;
	for (size_t i = 0; i < st->chat_len; i++) {
		const rk_chat *c = rk_state_chat_at(st, i);
		n += strcmp(c->user, user) == 0 && strcmp(c->text, text) == 0;
	}
	return n;
}

static void test_full_welcome_settles_committed_shapes(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	welcome(&m, "alice", RK_ROLE_EDITOR, 0, "e1", false, NULL);
	char a[RK_ID_MAX + 1], b[RK_ID_MAX + 1], c[RK_ID_MAX + 1];
	local(&m,
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s1\",\"type\":\"line\","
	      "\"color\":1,\"points\":[[0,0],[1,1]]}}",
	      a);
	local(&m,
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s2\",\"type\":\"line\","
	      "\"color\":1,\"points\":[[0,0],[1,1]]}}",
	      b);
	local(&m,
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s3\",\"type\":\"rect\","
	      "\"color\":1,\"points\":[[0,0],[1,1]]}}",
	      c);
	char d[RK_ID_MAX + 1];
	local(&m, "{\"k\":\"shape.delete\",\"id\":\"s3\"}", d);
	all_sent(&m);
	tm_disconnected(&m);
	/* The new state holds s1 (committed: the id is ours, so it is settled,
	 * not resent and not reported) but neither s2 nor s3; s3's add and
	 * delete both still apply and are resent. */
	size_t dropped = full_welcome(
	    &m, "e1", 1,
	    "{\"shapes\":{\"s1\":{\"id\":\"s1\",\"type\":\"line\",\"color\":1,"
	    "\"points\":[[0,0],[1,1]],\"by\":\"alice\"}},\"polls\":{},\"chat\":[]}");
	assert_int_equal(dropped, 0);
	assert_int_equal(m.npend, 3);
	assert_string_equal(m.pend[0].id, b);
	assert_string_equal(m.pend[1].id, c);
	assert_string_equal(m.pend[2].id, d);
	assert_true(tm_resend_ready(&m));
	/* One s1 on the board, not two. */
	assert_int_equal(rk_omap_count(&tm_view(&m)->shapes), 2);
	tm_free(&m);
}

static void test_full_welcome_drops_moot_and_conflicting(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	const char *with_s7 =
	    "{\"shapes\":{\"s7\":{\"id\":\"s7\",\"type\":\"line\",\"color\":1,"
	    "\"points\":[[0,0],[1,1]],\"by\":\"bob\"},"
	    "\"s8\":{\"id\":\"s8\",\"type\":\"line\",\"color\":1,"
	    "\"points\":[[0,0],[1,1]],\"by\":\"bob\"}},\"polls\":{},\"chat\":[]}";
	full_welcome(&m, "e1", 1, with_s7);
	char a[RK_ID_MAX + 1], b[RK_ID_MAX + 1];
	/* a was sent before the drop: s7 gone afterwards means our delete (or
	 * someone's) was committed, the wanted outcome: settled quietly. */
	local(&m, "{\"k\":\"shape.delete\",\"id\":\"s7\"}", a);
	all_sent(&m);
	tm_disconnected(&m);
	/* b was never sent: it conflicts with the new state, a real loss. */
	local(&m, "{\"k\":\"shape.update\",\"id\":\"s8\",\"set\":{\"color\":3}}", b);
	size_t dropped =
	    full_welcome(&m, "e1", 4, "{\"shapes\":{},\"polls\":{},\"chat\":[]}");
	assert_int_equal(dropped, 1);
	assert_int_equal(m.npend, 0);
	tm_free(&m);
}

static void test_full_welcome_settles_committed_chat(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	welcome(&m, "alice", RK_ROLE_EDITOR, 3, "e1", false, NULL);
	char a[RK_ID_MAX + 1], b[RK_ID_MAX + 1], c[RK_ID_MAX + 1], d[RK_ID_MAX + 1];
	local(&m, "{\"k\":\"chat.post\",\"text\":\"hello\"}", a);
	local(&m, "{\"k\":\"chat.post\",\"text\":\"again\"}", b);
	local(&m, "{\"k\":\"chat.post\",\"text\":\"hello\"}", c);
	all_sent(&m);
	tm_disconnected(&m);
	local(&m, "{\"k\":\"chat.post\",\"text\":\"offline\"}", d);
	/* The gap was too big to replay: a full state at seq 7. Its chat has
	 * our "hello" at seq 6 with a's op id (a was committed), an older
	 * "hello" of ours (seq 2, another id), bob's "hello" and a post by bob
	 * that carries c's id (another user's id is another op). */
	char snap[1024];
	snprintf(snap, sizeof(snap),
		 "{\"shapes\":{},\"polls\":{},\"chat\":["
		 "{\"seq\":2,\"ts\":1700000000002,\"user\":\"alice\",\"id\":\"old:1\","
		 "\"text\":\"hello\"},"
		 "{\"seq\":4,\"ts\":1700000000004,\"user\":\"bob\",\"id\":\"%s\","
		 "\"text\":\"hello\"},"
		 "{\"seq\":5,\"ts\":1700000000005,\"user\":\"bob\",\"text\":\"hello\"},"
		 "{\"seq\":6,\"ts\":1700000000006,\"user\":\"alice\",\"id\":\"%s\","
		 "\"text\":\"hello\"}]}",
		 c, a);
	size_t dropped = full_welcome(&m, "e1", 7, snap);
	assert_int_equal(dropped, 0);
	/* a settled; b (not in the state) and c (same text as a, but its id
	 * is only bob's) resent; d was never sent. */
	assert_int_equal(m.npend, 3);
	assert_string_equal(m.pend[0].id, b);
	assert_string_equal(m.pend[1].id, c);
	assert_string_equal(m.pend[2].id, d);
	const rk_state *v = tm_view(&m);
	assert_int_equal(chat_count(v, "alice", "hello"), 3); /* seq 2, 6, and c */
	assert_int_equal(chat_count(v, "bob", "hello"), 2);
	assert_int_equal(chat_count(v, "alice", "again"), 1);
	assert_int_equal(chat_count(v, "alice", "offline"), 1);
	tm_free(&m);
}

static void test_full_welcome_chat_pushed_out_or_new_epoch(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	welcome(&m, "alice", RK_ROLE_EDITOR, 3, "e1", false, NULL);
	char a[RK_ID_MAX + 1], b[RK_ID_MAX + 1];
	local(&m, "{\"k\":\"chat.post\",\"text\":\"lost in the crowd\"}", a);
	all_sent(&m);
	tm_disconnected(&m);
	local(&m, "{\"k\":\"chat.post\",\"text\":\"typed offline\"}", b);
	/* RK_CHAT_KEEP newer posts by bob: seq 4 (right after ours) fell out of
	 * the kept chat, so whether a was committed cannot be told from the
	 * state. Nothing is dropped: a is resent with its id (the server acks a
	 * committed one as a duplicate) and b, never sent, is sent. */
	rk_buf s;
	rk_buf_init(&s, 0);
	rk_buf_puts(&s, "{\"shapes\":{},\"polls\":{},\"chat\":[");
	for (int i = 0; i < RK_CHAT_KEEP; i++)
		rk_buf_printf(&s,
			      "%s{\"seq\":%d,\"ts\":1700000000000,\"user\":\"bob\","
			      "\"text\":\"x\"}",
			      i ? "," : "", 10 + i);
	rk_buf_puts(&s, "]}");
	assert_int_equal(rk_buf_ok(&s), RK_OK);
	size_t dropped = full_welcome(&m, "e1", 10 + RK_CHAT_KEEP - 1, s.data);
	rk_buf_free(&s);
	assert_int_equal(dropped, 0);
	assert_int_equal(m.npend, 2);
	assert_string_equal(m.pend[0].id, a);
	assert_string_equal(m.pend[1].id, b);
	/* The resend of a comes back as a duplicate ack of an old seq: settled,
	 * and the confirmed state (which has it, or had it) is not touched. */
	assert_true(tm_ack(&m, a, 4, 1700000000004));
	assert_int_equal(m.npend, 1);
	assert_int_equal(chat_count(m.confirmed, "alice", "lost in the crowd"), 0);
	/* A new epoch (the room was reset): nothing sent to the old history
	 * is in the new one, even a post with the same text; all resent. */
	char c[RK_ID_MAX + 1];
	local(&m, "{\"k\":\"chat.post\",\"text\":\"same\"}", c);
	all_sent(&m);
	tm_disconnected(&m);
	dropped = full_welcome(
	    &m, "e2", 1,
	    "{\"shapes\":{},\"polls\":{},\"chat\":["
	    "{\"seq\":1,\"ts\":1700000000001,\"user\":\"alice\",\"text\":\"same\"}]}");
	assert_int_equal(dropped, 0);
	assert_int_equal(m.npend, 2);
	assert_string_equal(m.pend[0].id, b);
	assert_string_equal(m.pend[1].id, c);
	tm_free(&m);
}

static void test_viewer_refused_locally(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	welcome(&m, "vic", RK_ROLE_VIEWER, 0, "e1", false, NULL);
	rk_op op = op_of("{\"k\":\"chat.post\",\"text\":\"hi\"}");
	char id[RK_ID_MAX + 1], msg[160];
	assert_int_equal(tm_local_op(&m, &op, id, msg, sizeof(msg)), RK_REJ_FORBIDDEN);
	assert_non_null(strstr(msg, "read-only"));
	assert_int_equal(m.npend, 0);
	assert_int_equal(tm_view(&m)->chat_len, 0);
	tm_free(&m);
}

static void test_local_invalid_refused(void **state)
{
	tui_model m;
	assert_int_equal(tm_init(&m, "tX"), RK_OK);
	welcome(&m, "alice", RK_ROLE_EDITOR, 0, "e1", false, NULL);
	rk_op op = op_of("{\"k\":\"shape.delete\",\"id\":\"nope\"}");
	char id[RK_ID_MAX + 1], msg[160];
	assert_int_equal(tm_local_op(&m, &op, id, msg, sizeof(msg)), RK_REJ_NOT_FOUND);
	assert_int_equal(m.npend, 0);
	/* Ids are unique and carry the prefix. */
	char a[RK_ID_MAX + 1], b[RK_ID_MAX + 1];
	local(&m, "{\"k\":\"chat.post\",\"text\":\"1\"}", a);
	local(&m, "{\"k\":\"chat.post\",\"text\":\"2\"}", b);
	assert_string_not_equal(a, b);
	assert_memory_equal(a, "tX.", 3);
	tm_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pending_then_ack),
	    cmocka_unit_test(test_reject_rolls_back),
	    cmocka_unit_test(test_others_events_under_pending),
	    cmocka_unit_test(test_resume_dedup),
	    cmocka_unit_test(test_resume_wrong_epoch),
	    cmocka_unit_test(test_full_welcome_settles_committed_shapes),
	    cmocka_unit_test(test_full_welcome_drops_moot_and_conflicting),
	    cmocka_unit_test(test_full_welcome_settles_committed_chat),
	    cmocka_unit_test(test_full_welcome_chat_pushed_out_or_new_epoch),
	    cmocka_unit_test(test_viewer_refused_locally),
	    cmocka_unit_test(test_local_invalid_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
