/*
 * test_webhooks.c - webhooks (PROTOCOL.md section 11) proves, against a real
 * HTTP receiver (tests/support/hookrecv.c), that ops, presence and
 * poll.closed arrive signed, in seq order, once per id; that every op
 * committed while the receiver is down survives a SIGKILL of roomd and a
 * restart and is delivered when the receiver comes back, none missing; that
 * a hanging receiver does not delay acks; that 10,000 queued deliveries
 * keep roomd's RSS under a stated bound and drain; and that the command
 * line refuses a bad URL or an unreadable secret (exit 2).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "clock.h"
#include "hookrecv.h"
#include "roomtest.h"
#include "whsig.h"

#define SECRET "webhook-test-secret"
#define CHAT(text) "{\"k\":\"chat.post\",\"text\":\"" text "\"}"

typedef struct fixture {
	hookrecv *hr;
	char *secret_file;
	rd_proc *rd;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->hr = hr_start(0);
	if (!f->hr)
		return -1;
	f->secret_file = rt_temp_file(SECRET);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	rd_cleanup(f->rd);
	hr_free(f->hr);
	unlink(f->secret_file);
	free(f->secret_file);
	free(f);
	return 0;
}

/* Start roomd with webhooks to the receiver, plus extra (may be NULL). */
static rd_proc *start_with_hooks(fixture *f, const char *a1, const char *a2,
				 const char *a3, const char *a4)
{
	static char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", hr_port(f->hr));
	const char *args[] = {"--webhook-url",
			      url,
			      "--webhook-secret-file",
			      f->secret_file,
			      "--webhook-retry-max",
			      "500",
			      a1,
			      a2,
			      a3,
			      a4,
			      NULL};
	f->rd = rt_start(args);
	return f->rd;
}

/* The i-th delivered webhook, parsed, its signature checked. */
static cJSON *delivered(fixture *f, size_t i)
{
	char *body = hr_ok_body(f->hr, i), *sig = hr_ok_sig(f->hr, i);
	if (!body)
		fail_msg("no delivery %zu", i);
	rk_whsig_result r = rk_whsig_verify(SECRET, strlen(SECRET), sig, body,
					    strlen(body), time(NULL), 300);
	if (r != RK_WHSIG_OK)
		fail_msg("delivery %zu: %s (%s)", i, rk_whsig_strerror(r), sig);
	cJSON *j = cJSON_Parse(body);
	if (!j)
		fail_msg("delivery %zu is not JSON: %s", i, body);
	free(body);
	free(sig);
	return j;
}

static const cJSON *data_of(const cJSON *hook)
{
	const cJSON *d = cJSON_GetObjectItem(hook, "data");
	if (!cJSON_IsObject(d))
		fail_msg("webhook without data");
	return d;
}

static int64_t metric(rd_proc *rd, const char *name)
{
	char *m = NULL;
	assert_int_equal(rt_http(rd, "/metrics", NULL, &m), 200);
	char key[128];
	snprintf(key, sizeof(key), "\n%s ", name);
	const char *p = strstr(m, key);
	if (!p)
		fail_msg("no metric %s", name);
	int64_t v = strtoll(p + strlen(key), NULL, 10);
	free(m);
	return v;
}

/* Wait up to timeout_ms for a metric to read want (polled: the worker
 * records a delivery just after the receiver has it). */
static bool wait_metric(rd_proc *rd, const char *name, int64_t want, int timeout_ms)
{
	int64_t end = rk_mono_us() + (int64_t)timeout_ms * 1000;
	while (metric(rd, name) != want) {
		if (rk_mono_us() > end)
			return false;
		usleep(20000);
	}
	return true;
}

