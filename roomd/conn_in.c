/*
 * conn_in.c - the input side of a connection: reassembly of fragmented
 * messages (capped at --max-frame), decode, the per-connection limits (op
 * rate, abuse window) and handing what it decoded to the room actor.
 * Replies it makes itself (error, reject, pong) go through the room's
 * output gate (room_reply), so they keep production order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "conn_in.h"
#include "conn_out.h"
#include "log.h"
#include "room.h"

#define ABUSE_WINDOW_US 10000000 /* 10 s */
#define MAX_BAD_MSGS 20		 /* malformed messages per window -> 4400 */
#define MAX_RATE_HITS 100	 /* rate-limited ops per window -> 4429 */

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
	room_reply(c->room, c, m);
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

static void send_error(conn *c, rk_errcode code, const char *msg)
{
	server *s = c->srv;
	s->m.errors[code]++;
	rk_buf_reset(&s->scratch);
	rk_enc_error(&s->scratch, code, msg);
	push_scratch(c);
	if (strike(c, &c->bad_msgs, MAX_BAD_MSGS)) {
		conn_close(c, CLOSE_BAD, "too many bad messages");
	}
}

static void send_reject(conn *c, const char *id, rk_reject code, const char *msg)
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
	rk_err rc =
	    rk_cmsg_decode(data, len, s->cfg.max_frame, &m, &rej, msg, sizeof(msg));
	switch (rc) {
	case RK_OK:
		break;
	case RK_EREJECT:
		s->m.rejects[rej]++;
		send_reject(c, m.id, rej, msg);
		rk_cmsg_free(&m);
		return;
	case RK_EBADJSON:
		send_error(c, RK_ERRC_BAD_JSON, msg);
		return;
	case RK_EUNKNOWN:
		send_error(c, RK_ERRC_UNKNOWN_TYPE, msg);
		return;
	default:
		send_error(c, RK_ERRC_BAD_MESSAGE, msg);
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
			send_reject(c, m.id, RK_REJ_RATE_LIMITED,
				    "op rate limit exceeded");
			if (strike(c, &c->rate_hits, MAX_RATE_HITS)) {
				conn_close(c, CLOSE_RATE,
					   "rate limit exceeded repeatedly");
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
		rk_enc_pong(&s->scratch, m.ping_id, room_committed_seq(r));
		push_scratch(c);
		break;
	default:
		break;
	}
	rk_cmsg_free(&m);
}

/* No message being reassembled. */
static bool rx_idle(const conn *c)
{
	return !c->rx || c->rx->len == 0;
}

void conn_rx_free(conn *c)
{
	if (!c->rx)
		return;
	rk_buf_free(c->rx);
	free(c->rx);
	c->rx = NULL;
}

void conn_rx_trim(conn *c)
{
	if (rx_idle(c))
		conn_rx_free(c);
}

void conn_rx(conn *c, const char *in, size_t len)
{
	server *s = c->srv;
	struct lws *wsi = c->wsi;
	c->last_rx_us = rk_mono_us();
	s->m.bytes_in += len;
	if (c->state != CONN_OPEN)
		return;
	bool first = lws_is_first_fragment(wsi);
	bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
	if (first && rx_idle(c) &&
	    len + lws_remaining_packet_payload(wsi) > s->cfg.max_frame) {
		conn_close(c, CLOSE_TOO_BIG, "message too large");
		return;
	}
	if (first && final && rx_idle(c)) {
		/* The common case: a whole message in one callback, no copy. */
		if (lws_frame_is_binary(wsi)) {
			send_error(c, RK_ERRC_BAD_MESSAGE,
				   "binary frames are not supported; send JSON text");
			return;
		}
		handle_message(c, in, len);
		return;
	}
	if (!c->rx) {
		c->rx = malloc(sizeof(*c->rx));
		if (!c->rx) {
			conn_close(c, CLOSE_INTERNAL, "out of memory");
			return;
		}
		rk_buf_init(c->rx, s->cfg.max_frame);
	}
	rk_buf_put(c->rx, in, len);
	if (rk_buf_ok(c->rx) != RK_OK) {
		conn_rx_free(c);
		conn_close(c, CLOSE_TOO_BIG, "message too large");
		return;
	}
	if (!final)
		return;
	if (lws_frame_is_binary(wsi))
		send_error(c, RK_ERRC_BAD_MESSAGE,
			   "binary frames are not supported; send JSON text");
	else
		handle_message(c, c->rx->data, c->rx->len);
	/* A small buffer stays for the connection's next long message (no
	 * allocation per message); server_tick frees it, so idle connections
	 * keep none. A big one goes now. */
	if (!c->rx) /* handle_message closed c and it is gone */
		return;
	if (c->rx->cap > RX_KEEP_MAX)
		conn_rx_free(c);
	else
		rk_buf_reset(c->rx);
}
