/*
 * test_http_refusals.c - every HTTP error roomd gives reaches real
 * third-party clients whole: a refused upgrade (400, 401, 403, 429, 503)
 * as read by Debian's python3-websockets (tests/support/ws_probe.py), and
 * the /v1 and plain-HTTP errors (401, 404, 405, 413, 426) as read by curl,
 * each an HTTP/1.1 answer with a JSON body {"error": code, "msg": ...};
 * and the Origin rule (--allow-origin): a browser page of another origin
 * is refused with 403 before any room is touched, the same origin and
 * non-browser clients are not, and /v1 answers CORS for allowed origins.
 */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "roomtest.h"
#include "timescale.h"

#define SECRET "refusal-secret-0123456789"
#define PYTHON "/usr/bin/python3"
#define CURL "/usr/bin/curl"

static const char *probe_script(void)
{
	static char path[4096];
	const char *src = getenv("RK_SRC_DIR");
	if (!src || !*src)
		fail_msg("RK_SRC_DIR is not set");
	snprintf(path, sizeof(path), "%s/tests/support/ws_probe.py", src);
	return path;
}

/* What python3-websockets made of an upgrade to path (origin may be NULL);
 * caller frees. */
static cJSON *probe(rd_proc *rd, const char *path, const char *origin)
{
	char url[8300];
	snprintf(url, sizeof(url), "ws://%s:%d%s", rd->host, rd->port, path);
	const char *argv[] = {PYTHON, probe_script(), url, origin, NULL};
	char *out = NULL;
	int rc = rt_run(argv, 30000, &out);
	cJSON *j = rc == 0 ? cJSON_Parse(out) : NULL;
	if (!j)
		fail_msg("ws_probe.py %s: exit %d: %s", url, rc, out);
	free(out);
	return j;
}

/* The refusal reached both of the library's clients with this status, as
 * HTTP/1.1 JSON {"error": code, "msg": containing msg_part}. */
static void expect_refusal(const cJSON *p, int status, const char *code,
			   const char *msg_part)
{
	char *dump = cJSON_PrintUnformatted(p);
	const cJSON *st = cJSON_GetObjectItem(p, "status");
	const cJSON *legacy = cJSON_GetObjectItem(p, "legacy_status");
	if (!cJSON_IsNumber(st) || st->valueint != status || !cJSON_IsNumber(legacy) ||
	    legacy->valueint != status)
		fail_msg("want %d from python3-websockets, got %s", status, dump);
	const cJSON *h = cJSON_GetObjectItem(p, "headers");
	const cJSON *ct = cJSON_GetObjectItem(h, "content-type");
	if (!cJSON_IsString(ct) || strncmp(ct->valuestring, "application/json", 16) != 0)
		fail_msg("content-type: %s", dump);
	const cJSON *b = cJSON_GetObjectItem(p, "body");
	cJSON *body = cJSON_IsString(b) ? cJSON_Parse(b->valuestring) : NULL;
	if (!body)
		fail_msg("body is not JSON: %s", dump);
	const cJSON *e = cJSON_GetObjectItem(body, "error");
	const cJSON *m = cJSON_GetObjectItem(body, "msg");
	if (!cJSON_IsString(e) || strcmp(e->valuestring, code) != 0 ||
	    !cJSON_IsString(m) || !strstr(m->valuestring, msg_part))
		fail_msg("want error %s with msg '%s': %s", code, msg_part, dump);
	cJSON_Delete(body);
	free(dump);
}

