/* test_route.c - roomd's request decisions without a socket (route.c): which
 * endpoint a GET path is, the methods each takes (DELETE of a room
 * included), the JSON error bodies, the Origin check, the /v1 bearer check,
 * who may delete a room, the upgrade's query arguments and who an upgrade
 * request is, with and without a secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "buf.h"
#include "route.h"
#include "token.h"

#define SECRET "route-secret"
#define NOW INT64_C(1700000000)

struct route_case {
	const char *path;
	rk_route want;
	const char *room; /* for RK_ROUTE_ROOM and RK_ROUTE_ROOM_OPS */
};

static const struct route_case route_cases[] = {
    {"/healthz", RK_ROUTE_HEALTHZ, NULL},
    {"/metrics", RK_ROUTE_METRICS, NULL},
    {"/v1/rooms", RK_ROUTE_ROOMS, NULL},
    {"/v1/rooms/", RK_ROUTE_ROOMS, NULL},
    {"/v1/rooms/demo", RK_ROUTE_ROOM, "demo"},
    {"/v1/rooms/team-1.a?x=1", RK_ROUTE_ROOM, "team-1.a"},
    {"/v1/rooms/..", RK_ROUTE_BAD_ROOM, NULL},
    {"/v1/rooms/a/b", RK_ROUTE_BAD_ROOM, NULL},
    {"/v1/rooms/%2e%2e", RK_ROUTE_BAD_ROOM, NULL},
    {"/v1/rooms//", RK_ROUTE_BAD_ROOM, NULL},
    {"/v1/rooms/demo/ops", RK_ROUTE_ROOM_OPS, "demo"},
    {"/v1/rooms/a.b-c_1/ops", RK_ROUTE_ROOM_OPS, "a.b-c_1"},
    {"/v1/rooms/../ops", RK_ROUTE_BAD_ROOM, NULL},
    {"/v1/rooms/a/b/ops", RK_ROUTE_BAD_ROOM, NULL},
    {"/v1/rooms//ops", RK_ROUTE_BAD_ROOM, NULL},
    {"/v1/rooms/ops", RK_ROUTE_ROOM, "ops"},
    {"/v1/rooms/demo/ops/", RK_ROUTE_BAD_ROOM, NULL},
    {"/v1/rooms/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/ops",
     RK_ROUTE_BAD_ROOM, NULL},
    {"/healthz/", RK_ROUTE_NOT_FOUND, NULL},
    {"/HEALTHZ", RK_ROUTE_NOT_FOUND, NULL},
    {"/metrics?x", RK_ROUTE_NOT_FOUND, NULL},
    {"/v1/roomsx", RK_ROUTE_NOT_FOUND, NULL},
    {"/v1", RK_ROUTE_NOT_FOUND, NULL},
    {"/ws/demo", RK_ROUTE_WS, NULL},
    {"/ws/", RK_ROUTE_WS, NULL},
    {"/ws", RK_ROUTE_NOT_FOUND, NULL},
    {"/", RK_ROUTE_DEMO_PAGE, NULL},
    {"/roomkit.js", RK_ROUTE_DEMO_SDK, NULL},
    {"/demo.js", RK_ROUTE_DEMO_JS, NULL},
    {"/demo.css", RK_ROUTE_DEMO_CSS, NULL},
    {"//", RK_ROUTE_NOT_FOUND, NULL},
    {"/index.html", RK_ROUTE_NOT_FOUND, NULL},
    {"/roomkit.js/", RK_ROUTE_NOT_FOUND, NULL},
    {"/../roomkit.js", RK_ROUTE_NOT_FOUND, NULL},
    {"/ROOMKIT.JS", RK_ROUTE_NOT_FOUND, NULL},
    {"", RK_ROUTE_NOT_FOUND, NULL},
    {NULL, RK_ROUTE_NOT_FOUND, NULL},
};

