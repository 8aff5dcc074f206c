/* route.c - roomd's HTTP routing and upgrade decisions, without lws
 * (see route.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "json.h"
#include "roomid.h"
#include "route.h"
#include "token.h"

rk_route rk_route_http(const char *path, char *room)
{
	room[0] = '\0';
	if (!path)
		path = "";
	static const struct {
		const char *path;
		rk_route route;
	} demo[] = {{"/", RK_ROUTE_DEMO_PAGE},
		    {"/roomkit.js", RK_ROUTE_DEMO_SDK},
		    {"/demo.js", RK_ROUTE_DEMO_JS},
		    {"/demo.css", RK_ROUTE_DEMO_CSS}};
	for (size_t i = 0; i < RK_ARRAY_LEN(demo); i++)
		if (strcmp(path, demo[i].path) == 0)
			return demo[i].route;
	if (strcmp(path, "/healthz") == 0)
		return RK_ROUTE_HEALTHZ;
	if (strcmp(path, "/metrics") == 0)
		return RK_ROUTE_METRICS;
	if (strcmp(path, "/v1/rooms") == 0 || strcmp(path, "/v1/rooms/") == 0)
		return RK_ROUTE_ROOMS;
	size_t n = strlen(path);
	if (strncmp(path, "/v1/rooms/", 10) == 0 && n > 14 &&
	    strcmp(path + n - 4, "/ops") == 0 && !memchr(path + 10, '?', n - 14)) {
		/* /v1/rooms/<room>/ops: the room id is what lies between. */
		char id[RK_ROOM_ID_MAX + 12];
		size_t len = n - 14;
		if (len >= sizeof(id) - 10)
			return RK_ROUTE_BAD_ROOM;
		memcpy(id, "/v1/rooms/", 10);
		memcpy(id + 10, path + 10, len);
		id[10 + len] = '\0';
		return rk_roomid_from_path(id, "/v1/rooms/", room) ? RK_ROUTE_ROOM_OPS
								   : RK_ROUTE_BAD_ROOM;
	}
	if (strncmp(path, "/v1/rooms/", 10) == 0)
		return rk_roomid_from_path(path, "/v1/rooms/", room) ? RK_ROUTE_ROOM
								     : RK_ROUTE_BAD_ROOM;
	if (strncmp(path, "/ws/", 4) == 0)
		return RK_ROUTE_WS;
	return RK_ROUTE_NOT_FOUND;
}

bool rk_route_is_api(rk_route r)
{
	return r == RK_ROUTE_ROOMS || r == RK_ROUTE_ROOM || r == RK_ROUTE_BAD_ROOM ||
	       r == RK_ROUTE_ROOM_OPS;
}

unsigned rk_route_method(rk_route r, rk_method m, const char **allow)
{
	bool api = rk_route_is_api(r);
	if (r == RK_ROUTE_ROOM_OPS) {
		*allow = "POST, OPTIONS";
		return m == RK_METHOD_POST || m == RK_METHOD_OPTIONS ? 0 : 405;
	}
	if (r == RK_ROUTE_ROOM) {
		*allow = "GET, DELETE, OPTIONS";
		bool ok =
		    m == RK_METHOD_GET || m == RK_METHOD_DELETE || m == RK_METHOD_OPTIONS;
		return ok ? 0 : 405;
	}
	*allow = api ? "GET, OPTIONS" : "GET";
	if (r == RK_ROUTE_BAD_ROOM && (m == RK_METHOD_POST || m == RK_METHOD_DELETE))
		return 0; /* answered 400: the room id is what is wrong */
	if (m == RK_METHOD_GET || (api && m == RK_METHOD_OPTIONS))
		return 0;
	return 405;
}