static void test_signed_in_order_once(void **state)
{
	fixture *f = *state;
	rd_proc *rd = start_with_hooks(f, NULL, NULL, NULL, NULL);
	struct ws *a = rt_join(rd, "hooks", "name=alice", NULL);
	for (int i = 1; i <= 20; i++) {
		char id[16], op[64];
		snprintf(id, sizeof(id), "c%d", i);
		snprintf(op, sizeof(op), "{\"k\":\"chat.post\",\"text\":\"m%d\"}", i);
		assert_int_equal(rt_op(a, id, op, NULL), i);
	}
	/* A resent op commits once: one webhook. */
	rt_send_op(a, "c20", CHAT("again"));
	cJSON *k = rt_expect(a, "ack");
	assert_int_equal(rt_int(k, "seq"), 20);
	cJSON_Delete(k);
	assert_int_equal(
	    rt_op(a, "p1",
		  "{\"k\":\"poll.create\",\"poll\":{\"id\":\"q\",\"question\":"
		  "\"lunch?\",\"options\":[\"yes\",\"no\"]}}",
		  NULL),
	    21);
	assert_int_equal(
	    rt_op(a, "p2", "{\"k\":\"poll.vote\",\"poll\":\"q\",\"choice\":0}", NULL),
	    22);
	assert_int_equal(rt_op(a, "p3", "{\"k\":\"poll.close\",\"poll\":\"q\"}", NULL),
			 23);
	rt_free(a);
	/* presence join + 23 ops + poll.closed + presence leave */
	assert_true(hr_wait_ok(f->hr, 26, 10000));

	cJSON *h = delivered(f, 0);
	assert_string_equal(rt_str(h, "type"), "presence");
	assert_string_equal(rt_str(data_of(h), "action"), "join");
	assert_string_equal(rt_str(data_of(h), "user"), "alice");
	assert_string_equal(rt_str(h, "room"), "hooks");
	cJSON_Delete(h);
	for (int i = 1; i <= 23; i++) {
		h = delivered(f, (size_t)i);
		assert_string_equal(rt_str(h, "type"), "op");
		assert_int_equal(rt_int(data_of(h), "seq"), i);
		assert_string_equal(rt_str(data_of(h), "user"), "alice");
		char want[96];
		snprintf(want, sizeof(want), ":%d", i);
		const char *id = rt_str(h, "id");
		assert_true(strlen(id) > strlen(want) &&
			    strcmp(id + strlen(id) - strlen(want), want) == 0);
		cJSON_Delete(h);
	}
	h = delivered(f, 24);
	assert_string_equal(rt_str(h, "type"), "poll.closed");
	const cJSON *poll = cJSON_GetObjectItem(data_of(h), "poll");
	assert_string_equal(rt_str(poll, "id"), "q");
	assert_int_equal(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(poll, "tally"), 0)->valueint, 1);
	assert_int_equal(rt_int(cJSON_GetObjectItem(poll, "votes"), "alice"), 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(poll, "closed")));
	cJSON_Delete(h);
	h = delivered(f, 25);
	assert_string_equal(rt_str(h, "type"), "presence");
	assert_string_equal(rt_str(data_of(h), "action"), "leave");
	cJSON_Delete(h);
	/* Nothing more comes, and the outbox empties once trimmed. */
	assert_false(hr_wait_ok(f->hr, 27, 500));
	assert_int_equal(metric(rd, "roomd_webhooks_delivered_total"), 26);
	assert_int_equal(metric(rd, "roomd_webhook_backlog"), 0);

	/* roomctl webhook verify accepts what roomd sent, as a captured raw
	 * request or as body + header, and refuses another secret or body. */
	char *body = hr_ok_body(f->hr, 3), *sig = hr_ok_sig(f->hr, 3);
	char *req = malloc(strlen(body) + strlen(sig) + 256);
	sprintf(req,
		"POST /hook HTTP/1.1\r\nHost: x\r\nRoomkit-Signature: %s\r\n"
		"Content-Length: %zu\r\n\r\n%s",
		sig, strlen(body), body);
	char *req_file = rt_temp_file(req), *body_file = rt_temp_file(body);
	char *other = rt_temp_file("not-the-secret");
	char out[1024];
	const char *v1[] = {
	    "webhook", "verify", "--secret-file", f->secret_file, "--request",
	    req_file,  NULL};
	assert_int_equal(rt_roomctl(v1, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "signature valid: op op:hooks:"));
	const char *v2[] = {"webhook",	    "verify", "--secret-file",
			    f->secret_file, "--body", body_file,
			    "--signature",  sig,      NULL};
	assert_int_equal(rt_roomctl(v2, out, sizeof(out)), 0);
	const char *v3[] = {"webhook", "verify", "--secret-file", other, "--request",
			    req_file,  NULL};
	assert_int_equal(rt_roomctl(v3, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "Error: signature does not match"));
	const char *v4[] = {"webhook",	    "verify", "--secret-file",
			    f->secret_file, "--body", req_file,
			    "--signature",  sig,      NULL};
	assert_int_equal(rt_roomctl(v4, out, sizeof(out)), 1);
	const char *v5[] = {"webhook", "verify", "--body", body_file, NULL};
	assert_int_equal(rt_roomctl(v5, out, sizeof(out)), 2);
	unlink(req_file);
	unlink(body_file);
	unlink(other);
	free(req_file);
	free(body_file);
	free(other);
	free(req);
	free(body);
	free(sig);
}

/* Receiver down while ops commit, roomd SIGKILLed and restarted, receiver
 * back: every committed op is delivered, none missing. */
