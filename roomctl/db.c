/* db.c - roomctl's access to room files, through libstore (store.h): the
 * read-only open, the event cursor, replay, and the single-writer lock
 * that compact, import and delete take before they write or remove a room
 * file (libstore's store_lock, the same flock roomd holds).
 *
 * The read-only commands (inspect, events, replay, verify, diff, export,
 * usage) open the file with store_open_ro: a SQLITE_OPEN_READONLY
 * connection, so they can run beside a live roomd (WAL readers see the last
 * committed state and never block the writer) and never modify the file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "op.h"
#include "roomctl.h"

void ctl_fmt_ms(int64_t ms, char *out, size_t cap)
{
	if (ms <= 0) {
		snprintf(out, cap, "-");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char day[24];
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%s.%03dZ", day, (int)(ms % 1000));
}

void rdb_close(rdb *d)
{
	store_close(d->s);
	d->s = NULL;
}

int rdb_open(rdb *d, const char *path, bool live, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->path = path;
	char why[400];
	if (store_open_ro(path, live, &d->s, why, sizeof(why)) != RK_OK) {
		snprintf(err, errlen, "%s: %s", path, why);
		return RK_EXIT_FAIL;
	}
	const store_meta *m = store_get_meta(d->s);
	memcpy(d->room, m->room, sizeof(d->room));
	memcpy(d->epoch, m->epoch, sizeof(d->epoch));
	d->created_ms = m->created_ms;
	return RK_EXIT_OK;
}

int rdb_iter_begin(rdb *d, rdb_iter *it, int64_t since, int64_t upto, const char *user,
		   char *err, size_t errlen)
{
	memset(it, 0, sizeof(*it));
	char why[400];
	if (store_cursor_open(d->s, since, upto, user, &it->c, why, sizeof(why)) !=
	    RK_OK) {
		snprintf(err, errlen, "%s: %s", d->path, why);
		return RK_EXIT_FAIL;
	}
	return RK_EXIT_OK;
}

int rdb_iter_next(rdb *d, rdb_iter *it, char *err, size_t errlen)
{
	char why[400];
	int r = store_cursor_next(it->c, &it->ev, why, sizeof(why));
	if (r < 0)
		snprintf(err, errlen, "%s: %s", d->path, why);
	return r;
}

void rdb_iter_end(rdb_iter *it)
{
	store_cursor_close(it->c);
	it->c = NULL;
}

int rdb_seq_range(rdb *d, int64_t *min, int64_t *max, int64_t *count, char *err,
		  size_t errlen)
{
	char why[400];
	if (store_seq_range(d->s, min, max, count, why, sizeof(why)) != RK_OK) {
		snprintf(err, errlen, "%s: %s", d->path, why);
		return RK_EXIT_FAIL;
	}
	return RK_EXIT_OK;
}

int rdb_apply(rk_state *st, const rdb_event *ev, rk_buf *applied_json, char *err,
	      size_t errlen)
{
	rk_op op;
	char msg[RK_MSG_MSG_MAX + 1];
	rk_reject rej = rk_op_decode_text(ev->op, ev->op_len, &op, msg, sizeof(msg));
	if (rej != RK_REJ_NONE) {
		snprintf(err, errlen, "event %lld: op does not decode: %s: %s",
			 (long long)ev->seq, rk_reject_name(rej), msg);
		return RK_EXIT_FAIL;
	}
	/* roomd checked the sender's role when it accepted the op. */
	rk_actor actor = {.user = ev->user,
			  .role = RK_ROLE_OWNER,
			  .seq = ev->seq,
			  .ts = ev->ts,
			  .id = ev->op_id};
	rej = rk_state_apply(st, &op, &actor, msg, sizeof(msg));
	if (rej != RK_REJ_NONE) {
		snprintf(err, errlen, "event %lld (%s by %s) does not apply: %s: %s",
			 (long long)ev->seq, rk_op_kind_name(op.k), ev->user,
			 rk_reject_name(rej), msg);
		rk_op_free(&op);
		return RK_EXIT_FAIL;
	}
	if (applied_json)
		rk_op_encode(&op, applied_json);
	rk_op_free(&op);
	return RK_EXIT_OK;
}