static const struct {
	unsigned status;
	const char *code;
	const char *reason;
} http_errors[] = {
    {400, "bad_request", "Bad Request"},
    {401, "unauthorized", "Unauthorized"},
    {403, "forbidden", "Forbidden"},
    {404, "not_found", "Not Found"},
    {405, "method_not_allowed", "Method Not Allowed"},
    {413, "too_large", "Payload Too Large"},
    {426, "upgrade_required", "Upgrade Required"},
    {429, "rate_limited", "Too Many Requests"},
    {500, "internal", "Internal Server Error"},
    {503, "unavailable", "Service Unavailable"},
};

const char *rk_http_error_code(unsigned status)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(http_errors); i++)
		if (http_errors[i].status == status)
			return http_errors[i].code;
	return "error";
}

const char *rk_http_reason(unsigned status)
{
	if (status == 200)
		return "OK";
	if (status == 204)
		return "No Content";
	for (size_t i = 0; i < RK_ARRAY_LEN(http_errors); i++)
		if (http_errors[i].status == status)
			return http_errors[i].reason;
	return "Error";
}

void rk_http_error_body(rk_buf *b, unsigned status, const char *msg)
{
	rk_http_error_body_code(b, rk_http_error_code(status), msg);
}

void rk_http_error_body_code(rk_buf *b, const char *code, const char *msg)
{
	rk_buf_puts(b, "{\"error\":");
	rk_buf_put_jstrz(b, code);
	rk_buf_puts(b, ",\"msg\":");
	/* msg may carry what a client sent: escaped, and never invalid UTF-8
	 * (rk_buf_put_jstr assumes valid UTF-8). */
	const char *m = msg ? msg : "";
	rk_buf_put_jstr(b, m, rk_utf8_valid(m, strlen(m)) ? strlen(m) : 0);
	rk_buf_puts(b, "}\n");
}

/* s without a trailing "/" and its length. */
static size_t origin_len(const char *s)
{
	size_t n = strlen(s);
	return n && s[n - 1] == '/' ? n - 1 : n;
}

/* The host[:port] of an origin "scheme://host[:port]", without the scheme's
 * default port, into out; false if origin has no "://". */
static bool origin_authority(const char *origin, char *out, size_t outlen, bool *https)
{
	const char *sep = strstr(origin, "://");
	if (!sep)
		return false;
	*https = (size_t)(sep - origin) == 5 && strncasecmp(origin, "https", 5) == 0;
	size_t n = origin_len(sep + 3);
	if (n >= outlen)
		return false;
	memcpy(out, sep + 3, n);
	out[n] = '\0';
	const char *dflt = *https ? ":443" : ":80";
	size_t dl = strlen(dflt);
	if (n > dl && strcmp(out + n - dl, dflt) == 0)
		out[n - dl] = '\0';
	return true;
}

bool rk_origin_allowed(const char *origin, const char *host, const char *const *allow,
		       size_t n)
{
	if (!origin)
		return true;
	size_t ol = origin_len(origin);
	for (size_t i = 0; i < n; i++) {
		if (!allow[i])
			continue;
		if (strcmp(allow[i], "*") == 0)
			return true;
		if (origin_len(allow[i]) == ol && strncasecmp(allow[i], origin, ol) == 0)
			return true;
	}
	char auth[300], h[300];
	bool https;
	if (!host || !*host || !origin_authority(origin, auth, sizeof(auth), &https) ||
	    !auth[0])
		return false;
	/* The Host header with the same scheme default dropped. */
	snprintf(h, sizeof(h), "%s", host);
	const char *dflt = https ? ":443" : ":80";
	size_t hl = strlen(h), dl = strlen(dflt);
	if (hl > dl && strcmp(h + hl - dl, dflt) == 0)
		h[hl - dl] = '\0';
	return strcasecmp(auth, h) == 0;
}

static bool have_secret(const void *secret, size_t secret_len)
{
	return secret && secret_len;
}

unsigned rk_route_auth(const void *secret, size_t secret_len, const char *authz,
		       const char *room, int64_t now_s)
{
	char user[RK_NAME_BYTES + 1];
	return rk_route_auth_user(secret, secret_len, authz, room, now_s, user);
}

