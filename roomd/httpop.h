/*
 * httpop.h - POST /v1/rooms/<room>/ops (PROTOCOL.md section 8): an app's
 * backend submits an op over HTTP and the answer waits for its commit.
 *
 * Owns one httpop per POST request: the bounded request body, and a sender
 * `conn` that room.c treats like a WebSocket member's (room_submit, the
 * pending batch, the output gate, the load queue) but that is no member: it
 * gets no events and no presence, only its own answer. conn_push and
 * conn_close on that sender land here (httpop_answer / httpop_fail) and
 * become the HTTP answer:
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
int httpop_body(conn *c, const void *in, size_t len);
/* LWS_CALLBACK_HTTP_BODY_COMPLETION: decode and submit, or answer at once. */
int httpop_complete(conn *c);
/* LWS_CALLBACK_HTTP_WRITEABLE with c->hop set: start writing the answer if
 * it is ready. Returns what the writeable callback should return. */
int httpop_writable(struct lws *wsi, conn *c);
/* LWS_CALLBACK_CLOSED_HTTP: the connection is gone (the op, if submitted,
 * still commits). */
void httpop_closed(conn *c);

/* The sender's answer (from conn_push): takes the message reference. */
struct rk_msg;
void httpop_answer(conn *sender, struct rk_msg *m);
/* The sender is refused (from conn_close): 503. */
void httpop_fail(conn *sender, int code, const char *reason);

/* Free every httpop still waiting (shutdown, after the rooms are gone) and
 * the rate-limit table. */
void httpop_shutdown(server *s);

#endif
