/*
 * conn.c - one WebSocket connection: reassembly and decode of what it sends,
 * the per-connection limits (frame size, op rate, abuse), its outbound queue
 * and writes, and closing it with a code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "httpop.h"
#include "log.h"
#include "roomd.h"

#define ABUSE_WINDOW_US 10000000 /* 10 s */
#define MAX_BAD_MSGS 20          /* malformed messages per window -> 4400 */
#define MAX_RATE_HITS 100        /* rate-limited ops per window -> 4429 */
#define CURSOR_SOFT_QUEUE 65536  /* queued bytes above which cursors drop */

void conn_init(conn *c, server *s, struct lws *wsi)
{
	memset(c, 0, sizeof(*c));
	c->wsi = wsi;
	c->srv = s;
	c->is_ws = true;
	rk_buf_init(&c->rx, s->cfg.max_frame);
	int64_t now = rk_mono_us();
	c->last_rx_us = now;
	c->last_ping_us = now;
	c->bucket_us = now;
	c->abuse_window_us = now;
	c->tokens = s->cfg.ops_burst;
	c->anext = s->conns;
	if (s->conns)
		s->conns->aprev = c;
	s->conns = c;
	s->nconns++;
}

void conn_destroy(conn *c)
{
	server *s = c->srv;
	if (!c->is_ws)
		return;
	if (c->room)
		room_leave(c->room, c);
	if (c->out_listed) {
		for (conn **pp = &s->out; *pp; pp = &(*pp)->out_next) {
			if (*pp == c) {
				*pp = c->out_next;
				break;
			}
		}
		c->out_listed = false;
	}
	msgq_clear(&c->q);
	rk_buf_free(&c->rx);
	iplimit_closed(&s->ipl, c->ip);
	if (c->aprev)
		c->aprev->anext = c->anext;
	else if (s->conns == c)
		s->conns = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	s->nconns--;
	c->is_ws = false;
	s->m.conns_closed++;
}

void conn_close(conn *c, int code, const char *reason)
{
	if (c->http_sender) {
		httpop_fail(c, code, reason);
		return;
	}
	if (c->close_code)
		return; /* the first reason sticks */
	c->close_code = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	/* Info only when the server ends it for a cause (a limit, a fault); a
	 * normal close or shutdown is debug: one info line per connection. */
	rk_log_limited(&c->srv->loglim, code >= 4000 || code == 1009 || code == 1011 ? RK_LOG_INFO
										      : RK_LOG_DEBUG,
		       rk_mono_us(), "conn %s closing: %d %s",
		       c->peer.session[0] ? c->peer.session : "-", code, reason);
	/* Queued messages go out first; a peer that does not read them within
	 * 5 s is cut off by lws. */
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 5);
	lws_callback_on_writable(c->wsi);
}

void conn_push(conn *c, rk_msg *m)
{
	server *s = c->srv;
	if (c->http_sender) {
		httpop_answer(c, m);
		return;
	}
	if (c->close_code && c->close_code != 1001) {
		msg_unref(m);
		return;
	}
	if (m->droppable && c->q.bytes > CURSOR_SOFT_QUEUE) {
		s->m.cursors_dropped++;
		msg_unref(m);
		return;
	}
	if (c->q.bytes + m->len > s->cfg.max_queue) {
		/* Cursors go first; if that is not enough the reader is too slow. */
		s->m.cursors_dropped += msgq_drop_droppable(&c->q);
		if (c->q.bytes + m->len > s->cfg.max_queue) {
			rk_debug("conn %s: %u messages, %zu bytes unsent", c->peer.session,
				c->q.len, c->q.bytes);
			msg_unref(m);
			msgq_clear(&c->q);
			s->m.closes_4507++;
			conn_close(c, 4507, "slow consumer");
			return;
		}
	}
	if (!msgq_push(&c->q, m)) {
		conn_close(c, 1011, "out of memory");
		return;
	}
	/* Written at the end of this loop turn, with everything else this
	 * turn produced for c, in as few sends as possible. */
	if (!c->out_listed) {
		c->out_listed = true;
		c->out_next = s->out;
		s->out = c;
	}
}

/* Reply with what is in the scratch buffer, in production order. */
static void push_scratch(conn *c)
{
	server *s = c->srv;
	if (rk_buf_ok(&s->scratch) != RK_OK)
		return;
	rk_msg *m = msg_new(s->scratch.data, s->scratch.len, false);
	if (!m)
		return;
	/* A conn waiting for its welcome (room loading) has c->room set too:
	 * its replies go behind the welcome. */
	if (c->room)
		room_reply(c->room, c, m);
	else
		conn_push(c, m);
}

