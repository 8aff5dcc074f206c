/* loader.c - room loads (flock, open, snapshot + replay; or a new room
 * with no file yet), the creation of a new room's file, and room
 * deletions as jobs of one worker (worker.h): run in submission order,
 * results back to the loop through the worker's uv_async_t. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clock.h"
#include "loader.h"
#include "pg.h"
#include "roomfiles.h"
#include "worker.h"

#define BUSY_MS 2000 /* wait for another process's lock on a room file */

#define LOADER_MAX_QUEUED 65536 /* jobs waiting: beyond, a load is refused (503/1011) */

/* A job carries its result from the start: a finished load never needs an
 * allocation on the worker, so it cannot be lost to out of memory (the room
 * would wait for it forever). */
typedef struct job {
	worker_job wj; /* key: res.room */
	load_result res;
	bool take_lock;
	char path[];
} job;

struct loader {
	worker *w;
	loader_done_fn done;
	void *arg;
	ckpt *ckpt; /* quiesced for a room before its load */
	/* Cluster mode: */
	char *url, *node;
	int lease_ms, timeout_ms, tail;
	store_pg *pg; /* the worker thread's */
};

static void job_free(worker_job *wj)
{
	job *j = (job *)wj;
	load_result *r = &j->res;
	store_close(r->st);
	rk_state_free(r->state);
	opids_free(r->ids);
	store_unlock(r->lock_fd);
	free(r->alarms);
	free(j);
}

/* Remove the room's files under its flock (see loader_submit_delete). */
static void run_delete(loader *l, job *j)
{
	load_result *r = &j->res;
	ckpt_quiesce(l->ckpt, j->path);
	r->rc = RK_OK;
	if (r->lock_fd < 0 && access(j->path, F_OK) == 0) {
		r->lock_fd = store_lock(j->path, false, r->err, sizeof(r->err));
		if (r->lock_fd < 0) {
			r->rc = RK_EIO;
			return;
		}
	}
	if (rk_room_files_remove(j->path, r->err, sizeof(r->err)) != 0)
		r->rc = RK_EIO;
	store_unlock(r->lock_fd);
	r->lock_fd = -1;
}

/* The worker thread's connection, (re)connected. */
static bool pg_conn(loader *l, char *err, size_t errlen)
{
	return store_pg_ensure(&l->pg, l->url, l->timeout_ms, err, errlen);
}

static bool add_alarm(void *arg, const char *poll, int64_t at)
{
	load_result *r = arg;
	load_alarm *a = realloc(r->alarms, (r->nalarms + 1) * sizeof(*a));
	if (!a)
		return false;
	r->alarms = a;
	snprintf(a[r->nalarms].poll, sizeof(a->poll), "%s", poll);
	a[r->nalarms++].at = at;
	return true;
}

/* With r->st open: its state and op-id memory (both backends). */
static rk_err load_state(load_result *r)
{
	rk_err rc =
	    store_load(r->st, &r->state, &r->seq, &r->snap_seq, r->err, sizeof(r->err));
	if (rc == RK_OK)
		rc = (r->ids = opids_new())
			 ? store_load_opids(r->st, opids_add_row, r->ids, r->err,
					    sizeof(r->err))
			 : RK_ENOMEM;
	return rc;
}

/* A failed load keeps nothing (its waiting joins are refused). */
static void drop_loaded(load_result *r)
{
	store_close(r->st);
	r->st = NULL;
	rk_state_free(r->state);
	r->state = NULL;
	opids_free(r->ids);
	r->ids = NULL;
	if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "out of memory");
}

/* Cluster mode: acquire the room in PostgreSQL, then load it from there. */
static void run_pg_load(loader *l, job *j)
{
	load_result *r = &j->res;
	if (!pg_conn(l, r->err, sizeof(r->err))) {
		r->rc = RK_EIO;
		return;
	}
	store_pg_acq acq;
	r->rc =
	    store_pg_acquire(l->pg, r->room, l->node, l->lease_ms, l->tail, &acq, &r->st,
			     r->owner, sizeof(r->owner), r->err, sizeof(r->err));
	if (r->rc == RK_OK && acq == STORE_PG_OWNED) {
		r->moving = true;
		r->rc = RK_EIO;
		snprintf(r->err, sizeof(r->err),
			 "node %s holds it: asked it to hand the room over", r->owner);
		return;
	}
	if (r->rc == RK_OK) {
		r->taken_over = acq == STORE_PG_TAKEN_OVER;
		r->token = store_pg_token(r->st);
		r->rc = load_state(r);
	}
	if (r->rc == RK_OK)
		r->rc = store_alarms(r->st, add_alarm, r, r->err, sizeof(r->err));
	if (r->rc == RK_OK)
		store_pg_detach(r->st);
	else
		drop_loaded(r);
}

