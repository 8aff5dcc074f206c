/*
 * net.c - the lws client connection with reconnect (see net.h).
 *
 * lws runs on the app's libev loop (LWS_SERVER_OPTION_LIBEV with a foreign
 * loop), so keys, timers, signals and the socket share one poll: no thread,
 * no busy loop. The reconnect timer is an ev_timer.
 */
#include "net.h"
#include "backoff.h"
#include "buf.h"
#include "clock.h"
#include "proto.h"
#include <ctype.h>
#include <ev.h>
#include <libwebsockets.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 256
#define RX_MAX (64u << 20)

typedef struct frame {
	unsigned char *buf; /* LWS_PRE headroom + payload */
	size_t len;	    /* payload bytes */
} frame;

struct tn_net {
	struct ev_loop *loop;
	struct lws_context *lws;
	struct lws *wsi; /* the connection, or NULL */
	tn_config cfg;
	tn_handlers h;
	void *ud;
	tn_state state;
	bool closing;	     /* close on the next WRITEABLE */
	char reason[128];    /* why the last connection ended */
	bool final;	     /* the server closed for good (4404): no reconnect */
	tb_backoff backoff;  /* reconnect delays since the last welcome */
	char tls_error[120]; /* why the handshake's certificate check failed */
	ev_timer retry;
	int64_t retry_at_us; /* rk_mono_us of the scheduled reconnect */
	frame q[QUEUE_MAX];  /* outbound ring */
	size_t qhead, qlen;
	rk_buf rx; /* reassembly of a fragmented message */
};

static void queue_clear(tn_net *n)
{
	for (size_t i = 0; i < n->qlen; i++)
		free(n->q[(n->qhead + i) % QUEUE_MAX].buf);
	n->qhead = n->qlen = 0;
}

/* The one state setter: STOPPED is terminal. */
static void set_state(tn_net *n, tn_state st)
{
	if (n->state == TN_STOPPED || n->state == st)
		return;
	n->state = st;
	if (n->h.state)
		n->h.state(n->ud, st, n->reason);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	tn_net *n = w->data;
	if (n->state == TN_WAITING)
		tn_start(n);
}

/* The connection is gone: schedule the next attempt. */
static void lost(tn_net *n, const char *why)
{
	n->wsi = NULL;
	n->closing = false;
	queue_clear(n);
	rk_buf_reset(&n->rx);
	if (n->state == TN_STOPPED)
		return;
	if (why && *why)
		snprintf(n->reason, sizeof(n->reason), "%s", why);
	int64_t ms = tb_next(&n->backoff);
	n->retry_at_us = rk_mono_us() + ms * 1000;
	ev_timer_stop(n->loop, &n->retry);
	ev_timer_set(&n->retry, (double)ms / 1000.0, 0.);
	ev_timer_start(n->loop, &n->retry);
	set_state(n, TN_WAITING);
}

/* Append s percent-encoded (RFC 3986 unreserved kept). */
static void put_escaped(rk_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			rk_buf_putc(b, (char)*p);
		else
			rk_buf_printf(b, "%%%02X", *p);
	}
}

void tn_start(tn_net *n)
{
	if (n->state != TN_IDLE && n->state != TN_WAITING)
		return;
	ev_timer_stop(n->loop, &n->retry);
	n->tls_error[0] = '\0'; /* a verdict belongs to one attempt */
	rk_buf path;
	rk_buf_init(&path, 8192);
	rk_buf_puts(&path, "/ws/");
	put_escaped(&path, n->cfg.room);
	rk_buf_puts(&path, "?client=");
	put_escaped(&path, n->cfg.client_id);
	if (n->cfg.token) {
		rk_buf_puts(&path, "&token=");
		put_escaped(&path, n->cfg.token);
	} else if (n->cfg.name) {
		rk_buf_puts(&path, "&name=");
		put_escaped(&path, n->cfg.name);
	}
	int64_t since = 0;
	char epoch[RK_EPOCH_MAX + 1] = "";
	if (n->h.resume && n->h.resume(n->ud, &since, epoch, sizeof(epoch)) && epoch[0]) {
		rk_buf_printf(&path, "&since=%lld&epoch=", (long long)since);
		put_escaped(&path, epoch);
	}
	struct lws_client_connect_info info;
	memset(&info, 0, sizeof(info));
	info.context = n->lws;
	info.address = n->cfg.host;
	info.port = n->cfg.port;
	info.ssl_connection = n->cfg.tls ? LCCSCF_USE_SSL : 0;
	info.path = rk_buf_ok(&path) == RK_OK ? path.data : "/";
	info.host = n->cfg.host;
	info.origin = n->cfg.host;
	info.protocol = RK_SUBPROTOCOL;
	info.local_protocol_name = RK_SUBPROTOCOL;
	info.opaque_user_data = n;
	info.pwsi = &n->wsi;
	set_state(n, TN_CONNECTING);
	struct lws *wsi = lws_client_connect_via_info(&info);
	rk_buf_free(&path);
	if (!wsi && n->state == TN_CONNECTING)
		lost(n, "connect failed");
}

bool tn_send(tn_net *n, const char *s, size_t len)
{
	if (n->state != TN_OPEN || !n->wsi || n->closing || n->qlen == QUEUE_MAX)
		return false;
	unsigned char *buf = malloc(LWS_PRE + len + 1);
	if (!buf)
		return false;
	memcpy(buf + LWS_PRE, s, len);
	n->q[(n->qhead + n->qlen) % QUEUE_MAX] = (frame){buf, len};
	n->qlen++;
	lws_callback_on_writable(n->wsi);
	return true;
}

