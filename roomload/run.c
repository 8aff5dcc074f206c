/*
 * run.c - the run: the lws client context, the clients and rooms, and the
 * control tick that drives the phases (connect over the ramp, run, drain,
 * close) and prints progress. SIGINT/SIGTERM are blocked and polled from the
 * tick (no handler, no global): the first one ends the run phase early.
 */
#include "clock.h"
#include "load.h"
#include "log.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef RL_HAVE_LIBEV
#include <ev.h>
#endif

#define TICK_US 10000			      /* control tick */
#define CONNECT_GRACE_NS INT64_C(30000000000) /* connect phase: ramp + 30 s */
#define CLOSE_NS INT64_C(10000000000)	      /* close at most 10 s */

uint64_t load_rand(load *ld)
{
	/* xorshift64* */
	uint64_t x = ld->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ld->rng = x;
	return x * UINT64_C(2685821657736338717);
}

void load_count_close(load *ld, int code)
{
	counters *c = &ld->c;
	for (int i = 0; i < c->ncloses; i++) {
		if (c->closes[i].code == code) {
			c->closes[i].n++;
			return;
		}
	}
	if (c->ncloses < CLOSE_CODES_MAX) {
		c->closes[c->ncloses].code = code;
		c->closes[c->ncloses].n = 1;
		c->ncloses++;
	}
}

/* Raise the soft open-files limit to what the run needs (up to the hard
 * limit). lws sizes its fd -> wsi table from this limit; we must not pass a
 * smaller fd_limit_per_thread, which turns every fd lookup into a linear scan
 * of the table (measured: 16 % of the CPU connecting 10,000 clients). */
void load_counters_add(counters *dst, const counters *src)
{
	/* Every field before `closes` is a uint64_t counter. */
	_Static_assert(offsetof(counters, closes) % sizeof(uint64_t) == 0,
		       "counters: plain uint64_t fields first");
	uint64_t *d = (uint64_t *)dst;
	const uint64_t *s = (const uint64_t *)src;
	for (size_t i = 0; i < offsetof(counters, closes) / sizeof(uint64_t); i++)
		d[i] += s[i];
	for (int i = 0; i < src->ncloses; i++) {
		int k;
		for (k = 0; k < dst->ncloses; k++)
			if (dst->closes[k].code == src->closes[i].code)
				break;
		if (k == dst->ncloses) {
			if (dst->ncloses == CLOSE_CODES_MAX)
				continue;
			dst->closes[k].code = src->closes[i].code;
			dst->closes[k].n = 0;
			dst->ncloses++;
		}
		dst->closes[k].n += src->closes[i].n;
	}
	if (src->max_outage_us > dst->max_outage_us)
		dst->max_outage_us = src->max_outage_us;
}

static void raise_nofile(uint32_t need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want = (rlim_t)need + 256;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < (rlim_t)need + 64)
		rk_warn("open files limit %llu is below the %u connections asked for",
			(unsigned long long)rl.rlim_cur, need);
}

/* Op ring per client: 30 s of its sends (at least 16); none if it never
 * sends. --acked-file lists every op the server committed: the ring then
 * covers the whole run (up to 2^20 ops a client). */
static uint32_t ops_ring_size(const load_config *cfg, bool sends)
{
	if (!sends)
		return 16;
	double n = cfg->rate * 30 + 16, cap = 65536;
	if (cfg->acked_file[0]) {
		double all = cfg->rate * (cfg->duration + 1) + 16;
		if (all > n)
			n = all;
		cap = 1 << 20;
	}
	return n > cap ? (uint32_t)cap : (uint32_t)n;
}

