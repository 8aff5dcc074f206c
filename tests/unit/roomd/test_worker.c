/*
 * test_worker.c - roomd/worker.c, the one job queue behind the loader, the
 * syncer and the checkpointer: jobs run and come back in submission order,
 * a queued job of a key can be found and changed (the syncer's coalescing),
 * quiesce drops a key's queued jobs, settle can run a job again (ckpt's
 * catch-up), a full queue refuses, stop drains or drops as asked, and a
 * pool (the syncer's) runs jobs at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "worker.h"

typedef struct tjob {
	worker_job wj;
	char key[16];
	int id;
	int value; /* changed under the lock while queued */
	int runs;
} tjob;

/* What the owner saw; the gate holds the worker inside run until opened. */
typedef struct owner {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool gate_closed;
	bool in_run;
	int nin;	     /* jobs inside run right now */
	int ran[64], nran;   /* ids in run order (values for "v" jobs) */
	int done[64], ndone; /* ids in delivery order */
	int freed;
	int again; /* settle: run the next job this many more times */
} owner;

static owner o;

static int run_cb(void *arg, worker_job *wj)
{
	(void)arg;
	tjob *j = (tjob *)wj;
	pthread_mutex_lock(&o.mu);
	o.in_run = true;
	o.nin++;
	pthread_cond_broadcast(&o.cv);
	while (o.gate_closed)
		pthread_cond_wait(&o.cv, &o.mu);
	o.in_run = false;
	o.nin--;
	o.ran[o.nran++] = strcmp(j->key, "v") == 0 ? j->value : j->id;
	j->runs++;
	pthread_mutex_unlock(&o.mu);
	return 0;
}

static worker_next settle_cb(void *arg, worker_job *wj, int outcome, bool stopping)
{
	(void)arg, (void)outcome, (void)wj;
	if (!stopping && o.again > 0) {
		o.again--;
		return WORKER_AGAIN_FIRST;
	}
	return WORKER_DELIVER;
}

static void done_cb(void *arg, worker_job *wj)
{
	(void)arg;
	o.done[o.ndone++] = ((tjob *)wj)->id;
}

static void free_cb(worker_job *wj)
{
	o.freed++;
	free(wj);
}

static worker_ops ops = {
    .run = run_cb,
    .settle = settle_cb,
    .done = done_cb,
    .free = free_cb,
    .drain_on_stop = false,
    .max_queued = 8,
};

static tjob *job(const char *key, int id)
{
	tjob *j = calloc(1, sizeof(*j));
	assert_non_null(j);
	snprintf(j->key, sizeof(j->key), "%s", key);
	j->wj.key = j->key;
	j->id = id;
	return j;
}

static void gate(bool closed)
{
	pthread_mutex_lock(&o.mu);
	o.gate_closed = closed;
	pthread_cond_broadcast(&o.cv);
	pthread_mutex_unlock(&o.mu);
}

/* Wait until the worker is inside run (held by the closed gate). */
static void wait_in_run(void)
{
	pthread_mutex_lock(&o.mu);
	while (!o.in_run)
		pthread_cond_wait(&o.cv, &o.mu);
	pthread_mutex_unlock(&o.mu);
}

typedef struct fx {
	uv_loop_t loop;
	worker *w;
} fx;

static int setup(void **state)
{
	memset(&o, 0, sizeof(o));
	pthread_mutex_init(&o.mu, NULL);
	pthread_cond_init(&o.cv, NULL);
	ops.drain_on_stop = false;
	ops.max_queued = 8;
	ops.threads = 0;
	fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->w = worker_start(&f->loop, &ops, NULL);
	assert_non_null(f->w);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	gate(false);
	worker_stop(f->w);
	uv_run(&f->loop, UV_RUN_DEFAULT); /* the async handle's close frees w */
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	pthread_mutex_destroy(&o.mu);
	pthread_cond_destroy(&o.cv);
	return 0;
}

static void submit(worker *w, tjob *j)
{
	assert_int_equal(worker_submit(w, &j->wj), RK_OK);
}

static void test_order_and_delivery(void **state)
{
	fx *f = *state;
	for (int i = 1; i <= 5; i++)
		submit(f->w, job(i % 2 ? "a" : "b", i));
	worker_wait_idle(f->w); /* delivers on this thread */
	assert_int_equal(o.nran, 5);
	assert_int_equal(o.ndone, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(o.ran[i], i + 1);
		assert_int_equal(o.done[i], i + 1);
	}
	assert_int_equal(o.freed, 5);
	assert_int_equal(worker_runs(f->w), 5);
}

static void test_delivery_through_the_loop(void **state)
{
	fx *f = *state;
	submit(f->w, job("a", 1));
	while (o.ndone < 1)
		uv_run(&f->loop, UV_RUN_ONCE); /* the async handle wakes the loop */
	assert_int_equal(o.done[0], 1);
}

