/*
 * route.h - roomd's request path without the socket: the decisions net.c
 * makes about an HTTP request (PROTOCOL.md section 8) and a WebSocket
 * upgrade (section 1 and 6), as pure functions of the strings libwebsockets
 * has already parsed (the path, the urldecoded query arguments, the
 * Authorization header). net.c only copies those strings out of lws and
 * acts on the answer; the fuzzers and unit tests call the same code.
 */
#ifndef RK_ROUTE_H
#define RK_ROUTE_H

#include "buf.h"
#include "rk_common.h"

/* What an HTTP GET path asks for. */
typedef enum rk_route {
	RK_ROUTE_NOT_FOUND = 0, /* 404 */
	RK_ROUTE_HEALTHZ,	/* /healthz */
	RK_ROUTE_METRICS,	/* /metrics */
	RK_ROUTE_ROOMS,		/* /v1/rooms or /v1/rooms/ */
	RK_ROUTE_ROOM,		/* /v1/rooms/<room> with a valid room id */
	RK_ROUTE_BAD_ROOM,	/* /v1/rooms/<something else>: 400 */
	RK_ROUTE_WS,		/* /ws/...: a WebSocket path asked without an
				 * upgrade: 426 */
	RK_ROUTE_ROOM_OPS,	/* /v1/rooms/<room>/ops with a valid room id (POST) */
	/* The demo page and its files (off with --no-demo: 404). */
	RK_ROUTE_DEMO_PAGE, /* / (the room comes from ?room= in the page) */
	RK_ROUTE_DEMO_SDK,  /* /roomkit.js: the JS client's browser build */
	RK_ROUTE_DEMO_JS,   /* /demo.js: the page's script */
	RK_ROUTE_DEMO_CSS,  /* /demo.css */
} rk_route;

/*
 * Route an HTTP request path (NUL-terminated, without the query string as
 * lws hands it over; NULL is treated as ""). For RK_ROUTE_ROOM the room id
 * is copied into room (at least RK_ROOM_ID_MAX + 1 bytes), which is left
 * empty otherwise. Paths compare exactly: no trailing-slash or case games
 * except "/v1/rooms/". This function can't fail.
 */
rk_route rk_route_http(const char *path, char *room);

/* True for the routes of the /v1 API (the ones a browser app calls across
 * origins, so they answer CORS). This function can't fail. */
bool rk_route_is_api(rk_route r);

/* The request methods roomd tells apart (net.c maps lws's to these). */
typedef enum rk_method {
	RK_METHOD_GET = 0,
	RK_METHOD_POST,
	RK_METHOD_OPTIONS,
	RK_METHOD_PUT,
	RK_METHOD_PATCH,
	RK_METHOD_DELETE,
	RK_METHOD_HEAD,
	RK_METHOD_OTHER,
} rk_method;

/*
 * May route r be asked with method m? Returns 0 if so, else 405 with the
 * methods it takes in *allow (a static "Allow" header value). OPTIONS is
 * taken by the API routes (CORS preflight, rk_route_is_api). This function
 * can't fail. RK_ROUTE_ROOM_OPS takes POST (and OPTIONS) only; RK_ROUTE_ROOM
 * takes GET and DELETE (and OPTIONS); a POST or DELETE to RK_ROUTE_BAD_ROOM
 * passes, to be answered 400 for its room id.
 */
unsigned rk_route_method(rk_route r, rk_method m, const char **allow);

/* The largest request body roomd reads before answering; a request
 * announcing more gets 413 and the connection is closed unread. */
#define RK_HTTP_BODY_MAX 65536

/*
 * roomd's HTTP errors: every one is answered with the JSON body
 * {"error":"<code>","msg":"<msg>"} (docs/PROTOCOL-NOTES.md, "HTTP errors").
 * rk_http_error_code: the code for a status (400 bad_request, 401
 * unauthorized, 403 forbidden, 404 not_found, 405 method_not_allowed, 413
 * too_large, 426 upgrade_required, 429 rate_limited, 500 internal, 503
 * unavailable; "error" for any other). rk_http_reason: the status line's
 * reason phrase ("Bad Request", ...; "Error" for an unknown status). Neither
 * can fail.
 */