unsigned rk_route_auth_user(const void *secret, size_t secret_len, const char *authz,
			    const char *room, int64_t now_s, char *user)
{
	user[0] = '\0';
	if (!have_secret(secret, secret_len))
		return 0;
	if (!authz || strncmp(authz, "Bearer ", 7) != 0)
		return 401;
	rk_claims cl;
	if (rk_token_verify(secret, secret_len, authz + 7, strlen(authz + 7), now_s,
			    &cl) != RK_TOK_OK)
		return 401;
	if (cl.role != RK_ROLE_OWNER)
		return 403;
	if (room ? !rk_token_covers(&cl, room) : strcmp(cl.room, "*") != 0)
		return 403;
	snprintf(user, RK_NAME_BYTES + 1, "%s", cl.sub);
	return 0;
}

unsigned rk_route_delete_auth(const void *secret, size_t secret_len, const char *authz,
			      const char *room, int64_t now_s, bool from_loopback)
{
	if (!have_secret(secret, secret_len))
		return from_loopback ? 0 : 403;
	return rk_route_auth(secret, secret_len, authz, room, now_s);
}

/* The value of fragment f if it is "<name>=<value>" with a value of at most
 * cap bytes, else NULL. */
static const char *arg_value(const char *f, const char *name, size_t cap)
{
	size_t n = strlen(name);
	if (strncmp(f, name, n) != 0 || f[n] != '=')
		return NULL;
	return strnlen(f + n + 1, cap + 1) <= cap ? f + n + 1 : NULL;
}

void rk_ws_args_parse(const char *const *frags, size_t n, rk_ws_args *a)
{
	memset(a, 0, sizeof(*a));
	static const struct {
		const char *name;
		size_t cap;
		size_t off;
	} args[] = {
	    {"token", RK_WS_LONG_ARG, offsetof(rk_ws_args, token)},
	    {"name", RK_WS_LONG_ARG, offsetof(rk_ws_args, name)},
	    {"client", RK_WS_CLIENT_ARG, offsetof(rk_ws_args, client)},
	    {"since", RK_WS_SINCE_ARG, offsetof(rk_ws_args, since)},
	    {"epoch", RK_WS_EPOCH_ARG, offsetof(rk_ws_args, epoch)},
	};
	for (size_t i = 0; i < n; i++) {
		if (!frags || !frags[i])
			continue;
		for (size_t k = 0; k < RK_ARRAY_LEN(args); k++) {
			const char **slot = (const char **)((char *)a + args[k].off);
			const char *v;
			if (!*slot &&
			    (v = arg_value(frags[i], args[k].name, args[k].cap)))
				*slot = v;
		}
	}
	if (a->client && strlen(a->client) > RK_ID_MAX)
		a->client = NULL;
}

int rk_ws_identify(const void *secret, size_t secret_len, const rk_ws_args *a,
		   const char *room, int64_t now_s, rk_ws_identity *id, const char **why)
{
	if (have_secret(secret, secret_len)) {
		if (!a->token || !*a->token) {
			*why = "token required";
			return 401;
		}
		rk_claims cl;
		rk_token_err te = rk_token_verify(secret, secret_len, a->token,
						  strlen(a->token), now_s, &cl);
		if (te != RK_TOK_OK) {
			*why = rk_token_strerror(te);
			return 401;
		}
		if (!rk_token_covers(&cl, room)) {
			*why = "token not valid for this room";
			return 403;
		}
		snprintf(id->user, sizeof(id->user), "%s", cl.sub);
		id->role = cl.role;
		return 0;
	}
	const char *name = a->name && *a->name ? a->name : "anonymous";
	if (!rk_text_printable(name, strlen(name), RK_NAME_MAX)) {
		*why = "name must be 1-32 printable characters";
		return 400;
	}
	snprintf(id->user, sizeof(id->user), "%s", name);
	id->role = RK_ROLE_EDITOR;
	return 0;
}