static void test_find_queued_coalesces(void **state)
{
	fx *f = *state;
	gate(true);
	submit(f->w, job("x", 1));
	wait_in_run(); /* x runs; what follows stays queued */
	tjob *v = job("v", 2);
	v->value = 10;
	submit(f->w, v);
	worker_lock(f->w);
	tjob *running = (tjob *)worker_running(f->w);
	assert_non_null(running);
	assert_string_equal(running->key, "x");
	tjob *q = (tjob *)worker_find_queued(f->w, "v");
	assert_ptr_equal(q, v);
	q->value = 20; /* as the syncer raises a queued job's seq */
	assert_null(worker_find_queued(f->w, "x")); /* running, not queued */
	worker_unlock(f->w);
	gate(false);
	worker_wait_idle(f->w);
	assert_int_equal(o.nran, 2);
	assert_int_equal(o.ran[1], 20);
}

static void test_quiesce_drops_queued(void **state)
{
	fx *f = *state;
	gate(true);
	submit(f->w, job("x", 1));
	wait_in_run();
	submit(f->w, job("p", 2));
	submit(f->w, job("q", 3));
	submit(f->w, job("p", 4));
	worker_quiesce(f->w, "p"); /* x runs: no wait for p */
	assert_int_equal(o.freed, 2);
	gate(false);
	worker_wait_idle(f->w);
	assert_int_equal(o.nran, 2);
	assert_int_equal(o.ran[0], 1);
	assert_int_equal(o.ran[1], 3);
}

static void test_again_first_and_cap(void **state)
{
	fx *f = *state;
	gate(true);
	submit(f->w, job("x", 1));
	wait_in_run();
	for (int i = 0; i < 8; i++)
		submit(f->w, job("y", 10 + i));
	tjob *extra = job("z", 99);
	assert_int_equal(worker_submit(f->w, &extra->wj), RK_ENOMEM); /* at max_queued */
	free(extra);
	pthread_mutex_lock(&o.mu);
	o.again = 1; /* x runs once more, ahead of the queue */
	pthread_mutex_unlock(&o.mu);
	gate(false);
	worker_wait_idle(f->w);
	assert_int_equal(o.nran, 10);
	assert_int_equal(o.ran[0], 1);
	assert_int_equal(o.ran[1], 1);
	assert_int_equal(o.ran[2], 10);
}

static void *stopper(void *w)
{
	worker_stop(w);
	return NULL;
}

static void test_stop_drops_or_drains(void **state)
{
	fx *f = *state;
	ops.max_queued = (size_t)1 << 30; /* below: only a stopping worker refuses */
	gate(true);
	submit(f->w, job("x", 1));
	wait_in_run();
	submit(f->w, job("y", 2));
	tjob *later = job("z", 3);
	later->wj.due_us = INT64_MAX; /* not due: runs only if drained */
	submit(f->w, later);
	/* Stop while x still runs (from another thread: stop joins the
	 * worker); once a submit is refused the stop has begun. */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stopper, f->w), 0);
	int extra = 0;
	for (;;) {
		tjob *j = job("w", 100);
		if (worker_submit(f->w, &j->wj) != RK_OK) {
			free(j);
			break;
		}
		extra++; /* queued before the stop: dropped with the rest */
	}
	gate(false);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(o.nran, 1);  /* drain_on_stop false: y, z never run */
	assert_int_equal(o.ndone, 0); /* nothing delivered after stop */
	assert_int_equal(o.freed, 3 + extra);
	/* The same with draining: the queued jobs run, due or not. */
	ops.drain_on_stop = true;
	f->w = worker_start(&f->loop, &ops, NULL);
	assert_non_null(f->w);
	gate(true);
	submit(f->w, job("x", 4));
	wait_in_run();
	later = job("z", 5);
	later->wj.due_us = INT64_MAX;
	submit(f->w, later);
	gate(false);
	worker_stop(f->w);
	assert_int_equal(o.nran, 3);
	assert_int_equal(o.ran[2], 5);
	assert_int_equal(o.freed, 5 + extra);
	f->w = worker_start(&f->loop, &ops, NULL); /* for the teardown */
	assert_non_null(f->w);
}

/* A pool of two: two jobs are inside run at the same time (one thread
 * would never get there: the wait below gives up after 10 s and fails). */
static void test_pool_runs_jobs_at_once(void **state)
{
	fx *f = *state;
	worker_stop(f->w);
	ops.threads = 2;
	f->w = worker_start(&f->loop, &ops, NULL);
	assert_non_null(f->w);
	gate(true);
	submit(f->w, job("a", 1));
	submit(f->w, job("b", 2));
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&o.mu);
	while (o.nin < 2 && pthread_cond_timedwait(&o.cv, &o.mu, &until) == 0)
		;
	int nin = o.nin;
	pthread_mutex_unlock(&o.mu);
	assert_int_equal(nin, 2);
	submit(f->w, job("a", 3));
	worker_lock(f->w);
	assert_non_null(worker_find_queued(f->w, "a")); /* a runs and one is queued */
	worker_unlock(f->w);
	gate(false);
	worker_wait_idle(f->w);
	assert_int_equal(o.nran, 3);
	assert_int_equal(o.ndone, 3);
	assert_int_equal(o.freed, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_order_and_delivery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delivery_through_the_loop, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_find_queued_coalesces, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quiesce_drops_queued, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_again_first_and_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_drops_or_drains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pool_runs_jobs_at_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