/* Count a strike in the 10 s abuse window; true if the limit is passed. */
static bool strike(conn *c, uint32_t *counter, uint32_t limit)
{
	int64_t now = rk_mono_us();
	if (now - c->abuse_window_us > ABUSE_WINDOW_US) {
		c->abuse_window_us = now;
		c->bad_msgs = 0;
		c->rate_hits = 0;
	}
	return ++*counter > limit;
}

void conn_send_error(conn *c, rk_errcode code, const char *msg)
{
	server *s = c->srv;
	s->m.errors[code]++;
	rk_buf_reset(&s->scratch);
	rk_enc_error(&s->scratch, code, msg);
	push_scratch(c);
	if (strike(c, &c->bad_msgs, MAX_BAD_MSGS)) {
		s->m.closes_4400++;
		conn_close(c, 4400, "too many bad messages");
	}
}

void conn_send_reject(conn *c, const char *id, rk_reject code, const char *msg)
{
	server *s = c->srv;
	rk_buf_reset(&s->scratch);
	rk_enc_reject(&s->scratch, id, code, msg);
	push_scratch(c);
}

/* Token bucket: true if an op may pass now. */
static bool take_token(conn *c)
{
	int64_t now = rk_mono_us();
	double rate = c->srv->cfg.ops_per_sec;
	c->tokens += (double)(now - c->bucket_us) * rate / 1e6;
	c->bucket_us = now;
	if (c->tokens > c->srv->cfg.ops_burst)
		c->tokens = c->srv->cfg.ops_burst;
	if (c->tokens < 1.0)
		return false;
	c->tokens -= 1.0;
	return true;
}

static void handle_message(conn *c, const char *data, size_t len)
{
	server *s = c->srv;
	room *r = c->room;
	rk_cmsg m;
	rk_reject rej = RK_REJ_NONE;
	char msg[RK_MSG_MSG_MAX + 1];
	rk_err rc = rk_cmsg_decode(data, len, s->cfg.max_frame, &m, &rej, msg, sizeof(msg));
	switch (rc) {
	case RK_OK:
		break;
	case RK_EREJECT:
		s->m.rejects[rej]++;
		conn_send_reject(c, m.id, rej, msg);
		rk_cmsg_free(&m);
		return;
	case RK_EBADJSON:
		conn_send_error(c, RK_ERRC_BAD_JSON, msg);
		return;
	case RK_EUNKNOWN:
		conn_send_error(c, RK_ERRC_UNKNOWN_TYPE, msg);
		return;
	default:
		conn_send_error(c, RK_ERRC_BAD_MESSAGE, msg);
		return;
	}
	/* Not joined yet: the room is loading and c waits for its welcome. Its
	 * ops and pings wait in the room's queue behind the join; a cursor or
	 * signal from someone not yet present goes nowhere. */
	if (!r || (!c->joined && m.t != RK_C_OP && m.t != RK_C_PING)) {
		rk_cmsg_free(&m);
		return;
	}
	switch (m.t) {
	case RK_C_OP:
		if (!take_token(c)) {
			s->m.rejects[RK_REJ_RATE_LIMITED]++;
			conn_send_reject(c, m.id, RK_REJ_RATE_LIMITED, "op rate limit exceeded");
			if (strike(c, &c->rate_hits, MAX_RATE_HITS)) {
				s->m.closes_4429++;
				conn_close(c, 4429, "rate limit exceeded repeatedly");
			}
			break;
		}
		room_submit(r, c, &m);
		break;
	case RK_C_CURSOR:
		room_cursor(r, c, m.x, m.y);
		break;
	case RK_C_SIGNAL:
		room_signal(r, c, m.data, m.data_len);
		break;
	case RK_C_PING:
		rk_buf_reset(&s->scratch);
		rk_enc_pong(&s->scratch, m.ping_id, r->committed_seq);
		push_scratch(c);
		break;
	default:
		break;
	}
	rk_cmsg_free(&m);
}

void conn_rx(conn *c, const char *in, size_t len)
{
	server *s = c->srv;
	struct lws *wsi = c->wsi;
	c->last_rx_us = rk_mono_us();
	s->m.bytes_in += len;
	if (c->close_code)
		return;
	bool first = lws_is_first_fragment(wsi);
	bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
	if (first && c->rx.len == 0 &&
	    len + lws_remaining_packet_payload(wsi) > s->cfg.max_frame) {
		s->m.closes_1009++;
		conn_close(c, 1009, "message too large");
		return;
	}
	if (first && final && c->rx.len == 0) {
		/* The common case: a whole message in one callback, no copy. */
		if (lws_frame_is_binary(wsi)) {
			conn_send_error(c, RK_ERRC_BAD_MESSAGE,
					"binary frames are not supported; send JSON text");
			return;
		}
		handle_message(c, in, len);
		return;
	}
	rk_buf_put(&c->rx, in, len);
	if (rk_buf_ok(&c->rx) != RK_OK) {
		rk_buf_free(&c->rx);
		s->m.closes_1009++;
		conn_close(c, 1009, "message too large");
		return;
	}
	if (!final)
		return;
	if (lws_frame_is_binary(wsi))
		conn_send_error(c, RK_ERRC_BAD_MESSAGE,
				"binary frames are not supported; send JSON text");
	else
		handle_message(c, c->rx.data, c->rx.len);
	rk_buf_free(&c->rx); /* idle conns keep no buffer */
}

