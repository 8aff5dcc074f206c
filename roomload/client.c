/*
 * client.c - one connection of roomload: the lws client callback, the
 * open-loop send schedule, decoding what the server sends, and feeding
 * latency histograms, counters and the checker.
 *
 * A client never frees itself in a callback: its struct lives in the
 * clients array for the whole run; CLOSED only drops the wsi and moves the
 * state to DONE, which sticks.
 */
#include "clock.h"
#include "fastdec.h"
#include "load.h"
#include "log.h"
#include "proto.h"
#include "token.h"
#include <ctype.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one state setter: DONE is terminal, and the live/connecting counts
 * follow the transitions. */
static void set_state(client *cl, cstate st)
{
	load *ld = cl->ld;
	if (cl->state == CS_DONE || cl->state == st)
		return;
	if (cl->state == CS_CONNECTING)
		ld->connecting--;
	if (st == CS_CONNECTING)
		ld->connecting++;
	if (cl->state == CS_CLOSING)
		ld->closing--;
	if (st == CS_CLOSING)
		ld->closing++;
	if (st == CS_DONE && cl->state != CS_NEW)
		ld->live--;
	if (cl->state == CS_NEW && st != CS_DONE)
		ld->live++;
	cl->state = st;
}

/* ---- connecting --------------------------------------------------------- */

static void retry_cb(lws_sorted_usec_list_t *sul);

/* --reconnect: the next attempt in 100..400 ms (random, so that the
 * clients of a dead node do not come back in lockstep). */
static void backoff(load *ld, client *cl)
{
	cl->wsi = NULL;
	set_state(cl, CS_BACKOFF);
	lws_usec_t us = (lws_usec_t)(100000 + load_rand(ld) % 300001);
	lws_sul_schedule(ld->lws, 0, &cl->retry_sul, retry_cb, us);
}

/* A connection attempt failed (refused, errored, closed before its
 * welcome): with --reconnect a reconnection tries again; anything else is
 * a failed connect, and the client is done. */
static void connect_failed(load *ld, client *cl, const char *what, size_t len)
{
	if (ld->cfg.reconnect && cl->reconnecting && ld->ph < PH_CLOSE) {
		ld->c.reconnect_failed++;
		backoff(ld, cl);
		return;
	}
	ld->c.connect_failed++;
	cl->failed = true;
	if (!ld->first_connect_error[0])
		snprintf(ld->first_connect_error, sizeof(ld->first_connect_error),
			 "client c%u: %.*s", cl->idx, (int)len, what);
	cl->wsi = NULL;
	set_state(cl, CS_DONE);
}

/* No lws validity (idle ping/hangup) timer per connection: roomd pings us
 * and lws answers by itself. lws 4.1 keeps timers in one sorted list whose
 * insert walks it, and a validity timer per connection, re-armed as traffic
 * arrives, made that walk O(connections). */
static const lws_retry_bo_t no_validity_timer = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

