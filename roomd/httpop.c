/* httpop.c - POST /v1/rooms/<room>/ops (see httpop.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "httpop.h"
#include "conn.h"
#include "json.h"
#include "log.h"
#include "roomd.h"
#include "server.h"
#include "room.h"
#include "route.h"

#define BUCKETS_MAX 4096 /* rate-limit entries kept; then the table restarts */

struct httpop {
	conn sender; /* what room.c sees; sender.hop == this */
	conn *http;  /* the HTTP connection; NULL once it closed */
	struct lws *wsi;
	server *srv;
	char room[RK_ROOM_ID_MAX + 1];
	rk_buf body;
	bool submitted;	 /* handed to room_submit: an answer will come */
	unsigned status; /* the answer, once there (0: not yet) */
	char *answer;
	size_t answer_len;
	bool retry_after;
	char cors[512];	     /* Access-Control-Allow-Origin of the answer, or "" */
	httpop *next, *prev; /* every live httpop (shutdown) */
};

typedef struct bucket {
	double tokens;
	int64_t at_us;
} bucket;

static httpop *all_ops;
static rk_omap buckets;
static bool buckets_init;

static void unlink_op(httpop *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		all_ops = h->next;
	if (h->next)
		h->next->prev = h->prev;
}

static void op_free(httpop *h)
{
	unlink_op(h);
	rk_buf_free(&h->body);
	free(h->answer);
	conn_free_ids(&h->sender);
	free(h);
}

/* Set the answer (takes body) and have it written; frees h if its
 * connection is gone. */
static void set_answer(httpop *h, unsigned status, char *body, size_t len)
{
	if (h->status) { /* one answer per request; cannot happen */
		free(body);
		return;
	}
	h->status = status;
	h->answer = body;
	h->answer_len = len;
	if (!h->http) {
		op_free(h);
		return;
	}
	lws_callback_on_writable(h->wsi);
}

/* {"error":code,"msg":msg} and a newline, malloc'd (NULL if out of memory). */
static char *json_error(const char *code, const char *msg, size_t *len)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_http_error_body_code(&b, code, msg);
	*len = 0;
	return rk_buf_steal(&b, len);
}

static void answer_json_error(httpop *h, unsigned status, const char *code,
			      const char *msg)
{
	size_t len;
	char *body = json_error(code, msg, &len);
	set_answer(h, status, body, body ? len : 0);
}

/* The answer's status for a reply the room produced for the sender. */
static unsigned reply_status(const char *payload, size_t len, bool *retry)
{
	rk_smsg sm;
	char err[128];
	*retry = false;
	if (rk_smsg_decode(payload, len, false, &sm, err, sizeof(err)) != RK_OK)
		return 500;
	unsigned st = 500;
	if (sm.t == RK_S_ACK)
		st = 200;
	else if (sm.t == RK_S_ERROR)
		st = 400;
	else if (sm.t == RK_S_REJECT) {
		switch (sm.reject) {
		case RK_REJ_CONFLICT:
		case RK_REJ_NOT_FOUND:
			st = 409;
			break;
		case RK_REJ_RATE_LIMITED:
			st = 429;
			*retry = true;
			break;
		default:
			st = 422;
			break;
		}
	}
	rk_smsg_free(&sm);
	return st;
}

/* The sender's answer (its sink's push): takes the message reference. */
static void httpop_answer(conn *sender, rk_msg *m)
{
	httpop *h = sender->hop;
	const char *p = (const char *)msg_payload(m);
	bool retry;
	unsigned st = reply_status(p, m->len, &retry);
	char *body = malloc((size_t)m->len + 2);
	if (body) {
		memcpy(body, p, m->len);
		body[m->len] = '\n';
		body[m->len + 1] = '\0';
	}
	size_t len = (size_t)m->len + 1;
	msg_unref(m);
	h->retry_after = retry;
	set_answer(h, body ? st : 500, body, body ? len : 0);
}