static void run_job(loader *l, job *j)
{
	load_result *r = &j->res;
	int64_t t0 = rk_mono_us();
	if (l->url) {
		if (r->kind == LOADER_DELETE) {
			r->rc = pg_conn(l, r->err, sizeof(r->err))
				    ? store_pg_delete(l->pg, r->room, l->node, 0, r->err,
						      sizeof(r->err))
				    : RK_EIO;
		} else if (r->kind != LOADER_LOAD) { /* room.c never asks */
			r->rc = RK_EIO;
			snprintf(r->err, sizeof(r->err), "no reopen in cluster mode");
		} else {
			run_pg_load(l, j);
		}
		r->took_us = rk_mono_us() - t0;
		return;
	}
	if (r->kind == LOADER_DELETE) {
		run_delete(l, j);
		r->took_us = rk_mono_us() - t0;
		return;
	}
	if (r->kind == LOADER_LOAD && j->take_lock && access(j->path, F_OK) != 0 &&
	    errno == ENOENT) {
		/* A new room: its file waits for its first commit (no file,
		 * lock or SQLite handle for a room nobody has written to). */
		r->fresh = true;
		store_fresh_meta(r->room, &r->meta);
		r->state = rk_state_new();
		r->ids = opids_new();
		r->rc = r->state && r->ids ? RK_OK : RK_ENOMEM;
		if (r->rc != RK_OK)
			drop_loaded(r);
		goto out;
	}
	if (j->take_lock || r->kind == LOADER_CREATE) {
		r->lock_fd = store_lock(j->path, true, r->err, sizeof(r->err));
		if (r->lock_fd < 0) {
			r->rc = RK_EIO;
			goto out;
		}
	}
	/* A TRUNCATE checkpoint (the room hibernated) blocks writers: let it
	 * finish, or drop it if it has not started. */
	ckpt_quiesce(l->ckpt, j->path);
	/* Off the loop, a reader holding the file (roomctl, WAL recovery) may
	 * be waited for; the loop's handle then never waits again. */
	if (r->kind == LOADER_CREATE)
		r->rc = store_create(j->path, &r->meta, &r->st, r->err, sizeof(r->err));
	else
		r->rc =
		    store_open(j->path, r->room, BUSY_MS, &r->st, r->err, sizeof(r->err));
	if (r->rc == RK_OK && r->kind == LOADER_CREATE) {
		store_busy_timeout(r->st, 0);
		goto out;
	}
	if (r->rc != RK_OK && r->kind == LOADER_CREATE) {
		store_unlock(r->lock_fd);
		r->lock_fd = -1;
		goto out;
	}
	if (r->rc == RK_OK && r->kind == LOADER_REOPEN) {
		store_busy_timeout(r->st, 0); /* the state is the room's already */
		goto out;
	}
	if (r->rc == RK_OK)
		r->rc = load_state(r);
	if (r->rc == RK_OK) {
		store_busy_timeout(r->st, 0);
		store_trim_cache(r->st);
	}
	if (r->rc != RK_OK) {
		/* A lock taken for this load is not kept: the room has no member
		 * (it held no lock), and its waiting joins are refused. */
		drop_loaded(r);
		store_unlock(r->lock_fd);
		r->lock_fd = -1;
	}
out:
	r->took_us = rk_mono_us() - t0;
}

static int run_cb(void *arg, worker_job *wj)
{
	run_job(arg, (job *)wj);
	return 0;
}

static void done_cb(void *arg, worker_job *wj)
{
	loader *l = arg;
	l->done(l->arg, &((job *)wj)->res);
}

static const worker_ops loader_ops = {
    .run = run_cb,
    .done = done_cb,
    .free = job_free,
    .drain_on_stop = false, /* the rooms are going away */
    .max_queued = LOADER_MAX_QUEUED,
};

loader *loader_start(uv_loop_t *loop, ckpt *c, loader_done_fn done, void *arg)
{
	loader *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->ckpt = c;
	l->done = done;
	l->arg = arg;
	l->w = worker_start(loop, &loader_ops, l);
	if (!l->w) {
		free(l);
		return NULL;
	}
	return l;
}

static rk_err submit(loader *l, loader_kind kind, const char *room, const char *path,
		     bool take_lock, int lock_fd, const store_meta *meta)
{
	size_t n = strlen(path) + 1;
	job *j = calloc(1, sizeof(*j) + n);
	if (!j)
		return RK_ENOMEM;
	j->res.kind = kind;
	snprintf(j->res.room, sizeof(j->res.room), "%s", room);
	j->res.lock_fd = lock_fd;
	j->take_lock = take_lock;
	if (meta)
		j->res.meta = *meta;
	memcpy(j->path, path, n);
	j->wj.key = j->res.room;
	if (worker_submit(l->w, &j->wj) != RK_OK) {
		j->res.lock_fd = -1; /* stays the caller's */
		free(j);
		return RK_ENOMEM;
	}
	return RK_OK;
}

rk_err loader_submit(loader *l, const char *room, const char *path, bool take_lock)
{
	return submit(l, LOADER_LOAD, room, path, take_lock, -1, NULL);
}

rk_err loader_submit_reopen(loader *l, const char *room, const char *path)
{
	return submit(l, LOADER_REOPEN, room, path, false, -1, NULL);
}

rk_err loader_submit_create(loader *l, const char *room, const char *path,
			    const store_meta *meta)
{
	return submit(l, LOADER_CREATE, room, path, false, -1, meta);
}

rk_err loader_submit_delete(loader *l, const char *room, const char *path, int lock_fd)
{
	return submit(l, LOADER_DELETE, room, path, false, lock_fd, NULL);
}

void loader_wait(loader *l, const char *room)
{
	worker_wait_key(l->w, room);
}

rk_err loader_set_cluster(loader *l, const char *url, const char *node, int lease_ms,
			  int timeout_ms, int tail)
{
	free(l->url);
	free(l->node);
	l->url = strdup(url);
	l->node = strdup(node);
	l->lease_ms = lease_ms;
	l->timeout_ms = timeout_ms;
	l->tail = tail;
	return l->url && l->node ? RK_OK : RK_ENOMEM;
}

void loader_stop(loader *l)
{
	if (!l)
		return;
	worker_stop(l->w);
	store_pg_close(l->pg);
	free(l->url);
	free(l->node);
	free(l);
}
