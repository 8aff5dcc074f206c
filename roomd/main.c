/*
 * main.c - roomd's entry point: configuration, the data directory, the
 * service loop (lws_service, then one commit batch per turn), housekeeping
 * timer, and the SIGTERM/SIGINT drain.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <uv.h>
#include "cli.h"
#include "clock.h"
#include "log.h"
#include "httpop.h"
#include "conn_out.h"
#include "net.h"
#include "roomd.h"
#include "server.h"
#include "store.h"

#define TICK_US 250000
#define DRAIN_TIMEOUT_MS 5000

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	server *s = container_of(sul, server, tick_sul);
	server_tick(s);
	iplimit_sweep(&s->ipl, rk_mono_us());
	rk_log_limit_flush(&s->loglim, rk_mono_us());
	lws_sul_schedule(s->lws, 0, &s->tick_sul, tick_cb, TICK_US);
}

/* libuv runs check handles once per loop turn, after the I/O callbacks: the
 * point where everything this turn received is committed, one transaction
 * per room, before any ack or event leaves (group commit + output gate). */
static void flush_cb(uv_check_t *h)
{
	server *s = h->data;
	server_flush_turn(s);
	conn_write_out(s);
	if (s->draining && s->nconns == 0)
		uv_stop(&s->loop);
}

static void drain_timeout_cb(uv_timer_t *t)
{
	server *s = t->data;
	rk_warn("drain: %llu connections still open after %d ms; closing anyway",
		(unsigned long long)s->nconns, DRAIN_TIMEOUT_MS);
	uv_stop(&s->loop);
}

/* SIGTERM/SIGINT: stop accepting (upgrades and /healthz answer 503), commit,
 * close every connection with 1001, and stop the loop once they are gone. */
static void signal_cb(uv_signal_t *h, int signum)
{
	server *s = h->data;
	if (s->draining)
		return;
	rk_info("signal %d: draining %llu connections", signum,
		(unsigned long long)s->nconns);
	s->draining = true;
	/* Cluster mode: a drain waits for PostgreSQL at most --pg-timeout;
	 * what is not committed by then is dropped (never acked). */
	if (s->pgc)
		pgcommit_give_up_after(s->pgc, s->cfg.pg_timeout_ms);
	/* With --fsync this waits (once, at shutdown) for the syncer, so the
	 * acks and events of everything committed are queued before the 1001. */
	server_flush_durable(s);
	for (conn *c = s->conns; c; c = c->anext)
		conn_close(c, CLOSE_SHUTDOWN, "server shutting down");
	uv_timer_start(&s->drain_timer, drain_timeout_cb, DRAIN_TIMEOUT_MS, 0);
	if (s->nconns == 0)
		uv_stop(&s->loop);
}

/* The alarm list's timer: fire what is due. */
static void alarm_cb(void *arg)
{
	server_alarms(arg);
}

