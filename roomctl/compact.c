/* compact.c - roomctl compact: write a snapshot at the last seq and
 * optionally drop old events, in one batch under the room's single-writer
 * lock (libstore: store_lock, store_open, store_cut, store_settle).
 *
 * Rule with --keep-events K (N = the last seq, cut = N - K): when events
 * with seq <= cut exist, they are deleted, a snapshot at cut is written
 * (the state the kept log starts from: the first kept event is cut + 1),
 * and every snapshot older than cut is deleted, so the file is again
 * "a snapshot at first event - 1, then the events after it" as verify,
 * replay and roomd's store_load expect. The snapshot at N is always
 * written (K = 0 leaves only it and no events).
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "retain.h"
#include "roomctl.h"

static const ctl_opt compact_opts[] = {
    {"--keep-events", true, false},
    {NULL, false, false},
};

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
	char why[400];
	bool ok = store_put_snapshot(d->s, upto, rk_wall_ms(), b.data, b.len, why,
				     sizeof(why)) == RK_OK;
	if (!ok)
		snprintf(err, errlen, "snapshot at seq %lld: %s", (long long)upto, why);
	rk_buf_free(&b);
	return ok;
}

typedef struct cx_result {
	int64_t last, cut; /* N; events <= cut deleted (-1: none) */
	int64_t events_deleted, snaps_deleted;
	bool snapshot; /* a snapshot at N was written */
	bool windowed; /* the idempotency window kept more */
} cx_result;

/* The transaction: snapshot at N, and with keep >= 0 the cut. */
static bool cx_run(rdb *d, int64_t keep, cx_result *res, char *err, size_t errlen)
{
	char why[400];
	if (store_begin(d->s, why, sizeof(why)) != RK_OK) {
		snprintf(err, errlen, "%s", why);
		return false;
	}
	store_stats st;
	bool ok = store_get_stats(d->s, &st, why, sizeof(why)) == RK_OK;
	if (!ok)
		snprintf(err, errlen, "%s", why);
	int64_t min = st.min_seq, max = st.max_seq;
	res->last = max;
	res->cut = -1;
	if (ok && st.events == 0) {
		/* No events (compacted with --keep-events 0): N is the newest
		 * snapshot's seq, which is already there. */
		char *json = NULL;
		size_t len;
		ok = store_snapshot_at(d->s, -1, &res->last, &json, &len, why,
				       sizeof(why)) == RK_OK;
		free(json);
		if (!ok)
			snprintf(err, errlen, "snapshots: %s", why);
	} else if (ok) {
		ok = cx_snapshot(d, max, err, errlen);
		res->snapshot = ok;
		/* Never into the idempotency window (retain.h). */
		int64_t cut =
		    keep >= 0 ? rk_retain_cut(max, keep, store_first_recent(d->s)) : 0;
		res->windowed = keep >= 0 && max - keep >= min && cut < max - keep;
		if (ok && keep >= 0 && cut >= min) {
			res->cut = cut;
			if (res->cut < max)
				ok = cx_snapshot(d, res->cut, err, errlen);
			if (ok &&
			    store_cut(d->s, res->cut, &res->events_deleted,
				      &res->snaps_deleted, why, sizeof(why)) != RK_OK) {
				snprintf(err, errlen, "%s", why);
				ok = false;
			}
		}
	}
	if (ok && store_commit(d->s, why, sizeof(why)) != RK_OK) {
		snprintf(err, errlen, "%s", why);
		return false;
	}
	if (!ok)
		store_rollback(d->s);
	return ok;
}

int cmd_compact(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse_file(c, argc, argv, compact_opts, &a);
	if (rc != RK_CLI_GO)
		return rc;
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
		store_unlock(fd);
		return ctl_fail(c, "%s", err);
	}
	rdb_close(&d);
	cx_result res;
	memset(&res, 0, sizeof(res));
	bool ok = store_open(path, d.room, 5000, &d.s, err, sizeof(err)) == RK_OK;
	if (ok)
		ok = cx_run(&d, keep, &res, err, sizeof(err));
	/* Give the freed pages back to the file system, then empty the WAL. */
	if (ok)
		ok = store_settle(d.s, res.events_deleted > 0, err, sizeof(err)) == RK_OK;
	rdb_close(&d);
	int64_t after = ctl_room_bytes(path, false);
	store_unlock(fd);
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
		res.windowed
		    ? "; kept the last " RK_IDEM_EVENTS_STR
		      " events and those within 24 h of the newest (idempotent op ids)"
		    : "");
	return RK_EXIT_OK;
}
