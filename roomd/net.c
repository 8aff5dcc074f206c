/*
 * net.c - libwebsockets glue: the context and vhost, the one protocol
 * callback, the upgrade gate (room id, auth, draining: refused with an HTTP
 * status before any room is touched) and the HTTP endpoints of PROTOCOL.md
 * section 8.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "clock.h"
#include "demo.h"
#include "httpop.h"
#include "log.h"
#include "conn.h"
#include "conn_in.h"
#include "conn_out.h"
#include "net.h"
#include "room.h"
#include "server.h"
#include "roomid.h"
#include "route.h"

#define HTTP_CHUNK 16384

static server *srv_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* The parts of an upgrade request route.c decides on: the room id from the
 * path and the query arguments (lws's urldecoded "name=value" fragments,
 * copied into buf). */
typedef struct ws_request {
	char room[RK_ROOM_ID_MAX + 1]; /* empty if the path is not /ws/<room> */
	rk_ws_args args;	       /* pointers into buf */
	char buf[8192];
} ws_request;

enum { WS_ARGS_MAX = 32 }; /* query arguments looked at */

static void ws_request_read(struct lws *wsi, ws_request *q)
{
	char uri[512];
	q->room[0] = '\0';
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) > 0)
		rk_roomid_from_path(uri, "/ws/", q->room);
	const char *frags[WS_ARGS_MAX];
	size_t nfrags = 0, off = 0;
	for (int i = 0; nfrags < WS_ARGS_MAX; i++) {
		/* Length 0 is an empty fragment or none; copying into a one-byte
		 * buffer tells them apart (-1: no fragment i). */
		int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		char one[1];
		if (len <= 0 &&
		    lws_hdr_copy_fragment(wsi, one, 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			break;
		if (len < 0 || (size_t)len >= sizeof(q->buf) - off)
			continue; /* too long for what is left: absent */
		int n =
		    lws_hdr_copy_fragment(wsi, q->buf + off, (int)(sizeof(q->buf) - off),
					  WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			continue;
		frags[nfrags++] = q->buf + off;
		off += (size_t)n + 1;
	}
	rk_ws_args_parse(frags, nfrags, &q->args);
}

static int ws_identity(server *s, const ws_request *q, rk_ws_identity *id,
		       const char **why)
{
	return rk_ws_identify(s->cfg.secret, s->cfg.secret_len, &q->args, q->room,
			      rk_wall_ms() / 1000, id, why);
}

/* ---- HTTP answers ------------------------------------------------------ */

/* What an HTTP answer carries besides its status and body. */
typedef struct http_extra {
	const char *allow;	 /* "Allow:" (405), or NULL */
	const char *cors_origin; /* "Access-Control-Allow-Origin:" (the request's
				  * allowed Origin on /v1), or NULL */
	int retry_after_s;	 /* > 0: "Retry-After:" (429) */
	bool upgrade;		 /* "Upgrade: websocket" (426) */
	bool close;		 /* "Connection: close" */
} http_extra;

static int add_header(struct lws *wsi, const char *name, const char *value,
		      unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					   (const unsigned char *)value,
					   (int)strlen(value), p, end);
}

/* The headers of x after the status line; nonzero if they do not fit. */
static int add_extra(struct lws *wsi, const http_extra *x, unsigned char **p,
		     unsigned char *end)
{
	char ra[16];
	snprintf(ra, sizeof(ra), "%d", x->retry_after_s);
	return (x->allow && add_header(wsi, "allow:", x->allow, p, end)) ||
	       (x->cors_origin && (add_header(wsi, "access-control-allow-origin:",
					      x->cors_origin, p, end) ||
				   add_header(wsi, "vary:", "Origin", p, end))) ||
	       (x->retry_after_s > 0 && add_header(wsi, "retry-after:", ra, p, end)) ||
	       (x->upgrade && add_header(wsi, "upgrade:", "websocket", p, end)) ||
	       (x->close && add_header(wsi, "connection:", "close", p, end));
}

/* "HTTP/1.1 <status> <reason>" at *p: lws 4.1 says HTTP/1.0 before it has
 * parsed the request's version (at CONFIRM_UPGRADE), and has no reason
 * phrase for some statuses (204). Nonzero if it does not fit. */
static int status_line(unsigned status, unsigned char **p, unsigned char *end)
{
	int n = snprintf((char *)*p, (size_t)(end - *p), "HTTP/1.1 %u %s\r\n", status,
			 rk_http_reason(status));
	if (n < 0 || n >= end - *p)
		return -1;
	*p += n;
	return 0;
}

/*
 * Answer an HTTP error: status, the JSON body {"error","msg"} (route.c) and
 * the headers of x, written whole in one lws_write. Every HTTP error roomd
 * gives goes through here: refused upgrades and the HTTP endpoints alike.
 * The status line is ours (status_line): lws's would say "HTTP/1.0" at
 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, which WebSocket clients (Python's
 * websockets) refuse to parse. Returns 0 once written, -1 if it could not be.
 */
static int http_error(struct lws *wsi, unsigned status, const char *msg,
		      const http_extra *x)
{
	unsigned char buf[LWS_PRE + 2048];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	rk_buf body;
	rk_buf_init(&body, 1024);
	rk_http_error_body(&body, status, msg);
	if (rk_buf_ok(&body) != RK_OK) {
		rk_buf_free(&body);
		return -1;
	}
	char len[24];
	snprintf(len, sizeof(len), "%zu", body.len);
	int rc = -1;
	if (status_line(status, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (const unsigned char *)"application/json", 16,
					 &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
					 (const unsigned char *)len, (int)strlen(len), &p,
					 end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    add_extra(wsi, x, &p, end) || lws_finalize_http_header(wsi, &p, end) ||
	    (size_t)(end - p) < body.len)
		goto out;
	memcpy(p, body.data, body.len);
	p += body.len;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) ==
	    (int)(p - start))
		rc = 0;
out:
	rk_buf_free(&body);
	return rc;
}

