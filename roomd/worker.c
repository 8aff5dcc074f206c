/* worker.c - background threads (one, or a small pool) on one bounded job
 * queue and, if asked for, delivery back to the loop through one
 * uv_async_t (see worker.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clock.h"
#include "worker.h"

struct worker {
	uv_async_t async; /* with a loop: its data is the worker, freed when it closes */
	bool has_loop;
	pthread_t threads[WORKER_MAX_THREADS];
	unsigned nthreads; /* started */
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* a job was queued, or stop */
	pthread_cond_t idle_cv; /* a job finished */
	worker_job *head;	/* queued, in order */
	size_t nqueued;
	worker_job *running[WORKER_MAX_THREADS]; /* jobs in progress (NULL: free slot) */
	unsigned nrunning;
	worker_job *done_head, *done_tail; /* finished, not yet delivered */
	uint64_t runs;
	bool stop;
	const worker_ops *ops;
	void *arg;
};

static void append(worker *w, worker_job *j)
{
	worker_job **pp = &w->head;
	while (*pp)
		pp = &(*pp)->next;
	j->next = NULL;
	*pp = j;
	w->nqueued++;
}

/* The first queued job that is due (all of them when stopping), unlinked;
 * else NULL and *wait_us how long until one is (-1: none queued). */
static worker_job *take_due(worker *w, int64_t now, int64_t *wait_us)
{
	*wait_us = -1;
	for (worker_job **pp = &w->head; *pp; pp = &(*pp)->next) {
		worker_job *j = *pp;
		if (w->stop || j->due_us <= now) {
			*pp = j->next;
			j->next = NULL;
			w->nqueued--;
			return j;
		}
		if (*wait_us < 0 || j->due_us - now < *wait_us)
			*wait_us = j->due_us - now;
	}
	return NULL;
}