static bool setup_clients(load *ld)
{
	const load_config *cfg = &ld->cfg;
	ld->nclients = (uint32_t)cfg->rooms * (uint32_t)cfg->clients;
	ld->clients = calloc(ld->nclients, sizeof(*ld->clients));
	ld->rooms = calloc((size_t)cfg->rooms, sizeof(*ld->rooms));
	if (!ld->clients || !ld->rooms || !rl_theap_init(&ld->sendq, ld->nclients))
		return false;
	uint32_t nviewers = (uint32_t)(cfg->clients * cfg->viewers + 0.5);
	bool sends = cfg->rate > 0 && cfg->sc != SC_IDLE;
	for (int r = 0; r < cfg->rooms; r++) {
		room_info *ri = &ld->rooms[r];
		snprintf(ri->name, sizeof(ri->name), "%s%u", cfg->prefix,
			 ld->room_base + (uint32_t)r);
		/* Seq ring: about 30 s of the room's ops. */
		double n = sends ? cfg->rate * cfg->clients * 30 + 64 : 64;
		if (!chk_room_init(&ri->chk, n > (1 << 20) ? (1 << 20) : (uint32_t)n))
			return false;
	}
	for (uint32_t i = 0; i < ld->nclients; i++) {
		client *cl = &ld->clients[i];
		cl->ld = ld;
		cl->idx = ld->idx_base + i;
		cl->room = i / (uint32_t)cfg->clients;
		cl->in_room = i % (uint32_t)cfg->clients;
		cl->viewer = cl->in_room >= (uint32_t)cfg->clients - nviewers;
		chk_stream_init(&cl->stream);
		rk_buf_init(&cl->rx, RX_MAX);
		if (!chk_ops_init(&cl->ops, ops_ring_size(cfg, sends && !cl->viewer)))
			return false;
	}
	return true;
}

static void start_run(load *ld, int64_t now)
{
	ld->ph = PH_RUN;
	ld->run_start_ns = now;
	ld->run_end_ns = now + (int64_t)(ld->cfg.duration * 1e9);
	if (!ld->cfg.quiet)
		fprintf(stderr,
			"roomload: %llu/%u connected in %.2f s; running %s for %.0f s\n",
			(unsigned long long)ld->c.established, ld->nclients,
			(double)(now - ld->t0_ns) / 1e9, scenario_name(ld->cfg.sc),
			ld->cfg.duration);
	for (uint32_t i = 0; i < ld->nclients; i++)
		client_start_sending(ld, &ld->clients[i]);
}

/* Close at most --max-connecting connections at a time: lws 4.1 gives each
 * closing connection a timeout in its sorted timer list, whose insert walks
 * the list, so closing 10,000 at once cost O(n^2) (about 2 s of CPU). */
static void close_some(load *ld)
{
	while (ld->next_close < ld->nclients &&
	       ld->closing < (uint32_t)ld->cfg.max_connecting)
		client_close(&ld->clients[ld->next_close++]);
}

static void start_close(load *ld, int64_t now)
{
	ld->ph = PH_CLOSE;
	ld->phase_deadline_ns = now + CLOSE_NS;
	for (uint32_t i = 0; i < ld->nclients; i++)
		client_stop_sending(&ld->clients[i]);
	close_some(ld);
}

/* Drain is over when every op is answered (resends included), no client is
 * reconnecting or catching up on a replay, and each room's live connections
 * have reached the same seq. */
static bool drained(load *ld)
{
	int64_t room_last = -1;
	uint32_t room = UINT32_MAX;
	for (uint32_t i = 0; i < ld->nclients; i++) {
		client *cl = &ld->clients[i];
		if (cl->reconnecting && cl->state != CS_DONE)
			return false;
		if (cl->state != CS_READY)
			continue;
		if (cl->due || cl->unanswered || cl->setup_due || cl->resync)
			return false;
		if (cl->room != room) {
			room = cl->room;
			room_last = cl->stream.last;
		} else if (cl->stream.last != room_last) {
			return false;
		}
	}
	return true;
}

/* The final agreement check over each room's live connections; what is
 * still unanswered. */
