/* ckpt.c - WAL checkpoints on a background thread (see ckpt.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "ckpt.h"
#include "clock.h"
#include "log.h"
#include "retain.h"
#include "store.h"

typedef struct job {
	struct job *next;
	bool truncate;
	bool catchup;         /* PASSIVE second pass: the room's writer waits */
	int base;             /* catch-up: the frames the first pass copied */
	int tries;            /* TRUNCATE attempts that could not finish */
	int log;              /* frames in the WAL when the last pass began */
	int64_t due_us;       /* monotonic: not before (retries) */
	char path[];
} job;

struct ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* a job was queued, or stop */
	pthread_cond_t idle_cv;   /* a job finished (ckpt_quiesce) */
	job *head;                /* queued, in request order */
	job *running;             /* the job in progress, or NULL */
	bool stop;
	uint64_t done;
	int64_t retain;           /* --retain-events; 0 = off */
	ckpt_stats st;
};

/* Size of "<path>-wal", 0 if missing. */
static int64_t wal_bytes(const char *path)
{
	char wal[4200];
	struct stat sb;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	return stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

typedef enum { RUN_DONE, RUN_RETRY, RUN_CATCHUP } run_outcome;

/* One checkpoint (store_file_checkpoint: its own connection, retention
 * first on TRUNCATE); the counters are updated under c->mu. */
static run_outcome run_one(ckpt *c, job *j)
{
	const char *path = j->path;
	int64_t before = wal_bytes(path), t0 = rk_mono_us();
	store_ckpt_result res;
	char why[160];
	rk_err rc = store_file_checkpoint(path, j->truncate, j->truncate ? CKPT_BUSY_MS : 0,
					  c->retain, &res, why, sizeof(why));
	if (res.missing)
		return RUN_DONE; /* a room deleted meanwhile: nothing to do */
	if (res.retained) {
		pthread_mutex_lock(&c->mu);
		c->st.retained += (uint64_t)res.retained;
		pthread_mutex_unlock(&c->mu);
	}
	int log = res.log, ckpted = res.ckpted;
	j->log = log;
	bool busy = res.busy;
	run_outcome out = RUN_DONE;
	pthread_mutex_lock(&c->mu);
	if (rc != RK_OK) {
		c->st.failed++;
		pthread_mutex_unlock(&c->mu);
		rk_warn("checkpoint %s: %s", path, why);
		return RUN_DONE;
	}
	bool nonempty = log > 0 || (log < 0 && before > 0);
	if (!nonempty || (log > 0 && ckpted == log)) {
		c->st.complete++;
		c->st.frames += log > 0 ? (uint64_t)log : 0;
		c->st.truncated += j->truncate && !busy;
	} else if (ckpted <= 0) {
		c->st.noop++;
	} else {
		c->st.partial++;
		c->st.frames += (uint64_t)ckpted;
	}
	if (j->truncate && (busy || (nonempty && ckpted != log)))
		out = RUN_RETRY;
	else if (!j->truncate && !j->catchup && log > 0 && ckpted > 0)
		/* It copied the frames of the WAL as it was when it began; the
		 * writer may have added more since (log does not count them). */
		out = RUN_CATCHUP;
	pthread_mutex_unlock(&c->mu);

	if (nonempty && ckpted <= 0)
		rk_warn("checkpoint %s copied nothing out of a %lld-byte WAL (%d frames): %s",
			path, (long long)before, log,
			busy ? "a reader or the writer holds it" : "SQLite reported no WAL");
	else
		rk_debug("checkpoint %s (%s): %d/%d frames in %lld us%s", path,
			 j->truncate ? "truncate" : j->catchup ? "catch-up" : "passive", ckpted,
			 log, (long long)(rk_mono_us() - t0), busy ? " (busy)" : "");
	return out;
}

/* The first queued job that is due (all of them when stopping), unlinked;
 * else NULL and *wait_us how long until one is (-1: none queued). */
static job *take_due(ckpt *c, int64_t now, int64_t *wait_us)
{
	*wait_us = -1;
	for (job **pp = &c->head; *pp; pp = &(*pp)->next) {
		job *j = *pp;
		if (c->stop || j->due_us <= now) {
			*pp = j->next;
			j->next = NULL;
			return j;
		}
		if (*wait_us < 0 || j->due_us - now < *wait_us)
			*wait_us = j->due_us - now;
	}
	return NULL;
}

static void append(ckpt *c, job *j)
{
	job **pp = &c->head;
	while (*pp)
		pp = &(*pp)->next;
	*pp = j;
}

static void *ckpt_main(void *arg)
{
	ckpt *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		int64_t wait_us;
		job *j = take_due(c, rk_mono_us(), &wait_us);
		if (!j) {
			if (c->stop)
				break;
			if (wait_us < 0) {
				pthread_cond_wait(&c->cv, &c->mu);
			} else {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				int64_t ns = ts.tv_nsec + (wait_us % 1000000) * 1000;
				ts.tv_sec += (time_t)(wait_us / 1000000 + ns / 1000000000);
				ts.tv_nsec = (long)(ns % 1000000000);
				pthread_cond_timedwait(&c->cv, &c->mu, &ts);
			}
			continue;
		}
		c->running = j;
		pthread_mutex_unlock(&c->mu);
		run_outcome out = run_one(c, j);
		pthread_mutex_lock(&c->mu);
		c->running = NULL;
		c->done++;
		if (out == RUN_CATCHUP && !c->stop) {
			/* At once, ahead of everything: the room holds its
			 * commits meanwhile (ckpt_catching_up). */
			j->catchup = true;
			j->base = j->log;
			j->due_us = 0;
			j->next = c->head;
			c->head = j;
			j = NULL;
		} else if (out == RUN_RETRY && !c->stop && ++j->tries < CKPT_RETRIES) {
			/* A newer request for the path was merged meanwhile? Then
			 * that one stands for this retry. */
			bool queued = false;
			for (job *q = c->head; q && !queued; q = q->next)
				queued = strcmp(q->path, j->path) == 0;
			if (!queued) {
				j->due_us = rk_mono_us() + (int64_t)CKPT_RETRY_MS * 1000;
				append(c, j);
				j = NULL;
			}
		} else if (out == RUN_RETRY && !c->stop) {
			rk_warn("checkpoint %s: WAL not truncated after %d tries; it stays until "
				"the room's next hibernation", j->path, CKPT_RETRIES);
		}
		free(j);
		pthread_cond_broadcast(&c->idle_cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

ckpt *ckpt_start(int64_t retain)
{
	ckpt *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->retain = retain;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_cond_init(&c->idle_cv, NULL);
	if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		pthread_cond_destroy(&c->idle_cv);
		free(c);
		return NULL;
	}
	return c;
}

void ckpt_request(ckpt *c, const char *path, bool truncate)
{
	size_t n = strlen(path) + 1;
	pthread_mutex_lock(&c->mu);
	for (job *j = c->head; j; j = j->next) {
		if (strcmp(j->path, path) == 0) {
			/* Already queued: asked for again, it is due now. */
			j->truncate |= truncate;
			j->due_us = 0;
			pthread_cond_signal(&c->cv);
			pthread_mutex_unlock(&c->mu);
			return;
		}
	}
	job *j = calloc(1, sizeof(*j) + n);
	if (j) {
		j->truncate = truncate;
		memcpy(j->path, path, n);
		append(c, j);
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
}

/* Unlink and free every queued job for path (c->mu held). */
static void drop_jobs(ckpt *c, const char *path)
{
	for (job **pp = &c->head; *pp;) {
		job *j = *pp;
		if (strcmp(j->path, path) != 0) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		free(j);
	}
}

void ckpt_quiesce(ckpt *c, const char *path)
{
	pthread_mutex_lock(&c->mu);
	drop_jobs(c, path);
	while (c->running && strcmp(c->running->path, path) == 0)
		pthread_cond_wait(&c->idle_cv, &c->mu);
	/* A retry or catch-up of the job that just finished may be queued. */
	drop_jobs(c, path);
	pthread_mutex_unlock(&c->mu);
}

ckpt_phase ckpt_state(ckpt *c, const char *path, int *copied)
{
	ckpt_phase p = CKPT_IDLE;
	const job *found = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->running && strcmp(c->running->path, path) == 0)
		found = c->running;
	for (const job *j = c->head; j && !found; j = j->next)
		if (strcmp(j->path, path) == 0)
			found = j;
	if (found)
		p = found->catchup ? CKPT_CATCHUP : CKPT_BULK;
	*copied = found && found->catchup ? found->base : 0;
	pthread_mutex_unlock(&c->mu);
	return p;
}

uint64_t ckpt_done(ckpt *c)
{
	pthread_mutex_lock(&c->mu);
	uint64_t d = c->done;
	pthread_mutex_unlock(&c->mu);
	return d;
}

void ckpt_get_stats(ckpt *c, ckpt_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	pthread_mutex_unlock(&c->mu);
}

void ckpt_stop(ckpt *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	pthread_cond_destroy(&c->idle_cv);
	free(c);
}
