/*
 * procs.c - --procs N: the parent forks N workers, each running the rooms
 * [N_i, N_i+1) of the run with all their clients (so every per-room check,
 * final agreement included, stays inside one process), and merges what they
 * send back into its own `load`, which report_final then prints as if one
 * process had run everything.
 *
 * Each worker has two pipes. Up, worker -> parent, carries records (a
 * header, then a struct of the same binary): CONNECTED when its connect
 * phase is over, PROGRESS once a second (cumulative counters, the
 * interval's latency histogram), FINAL at the end (everything the report
 * uses). Down, parent -> worker, carries one "go" byte, sent once every
 * worker is connected, so that sending starts together as in one process.
 * A worker that ends without its FINAL record (crash, kill, runtime error)
 * fails the run with its pid and status; the others are told to stop
 * (SIGTERM: they drain and report) so nothing hangs.
 */
#include "clock.h"
#include "load.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

enum { REC_CONNECTED = 1, REC_PROGRESS, REC_FINAL };

typedef struct rec_hdr {
	uint32_t type; /* REC_* */
	uint32_t len;  /* bytes of the struct that follows */
} rec_hdr;

typedef struct rec_progress {
	int phase;	     /* the worker's phase */
	counters c;	     /* cumulative */
	uint64_t violations; /* cumulative */
	rk_hist h_win;	     /* latencies of the interval */
} rec_progress;

typedef struct rec_final {
	counters c;
	rk_hist h_ack, h_delivery, h_cursor, h_connect, h_lag;
	checker chk;
	char first_connect_error[160];
	int64_t run_start_ns, run_end_ns, connect_done_ns; /* CLOCK_MONOTONIC */
	double cpu_s; /* user + system of the worker's run */
	long rss_kb;  /* its peak RSS */
} rec_final;

typedef struct worker {
	pid_t pid;
	int up, down; /* parent's ends; -1 once closed */
	bool connected, final, eof;
	int phase;
	counters c; /* latest progress */
	uint64_t violations;
	rec_final *fin; /* FINAL, owned */
} worker;

