/* ckpt.c - WAL checkpoints as jobs of one worker thread (worker.h; see
 * ckpt.h); no loop side: nothing is delivered back. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ckpt.h"
#include "clock.h"
#include "log.h"
#include "retain.h"
#include "worker.h"

#define CKPT_MAX_QUEUED 65536 /* jobs coalesce per path: one per room at most */

typedef struct job {
	worker_job wj;        /* key: path */
	bool truncate;
	bool catchup;         /* PASSIVE second pass: the room's writer waits */
	int base;             /* catch-up: the frames the first pass copied */
	int tries;            /* TRUNCATE attempts that could not finish */
	int log;              /* frames in the WAL when the last pass began */
	int64_t due_us;       /* monotonic: not before (retries) */
	char path[];
} job;

struct ckpt {
	worker *w;                /* its lock guards st and the queued jobs' fields */
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

static int64_t one_int(sqlite3 *db, const char *sql, int64_t arg, int64_t dflt)
{
	sqlite3_stmt *q = NULL;
	int64_t v = dflt;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, arg);
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
			v = sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	return v;
}

/*
 * --retain-events: in one transaction, delete the events up to the newest
 * snapshot S that leaves the last `keep` events and the idempotency window
 * (retain.h), and the snapshots older than S, so the file is again "a
 * snapshot, then the events after it" (what roomd's load, roomctl verify
 * and replay expect). Only for a room without a writer (TRUNCATE jobs).
 * Returns the events deleted (0 if none or on error, which is logged).
 */
static int64_t retain_events(const char *path, sqlite3 *db, int64_t keep)
{
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return 0; /* busy (a reader's lock): next hibernation */
	int64_t last = one_int(db, "SELECT coalesce(max(seq), ?1) FROM events", 0, 0);
	int64_t first = one_int(db, "SELECT coalesce(min(seq), ?1) FROM events", 0, 0);
	int64_t recent = one_int(db, "SELECT min(seq) FROM events WHERE ts >= "
				 "(SELECT max(ts) FROM events) - ?1", RK_IDEM_MS, last + 1);
	int64_t cut = rk_retain_cut(last, keep, recent);
	int64_t snap = cut > 0 ? one_int(db, "SELECT coalesce(max(seq), 0) FROM snapshots"
					     " WHERE seq <= ?1", cut, 0) : 0;
	int64_t n = 0;
	bool ok = true;
	if (first > 0 && snap >= first) {
		sqlite3_stmt *q = NULL;
		ok = sqlite3_prepare_v2(db, "DELETE FROM events WHERE seq <= ?1", -1, &q, NULL) ==
			     SQLITE_OK &&
		     sqlite3_bind_int64(q, 1, snap) == SQLITE_OK && sqlite3_step(q) == SQLITE_DONE;
		sqlite3_finalize(q);
		n = ok ? sqlite3_changes64(db) : 0;
		q = NULL;
		ok = ok &&
		     sqlite3_prepare_v2(db, "DELETE FROM snapshots WHERE seq < ?1", -1, &q, NULL) ==
			     SQLITE_OK &&
		     sqlite3_bind_int64(q, 1, snap) == SQLITE_OK && sqlite3_step(q) == SQLITE_DONE;
		sqlite3_finalize(q);
	}
	if (!ok || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rk_warn("retention %s: %s", path, sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	if (n)
		rk_info("retention %s: %lld events up to seq %lld deleted (log now %lld..%lld, "
			"snapshot at %lld)", path, (long long)n, (long long)snap,
			(long long)snap + 1, (long long)last, (long long)snap);
	return n;
}

typedef enum { RUN_DONE, RUN_RETRY, RUN_CATCHUP } run_outcome;

/* One checkpoint; the counters are updated under the worker lock. */
static run_outcome run_one(ckpt *c, job *j)
{
	sqlite3 *db = NULL;
	const char *path = j->path;
	int64_t before = wal_bytes(path), t0 = rk_mono_us();
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		/* A room deleted meanwhile: nothing to do (never create it). */
		if ((rc & 0xff) != SQLITE_CANTOPEN)
			rk_warn("checkpoint %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close_v2(db);
		worker_lock(c->w);
		c->st.failed += (rc & 0xff) != SQLITE_CANTOPEN;
		worker_unlock(c->w);
		return RUN_DONE;
	}
	/* Never checkpoint on close: as the last connection it would take an
	 * exclusive lock (a reader such as roomctl then gets "database is
	 * locked") and delete the -wal and -shm files, which a room in a
	 * directory turned read-only could not create again. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_busy_timeout(db, j->truncate ? CKPT_BUSY_MS : 0);
	/* Read the schema first: until it has read something, a connection
	 * does not know the file is in WAL mode, and sqlite3_wal_checkpoint_v2
	 * returns SQLITE_OK having done nothing (-1/-1 frames). */
	rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	int64_t retained = rc == SQLITE_OK && j->truncate && c->retain > 0
				   ? retain_events(path, db, c->retain) : 0;
	if (retained) {
		worker_lock(c->w);
		c->st.retained += (uint64_t)retained;
		worker_unlock(c->w);
	}
	int log = -1, ckpted = -1;
	if (rc == SQLITE_OK)
		rc = sqlite3_wal_checkpoint_v2(db, NULL,
					       j->truncate ? SQLITE_CHECKPOINT_TRUNCATE
							   : SQLITE_CHECKPOINT_PASSIVE,
					       &log, &ckpted);
	j->log = log;
	char why[160];
	snprintf(why, sizeof(why), "%s", sqlite3_errmsg(db));
	sqlite3_close_v2(db);

	run_outcome out = RUN_DONE;
	bool busy = (rc & 0xff) == SQLITE_BUSY;
	worker_lock(c->w);
	if (rc != SQLITE_OK && !busy) {
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
		rk_warn("checkpoint %s copied nothing out of a %lld-byte WAL (%d frames): %s",
			path, (long long)before, log,
			busy ? "a reader or the writer holds it" : "SQLite reported no WAL");
	else
		rk_debug("checkpoint %s (%s): %d/%d frames in %lld us%s", path,
			 j->truncate ? "truncate" : j->catchup ? "catch-up" : "passive", ckpted,
			 log, (long long)(rk_mono_us() - t0), busy ? " (busy)" : "");
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
			"the room's next hibernation", j->path, CKPT_RETRIES);
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
