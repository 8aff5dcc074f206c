/*
 * app.c - roomtui's loop and glue: one libev loop carries the terminal
 * (stdin watcher, SIGWINCH), the connection (lws on the same loop) and the
 * timers (heartbeat, cursor rate limit, status countdown). Server messages
 * are decoded here and fed to the model; local ops go through the model
 * (predicted at once) and out through net. The screen is redrawn once per
 * loop iteration, only when something changed (ev_prepare), so a burst of
 * events costs one frame and an idle client sleeps in epoll.
 */
#include "tui.h"
#include "clock.h"
#include "log.h"
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PING_EVERY_S 2.0
#define PONG_TIMEOUT_US INT64_C(6000000)
#define CURSOR_MIN_US INT64_C(50000) /* at most 20 cursor messages a second */

/* The app and its watchers, so callbacks find the app from a watcher. */
typedef struct runner {
	tui_app a;
	ev_io in;
	ev_signal winch, intr, term, hup;
	ev_timer ping, tick, cursor;
	ev_prepare prep;
} runner;

void app_status(tui_app *a, bool error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->status, sizeof(a->status), fmt, ap);
	va_end(ap);
	a->status_error = error;
	a->dirty = true;
}

int app_user_color(const tui_app *a, const char *user)
{
	for (size_t i = 0; i < a->npeers; i++)
		if (strcmp(a->peers[i].user, user) == 0)
			return a->peers[i].color;
	unsigned h = 5381;
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		h = h * 33 + *p;
	return (int)(h % 7) + 1;
}

/* ---- sending ------------------------------------------------------------- */

static bool send_buf(tui_app *a, rk_buf *b)
{
	return rk_buf_ok(b) == RK_OK && tn_send(a->net, b->data, b->len);
}

/* Send every unsent pending op, if the connection is live and any resume
 * replay has settled what was already committed. */
static void flush_pending(tui_app *a)
{
	if (tn_get_state(a->net) != TN_OPEN || !tm_resend_ready(&a->model))
		return;
	rk_buf b;
	rk_buf_init(&b, 0);
	for (size_t i = 0; i < a->model.npend; i++) {
		tm_pending *p = &a->model.pend[i];
		if (p->sent)
			continue;
		rk_buf_reset(&b);
		rk_enc_c_op(&b, p->id, &p->op);
		if (!send_buf(a, &b))
			break;
		p->sent = true;
	}
	rk_buf_free(&b);
}

void app_submit(tui_app *a, rk_op *op)
{
	char id[RK_ID_MAX + 1], msg[RK_MSG_MSG_MAX + 1];
	rk_op_kind k = op->k;
	rk_reject r = tm_local_op(&a->model, op, id, msg, sizeof(msg));
	if (r != RK_REJ_NONE) {
		app_status(a, true, "%s refused: %s", rk_op_kind_name(k), msg);
		return;
	}
	flush_pending(a);
	a->dirty = true;
}

static void send_cursor(tui_app *a)
{
	runner *rn = (runner *)a;
	a->cursor_due = false;
	ev_timer_stop(a->loop, &rn->cursor);
	if (tn_get_state(a->net) != TN_OPEN || !a->model.joined)
		return;
	rk_buf b;
	rk_buf_init(&b, 256);
	rk_enc_c_cursor(&b, a->px, a->py);
	send_buf(a, &b);
	rk_buf_free(&b);
	a->cursor_sent_us = rk_mono_us();
}

void app_cursor_moved(tui_app *a)
{
	runner *rn = (runner *)a;
	int64_t wait = a->cursor_sent_us + CURSOR_MIN_US - rk_mono_us();
	if (wait <= 0) {
		send_cursor(a);
		return;
	}
	if (!a->cursor_due) {
		a->cursor_due = true;
		ev_timer_set(&rn->cursor, (double)wait / 1e6, 0.);
		ev_timer_start(a->loop, &rn->cursor);
	}
}

/* ---- receiving ------------------------------------------------------------ */

static tui_peer *peer_find(tui_app *a, const char *session)
{
	for (size_t i = 0; i < a->npeers; i++)
		if (strcmp(a->peers[i].session, session) == 0)
			return &a->peers[i];
	return NULL;
}

static void peer_add(tui_app *a, const rk_peer *p)
{
	tui_peer *t = peer_find(a, p->session);
	if (!t) {
		if (a->npeers == TUI_PEERS_MAX)
			return;
		t = &a->peers[a->npeers++];
		memset(t, 0, sizeof(*t));
	}
	snprintf(t->session, sizeof(t->session), "%s", p->session);
	snprintf(t->user, sizeof(t->user), "%s", p->user);
	t->color = p->color;
}

static void peer_remove(tui_app *a, const char *session)
{
	tui_peer *t = peer_find(a, session);
	if (!t)
		return;
	size_t i = (size_t)(t - a->peers);
	memmove(&a->peers[i], &a->peers[i + 1], (a->npeers - i - 1) * sizeof(*t));
	a->npeers--;
}

