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
#include "clock.h"
#include "log.h"
#include "roomd.h"

#define TICK_US 250000
#define DRAIN_TIMEOUT_US 5000000

/* The signal handler's only way in: set by main before signals are enabled. */
static server *signal_target;

static void on_signal(int sig)
{
	(void)sig;
	if (signal_target) {
		signal_target->signalled = 1;
		lws_cancel_service(signal_target->lws);
	}
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	server *s = container_of(sul, server, tick_sul);
	server_tick(s);
	lws_sul_schedule(s->lws, 0, &s->tick_sul, tick_cb, TICK_US);
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

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void drain(server *s)
{
	rk_info("draining: closing %llu connections with 1001",
		(unsigned long long)s->nconns);
	s->draining = true;
	server_flush(s);
	for (conn *c = s->conns; c; c = c->anext)
		conn_close(c, 1001, "server shutting down");
	int64_t deadline = rk_mono_us() + DRAIN_TIMEOUT_US;
	while (s->nconns && rk_mono_us() < deadline) {
		if (lws_service(s->lws, 0) < 0)
			break;
		server_flush(s);
	}
	server_flush(s);
}

int main(int argc, char **argv)
{
	server *s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	int rc = config_parse(&s->cfg, argc, argv);
	if (rc) {
		config_free(&s->cfg);
		free(s);
		return rc == 1 ? 0 : rc == 2 ? 2 : 1;
	}
	rk_log_set_level((rk_log_level)s->cfg.log_level);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);

	snprintf(s->rooms_dir, sizeof(s->rooms_dir), "%s/rooms", s->cfg.data_dir);
	if (mkdir_p(s->rooms_dir) != 0) {
		fprintf(stderr, "Error: cannot create data directory %s: %s\n", s->rooms_dir,
			strerror(errno));
		config_free(&s->cfg);
		free(s);
		return 1;
	}
	unsigned char rnd[3];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(s->session_prefix, sizeof(s->session_prefix), "%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2]);
	rk_buf_init(&s->scratch, 0);
	s->wbuf = malloc(LWS_PRE + 64 * 1024);
	if (!s->wbuf) {
		free(s);
		return 1;
	}
	rk_omap_init(&s->rooms);
	if (!s->cfg.secret)
		rk_warn("auth is OFF: no --secret-file or ROOMD_SECRET; every client is an "
			"editor named by ?name=");

	rc = 1;
	s->ckpt = ckpt_start();
	if (!s->ckpt || server_scan_rooms(s) != 0 || net_start(s) != 0)
		goto out;

	signal_target = s;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	lws_sul_schedule(s->lws, 0, &s->tick_sul, tick_cb, TICK_US);
	server_alarms(s); /* fire what came due while we were down, arm the rest */
	rk_info("data in %s, durability %s, hibernate after %lld ms", s->cfg.data_dir,
		s->cfg.fsync ? "fsync (power loss)" : "normal (process crash)",
		(long long)s->cfg.hibernate_after_ms);
	/* The ready line scripts and tests wait for. */
	fprintf(stderr, "roomd listening on %s:%d\n", s->cfg.host, s->cfg.port);
	fflush(stderr);

	while (!s->signalled) {
		if (lws_service(s->lws, 0) < 0)
			break;
		/* Group commit: everything this turn received, one transaction
		 * per room, before any ack or event leaves. */
		server_flush(s);
	}
	drain(s);
	rc = 0;
	rk_info("stopped");
out:
	signal_target = NULL;
	if (s->lws) {
		lws_sul_cancel(&s->tick_sul);
		lws_sul_cancel(&s->alarm_sul);
		lws_context_destroy(s->lws);
	}
	server_free_rooms(s);
	ckpt_stop(s->ckpt);
	rk_buf_free(&s->scratch);
	free(s->wbuf);
	config_free(&s->cfg);
	free(s);
	return rc;
}
