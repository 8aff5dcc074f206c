/* lease.c - the node's heartbeat and what it learns, as a job of one
 * worker thread (worker.h) with its own PostgreSQL connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "lease.h"
#include "log.h"
#include "pg.h"
#include "worker.h"

#define ORPHANS_EVERY 4	 /* beats between looks for orphaned alarms */
#define ORPHANS_MAX 64	 /* rooms taken per look */
#define LIST_MAX 1000000 /* rooms in one list: beyond, the rest waits */

typedef struct list {
	lease_room *v;
	size_t n, cap;
	bool full; /* out of memory or LIST_MAX: incomplete */
} list;

typedef struct beat {
	worker_job wj;
	bool lost, checked;
	list owned, wanted, orphans;
} beat;

struct lease {
	worker *w;
	uv_loop_t *loop;
	store_pg *pg; /* the worker thread's */
	char *url, *node;
	int lease_ms, timeout_ms;
	lease_report_fn report;
	void *arg;
	bool stopping;
	/* The worker thread's: */
	int64_t last_ok_us; /* last successful beat (monotonic) */
	bool lost_told;	    /* this outage was reported */
	bool failing;
	unsigned beats;
	/* The loop's: */
	uv_timer_t timer;
	bool timer_on;
};

static void list_add(list *l, const char *room, int64_t token)
{
	if (l->full)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		lease_room *v = cap <= LIST_MAX ? realloc(l->v, cap * sizeof(*v)) : NULL;
		if (!v) {
			l->full = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n].room, sizeof(l->v[0].room), "%s", room);
	l->v[l->n++].token = token;
}

static void add_owned(void *arg, const char *room, int64_t token)
{
	list_add(&((beat *)arg)->owned, room, token);
}

static void add_wanted(void *arg, const char *room, int64_t token)
{
	list_add(&((beat *)arg)->wanted, room, token);
}

static void add_orphan(void *arg, const char *room, int64_t at)
{
	(void)at;
	list_add(&((beat *)arg)->orphans, room, 0);
}

static int run_cb(void *arg, worker_job *wj)
{
	lease *l = arg;
	beat *b = (beat *)wj;
	char err[512] = "";
	int64_t now = rk_mono_us();
	bool ok = store_pg_ensure(&l->pg, l->url, l->timeout_ms, err, sizeof(err)) &&
		  store_pg_heartbeat(l->pg, l->node, err, sizeof(err)) == RK_OK;
	int64_t gap = rk_mono_us() - l->last_ok_us;
	if (!ok) {
		if (!l->failing)
			rk_error("cluster: heartbeat failed: %s", err);
		l->failing = true;
		if (gap > (int64_t)l->lease_ms * 1000 && !l->lost_told) {
			b->lost = l->lost_told = true;
			rk_error("cluster: no heartbeat for %lld ms (lease %d ms): "
				 "dropping every room, another node may own them now",
				 (long long)(gap / 1000), l->lease_ms);
		}
		return 0;
	}
	if (l->failing)
		rk_info("cluster: heartbeat works again");
	l->failing = false;
	/* After a gap others may have taken rooms over: which are still ours? */
	if (gap > (int64_t)l->lease_ms * 500 || l->lost_told) {
		b->checked = store_pg_owned(l->pg, l->node, add_owned, b, err,
					    sizeof(err)) == RK_OK &&
			     !b->owned.full;
	}
	l->last_ok_us = now;
	l->lost_told = false;
	if (store_pg_handover_wanted(l->pg, l->node, add_wanted, b, err, sizeof(err)) !=
	    RK_OK)
		rk_warn("cluster: reading handover requests failed: %s", err);
	if (++l->beats % ORPHANS_EVERY == 0 &&
	    store_pg_orphan_alarms(l->pg, l->lease_ms, ORPHANS_MAX, add_orphan, b, err,
				   sizeof(err)) != RK_OK)
		rk_warn("cluster: looking for orphaned alarms failed: %s", err);
	return 0;
}

static void schedule(lease *l, int ms);

static void done_cb(void *arg, worker_job *wj)
{
	lease *l = arg;
	beat *b = (beat *)wj;
	lease_report rep = {
	    .lost = b->lost,
	    .checked = b->checked,
	    .owned = b->owned.v,
	    .nowned = b->owned.n,
	    .wanted = b->wanted.v,
	    .nwanted = b->wanted.n,
	    .orphans = b->orphans.v,
	    .norphans = b->orphans.n,
	};
	if (!l->stopping) {
		l->report(l->arg, &rep);
		schedule(l, l->lease_ms / 4);
	}
}

static void job_free(worker_job *wj)
{
	beat *b = (beat *)wj;
	free(b->owned.v);
	free(b->wanted.v);
	free(b->orphans.v);
	free(b);
}

static const worker_ops lease_ops = {
    .run = run_cb,
    .done = done_cb,
    .free = job_free,
    .drain_on_stop = false,
    .max_queued = 4,
};

static void timer_cb(uv_timer_t *t)
{
	lease *l = t->data;
	beat *b = calloc(1, sizeof(*b));
	if (!b || worker_submit(l->w, &b->wj) != RK_OK) {
		free(b);
		rk_error("cluster: out of memory queueing a heartbeat; retrying");
		schedule(l, 100);
	}
}

static void schedule(lease *l, int ms)
{
	uv_timer_start(&l->timer, timer_cb, (uint64_t)ms, 0);
}

rk_err lease_first_beat(const char *url, const char *node, int timeout_ms, char *err,
			size_t errlen)
{
	store_pg *pg;
	rk_err rc = store_pg_connect(url, timeout_ms, &pg, err, errlen);
	if (rc != RK_OK)
		return rc;
	/* A node that starts holds no room: release what its previous run held
	 * (killed, it could not), so their alarms and clients move at once. */
	rc = store_pg_leave(pg, node, err, errlen);
	if (rc == RK_OK)
		rc = store_pg_heartbeat(pg, node, err, errlen);
	store_pg_close(pg);
	return rc;
}

lease *lease_start(uv_loop_t *loop, const char *url, const char *node, int lease_ms,
		   int timeout_ms, lease_report_fn report, void *arg)
{
	lease *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->loop = loop;
	l->url = strdup(url);
	l->node = strdup(node);
	l->lease_ms = lease_ms;
	l->timeout_ms = timeout_ms;
	l->report = report;
	l->arg = arg;
	l->last_ok_us = rk_mono_us(); /* lease_first_beat just succeeded */
	if (!l->url || !l->node || !(l->w = worker_start(loop, &lease_ops, l))) {
		free(l->url);
		free(l->node);
		free(l);
		return NULL;
	}
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	l->timer_on = true;
	schedule(l, lease_ms / 4);
	return l;
}

static void timer_closed(uv_handle_t *h)
{
	lease *l = h->data;
	store_pg_close(l->pg);
	free(l->url);
	free(l->node);
	free(l);
}

void lease_stop(lease *l)
{
	if (!l)
		return;
	l->stopping = true;
	worker_stop(l->w);
	uv_close((uv_handle_t *)&l->timer, timer_closed);
}