/*
 * Refuse an upgrade with an HTTP error (Connection: close); the return value
 * of LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 1 (answered: lws completes the
 * transaction, which closes), or -1 (hang up) if the answer was not written.
 * Refusals are logged through the limiter: a flood of bad requests must not
 * flood the log.
 */
static int refuse_x(server *s, struct lws *wsi, unsigned status, const char *why,
		    http_extra *x)
{
	s->m.conns_refused++;
	x->close = true;
	char addr[IPL_ADDR_MAX + 1] = "";
	lws_get_peer_simple(wsi, addr, sizeof(addr));
	rk_log_limited(&s->loglim, status == 429 ? RK_LOG_DEBUG : RK_LOG_INFO,
		       rk_mono_us(), "upgrade refused: %u %s (from %s)", status, why,
		       addr);
	return http_error(wsi, status, why, x) ? -1 : 1;
}

static int refuse(server *s, struct lws *wsi, unsigned status, const char *why)
{
	http_extra x = {0};
	return refuse_x(s, wsi, status, why, &x);
}

/* 429 with Retry-After: the per-IP limits. */
static int refuse_429(server *s, struct lws *wsi, int retry_s, const char *why)
{
	http_extra x = {.retry_after_s = retry_s};
	return refuse_x(s, wsi, 429, why, &x);
}

/* The request's header tok into out (n bytes); NULL if absent or too long. */
static const char *hdr_or_null(struct lws *wsi, enum lws_token_indexes tok, char *out,
			       int n)
{
	return lws_hdr_total_length(wsi, tok) > 0 && lws_hdr_copy(wsi, out, n, tok) > 0
		   ? out
		   : NULL;
}

enum { ORIGIN_MAX = 512 };

/* Is the request's Origin allowed (route.c's rule with --allow-origin)? The
 * Origin, if any, is copied into origin (ORIGIN_MAX bytes), else emptied. */
static bool origin_ok(server *s, struct lws *wsi, char *origin)
{
	char host[300];
	origin[0] = '\0';
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
		return true;
	if (!hdr_or_null(wsi, WSI_TOKEN_ORIGIN, origin, ORIGIN_MAX))
		return false; /* an Origin too long to be one we allow */
	return rk_origin_allowed(
	    origin, hdr_or_null(wsi, WSI_TOKEN_HOST, host, sizeof(host)),
	    (const char *const *)s->cfg.allow_origin, s->cfg.n_allow_origin);
}