void client_connect(load *ld, client *cl)
{
	const load_config *cfg = &ld->cfg;
	const room_info *r = &ld->rooms[cl->room];
	char path[2048];
	if (cfg->secret) {
		rk_claims cl_claims;
		memset(&cl_claims, 0, sizeof(cl_claims));
		snprintf(cl_claims.sub, sizeof(cl_claims.sub), "c%u-%s", cl->idx,
			 ld->run);
		snprintf(cl_claims.room, sizeof(cl_claims.room), "%s", r->name);
		cl_claims.role = cl->viewer ? RK_ROLE_VIEWER : RK_ROLE_EDITOR;
		cl_claims.exp =
		    rk_wall_ms() / 1000 + (int64_t)(cfg->ramp + cfg->duration) + 3600;
		rk_buf_reset(&ld->enc);
		if (rk_token_sign(cfg->secret, cfg->secret_len, &cl_claims, &ld->enc) !=
		    RK_OK) {
			ld->c.connect_failed++;
			cl->failed = true;
			set_state(cl, CS_DONE);
			return;
		}
		snprintf(path, sizeof(path), "/ws/%s?token=%s", r->name, ld->enc.data);
	} else {
		snprintf(path, sizeof(path), "/ws/%s?name=c%u-%s", r->name, cl->idx,
			 ld->run);
	}
	if (cl->reconnecting && cl->epoch[0]) {
		/* Resume from the last seq this connection saw. */
		size_t n = strlen(path);
		snprintf(path + n, sizeof(path) - n,
			 "&client=c%u-%s&since=%lld&epoch=", cl->idx, ld->run,
			 (long long)cl->stream.last);
		n = strlen(path);
		for (const char *e = cl->epoch; *e && n + 4 < sizeof(path); e++) {
			unsigned char ch = (unsigned char)*e;
			if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' ||
			    ch == '~')
				path[n++] = (char)ch;
			else
				n += (size_t)snprintf(path + n, sizeof(path) - n,
						      "%%%02X", ch);
		}
		path[n] = '\0';
	}
	struct lws_client_connect_info info;
	memset(&info, 0, sizeof(info));
	info.context = ld->lws;
	info.address = cfg->srv.host;
	info.port = cfg->srv.port;
	info.ssl_connection = cfg->srv.tls ? LCCSCF_USE_SSL : 0;
	info.path = path;
	info.host = cfg->srv.host;
	info.origin = cfg->srv.host;
	info.protocol = RK_SUBPROTOCOL;
	info.local_protocol_name = RK_SUBPROTOCOL;
	info.userdata = cl;
	info.opaque_user_data = cl;
	info.pwsi = &cl->wsi;
	info.retry_and_idle_policy = &no_validity_timer;
	cl->connect_ns = rk_mono_ns();
	cl->close_code = 0;
	set_state(cl, CS_CONNECTING);
	ld->c.connects_issued++;
	if (!lws_client_connect_via_info(&info) && cl->state == CS_CONNECTING) {
		/* Refused synchronously without a CONNECTION_ERROR callback. */
		static const char why[] = "connect failed immediately";
		connect_failed(ld, cl, why, sizeof(why) - 1);
	}
}

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	client *cl = container_of(sul, client, retry_sul);
	load *ld = cl->ld;
	if (cl->state != CS_BACKOFF)
		return;
	if (ld->ph >= PH_CLOSE) {
		ld->c.unrecovered++;
		set_state(cl, CS_DONE);
		return;
	}
	client_connect(ld, cl);
}

/* Close codes after which --reconnect reconnects: the server went away
 * (1001), the connection was dropped or reset without a close frame
 * (1006: no code), a server fault (1011), restart (1012), try again later
 * (1013). Any other code is the server's verdict on this client. */
static bool drop_code(int code)
{
	return code == 0 || code == 1001 || code == 1006 || code == 1011 ||
	       code == 1012 || code == 1013;
}

/* ---- sending ------------------------------------------------------------ */

static int client_writable(load *ld, client *cl, struct lws *wsi);

static void sendq_cb(lws_sorted_usec_list_t *sul);

/* Arm the one lws timer for the earliest scheduled send, unless it is
 * already armed at or before that. */
static void sendq_arm(load *ld, int64_t now)
{
	int64_t next = rl_theap_next(&ld->sendq);
	if (next == INT64_MAX || (ld->sendq_armed_ns && ld->sendq_armed_ns <= next))
		return;
	ld->sendq_armed_ns = next;
	lws_sul_schedule(ld->lws, 0, &ld->sendq_sul, sendq_cb,
			 next > now ? (next - now) / 1000 + 1 : 1);
}

static void send_at(load *ld, client *cl, int64_t at, int64_t now)
{
	rl_theap_set(&ld->sendq, &cl->send_t, at);
	sendq_arm(ld, now);
}

void client_sendq_cancel(load *ld)
{
	lws_sul_cancel(&ld->sendq_sul);
	ld->sendq_armed_ns = 0;
}