static const char *header(const cJSON *p, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(p, "headers"), name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *token(const char *room, const char *role)
{
	char *secret = rt_temp_file(SECRET "\n");
	const char *args[] = {"token",	"--secret-file", secret,   "--room", room,
			      "--user", "ann",		 "--role", role,     NULL};
	char out[4096];
	assert_int_equal(rt_roomctl(args, out, sizeof(out)), 0);
	unlink(secret);
	free(secret);
	out[strcspn(out, "\r\n")] = '\0';
	return strdup(out);
}

static rd_proc *start_with_secret(const char *const *more)
{
	char *secret = rt_temp_file(SECRET "\n");
	const char *args[16] = {"--secret-file", secret};
	size_t n = 2;
	for (; more && *more && n < 15; more++)
		args[n++] = *more;
	args[n] = NULL;
	rd_proc *rd = rt_start(args);
	unlink(secret);
	free(secret);
	return rd;
}

/* Sections 1 and 6: 400, 401 and 403 before the upgrade, each with its reason. */
static void test_upgrade_refusals_reach_python_websockets(void **state)
{
	(void)state;
	rd_proc *rd = start_with_secret(NULL);
	char *editor = token("team-*", "editor");
	char path[4200];

	cJSON *p = probe(rd, "/ws/bad%20room", NULL);
	expect_refusal(p, 400, "bad_request", "bad room id");
	assert_string_equal(header(p, "connection"), "close");
	cJSON_Delete(p);

	p = probe(rd, "/ws/team-1", NULL);
	expect_refusal(p, 401, "unauthorized", "token required");
	cJSON_Delete(p);

	p = probe(rd, "/ws/team-1?token=garbage", NULL);
	expect_refusal(p, 401, "unauthorized", "token");
	cJSON_Delete(p);

	snprintf(path, sizeof(path), "/ws/other?token=%s", editor);
	p = probe(rd, path, NULL);
	expect_refusal(p, 403, "forbidden", "not valid for this room");
	cJSON_Delete(p);

	/* And the good token still gets through the same client. */
	snprintf(path, sizeof(path), "/ws/team-1?token=%s", editor);
	p = probe(rd, path, NULL);
	assert_int_equal(cJSON_GetObjectItem(p, "legacy_status")->valueint, 101);
	cJSON_Delete(p);
	free(editor);
	rd_cleanup(rd);
}

/* The per-IP limits: 429 with Retry-After, as the client sees it. (The
 * connection count, not the rate: a held connection decides it, not how
 * fast a loaded machine starts python.) */
static void test_429_carries_retry_after(void **state)
{
	(void)state;
	const char *args[] = {"--max-conns-per-ip", "1", "--limit-loopback", NULL};
	rd_proc *rd = rt_start(args);
	struct ws *held = rt_join(rd, "r1", "name=held", NULL);
	cJSON *p = probe(rd, "/ws/r1?name=a", NULL);
	expect_refusal(p, 429, "rate_limited", "too many connections");
	const char *ra = header(p, "retry-after");
	assert_non_null(ra);
	assert_true(atoi(ra) >= 1);
	cJSON_Delete(p);
	rt_free(held);
	rd_cleanup(rd);
}

/* While draining (SIGTERM with a connection still open), upgrades get 503. */
static void test_503_while_draining(void **state)
{
	(void)state;
	const char *args[] = {"--ops-per-sec", "1000000",    "--ops-burst", "1000000",
			      "--max-queue",   "1073741824", NULL};
	rd_proc *rd = rt_start(args);
	/* A client that reads nothing while 32 MiB of signals are sent to it:
	 * its queue cannot drain, so roomd keeps draining (up to 5 s). */
	struct ws *w = rt_join(rd, "r", "name=a", NULL);
	struct ws *flood = rt_join(rd, "r", "name=b", NULL);
	char sig[4096];
	int n = snprintf(sig, sizeof(sig), "{\"t\":\"signal\",\"data\":\"");
	memset(sig + n, 'x', sizeof(sig) - (size_t)n - 3);
	memcpy(sig + sizeof(sig) - 3, "\"}", 3);
	ws_set_send_timeout(flood, rt_scaled_ms(30000));
	for (int i = 0; i < 8192; i++)
		assert_int_equal(RT_SEND(flood, sig), 0);
	rt_free(flood);
	assert_int_equal(kill(rd->pid, SIGTERM), 0);
	assert_true(rd_log_wait(rd, "draining", RT_TIMEOUT_MS));
	cJSON *p = probe(rd, "/ws/r?name=b", NULL);
	expect_refusal(p, 503, "unavailable", "shutting down");
	cJSON_Delete(p);
	rt_free(w);
	rd_cleanup(rd);
}

/* curl's view of one request: status, the head (lower-cased), the body. */
typedef struct curl_answer {
	int rc;	    /* curl's exit status */
	int status; /* from the status line */
	char *head; /* status line and headers, lower-cased */
	char *body;
} curl_answer;

static void curl_free(curl_answer *a)
{
	free(a->head);
	free(a->body);
}

/* Run curl -sS -i with args (NULL-terminated) and then url path. */
static curl_answer curl_do(rd_proc *rd, const char *path, const char *const *args)
{
	char url[600];
	snprintf(url, sizeof(url), "http://%s:%d%s", rd->host, rd->port, path);
	const char *argv[32] = {CURL, "-sS", "-i", "--max-time", "20"};
	size_t n = 5;
	for (; args && *args && n < 30; args++)
		argv[n++] = *args;
	argv[n++] = url;
	argv[n] = NULL;
	char *out = NULL;
	curl_answer a = {0};
	a.rc = rt_run(argv, 30000, &out);
	char *sep = strstr(out, "\r\n\r\n");
	if (sep) {
		a.body = strdup(sep + 4);
		*sep = '\0';
	} else {
		a.body = strdup("");
	}
	for (char *c = out; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	a.head = out;
	sscanf(out, "http/1.1 %d", &a.status);
	return a;
}

/* curl got the whole answer: exit 0, HTTP/1.1 status, JSON error body. */
static void expect_curl_error(const curl_answer *a, int status, const char *code)
{
	if (a->rc != 0 || a->status != status ||
	    !strstr(a->head, "content-type: application/json"))
		fail_msg("want %d JSON, curl exit %d:\n%s\n\n%s", status, a->rc, a->head,
			 a->body);
	cJSON *b = cJSON_Parse(a->body);
	const cJSON *e = cJSON_GetObjectItem(b, "error");
	if (!cJSON_IsString(e) || strcmp(e->valuestring, code) != 0 ||
	    !cJSON_IsString(cJSON_GetObjectItem(b, "msg")))
		fail_msg("want error %s: %s", code, a->body);
	cJSON_Delete(b);
}

/* The plain-HTTP errors: each reaches curl whole, a POST with a body too. */
static void test_http_errors_reach_curl(void **state)
{
	(void)state;
	rd_proc *rd = start_with_secret(NULL);

	curl_answer a = curl_do(rd, "/nope", NULL);
	expect_curl_error(&a, 404, "not_found");
	curl_free(&a);

	a = curl_do(rd, "/v1/rooms", NULL);
	expect_curl_error(&a, 401, "unauthorized");
	curl_free(&a);

	a = curl_do(rd, "/v1/rooms/bad%20room", NULL);
	expect_curl_error(&a, 400, "bad_request");
	curl_free(&a);

	/* A POST with a body where none is taken: the whole 405 arrives. */
	const char *post[] = {"-X", "POST", "-d", "hello=world", NULL};
	a = curl_do(rd, "/v1/rooms", post);
	expect_curl_error(&a, 405, "method_not_allowed");
	assert_non_null(strstr(a.head, "allow: get"));
	curl_free(&a);

	/* A body too big to read through is refused with 413, whole. */
	char *big = malloc(2 << 20);
	assert_non_null(big);
	memset(big, 'x', (2 << 20) - 1);
	big[(2 << 20) - 1] = '\0';
	char *bigfile = rt_temp_file(big);
	free(big);
	char at[4200];
	snprintf(at, sizeof(at), "@%s", bigfile);
	const char *bigpost[] = {"-X", "POST", "--data-binary", at, NULL};
	a = curl_do(rd, "/v1/rooms", bigpost);
	expect_curl_error(&a, 413, "too_large");
	curl_free(&a);
	unlink(bigfile);
	free(bigfile);

	/* GET /ws/<room> without an upgrade: 426 and how to do it. */
	a = curl_do(rd, "/ws/team-1", NULL);
	expect_curl_error(&a, 426, "upgrade_required");
	assert_non_null(strstr(a.head, "upgrade: websocket"));
	assert_non_null(strstr(a.body, "WebSocket"));
	curl_free(&a);

	/* roomd still serves after all of that. */
	a = curl_do(rd, "/healthz", NULL);
	assert_int_equal(a.status, 200);
	curl_free(&a);
	rd_cleanup(rd);
}

static bool room_file_exists(rd_proc *rd, const char *room)
{
	char path[PATH_MAX + 128];
	return access(rd_room_db(rd, room, path, sizeof(path)), F_OK) == 0;
}

static int probe_status(rd_proc *rd, const char *path, const char *origin)
{
	cJSON *p = probe(rd, path, origin);
	const cJSON *st = cJSON_GetObjectItem(p, "legacy_status");
	int v = cJSON_IsNumber(st) ? st->valueint : -1;
	if (v != 101 && v != 403) {
		char *d = cJSON_PrintUnformatted(p);
		fail_msg("%s: %s", path, d);
	}
	if (v == 403)
		expect_refusal(p, 403, "forbidden", "origin not allowed");
	cJSON_Delete(p);
	return v;
}

/* Section 3 of the issue: the default lets the same origin and non-browser
 * clients in and nothing else, before any room is touched. */
static void test_origin_default(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	char self[128];
	snprintf(self, sizeof(self), "http://%s:%d", rd->host, rd->port);
	assert_int_equal(probe_status(rd, "/ws/o1?name=a", NULL), 101);
	assert_int_equal(probe_status(rd, "/ws/o2?name=a", self), 101);
	assert_int_equal(probe_status(rd, "/ws/o3?name=a", "http://evil.example"), 403);
	assert_int_equal(probe_status(rd, "/ws/o3?name=a", "null"), 403);
	/* o2 was loaded (a new room: no file until its first op), o3 never
	 * touched. */
	assert_true(rd_log_wait(rd, "room o2 loaded", RT_TIMEOUT_MS));
	assert_false(rd_log_contains(rd, "room o3"));
	assert_false(room_file_exists(rd, "o3"));
	rd_cleanup(rd);
}

/* --allow-origin: listed origins and '*'; CORS on /v1. */
static void test_allow_origin_and_cors(void **state)
{
	(void)state;
	const char *args[] = {"--allow-origin", "https://app.example.com",
			      "--allow-origin", "http://localhost:5173", NULL};
	rd_proc *rd = rt_start(args);
	assert_int_equal(probe_status(rd, "/ws/a?name=a", "https://app.example.com"),
			 101);
	assert_int_equal(probe_status(rd, "/ws/a?name=a", "http://localhost:5173"), 101);
	assert_int_equal(probe_status(rd, "/ws/a?name=a", "http://localhost:5174"), 403);

	/* Preflight of an authorised call from the app. */
	const char *pre[] = {"-X", "OPTIONS",
			     "-H", "Origin: https://app.example.com",
			     "-H", "Access-Control-Request-Method: GET",
			     "-H", "Access-Control-Request-Headers: authorization",
			     NULL};
	curl_answer a = curl_do(rd, "/v1/rooms", pre);
	if (a.rc != 0 || a.status != 204 ||
	    strncmp(a.head, "http/1.1 204 no content\r\n", 25) != 0 ||
	    !strstr(a.head, "access-control-allow-origin: https://app.example.com") ||
	    !strstr(a.head,
		    "access-control-allow-headers: authorization, content-type") ||
	    !strstr(a.head, "access-control-allow-methods: get, post, delete"))
		fail_msg("preflight: curl %d\n%s", a.rc, a.head);
	curl_free(&a);
	const char *get[] = {"-H", "Origin: https://app.example.com", NULL};
	a = curl_do(rd, "/v1/rooms", get);
	assert_int_equal(a.status, 200);
	assert_non_null(
	    strstr(a.head, "access-control-allow-origin: https://app.example.com"));
	assert_non_null(strstr(a.head, "vary: origin"));
	curl_free(&a);
	/* An error answer carries it too, so the app can read why. */
	a = curl_do(rd, "/v1/rooms/nosuchroom", get);
	expect_curl_error(&a, 404, "not_found");
	assert_non_null(
	    strstr(a.head, "access-control-allow-origin: https://app.example.com"));
	curl_free(&a);
	const char *evil[] = {"-H", "Origin: http://evil.example", NULL};
	a = curl_do(rd, "/v1/rooms", evil);
	expect_curl_error(&a, 403, "forbidden");
	assert_null(strstr(a.head, "access-control-allow-origin"));
	curl_free(&a);
	/* No Origin: no CORS headers, as before. */
	a = curl_do(rd, "/v1/rooms", NULL);
	assert_int_equal(a.status, 200);
	assert_null(strstr(a.head, "access-control-allow-origin"));
	curl_free(&a);
	rd_cleanup(rd);

	const char *any[] = {"--allow-origin", "*", NULL};
	rd = rt_start(any);
	assert_int_equal(probe_status(rd, "/ws/a?name=a", "http://evil.example"), 101);
	rd_cleanup(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_upgrade_refusals_reach_python_websockets),
	    cmocka_unit_test(test_429_carries_retry_after),
	    cmocka_unit_test(test_503_while_draining),
	    cmocka_unit_test(test_http_errors_reach_curl),
	    cmocka_unit_test(test_origin_default),
	    cmocka_unit_test(test_allow_origin_and_cors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
