/*
 * conn_out.c - the output side of a connection: its bounded queue of
 * shared messages (msg.h), the soft and hard caps (cursors dropped, then
 * 4507), framing and the end-of-turn write-out, the close frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "clock.h"
#include "log.h"
#include "conn.h"
#include "conn_out.h"

#define CURSOR_SOFT_QUEUE 65536 /* queued bytes above which cursors drop */

void conn_out_forget(conn *c)
{
	server *s = c->srv;
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
}

void conn_close(conn *c, roomd_close code, const char *reason)
{
	if (c->sink) {
		c->sink->close(c, (int)code, reason);
		return;
	}
	if (c->state != CONN_OPEN)
		return; /* the first reason sticks */
	conn_set_state(c, CONN_CLOSING);
	c->close_code = (uint16_t)code;
	metrics_count_close(&c->srv->m, code);
	c->close_reason = reason;
	/* Info only when the server ends it for a cause (a limit, a fault); a
	 * normal close or shutdown is debug: one info line per connection. */
	rk_log_limited(&c->srv->loglim,
		       code >= 4000 || code == 1009 || code == 1011 ? RK_LOG_INFO
								    : RK_LOG_DEBUG,
		       rk_mono_us(), "conn %s closing: %d %s", conn_tag(c), code, reason);
	/* Queued messages go out first; a peer that does not read them within
	 * 5 s is cut off by lws. */
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 5);
	lws_callback_on_writable(c->wsi);
}

void conn_push(conn *c, rk_msg *m)
{
	server *s = c->srv;
	if (c->sink) {
		c->sink->push(c, m);
		return;
	}
	if (c->state != CONN_OPEN &&
	    !(c->state == CONN_CLOSING && c->close_code == CLOSE_SHUTDOWN)) {
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
			rk_debug("conn %s: %u messages, %zu bytes unsent",
				 conn_session(c), c->q.len, c->q.bytes);
			msg_unref(m);
			msgq_clear(&c->q);
			conn_close(c, CLOSE_SLOW, "slow consumer");
			return;
		}
	}
	if (!msgq_push(&c->q, m)) {
		conn_close(c, CLOSE_INTERNAL, "out of memory");
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
/* The first frame to c is out: let the kernel send it with the 101 that
 * waited corked for it (net.c confirm_upgrade). */
static void uncork(conn *c)
{
	if (!c->corked)
		return;
	c->corked = false;
	int fd = lws_get_socket_fd(c->wsi), off = 0;
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
}

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
	uncork(c);
	return 0;
}

void conn_write_out(server *s)
{
	conn *c;
	while ((c = s->out)) {
		s->out = c->out_next;
		c->out_listed = false;
		c->out_next = NULL;
		/* Closing and backed-up conns are served from their WRITEABLE
		 * callback; the rest are written now, without a POLLOUT turn. */
		if (c->state == CONN_CLOSING || c->need_ping ||
		    lws_partial_buffered(c->wsi) || write_queue(c) < 0 || c->q.len)
			lws_callback_on_writable(c->wsi);
	}
}

int conn_writable(conn *c)
{
	struct lws *wsi = c->wsi;
	if (c->lingering)
		return 0; /* lws reads and drops until EOF or its timeout */
	if (c->state == CONN_CLOSING && !c->q.len && c->close_written) {
		if (lws_partial_buffered(wsi)) {
			lws_callback_on_writable(wsi);
			return 0;
		}
		/* The close frame is in the kernel: linger. Closing the socket
		 * now, with input unread (a client still flooding ops when it
		 * is rate-limited), would make the kernel reset the connection
		 * and drop what it has not sent yet, the close frame included:
		 * the client would never learn why. Shut the write side (FIN
		 * after the frame) and drop input until the peer closes, for at
		 * most 1 s; the conn leaves its room and frees its slot now. */
		int fd = lws_get_socket_fd(wsi);
		if (fd < 0 || shutdown(fd, SHUT_WR) != 0)
			return -1;
		c->lingering = true;
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 1);
		return CONN_WRITABLE_GONE;
	}
	if (c->state == CONN_CLOSING && !c->q.len) {
		/* Queue drained: send the close frame ourselves (on the libuv
		 * loop lws 4.1 drops the lws_close_reason() payload when a
		 * callback returns -1), then linger (above) once it is out. */
		unsigned char frame[LWS_PRE + 4 + CLOSE_REASON_MAX];
		unsigned char *p = frame + LWS_PRE;
		size_t rlen =
		    strnlen(c->close_reason, CLOSE_REASON_MAX); /* a short frame */
		p[0] = 0x88;					/* FIN | close */
		p[1] = (unsigned char)(2 + rlen);
		p[2] = (unsigned char)(c->close_code >> 8);
		p[3] = (unsigned char)c->close_code;
		memcpy(p + 4, c->close_reason, rlen);
		if (lws_write(wsi, p, 4 + rlen, LWS_WRITE_RAW) < 0)
			return -1;
		uncork(c);
		c->close_written = true;
		return conn_writable(c);
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
	if (c->q.len || c->state == CONN_CLOSING)
		lws_callback_on_writable(wsi);
	return 0;
}