/* A client's send time has come. */
static void send_due(load *ld, client *cl, int64_t now)
{
	bool away = cl->reconnecting && cl->state != CS_DONE;
	if ((cl->state != CS_READY && !away) || ld->ph != PH_RUN || !cl->period_ns)
		return;
	bool added = false;
	/* Open loop: every scheduled slot up to now becomes due, replies or not. */
	while (cl->next_send_ns <= now && cl->next_send_ns < ld->run_end_ns) {
		cl->due++;
		cl->next_send_ns += cl->period_ns;
		added = true;
	}
	if (added && cl->wsi && cl->state == CS_READY) {
		/* Write now: the socket is nearly always writable, and waiting
		 * for POLLOUT costs a loop turn and epoll changes per message.
		 * Backed-up or failing sockets go through WRITEABLE. */
		if (lws_partial_buffered(cl->wsi) || client_writable(ld, cl, cl->wsi) < 0)
			lws_callback_on_writable(cl->wsi);
	}
	if (cl->next_send_ns < ld->run_end_ns)
		rl_theap_set(&ld->sendq, &cl->send_t, cl->next_send_ns);
}

static void sendq_cb(lws_sorted_usec_list_t *sul)
{
	load *ld = container_of(sul, load, sendq_sul);
	int64_t now = rk_mono_ns();
	ld->sendq_armed_ns = 0;
	rl_timer *t;
	while ((t = rl_theap_due(&ld->sendq, now))) {
		rl_theap_del(&ld->sendq, t);
		send_due(ld, container_of(t, client, send_t), now);
	}
	sendq_arm(ld, now);
}

static void churn_cb(lws_sorted_usec_list_t *sul)
{
	client *cl = container_of(sul, client, churn_sul);
	load *ld = cl->ld;
	if (cl->state != CS_READY || ld->ph != PH_RUN)
		return;
	cl->reconnecting = true;
	set_state(cl, CS_CLOSING); /* not client_close: the schedule keeps running */
	if (cl->wsi)
		lws_callback_on_writable(cl->wsi);
}

/* Churn: the next reconnect in 0.5..1.5 x --reconnect-every. */
static void churn_schedule(load *ld, client *cl)
{
	double f = 0.5 + (double)(load_rand(ld) % 1000) / 1000.0;
	lws_sul_schedule(ld->lws, 0, &cl->churn_sul, churn_cb,
			 (lws_usec_t)(ld->cfg.reconnect_every * f * 1e6));
}

void client_start_sending(load *ld, client *cl)
{
	if (ld->cfg.sc == SC_CHURN && cl->state == CS_READY && ld->ph == PH_RUN)
		churn_schedule(ld, cl);
	if (cl->period_ns && cl->next_send_ns) {
		/* A reconnect: the open-loop schedule never stopped. */
		int64_t now = rk_mono_ns();
		send_at(ld, cl, now, now);
		return;
	}
	if (cl->state != CS_READY || ld->cfg.rate <= 0 || ld->cfg.sc == SC_IDLE)
		return;
	if (cl->viewer && ld->cfg.sc != SC_CURSOR)
		return;
	cl->period_ns = (int64_t)(1e9 / ld->cfg.rate);
	if (cl->period_ns < 1)
		cl->period_ns = 1;
	int64_t now = rk_mono_ns();
	int64_t base = ld->run_start_ns > now ? ld->run_start_ns : now;
	cl->next_send_ns = base + (int64_t)(load_rand(ld) % (uint64_t)cl->period_ns);
	send_at(ld, cl, cl->next_send_ns, now);
}

void client_stop_sending(client *cl)
{
	rl_theap_del(&cl->ld->sendq, &cl->send_t);
	lws_sul_cancel(&cl->churn_sul);
}

void client_cancel(client *cl)
{
	client_stop_sending(cl);
	lws_sul_cancel(&cl->retry_sul);
}

void client_close(client *cl)
{
	if (cl->state == CS_DONE || cl->state == CS_NEW)
		return;
	client_stop_sending(cl);
	if (cl->state == CS_BACKOFF) {
		/* Never got back: counted where the run's checks see it. */
		lws_sul_cancel(&cl->retry_sul);
		cl->ld->c.unrecovered++;
		set_state(cl, CS_DONE);
		return;
	}
	set_state(cl, CS_CLOSING);
	if (cl->wsi)
		lws_callback_on_writable(cl->wsi);
}

void client_free(client *cl)
{
	chk_ops_free(&cl->ops);
	rk_buf_free(&cl->rx);
}