static void timed_wait(worker *w, int64_t wait_us)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ns = ts.tv_nsec + (wait_us % 1000000) * 1000;
	ts.tv_sec += (time_t)(wait_us / 1000000 + ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

/* Lock held: act on what settle decided for j. */
static void settle(worker *w, worker_job *j, int outcome)
{
	worker_next next = w->has_loop ? WORKER_DELIVER : WORKER_FREE;
	if (w->ops->settle)
		next = w->ops->settle(w->arg, j, outcome, w->stop);
	if (w->stop && (next == WORKER_AGAIN_FIRST || next == WORKER_AGAIN_LATER))
		next = WORKER_FREE;
	switch (next) {
	case WORKER_AGAIN_FIRST:
		j->next = w->head;
		w->head = j;
		w->nqueued++;
		break;
	case WORKER_AGAIN_LATER:
		append(w, j);
		break;
	case WORKER_DELIVER:
		if (!w->has_loop) {
			w->ops->free(j); /* nobody to deliver to */
			break;
		}
		j->next = NULL;
		if (w->done_tail)
			w->done_tail->next = j;
		else
			w->done_head = j;
		w->done_tail = j;
		/* Thread-safe; sends coalesce into one callback on the loop.
		 * The handle is closed only after this thread is joined. */
		uv_async_send(&w->async);
		break;
	case WORKER_FREE:
		w->ops->free(j);
		break;
	}
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		int64_t wait_us;
		worker_job *j = take_due(w, rk_mono_us(), &wait_us);
		if (!j) {
			if (w->stop)
				break;
			if (wait_us < 0)
				pthread_cond_wait(&w->cv, &w->mu);
			else
				timed_wait(w, wait_us);
			continue;
		}
		unsigned slot = 0;
		while (w->running[slot])
			slot++; /* a free one exists: at most nthreads jobs run */
		w->running[slot] = j;
		w->nrunning++;
		pthread_mutex_unlock(&w->mu);
		int outcome = w->ops->run(w->arg, j);
		pthread_mutex_lock(&w->mu);
		w->running[slot] = NULL;
		w->nrunning--;
		w->runs++;
		settle(w, j, outcome);
		pthread_cond_broadcast(&w->idle_cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Hand every finished job to ops->done, in order, on the calling thread. */
static void deliver(worker *w)
{
	if (!w->has_loop)
		return;
	pthread_mutex_lock(&w->mu);
	worker_job *j = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while (j) {
		worker_job *next = j->next;
		j->next = NULL;
		w->ops->done(w->arg, j);
		w->ops->free(j);
		j = next;
	}
}

static void free_on_close(uv_handle_t *h)
{
	free(h->data);
}

/* The thread is gone (or never ran): free w's locks, and w itself now, or
 * once the loop has closed its async handle. */
static void release(worker *w)
{
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->idle_cv);
	if (w->has_loop)
		uv_close((uv_handle_t *)&w->async, free_on_close);
	else
		free(w);
}

static void async_cb(uv_async_t *h)
{
	deliver(h->data);
}

worker *worker_start(uv_loop_t *loop, const worker_ops *ops, void *arg)
{
	worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->ops = ops;
	w->arg = arg;
	if (loop) {
		if (uv_async_init(loop, &w->async, async_cb) != 0) {
			free(w);
			return NULL;
		}
		w->async.data = w;
		w->has_loop = true;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->idle_cv, NULL);
	unsigned want = ops->threads ? ops->threads : 1;
	if (want > WORKER_MAX_THREADS)
		want = WORKER_MAX_THREADS;
	while (w->nthreads < want &&
	       pthread_create(&w->threads[w->nthreads], NULL, worker_main, w) == 0)
		w->nthreads++;
	if (w->nthreads == 0) {
		release(w);
		return NULL;
	}
	return w;
}

rk_err worker_submit(worker *w, worker_job *j)
{
	pthread_mutex_lock(&w->mu);
	if (w->stop || w->nqueued >= w->ops->max_queued) {
		pthread_mutex_unlock(&w->mu);
		return RK_ENOMEM;
	}
	append(w, j);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return RK_OK;
}

void worker_lock(worker *w)
{
	pthread_mutex_lock(&w->mu);
}

void worker_unlock(worker *w)
{
	pthread_mutex_unlock(&w->mu);
}

worker_job *worker_find_queued(worker *w, const char *key)
{
	for (worker_job *j = w->head; j; j = j->next)
		if (strcmp(j->key, key) == 0)
			return j;
	return NULL;
}

worker_job *worker_running(worker *w)
{
	for (unsigned i = 0; i < WORKER_MAX_THREADS; i++)
		if (w->running[i])
			return w->running[i];
	return NULL;
}

/* Lock held: is a job of key running? */
static bool running_key(worker *w, const char *key)
{
	for (unsigned i = 0; i < WORKER_MAX_THREADS; i++)
		if (w->running[i] && strcmp(w->running[i]->key, key) == 0)
			return true;
	return false;
}

void worker_wake(worker *w)
{
	pthread_cond_signal(&w->cv);
}

static bool busy_with(worker *w, const char *key)
{
	return running_key(w, key) || worker_find_queued(w, key);
}

void worker_wait_key(worker *w, const char *key)
{
	pthread_mutex_lock(&w->mu);
	while (!w->stop && busy_with(w, key))
		pthread_cond_wait(&w->idle_cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	deliver(w);
}

void worker_wait_idle(worker *w)
{
	pthread_mutex_lock(&w->mu);
	while (!w->stop && (w->head || w->nrunning))
		pthread_cond_wait(&w->idle_cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	deliver(w);
}

/* Lock held: unlink and free every queued job of key. */
static void drop_key(worker *w, const char *key)
{
	for (worker_job **pp = &w->head; *pp;) {
		worker_job *j = *pp;
		if (strcmp(j->key, key) != 0) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		w->nqueued--;
		w->ops->free(j);
	}
}

void worker_quiesce(worker *w, const char *key)
{
	pthread_mutex_lock(&w->mu);
	drop_key(w, key);
	while (running_key(w, key))
		pthread_cond_wait(&w->idle_cv, &w->mu);
	/* What settle queued again for the job that just finished. */
	drop_key(w, key);
	pthread_mutex_unlock(&w->mu);
}

uint64_t worker_runs(worker *w)
{
	pthread_mutex_lock(&w->mu);
	uint64_t n = w->runs;
	pthread_mutex_unlock(&w->mu);
	return n;
}

static void free_list(worker *w, worker_job *j)
{
	while (j) {
		worker_job *next = j->next;
		w->ops->free(j);
		j = next;
	}
}

void worker_stop(worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	if (!w->ops->drain_on_stop) {
		free_list(w, w->head);
		w->head = NULL;
		w->nqueued = 0;
	}
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	/* Nothing is delivered any more: the owner is going away. */
	free_list(w, w->head);
	free_list(w, w->done_head);
	w->head = w->done_head = w->done_tail = NULL;
	release(w);
}
