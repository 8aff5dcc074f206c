/*
 * test_http_ops.c - POST /v1/rooms/<room>/ops (PROTOCOL.md section 8,
 * revision 2) proves that an app backend's op over HTTP is applied exactly
 * like a client's: WebSocket members see a normal event, the answer comes
 * once it is committed (200 ack, 409/422 reject, 429 with Retry-After, 400
 * for a bad body, 413 over --max-frame), a resent POST with the same id
 * commits once (dup), a never-created and a hibernated room work, and with
 * a secret only an owner token may post, as its `sub`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "buf.h"
#include "roomtest.h"
#include "token.h"

#define CHAT(text) "{\"k\":\"chat.post\",\"text\":\"" text "\"}"
#define BODY(id, op) "{\"id\":\"" id "\",\"op\":" op "}"

/* POST body to room's ops; the answer as JSON in *json (may be NULL). */
static int post(rd_proc *rd, const char *room, const char *headers, const char *body,
		cJSON **json, char *retry_after)
{
	char path[160];
	snprintf(path, sizeof(path), "/v1/rooms/%s/ops", room);
	http_reply r;
	int st = rt_post(rd, path, headers, body, RT_TIMEOUT_MS, &r);
	if (retry_after && !http_reply_header(&r, "Retry-After", retry_after, 16))
		retry_after[0] = '\0';
	if (json) {
		*json = cJSON_Parse(r.body);
		if (!*json)
			fail_msg("POST %s: answer %d is not JSON: %s", path, st, r.body);
	}
	http_reply_free(&r);
	return st;
}

static void test_post_while_members_watch(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	struct ws *a = rt_join(rd, "watch", "name=alice", NULL);
	struct ws *b = rt_join(rd, "watch", "name=bob", NULL);
	assert_int_equal(rt_op(a, "c1", CHAT("from a socket"), NULL), 1);
	cJSON *e = rt_expect(b, "event");
	cJSON_Delete(e);

	cJSON *ack = NULL;
	assert_int_equal(
	    post(rd, "watch", NULL, BODY("srv-1", CHAT("system message")), &ack, NULL),
	    200);
	assert_string_equal(rt_str(ack, "t"), "ack");
	assert_string_equal(rt_str(ack, "id"), "srv-1");
	assert_int_equal(rt_int(ack, "seq"), 2);
	assert_null(cJSON_GetObjectItem(ack, "dup"));
	cJSON_Delete(ack);
	/* Both members get a normal event, from user "http", session "http". */
	struct ws *ws[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		e = rt_expect(ws[i], "event");
		assert_int_equal(rt_int(e, "seq"), 2);
		assert_string_equal(rt_str(e, "user"), "http");
		assert_string_equal(rt_str(e, "session"), "http");
		assert_string_equal(rt_str(e, "id"), "srv-1");
		cJSON_Delete(e);
	}

	/* The same id again (another body even): committed once, acked dup. */
	assert_int_equal(
	    post(rd, "watch", NULL, BODY("srv-1", CHAT("again")), &ack, NULL), 200);
	assert_int_equal(rt_int(ack, "seq"), 2);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ack, "dup")));
	cJSON_Delete(ack);
	assert_int_equal(rt_op(a, "c2", CHAT("next"), NULL), 3);
	e = rt_expect(b, "event"); /* the dup sent nothing: the next event is 3 */
	assert_int_equal(rt_int(e, "seq"), 3);
	cJSON_Delete(e);

	/* Without a secret, X-Roomkit-User names the user. */
	assert_int_equal(post(rd, "watch", "X-Roomkit-User: billing-bot",
			      BODY("srv-2", CHAT("invoice sent")), &ack, NULL),
			 200);
	cJSON_Delete(ack);
	e = rt_expect(b, "event");
	assert_string_equal(rt_str(e, "user"), "billing-bot");
	cJSON_Delete(e);
	assert_int_equal(
	    post(rd, "watch", "X-Roomkit-User: ", BODY("srv-3", CHAT("x")), NULL, NULL),
	    400);

	rt_free(a);
	rt_free(b);
	rd_cleanup(rd);
}