/* The per-IP limits (iplimit.h): 0 to go on, else the refusal's return. */
static int gate_ip(server *s, struct lws *wsi)
{
	char addr[IPL_ADDR_MAX + 1] = "";
	lws_get_peer_simple(wsi, addr, sizeof(addr));
	int retry_s;
	switch (iplimit_admit(&s->ipl, addr, rk_mono_us(), &retry_s)) {
	case IPL_RATE:
		s->m.refused_rate++;
		return refuse_429(s, wsi, retry_s,
				  "connection rate limit for your address");
	case IPL_CONNS:
		s->m.refused_ip_conns++;
		return refuse_429(s, wsi, retry_s,
				  "too many connections from your address");
	default:
		return 0;
	}
}

static int confirm_upgrade(server *s, struct lws *wsi)
{
	if (s->draining)
		return refuse(s, wsi, 503, "server is shutting down");
	char origin[ORIGIN_MAX];
	if (!origin_ok(s, wsi, origin))
		return refuse(s, wsi, 403, "origin not allowed (roomd --allow-origin)");
	int ip = gate_ip(s, wsi);
	if (ip)
		return ip;
	ws_request q;
	ws_request_read(wsi, &q);
	if (!q.room[0])
		return refuse(s, wsi, 400,
			      "bad room id: want /ws/<room> with room matching "
			      "[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}");
	rk_ws_identity id;
	const char *why = "";
	int status = ws_identity(s, &q, &id, &why);
	if (status)
		return refuse(s, wsi, (unsigned)status, why);
	/* Cork the socket: lws writes the 101 before ESTABLISHED, and our
	 * first frame (the welcome, or a close) follows within the turn or
	 * after the room's load. Corked, both leave in one TCP segment, which
	 * saves a segment each way per connect (15 % of roomd's CPU for 10,000
	 * connects, docs/BENCHMARKS.md); conn_out.c uncorks after that frame,
	 * and the kernel sends a corked 101 by itself after 200 ms. */
	int fd = lws_get_socket_fd(wsi), on = 1;
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	return 0;
}

static void new_session(server *s, char *out)
{
	snprintf(out, RK_SESSION_MAX + 1, "%s-%llu", s->session_prefix,
		 (unsigned long long)++s->session_seq);
}

static void ws_established(server *s, conn *c, struct lws *wsi)
{
	server_conn_open(s, c, wsi);
	c->corked = true;
	s->m.conns_opened++;
	ws_request q;
	rk_ws_identity id;
	const char *why = "";
	char session[RK_SESSION_MAX + 1], ip[IPL_ADDR_MAX + 1];
	new_session(s, session);
	ws_request_read(wsi, &q);
	if (!q.room[0] || ws_identity(s, &q, &id, &why)) {
		/* Checked at the upgrade already; only a racing expiry lands here. */
		if (!conn_set_ids(c, session, NULL, NULL, NULL))
			rk_warn("conn: out of memory");
		conn_close(c, CLOSE_BAD, "refused");
		return;
	}
	const char *room_id = q.room;
	c->role = id.role;
	lws_get_peer_simple(wsi, ip, sizeof(ip));
	if (!conn_set_ids(c, session, id.user, q.args.client, ip)) {
		conn_close(c, CLOSE_INTERNAL, "out of memory");
		return;
	}
	iplimit_opened(&s->ipl, conn_ip(c)); /* server_conn_gone: closed if c->ids */
	if (s->nconns > (uint64_t)s->cfg.max_conns) {
		conn_close(c, CLOSE_OVERLOADED, "server overloaded");
		return;
	}
	room *r = server_room_get(s, room_id, true);
	if (!r) {
		conn_close(c, CLOSE_INTERNAL, "out of memory");
		return;
	}
	if (room_members(r) >= (uint32_t)s->cfg.max_room_conns) {
		conn_close(c, CLOSE_FULL, "room full");
		return;
	}
	rk_debug("conn %s open from %s to room %s as %s", conn_session(c), conn_ip(c),
		 room_id, conn_user(c));
	room_join(r, c, q.args.since, q.args.epoch);
}

/* ---- HTTP ------------------------------------------------------------- */