static void test_down_kill9_restart(void **state)
{
	fixture *f = *state;
	hr_down(f->hr);
	rd_proc *rd = start_with_hooks(f, "--webhook-types", "op", NULL, NULL);
	struct ws *a = rt_join(rd, "crash", "name=alice", NULL);
	enum { N = 60 };
	for (int i = 1; i <= N; i++) {
		char id[16];
		snprintf(id, sizeof(id), "k%d", i);
		assert_int_equal(rt_op(a, id, CHAT("while down"), NULL), i);
	}
	rt_free(a);
	assert_int_equal(rd_stop(rd, SIGKILL), 137);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "crash", db, sizeof(db));
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM webhooks"), N);
	/* roomctl shows the backlog of the room file. */
	char out[4096];
	const char *args[] = {"inspect", db, NULL};
	assert_int_equal(rt_roomctl(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "webhook backlog: 60 undelivered"));

	assert_int_equal(rd_restart(rd, NULL), 0);
	assert_true(hr_up(f->hr));
	assert_true(hr_wait_ok(f->hr, N, 20000));
	bool seen[N + 1] = {false};
	size_t n = hr_ok_count(f->hr);
	int64_t last = 0;
	for (size_t i = 0; i < n; i++) {
		cJSON *h = delivered(f, i);
		int64_t seq = rt_int(data_of(h), "seq");
		assert_true(seq >= 1 && seq <= N);
		assert_true(seq > last); /* in order (a repeat would be <=) */
		last = seq;
		seen[seq] = true;
		cJSON_Delete(h);
	}
	for (int i = 1; i <= N; i++)
		if (!seen[i])
			fail_msg("op seq %d never delivered", i);
	/* Once the worker has recorded them, the next op's commit trims the
	 * delivered rows from the room file: only that op's row is left. */
	assert_true(wait_metric(rd, "roomd_webhook_backlog", 0, 10000));
	a = rt_join(rd, "crash", "name=alice", NULL);
	assert_int_equal(rt_op(a, "after", CHAT("after"), NULL), N + 1);
	rt_free(a);
	assert_true(hr_wait_ok(f->hr, N + 1, 10000));
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM webhooks"), 1);
}

/* A receiver that never answers does not slow acks down. */
static void test_hanging_receiver(void **state)
{
	fixture *f = *state;
	hr_set_mode(f->hr, HR_HANG);
	rd_proc *rd =
	    start_with_hooks(f, "--webhook-timeout", "1000", "--webhook-types", "op");
	struct ws *a = rt_join(rd, "slow", "name=alice", NULL);
	int64_t worst = 0;
	for (int i = 1; i <= 40; i++) {
		char id[16];
		snprintf(id, sizeof(id), "h%d", i);
		int64_t t0 = rk_mono_us();
		assert_int_equal(rt_op(a, id, CHAT("x"), NULL), i);
		int64_t us = rk_mono_us() - t0;
		if (us > worst)
			worst = us;
	}
	/* A request takes 1000 ms to time out; acks wait for none of them. */
	if (worst > 500000)
		fail_msg("an ack took %lld us while the receiver hung", (long long)worst);
	assert_true(hr_wait_seen(f->hr, 1, 5000)); /* it did get a request */
	assert_int_equal(hr_ok_count(f->hr), 0);
	hr_set_mode(f->hr, HR_OK);
	assert_true(hr_wait_ok(f->hr, 40, 20000));
	rt_free(a);
}

/* A poll closed by its alarm (the server's own op, no client connected)
 * sends poll.closed with its final tally; presence is filtered out. */
static void test_alarm_closed_poll(void **state)
{
	fixture *f = *state;
	rd_proc *rd = start_with_hooks(f, "--webhook-types", "poll.closed", NULL, NULL);
	struct ws *a = rt_join(rd, "alarm", "name=alice", NULL);
	char op[256];
	snprintf(op, sizeof(op),
		 "{\"k\":\"poll.create\",\"poll\":{\"id\":\"t\",\"question\":\"?\","
		 "\"options\":[\"a\",\"b\"],\"closes_at\":%lld}}",
		 (long long)(time(NULL) * 1000 + 1500));
	assert_int_equal(rt_op(a, "c", op, NULL), 1);
	assert_int_equal(
	    rt_op(a, "v", "{\"k\":\"poll.vote\",\"poll\":\"t\",\"choice\":1}", NULL), 2);
	rt_free(a);
	assert_true(hr_wait_ok(f->hr, 1, 10000));
	cJSON *h = delivered(f, 0);
	assert_string_equal(rt_str(h, "type"), "poll.closed");
	assert_string_equal(rt_str(data_of(h), "closed_by"), "roomd");
	assert_int_equal(rt_int(data_of(h), "seq"), 3);
	const cJSON *poll = cJSON_GetObjectItem(data_of(h), "poll");
	assert_int_equal(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(poll, "tally"), 1)->valueint, 1);
	cJSON_Delete(h);
	assert_false(hr_wait_ok(f->hr, 2, 300));
}

static int64_t rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	int64_t kib = -1;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtoll(line + 6, NULL, 10);
	fclose(fp);
	return kib;
}