/* Encode message lseq of cl (a setup op or the scenario's) into ld->enc
 * behind LWS_PRE and write it whole. 0, or -1 on failure (the connection is
 * then closed); *is_op: an op, not a cursor. The encoding depends only on
 * (client, lseq), so a resend is the same op. */
static int write_op(load *ld, client *cl, struct lws *wsi, uint32_t lseq, bool setup,
		    bool *is_op)
{
	rk_buf *b = &ld->enc;
	rk_buf_reset(b);
	if (rk_buf_reserve(b, LWS_PRE) != RK_OK)
		return -1;
	b->len = LWS_PRE;
	*is_op = scenario_encode(ld, cl, lseq, setup, b);
	if (rk_buf_ok(b) != RK_OK)
		return -1;
	size_t n = b->len - LWS_PRE;
	if (lws_write(wsi, (unsigned char *)b->data + LWS_PRE, n, LWS_WRITE_TEXT) <
	    (int)n)
		return -1;
	return 0;
}

/* --reconnect: the next op with no answer, with its old id (its record, and
 * so its send time, stays as it was). */
static int client_resend(load *ld, client *cl, struct lws *wsi)
{
	uint32_t lseq = chk_ops_next_open(&cl->ops, cl->resend_next, cl->resend_last);
	if (!lseq) {
		cl->resend_next = cl->resend_last + 1;
		if (cl->due || cl->setup_due)
			lws_callback_on_writable(wsi);
		return 0;
	}
	const chk_oprec *r = chk_op_find(&cl->ops, lseq);
	bool is_op;
	if (write_op(ld, cl, wsi, lseq, r->setup, &is_op) != 0)
		return -1;
	cl->resend_next = lseq + 1;
	ld->c.resent++;
	lws_callback_on_writable(wsi); /* the next resend, or the due ops */
	return 0;
}

/* Write one message: a pending resend first, then a pending setup op, else
 * the oldest due one. */
static int client_writable(load *ld, client *cl, struct lws *wsi)
{
	if (cl->state == CS_CLOSING) {
		static const char bye[] = "roomload done";
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)bye,
				 sizeof(bye) - 1);
		return -1;
	}
	if (cl->state != CS_READY || cl->resync)
		return 0; /* after a reconnect: nothing until the replay caught up */
	if (cl->resend_last && cl->resend_next <= cl->resend_last)
		return client_resend(ld, cl, wsi);
	bool setup = cl->setup_due;
	if (!setup && cl->due == 0)
		return 0;
	int64_t intended = rk_mono_ns();
	if (!setup)
		/* The oldest due slot was scheduled `due` periods before the next. */
		intended = cl->next_send_ns - (int64_t)cl->due * cl->period_ns;
	uint32_t lseq = cl->lseq + 1;
	bool is_op;
	if (write_op(ld, cl, wsi, lseq, setup, &is_op) != 0)
		return -1;
	cl->lseq = lseq;
	chk_op_sent(&cl->ops, lseq, intended, setup);
	if (!setup)
		rk_hist_record(&ld->h_lag, (rk_mono_ns() - intended) / 1000);
	if (setup) {
		cl->setup_due = false;
		ld->c.setup_ops++;
	} else {
		cl->due--;
	}
	if (is_op) {
		cl->unanswered++;
		if (!setup)
			ld->c.sent++;
	} else {
		ld->c.cursors_sent++;
		chk_oprec *r = chk_op_find(&cl->ops, lseq);
		if (r)
			r->done = true;
	}
	if (cl->due || cl->setup_due)
		lws_callback_on_writable(wsi);
	return 0;
}

/* ---- receiving ---------------------------------------------------------- */

/* The sender of an op, if it is one of ours in the same room. */
static client *sender_of(load *ld, const client *cl, const rl_msg *m)
{
	uint32_t i = m->cidx - ld->idx_base; /* wraps for another worker's */
	if (!m->ours || i >= ld->nclients)
		return NULL;
	client *s = &ld->clients[i];
	return s->room == cl->room ? s : NULL;
}

