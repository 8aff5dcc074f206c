/*
 * test_roomd_idempotent.c - idempotent ops (PROTOCOL.md section 3, revision
 * 2): an op whose id its user already committed is acked again with the
 * earlier seq and "dup":true, applied nowhere and sent to nobody; across a
 * reconnect, within one batch, across hibernation, and across a kill -9 of
 * roomd (also with --fsync), where a client resending every op it sent gets
 * each committed exactly once. Another user's identical id is another op;
 * roomctl verify and replay hold, and chat entries carry their op ids.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "clock.h"
#include "roomtest.h"

#define CHAT(text) "{\"k\":\"chat.post\",\"text\":\"" text "\"}"

/* Send op id as-is and return the ack (fails on anything else). */
static cJSON *op_ack(struct ws *w, const char *id, const char *op_json)
{
	rt_send_op(w, id, op_json);
	for (;;) {
		cJSON *m = rt_expect(w, "ack");
		if (strcmp(rt_str(m, "id"), id) == 0)
			return m;
		cJSON_Delete(m);
	}
}

static bool is_dup(const cJSON *ack)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(ack, "dup"));
}

/* The next event on w must have seq and id. */
static void expect_event(struct ws *w, int64_t seq, const char *id)
{
	cJSON *e = rt_expect(w, "event");
	if (rt_int(e, "seq") != seq || strcmp(rt_str(e, "id"), id) != 0)
		fail_msg("event seq %lld id %s, want seq %lld id %s",
			 (long long)rt_int(e, "seq"), rt_str(e, "id"), (long long)seq,
			 id);
	cJSON_Delete(e);
}

static void verify_room(rd_proc *rd, const char *room)
{
	char db[PATH_MAX + 64], out[4096];
	rd_room_db(rd, room, db, sizeof(db));
	const char *args[] = {"verify", db, NULL};
	int code = rt_roomctl(args, out, sizeof(out));
	if (code != 0)
		fail_msg("roomctl verify %s: exit %d: %s", room, code, out);
}

/* A resend after a reconnect is a dup (even with another body: the id is
 * what counts), sent to nobody; bob's "x1" is bob's own op. */
static void test_dup_after_reconnect_and_other_user(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	struct ws *a = rt_join(rd, "idem", "name=alice", NULL);
	struct ws *b = rt_join(rd, "idem", "name=bob", NULL);
	cJSON *k = op_ack(a, "x1", CHAT("one"));
	assert_int_equal(rt_int(k, "seq"), 1);
	assert_false(is_dup(k));
	assert_null(cJSON_GetObjectItem(k, "dup")); /* only duplicates say so */
	cJSON_Delete(k);
	expect_event(b, 1, "x1");
	rt_free(a);

	a = rt_join(rd, "idem", "name=alice", NULL);
	k = op_ack(a, "x1", CHAT("one"));
	assert_int_equal(rt_int(k, "seq"), 1);
	assert_true(is_dup(k));
	cJSON_Delete(k);
	k = op_ack(a, "x1", CHAT("another body, same id"));
	assert_int_equal(rt_int(k, "seq"), 1);
	assert_true(is_dup(k));
	cJSON_Delete(k);
	assert_int_equal(rt_op(a, "x2", CHAT("two"), NULL), 2);
	/* bob saw no event for either duplicate: the next one is seq 2. */
	expect_event(b, 2, "x2");

	k = op_ack(b, "x1", CHAT("bob's own"));
	assert_int_equal(rt_int(k, "seq"), 3);
	assert_false(is_dup(k));
	cJSON_Delete(k);
	expect_event(a, 3, "x1");

	char db[PATH_MAX + 64];
	rd_room_db(rd, "idem", db, sizeof(db));
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), 3);
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events WHERE op_id='x1'"),
			 2);
	char *body = NULL;
	assert_int_equal(rt_http(rd, "/metrics", NULL, &body), 200);
	assert_non_null(strstr(body, "roomd_ops_duplicate_total 2\n"));
	assert_non_null(strstr(body, "roomd_ops_committed_total 3\n"));
	free(body);

	/* A late joiner's state: every chat entry carries its op id. */
	cJSON *w = NULL;
	struct ws *c = rt_join(rd, "idem", "name=carol", &w);
	cJSON *chat = cJSON_GetObjectItem(cJSON_GetObjectItem(w, "state"), "chat");
	assert_int_equal(cJSON_GetArraySize(chat), 3);
	assert_string_equal(rt_str(cJSON_GetArrayItem(chat, 0), "id"), "x1");
	assert_string_equal(rt_str(cJSON_GetArrayItem(chat, 1), "id"), "x2");
	assert_string_equal(rt_str(cJSON_GetArrayItem(chat, 2), "id"), "x1");
	assert_string_equal(rt_str(cJSON_GetArrayItem(chat, 2), "user"), "bob");
	cJSON_Delete(w);
	rt_free(c);
	rt_free(a);
	rt_free(b);

	verify_room(rd, "idem");
	char out[8192];
	const char *args[] = {"replay", db, NULL};
	assert_int_equal(rt_roomctl(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"user\":\"alice\",\"id\":\"x2\",\"text\":\"two\""));
	rd_cleanup(rd);
}