static void test_route_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < RK_ARRAY_LEN(route_cases); i++) {
		const struct route_case *c = &route_cases[i];
		char room[RK_ROOM_ID_MAX + 1];
		memset(room, 'X', sizeof(room));
		rk_route got = rk_route_http(c->path, room);
		if (got != c->want)
			fail_msg("\"%s\": route %d, want %d",
				 c->path ? c->path : "(null)", (int)got, (int)c->want);
		if (strcmp(room, c->room ? c->room : "") != 0)
			fail_msg("\"%s\": room \"%s\"", c->path ? c->path : "(null)",
				 room);
	}
}

/* A token signed with SECRET (or another secret); caller frees. */
static char *token_with(const char *secret, const char *room, const char *sub,
			rk_role role, int64_t exp)
{
	rk_claims c;
	memset(&c, 0, sizeof(c));
	strncpy(c.sub, sub, sizeof(c.sub) - 1);
	strncpy(c.room, room, sizeof(c.room) - 1);
	c.role = role;
	c.exp = exp;
	rk_buf b;
	rk_buf_init(&b, 0);
	assert_int_equal(rk_token_sign(secret, strlen(secret), &c, &b), RK_OK);
	return rk_buf_steal(&b, NULL);
}

static char *token(const char *room, const char *sub, rk_role role)
{
	return token_with(SECRET, room, sub, role, NOW + 60);
}

/* "Bearer <token>" for the claims; caller frees. */
static char *bearer(const char *room, rk_role role)
{
	char *t = token(room, "admin", role);
	size_t n = strlen(t) + 8;
	char *h = malloc(n);
	assert_non_null(h);
	strcpy(h, "Bearer ");
	strcat(h, t);
	free(t);
	return h;
}

static unsigned auth(const char *authz, const char *room)
{
	return rk_route_auth(SECRET, strlen(SECRET), authz, room, NOW);
}

static void test_auth(void **state)
{
	(void)state;
	/* No secret: everything is allowed, header or not. */
	assert_int_equal(rk_route_auth(NULL, 0, NULL, NULL, NOW), 0);
	assert_int_equal(rk_route_auth(NULL, 0, "Basic x", "demo", NOW), 0);
	/* A secret: no header, another scheme, a bad token: 401. */
	assert_int_equal(auth(NULL, NULL), 401);
	assert_int_equal(auth("", "demo"), 401);
	assert_int_equal(auth("Basic YWRtaW46YWRtaW4=", NULL), 401);
	assert_int_equal(auth("Bearer ", NULL), 401);
	assert_int_equal(auth("Bearer x.y.z", "demo"), 401);
	char *t = token("*", "admin", RK_ROLE_OWNER);
	char h[4200];
	snprintf(h, sizeof(h), "bearer %s", t); /* the scheme is case-sensitive here */
	assert_int_equal(auth(h, NULL), 401);
	free(t);
	t = token_with("other", "*", "admin", RK_ROLE_OWNER, NOW + 60);
	snprintf(h, sizeof(h), "Bearer %s", t);
	assert_int_equal(auth(h, NULL), 401);
	free(t);
	t = token_with(SECRET, "*", "admin", RK_ROLE_OWNER, NOW);
	snprintf(h, sizeof(h), "Bearer %s", t);
	assert_int_equal(auth(h, NULL), 401); /* expired: exp <= now */
	free(t);

	char *all = bearer("*", RK_ROLE_OWNER);
	char *team = bearer("team-*", RK_ROLE_OWNER);
	char *editor = bearer("*", RK_ROLE_EDITOR);
	assert_int_equal(auth(all, NULL), 0);
	assert_int_equal(auth(all, "demo"), 0);
	assert_int_equal(auth(team, "team-a"), 0);
	assert_int_equal(auth(team, "demo"), 403);
	assert_int_equal(auth(team, NULL), 403); /* the list needs "*" */
	assert_int_equal(auth(editor, "demo"), 403);
	assert_int_equal(auth(editor, NULL), 403);
	/* The POST ops path takes the user from the token's sub. */
	char user[RK_NAME_BYTES + 1] = "x";
	assert_int_equal(
	    rk_route_auth_user(SECRET, strlen(SECRET), team, "team-a", NOW, user), 0);
	assert_string_equal(user, "admin");
	assert_int_equal(
	    rk_route_auth_user(SECRET, strlen(SECRET), editor, "demo", NOW, user), 403);
	assert_string_equal(user, "");
	assert_int_equal(rk_route_auth_user(NULL, 0, NULL, "demo", NOW, user), 0);
	assert_string_equal(user, "");
	free(all);
	free(team);
	free(editor);
}

