/* ckpt.c - WAL checkpoints as jobs of one worker thread (worker.h; see
 * ckpt.h); no loop side: nothing is delivered back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ckpt.h"
#include "clock.h"
#include "log.h"
#include "retain.h"
#include "store.h"
#include "worker.h"

#define CKPT_MAX_QUEUED 65536 /* jobs coalesce per path: one per room at most */

typedef struct job {
	worker_job wj; /* key: path */
	bool truncate;
	bool catchup;	/* PASSIVE second pass: the room's writer waits */
	int base;	/* catch-up: the frames the first pass copied */
	int tries;	/* TRUNCATE attempts that could not finish */
	int log;	/* frames in the WAL when the last pass began */
	int64_t due_us; /* monotonic: not before (retries) */
	char path[];
} job;

struct ckpt {
	worker *w;	/* its lock guards st and the queued jobs' fields */
	int64_t retain; /* --retain-events; 0 = off */
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
 * first on TRUNCATE); the counters are updated under the worker lock. */
static run_outcome run_one(ckpt *c, job *j)
{
	const char *path = j->path;
	int64_t before = wal_bytes(path), t0 = rk_mono_us();
	store_ckpt_result res;
	char why[160];
	rk_err rc =
	    store_file_checkpoint(path, j->truncate, j->truncate ? CKPT_BUSY_MS : 0,
				  c->retain, &res, why, sizeof(why));
	if (res.missing)
		return RUN_DONE; /* a room deleted meanwhile: nothing to do */
	if (res.retained) {
		worker_lock(c->w);
		c->st.retained += (uint64_t)res.retained;
		worker_unlock(c->w);
	}
	int log = res.log, ckpted = res.ckpted;
	j->log = log;
	bool busy = res.busy;
	run_outcome out = RUN_DONE;
	worker_lock(c->w);
	if (rc != RK_OK) {
		c->st.failed++;
		worker_unlock(c->w);
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
	worker_unlock(c->w);

	if (nonempty && ckpted <= 0)
		rk_warn(
		    "checkpoint %s copied nothing out of a %lld-byte WAL (%d frames): %s",
		    path, (long long)before, log,
		    busy ? "a reader or the writer holds it" : "SQLite reported no WAL");
	else
		rk_debug("checkpoint %s (%s): %d/%d frames in %lld us%s", path,
			 j->truncate  ? "truncate"
			 : j->catchup ? "catch-up"
				      : "passive",
			 ckpted, log, (long long)(rk_mono_us() - t0),
			 busy ? " (busy)" : "");
	return out;
}

static int run_cb(void *arg, worker_job *wj)
{
	return (int)run_one(arg, (job *)wj);
}

/* Lock held: a catch-up pass runs next; a TRUNCATE that could not finish
 * is tried again later. */
static worker_next settle_cb(void *arg, worker_job *wj, int outcome, bool stopping)
{
	(void)arg;
	job *j = (job *)wj;
	if (stopping)
		return WORKER_FREE;
	if (outcome == RUN_CATCHUP) {
		/* At once, ahead of everything: the room holds its commits
		 * meanwhile (ckpt_state). */
		j->catchup = true;
		j->base = j->log;
		j->due_us = 0;
		return WORKER_AGAIN_FIRST;
	}
	if (outcome == RUN_RETRY && ++j->tries < CKPT_RETRIES) {
		/* A newer request for the path was merged meanwhile? Then that
		 * one stands for this retry. */
		if (worker_find_queued(((ckpt *)arg)->w, j->wj.key))
			return WORKER_FREE;
		j->due_us = rk_mono_us() + (int64_t)CKPT_RETRY_MS * 1000;
		return WORKER_AGAIN_LATER;
	}
	if (outcome == RUN_RETRY)
		rk_warn("checkpoint %s: WAL not truncated after %d tries; it stays until "
			"the room's next hibernation",
			j->path, CKPT_RETRIES);
	return WORKER_FREE;
}

static void job_free(worker_job *wj)
{
	free(wj);
}

static const worker_ops ckpt_ops = {
    .run = run_cb,
    .settle = settle_cb,
    .free = job_free,
    .drain_on_stop = true, /* retries waiting for their time are tried once now */
    .max_queued = CKPT_MAX_QUEUED,
};

ckpt *ckpt_start(int64_t retain)
{
	ckpt *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->retain = retain;
	c->w = worker_start(NULL, &ckpt_ops, c);
	if (!c->w) {
		free(c);
		return NULL;
	}
	return c;
}

void ckpt_request(ckpt *c, const char *path, bool truncate)
{
	worker_lock(c->w);
	job *q = (job *)worker_find_queued(c->w, path);
	if (q) {
		/* Already queued: asked for again, it is due now. */
		q->truncate |= truncate;
		q->due_us = 0;
		worker_wake(c->w);
		worker_unlock(c->w);
		return;
	}
	worker_unlock(c->w);
	size_t n = strlen(path) + 1;
	job *j = calloc(1, sizeof(*j) + n);
	if (!j)
		return;
	j->truncate = truncate;
	memcpy(j->path, path, n);
	j->wj.key = j->path;
	if (worker_submit(c->w, &j->wj) != RK_OK)
		free(j); /* only a checkpoint later */
}

void ckpt_quiesce(ckpt *c, const char *path)
{
	worker_quiesce(c->w, path);
}

ckpt_phase ckpt_state(ckpt *c, const char *path, int *copied)
{
	ckpt_phase p = CKPT_IDLE;
	worker_lock(c->w);
	const job *found = (const job *)worker_running(c->w);
	if (found && strcmp(found->path, path) != 0)
		found = NULL;
	if (!found)
		found = (const job *)worker_find_queued(c->w, path);
	if (found)
		p = found->catchup ? CKPT_CATCHUP : CKPT_BULK;
	*copied = found && found->catchup ? found->base : 0;
	worker_unlock(c->w);
	return p;
}

uint64_t ckpt_done(ckpt *c)
{
	return worker_runs(c->w);
}

void ckpt_get_stats(ckpt *c, ckpt_stats *out)
{
	worker_lock(c->w);
	*out = c->st;
	worker_unlock(c->w);
}

void ckpt_stop(ckpt *c)
{
	if (!c)
		return;
	worker_stop(c->w);
	free(c);
}
