/*
 * fuzz_http.c - roomd's HTTP request path: rk_route_http (which endpoint a
 * GET path is), rk_route_auth (the /v1 bearer check), with and without a
 * secret, and DELETE: rk_route_action and rk_route_delete_auth.
 *
 * Input: "<path>\n<Authorization header value>" (no '\n': no header).
 * Invariants: only /v1/rooms/<valid id> routes to a room, with that id;
 * anything else under /v1/rooms/ is a 400, never a room; without a secret
 * everything is allowed; with one the answer is 0, 401 or 403, a 0 only for
 * an owner token that covers the room ("*" for the list), and a request
 * without a header is a 401. /ws/... without an upgrade is a 426 route.
 * Every route takes GET and nothing but GET and (API routes) OPTIONS.
 * The JSON error body of any message parses back to that message (valid
 * UTF-8) with the status's code. The Origin check (path as Origin, the
 * header part as Host): no Origin, '*' and an exact allow entry always
 * pass; without a Host and an allow list nothing else does. The demo files
 * are served for their exact paths only ("/", "/roomkit.js", "/demo.js",
 * "/demo.css"): no prefix, suffix or dot-segment reaches them.
 */
#include <string.h>
#include "buf.h"
#include "fuzz.h"
#include "json.h"
#include "roomid.h"
#include "route.h"
#include "token.h"

static void check_auth(const char *authz, const char *room)
{
	const size_t sl = strlen(FUZZ_SECRET);
	FUZZ_CHECK(rk_route_auth(NULL, 0, authz, room, FUZZ_NOW_S) == 0);
	unsigned st = rk_route_auth(FUZZ_SECRET, sl, authz, room, FUZZ_NOW_S);
	FUZZ_CHECK(st == 0 || st == 401 || st == 403);
	if (!authz)
		FUZZ_CHECK(st == 401);
	if (st == 0) {
		rk_claims c;
		FUZZ_CHECK(strncmp(authz, "Bearer ", 7) == 0);
		FUZZ_CHECK(rk_token_verify(FUZZ_SECRET, sl, authz + 7, strlen(authz + 7),
					   FUZZ_NOW_S, &c) == RK_TOK_OK);
		FUZZ_CHECK(c.role == RK_ROLE_OWNER);
		FUZZ_CHECK(room ? rk_token_covers(&c, room) : strcmp(c.room, "*") == 0);
	}
}

static void check_methods(rk_route r)
{
	for (int m = RK_METHOD_GET; m <= RK_METHOD_OTHER; m++) {
		const char *allow = NULL;
		unsigned st = rk_route_method(r, (rk_method)m, &allow);
		bool ops = r == RK_ROUTE_ROOM_OPS;
		FUZZ_CHECK(allow &&
			   strncmp(allow, ops ? "POST" : "GET", ops ? 4 : 3) == 0);
		bool ok = ops ? m == RK_METHOD_POST || m == RK_METHOD_OPTIONS
			      : m == RK_METHOD_GET ||
				    (m == RK_METHOD_OPTIONS && rk_route_is_api(r)) ||
				    (m == RK_METHOD_DELETE &&
				     (r == RK_ROUTE_ROOM || r == RK_ROUTE_BAD_ROOM)) ||
				    (m == RK_METHOD_POST && r == RK_ROUTE_BAD_ROOM);
		FUZZ_CHECK(ok ? st == 0 : st == 405);
	}
}

static void check_error_body(const char *msg, size_t size)
{
	unsigned status = 400 + (unsigned)(size % 120);
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_http_error_body(&b, status, msg);
	FUZZ_CHECK(rk_buf_ok(&b) == RK_OK && b.len && b.data[b.len - 1] == '\n');
	cJSON *j = cJSON_ParseWithLength(b.data, b.len);
	FUZZ_CHECK(j);
	const cJSON *e = cJSON_GetObjectItem(j, "error");
	const cJSON *m = cJSON_GetObjectItem(j, "msg");
	FUZZ_CHECK(cJSON_IsString(e) &&
		   strcmp(e->valuestring, rk_http_error_code(status)) == 0);
	FUZZ_CHECK(cJSON_IsString(m));
	if (rk_utf8_valid(msg, strlen(msg)))
		FUZZ_CHECK(strcmp(m->valuestring, msg) == 0);
	cJSON_Delete(j);
	rk_buf_free(&b);
}