/* The same id twice in one write: both land in one batch; the second is
 * acked as a dup of the first only once that batch is committed, and the
 * observer gets one event. */
static void test_dup_in_same_batch(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	struct ws *a = rt_join(rd, "batch", "name=alice", NULL);
	struct ws *b = rt_join(rd, "batch", "name=bob", NULL);
	const char *two = "{\"t\":\"op\",\"id\":\"same\",\"op\":" CHAT("hi") "}";
	char frames[256];
	snprintf(frames, sizeof(frames), "%s", two);
	assert_int_equal(RT_SEND(a, frames), 0);
	assert_int_equal(RT_SEND(a, frames), 0);
	assert_int_equal(RT_SEND(a, "{\"t\":\"ping\",\"id\":1}"), 0);
	cJSON *k1 = rt_expect(a, "ack"), *k2 = rt_expect(a, "ack");
	assert_int_equal(rt_int(k1, "seq"), 1);
	assert_false(is_dup(k1));
	assert_int_equal(rt_int(k2, "seq"), 1);
	assert_true(is_dup(k2));
	cJSON_Delete(k1);
	cJSON_Delete(k2);
	cJSON_Delete(rt_expect(a, "pong")); /* nothing else came before it */
	expect_event(b, 1, "same");
	assert_int_equal(rt_op(b, "b1", CHAT("next"), NULL), 2);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "batch", db, sizeof(db));
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), 2);
	rt_free(a);
	rt_free(b);
	rd_cleanup(rd);
}

/* The memory of ids survives hibernation: it is rebuilt from the log. */
static void test_dup_after_hibernation(void **state)
{
	(void)state;
	const char *args[] = {"--hibernate-after", "300", NULL};
	rd_proc *rd = rt_start(args);
	struct ws *a = rt_join(rd, "hib", "name=alice", NULL);
	assert_int_equal(rt_op(a, "h1", CHAT("before"), NULL), 1);
	assert_int_equal(rt_op(a, "h2", CHAT("before"), NULL), 2);
	assert_true(rd_log_wait(rd, "room hib hibernated", 5000));
	cJSON *k = op_ack(a, "h1", CHAT("before"));
	assert_int_equal(rt_int(k, "seq"), 1);
	assert_true(is_dup(k));
	cJSON_Delete(k);
	assert_int_equal(rt_op(a, "h3", CHAT("after"), NULL), 3);
	rt_free(a);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "hib", db, sizeof(db));
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), 3);
	verify_room(rd, "hib");
	rd_cleanup(rd);
}

/* kill -9 mid-stream, then the client does what a client SDK does: resend
 * every op it has no ack for, and (to be sure) every one it has. Each op is
 * committed exactly once, and the ones acked before the crash keep their
 * seq. */