void tn_drop(tn_net *n, const char *reason)
{
	snprintf(n->reason, sizeof(n->reason), "%s", reason);
	if (n->wsi && !n->closing) {
		n->closing = true;
		lws_callback_on_writable(n->wsi);
	}
}

void tn_reset_backoff(tn_net *n)
{
	tb_reset(&n->backoff);
}

void tn_stop(tn_net *n)
{
	ev_timer_stop(n->loop, &n->retry);
	set_state(n, TN_STOPPED);
	if (n->wsi && !n->closing) {
		n->closing = true;
		lws_callback_on_writable(n->wsi);
	}
}

tn_state tn_get_state(const tn_net *n)
{
	return n->state;
}

int64_t tn_retry_ms(const tn_net *n)
{
	if (n->state != TN_WAITING)
		return 0;
	int64_t left = (n->retry_at_us - rk_mono_us()) / 1000;
	return left > 0 ? left : 0;
}

static int writable(tn_net *n, struct lws *wsi)
{
	if (n->closing) {
		static const char bye[] = "roomtui closing";
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)bye,
				 sizeof(bye) - 1);
		return -1;
	}
	if (!n->qlen)
		return 0;
	frame *f = &n->q[n->qhead];
	int w = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
	free(f->buf);
	f->buf = NULL;
	n->qhead = (n->qhead + 1) % QUEUE_MAX;
	n->qlen--;
	if (w < (int)f->len)
		return -1;
	if (n->qlen)
		lws_callback_on_writable(wsi);
	return 0;
}

static void receive(tn_net *n, struct lws *wsi, const char *in, size_t len)
{
	bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
	if (final && n->rx.len == 0) {
		n->h.message(n->ud, in, len);
		return;
	}
	rk_buf_put(&n->rx, in, len);
	if (rk_buf_ok(&n->rx) != RK_OK) {
		rk_buf_free(&n->rx);
		rk_buf_init(&n->rx, RX_MAX);
		tn_drop(n, "message too large");
		return;
	}
	if (!final)
		return;
	n->h.message(n->ud, n->rx.data, n->rx.len);
	rk_buf_reset(&n->rx);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		    void *in, size_t len)
{
	tn_net *n = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	if (!n)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		/* user: the X509_STORE_CTX, len: OpenSSL's verdict. The
		 * CONNECTION_ERROR that follows only says "SSL err": keep why. */
		if (!len && user)
			snprintf(n->tls_error, sizeof(n->tls_error),
				 "TLS: server certificate rejected: %s",
				 X509_verify_cert_error_string(
				     X509_STORE_CTX_get_error(user)));
		return 0; /* 0: no objection of ours */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		if (n->tls_error[0]) {
			lost(n, n->tls_error);
			n->tls_error[0] = '\0';
			return 0;
		}
		char why[120];
		snprintf(why, sizeof(why), "%.*s", in ? (int)len : 0,
			 in ? (const char *)in : "connection error");
		lost(n, why[0] ? why : "connection error");
		return 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		n->wsi = wsi;
		n->reason[0] = '\0';
		set_state(n, TN_OPEN);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		receive(n, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return writable(n, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *p = in;
			int code = (p[0] << 8) | p[1];
			/* 4404: the room was deleted; a reconnect would create a
			 * new, empty room under its name. */
			n->final = code == 4404;
			if (n->final)
				snprintf(n->reason, sizeof(n->reason),
					 "room deleted (4404): not reconnecting");
			else
				snprintf(n->reason, sizeof(n->reason),
					 "closed by server (%d)", code);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (n->final) {
			n->wsi = NULL;
			n->closing = false;
			queue_clear(n);
			ev_timer_stop(n->loop, &n->retry);
			set_state(n, TN_STOPPED);
			return 0;
		}
		lost(n, n->reason[0] ? n->reason : "connection closed");
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {RK_SUBPROTOCOL, callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_quiet(int level, const char *line)
{
	/* The terminal belongs to curses: lws says nothing there. */
}

tn_net *tn_new(struct ev_loop *loop, const tn_config *cfg, const tn_handlers *h, void *ud)
{
	tn_net *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->loop = loop;
	n->cfg = *cfg;
	n->h = *h;
	n->ud = ud;
	tb_init(&n->backoff,
		(uint64_t)rk_mono_ns() ^ ((uint64_t)rk_wall_ms() << 20) ^ (uintptr_t)n);
	rk_buf_init(&n->rx, RX_MAX);
	ev_timer_init(&n->retry, retry_cb, 0., 0.);
	n->retry.data = n;
	lws_set_log_level(LLL_ERR, lws_quiet);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_LIBEV |
		       (cfg->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
	info.client_ssl_ca_filepath = cfg->ca_file; /* besides the system store */
	void *foreign[1] = {loop};
	info.foreign_loops = foreign;
	info.timeout_secs = 10;
	info.connect_timeout_secs = 5;
	n->lws = lws_create_context(&info);
	if (!n->lws) {
		fprintf(stderr, "Error: cannot create the libwebsockets context\n");
		rk_buf_free(&n->rx);
		free(n);
		return NULL;
	}
	return n;
}

void tn_free(tn_net *n)
{
	if (!n)
		return;
	ev_timer_stop(n->loop, &n->retry);
	n->state = TN_STOPPED;
	if (n->lws)
		lws_context_destroy(n->lws);
	queue_clear(n);
	rk_buf_free(&n->rx);
	free(n);
}