static void test_rejects_and_refusals(void **state)
{
	(void)state;
	rd_proc *rd = rt_start((const char *const[]){"--max-frame", "1024", NULL});
	cJSON *j = NULL;
	assert_int_equal(
	    post(rd, "rej", NULL,
		 BODY("p1", "{\"k\":\"poll.create\",\"poll\":{\"id\":\"q\","
			    "\"question\":\"?\",\"options\":[\"a\",\"b\"]}}"),
		 NULL, NULL),
	    200);
	assert_int_equal(
	    post(rd, "rej", NULL,
		 BODY("p1b", "{\"k\":\"poll.create\",\"poll\":{\"id\":\"q\","
			     "\"question\":\"?\",\"options\":[\"a\",\"b\"]}}"),
		 &j, NULL),
	    409);
	assert_string_equal(rt_str(j, "t"), "reject");
	assert_string_equal(rt_str(j, "code"), "conflict");
	cJSON_Delete(j);
	assert_int_equal(post(rd, "rej", NULL,
			      BODY("p2", "{\"k\":\"poll.close\",\"poll\":\"zz\"}"), &j,
			      NULL),
			 409);
	assert_string_equal(rt_str(j, "code"), "not_found");
	cJSON_Delete(j);
	assert_int_equal(post(rd, "rej", NULL, BODY("p3", "{\"k\":\"nope\"}"), &j, NULL),
			 422);
	assert_string_equal(rt_str(j, "code"), "invalid");
	assert_string_equal(rt_str(j, "id"), "p3");
	cJSON_Delete(j);
	assert_int_equal(post(rd, "rej", NULL, "{\"id\":", &j, NULL), 400);
	assert_string_equal(rt_str(j, "error"), "bad_json");
	cJSON_Delete(j);
	assert_int_equal(
	    post(rd, "rej", NULL, "{\"op\":{\"k\":\"board.clear\"}}", &j, NULL), 400);
	assert_string_equal(rt_str(j, "error"), "bad_message");
	cJSON_Delete(j);
	/* Over --max-frame: 413 before the body is read. */
	char big[2048];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(post(rd, "rej", NULL, big, NULL, NULL), 413);
	assert_int_equal(post(rd, "bad!id", NULL, BODY("x", CHAT("x")), NULL, NULL), 400);
	assert_int_equal(post(rd, "rej/extra", NULL, BODY("x", CHAT("x")), NULL, NULL),
			 400);
	http_reply r;
	assert_int_equal(rt_post(rd, "/v1/rooms", NULL, "{}", RT_TIMEOUT_MS, &r), 405);
	http_reply_free(&r);
	assert_int_equal(rt_post(rd, "/nothing", NULL, "{}", RT_TIMEOUT_MS, &r), 405);
	http_reply_free(&r);
	assert_int_equal(rt_http(rd, "/v1/rooms/rej/ops", NULL, NULL), 405);
	/* Nothing refused was committed: seq 1 only. */
	char db[PATH_MAX + 64];
	rd_room_db(rd, "rej", db, sizeof(db));
	assert_int_equal(rt_sql_int(db, "SELECT max(seq) FROM events"), 1);
	rd_cleanup(rd);
}

static void test_rate_limit(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(
	    (const char *const[]){"--ops-per-sec", "1", "--ops-burst", "2", NULL});
	char ra[16];
	cJSON *j = NULL;
	assert_int_equal(post(rd, "rl", NULL, BODY("r1", CHAT("1")), NULL, NULL), 200);
	assert_int_equal(post(rd, "rl", NULL, BODY("r2", CHAT("2")), NULL, NULL), 200);
	assert_int_equal(post(rd, "rl", NULL, BODY("r3", CHAT("3")), &j, ra), 429);
	assert_string_equal(rt_str(j, "code"), "rate_limited");
	assert_string_equal(ra, "1");
	cJSON_Delete(j);
	/* The bucket is per user: another user still passes. */
	assert_int_equal(
	    post(rd, "rl", "X-Roomkit-User: other", BODY("r3", CHAT("3")), NULL, NULL),
	    200);
	rd_cleanup(rd);
}