/*
 * Frame as many queued messages as fit in the server's write buffer and hand
 * them to the kernel in one send: a busy room's recipients get one syscall
 * per writable turn instead of one per message. Server frames are unmasked,
 * so the framing is just a 2-, 4- or 10-byte header. lws sends the bytes as
 * they are (LWS_WRITE_RAW) and keeps whatever the kernel did not take.
 */
static int write_batch(conn *c)
{
	server *s = c->srv;
	unsigned char *out = s->wbuf + LWS_PRE, *p = out;
	rk_msg *m;
	while ((m = msgq_peek(&c->q))) {
		size_t hdr = m->len < 126 ? 2 : m->len < 65536 ? 4 : 10;
		if ((size_t)(p - out) + hdr + m->len > WBUF_SIZE)
			break;
		*p++ = 0x81; /* FIN | text */
		if (m->len < 126) {
			*p++ = (unsigned char)m->len;
		} else if (m->len < 65536) {
			*p++ = 126;
			*p++ = (unsigned char)(m->len >> 8);
			*p++ = (unsigned char)m->len;
		} else {
			*p++ = 127;
			for (int i = 7; i >= 0; i--)
				*p++ = (unsigned char)((uint64_t)m->len >> (8 * i));
		}
		memcpy(p, msg_payload(m), m->len);
		p += m->len;
		s->m.msgs_out++;
		s->m.bytes_out += m->len;
		msgq_pop(&c->q);
	}
	size_t n = (size_t)(p - out);
	if (n && lws_write(c->wsi, out, n, LWS_WRITE_RAW) < 0)
		return -1;
	return 0;
}

/*
 * Write queued messages until the queue is empty or the kernel stops taking
 * bytes (lws then holds the rest and we wait for POLLOUT). One message goes
 * out framed in place by lws; several are coalesced by write_batch.
 */
static int write_queue(conn *c)
{
	server *s = c->srv;
	rk_msg *m;
	while ((m = msgq_peek(&c->q)) && !lws_partial_buffered(c->wsi)) {
		if (c->q.len == 1 || m->len > WBUF_SIZE / 2) {
			if (lws_write(c->wsi, msg_payload(m), m->len, LWS_WRITE_TEXT) < 0)
				return -1;
			s->m.msgs_out++;
			s->m.bytes_out += m->len;
			msgq_pop(&c->q);
		} else if (write_batch(c) < 0) {
			return -1;
		}
	}
	return 0;
}

void server_write_out(server *s)
{
	conn *c;
	while ((c = s->out)) {
		s->out = c->out_next;
		c->out_listed = false;
		c->out_next = NULL;
		/* Closing and backed-up conns are served from their WRITEABLE
		 * callback; the rest are written now, without a POLLOUT turn. */
		if (c->close_code || c->need_ping || lws_partial_buffered(c->wsi) ||
		    write_queue(c) < 0 || c->q.len)
			lws_callback_on_writable(c->wsi);
	}
}

int conn_writable(conn *c)
{
	struct lws *wsi = c->wsi;
	if (c->close_code && !c->q.len) {
		/* Queue drained: send the close frame ourselves (on the libuv
		 * loop lws 4.1 drops the lws_close_reason() payload when a
		 * callback returns -1), then let lws close the socket. */
		unsigned char frame[LWS_PRE + 4 + sizeof(c->close_reason)];
		unsigned char *p = frame + LWS_PRE;
		size_t rlen = strlen(c->close_reason); /* < 64: fits a short frame */
		p[0] = 0x88; /* FIN | close */
		p[1] = (unsigned char)(2 + rlen);
		p[2] = (unsigned char)(c->close_code >> 8);
		p[3] = (unsigned char)c->close_code;
		memcpy(p + 4, c->close_reason, rlen);
		lws_write(wsi, p, 4 + rlen, LWS_WRITE_RAW);
		return -1;
	}
	if (c->need_ping) {
		c->need_ping = false;
		unsigned char buf[LWS_PRE + 1];
		if (lws_write(wsi, buf + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return -1;
		if (c->q.len)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (write_queue(c) < 0)
		return -1;
	if (c->q.len || c->close_code)
		lws_callback_on_writable(wsi);
	return 0;
}