static int mkdir_p(const char *path)
{
	char tmp[1200];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/*
 * The open-files limit is what lws sizes its fd tables by (net.c sets no
 * fd_limit_per_thread), so set it to what --max-conns needs (up or down): a connection's
 * socket plus, for rooms of their own, a room's database, WAL, shm and lock
 * files. Not the hard limit as such: that is often 1M, and lws 4.1 walks its
 * fd table on some paths.
 */
static void set_nofile(unsigned max_conns)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want = (rlim_t)max_conns * 5 + 1024;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	if (want != rl.rlim_cur) {
		rl.rlim_cur = want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Largest tail of events a cluster room keeps in memory for resumes
 * (pg.h): resumes of longer gaps get a full state. */
#define CLUSTER_TAIL 1024

/* Cluster mode (--pg): the first heartbeat (a node that cannot reach its
 * database does not start), the group commit, the heartbeat thread and the
 * loader's connection. 0, or -1 with the error logged. */
static int cluster_start(server *s)
{
	char err[512];
	const roomd_config *c = &s->cfg;
	if (lease_first_beat(c->pg_url, c->node, c->pg_timeout_ms, err, sizeof(err)) !=
	    RK_OK) {
		rk_error("cluster: cannot reach PostgreSQL: %s", err);
		return -1;
	}
	int tail = c->resume_max < CLUSTER_TAIL ? c->resume_max : CLUSTER_TAIL;
	s->pgc = pgcommit_start(&s->loop, c->pg_url, c->node, c->pg_timeout_ms,
				server_room_committed, s);
	s->lease = s->pgc ? lease_start(&s->loop, c->pg_url, c->node, c->lease_ms,
					c->pg_timeout_ms, server_lease_report, s)
			  : NULL;
	if (!s->lease || !s->loader ||
	    loader_set_cluster(s->loader, c->pg_url, c->node, c->lease_ms,
			       c->pg_timeout_ms, tail) != RK_OK) {
		rk_error("cluster: out of memory starting its threads");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	server *s = calloc(1, sizeof(*s));
	if (!s)
		return RK_EXIT_FAIL;
	int rc = config_parse(&s->cfg, argc, argv);
	if (rc != RK_CLI_GO) {
		config_free(&s->cfg);
		free(s);
		return rc;
	}
	rk_log_set_level((rk_log_level)s->cfg.log_level);
	rk_log_set_format((rk_log_format)s->cfg.log_format);
	char tls_err[512];
	if (net_tls_check(&s->cfg, tls_err, sizeof(tls_err)) != 0) {
		fprintf(stderr, "Error: %s\n", tls_err);
		config_free(&s->cfg);
		free(s);
		return RK_EXIT_FAIL;
	}
	set_nofile((unsigned)s->cfg.max_conns);
	if (!store_global_init())
		rk_warn("store_global_init refused: room handles use SQLite's default "
			"page cache");
	signal(SIGPIPE, SIG_IGN);

	snprintf(s->rooms_dir, sizeof(s->rooms_dir), "%s/rooms", s->cfg.data_dir);
	if (!s->cfg.pg_url && mkdir_p(s->rooms_dir) != 0) {
		fprintf(stderr, "Error: cannot create data directory %s: %s\n",
			s->rooms_dir, strerror(errno));
		config_free(&s->cfg);
		free(s);
		return RK_EXIT_FAIL;
	}
	unsigned char rnd[3];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(s->session_prefix, sizeof(s->session_prefix), "%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2]);
	rk_buf_init(&s->scratch, 0);
	rk_buf_init(&s->op_scratch, 0);
	rk_buf_init(&s->wh_scratch, 0);
	s->wbuf = malloc(LWS_PRE + WBUF_SIZE);
	if (!s->wbuf) {
		free(s);
		return RK_EXIT_FAIL;
	}
	rk_omap_init(&s->rooms);
	iplimit_init(&s->ipl, s->cfg.conn_rate, s->cfg.conn_burst,
		     (uint32_t)s->cfg.max_conns_per_ip, s->cfg.limit_loopback);
	if (!s->cfg.secret)
		rk_warn(
		    "auth is OFF: no --secret-file or ROOMD_SECRET; every client is an "
		    "editor named by ?name=");

	rc = RK_EXIT_FAIL;
	uv_loop_init(&s->loop);
	uv_check_init(&s->loop, &s->flush_check);
	uv_signal_init(&s->loop, &s->sigterm);
	uv_signal_init(&s->loop, &s->sigint);
	uv_timer_init(&s->loop, &s->drain_timer);
	s->flush_check.data = s->sigterm.data = s->sigint.data = s->drain_timer.data = s;
	s->ckpt = ckpt_start(s->cfg.retain_events);
	s->loader =
	    !s->ckpt ? NULL : loader_start(&s->loop, s->ckpt, server_room_loaded, s);
	if (s->cfg.fsync)
		s->syncer = syncer_start(&s->loop, server_room_synced, s);
	if (s->cfg.pg_url && cluster_start(s) != 0)
		goto out;
	char wh_err[256];
	if (s->cfg.webhook_url &&
	    !(s->wh = webhook_start(&s->cfg, s->cfg.data_dir, wh_err, sizeof(wh_err))))
		rk_error("webhooks: %s", wh_err);
	s->alarms.fire = alarm_cb;
	s->alarms.arg = s;
	if (!s->ckpt || !s->loader || (s->cfg.fsync && !s->syncer) ||
	    (s->cfg.webhook_url && !s->wh) ||
	    (!s->cfg.pg_url && server_scan_rooms(s) != 0) || net_start(s) != 0)
		goto out;
	s->alarms.lws = s->lws;

	uv_check_start(&s->flush_check, flush_cb);
	uv_signal_start(&s->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&s->sigint, signal_cb, SIGINT);
	lws_sul_schedule(s->lws, 0, &s->tick_sul, tick_cb, TICK_US);
	server_alarms(s); /* fire what came due while we were down, arm the rest */
	s->running = true;
	if (s->cfg.pg_url)
		rk_info("cluster node %s: room logs in PostgreSQL, lease %d ms, "
			"hibernate after %lld ms",
			s->cfg.node, s->cfg.lease_ms,
			(long long)s->cfg.hibernate_after_ms);
	else
		rk_info("data in %s, durability %s, hibernate after %lld ms",
			s->cfg.data_dir,
			s->cfg.fsync ? "fsync (power loss)" : "normal (process crash)",
			(long long)s->cfg.hibernate_after_ms);
	if (s->cfg.tls_cert)
		rk_info("TLS on: wss:// and https:// only, certificate %s",
			s->cfg.tls_cert);
	/* The ready line scripts and tests wait for (whatever --log-level; with
	 * --log-format json a JSON line whose msg is the same text). */
	if (s->cfg.log_format == RK_LOG_JSON)
		rk_log_write(RK_LOG_INFO, "roomd listening on %s:%d%s", s->cfg.host,
			     s->cfg.port, s->cfg.tls_cert ? " (TLS)" : "");
	else
		fprintf(stderr, "roomd listening on %s:%d%s\n", s->cfg.host, s->cfg.port,
			s->cfg.tls_cert ? " (TLS)" : "");
	fflush(stderr);

	uv_run(&s->loop, UV_RUN_DEFAULT);
	server_flush_durable(s);
	rc = RK_EXIT_OK;
	if (s->pgc && pgcommit_dropped(s->pgc)) {
		rk_error("cluster: %llu batches not committed at shutdown (PostgreSQL "
			 "did not answer within --pg-timeout): their ops were never "
			 "acknowledged; clients resend them to the next owner",
			 (unsigned long long)pgcommit_dropped(s->pgc));
		rc = RK_EXIT_FAIL;
	}
	rk_info("stopped");
out:
	if (s->lws) {
		lws_sul_cancel(&s->tick_sul);
		lws_sul_cancel(&s->alarms.sul);
		server_cancel_timers(s);
		lws_context_destroy(s->lws);
	}
	/* Let lws and our handles finish closing, then close the loop. On a
	 * foreign loop lws 4.1 finishes its teardown in a second
	 * lws_context_destroy() once its handles have closed. The loader goes
	 * first: its thread is joined (a load in progress finishes, queued ones
	 * and undelivered results are freed) before its async handle closes. */
	lease_stop(s->lease); /* no heartbeat: the drain below releases the rooms */
	s->lease = NULL;
	loader_stop(s->loader);
	s->loader = NULL;
	/* Likewise the syncer: queued jobs finish, results are not delivered
	 * (server_flush_durable released everything before the teardown). */
	syncer_stop(s->syncer);
	s->syncer = NULL;
	/* Cluster mode: after a clean drain (everything committed) the node
	 * releases its rooms, so others take them at once, not after a lease. */
	pgcommit_stop(s->pgc, rc == RK_EXIT_OK);
	s->pgc = NULL;
	uv_close((uv_handle_t *)&s->flush_check, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->drain_timer, NULL);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	if (s->lws)
		lws_context_destroy(s->lws);
	if (uv_loop_close(&s->loop) != 0)
		rk_warn("event loop closed with handles still open");
	server_free_rooms(s);
	httpop_shutdown(s);
	webhook_stop(s->wh);
	rk_buf_free(&s->wh_scratch);
	iplimit_free(&s->ipl);
	ckpt_stop(s->ckpt);
	rk_buf_free(&s->scratch);
	rk_buf_free(&s->op_scratch);
	free(s->wbuf);
	config_free(&s->cfg);
	free(s);
	return rc;
}