/* Load the newest snapshot with seq <= upto into *st; *seq = 0 if none. */
static int load_snapshot(rdb *d, int64_t upto, rk_state **st, int64_t *seq, char *err,
			 size_t errlen)
{
	*st = NULL;
	char *json, why[400];
	size_t len;
	if (store_snapshot_at(d->s, upto, seq, &json, &len, why, sizeof(why)) != RK_OK) {
		snprintf(err, errlen, "%s: snapshots: %s", d->path, why);
		return RK_EXIT_FAIL;
	}
	if (!json)
		return RK_EXIT_OK;
	char derr[200];
	int rc = RK_EXIT_OK;
	if (rk_state_decode_text(json, len, st, derr, sizeof(derr)) != RK_OK) {
		snprintf(err, errlen, "%s: snapshot at seq %lld is corrupt: %s", d->path,
			 (long long)*seq, derr);
		rc = RK_EXIT_FAIL;
	}
	free(json);
	return rc;
}

int rdb_replay(rdb *d, int64_t upto, bool from_scratch, rk_state **out, int64_t *reached,
	       char *err, size_t errlen)
{
	*out = NULL;
	*reached = 0;
	rk_state *st = NULL;
	int64_t seq = 0;
	if (!from_scratch && load_snapshot(d, upto, &st, &seq, err, errlen) != RK_EXIT_OK)
		return RK_EXIT_FAIL;
	if (!st && !(st = rk_state_new())) {
		snprintf(err, errlen, "out of memory");
		return RK_EXIT_FAIL;
	}
	rdb_iter it;
	if (rdb_iter_begin(d, &it, seq, upto, NULL, err, errlen) != RK_EXIT_OK) {
		rk_state_free(st);
		return RK_EXIT_FAIL;
	}
	int r;
	char msg[400];
	while ((r = rdb_iter_next(d, &it, err, errlen)) == 1) {
		if (it.ev.seq != seq + 1) {
			if (seq == 0)
				snprintf(err, errlen,
					 "%s: the log starts at seq %lld and there is"
					 " no snapshot at seq %lld to start from",
					 d->path, (long long)it.ev.seq,
					 (long long)it.ev.seq - 1);
			else
				snprintf(err, errlen,
					 "%s: log gap: seq %lld follows %lld", d->path,
					 (long long)it.ev.seq, (long long)seq);
			r = -1;
			break;
		}
		if (rdb_apply(st, &it.ev, NULL, msg, sizeof(msg)) != RK_EXIT_OK) {
			snprintf(err, errlen, "%s: %s", d->path, msg);
			r = -1;
			break;
		}
		seq = it.ev.seq;
	}
	rdb_iter_end(&it);
	if (r == 0 && upto >= 0 && seq < upto) {
		int64_t first = seq == 0 ? store_earliest_seq(d->s) : 0;
		if (first > upto)
			snprintf(err, errlen,
				 "%s: seq %lld was removed by compaction; the earliest"
				 " seq replay can reach is %lld",
				 d->path, (long long)upto, (long long)first);
		else
			snprintf(err, errlen,
				 "%s: seq %lld is past the last event (%lld)", d->path,
				 (long long)upto, (long long)seq);
		r = -1;
	}
	if (r != 0) {
		rk_state_free(st);
		return RK_EXIT_FAIL;
	}
	*out = st;
	*reached = seq;
	return RK_EXIT_OK;
}

int ctl_lock_room(ctl_ctx *c, const char *path, int *fd)
{
	char why[600];
	*fd = store_lock(path, false, why, sizeof(why));
	if (*fd == STORE_LOCK_HELD) {
		*fd = -1;
		return ctl_fail(c,
				"%s is held by a running roomd (stop it or wait "
				"until the room is idle and unloaded)",
				path);
	}
	if (*fd < 0)
		return ctl_fail(c, "%s", why);
	return RK_EXIT_OK;
}

int64_t ctl_room_bytes(const char *path, bool with_shm)
{
	struct stat sb;
	int64_t n = stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
	char side[4200];
	for (int i = 0; i < (with_shm ? 2 : 1); i++) {
		snprintf(side, sizeof(side), "%s%s", path, i ? "-shm" : "-wal");
		if (stat(side, &sb) == 0)
			n += (int64_t)sb.st_size;
	}
	return n;
}