/* Free c's response body, if any. */
static void http_drop_body(conn *c)
{
	if (!c->http)
		return;
	free(c->http->body);
	free(c->http);
	c->http = NULL;
}

/* Make body (taken over, even on failure) c's response body, to go out
 * from HTTP_WRITEABLE. -1 if out of memory. */
static int http_set_body(conn *c, char *body, size_t len)
{
	http_drop_body(c);
	c->http = malloc(sizeof(*c->http));
	if (!c->http) {
		free(body);
		return -1;
	}
	*c->http = (http_out){.body = body, .len = len};
	return 0;
}

/* Answer status with body (taken over: freed when sent or at close); the
 * body goes out from HTTP_WRITEABLE. x may be NULL. */
static int http_answer(struct lws *wsi, conn *c, unsigned status, const char *ctype,
		       char *body, size_t len, const http_extra *x)
{
	unsigned char hdr[LWS_PRE + 1024];
	unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
	if (http_set_body(c, body, len))
		return -1;
	if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)len, &p,
					end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    (x && add_extra(wsi, x, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int http_reply(struct lws *wsi, conn *c, const char *ctype, char *body, size_t len,
		      const http_extra *x)
{
	return http_answer(wsi, c, 200, ctype, body, len, x);
}

int net_http_json(struct lws *wsi, conn *c, unsigned status, char *body, size_t len,
		  const char *cors_origin, int retry_after_s)
{
	http_extra x = {.cors_origin = cors_origin, .retry_after_s = retry_after_s};
	return http_answer(wsi, c, status, "application/json", body, len, &x);
}

static int http_text(struct lws *wsi, conn *c, const char *text)
{
	char *body = strdup(text);
	if (!body)
		return -1;
	return http_reply(wsi, c, "text/plain; charset=utf-8", body, strlen(body), NULL);
}

/*
 * Answer an HTTP request with an error (http_error); the return value of
 * LWS_CALLBACK_HTTP. lws then discards whatever body the request still has
 * coming and waits for the connection's next request, or closes it (HTTP/1.0,
 * "Connection: close", or x->close).
 */
static int http_fail(struct lws *wsi, unsigned status, const char *msg,
		     const http_extra *x)
{
	http_extra none = {0};
	if (http_error(wsi, status, msg, x ? x : &none) || (x && x->close))
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_buf(struct lws *wsi, conn *c, const char *ctype, rk_buf *b,
		    const http_extra *x)
{
	size_t len;
	char *body = rk_buf_steal(b, &len);
	if (!body)
		return http_fail(wsi, 500, "out of memory", x);
	return http_reply(wsi, c, ctype, body, len, x);
}

/* Bearer-token check for the /v1 API: 0 if allowed, else the status to answer. */
static unsigned http_auth(server *s, struct lws *wsi, const char *room_id)
{
	char hdr[4200];
	bool have = lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION) > 0;
	return rk_route_auth(s->cfg.secret, s->cfg.secret_len, have ? hdr : NULL, room_id,
			     rk_wall_ms() / 1000);
}

/* GET /metrics */
static int http_metrics(server *s, struct lws *wsi, conn *c)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	size_t loaded = server_rooms_loaded(s);
	metrics_render(&s->m, &b, s->nconns, loaded, rk_omap_count(&s->rooms) - loaded);
	metrics_render_limits(&s->m, &b, rk_omap_count(&s->ipl.map), s->ipl.table_full);
	ckpt_stats ck;
	ckpt_get_stats(s->ckpt, &ck);
	metrics_render_storage(&s->m, &b, &ck);
	if (s->wh)
		webhook_render_metrics(s->wh, &b);
	if (s->pgc)
		metrics_render_cluster(&s->m, &b, loaded, pgcommit_get_stats(s->pgc));
	return http_buf(wsi, c, "text/plain; version=0.0.4", &b, NULL);
}

/* GET /v1/rooms (auth checked) */
static int http_rooms(server *s, struct lws *wsi, conn *c, const http_extra *x)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_putc(&b, '[');
	size_t it = 0, n = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&s->rooms, &it, &e)) {
		room *r = e->val;
		if (!room_exists(r))
			continue;
		if (n++)
			rk_buf_putc(&b, ',');
		room_describe(r, &b, false);
	}
	rk_buf_puts(&b, "]\n");
	return http_buf(wsi, c, "application/json", &b, x);
}

