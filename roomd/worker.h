/*
 * worker.h - background threads on one bounded job queue, the one shape
 * behind the loader (loader.h), the syncer (syncer.h) and the checkpointer
 * (ckpt.h): jobs go in from the loop, run on a thread in queue order (a job
 * may be due later: ckpt's retries), and, when the owner asks for it, come
 * back to the loop through one uv_async_t. One thread by default (jobs run
 * one at a time, in order); ops->threads > 1 makes a pool that takes jobs
 * from the same queue (the syncer: several fdatasyncs in flight), where
 * jobs start in queue order but may finish in any order.
 *
 * A job is the owner's struct with a worker_job as its first member (or
 * reached with container_of); it carries its own result, so finishing a
 * job never allocates and a result cannot be lost to out of memory. The
 * worker owns a job from worker_submit until it hands it to ops->done (on
 * the loop) and then ops->free, or to ops->free alone (dropped, or an
 * owner without a loop side).
 *
 * What the owners need beyond "run it" is here once, keyed by the job's
 * key (a room id or a file path): the queued job of a key (the syncer
 * coalesces into it), waiting until a key is idle (loader_wait), dropping a
 * key's queued jobs and waiting out its running one (ckpt_quiesce), waiting
 * until everything is idle (syncer_flush).
 *
 * Threads: worker_submit, the find/wait/quiesce calls and worker_stop are
 * for the loop thread (or one owner thread); ops->run runs on the worker
 * thread without the lock; ops->settle runs on the worker thread with the
 * lock held (so it may change fields that worker_lock holders read).
 */
#ifndef ROOMD_WORKER_H
#define ROOMD_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "rk_common.h"

typedef struct worker worker;

#define WORKER_MAX_THREADS 8

typedef struct worker_job {
	struct worker_job *next; /* the worker's */
	const char *key;	 /* the owner's: set before submit, inside the job */
	int64_t due_us;		 /* monotonic; 0: now. Not before this (ckpt retries) */
} worker_job;

/* What becomes of a job once it ran (ops->settle's answer). */
typedef enum worker_next {
	WORKER_DELIVER = 0, /* to the loop: ops->done, then ops->free */
	WORKER_FREE,	    /* ops->free now, nothing delivered */
	WORKER_AGAIN_FIRST, /* run again next, ahead of every queued job */
	WORKER_AGAIN_LATER, /* run again at its due_us, behind the queue */
} worker_next;

typedef struct worker_ops {
	/* The job's work, on the worker thread, lock not held; returns an
	 * outcome only settle interprets. Required. */
	int (*run)(void *arg, worker_job *j);
	/* On the worker thread with the lock held, after run: what next.
	 * stopping is true once worker_stop began (a job is then never run
	 * again). NULL: WORKER_DELIVER with a loop, else WORKER_FREE. */
	worker_next (*settle)(void *arg, worker_job *j, int outcome, bool stopping);
	/* On the loop thread, for every delivered job in completion order;
	 * ops->free follows. NULL if the worker has no loop side. */
	void (*done)(void *arg, worker_job *j);
	/* Frees a job (delivered, dropped, or left at stop). Required. */
	void (*free)(worker_job *j);
	/* At stop: true runs the jobs still queued (due or not), false drops
	 * them. */
	bool drain_on_stop;
	/* Queued jobs at most (the running one not counted); worker_submit
	 * refuses beyond it. */
	size_t max_queued;
	/* Threads taking jobs from the queue: 0 or 1 one, at most
	 * WORKER_MAX_THREADS. */
	unsigned threads;
} worker_ops;

/* Start the thread(s); with loop non-NULL also register the async handle
 * that delivers results (ops->done required then). ops and arg must
 * outlive the worker. NULL on failure (nothing left running). */
worker *worker_start(uv_loop_t *loop, const worker_ops *ops, void *arg) RK_WARN_UNUSED;
/* Queue j at the tail (its due_us as set). Never blocks on I/O. RK_OK and
 * the worker owns j; RK_ENOMEM (the queue holds max_queued jobs, or the
 * worker is stopping) and j stays the caller's. */
rk_err worker_submit(worker *w, worker_job *j) RK_WARN_UNUSED;
/* Hold the queue's lock (for worker_find_queued, worker_running and the
 * owner's own fields that settle writes). Never across I/O. */
void worker_lock(worker *w);
void worker_unlock(worker *w);
/* Lock held: the first queued (not running) job of key, or NULL. The job
 * stays the worker's; it may be changed only under the lock and only in
 * the owner's fields. Jobs are matched by strcmp of their keys. */
worker_job *worker_find_queued(worker *w, const char *key);
/* Lock held: a running job (the running job of a one-thread worker), or
 * NULL. */
worker_job *worker_running(worker *w);
/* Lock held: wake the thread to look at the queue again (after a queued
 * job's due_us was moved earlier). */
void worker_wake(worker *w);
/* Block until no job of key is queued or running (or the worker stops),
 * then deliver every finished job on the calling (loop) thread. */
void worker_wait_key(worker *w, const char *key);
/* Block until nothing is queued or running, then deliver (as above). Jobs
 * due later are waited for too. */
void worker_wait_idle(worker *w);
/* Free every queued job of key, wait until none runs, and free any its
 * settle queued again: afterwards the worker does not touch key until a
 * new job for it is submitted. May block for one job. */
void worker_quiesce(worker *w, const char *key);
/* Jobs run so far (any outcome). */
uint64_t worker_runs(worker *w);
/* Stop: the running job finishes; queued jobs run (drain_on_stop) or are
 * freed; finished, undelivered ones are freed, not delivered. Joins the
 * threads. Without a loop w is freed now; with one the async handle is
 * closed and w freed by its close callback (run the loop once more). NULL
 * is a no-op. */
void worker_stop(worker *w);

#endif