/* The sender is refused (its sink's close): 503. */
static void httpop_fail(conn *sender, int code, const char *reason)
{
	httpop *h = sender->hop;
	rk_info("http op for room %s refused: %d %s", h->room, code, reason);
	answer_json_error(h, 503, "unavailable", reason);
}

/* Where the room actor's conn_push / conn_close on a sender land. */
static const conn_sink sender_sink = {.push = httpop_answer, .close = httpop_fail};

/* ---- the request ------------------------------------------------------ */

/* Who posts: the token's sub, or without a secret X-Roomkit-User / "http".
 * 0, or the status to refuse with (why set). */
static unsigned identify(server *s, struct lws *wsi, const char *room_id, char *user,
			 const char **why)
{
	char hdr[4200];
	bool have = lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION) > 0;
	unsigned st =
	    rk_route_auth_user(s->cfg.secret, s->cfg.secret_len, have ? hdr : NULL,
			       room_id, rk_wall_ms() / 1000, user);
	if (st) {
		*why = st == 401
			   ? "missing or invalid bearer token (Authorization: Bearer "
			     "<owner token>)"
			   : "the bearer token must have role owner and cover the room";
		return st;
	}
	if (user[0])
		return 0;
	if (lws_hdr_custom_length(wsi, "x-roomkit-user:", 15) < 0) {
		strcpy(user, "http");
		return 0;
	}
	int n = lws_hdr_custom_copy(wsi, hdr, sizeof(hdr), "x-roomkit-user:", 15);
	if (n <= 0 || !rk_text_printable(hdr, (size_t)n, RK_NAME_MAX)) {
		*why = "X-Roomkit-User must be 1-32 printable characters";
		return 400;
	}
	size_t len = (size_t)n > RK_NAME_BYTES ? RK_NAME_BYTES : (size_t)n;
	memcpy(user, hdr, len);
	user[len] = '\0';
	return 0;
}

unsigned httpop_request(server *s, struct lws *wsi, conn *c, const char *room_id,
			const char *cors_origin, const char **why)
{
	if (s->draining) {
		*why = "server is shutting down";
		return 503;
	}
	char user[RK_NAME_BYTES + 1];
	unsigned st = identify(s, wsi, room_id, user, why);
	if (st)
		return st;
	httpop *h = calloc(1, sizeof(*h));
	if (!h) {
		*why = "out of memory";
		return 500;
	}
	h->srv = s;
	h->http = c;
	h->wsi = wsi;
	snprintf(h->room, sizeof(h->room), "%s", room_id);
	snprintf(h->cors, sizeof(h->cors), "%s", cors_origin ? cors_origin : "");
	rk_buf_init(&h->body, s->cfg.max_frame);
	h->sender.srv = s;
	h->sender.hop = h;
	h->sender.sink = &sender_sink;
	h->sender.role = RK_ROLE_OWNER;
	if (!conn_set_ids(&h->sender, "http", user, NULL, NULL)) {
		free(h);
		*why = "out of memory";
		return 500;
	}
	h->next = all_ops;
	if (all_ops)
		all_ops->prev = h;
	all_ops = h;
	c->hop = h;
	return 0;
}

int httpop_body(conn *c, const void *in, size_t len)
{
	httpop *h = c->hop;
	if (!h || h->submitted || h->status)
		return 0;
	if (h->body.len + len > h->srv->cfg.max_frame) {
		c->hop = NULL;
		op_free(h);
		return 413;
	}
	rk_buf_put(&h->body, in, len);
	return 0;
}