static void kill9_resend(bool fsync)
{
	const char *args[] = {"--ops-per-sec",		"100000", "--ops-burst", "100000",
			      fsync ? "--fsync" : NULL, NULL};
	rd_proc *rd = rt_start(args);
	enum { OPS = 600 };
	static int64_t acked[OPS];
	memset(acked, 0, sizeof(acked));
	struct ws *a = rt_join(rd, "k9", "name=alice&client=cA", NULL);
	int nacked = 0, sent = 0;
	bool killed = false;
	while (!killed) {
		for (int j = 0; j < 20 && sent < OPS; j++, sent++)
			ws_send_textf(a,
				      "{\"t\":\"op\",\"id\":\"cA:%d\",\"op\":{\"k\":"
				      "\"chat.post\",\"text\":\"m%d\"}}",
				      sent, sent);
		cJSON *m = ws_recv_json(a, sent == OPS ? RT_TIMEOUT_MS : 0);
		if (!m && sent == OPS)
			fail_msg("no ack in %d ms after %d of %d", RT_TIMEOUT_MS, nacked,
				 OPS);
		while (m) {
			const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(m, "t"));
			int i;
			if (t && strcmp(t, "ack") == 0 &&
			    sscanf(rt_str(m, "id"), "cA:%d", &i) == 1) {
				acked[i] = rt_int(m, "seq");
				if (++nacked >= 150 && !killed) {
					assert_int_equal(rd_stop(rd, SIGKILL), 137);
					killed = true;
				}
			}
			cJSON_Delete(m);
			m = ws_recv_json(a, 0); /* acks already in the socket count too */
		}
	}
	assert_true(killed);
	rt_free(a);
	assert_int_equal(rd_restart(rd, NULL), 0);

	a = rt_join(rd, "k9", "name=alice&client=cA", NULL);
	for (int i = 0; i < sent; i++)
		ws_send_textf(a,
			      "{\"t\":\"op\",\"id\":\"cA:%d\",\"op\":{\"k\":"
			      "\"chat.post\",\"text\":\"m%d\"}}",
			      i, i);
	int dups = 0, fresh = 0;
	for (int got = 0; got < sent;) {
		cJSON *m = rt_expect(a, "ack");
		int i;
		assert_int_equal(sscanf(rt_str(m, "id"), "cA:%d", &i), 1);
		int64_t seq = rt_int(m, "seq");
		if (acked[i]) {
			/* Acked before the crash: the same seq, as a duplicate. */
			assert_int_equal(seq, acked[i]);
			assert_true(is_dup(m));
		}
		dups += is_dup(m);
		fresh += !is_dup(m);
		cJSON_Delete(m);
		got++;
	}
	rt_free(a);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "k9", db, sizeof(db));
	/* Exactly once: one event per op id, no gap. */
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), sent);
	assert_int_equal(rt_sql_int(db, "SELECT count(DISTINCT op_id) FROM events"),
			 sent);
	assert_int_equal(rt_sql_int(db, "SELECT max(seq) FROM events"), sent);
	assert_true(dups >= nacked);
	print_message(
	    "kill -9%s: %d ops sent, %d acked before the crash; after it %d acked "
	    "as duplicates, %d committed fresh; %d events in the log\n",
	    fsync ? " (--fsync)" : "", sent, nacked, dups, fresh, sent);
	verify_room(rd, "k9");
	rd_cleanup(rd);
}

static void test_dup_after_kill9(void **state)
{
	(void)state;
	kill9_resend(false);
}

static void test_dup_after_kill9_fsync(void **state)
{
	(void)state;
	kill9_resend(true);
}

/* A deleted room's op ids go with it: in the room created again under the
 * same name (a new epoch) the same id is a new op. */
static void test_delete_forgets_ids(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	struct ws *a = rt_join(rd, "gone", "name=alice", NULL);
	assert_int_equal(rt_op(a, "d1", CHAT("first life"), NULL), 1);
	assert_int_equal(rt_http_method(rd, "DELETE", "/v1/rooms/gone", NULL, NULL), 202);
	rt_expect_close(a, 4404, NULL);
	rt_free(a);
	a = rt_join(rd, "gone", "name=alice", NULL);
	cJSON *k = op_ack(a, "d1", CHAT("second life"));
	assert_int_equal(rt_int(k, "seq"), 1);
	assert_false(is_dup(k));
	cJSON_Delete(k);
	rt_free(a);
	rd_cleanup(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dup_after_reconnect_and_other_user),
	    cmocka_unit_test(test_dup_in_same_batch),
	    cmocka_unit_test(test_dup_after_hibernation),
	    cmocka_unit_test(test_dup_after_kill9),
	    cmocka_unit_test(test_dup_after_kill9_fsync),
	    cmocka_unit_test(test_delete_forgets_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
