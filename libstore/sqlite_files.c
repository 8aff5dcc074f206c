/* sqlite_files.c - libstore's calls on room files by path, outside a room
 * handle: WAL checkpoints and retention (the checkpointer thread), the
 * startup peek, the webhook worker's outbox reader and <data>/webhooks.db
 * (store.h, "SQLite file maintenance" and "webhook delivery"). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"
#include "retain.h"
#include "sqlite_int.h"
#include "store.h"

/* <data>/webhooks.db: delivery progress per room. */
static const char hookpos_sql[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS delivered(room TEXT PRIMARY KEY,"
    " epoch TEXT NOT NULL, upto INTEGER NOT NULL);";

/* ---- checkpoints and retention -------------------------------------------- */

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
	int64_t last = sq_one_int(db, "SELECT coalesce(max(seq), ?1) FROM events", 0, 0);
	int64_t first = sq_one_int(db, "SELECT coalesce(min(seq), ?1) FROM events", 0, 0);
	int64_t recent = sq_one_int(db,
				    "SELECT min(seq) FROM events WHERE ts >= "
				    "(SELECT max(ts) FROM events) - ?1",
				    RK_IDEM_MS, last + 1);
	int64_t cut = rk_retain_cut(last, keep, recent);
	int64_t snap = cut > 0 ? sq_one_int(db,
					    "SELECT coalesce(max(seq), 0) FROM snapshots"
					    " WHERE seq <= ?1",
					    cut, 0)
			       : 0;
	int64_t n = 0;
	bool ok = true;
	if (first > 0 && snap >= first) {
		sqlite3_stmt *q = NULL;
		ok = sqlite3_prepare_v2(db, "DELETE FROM events WHERE seq <= ?1", -1, &q,
					NULL) == SQLITE_OK &&
		     sqlite3_bind_int64(q, 1, snap) == SQLITE_OK &&
		     sqlite3_step(q) == SQLITE_DONE;
		sqlite3_finalize(q);
		n = ok ? sqlite3_changes64(db) : 0;
		q = NULL;
		ok = ok &&
		     sqlite3_prepare_v2(db, "DELETE FROM snapshots WHERE seq < ?1", -1,
					&q, NULL) == SQLITE_OK &&
		     sqlite3_bind_int64(q, 1, snap) == SQLITE_OK &&
		     sqlite3_step(q) == SQLITE_DONE;
		sqlite3_finalize(q);
	}
	if (!ok || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rk_warn("retention %s: %s", path, sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	if (n)
		rk_info("retention %s: %lld events up to seq %lld deleted (log now "
			"%lld..%lld, "
			"snapshot at %lld)",
			path, (long long)n, (long long)snap, (long long)snap + 1,
			(long long)last, (long long)snap);
	return n;
}

rk_err store_file_checkpoint(const char *path, bool truncate, int busy_ms, int64_t retain,
			     store_ckpt_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	res->log = res->ckpted = -1;
	sqlite3 *db = NULL;
	int rc =
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		/* A room deleted meanwhile: nothing to do (never create it). */
		res->missing = (rc & 0xff) == SQLITE_CANTOPEN;
		snprintf(err, errlen, "%s", db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close_v2(db);
		return res->missing ? RK_OK : RK_EIO;
	}
	/* Never checkpoint on close: as the last connection it would take an
	 * exclusive lock (a reader such as roomctl then gets "database is
	 * locked") and delete the -wal and -shm files, which a room in a
	 * directory turned read-only could not create again. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_busy_timeout(db, busy_ms);
	/* Read the schema first: until it has read something, a connection
	 * does not know the file is in WAL mode, and sqlite3_wal_checkpoint_v2
	 * returns SQLITE_OK having done nothing (-1/-1 frames). */
	rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	if (rc == SQLITE_OK && truncate && retain > 0)
		res->retained = retain_events(path, db, retain);
	if (rc == SQLITE_OK)
		rc = sqlite3_wal_checkpoint_v2(db, NULL,
					       truncate ? SQLITE_CHECKPOINT_TRUNCATE
							: SQLITE_CHECKPOINT_PASSIVE,
					       &res->log, &res->ckpted);
	res->busy = (rc & 0xff) == SQLITE_BUSY;
	if (rc != SQLITE_OK)
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	sqlite3_close_v2(db);
	return rc == SQLITE_OK || res->busy ? RK_OK : RK_EIO;
}

/* ---- the startup peek ------------------------------------------------------ */

rk_err store_peek(const char *path, store_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof(*info));
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	rk_err rc = RK_EIO;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL)) {
		snprintf(err, errlen, "open: %s",
			 db ? sqlite3_errmsg(db) : "no database");
		goto out;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* A compacted room may keep its last seq only in a snapshot. */
	if (sqlite3_prepare_v2(db,
			       "SELECT max(coalesce((SELECT max(seq) FROM events), 0),"
			       " coalesce((SELECT max(seq) FROM snapshots), 0)),"
			       " coalesce((SELECT max(ts) FROM events),"
			       " (SELECT max(ts) FROM snapshots))",
			       -1, &q, NULL)) {
		snprintf(err, errlen, "read: %s", sqlite3_errmsg(db));
		rc = strstr(err, "no such table") || strstr(err, "not a database")
			 ? RK_ECORRUPT
			 : RK_EIO;
		goto out;
	}
	if (sqlite3_step(q) == SQLITE_ROW) {
		info->seq = sqlite3_column_int64(q, 0);
		info->last_active_ms = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	q = NULL;
	if (!info->last_active_ms &&
	    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='created_ms'", -1,
			       &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
		info->last_active_ms =
		    strtoll((const char *)sqlite3_column_text(q, 0), NULL, 10);
	sqlite3_finalize(q);
	q = NULL;
	if (sqlite3_prepare_v2(db, "SELECT poll, at FROM alarms ORDER BY at", -1, &q,
			       NULL)) {
		/* A file without the alarms table has no alarms. */
		rc = RK_OK;
		goto out;
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		void *p =
		    realloc(info->alarms, (info->nalarms + 1) * sizeof(*info->alarms));
		if (!p)
			break;
		info->alarms = p;
		const char *poll = (const char *)sqlite3_column_text(q, 0);
		snprintf(info->alarms[info->nalarms].poll, sizeof(info->alarms[0].poll),
			 "%s", poll ? poll : "");
		info->alarms[info->nalarms].at = sqlite3_column_int64(q, 1);
		info->nalarms++;
	}
	rc = RK_OK;
out:
	sqlite3_finalize(q);
	sqlite3_close_v2(db);
	return rc;
}

/* ---- the webhook worker's outbox reader ------------------------------------ */

struct store_outbox {
	sqlite3 *db;
};

store_outbox *store_outbox_open(const char *path)
{
	store_outbox *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	if (sqlite3_open_v2(path, &o->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		store_outbox_close(o);
		return NULL;
	}
	/* Never checkpoint from here: the checkpointer thread does. */
	sqlite3_db_config(o->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_busy_timeout(o->db, 2000);
	return o;
}

void store_outbox_close(store_outbox *o)
{
	if (!o)
		return;
	sqlite3_close_v2(o->db);
	free(o);
}

int store_outbox_read(store_outbox *o, const char *known_epoch, int64_t after,
		      char *epoch, int64_t *id, int64_t *created_ms, char **body,
		      size_t *len, int64_t *max)
{
	sqlite3 *db = o->db;
	sqlite3_stmt *st = NULL;
	epoch[0] = '\0';
	*body = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'epoch'", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(epoch, RK_EPOCH_MAX + 1, "%s",
			 (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (!epoch[0])
		return -1;
	if (strcmp(epoch, known_epoch) != 0)
		after = 0; /* a new file for this room (or the first look) */
	*max = sq_one_int(db, "SELECT max(id) FROM webhooks", 0, 0);
	if (*max <= after)
		return 0;
	int found = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT id, created_ms, body FROM webhooks WHERE id > ?"
			       " ORDER BY id LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 2);
		size_t n = (size_t)sqlite3_column_bytes(st, 2);
		*body = text ? malloc(n + 1) : NULL;
		if (*body) {
			memcpy(*body, text, n);
			(*body)[n] = '\0';
			*len = n;
			*id = sqlite3_column_int64(st, 0);
			*created_ms = sqlite3_column_int64(st, 1);
			found = 1;
		}
	}
	sqlite3_finalize(st);
	return found;
}

/* ---- <data>/webhooks.db ---------------------------------------------------- */

struct store_hookpos {
	sqlite3 *db;
	sqlite3_stmt *put;
};

store_hookpos *store_hookpos_open(const char *path,
				  void (*cb)(void *arg, const char *room,
					     const char *epoch, int64_t upto),
				  void *arg, char *err, size_t errlen)
{
	store_hookpos *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &p->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_exec(p->db, hookpos_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(p->db,
			       "INSERT INTO delivered(room, epoch, upto) VALUES(?, ?, ?)"
			       " ON CONFLICT(room) DO UPDATE SET epoch = excluded.epoch,"
			       " upto = excluded.upto",
			       -1, &p->put, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s",
			 p->db ? sqlite3_errmsg(p->db) : "out of memory");
		store_hookpos_close(p);
		return NULL;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(p->db, "SELECT room, epoch, upto FROM delivered", -1, &st,
			       NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(p->db));
		store_hookpos_close(p);
		return NULL;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *room = (const char *)sqlite3_column_text(st, 0);
		const char *ep = (const char *)sqlite3_column_text(st, 1);
		if (room && ep && cb)
			cb(arg, room, ep, sqlite3_column_int64(st, 2));
	}
	sqlite3_finalize(st);
	return p;
}

rk_err store_hookpos_put(store_hookpos *p, const char *room, const char *epoch,
			 int64_t upto, char *err, size_t errlen)
{
	sqlite3_bind_text(p->put, 1, room, -1, SQLITE_STATIC);
	sqlite3_bind_text(p->put, 2, epoch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p->put, 3, upto);
	rk_err rc = RK_OK;
	if (sqlite3_step(p->put) != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(p->db));
		rc = RK_EIO;
	}
	sqlite3_reset(p->put);
	sqlite3_clear_bindings(p->put);
	return rc;
}

void store_hookpos_close(store_hookpos *p)
{
	if (!p)
		return;
	sqlite3_finalize(p->put);
	sqlite3_close_v2(p->db);
	free(p);
}

int64_t store_hookpos_get(const char *path, const char *room, const char *epoch)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int64_t upto = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db,
			       "SELECT upto FROM delivered WHERE room = ? AND epoch = ?",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, room, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, epoch, -1, SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW &&
		    sqlite3_column_type(q, 0) != SQLITE_NULL)
			upto = sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	sqlite3_close_v2(db);
	return upto;
}