static void on_welcome(tui_app *a, rk_smsg *m)
{
	size_t dropped = 0;
	rk_err e = tm_welcome(&a->model, m, &dropped);
	if (e != RK_OK) {
		/* A resume we cannot follow: start over with a full state. */
		a->model.epoch[0] = '\0';
		tn_drop(a->net, "resume mismatch");
		return;
	}
	snprintf(a->session, sizeof(a->session), "%s", m->welcome.session);
	a->npeers = 0;
	for (size_t i = 0; i < m->welcome.npeers; i++)
		peer_add(a, &m->welcome.peers[i]);
	tn_reset_backoff(a->net);
	a->ping_sent_us = 0;
	if (a->model.role == RK_ROLE_VIEWER)
		app_status(a, false, "joined %s read-only (viewer): drawing keys are off",
			   a->opts->room);
	else if (dropped)
		app_status(
		    a, true,
		    "reconnected: %zu pending change(s) dropped "
		    "(they conflict now, or the room cannot tell if they were saved)",
		    dropped);
	else
		app_status(a, false, "%s %s as %s. Press ? for keys.",
			   m->welcome.resumed ? "resumed" : "joined", a->opts->room,
			   a->model.user);
}

static void on_message(void *ud, const char *s, size_t n)
{
	tui_app *a = ud;
	rk_smsg m;
	char err[160];
	if (rk_smsg_decode(s, n, true, &m, err, sizeof(err)) != RK_OK) {
		app_status(a, true, "bad message from server: %s", err);
		return;
	}
	switch (m.t) {
	case RK_S_WELCOME:
		on_welcome(a, &m);
		break;
	case RK_S_EVENT:
		tm_event(&a->model, &m);
		break;
	case RK_S_ACK:
		tm_ack(&a->model, m.id, m.seq, rk_wall_ms());
		break;
	case RK_S_REJECT: {
		rk_op_kind k = RK_OP_NONE;
		if (tm_reject(&a->model, m.id, &k))
			app_status(a, true, "%s rejected (%s): %s", rk_op_kind_name(k),
				   rk_reject_name(m.reject), m.msg);
		break;
	}
	case RK_S_PRESENCE:
		if (m.join)
			peer_add(a, &m.peer);
		else
			peer_remove(a, m.session);
		break;
	case RK_S_CURSOR: {
		tui_peer *p = peer_find(a, m.session);
		if (p) {
			p->has_cursor = true;
			p->x = m.x;
			p->y = m.y;
		}
		break;
	}
	case RK_S_PONG:
		if (a->ping_sent_us)
			a->rtt_ms = (rk_mono_us() - a->ping_sent_us + 500) / 1000;
		a->ping_sent_us = 0;
		break;
	case RK_S_ERROR:
		app_status(a, true, "server error %s: %s", rk_errcode_name(m.errcode),
			   m.msg);
		break;
	default:
		break;
	}
	rk_smsg_free(&m);
	flush_pending(a);
	a->dirty = true;
}

static void on_net_state(void *ud, tn_state st, const char *reason)
{
	tui_app *a = ud;
	runner *rn = (runner *)a;
	/* The countdown ticks only while waiting: an idle client sleeps. */
	if (st == TN_WAITING)
		ev_timer_again(a->loop, &rn->tick);
	else
		ev_timer_stop(a->loop, &rn->tick);
	if (st == TN_WAITING) {
		tm_disconnected(&a->model);
		a->npeers = 0;
		a->ping_sent_us = 0;
		a->rtt_ms = -1;
		snprintf(a->drop_reason, sizeof(a->drop_reason), "%s", reason);
		/* Say why (e.g. a TLS certificate the server was refused for). */
		if (reason && *reason)
			app_status(a, true, "disconnected: %s", reason);
	} else if (st == TN_STOPPED && reason && *reason) {
		tm_disconnected(&a->model);
		a->npeers = 0;
		app_status(a, true, "%s. Press q to quit.", reason);
	}
	a->dirty = true;
}

static bool on_resume(void *ud, int64_t *since, char *epoch, size_t n)
{
	tui_app *a = ud;
	if (!a->model.epoch[0])
		return false;
	*since = a->model.seq;
	snprintf(epoch, n, "%s", a->model.epoch);
	return true;
}

/* ---- watchers -------------------------------------------------------------- */

static void stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	runner *rn = w->data;
	ui_input(&rn->a);
}

static void winch_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	runner *rn = w->data;
	if (rn->a.ui)
		ui_resize(&rn->a);
}

static void quit_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	runner *rn = w->data;
	rn->a.quit = true;
}