/* DELETE is for a room only (a bad id passes, to be answered 400), any other
 * path 405; the route a DELETE is served on is the room's. */
static void test_delete_method(void **state)
{
	(void)state;
	const struct {
		const char *path;
		rk_route route;
		unsigned want;
	} cases[] = {
	    {"/v1/rooms/demo", RK_ROUTE_ROOM, 0},
	    {"/v1/rooms/demo?x=1", RK_ROUTE_ROOM, 0},
	    {"/v1/rooms/..", RK_ROUTE_BAD_ROOM, 0},
	    {"/v1/rooms/a/b", RK_ROUTE_BAD_ROOM, 0},
	    {"/v1/rooms", RK_ROUTE_ROOMS, 405},
	    {"/v1/rooms/", RK_ROUTE_ROOMS, 405},
	    {"/healthz", RK_ROUTE_HEALTHZ, 405},
	    {"/metrics", RK_ROUTE_METRICS, 405},
	    {"/nowhere", RK_ROUTE_NOT_FOUND, 405},
	    {"/v1/rooms/demo/ops", RK_ROUTE_ROOM_OPS, 405},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char room[RK_ROOM_ID_MAX + 1];
		const char *allow = NULL;
		rk_route r = rk_route_http(cases[i].path, room);
		unsigned st = rk_route_method(r, RK_METHOD_DELETE, &allow);
		if (r != cases[i].route || st != cases[i].want)
			fail_msg("DELETE %s: route %d status %u, want route %d status %u",
				 cases[i].path, (int)r, st, (int)cases[i].route,
				 cases[i].want);
	}
	const char *allow = NULL;
	assert_int_equal(rk_route_method(RK_ROUTE_ROOM, RK_METHOD_PUT, &allow), 405);
	assert_string_equal(allow, "GET, DELETE, OPTIONS");
}

/* Deleting a room: an owner token covering it with a secret; without a
 * secret only a loopback client. */
static void test_delete_auth(void **state)
{
	(void)state;
	assert_int_equal(rk_route_delete_auth(NULL, 0, NULL, "demo", NOW, true), 0);
	assert_int_equal(rk_route_delete_auth(NULL, 0, NULL, "demo", NOW, false), 403);
	const size_t sl = strlen(SECRET);
	char *all = bearer("*", RK_ROLE_OWNER);
	char *team = bearer("team-*", RK_ROLE_OWNER);
	char *editor = bearer("*", RK_ROLE_EDITOR);
	assert_int_equal(rk_route_delete_auth(SECRET, sl, NULL, "demo", NOW, true), 401);
	assert_int_equal(rk_route_delete_auth(SECRET, sl, all, "demo", NOW, false), 0);
	assert_int_equal(rk_route_delete_auth(SECRET, sl, team, "team-a", NOW, false), 0);
	assert_int_equal(rk_route_delete_auth(SECRET, sl, team, "demo", NOW, true), 403);
	assert_int_equal(rk_route_delete_auth(SECRET, sl, editor, "demo", NOW, true),
			 403);
	free(all);
	free(team);
	free(editor);
}

static rk_ws_args parse(const char *const *frags, size_t n)
{
	rk_ws_args a;
	memset(&a, 0x55, sizeof(a));
	rk_ws_args_parse(frags, n, &a);
	return a;
}

