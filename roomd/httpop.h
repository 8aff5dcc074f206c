/*
 * httpop.h - POST /v1/rooms/<room>/ops (PROTOCOL.md section 8): an app's
 * backend submits an op over HTTP and the answer waits for its commit.
 *
 * Owns one httpop per POST request: the bounded request body, and a sender
 * `conn` that room.c treats like a WebSocket member's (room_submit, the
 * pending batch, the output gate, the load queue) but that is no member: it
 * gets no events and no presence, only its own answer. conn_push and
 * conn_close on that sender land here through its sink (roomd.h
 * conn_sink: no call from the output side back into this file) and become
 * the HTTP answer:
 *   ack                          -> 200 {"t":"ack",...}
 *   reject conflict, not_found   -> 409 {"t":"reject",...}
 *   reject rate_limited          -> 429 (with Retry-After)
 *   other rejects                -> 422 {"t":"reject",...}
 *   room unavailable / shutdown  -> 503 {"error":"unavailable","msg":...}
 * The httpop outlives its HTTP connection: if the client goes away before
 * the answer, the op still commits and the httpop is freed when its answer
 * comes (nothing else points at it by then: room.c forgets a sender once it
 * has answered it). Every path that drops a pending op answers its sender
 * (room.c calls conn_close on it), so no httpop is left waiting.
 *
 * Identity: with a secret, the owner bearer token's `sub` is the user;
 * without one (/v1 is open) the `X-Roomkit-User` header (1-32 printable
 * characters, default "http"). Session "http", role owner.
 * Rate limit: a token bucket per user (--ops-per-sec / --ops-burst, as a
 * WebSocket connection's), over the limit 429 with Retry-After: 1.
 */
#ifndef ROOMD_HTTPOP_H
#define ROOMD_HTTPOP_H

#include <libwebsockets.h>
#include "rk_common.h"

typedef struct server server;
typedef struct conn conn;
typedef struct httpop httpop;

/* LWS_CALLBACK_HTTP for POST /v1/rooms/<room>/ops (route, method, Origin
 * and body size checked by net.c): authorize and start reading the body.
 * Returns 0 (c->hop set), or the HTTP status to refuse with and the reason
 * in *why. cors_origin: the Access-Control-Allow-Origin for the answer, or
 * NULL. c is the HTTP connection's conn, zeroed by the caller. */
unsigned httpop_request(server *s, struct lws *wsi, conn *c, const char *room_id,
			const char *cors_origin, const char **why);
/* LWS_CALLBACK_HTTP_BODY: append a chunk; 0, or 413 once it passes
 * --max-frame (the request is dropped; answer 413 and close). */
int httpop_body(conn *c, const void *in, size_t len) RK_WARN_UNUSED;
/* LWS_CALLBACK_HTTP_BODY_COMPLETION: decode and submit (the op's message
 * is the room's or freed here), or answer at once. Returns what the
 * callback returns (0). */
int httpop_complete(conn *c) RK_WARN_UNUSED;
/* The answer of an httpop, handed to net.c to write. */
typedef struct httpop_reply {
	unsigned status;
	char *body; /* malloc'ed: the caller's (net_http_json takes it) */
	size_t len;
	int retry_after_s; /* > 0: a Retry-After header */
	char cors[512];	   /* Access-Control-Allow-Origin, or "" */
} httpop_reply;

/* LWS_CALLBACK_HTTP_WRITEABLE with c->hop set: 0 if the answer is not
 * ready; else the httpop is freed (c->hop NULL) and 1 with the answer in
 * *out, or -1 if it had no body (out of memory: close the connection). */
int httpop_take_answer(conn *c, httpop_reply *out) RK_WARN_UNUSED;
/* LWS_CALLBACK_CLOSED_HTTP: the connection is gone (the op, if submitted,
 * still commits). */
void httpop_closed(conn *c);

/* Free every httpop still waiting (shutdown, after the rooms are gone) and
 * the rate-limit table. */
void httpop_shutdown(server *s);

#endif