static void ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	runner *rn = w->data;
	tui_app *a = &rn->a;
	if (tn_get_state(a->net) != TN_OPEN || !a->model.joined)
		return;
	int64_t now = rk_mono_us();
	if (a->ping_sent_us) {
		if (now - a->ping_sent_us > PONG_TIMEOUT_US)
			tn_drop(a->net, "no answer to ping");
		return;
	}
	rk_buf b;
	rk_buf_init(&b, 256);
	rk_enc_c_ping(&b, "rtt");
	if (send_buf(a, &b))
		a->ping_sent_us = now;
	rk_buf_free(&b);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	runner *rn = w->data;
	/* Only the reconnect countdown changes with time alone. */
	rn->a.dirty = true;
}

static void cursor_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	runner *rn = w->data;
	if (rn->a.cursor_due)
		send_cursor(&rn->a);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	runner *rn = w->data;
	tui_app *a = &rn->a;
	if (a->quit) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (a->dirty) {
		a->dirty = false;
		ui_draw(a);
	}
}

static void make_client_id(char *out, size_t n)
{
	uint64_t r = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		r = (uint64_t)rk_mono_ns() ^ ((uint64_t)getpid() << 32);
	if (fd >= 0)
		close(fd);
	snprintf(out, n, "t%012llx", (unsigned long long)(r & 0xffffffffffffull));
}

int app_run(tui_opts *o)
{
	runner *rn = calloc(1, sizeof(*rn));
	if (!rn) {
		fprintf(stderr, "Error: out of memory\n");
		return 1;
	}
	tui_app *a = &rn->a;
	int rc = 1;
	a->opts = o;
	a->rtt_ms = -1;
	a->color = 1;
	make_client_id(a->client_id, sizeof(a->client_id));
	if (tm_init(&a->model, a->client_id) != RK_OK) {
		fprintf(stderr, "Error: out of memory\n");
		goto out;
	}
	a->loop = ev_default_loop(EVFLAG_AUTO);
	if (!a->loop) {
		fprintf(stderr, "Error: cannot create the event loop\n");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	tn_config cfg = {o->srv.host, o->srv.port, o->srv.tls, o->ca_file,
			 o->room,     o->name,	   o->token,   a->client_id};
	tn_handlers h = {on_message, on_net_state, on_resume};
	a->net = tn_new(a->loop, &cfg, &h, a);
	if (!a->net)
		goto out;
	/* SIGWINCH is ours before curses starts: a resize while it sets up
	 * (a terminal emulator or tmux sizing its new window) is not lost;
	 * after setup the size is read once more. */
	ev_signal_init(&rn->winch, winch_cb, SIGWINCH);
	rn->winch.data = rn;
	ev_signal_start(a->loop, &rn->winch);
	a->ui = ui_init(a);
	if (!a->ui) {
		fprintf(stderr, "Error: cannot use this terminal (is TERM set?)\n");
		goto out;
	}
	ui_resize(a);
	ev_io_init(&rn->in, stdin_cb, STDIN_FILENO, EV_READ);
	ev_signal_init(&rn->intr, quit_cb, SIGINT);
	ev_signal_init(&rn->term, quit_cb, SIGTERM);
	ev_signal_init(&rn->hup, quit_cb, SIGHUP);
	ev_timer_init(&rn->ping, ping_cb, PING_EVERY_S, PING_EVERY_S);
	ev_timer_init(&rn->tick, tick_cb, 0., 0.25);
	ev_timer_init(&rn->cursor, cursor_cb, 0., 0.);
	ev_prepare_init(&rn->prep, prepare_cb);
	rn->in.data = rn->intr.data = rn->term.data = rn->hup.data = rn;
	rn->ping.data = rn->tick.data = rn->cursor.data = rn->prep.data = rn;
	ev_io_start(a->loop, &rn->in);
	ev_signal_start(a->loop, &rn->intr);
	ev_signal_start(a->loop, &rn->term);
	ev_signal_start(a->loop, &rn->hup);
	ev_timer_start(a->loop, &rn->ping);
	ev_prepare_start(a->loop, &rn->prep);
	app_status(a, false, "connecting to %s:%d ...", o->srv.host, o->srv.port);
	tn_start(a->net);
	ev_run(a->loop, 0);
	rc = a->exit_code;
	ev_io_stop(a->loop, &rn->in);
	ev_signal_stop(a->loop, &rn->intr);
	ev_signal_stop(a->loop, &rn->term);
	ev_signal_stop(a->loop, &rn->hup);
	ev_timer_stop(a->loop, &rn->ping);
	ev_timer_stop(a->loop, &rn->tick);
	ev_timer_stop(a->loop, &rn->cursor);
	ev_prepare_stop(a->loop, &rn->prep);
out:
	if (a->loop)
		ev_signal_stop(a->loop, &rn->winch);
	if (a->ui)
		ui_end(a->ui);
	a->ui = NULL;
	if (a->net) {
		tn_stop(a->net);
		tn_free(a->net);
	}
	tm_free(&a->model);
	free(a->stroke);
	if (a->loop)
		ev_loop_destroy(a->loop);
	free(rn);
	return rc;
}