/* Token bucket per user: true if an op may pass now. */
static bool take_token(server *s, const char *user)
{
	if (!buckets_init) {
		rk_omap_init(&buckets);
		buckets_init = true;
	}
	int64_t now = rk_mono_us();
	size_t klen = strlen(user);
	bucket *b = rk_omap_get(&buckets, user, klen);
	if (!b) {
		if (rk_omap_count(&buckets) >= BUCKETS_MAX) {
			size_t it = 0;
			const rk_omap_entry *e;
			while (rk_omap_next(&buckets, &it, &e))
				free(e->val);
			rk_omap_clear(&buckets);
		}
		b = malloc(sizeof(*b));
		if (!b)
			return true;
		b->tokens = s->cfg.ops_burst;
		b->at_us = now;
		if (rk_omap_put(&buckets, user, klen, b) != RK_OK) {
			free(b);
			return true;
		}
	}
	b->tokens += (double)(now - b->at_us) * s->cfg.ops_per_sec / 1e6;
	b->at_us = now;
	if (b->tokens > s->cfg.ops_burst)
		b->tokens = s->cfg.ops_burst;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

static void answer_reject(httpop *h, const char *id, rk_reject rej, const char *msg)
{
	server *s = h->srv;
	s->m.rejects[rej]++;
	rk_buf_reset(&s->scratch);
	rk_enc_reject(&s->scratch, id, rej, msg);
	rk_msg *m = rk_buf_ok(&s->scratch) == RK_OK
			? msg_new(s->scratch.data, s->scratch.len, false)
			: NULL;
	if (m)
		httpop_answer(&h->sender, m);
	else
		answer_json_error(h, 500, "internal", "out of memory");
}

int httpop_complete(conn *c)
{
	httpop *h = c->hop;
	if (!h || h->submitted || h->status)
		return 0;
	server *s = h->srv;
	rk_cmsg m;
	rk_reject rej = RK_REJ_NONE;
	char msg[RK_MSG_MSG_MAX + 1];
	rk_err rc = rk_cmsg_decode_op_body(h->body.data ? h->body.data : "", h->body.len,
					   s->cfg.max_frame, &m, &rej, msg, sizeof(msg));
	if (rc == RK_EREJECT) {
		answer_reject(h, m.id, rej, msg);
		rk_cmsg_free(&m);
		return 0;
	}
	if (rc != RK_OK) {
		answer_json_error(h, 400, rc == RK_EBADJSON ? "bad_json" : "bad_message",
				  msg);
		return 0;
	}
	if (!take_token(s, conn_user(&h->sender))) {
		answer_reject(h, m.id, RK_REJ_RATE_LIMITED, "op rate limit exceeded");
		rk_cmsg_free(&m);
		return 0;
	}
	room *r = server_room_get(s, h->room, true);
	if (!r) {
		rk_cmsg_free(&m);
		answer_json_error(h, 503, "unavailable", "out of memory");
		return 0;
	}
	h->submitted = true;
	s->m.http_ops++;
	room_submit(r, &h->sender, &m);
	rk_cmsg_free(&m);
	return 0;
}

int httpop_take_answer(conn *c, httpop_reply *out)
{
	httpop *h = c->hop;
	if (!h->status)
		return 0; /* not answered yet */
	out->body = h->answer;
	out->len = h->answer_len;
	out->status = h->status;
	out->retry_after_s = h->retry_after ? 1 : 0;
	memcpy(out->cors, h->cors, sizeof(out->cors));
	h->answer = NULL;
	c->hop = NULL;
	op_free(h);
	return out->body ? 1 : -1;
}

void httpop_closed(conn *c)
{
	httpop *h = c->hop;
	if (!h)
		return;
	c->hop = NULL;
	h->http = NULL;
	h->wsi = NULL;
	if (!h->submitted || h->status)
		op_free(h);
	/* else: the op commits; the answer frees h (set_answer). */
}

void httpop_shutdown(server *s)
{
	while (all_ops)
		op_free(all_ops);
	if (buckets_init) {
		size_t it = 0;
		const rk_omap_entry *e;
		while (rk_omap_next(&buckets, &it, &e))
			free(e->val);
		rk_omap_free(&buckets);
		buckets_init = false;
	}
}