static int64_t us_since(int64_t then_ns, int64_t now_ns)
{
	return (now_ns - then_ns) / 1000;
}

/* After a reconnect's welcome: once the stream has reached the welcome's
 * seq (the replay is complete), queue the resends of every unanswered op
 * still in the ring, oldest first; new ops wait for them. */
static void client_caught_up(client *cl)
{
	if (!cl->resync || cl->stream.last < cl->catchup_seq)
		return;
	cl->resync = false;
	uint32_t span = cl->ops.mask + 1;
	cl->resend_next = cl->lseq >= span ? cl->lseq - span + 1 : 1;
	cl->resend_last = cl->lseq;
	if (cl->wsi)
		lws_callback_on_writable(cl->wsi);
}

static void on_welcome(load *ld, client *cl, const rl_msg *m, int64_t now)
{
	if (cl->state != CS_CONNECTING) {
		ld->c.decode_errors++;
		return;
	}
	snprintf(cl->epoch, sizeof(cl->epoch), "%s", m->epoch);
	if (cl->reconnecting) {
		/* Resumed: the missed events follow, from our last seq on, and the
		 * stream check carries on as if we had never left. Otherwise the
		 * stream restarts at the welcome's seq. */
		cl->reconnecting = false;
		ld->c.reconnects++;
		if (m->resumed)
			ld->c.resumed++;
		else
			ld->c.full_state++;
		if (cl->down_ns) {
			int64_t us = us_since(cl->down_ns, now);
			if (us > ld->c.max_outage_us)
				ld->c.max_outage_us = us;
			cl->down_ns = 0;
			ld->c.recovered++;
		}
		chk_stream_rewelcome(&ld->chk, &cl->stream, cl->idx, m->seq, m->resumed);
		set_state(cl, CS_READY);
		if (ld->cfg.reconnect) {
			/* Resend what has no answer once the replay is in: an op
			 * the server did commit comes back in it as our own event
			 * (a full state has none: a resent committed op is acked
			 * with dup). */
			cl->resync = true;
			cl->catchup_seq = m->seq;
			client_caught_up(cl);
		}
		if (cl->due)
			lws_callback_on_writable(cl->wsi);
		if (ld->ph == PH_RUN || cl->due)
			client_start_sending(ld, cl);
		return;
	}
	rk_hist_record(&ld->h_connect, us_since(cl->connect_ns, now));
	chk_stream_welcome(&ld->chk, &cl->stream, cl->idx, m->seq);
	set_state(cl, CS_READY);
	ld->c.established++;
	ld->connect_done_ns = now;
	if (scenario_needs_setup(ld) && cl->in_room == 0 && !cl->viewer) {
		cl->setup_due = true;
		lws_callback_on_writable(cl->wsi);
	}
	if (ld->ph == PH_RUN)
		client_start_sending(ld, cl);
}

static void on_ack(load *ld, client *cl, const rl_msg *m, int64_t now)
{
	if (m->dup)
		chk_stream_dup_ack(&ld->chk, &cl->stream, cl->idx, m->seq);
	else
		chk_stream_seq(&ld->chk, &cl->stream, cl->idx, m->seq);
	uint32_t lseq = m->lseq;
	client *s = sender_of(ld, cl, m);
	/* An ack must be for one of this connection's own ops: anything else
	 * (lseq 0) is counted as an unknown op. */
	chk_oprec *r = chk_ack(&ld->chk, &ld->rooms[cl->room].chk, &cl->ops, cl->idx,
			       s == cl ? lseq : 0, m->seq);
	if (cl->unanswered)
		cl->unanswered--;
	if (m->dup)
		ld->c.ack_dups++;
	if (r && r->setup) {
		ld->c.setup_msgs++;
		return;
	}
	ld->c.acked++;
	if (r) {
		int64_t us = us_since(r->sent_ns, now);
		rk_hist_record(&ld->h_ack, us);
		if (ld->cfg.clients == 1) /* no deliveries: show acks */
			rk_hist_record(&ld->h_win, us);
	}
}