static void test_args(void **state)
{
	(void)state;
	const char *const f[] = {"name=alice",	"client=c1",   "since=12", "epoch=e-1",
				 "token=t.t.t", "name=second", NULL,	   "junk"};
	rk_ws_args a = parse(f, RK_ARRAY_LEN(f));
	assert_ptr_equal(a.name, f[0] + 5); /* the first one wins */
	assert_string_equal(a.client, "c1");
	assert_string_equal(a.since, "12");
	assert_string_equal(a.epoch, "e-1");
	assert_string_equal(a.token, "t.t.t");

	/* Names match whole: "names=" is not "name=". Empty values count. */
	const char *const g[] = {"names=x", "nam=y", "name", "client=", "since"};
	a = parse(g, RK_ARRAY_LEN(g));
	assert_null(a.name);
	assert_null(a.token);
	assert_string_equal(a.client, "");
	assert_null(a.since);
	assert_null(a.epoch);

	a = parse(NULL, 0);
	assert_null(a.name);
	assert_null(a.client);
}

static void test_args_caps(void **state)
{
	(void)state;
	/* A client id over RK_ID_MAX bytes is ignored (it would not fit). */
	char client[8 + RK_ID_MAX + 2], since[7 + RK_WS_SINCE_ARG + 2];
	snprintf(client, sizeof(client), "client=%0*d", RK_ID_MAX, 0);
	const char *f[] = {client};
	assert_string_equal(parse(f, 1).client + RK_ID_MAX - 1, "0");
	snprintf(client, sizeof(client), "client=%0*d", RK_ID_MAX + 1, 0);
	assert_null(parse(f, 1).client);
	/* since over its cap is absent, so a second one is taken. */
	snprintf(since, sizeof(since), "since=%0*d", RK_WS_SINCE_ARG + 1, 7);
	const char *g[] = {since, "since=5"};
	assert_string_equal(parse(g, 2).since, "5");
	snprintf(since, sizeof(since), "since=%0*d", RK_WS_SINCE_ARG, 7);
	assert_ptr_equal(parse(g, 2).since, since + 6);
}

static int identify(const char *secret, const char *const *frags, size_t n,
		    const char *room, rk_ws_identity *id, const char **why)
{
	rk_ws_args a;
	rk_ws_args_parse(frags, n, &a);
	*why = NULL;
	return rk_ws_identify(secret, secret ? strlen(secret) : 0, &a, room, NOW, id,
			      why);
}

static void test_identify_no_secret(void **state)
{
	(void)state;
	rk_ws_identity id;
	const char *why;
	const char *const none[] = {"client=x"};
	assert_int_equal(identify(NULL, none, 1, "demo", &id, &why), 0);
	assert_string_equal(id.user, "anonymous");
	assert_int_equal(id.role, RK_ROLE_EDITOR);
	const char *const empty[] = {"name="};
	assert_int_equal(identify(NULL, empty, 1, "demo", &id, &why), 0);
	assert_string_equal(id.user, "anonymous");
	const char *const named[] = {"name=Zo\xc3\xab", "token=ignored"};
	assert_int_equal(identify(NULL, named, 2, "demo", &id, &why), 0);
	assert_string_equal(id.user, "Zo\xc3\xab");
	const char *const ctrl[] = {"name=a\tb"};
	assert_int_equal(identify(NULL, ctrl, 1, "demo", &id, &why), 400);
	assert_non_null(why);
	const char *const long33[] = {"name=abcdefghijklmnopqrstuvwxyz0123456"};
	assert_int_equal(identify(NULL, long33, 1, "demo", &id, &why), 400);
	const char *const bad_utf8[] = {"name=\xc3"};
	assert_int_equal(identify(NULL, bad_utf8, 1, "demo", &id, &why), 400);
}