static void check_origin(const char *origin, const char *host)
{
	const char *star[] = {"*"};
	const char *self[] = {origin};
	FUZZ_CHECK(rk_origin_allowed(NULL, host, NULL, 0));
	FUZZ_CHECK(rk_origin_allowed(origin, host, star, 1));
	FUZZ_CHECK(rk_origin_allowed(origin, host, self, 1));
	FUZZ_CHECK(!rk_origin_allowed(origin, NULL, NULL, 0));
	(void)rk_origin_allowed(origin, host, NULL, 0);
}

/* Deleting: without a secret only loopback, with one exactly the owner
 * check for the room. */
static void check_delete_auth(const char *authz, const char *room)
{
	const size_t sl = strlen(FUZZ_SECRET);
	FUZZ_CHECK(rk_route_delete_auth(NULL, 0, authz, room, FUZZ_NOW_S, true) == 0);
	FUZZ_CHECK(rk_route_delete_auth(NULL, 0, authz, room, FUZZ_NOW_S, false) == 403);
	for (int lo = 0; lo < 2; lo++)
		FUZZ_CHECK(
		    rk_route_delete_auth(FUZZ_SECRET, sl, authz, room, FUZZ_NOW_S, lo) ==
		    rk_route_auth(FUZZ_SECRET, sl, authz, room, FUZZ_NOW_S));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	char *authz = strchr(s, '\n');
	if (authz)
		*authz++ = '\0';
	char room[RK_ROOM_ID_MAX + 1];
	rk_route r = rk_route_http(s, room);
	bool under_rooms = strncmp(s, "/v1/rooms/", 10) == 0;
	/* What follows /v1/rooms/, up to a query string. */
	size_t idn = under_rooms ? strcspn(s + 10, "?") : 0;
	switch (r) {
	case RK_ROUTE_ROOM:
		FUZZ_CHECK(under_rooms && rk_roomid_validz(room) && strlen(room) == idn &&
			   memcmp(room, s + 10, idn) == 0);
		check_auth(authz, room);
		check_delete_auth(authz, room);
		break;
	case RK_ROUTE_ROOMS:
		FUZZ_CHECK(room[0] == '\0');
		check_auth(authz, NULL);
		break;
	case RK_ROUTE_ROOM_OPS:
		FUZZ_CHECK(under_rooms && rk_roomid_validz(room) &&
			   idn == strlen(room) + 4 &&
			   memcmp(room, s + 10, strlen(room)) == 0 &&
			   strcmp(s + 10 + strlen(room), "/ops") == 0);
		check_auth(authz, room);
		break;
	case RK_ROUTE_BAD_ROOM:
		FUZZ_CHECK(under_rooms && room[0] == '\0' &&
			   !rk_roomid_valid(s + 10, idn));
		break;
	case RK_ROUTE_WS:
		FUZZ_CHECK(strncmp(s, "/ws/", 4) == 0 && room[0] == '\0');
		break;
	case RK_ROUTE_HEALTHZ:
	case RK_ROUTE_METRICS:
	case RK_ROUTE_NOT_FOUND:
		FUZZ_CHECK(room[0] == '\0' && !under_rooms);
		break;
	case RK_ROUTE_DEMO_PAGE:
	case RK_ROUTE_DEMO_SDK:
	case RK_ROUTE_DEMO_JS:
	case RK_ROUTE_DEMO_CSS:
		FUZZ_CHECK(room[0] == '\0' &&
			   (strcmp(s, "/") == 0 || strcmp(s, "/roomkit.js") == 0 ||
			    strcmp(s, "/demo.js") == 0 || strcmp(s, "/demo.css") == 0));
		break;
	}
	check_methods(r);
	check_error_body(s, size);
	check_origin(s, authz);
	/* DELETE only ever passes for a room path (a bad id is then 400). */
	const char *allow_del = NULL;
	FUZZ_CHECK((rk_route_method(r, RK_METHOD_DELETE, &allow_del) == 0) ==
		   (r == RK_ROUTE_ROOM || r == RK_ROUTE_BAD_ROOM));
	free(s);
	return 0;
}