static void on_event(load *ld, client *cl, const rl_msg *m, int64_t now)
{
	chk_stream_seq(&ld->chk, &cl->stream, cl->idx, m->seq);
	uint32_t lseq = m->lseq;
	client *s = sender_of(ld, cl, m);
	if (!s) {
		ld->c.foreign_events++;
		return;
	}
	chk_oprec *r =
	    chk_event(&ld->chk, &ld->rooms[cl->room].chk, &s->ops, s->idx, lseq, m->seq);
	if (s == cl) {
		/* Our own op, replayed on resume: its ack was lost with the old
		 * connection and this event is its answer. */
		if (r && !r->done) {
			r->done = true;
			if (cl->unanswered)
				cl->unanswered--;
			if (!r->setup)
				ld->c.own_replayed++;
		}
		return;
	}
	if (r && r->setup) {
		ld->c.setup_msgs++;
		return;
	}
	ld->c.events++;
	if (r) {
		int64_t us = us_since(r->sent_ns, now);
		rk_hist_record(&ld->h_delivery, us);
		rk_hist_record(&ld->h_win, us);
	}
}

static void on_reject(load *ld, client *cl, const rk_smsg *full, const rl_msg *m)
{
	if ((unsigned)full->reject < RK_REJ_COUNT)
		ld->c.rejects[full->reject]++;
	client *s = sender_of(ld, cl, m);
	chk_oprec *r = s == cl ? chk_op_find(&cl->ops, m->lseq) : NULL;
	if (cl->unanswered)
		cl->unanswered--;
	if (r) {
		r->done = true;
		if (r->setup) {
			ld->c.setup_msgs++;
			return;
		}
	}
	ld->c.rejected++;
}

static void on_cursor(load *ld, client *cl, const rl_msg *m, int64_t now)
{
	ld->c.cursors_recv++;
	/* Our cursors carry x = sender index, y = its local seq. */
	if (m->x < ld->idx_base || (uint64_t)m->x - ld->idx_base >= ld->nclients ||
	    m->y <= 0 || m->y > UINT32_MAX)
		return;
	client *s = &ld->clients[m->x - ld->idx_base];
	if (s->room != cl->room)
		return;
	chk_oprec *r = chk_op_find(&s->ops, (uint32_t)m->y);
	if (r) {
		int64_t us = us_since(r->sent_ns, now);
		rk_hist_record(&ld->h_cursor, us);
		rk_hist_record(&ld->h_win, us);
	}
}

/* What happens on a frame, once decoded either way. full is the complete
 * decode, or NULL when the fast path took the frame. */
static void dispatch(load *ld, client *cl, const rl_msg *m, const rk_smsg *full,
		     int64_t now)
{
	switch (m->t) {
	case RK_S_WELCOME:
		on_welcome(ld, cl, m, now);
		break;
	case RK_S_ACK:
		on_ack(ld, cl, m, now);
		client_caught_up(cl);
		break;
	case RK_S_EVENT:
		on_event(ld, cl, m, now);
		client_caught_up(cl);
		break;
	case RK_S_REJECT:
		on_reject(ld, cl, full, m);
		break;
	case RK_S_CURSOR:
		on_cursor(ld, cl, m, now);
		break;
	case RK_S_PRESENCE:
		ld->c.presence++;
		break;
	case RK_S_ERROR:
		ld->c.server_errors++;
		rk_warn("c%u: server error %s: %s", cl->idx,
			rk_errcode_name(full->errcode), full->msg);
		break;
	default:
		break;
	}
}

/* The fast path (fastdec.h) for events, acks, cursors, presence and
 * welcomes in roomd's own encoding; the full JSON decoder for the rest. */