const char *rk_http_error_code(unsigned status);
const char *rk_http_reason(unsigned status);

/* Append the JSON error body for status with msg (any bytes: JSON-escaped)
 * and a newline to b. Failure is b's sticky error. */
void rk_http_error_body(rk_buf *b, unsigned status, const char *msg);
/* The same body with an error code of the endpoint's own (POST ops:
 * "bad_json", "bad_message", ...; code is ASCII) instead of the status's. */
void rk_http_error_body_code(rk_buf *b, const char *code, const char *msg);

/*
 * The Origin check for upgrades and the /v1 API (docs/PROTOCOL-NOTES.md,
 * "Origins"). origin is the request's Origin header or NULL, host its Host
 * header or NULL, allow the --allow-origin values (n of them). Allowed: no
 * Origin (not a browser); an Origin whose host[:port] is the Host header
 * (the same origin: a page roomd served); an Origin equal to an allow entry
 * (scheme://host[:port], compared without case and without a trailing
 * "/"); anything if an entry is "*". This function can't fail.
 */
bool rk_origin_allowed(const char *origin, const char *host, const char *const *allow,
		       size_t n);

/*
 * The /v1 bearer check. authz is the Authorization header value or NULL,
 * room the room asked for, or NULL for the room list. With no secret
 * (secret_len 0) everything is allowed. Returns 0 if allowed, 401 if the
 * header is missing, not "Bearer <token>" or the token does not verify at
 * now_s, 403 if the token is valid but not an owner's or does not cover the
 * room (the list needs room "*").
 */
unsigned rk_route_auth(const void *secret, size_t secret_len, const char *authz,
		       const char *room, int64_t now_s);

/* rk_route_auth, and when allowed with a secret the token's `sub` copied
 * into user (RK_NAME_BYTES + 1 bytes; empty without a secret). */
unsigned rk_route_auth_user(const void *secret, size_t secret_len, const char *authz,
			    const char *room, int64_t now_s, char *user);

/*
 * Who may DELETE a room. With a secret: as rk_route_auth for that room (an
 * owner token covering it; 0, 401 or 403). Without one nobody is
 * authenticated, so only a client on a loopback address (from_loopback)
 * may (0), everyone else gets 403.
 */
unsigned rk_route_delete_auth(const void *secret, size_t secret_len, const char *authz,
			      const char *room, int64_t now_s, bool from_loopback);

/*
 * The query arguments of a WebSocket upgrade: pointers to the values inside
 * the caller's argument strings (lws's urldecoded "name=value" fragments),
 * NULL when absent. The first fragment with a name wins. A value longer than
 * its cap (the sizes of roomd's buffers before this module existed) is
 * treated as absent: token and name RK_WS_LONG_ARG bytes, client
 * RK_WS_CLIENT_ARG, since RK_WS_SINCE_ARG, epoch RK_WS_EPOCH_ARG.
 */
enum {
	RK_WS_LONG_ARG = 4192,
	RK_WS_CLIENT_ARG = 248,
	RK_WS_SINCE_ARG = 57,
	RK_WS_EPOCH_ARG = 121,
};

typedef struct rk_ws_args {
	const char *token;
	const char *name;
	const char *client; /* also NULL if longer than RK_ID_MAX */
	const char *since;
	const char *epoch;
} rk_ws_args;

/* Pick the arguments out of n fragments (NULL entries are skipped). This
 * function can't fail. */
void rk_ws_args_parse(const char *const *frags, size_t n, rk_ws_args *a);

/* Who an upgrade request is. */
typedef struct rk_ws_identity {
	char user[RK_NAME_BYTES + 1];
	rk_role role;
} rk_ws_identity;

/*
 * Decide who the upgrade request with arguments a is, for room (a valid
 * room id). With a secret: the token must verify at now_s (else 401) and
 * cover the room (else 403); the user and role are the token's. Without
 * one: the name (default "anonymous") must be 1-32 printable characters
 * (else 400) and the role is editor. Returns 0 and fills *id, or the HTTP
 * status with a static reason in *why.
 */
int rk_ws_identify(const void *secret, size_t secret_len, const rk_ws_args *a,
		   const char *room, int64_t now_s, rk_ws_identity *id, const char **why);

#endif