/* GET /v1/rooms/<room> (auth checked) */
static int http_room(server *s, struct lws *wsi, conn *c, const char *room_id,
		     const http_extra *x)
{
	room *r = server_room_get(s, room_id, false);
	if (!r || !room_exists(r))
		return http_fail(wsi, 404, "no such room", x);
	/* Cluster mode: never wait for PostgreSQL on the loop. */
	if (!server_admin_may_wait(s, r))
		return http_fail(wsi, 503, "room not ready on this node; retry", x);
	/* Admin path: loads synchronously (waiting for a load in flight). */
	char err[256];
	if (room_load(r, err, sizeof(err)) != RK_OK) {
		rk_error("room %s: %s", room_id, err);
		return http_fail(wsi, 503, "room unavailable", x);
	}
	/* The state shown is the one at its seq, the durable one: with
	 * --fsync this admin path waits for the syncer too. */
	if (room_has_unsynced(r))
		server_flush_durable(s);
	rk_buf b;
	rk_buf_init(&b, 0);
	room_describe(r, &b, true);
	rk_buf_putc(&b, '\n');
	return http_buf(wsi, c, "application/json", &b, x);
}

/* The request's method: lws keeps the path under the method's token. */
static rk_method http_method(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes tok;
		rk_method m;
	} methods[] = {
	    {WSI_TOKEN_GET_URI, RK_METHOD_GET},
	    {WSI_TOKEN_POST_URI, RK_METHOD_POST},
	    {WSI_TOKEN_OPTIONS_URI, RK_METHOD_OPTIONS},
	    {WSI_TOKEN_PUT_URI, RK_METHOD_PUT},
	    {WSI_TOKEN_PATCH_URI, RK_METHOD_PATCH},
	    {WSI_TOKEN_DELETE_URI, RK_METHOD_DELETE},
	    {WSI_TOKEN_HEAD_URI, RK_METHOD_HEAD},
	};
	for (size_t i = 0; i < RK_ARRAY_LEN(methods); i++)
		if (lws_hdr_total_length(wsi, methods[i].tok) > 0)
			return methods[i].m;
	return RK_METHOD_OTHER;
}

/* The body the request announces (Content-Length), 0 if none; LLONG_MAX
 * for a value that is not a length (lws would wait for that much). */
static long long http_body_len(struct lws *wsi)
{
	char v[32];
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return 0;
	if (!hdr_or_null(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, v, sizeof(v)))
		return LLONG_MAX;
	char *endp;
	long long n = strtoll(v, &endp, 10);
	return endp == v || n < 0 ? LLONG_MAX : n;
}

