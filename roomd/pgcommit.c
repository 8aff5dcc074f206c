/* pgcommit.c - cluster mode's group commit: rounds of room batches as jobs
 * of one worker thread (worker.h) with its own PostgreSQL connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>
#include "clock.h"
#include "log.h"
#include "pgcommit.h"
#include "worker.h"

#define ROUND_MAX_BATCHES 8192 /* a fuller round makes the next one */
#define PGC_MAX_QUEUED 65536   /* rounds waiting */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

typedef struct rel {
	char room[RK_ROOM_ID_MAX + 1];
	int64_t token;
} rel;

/* One round: the batches (with their tokens) and releases queued into it,
 * and its result. Filled on the loop under the worker lock while queued;
 * the thread alone touches it while it runs. */
typedef struct round {
	worker_job wj; /* key: "round" */
	store_pg_batch **b;
	int64_t *tok;
	store_pg_res *res;
	size_t n, cap;
	rel *rel;
	size_t nrel, caprel;
	int attempts;
	int64_t took_us;
} round;

struct pgcommit {
	worker *w;
	store_pg *pg; /* the worker thread's (the loop's after stop) */
	char *url, *node;
	int timeout_ms;
	pgcommit_done_fn done;
	void *arg;
	_Atomic bool failing;	    /* the last round failed, not yet committed again */
	_Atomic int64_t give_up_us; /* monotonic; 0: never (pgcommit_give_up_after) */
	uint64_t dropped;	    /* batches given up (loop thread) */
	pgcommit_stats st;
};

static const int64_t bounds_us[12] = {500,   1000,   2000,   5000,   10000,   20000,
				      50000, 100000, 200000, 500000, 1000000, 5000000};

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static bool ensure_conn(pgcommit *p, char *err, size_t errlen)
{
	return store_pg_ensure(&p->pg, p->url, p->timeout_ms, err, errlen);
}

static int run_cb(void *arg, worker_job *wj)
{
	pgcommit *p = arg;
	round *j = (round *)wj;
	if (j->attempts++) {
		int ms = BACKOFF_MIN_MS << (j->attempts < 6 ? j->attempts - 2 : 5);
		sleep_ms(ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS);
	}
	char err[512];
	int64_t t0 = rk_mono_us();
	bool ok =
	    ensure_conn(p, err, sizeof(err)) &&
	    store_pg_commit_group(p->pg, j->b, j->n, j->res, err, sizeof(err)) == RK_OK;
	for (size_t i = 0; ok && i < j->nrel; i++)
		ok = store_pg_release(p->pg, j->rel[i].room, p->node, j->rel[i].token,
				      err, sizeof(err)) == RK_OK;
	j->took_us = rk_mono_us() - t0;
	int64_t give_up = atomic_load(&p->give_up_us);
	if (!ok && give_up && rk_mono_us() >= give_up) {
		rk_error("cluster: giving up a commit of %zu batches at shutdown: %s",
			 j->n, err);
		return 1; /* delivered with every batch FAILED: dropped */
	}
	if (!ok) {
		if (!p->failing)
			rk_error(
			    "cluster: commit of %zu batches failed, retrying until "
			    "PostgreSQL answers (nothing is acknowledged meanwhile): %s",
			    j->n, err);
		p->failing = true;
		return -1;
	}
	if (p->failing)
		rk_info("cluster: PostgreSQL commits again (after %d attempts)",
			j->attempts);
	p->failing = false;
	return 0;
}

static worker_next settle_cb(void *arg, worker_job *wj, int outcome, bool stopping)
{
	(void)arg;
	(void)wj;
	if (outcome < 0 && !stopping)
		return WORKER_AGAIN_FIRST;
	return WORKER_DELIVER;
}

static void done_cb(void *arg, worker_job *wj)
{
	pgcommit *p = arg;
	round *j = (round *)wj;
	if (j->attempts > 1)
		p->st.retries += (uint64_t)(j->attempts - 1);
	p->st.rounds++;
	size_t i = 0;
	while (i < 12 && j->took_us > bounds_us[i])
		i++;
	p->st.buckets[i]++;
	p->st.sum_s += (double)j->took_us / 1e6;
	for (i = 0; i < j->n; i++) {
		bool fenced = j->res[i] == STORE_PG_FENCED;
		if (j->res[i] == STORE_PG_FAILED) {
			p->dropped++; /* given up (or stopping): never committed */
			continue;
		}
		p->st.batches++;
		p->st.fenced += fenced;
		p->done(p->arg, store_pg_batch_room(j->b[i]), j->tok[i],
			store_pg_batch_seq(j->b[i]), fenced);
	}
}

static void job_free(worker_job *wj)
{
	round *j = (round *)wj;
	for (size_t i = 0; i < j->n; i++)
		store_pg_batch_free(j->b[i]);
	free(j->b);
	free(j->tok);
	free(j->res);
	free(j->rel);
	free(j);
}

