/* compact.c - roomctl compact: write a snapshot at the last seq and
 * optionally drop old events, in one transaction under roomd's flock.
 *
 * Rule with --keep-events K (N = the last seq, cut = N - K): when events
 * with seq <= cut exist, they are deleted, a snapshot at cut is written
 * (the state the kept log starts from: the first kept event is cut + 1),
 * and every snapshot older than cut is deleted, so the file is again
 * "a snapshot at first event - 1, then the events after it" as verify,
 * replay and roomd's store_load expect. The snapshot at N is always
 * written (K = 0 leaves only it and no events).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "retain.h"
#include "roomctl.h"

static const ctl_opt compact_opts[] = {
    {"--keep-events", true, false},
    {NULL, false, false},
};

static bool cx_exec(sqlite3 *db, const char *q, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", q, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return false;
	}
	return true;
}

/* Replay to upto and store the state as the snapshot at upto. */
static bool cx_snapshot(rdb *d, int64_t upto, char *err, size_t errlen)
{
	rk_state *st;
	int64_t reached;
	if (rdb_replay(d, upto, false, &st, &reached, err, errlen) != RK_EXIT_OK)
		return false;
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_state_encode(st, &b);
	rk_state_free(st);
	if (rk_buf_ok(&b) != RK_OK) {
		rk_buf_free(&b);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	sqlite3_stmt *q;
	bool ok = sqlite3_prepare_v2(d->db,
				     "INSERT OR REPLACE INTO snapshots(seq,ts,state)"
				     " VALUES(?,?,?)",
				     -1, &q, NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_bind_int64(q, 1, upto);
		sqlite3_bind_int64(q, 2, rk_wall_ms());
		sqlite3_bind_text(q, 3, b.data, (int)b.len, SQLITE_STATIC);
		ok = sqlite3_step(q) == SQLITE_DONE;
		sqlite3_finalize(q);
	}
	if (!ok)
		snprintf(err, errlen, "snapshot at seq %lld: %s", (long long)upto,
			 sqlite3_errmsg(d->db));
	rk_buf_free(&b);
	return ok;
}

/* DELETE ... WHERE seq < / <= bound; *n = rows deleted. */
static bool cx_delete(sqlite3 *db, const char *q_text, int64_t bound, int64_t *n,
		      char *err, size_t errlen)
{
	sqlite3_stmt *q;
	bool ok = sqlite3_prepare_v2(db, q_text, -1, &q, NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_bind_int64(q, 1, bound);
		ok = sqlite3_step(q) == SQLITE_DONE;
		sqlite3_finalize(q);
	}
	if (!ok)
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	else
		*n = sqlite3_changes64(db);
	return ok;
}

typedef struct cx_result {
	int64_t last, cut;	     /* N; events <= cut deleted (-1: none) */
	int64_t events_deleted, snaps_deleted;
	bool snapshot;		     /* a snapshot at N was written */
	bool windowed;		     /* the idempotency window kept more */
} cx_result;

/* The lowest seq of an event within RK_IDEM_MS of the newest, or last + 1. */
static int64_t cx_first_recent(rdb *d, int64_t last)
{
	sqlite3_stmt *q;
	int64_t v = last + 1;
	if (sqlite3_prepare_v2(d->db, "SELECT min(seq) FROM events WHERE ts >= "
			       "(SELECT max(ts) FROM events) - ?", -1, &q, NULL) != SQLITE_OK)
		return 1; /* unknown: keep everything */
	sqlite3_bind_int64(q, 1, RK_IDEM_MS);
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

/* The transaction: snapshot at N, and with keep >= 0 the cut. */
static bool cx_run(rdb *d, int64_t keep, cx_result *res, char *err, size_t errlen)
{
	if (!cx_exec(d->db, "BEGIN IMMEDIATE", err, errlen))
		return false;
	int64_t min, max, count;
	bool ok = rdb_seq_range(d, &min, &max, &count, err, errlen) == RK_EXIT_OK;
	res->last = max;
	res->cut = -1;
	if (ok && count == 0) {
		/* No events (compacted with --keep-events 0): N is the newest
		 * snapshot's seq, which is already there. */
		sqlite3_stmt *q;
		ok = sqlite3_prepare_v2(d->db, "SELECT coalesce(max(seq),0) FROM snapshots",
					-1, &q, NULL) == SQLITE_OK &&
		     sqlite3_step(q) == SQLITE_ROW;
		if (ok)
			res->last = sqlite3_column_int64(q, 0);
		else
			snprintf(err, errlen, "snapshots: %s", sqlite3_errmsg(d->db));
		sqlite3_finalize(q);
	} else if (ok) {
		ok = cx_snapshot(d, max, err, errlen);
		res->snapshot = ok;
		/* Never into the idempotency window (retain.h). */
		int64_t cut = keep >= 0 ? rk_retain_cut(max, keep, cx_first_recent(d, max)) : 0;
		res->windowed = keep >= 0 && max - keep >= min && cut < max - keep;
		if (ok && keep >= 0 && cut >= min) {
			res->cut = cut;
			if (res->cut < max)
				ok = cx_snapshot(d, res->cut, err, errlen);
			ok = ok &&
			     cx_delete(d->db, "DELETE FROM events WHERE seq <= ?", res->cut,
				       &res->events_deleted, err, errlen) &&
			     cx_delete(d->db, "DELETE FROM snapshots WHERE seq < ?",
				       res->cut, &res->snaps_deleted, err, errlen);
		}
	}
	if (ok)
		ok = cx_exec(d->db, "COMMIT", err, errlen);
	if (!ok && !sqlite3_get_autocommit(d->db))
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	return ok;
}

int cmd_compact(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse(c, argc, argv, compact_opts, 1, &a);
	if (rc != RK_CLI_GO)
		return rc;
	if (a.npos != 1)
		return ctl_usage(c, "which room file? (roomctl compact ROOM.db)");
	int64_t keep = -1;
	const char *s = ctl_get(compact_opts, &a, "--keep-events");
	if (s && ctl_int(c, "--keep-events", s, 0, RK_INT_MAX, &keep))
		return RK_EXIT_USAGE;
	const char *path = a.pos[0];

	/* roomd's lock first, held to the end: roomd cannot take the room
	 * while it is rewritten, and a room roomd has is never touched. */
	int fd;
	rc = ctl_lock_room(c, path, &fd);
	if (rc != RK_EXIT_OK)
		return rc;
	int64_t before = ctl_room_bytes(path, false);
	char err[600];
	/* Check it is a room file (read-only), then reopen it for writing. */
	rdb d;
	if (rdb_open(&d, path, false, err, sizeof(err)) != RK_EXIT_OK) {
		rdb_close(&d);
		close(fd);
		return ctl_fail(c, "%s", err);
	}
	sqlite3_close_v2(d.db);
	d.db = NULL;
	cx_result res;
	memset(&res, 0, sizeof(res));
	bool ok = sqlite3_open_v2(path, &d.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				  NULL) == SQLITE_OK;
	if (!ok)
		snprintf(err, sizeof(err), "%s",
			 d.db ? sqlite3_errmsg(d.db) : "cannot open");
	if (ok) {
		sqlite3_busy_timeout(d.db, 5000);
		ok = cx_run(&d, keep, &res, err, sizeof(err));
	}
	/* Give the freed pages back to the file system (outside the
	 * transaction; VACUUM is atomic by itself), then empty the WAL. */
	if (ok && res.events_deleted > 0)
		ok = cx_exec(d.db, "VACUUM", err, sizeof(err));
	if (ok)
		ok = cx_exec(d.db, "PRAGMA wal_checkpoint(TRUNCATE)", err, sizeof(err));
	rdb_close(&d);
	int64_t after = ctl_room_bytes(path, false);
	close(fd);
	if (!ok) /* rdb_replay's messages name the file already */
		return strncmp(err, path, strlen(path)) == 0
			   ? ctl_fail(c, "%s", err)
			   : ctl_fail(c, "%s: %s", path, err);
	char kept[96] = "";
	if (res.cut >= 0)
		snprintf(kept, sizeof(kept), " (kept seq %lld..%lld)",
			 (long long)res.cut + 1, (long long)res.last);
	fprintf(c->out,
		"compacted %s: seq %lld, snapshot %s, %lld events deleted%s, %lld old "
		"snapshots deleted, %lld -> %lld bytes%s\n",
		path, (long long)res.last,
		res.snapshot ? "written" : "unchanged (no events)",
		(long long)res.events_deleted, kept, (long long)res.snaps_deleted,
		(long long)before, (long long)after,
		res.windowed ? "; kept the last " RK_IDEM_EVENTS_STR
			       " events and those within 24 h of the newest (idempotent op ids)"
			     : "");
	return RK_EXIT_OK;
}