static void test_identify_secret(void **state)
{
	(void)state;
	rk_ws_identity id;
	const char *why;
	const char *const named[] = {"name=alice"};
	assert_int_equal(identify(SECRET, named, 1, "demo", &id, &why), 401);
	assert_string_equal(why, "token required");
	const char *const empty[] = {"token="};
	assert_int_equal(identify(SECRET, empty, 1, "demo", &id, &why), 401);

	char *t = token("team-*", "bob", RK_ROLE_VIEWER);
	char arg[4200];
	snprintf(arg, sizeof(arg), "token=%s", t);
	const char *const tok[] = {"name=mallory", arg};
	assert_int_equal(identify(SECRET, tok, 2, "team-7", &id, &why), 0);
	assert_string_equal(id.user, "bob"); /* the token names the user */
	assert_int_equal(id.role, RK_ROLE_VIEWER);
	assert_int_equal(identify(SECRET, tok, 2, "demo", &id, &why), 403);
	assert_string_equal(why, "token not valid for this room");
	free(t);

	t = token_with(SECRET, "demo", "bob", RK_ROLE_EDITOR, NOW - 1);
	snprintf(arg, sizeof(arg), "token=%s", t);
	assert_int_equal(identify(SECRET, tok, 2, "demo", &id, &why), 401);
	assert_string_equal(why, rk_token_strerror(RK_TOK_EXPIRED));
	free(t);
	assert_int_equal(identify("other", tok, 2, "demo", &id, &why), 401);
}

/* GET everywhere, OPTIONS (CORS preflight) on the API only, nothing else. */
static void test_methods(void **state)
{
	(void)state;
	const char *allow = NULL;
	assert_int_equal(rk_route_method(RK_ROUTE_HEALTHZ, RK_METHOD_GET, &allow), 0);
	assert_int_equal(rk_route_method(RK_ROUTE_HEALTHZ, RK_METHOD_OPTIONS, &allow),
			 405);
	assert_string_equal(allow, "GET");
	assert_int_equal(rk_route_method(RK_ROUTE_ROOMS, RK_METHOD_OPTIONS, &allow), 0);
	assert_int_equal(rk_route_method(RK_ROUTE_ROOMS, RK_METHOD_POST, &allow), 405);
	assert_string_equal(allow, "GET, OPTIONS");
	assert_int_equal(rk_route_method(RK_ROUTE_ROOM, RK_METHOD_POST, &allow), 405);
	assert_string_equal(allow, "GET, DELETE, OPTIONS");
	assert_int_equal(rk_route_method(RK_ROUTE_ROOM_OPS, RK_METHOD_POST, &allow), 0);
	assert_int_equal(rk_route_method(RK_ROUTE_ROOM_OPS, RK_METHOD_OPTIONS, &allow),
			 0);
	assert_int_equal(rk_route_method(RK_ROUTE_ROOM_OPS, RK_METHOD_GET, &allow), 405);
	assert_string_equal(allow, "POST, OPTIONS");
	assert_true(rk_route_is_api(RK_ROUTE_ROOM_OPS));
	/* A bad room id is 400 whatever the method (an ops path too). */
	assert_int_equal(rk_route_method(RK_ROUTE_BAD_ROOM, RK_METHOD_POST, &allow), 0);
	assert_int_equal(rk_route_method(RK_ROUTE_NOT_FOUND, RK_METHOD_DELETE, &allow),
			 405);
	assert_int_equal(rk_route_method(RK_ROUTE_WS, RK_METHOD_HEAD, &allow), 405);
	assert_true(rk_route_is_api(RK_ROUTE_BAD_ROOM));
	assert_false(rk_route_is_api(RK_ROUTE_METRICS));
}