static bool write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t k = write(fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

/* false on EOF or error before n bytes. */
static bool read_full(int fd, void *p, size_t n)
{
	char *c = p;
	while (n) {
		ssize_t k = read(fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

static void send_rec(load *ld, uint32_t type, const void *p, size_t n)
{
	rec_hdr h = {type, (uint32_t)n};
	/* A write error means the parent is gone: nothing left to tell. */
	if (write_full(ld->to_parent, &h, sizeof(h)) && n)
		write_full(ld->to_parent, p, n);
}

/* ---- worker side --------------------------------------------------------- */

bool procs_worker_go(load *ld)
{
	if (!ld->connected_sent) {
		send_rec(ld, REC_CONNECTED, NULL, 0);
		ld->connected_sent = true;
	}
	struct pollfd pf = {ld->from_parent, POLLIN, 0};
	if (poll(&pf, 1, 0) <= 0)
		return false;
	char go;
	/* The go byte, or EOF (the parent is gone): run either way. */
	(void)!read(ld->from_parent, &go, 1);
	return true;
}

void procs_worker_progress(load *ld)
{
	/* calloc: the record goes down a pipe whole, padding included. */
	rec_progress *p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->phase = ld->ph;
	p->c = ld->c;
	p->violations = ld->chk.total;
	p->h_win = ld->h_win;
	send_rec(ld, REC_PROGRESS, p, sizeof(*p));
	free(p);
	rk_hist_init(&ld->h_win);
}

static double cpu_since(const struct rusage *ru0, long *maxrss)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*maxrss = ru.ru_maxrss;
	return (double)(ru.ru_utime.tv_sec - ru0->ru_utime.tv_sec + ru.ru_stime.tv_sec -
			ru0->ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec - ru0->ru_utime.tv_usec +
			ru.ru_stime.tv_usec - ru0->ru_stime.tv_usec) /
		   1e6;
}

void procs_worker_final(load *ld)
{
	rec_final *f = calloc(1, sizeof(*f));
	if (!f)
		return;
	f->c = ld->c;
	f->h_ack = ld->h_ack;
	f->h_delivery = ld->h_delivery;
	f->h_cursor = ld->h_cursor;
	f->h_connect = ld->h_connect;
	f->h_lag = ld->h_lag;
	f->chk = ld->chk;
	memcpy(f->first_connect_error, ld->first_connect_error,
	       sizeof(f->first_connect_error));
	f->run_start_ns = ld->run_start_ns;
	f->run_end_ns = ld->run_end_ns;
	f->connect_done_ns = ld->connect_done_ns;
	f->cpu_s = cpu_since(&ld->ru0, &f->rss_kb);
	send_rec(ld, REC_FINAL, f, sizeof(*f));
	free(f);
}

/* In the child: run worker i's share of the rooms, report, exit. */
static void worker_main(load *ld, int i, int up, int down, worker *w)
{
	free(w);
	report_csv_close(ld); /* the parent's file: it writes the rows */
	load_config *cfg = &ld->cfg;
	int n = cfg->procs;
	uint32_t r0 = (uint32_t)((int64_t)cfg->rooms * i / n);
	uint32_t r1 = (uint32_t)((int64_t)cfg->rooms * (i + 1) / n);
	ld->worker = true;
	ld->to_parent = up;
	ld->from_parent = down;
	ld->room_base = r0;
	ld->idx_base = r0 * (uint32_t)cfg->clients;
	cfg->rooms = (int)(r1 - r0);
	cfg->max_connecting = cfg->max_connecting / n > 0 ? cfg->max_connecting / n : 1;
	cfg->seed += (uint64_t)i * UINT64_C(0x9E3779B97F4A7C15);
	cfg->quiet = true;
	cfg->json = false;
	int rc = run_load(ld);
	if (rc == 0)
		procs_worker_final(ld);
	close(up);
	close(down);
	load_free(ld);
	free(ld);
	exit(rc ? 3 : 0);
}

/* ---- parent side --------------------------------------------------------- */

static void describe_status(int status, char *buf, size_t n)
{
	if (WIFSIGNALED(status))
		snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status))
		snprintf(buf, n, "exit status %d", WEXITSTATUS(status));
	else
		snprintf(buf, n, "status %d", status);
}

/* Read one record of worker w; false at EOF (or a broken record). */
static bool read_rec(load *ld, worker *w)
{
	rec_hdr h;
	if (!read_full(w->up, &h, sizeof(h)))
		return false;
	switch (h.type) {
	case REC_CONNECTED:
		w->connected = h.len == 0;
		return h.len == 0;
	case REC_PROGRESS: {
		rec_progress *p = malloc(sizeof(*p));
		bool ok = p && h.len == sizeof(*p) && read_full(w->up, p, sizeof(*p));
		if (ok) {
			w->phase = p->phase;
			w->c = p->c;
			w->violations = p->violations;
			rk_hist_merge(&ld->h_win, &p->h_win);
		}
		free(p);
		return ok;
	}
	case REC_FINAL:
		if (h.len != sizeof(rec_final) || w->fin)
			return false;
		w->fin = malloc(sizeof(*w->fin));
		if (!w->fin || !read_full(w->up, w->fin, sizeof(*w->fin))) {
			RK_FREE(w->fin);
			return false;
		}
		w->final = true;
		return true;
	default:
		return false;
	}
}

/* The merged progress of the workers into ld (counters, phase). */
static void merge_progress(load *ld, const worker *w, int n)
{
	memset(&ld->c, 0, sizeof(ld->c));
	ld->chk.total = 0;
	int ph = PH_END;
	for (int i = 0; i < n; i++) {
		load_counters_add(&ld->c, &w[i].c);
		ld->chk.total += w[i].violations;
		if (!w[i].eof && w[i].phase < ph)
			ph = w[i].phase;
	}
	ld->ph = (phase)ph;
}

static void merge_finals(load *ld, const worker *w, int n)
{
	memset(&ld->c, 0, sizeof(ld->c));
	chk_init(&ld->chk);
	ld->run_start_ns = ld->run_end_ns = ld->connect_done_ns = 0;
	for (int i = 0; i < n; i++) {
		const rec_final *f = w[i].fin;
		if (!f)
			continue;
		load_counters_add(&ld->c, &f->c);
		rk_hist_merge(&ld->h_ack, &f->h_ack);
		rk_hist_merge(&ld->h_delivery, &f->h_delivery);
		rk_hist_merge(&ld->h_cursor, &f->h_cursor);
		rk_hist_merge(&ld->h_connect, &f->h_connect);
		rk_hist_merge(&ld->h_lag, &f->h_lag);
		chk_merge(&ld->chk, &f->chk);
		if (!ld->first_connect_error[0])
			memcpy(ld->first_connect_error, f->first_connect_error,
			       sizeof(ld->first_connect_error));
		if (f->run_start_ns &&
		    (!ld->run_start_ns || f->run_start_ns < ld->run_start_ns))
			ld->run_start_ns = f->run_start_ns;
		if (f->run_end_ns > ld->run_end_ns)
			ld->run_end_ns = f->run_end_ns;
		if (f->connect_done_ns > ld->connect_done_ns)
			ld->connect_done_ns = f->connect_done_ns;
		ld->cpu_extra_s += f->cpu_s;
		ld->rss_extra_kb += f->rss_kb;
	}
}

static void stop_workers(worker *w, int n)
{
	for (int i = 0; i < n; i++)
		if (!w[i].eof && w[i].pid > 0)
			kill(w[i].pid, SIGTERM);
}

/* Fork the workers. false (printed) if one could not be started; those
 * already started are then stopped by the caller's loop. */
static bool start_workers(load *ld, worker *w, int n)
{
	fflush(NULL); /* nothing buffered may be written twice */
	for (int i = 0; i < n; i++) {
		int up[2], down[2];
		if (pipe(up) != 0)
			goto fail;
		if (pipe(down) != 0) {
			close(up[0]);
			close(up[1]);
			goto fail;
		}
		pid_t pid = fork();
		if (pid < 0) {
			close(up[0]);
			close(up[1]);
			close(down[0]);
			close(down[1]);
			goto fail;
		}
		if (pid == 0) {
			for (int k = 0; k < i; k++) {
				close(w[k].up);
				close(w[k].down);
			}
			close(up[0]);
			close(down[1]);
			worker_main(ld, i, up[1], down[0], w);
		}
		close(up[1]);
		close(down[0]);
		w[i].pid = pid;
		w[i].up = up[0];
		w[i].down = down[1];
		w[i].phase = PH_CONNECT;
		continue;
	fail:
		fprintf(stderr, "Error: cannot start worker %d: %s\n", i,
			strerror(errno));
		for (int k = i; k < n; k++)
			w[k].eof = true;
		return false;
	}
	return true;
}

int procs_run(load *ld)
{
	const load_config *cfg = &ld->cfg;
	int n = cfg->procs;
	int rc = 0;
	load_begin(ld);
	ld->nclients = (uint32_t)cfg->rooms * (uint32_t)cfg->clients;
	worker *w = calloc((size_t)n, sizeof(*w));
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	if (!w || !pf) {
		free(w);
		free(pf);
		fprintf(stderr, "Error: out of memory starting %d workers\n", n);
		return 1;
	}
	for (int i = 0; i < n; i++)
		w[i].up = w[i].down = -1;
	getrusage(RUSAGE_SELF, &ld->ru0);
	ld->t0_ns = rk_mono_ns();
	ld->last_progress_ns = ld->t0_ns;
	if (!start_workers(ld, w, n)) {
		rc = 1;
		stop_workers(w, n);
	}
	if (!cfg->quiet)
		fprintf(stderr, "roomload: %d workers, %u connections\n", n,
			ld->nclients);

	bool go_sent = false, stopping = rc != 0;
	for (;;) {
		int np = 0;
		for (int i = 0; i < n; i++)
			if (!w[i].eof) {
				pf[np].fd = w[i].up;
				pf[np].events = POLLIN;
				pf[np].revents = 0;
				np++;
			}
		if (!np)
			break;
		int64_t now = rk_mono_ns();
		int64_t wait_ms = (ld->last_progress_ns + 1000000000 - now) / 1000000;
		int k = poll(pf, (nfds_t)np, wait_ms < 0 ? 0 : (int)wait_ms + 1);
		if (k < 0 && errno != EINTR) {
			fprintf(stderr, "Error: poll: %s\n", strerror(errno));
			rc = 1;
			stop_workers(w, n);
			break;
		}
		for (int j = 0, i = 0; k > 0 && j < np; j++) {
			while (w[i].eof || w[i].up != pf[j].fd)
				i++;
			if (!pf[j].revents)
				continue;
			if (read_rec(ld, &w[i]))
				continue;
			w[i].eof = true;
			close(w[i].up);
			w[i].up = -1;
			if (!w[i].final) {
				int status = 0;
				char why[96];
				waitpid(w[i].pid, &status, 0);
				w[i].pid = -1;
				describe_status(status, why, sizeof(why));
				fprintf(stderr,
					"Error: worker %d (rooms %d..%d) died before its "
					"results: %s\n",
					i, cfg->rooms * i / n,
					cfg->rooms * (i + 1) / n - 1, why);
				rc = 1;
				if (!stopping) {
					stopping = true;
					stop_workers(w, n);
				}
			}
		}
		if (load_signalled() && !stopping) {
			stopping = true;
			stop_workers(w, n);
		}
		if (!go_sent) {
			bool all = true;
			for (int i = 0; i < n; i++)
				all = all && (w[i].connected || w[i].eof);
			if (all) {
				for (int i = 0; i < n; i++)
					if (w[i].down >= 0)
						(void)!write(w[i].down, "g", 1);
				go_sent = true;
			}
		}
		now = rk_mono_ns();
		if (now - ld->last_progress_ns >= 1000000000) {
			merge_progress(ld, w, n);
			report_interval(ld, now);
			ld->last_progress_ns = now;
		}
	}
	merge_progress(ld, w, n);
	report_interval(ld, rk_mono_ns());
	for (int i = 0; i < n; i++) {
		if (w[i].down >= 0)
			close(w[i].down);
		if (w[i].pid > 0) {
			int status = 0;
			char why[96];
			waitpid(w[i].pid, &status, 0);
			if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
				describe_status(status, why, sizeof(why));
				fprintf(stderr, "Error: worker %d ended with %s\n", i,
					why);
				rc = 1;
			}
		}
	}
	merge_finals(ld, w, n);
	for (int i = 0; i < n; i++)
		free(w[i].fin);
	free(w);
	free(pf);
	return rc;
}