static const worker_ops pgcommit_ops = {
    .run = run_cb,
    .settle = settle_cb,
    .done = done_cb,
    .free = job_free,
    .drain_on_stop = true,
    .max_queued = PGC_MAX_QUEUED,
};

pgcommit *pgcommit_start(uv_loop_t *loop, const char *url, const char *node,
			 int timeout_ms, pgcommit_done_fn done, void *arg)
{
	pgcommit *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->url = strdup(url);
	p->node = strdup(node);
	p->timeout_ms = timeout_ms;
	p->done = done;
	p->arg = arg;
	if (!p->url || !p->node || !(p->w = worker_start(loop, &pgcommit_ops, p))) {
		free(p->url);
		free(p->node);
		free(p);
		return NULL;
	}
	return p;
}

/* Lock held: the round queued (not running) to add to, or NULL. */
static round *open_round(pgcommit *p)
{
	round *j = (round *)worker_find_queued(p->w, "round");
	return j && j->n < ROUND_MAX_BATCHES ? j : NULL;
}

/* Room for one more batch in j (lock held, or j not queued yet). */
static bool grow(round *j)
{
	if (j->n < j->cap)
		return true;
	size_t cap = j->cap ? j->cap * 2 : 16;
	store_pg_batch **b = realloc(j->b, cap * sizeof(*b));
	if (b)
		j->b = b;
	int64_t *t = b ? realloc(j->tok, cap * sizeof(*t)) : NULL;
	if (t)
		j->tok = t;
	store_pg_res *r = t ? realloc(j->res, cap * sizeof(*r)) : NULL;
	if (!r)
		return false;
	j->res = r;
	j->cap = cap;
	return true;
}

static bool add_batch(round *j, store_pg_batch *b, int64_t token)
{
	if (!grow(j))
		return false;
	j->b[j->n] = b;
	j->tok[j->n] = token;
	j->res[j->n] = STORE_PG_FAILED;
	j->n++;
	return true;
}

static bool add_release(round *j, const char *room, int64_t token)
{
	if (j->nrel == j->caprel) {
		size_t cap = j->caprel ? j->caprel * 2 : 4;
		rel *r = realloc(j->rel, cap * sizeof(*r));
		if (!r)
			return false;
		j->rel = r;
		j->caprel = cap;
	}
	snprintf(j->rel[j->nrel].room, sizeof(j->rel[0].room), "%s", room);
	j->rel[j->nrel++].token = token;
	return true;
}

/* Queue a new round holding the batch b (or, b NULL, the release of room).
 * RK_OK or RK_ENOMEM (nothing kept: b stays the caller's). The loop thread
 * alone submits, so a round queued here is behind every earlier one. */
static rk_err queue_new(pgcommit *p, store_pg_batch *b, int64_t token, const char *room)
{
	round *j = calloc(1, sizeof(*j));
	if (!j)
		return RK_ENOMEM;
	j->wj.key = "round";
	bool ok = b ? add_batch(j, b, token) : add_release(j, room, token);
	if (!ok || worker_submit(p->w, &j->wj) != RK_OK) {
		j->n = 0; /* b stays the caller's */
		job_free(&j->wj);
		return RK_ENOMEM;
	}
	return RK_OK;
}

rk_err pgcommit_submit(pgcommit *p, store_pg_batch *b, int64_t token)
{
	worker_lock(p->w);
	round *j = open_round(p);
	bool added = j && add_batch(j, b, token);
	worker_unlock(p->w);
	return added ? RK_OK : queue_new(p, b, token, NULL);
}

rk_err pgcommit_release(pgcommit *p, const char *room, int64_t token)
{
	worker_lock(p->w);
	round *j = (round *)worker_find_queued(p->w, "round");
	bool added = j && add_release(j, room, token);
	worker_unlock(p->w);
	return added ? RK_OK : queue_new(p, NULL, token, room);
}

void pgcommit_flush(pgcommit *p)
{
	if (p)
		worker_wait_idle(p->w);
}

bool pgcommit_failing(pgcommit *p)
{
	return atomic_load(&p->failing);
}

void pgcommit_give_up_after(pgcommit *p, int ms)
{
	atomic_store(&p->give_up_us, rk_mono_us() + (int64_t)ms * 1000);
}

uint64_t pgcommit_dropped(const pgcommit *p)
{
	return p->dropped;
}

const pgcommit_stats *pgcommit_get_stats(const pgcommit *p)
{
	return &p->st;
}

void pgcommit_stop(pgcommit *p, bool leave)
{
	if (!p)
		return;
	worker_stop(p->w);
	char err[512];
	if (leave) {
		if (ensure_conn(p, err, sizeof(err)) &&
		    store_pg_leave(p->pg, p->node, err, sizeof(err)) == RK_OK)
			rk_info("cluster: node %s left: its rooms are released", p->node);
		else
			rk_warn(
			    "cluster: node %s could not release its rooms (others take "
			    "them once its lease expires): %s",
			    p->node, err);
	}
	store_pg_close(p->pg);
	free(p->url);
	free(p->node);
	free(p);
}