static void final_checks(load *ld)
{
	for (uint32_t i = 0; i < ld->nclients; i++)
		ld->c.unanswered_end += ld->clients[i].unanswered;
	int64_t *last = calloc((size_t)ld->cfg.clients, sizeof(*last));
	if (!last)
		return;
	for (int r = 0; r < ld->cfg.rooms; r++) {
		size_t n = 0;
		for (int j = 0; j < ld->cfg.clients; j++) {
			client *cl =
			    &ld->clients[(size_t)r * (size_t)ld->cfg.clients + (size_t)j];
			if (cl->state == CS_READY)
				last[n++] = cl->stream.last;
		}
		chk_final(&ld->chk, ld->room_base + (uint32_t)r, last, n);
	}
	free(last);
}

/* SIGINT/SIGTERM are blocked (load_begin) and polled: if one is
 * pending, take it and say so. The single process and --procs' parent. */
void load_begin(load *ld)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	rk_hist_init(&ld->h_ack);
	rk_hist_init(&ld->h_delivery);
	rk_hist_init(&ld->h_cursor);
	rk_hist_init(&ld->h_connect);
	rk_hist_init(&ld->h_lag);
	rk_hist_init(&ld->h_win);
	chk_init(&ld->chk);
	uint32_t tag = (uint32_t)rk_wall_ms() * 2654435761u ^ (uint32_t)getpid() * 40503u;
	snprintf(ld->run, sizeof(ld->run), "%06x", tag & 0xffffffu);
}

bool load_signalled(void)
{
	sigset_t pend;
	if (sigpending(&pend) != 0 ||
	    (!sigismember(&pend, SIGINT) && !sigismember(&pend, SIGTERM)))
		return false;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	struct timespec zero = {0, 0};
	sigtimedwait(&set, NULL, &zero);
	return true;
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	load *ld = container_of(sul, load, tick_sul);
	const load_config *cfg = &ld->cfg;
	int64_t now = rk_mono_ns();
	if (load_signalled() && ld->ph <= PH_RUN) {
		fprintf(stderr, "roomload: interrupted; draining\n");
		ld->run_end_ns = now;
		if (ld->ph == PH_CONNECT)
			ld->run_start_ns = now;
		ld->ph = PH_RUN;
	}
	switch (ld->ph) {
	case PH_CONNECT: {
		/* Ramp: by now, this many connections should have been issued. */
		uint32_t target = ld->nclients;
		if (cfg->ramp > 0) {
			double f = (double)(now - ld->t0_ns) / (cfg->ramp * 1e9);
			if (f < 1)
				target = (uint32_t)(f * ld->nclients);
		}
		while (ld->next_connect < target &&
		       ld->connecting < (uint32_t)cfg->max_connecting)
			client_connect(ld, &ld->clients[ld->next_connect++]);
		bool all = ld->next_connect == ld->nclients && ld->connecting == 0;
		/* A worker of --procs waits for the parent's go, given once
		 * every worker is connected: sending starts together. */
		if ((all || now > ld->phase_deadline_ns) &&
		    (!ld->worker || procs_worker_go(ld)))
			start_run(ld, now);
		break;
	}
	case PH_RUN:
		if (now >= ld->run_end_ns) {
			ld->ph = PH_DRAIN;
			ld->phase_deadline_ns = now + (int64_t)(ld->cfg.drain * 1e9);
			for (uint32_t i = 0; i < ld->nclients; i++)
				client_stop_sending(&ld->clients[i]);
		}
		break;
	case PH_DRAIN:
		if (drained(ld) || now > ld->phase_deadline_ns) {
			final_checks(ld);
			start_close(ld, now);
		}
		break;
	case PH_CLOSE:
		close_some(ld);
		if (ld->live == 0 || now > ld->phase_deadline_ns)
			ld->ph = PH_END;
		break;
	case PH_END:
		break;
	}
	if (now - ld->last_progress_ns >= 1000000000 || ld->ph == PH_END) {
		if (ld->worker)
			procs_worker_progress(ld);
		else
			report_interval(ld, now);
		ld->last_progress_ns = now;
	}
#ifdef RL_HAVE_LIBEV
	if (ld->ph == PH_END && ld->evloop) {
		ev_break(ld->evloop, EVBREAK_ALL);
		return;
	}
#endif
	/* Always re-armed: the poll loop checks for PH_END after each service,
	 * and a sleeping poll with no timer due would never return. */
	lws_sul_schedule(ld->lws, 0, &ld->tick_sul, tick_cb, TICK_US);
}