/* A room that never existed is created; a hibernated one is loaded. */
static void test_new_and_hibernated_rooms(void **state)
{
	(void)state;
	rd_proc *rd = rt_start((const char *const[]){"--hibernate-after", "200", NULL});
	cJSON *ack = NULL;
	assert_int_equal(post(rd, "fresh", NULL, BODY("f1", CHAT("first")), &ack, NULL),
			 200);
	assert_int_equal(rt_int(ack, "seq"), 1);
	cJSON_Delete(ack);
	assert_true(rd_log_wait(rd, "room fresh hibernated", 10000));
	assert_int_equal(post(rd, "fresh", NULL, BODY("f2", CHAT("second")), &ack, NULL),
			 200);
	assert_int_equal(rt_int(ack, "seq"), 2);
	cJSON_Delete(ack);
	/* The id memory survived the hibernation. */
	assert_int_equal(post(rd, "fresh", NULL, BODY("f1", CHAT("first")), &ack, NULL),
			 200);
	assert_int_equal(rt_int(ack, "seq"), 1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ack, "dup")));
	cJSON_Delete(ack);
	char *m = NULL;
	assert_int_equal(rt_http(rd, "/metrics", NULL, &m), 200);
	assert_non_null(strstr(m, "roomd_http_ops_total 3\n"));
	free(m);
	rd_cleanup(rd);
}

/* A browser app on an allowed origin may post (CORS on the answer, after
 * the commit); another origin is refused before anything is applied. */
static void test_cors(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(
	    (const char *const[]){"--allow-origin", "https://app.example", NULL});
	http_reply r;
	assert_int_equal(rt_post(rd, "/v1/rooms/cors/ops", "Origin: https://app.example",
				 BODY("o1", CHAT("from a page")), RT_TIMEOUT_MS, &r),
			 200);
	char v[128];
	assert_true(http_reply_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
	assert_string_equal(v, "https://app.example");
	http_reply_free(&r);
	assert_int_equal(rt_post(rd, "/v1/rooms/cors/ops", "Origin: https://evil.example",
				 BODY("o2", CHAT("no")), RT_TIMEOUT_MS, &r),
			 403);
	http_reply_free(&r);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "cors", db, sizeof(db));
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), 1);
	rd_cleanup(rd);
}

/* With --fsync the answer waits for the sync too, and members still see
 * the event. */
static void test_fsync(void **state)
{
	(void)state;
	rd_proc *rd = rt_start((const char *const[]){"--fsync", NULL});
	struct ws *a = rt_join(rd, "durable", "name=alice", NULL);
	cJSON *ack = NULL;
	for (int i = 1; i <= 5; i++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"id\":\"d%d\",\"op\":" CHAT("synced") "}",
			 i);
		assert_int_equal(post(rd, "durable", NULL, body, &ack, NULL), 200);
		assert_int_equal(rt_int(ack, "seq"), i);
		cJSON_Delete(ack);
		cJSON *e = rt_expect(a, "event");
		assert_int_equal(rt_int(e, "seq"), i);
		cJSON_Delete(e);
	}
	rt_free(a);
	rd_cleanup(rd);
}

/* Send a POST and hang up at once, before any answer can come. */
static void post_and_hang_up(rd_proc *rd, const char *room, const char *body)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)rd->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	char req[512];
	int n = snprintf(
	    req, sizeof(req),
	    "POST /v1/rooms/%s/ops HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
	    room, strlen(body), body);
	assert_int_equal(write(fd, req, (size_t)n), n);
	close(fd);
}