/* {"error": code, "msg": ...}: the message escaped by the JSON encoder. */
static void test_error_body(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_http_error_body(&b, 400, "bad room id: want /ws/<room> \"x\"\n");
	assert_string_equal(b.data,
			    "{\"error\":\"bad_request\",\"msg\":\"bad room id: want "
			    "/ws/<room> \\\"x\\\"\\n\"}\n");
	rk_buf_reset(&b);
	rk_http_error_body(&b, 429, "\xff\xfe"); /* not UTF-8: left out */
	assert_string_equal(b.data, "{\"error\":\"rate_limited\",\"msg\":\"\"}\n");
	/* An endpoint's own code (POST ops), with the same escaping. */
	rk_buf_reset(&b);
	rk_http_error_body_code(&b, "bad_json", "line \"1\"\xff");
	assert_string_equal(b.data, "{\"error\":\"bad_json\",\"msg\":\"\"}\n");
	rk_buf_reset(&b);
	rk_http_error_body_code(&b, "bad_message", "k: \"x\"");
	assert_string_equal(b.data,
			    "{\"error\":\"bad_message\",\"msg\":\"k: \\\"x\\\"\"}\n");
	rk_buf_free(&b);
	static const struct {
		unsigned st;
		const char *code, *reason;
	} codes[] = {
	    {401, "unauthorized", "Unauthorized"},
	    {403, "forbidden", "Forbidden"},
	    {404, "not_found", "Not Found"},
	    {405, "method_not_allowed", "Method Not Allowed"},
	    {413, "too_large", "Payload Too Large"},
	    {426, "upgrade_required", "Upgrade Required"},
	    {503, "unavailable", "Service Unavailable"},
	    {418, "error", "Error"},
	};
	for (size_t i = 0; i < RK_ARRAY_LEN(codes); i++) {
		assert_string_equal(rk_http_error_code(codes[i].st), codes[i].code);
		assert_string_equal(rk_http_reason(codes[i].st), codes[i].reason);
	}
}

struct origin_case {
	const char *origin, *host;
	bool allowed;
};

/* Without --allow-origin: no Origin, or the same origin as the Host. */
static const struct origin_case same_origin[] = {
    {NULL, "127.0.0.1:8080", true},
    {NULL, NULL, true},
    {"http://127.0.0.1:8080", "127.0.0.1:8080", true},
    {"http://127.0.0.1:8080/", "127.0.0.1:8080", true},
    {"HTTP://Example.COM", "example.com", true},
    {"http://example.com", "example.com:80", true},
    {"https://example.com", "example.com:443", true},
    {"https://example.com:443", "example.com", true},
    {"http://example.com:443", "example.com", false},
    {"http://127.0.0.1:8081", "127.0.0.1:8080", false},
    {"http://evil.example", "127.0.0.1:8080", false},
    {"http://127.0.0.1:8080.evil", "127.0.0.1:8080", false},
    {"null", "127.0.0.1:8080", false},
    {"", "127.0.0.1:8080", false},
    {"http://127.0.0.1:8080", NULL, false},
    {"http://127.0.0.1:8080", "", false},
};

static void test_origin(void **state)
{
	(void)state;
	for (size_t i = 0; i < RK_ARRAY_LEN(same_origin); i++) {
		const struct origin_case *c = &same_origin[i];
		if (rk_origin_allowed(c->origin, c->host, NULL, 0) != c->allowed)
			fail_msg("Origin %s, Host %s: want %s",
				 c->origin ? c->origin : "(none)",
				 c->host ? c->host : "(none)",
				 c->allowed ? "allowed" : "refused");
	}
	const char *list[] = {"https://app.example.com/", "http://localhost:5173"};
	assert_true(rk_origin_allowed("https://app.example.com", "roomd:8080", list, 2));
	assert_true(rk_origin_allowed("http://LOCALHOST:5173", "roomd:8080", list, 2));
	assert_false(rk_origin_allowed("http://localhost:5174", "roomd:8080", list, 2));
	assert_false(
	    rk_origin_allowed("https://app.example.com.evil", "roomd:8080", list, 2));
	const char *star[] = {"*"};
	assert_true(rk_origin_allowed("http://anything", "roomd:8080", star, 1));
	assert_true(rk_origin_allowed("null", NULL, star, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_table),
	    cmocka_unit_test(test_methods),
	    cmocka_unit_test(test_error_body),
	    cmocka_unit_test(test_origin),
	    cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_delete_method),
	    cmocka_unit_test(test_delete_auth),
	    cmocka_unit_test(test_args),
	    cmocka_unit_test(test_args_caps),
	    cmocka_unit_test(test_identify_no_secret),
	    cmocka_unit_test(test_identify_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
