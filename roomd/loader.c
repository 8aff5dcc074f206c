/* loader.c - room loads (flock, open/create, snapshot + replay) on a
 * background thread; results go back to the loop through a uv_async_t. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clock.h"
#include "loader.h"
#include "roomfiles.h"

#define BUSY_MS 2000 /* wait for another process's lock on a room file */

/* A job carries its result from the start: a finished load never needs an
 * allocation on the worker, so it cannot be lost to out of memory (the room
 * would wait for it forever). res must stay the first member: a result is
 * freed as its job. */
typedef struct job {
	load_result res;
	bool take_lock;
	char path[];
} job;

struct loader {
	uv_async_t async;         /* its data is the loader, freed when it closes */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* a job was queued, or stop */
	pthread_cond_t done_cv;   /* a job finished (loader_wait) */
	load_result *head, *tail; /* queued jobs */
	load_result *done_head, *done_tail; /* finished, not yet delivered */
	char running[RK_ROOM_ID_MAX + 1]; /* room of the job in progress, "" if none */
	bool stop;
	loader_done_fn done;
	void *arg;
	ckpt *ckpt;               /* quiesced for a room before its load */
};

static void result_free(load_result *r)
{
	store_close(r->st);
	rk_state_free(r->state);
	opids_free(r->ids);
	store_unlock(r->lock_fd);
	free(r);
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

static void run_job(loader *l, job *j)
{
	load_result *r = &j->res;
	int64_t t0 = rk_mono_us();
	if (r->kind == LOADER_DELETE) {
		run_delete(l, j);
		r->took_us = rk_mono_us() - t0;
		return;
	}
	if (j->take_lock) {
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
	r->rc = store_open(j->path, r->room, BUSY_MS, &r->st, r->err,
			   sizeof(r->err));
	if (r->rc == RK_OK)
		r->rc = store_load(r->st, &r->state, &r->seq, &r->snap_seq, r->err,
				   sizeof(r->err));
	if (r->rc == RK_OK)
		r->rc = store_load_opids(r->st, &r->ids, r->err, sizeof(r->err));
	if (r->rc == RK_OK) {
		store_busy_timeout(r->st, 0);
		store_trim_cache(r->st);
	}
	if (r->rc != RK_OK) {
		/* A lock taken for this load is not kept: the room has no member
		 * (it held no lock), and its waiting joins are refused. */
		store_close(r->st);
		r->st = NULL;
		rk_state_free(r->state);
		r->state = NULL;
		opids_free(r->ids);
		r->ids = NULL;
		store_unlock(r->lock_fd);
		r->lock_fd = -1;
		if (!r->err[0])
			snprintf(r->err, sizeof(r->err), "out of memory");
	}
out:
	r->took_us = rk_mono_us() - t0;
}

static void *loader_main(void *arg)
{
	loader *l = arg;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->head && !l->stop)
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->stop)
			break; /* queued jobs are dropped by loader_stop */
		load_result *r = l->head;
		l->head = r->next;
		if (!l->head)
			l->tail = NULL;
		r->next = NULL;
		memcpy(l->running, r->room, sizeof(l->running));
		pthread_mutex_unlock(&l->mu);
		run_job(l, (job *)r);
		pthread_mutex_lock(&l->mu);
		l->running[0] = '\0';
		if (l->done_tail)
			l->done_tail->next = r;
		else
			l->done_head = r;
		l->done_tail = r;
		pthread_cond_broadcast(&l->done_cv);
		/* Thread-safe; sends coalesce into one callback on the loop. The
		 * handle is closed only after this thread is joined. */
		uv_async_send(&l->async);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Hand every finished result to the loop-side callback, in order. */
static void deliver(loader *l)
{
	pthread_mutex_lock(&l->mu);
	load_result *r = l->done_head;
	l->done_head = l->done_tail = NULL;
	pthread_mutex_unlock(&l->mu);
	while (r) {
		load_result *next = r->next;
		r->next = NULL;
		l->done(l->arg, r);
		result_free(r);
		r = next;
	}
}

static void free_on_close(uv_handle_t *h)
{
	free(h->data);
}

static void async_cb(uv_async_t *h)
{
	deliver(h->data);
}

loader *loader_start(uv_loop_t *loop, ckpt *c, loader_done_fn done, void *arg)
{
	loader *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->ckpt = c;
	l->done = done;
	l->arg = arg;
	if (uv_async_init(loop, &l->async, async_cb) != 0) {
		free(l);
		return NULL;
	}
	l->async.data = l;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	pthread_cond_init(&l->done_cv, NULL);
	if (pthread_create(&l->thread, NULL, loader_main, l) != 0) {
		pthread_mutex_destroy(&l->mu);
		pthread_cond_destroy(&l->cv);
		pthread_cond_destroy(&l->done_cv);
		/* The handle is registered on the loop: free l when it is closed. */
		uv_close((uv_handle_t *)&l->async, free_on_close);
		return NULL;
	}
	return l;
}

static rk_err submit(loader *l, loader_kind kind, const char *room, const char *path,
		     bool take_lock, int lock_fd)
{
	size_t n = strlen(path) + 1;
	job *j = calloc(1, sizeof(*j) + n);
	if (!j)
		return RK_ENOMEM;
	j->res.kind = kind;
	snprintf(j->res.room, sizeof(j->res.room), "%s", room);
	j->res.lock_fd = lock_fd;
	j->take_lock = take_lock;
	memcpy(j->path, path, n);
	pthread_mutex_lock(&l->mu);
	if (l->tail)
		l->tail->next = &j->res;
	else
		l->head = &j->res;
	l->tail = &j->res;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return RK_OK;
}

rk_err loader_submit(loader *l, const char *room, const char *path, bool take_lock)
{
	return submit(l, LOADER_LOAD, room, path, take_lock, -1);
}

rk_err loader_submit_delete(loader *l, const char *room, const char *path, int lock_fd)
{
	return submit(l, LOADER_DELETE, room, path, false, lock_fd);
}

static bool busy_with(loader *l, const char *room)
{
	if (strcmp(l->running, room) == 0)
		return true;
	for (load_result *r = l->head; r; r = r->next)
		if (strcmp(r->room, room) == 0)
			return true;
	return false;
}

void loader_wait(loader *l, const char *room)
{
	pthread_mutex_lock(&l->mu);
	while (!l->stop && busy_with(l, room))
		pthread_cond_wait(&l->done_cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
	deliver(l);
}

void loader_stop(loader *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	/* Nothing is delivered any more: the rooms are going away. */
	for (load_result *r = l->head, *next; r; r = next) {
		next = r->next;
		result_free(r);
	}
	for (load_result *r = l->done_head, *next; r; r = next) {
		next = r->next;
		result_free(r);
	}
	l->head = l->tail = l->done_head = l->done_tail = NULL;
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	pthread_cond_destroy(&l->done_cv);
	uv_close((uv_handle_t *)&l->async, free_on_close);
}