/* 10,000 deliveries queued against a dead endpoint: roomd's RSS grows by
 * less than RSS_BOUND_KIB (the backlog is on disk, not in memory), and the
 * backlog drains once the endpoint is back. */
#define BACKLOG 10000
#ifdef __SANITIZE_ADDRESS__
/* ASan keeps freed memory in quarantine: bounded to 8 MB below, so that the
 * RSS says something about roomd; its redzones still double small blocks. */
#define RSS_BOUND_KIB (64 * 1024)
#else
#define RSS_BOUND_KIB (16 * 1024)
#endif
static void test_backlog_rss_and_drain(void **state)
{
	fixture *f = *state;
	hr_down(f->hr);
	rt_asan_quarantine(8);
	rd_proc *rd =
	    start_with_hooks(f, "--ops-per-sec", "1000000", "--ops-burst", "1000000");
	struct ws *a = rt_join(rd, "big", "name=alice", NULL);
	/* Votes replace each other: the room's state stays one poll, so what
	 * grows is only what the webhooks cost. */
	assert_int_equal(
	    rt_op(a, "p",
		  "{\"k\":\"poll.create\",\"poll\":{\"id\":\"q\",\"question\":"
		  "\"?\",\"options\":[\"a\",\"b\"]}}",
		  NULL),
	    1);
	assert_int_equal(
	    rt_op(a, "warm", "{\"k\":\"poll.vote\",\"poll\":\"q\",\"choice\":0}", NULL),
	    2);
	int64_t before = rss_kib(rd->pid);
	enum { WINDOW = 200 };
	int sent = 0, acked = 0;
	while (acked < BACKLOG) {
		while (sent < BACKLOG && sent - acked < WINDOW) {
			char id[16], op[80];
			snprintf(id, sizeof(id), "v%d", sent);
			snprintf(op, sizeof(op),
				 "{\"k\":\"poll.vote\",\"poll\":\"q\",\"choice\":%d}",
				 sent % 2);
			rt_send_op(a, id, op);
			sent++;
		}
		cJSON *k = rt_expect(a, "ack");
		cJSON_Delete(k);
		acked++;
	}
	int64_t after = rss_kib(rd->pid);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "big", db, sizeof(db));
	int64_t backlog = rt_sql_int(db, "SELECT count(*) FROM webhooks");
	print_message(
	    "webhook backlog %lld, RSS %lld KiB -> %lld KiB (+%lld, bound %d)\n",
	    (long long)backlog, (long long)before, (long long)after,
	    (long long)(after - before), RSS_BOUND_KIB);
	assert_int_equal(backlog, BACKLOG + 3); /* presence join, 2 ops, BACKLOG ops */
	if (after - before > RSS_BOUND_KIB)
		fail_msg("RSS grew by %lld KiB with %d queued webhooks (bound %d KiB)",
			 (long long)(after - before), BACKLOG, RSS_BOUND_KIB);
	/* Drain: every one arrives once the receiver is back. */
	int64_t t0 = rk_mono_us();
	assert_true(hr_up(f->hr));
	/* presence join + 2 + BACKLOG ops */
	assert_true(hr_wait_ok(f->hr, BACKLOG + 3, 240000));
	double s = (double)(rk_mono_us() - t0) / 1e6;
	print_message("drained %d webhooks in %.2f s (%.0f/s)\n", BACKLOG + 3, s,
		      (BACKLOG + 3) / s);
	rt_free(a);
}

static void test_command_line(void **state)
{
	fixture *f = *state;
	const char *bin = getenv("ROOMD_BIN");
	assert_non_null(bin);
	char *out = NULL;
	const char *bad_url[] = {
	    bin, "--webhook-url", "ftp://x/y", "--webhook-secret-file", f->secret_file,
	    NULL};
	assert_int_equal(rt_run(bad_url, 10000, &out), 2);
	assert_non_null(strstr(out, "Error: --webhook-url"));
	free(out);
	const char *bad_secret[] = {bin,
				    "--webhook-url",
				    "http://127.0.0.1:1/h",
				    "--webhook-secret-file",
				    "/nonexistent/secret",
				    NULL};
	assert_int_equal(rt_run(bad_secret, 10000, &out), 2);
	assert_non_null(strstr(out, "Error: --webhook-secret-file"));
	free(out);
	const char *alone[] = {bin, "--webhook-url", "http://127.0.0.1:1/h", NULL};
	assert_int_equal(rt_run(alone, 10000, &out), 2);
	free(out);
	const char *types[] = {bin, "--webhook-types", "op,nope", NULL};
	assert_int_equal(rt_run(types, 10000, &out), 2);
	assert_non_null(strstr(out, "Error: --webhook-types"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_signed_in_order_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_down_kill9_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hanging_receiver, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarm_closed_poll, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backlog_rss_and_drain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_line, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