static void lws_log_bridge(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		n--;
	if (level & LLL_ERR)
		rk_debug("lws: %.*s", (int)n, line);
}

int run_load(load *ld)
{
	const load_config *cfg = &ld->cfg;
	int rc = 1;
	load_begin(ld);
	rk_buf_init(&ld->enc, 0);
	ld->rng = cfg->seed ? cfg->seed : 1;
	if (!scenario_init(ld) || !setup_clients(ld)) {
		fprintf(stderr, "Error: out of memory setting up %u clients\n",
			(uint32_t)cfg->rooms * (uint32_t)cfg->clients);
		goto out;
	}
	raise_nofile(ld->nclients);

	lws_set_log_level(LLL_ERR, lws_log_bridge);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = roomload_protocols;
	info.options = cfg->srv.tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	info.client_ssl_ca_filepath = cfg->ca_file; /* besides the system store */
	info.count_threads = 1;
	info.timeout_secs = 30;
	info.connect_timeout_secs = 20;
	info.max_http_header_pool = (unsigned short)(cfg->max_connecting + 16);
	info.user = ld;
#ifdef RL_HAVE_LIBEV
	/* lws's default loop is poll(): every wakeup scans every socket, which
	 * dominates the CPU at thousands of connections. Run lws on a libev
	 * loop we own (epoll) instead. */
	void *foreign[1];
	ld->evloop = ev_loop_new(EVFLAG_AUTO);
	if (ld->evloop) {
		foreign[0] = ld->evloop;
		info.options |= LWS_SERVER_OPTION_LIBEV;
		info.foreign_loops = foreign;
	}
#endif
	ld->lws = lws_create_context(&info);
	if (!ld->lws) {
		fprintf(stderr, "Error: cannot create the libwebsockets context\n");
		goto out;
	}
	getrusage(RUSAGE_SELF, &ld->ru0);
	ld->t0_ns = rk_mono_ns();
	ld->last_progress_ns = ld->t0_ns;
	ld->phase_deadline_ns = ld->t0_ns + (int64_t)(cfg->ramp * 1e9) + CONNECT_GRACE_NS;
	ld->ph = PH_CONNECT;
	lws_sul_schedule(ld->lws, 0, &ld->tick_sul, tick_cb, 1);
#ifdef RL_HAVE_LIBEV
	if (ld->evloop)
		ev_run(ld->evloop, 0);
#endif
	while (ld->ph != PH_END)
		if (lws_service(ld->lws, 0) < 0)
			break;
	rc = acked_file_write(ld) ? 0 : 1;
out:
	if (ld->lws) {
		for (uint32_t i = 0; i < ld->nclients; i++)
			client_cancel(&ld->clients[i]);
		lws_sul_cancel(&ld->tick_sul);
		client_sendq_cancel(ld);
		/* Destroying the context closes what is left; callbacks still
		 * see valid client structs. */
		lws_context_destroy(ld->lws);
		ld->lws = NULL;
	}
#ifdef RL_HAVE_LIBEV
	if (ld->evloop) {
		ev_loop_destroy(ld->evloop);
		ld->evloop = NULL;
	}
#endif
	return rc;
}

void load_free(load *ld)
{
	if (ld->clients)
		for (uint32_t i = 0; i < ld->nclients; i++)
			client_free(&ld->clients[i]);
	if (ld->rooms)
		for (int r = 0; r < ld->cfg.rooms; r++)
			chk_room_free(&ld->rooms[r].chk);
	RK_FREE(ld->clients);
	RK_FREE(ld->rooms);
	rl_theap_free(&ld->sendq);
	scenario_free(ld);
	rk_buf_free(&ld->enc);
	config_free(&ld->cfg);
}