static void on_message(load *ld, client *cl, const char *data, size_t len)
{
	rl_msg m;
	int64_t now = rk_mono_ns();
	ld->c.msgs_recv++;
	if (rl_fast_decode(data, len, &m)) {
		dispatch(ld, cl, &m, NULL, now);
		return;
	}
	rk_smsg full;
	char err[160];
	if (rk_smsg_decode(data, len, false, &full, err, sizeof(err)) != RK_OK) {
		ld->c.decode_errors++;
		rk_debug("c%u: undecodable message: %s", cl->idx, err);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.t = full.t;
	m.seq = full.t == RK_S_WELCOME ? full.welcome.seq : full.seq;
	m.resumed = full.welcome.resumed;
	m.dup = full.t == RK_S_ACK && full.dup;
	snprintf(m.epoch, sizeof(m.epoch), "%s", full.welcome.epoch);
	m.x = full.x;
	m.y = full.y;
	m.ours = rl_parse_id(full.id, strlen(full.id), &m.cidx, &m.lseq);
	dispatch(ld, cl, &m, &full, now);
	rk_smsg_free(&full);
}

static void client_rx(load *ld, client *cl, struct lws *wsi, const char *in, size_t len)
{
	bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
	if (final && cl->rx.len == 0) {
		on_message(ld, cl, in, len); /* the common case: no copy */
		return;
	}
	rk_buf_put(&cl->rx, in, len);
	if (rk_buf_ok(&cl->rx) != RK_OK) {
		ld->c.decode_errors++;
		rk_buf_free(&cl->rx);
		rk_buf_init(&cl->rx, RX_MAX);
		return;
	}
	if (!final)
		return;
	on_message(ld, cl, cl->rx.data, cl->rx.len);
	rk_buf_free(&cl->rx);
	rk_buf_init(&cl->rx, RX_MAX);
}

static void on_closed(load *ld, client *cl)
{
	if (cl->state == CS_BACKOFF)
		return; /* a late word on a connection already given up */
	if (cl->reconnecting && cl->state == CS_CLOSING && ld->ph < PH_CLOSE) {
		cl->wsi = NULL;
		client_connect(ld, cl);
		return;
	}
	if (cl->state == CS_CONNECTING) {
		/* Closed before its welcome: a failed connect. */
		char why[64];
		int n = snprintf(why, sizeof(why),
				 "closed before welcome (close code %d)", cl->close_code);
		connect_failed(ld, cl, why, (size_t)n);
		return;
	}
	if (cl->state == CS_READY) {
		if (ld->cfg.reconnect && ld->ph < PH_CLOSE && drop_code(cl->close_code)) {
			/* Dropped by the server: come back, resume, resend. */
			ld->c.drops++;
			if (!cl->close_code)
				load_count_close(ld, 1006);
			cl->down_ns = rk_mono_ns();
			cl->reconnecting = true;
			cl->resync = false;
			cl->resend_last = 0;
			backoff(ld, cl);
			return;
		}
		ld->c.closed_by_server++;
	}
	rl_theap_del(&ld->sendq, &cl->send_t);
	cl->wsi = NULL;
	set_state(cl, CS_DONE);
}

/* What to do about a certificate verification error. */
static const char *tls_hint(int x509_err)
{
	switch (x509_err) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return " (pass the server's CA certificate with --ca)";
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return " (the certificate is not for the --url host)";
	default:
		return "";
	}
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		    void *in, size_t len)
{
	client *cl = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	if (!cl)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	load *ld = cl->ld;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		/* user: the X509_STORE_CTX, len: OpenSSL's verdict. lws then
		 * fails the handshake with an opaque "SSL err"; keep why. */
		if (!len && user && !ld->first_connect_error[0]) {
			int e = X509_STORE_CTX_get_error(user);
			snprintf(ld->first_connect_error, sizeof(ld->first_connect_error),
				 "client c%u: TLS: server certificate rejected: %s%s",
				 cl->idx, X509_verify_cert_error_string(e), tls_hint(e));
		}
		return 0; /* 0: no objection of ours */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (cl->state == CS_BACKOFF)
			return 0; /* a late word on a connection already given up */
		if (cl->state == CS_CONNECTING) {
			connect_failed(ld, cl, in ? (const char *)in : "", in ? len : 0);
			return 0;
		}
		cl->wsi = NULL;
		set_state(cl, CS_DONE);
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		cl->wsi = wsi;
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		client_rx(ld, cl, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return client_writable(ld, cl, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *p = in;
			cl->close_code = (p[0] << 8) | p[1];
			load_count_close(ld, cl->close_code);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		on_closed(ld, cl);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols roomload_protocols[] = {
    {RK_SUBPROTOCOL, callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};