/* CORS preflight of the /v1 API (OPTIONS from an allowed origin): 204. */
static int http_preflight(struct lws *wsi, const http_extra *x)
{
	unsigned char hdr[LWS_PRE + 1024];
	unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
	if (status_line(204, &p, end) ||
	    add_header(wsi, "access-control-allow-methods:", "GET, POST, DELETE", &p,
		       end) ||
	    add_header(wsi, "access-control-allow-headers:",
		       "Authorization, Content-Type, X-Roomkit-User", &p, end) ||
	    add_header(wsi, "access-control-max-age:", "600", &p, end) ||
	    add_extra(wsi, x, &p, end) ||
	    lws_add_http_header_content_length(wsi, 0, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* DELETE /v1/rooms/<room>: owner, or a loopback client without a secret. */
static int http_delete_room(server *s, struct lws *wsi, conn *c, const char *room_id,
			    const http_extra *x)
{
	char hdr[4200], addr[IPL_ADDR_MAX + 1] = "";
	bool have = lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION) > 0;
	lws_get_peer_simple(wsi, addr, sizeof(addr));
	unsigned st =
	    rk_route_delete_auth(s->cfg.secret, s->cfg.secret_len, have ? hdr : NULL,
				 room_id, rk_wall_ms() / 1000, iplimit_is_loopback(addr));
	if (st)
		return http_fail(
		    wsi, st,
		    st == 401 ? "missing or invalid bearer token "
				"(Authorization: Bearer <owner token>)"
			      : "an owner token for the room, or (without --secret-file) "
				"a loopback client",
		    x);
	char epoch[RK_EPOCH_MAX + 1];
	uint32_t closed;
	int rc = server_room_delete(s, room_id, epoch, &closed);
	if (rc == 404)
		return http_fail(wsi, 404, "no such room", x);
	if (rc)
		return http_fail(wsi, 503, "room unavailable", x);
	/* 202: the room is gone now, its files a moment later (loader thread). */
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_puts(&b, "{\"room\":");
	rk_buf_put_jstrz(&b, room_id);
	rk_buf_puts(&b, ",\"deleted\":true,\"epoch\":");
	rk_buf_put_jstrz(&b, epoch);
	rk_buf_printf(&b, ",\"connections_closed\":%u}\n", closed);
	size_t len;
	char *body = rk_buf_steal(&b, &len);
	if (!body)
		return http_fail(wsi, 500, "out of memory", x);
	return http_answer(wsi, c, 202, "application/json", body, len, x);
}

/* GET of a demo file (demo.h): a copy of the embedded bytes, sent with the
 * page's Content-Security-Policy; never cached stale (no-cache: revalidate). */
static int http_asset(struct lws *wsi, conn *c, const demo_asset *a)
{
	unsigned char hdr[LWS_PRE + 1024];
	unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
	char *body = malloc(a->len);
	if (!body)
		return -1;
	memcpy(body, a->data, a->len);
	if (http_set_body(c, body, a->len))
		return -1;
	if (lws_add_http_common_headers(wsi, 200, a->ctype, (lws_filepos_t)a->len, &p,
					end) ||
	    add_header(wsi, "content-security-policy:", DEMO_CSP, &p, end) ||
	    add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
	    add_header(wsi, "referrer-policy:", "no-referrer", &p, end) ||
	    add_header(wsi, "cache-control:", "no-cache", &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Route and answer one HTTP request; the decisions are route.c's. */
static int http_request(server *s, struct lws *wsi, conn *c, const char *uri)
{
	memset(c, 0, sizeof(*c));
	char room_id[RK_ROOM_ID_MAX + 1];
	rk_route route = rk_route_http(uri, room_id);
	http_extra x = {0};
	/* An op's body may be as large as a WebSocket frame (--max-frame). */
	long long body_max =
	    route == RK_ROUTE_ROOM_OPS ? (long long)s->cfg.max_frame : RK_HTTP_BODY_MAX;
	if (http_body_len(wsi) > body_max) {
		/* Not read: the connection is closed after the answer. */
		x.close = true;
		return http_fail(wsi, 413, "request body too large", &x);
	}
	char origin[ORIGIN_MAX];
	if (rk_route_is_api(route)) {
		if (!origin_ok(s, wsi, origin))
			return http_fail(wsi, 403,
					 "origin not allowed (roomd --allow-origin)", &x);
		x.cors_origin = origin[0] ? origin : NULL;
	}
	rk_method m = http_method(wsi);
	if (rk_route_method(route, m, &x.allow))
		return http_fail(wsi, 405, "method not allowed", &x);
	if (m == RK_METHOD_OPTIONS)
		return http_preflight(wsi, &x);
	x.allow = NULL;
	unsigned st;
	switch (route) {
	case RK_ROUTE_HEALTHZ:
		return s->draining ? http_fail(wsi, 503, "draining", NULL)
				   : http_text(wsi, c, "ok\n");
	case RK_ROUTE_METRICS:
		return http_metrics(s, wsi, c);
	case RK_ROUTE_BAD_ROOM:
		return http_fail(wsi, 400, "bad room id", &x);
	case RK_ROUTE_ROOMS:
	case RK_ROUTE_ROOM:
		if (m == RK_METHOD_DELETE) /* rk_route_method: only on a room */
			return http_delete_room(s, wsi, c, room_id, &x);
		st = http_auth(s, wsi, route == RK_ROUTE_ROOM ? room_id : NULL);
		if (st)
			return http_fail(
			    wsi, st,
			    st == 401 ? "missing or invalid bearer token "
					"(Authorization: Bearer <owner token>)"
				      : "the bearer token must have role owner and "
					"cover the room ('*' for the list)",
			    &x);
		return route == RK_ROUTE_ROOM ? http_room(s, wsi, c, room_id, &x)
					      : http_rooms(s, wsi, c, &x);
	case RK_ROUTE_ROOM_OPS: {
		const char *why = "";
		unsigned refused =
		    httpop_request(s, wsi, c, room_id, x.cors_origin, &why);
		return refused ? http_fail(wsi, refused, why, &x) : 0;
	}
	case RK_ROUTE_WS:
		x.upgrade = true;
		return http_fail(
		    wsi, 426,
		    "this is a WebSocket endpoint: connect with a WebSocket client "
		    "(ws://HOST:PORT/ws/<room>, Upgrade: websocket)",
		    &x);
	case RK_ROUTE_DEMO_PAGE:
	case RK_ROUTE_DEMO_SDK:
	case RK_ROUTE_DEMO_JS:
	case RK_ROUTE_DEMO_CSS:
		if (!s->cfg.no_demo)
			return http_asset(wsi, c, demo_asset_for(route));
		break;
	case RK_ROUTE_NOT_FOUND:
		break;
	}
	return http_fail(wsi, 404, "not found", NULL);
}

static int http_writable(struct lws *wsi, conn *c)
{
	http_out *h = c->http;
	if (!h)
		return 0;
	unsigned char buf[LWS_PRE + HTTP_CHUNK];
	size_t n = h->len - h->off;
	if (n > HTTP_CHUNK)
		n = HTTP_CHUNK;
	memcpy(buf + LWS_PRE, h->body + h->off, n);
	h->off += n;
	bool last = h->off == h->len;
	if (lws_write(wsi, buf + LWS_PRE, n,
		      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	http_drop_body(c);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int net_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		 size_t len)
{
	server *s = srv_of(wsi);
	conn *c = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if (!in || strcmp(in, "websocket") != 0)
			return refuse(s, wsi, 400,
				      "only websocket upgrades are supported");
		return confirm_upgrade(s, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		ws_established(s, c, wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		conn_rx(c, in, len);
		return 0;
	case LWS_CALLBACK_RECEIVE_PONG:
		c->last_rx_us = rk_mono_us();
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		int rc = conn_writable(c);
		if (rc != CONN_WRITABLE_GONE)
			return rc;
		server_conn_gone(c); /* lingering: its slot and room are free */
		return 0;
	}
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		c->clean_close = true;
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c->ids)
			rk_debug("conn %s closed", conn_session(c));
		server_conn_gone(c);
		conn_free_ids(c);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c)
			conn_free_ids(c); /* a conn lws never reported CLOSED for */
		return 0;
	case LWS_CALLBACK_HTTP:
		return http_request(s, wsi, c, in ? in : "");
	case LWS_CALLBACK_HTTP_BODY:
		if (c && httpop_body(c, in, len)) {
			http_extra x = {.close = true};
			return http_fail(wsi, 413, "request body larger than --max-frame",
					 &x);
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return c ? httpop_complete(c) : 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (c->hop) {
			httpop_reply a;
			int ready = httpop_take_answer(c, &a);
			if (ready <= 0)
				return ready;
			return net_http_json(wsi, c, a.status, a.body, a.len,
					     a.cors[0] ? a.cors : NULL, a.retry_after_s);
		}
		return http_writable(wsi, c);
	case LWS_CALLBACK_CLOSED_HTTP:
		if (c && !conn_is_ws(c)) {
			httpop_closed(c);
			http_drop_body(c);
		}
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    /* rx_buffer_size: how much of a frame one RECEIVE carries (conn_in.c
     * reassembles the rest). lws allocates it per connection for its whole
     * life (its rx_ubuf), so it is much of what an idle connection costs:
     * 128 holds every control frame (<= 125 bytes) and a short op in one
     * callback; a longer message is reassembled in a buffer the connection
     * keeps while active (conn_in.c). 1024 -> 256 -> 128 saved 0.9 KiB per
     * connection (docs/BENCHMARKS.md, issue 15). tx_packet_size: a whole
     * coalesced batch per send. */
    {RK_SUBPROTOCOL, net_callback, sizeof(conn), RX_CHUNK, 0, NULL, WBUF_SIZE},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_bridge(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		n--;
	if (level & LLL_ERR)
		rk_warn("lws: %.*s", (int)n, line);
	else
		rk_debug("lws: %.*s", (int)n, line);
}

/* ---- TLS ---------------------------------------------------------------- */

/* PEM password callback: never prompt (roomd may own a terminal). */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* The last OpenSSL error as text, or fallback; clears the error queue. */
static const char *ossl_reason(const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r ? r : fallback;
}

/* The first PEM object in path (flag opt, for messages): a certificate, or
 * with key an unencrypted private key. NULL with the reason in err. */
static void *read_pem(const char *opt, const char *path, bool key, char *err,
		      size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s %s: %s", opt, path, strerror(errno));
		return NULL;
	}
	void *obj = key ? (void *)PEM_read_PrivateKey(f, NULL, no_password, NULL)
			: (void *)PEM_read_X509(f, NULL, no_password, NULL);
	fclose(f);
	if (!obj)
		snprintf(err, errlen, "%s %s: not %s (%s)", opt, path,
			 key ? "an unencrypted PEM private key" : "a PEM certificate",
			 ossl_reason(key ? "no key found" : "no certificate found"));
	return obj;
}

int net_tls_check(const roomd_config *cfg, char *err, size_t errlen)
{
	if (!cfg->tls_cert)
		return 0;
	int rc = -1;
	EVP_PKEY *k = NULL;
	X509 *x = read_pem("--tls-cert", cfg->tls_cert, false, err, errlen);
	if (!x || !(k = read_pem("--tls-key", cfg->tls_key, true, err, errlen)))
		goto out;
	if (X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "--tls-key %s does not match the certificate in %s",
			 cfg->tls_key, cfg->tls_cert);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		rk_warn("--tls-cert %s has expired: clients will refuse it",
			cfg->tls_cert);
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

int net_start(server *s)
{
	lws_set_log_level(LLL_ERR | (s->cfg.log_level >= RK_LOG_DEBUG ? LLL_WARN : 0),
			  lws_log_bridge);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = s->cfg.port; /* 0: the kernel picks a free port */
	info.iface = s->cfg.host;
	info.protocols = protocols;
	info.user = s;
	/* lws on our libuv loop: epoll instead of poll() over every fd. */
	void *foreign_loops[1] = {&s->loop};
	info.foreign_loops = foreign_loops;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_LIBUV;
	/* No fd_limit_per_thread: below the process limit (main.c raises it)
	 * lws 4.1 falls back to a linear fd lookup. No validity timer per
	 * connection either: server.c pings and times out idle peers itself, and
	 * lws 4.1 keeps timers in one sorted list whose insert walks it, which
	 * made a burst of N connects cost O(N^2). */
	static const lws_retry_bo_t no_validity_timer = {
	    .secs_since_valid_ping = 0,
	    .secs_since_valid_hangup = 0,
	};
	info.retry_and_idle_policy = &no_validity_timer;
	/* lws drops a connection that has not completed its HTTP request or
	 * upgrade in this time, however slowly it trickles bytes (slowloris). */
	info.timeout_secs = (unsigned)s->cfg.handshake_timeout_s;
	info.timeout_secs_ah_idle = (unsigned)s->cfg.handshake_timeout_s;
	info.max_http_header_pool = 256;
	info.pt_serv_buf_size = 32768;
	if (s->cfg.tls_cert) {
		/* The port speaks TLS only. HTTP/1.1 only (no h2 in ALPN): conn_out.c
		 * writes pre-framed WebSocket frames as raw bytes, which is right
		 * on an HTTP/1.1 connection and wrong inside an h2 stream. */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = s->cfg.tls_cert;
		info.ssl_private_key_filepath = s->cfg.tls_key;
		info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
		info.alpn = "http/1.1";
	}
	s->lws = lws_create_context(&info);
	if (!s->lws) {
		rk_error("cannot listen on %s:%d%s", s->cfg.host, s->cfg.port,
			 s->cfg.tls_cert ? " with TLS" : "");
		return -1;
	}
	s->vhost = lws_get_vhost_by_name(s->lws, "default");
	int port = s->vhost ? lws_get_vhost_listen_port(s->vhost) : s->cfg.port;
	s->cfg.port = port;
	return 0;
}