/* A client that hangs up before the answer (the room is still loading on
 * the loader thread) does not cancel the op: it commits, once. */
static void test_hang_up_before_answer(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	for (int i = 0; i < 10; i++) {
		char room[16];
		snprintf(room, sizeof(room), "gone-%d", i);
		post_and_hang_up(rd, room, BODY("h1", CHAT("nobody waits")));
	}
	for (int i = 0; i < 10; i++) {
		char room[16];
		snprintf(room, sizeof(room), "gone-%d", i);
		/* The resend finds it committed (or commits it now): seq 1 either way. */
		cJSON *ack = NULL;
		assert_int_equal(
		    post(rd, room, NULL, BODY("h1", CHAT("nobody waits")), &ack, NULL),
		    200);
		assert_int_equal(rt_int(ack, "seq"), 1);
		cJSON_Delete(ack);
		char db[PATH_MAX + 64];
		rd_room_db(rd, room, db, sizeof(db));
		assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), 1);
	}
	char *m = NULL;
	assert_int_equal(rt_http(rd, "/metrics", NULL, &m), 200);
	assert_non_null(strstr(m, "roomd_http_ops_total 20\n"));
	free(m);
	rd_cleanup(rd);
}

static char *bearer(const char *secret, const char *room, const char *sub, rk_role role)
{
	rk_claims c;
	memset(&c, 0, sizeof(c));
	snprintf(c.sub, sizeof(c.sub), "%s", sub);
	snprintf(c.room, sizeof(c.room), "%s", room);
	c.role = role;
	c.exp = time(NULL) + 600;
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_puts(&b, "Authorization: Bearer ");
	assert_int_equal(rk_token_sign(secret, strlen(secret), &c, &b), RK_OK);
	return rk_buf_steal(&b, NULL);
}

static void test_owner_token(void **state)
{
	(void)state;
	char *sec = rt_temp_file("http-ops-secret");
	rd_proc *rd = rt_start((const char *const[]){"--secret-file", sec, NULL});
	char *owner = bearer("http-ops-secret", "team-*", "scheduler", RK_ROLE_OWNER);
	char *editor = bearer("http-ops-secret", "team-*", "ed", RK_ROLE_EDITOR);
	char *wrong = bearer("other-secret", "team-*", "scheduler", RK_ROLE_OWNER);
	assert_int_equal(post(rd, "team-a", NULL, BODY("t1", CHAT("x")), NULL, NULL),
			 401);
	assert_int_equal(post(rd, "team-a", wrong, BODY("t1", CHAT("x")), NULL, NULL),
			 401);
	assert_int_equal(post(rd, "team-a", editor, BODY("t1", CHAT("x")), NULL, NULL),
			 403);
	assert_int_equal(post(rd, "other", owner, BODY("t1", CHAT("x")), NULL, NULL),
			 403);
	/* The owner's sub is the user; X-Roomkit-User does not override it. */
	char hdr[4400];
	snprintf(hdr, sizeof(hdr), "%s\r\nX-Roomkit-User: mallory", owner);
	assert_int_equal(
	    post(rd, "team-a", hdr, BODY("t1", CHAT("meeting starts")), NULL, NULL), 200);
	char db[PATH_MAX + 64], user[64];
	rd_room_db(rd, "team-a", db, sizeof(db));
	rt_sql_text(db, "SELECT user FROM events WHERE seq = 1", user, sizeof(user));
	assert_string_equal(user, "scheduler");
	free(owner);
	free(editor);
	free(wrong);
	rd_cleanup(rd);
	unlink(sec);
	free(sec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_post_while_members_watch),
	    cmocka_unit_test(test_rejects_and_refusals),
	    cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test(test_new_and_hibernated_rooms),
	    cmocka_unit_test(test_owner_token),
	    cmocka_unit_test(test_hang_up_before_answer),
	    cmocka_unit_test(test_fsync),
	    cmocka_unit_test(test_cors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
