/* db.c - read-only access to room files (PROTOCOL.md section 7) and replay.
 *
 * roomctl never links roomd's store.c: it reads the documented schema with
 * its own queries, through a SQLITE_OPEN_READONLY connection, so it can run
 * beside a live roomd (WAL readers see the last committed state and never
 * block the writer) and can never modify a room file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "op.h"
#include "roomctl.h"
#include "roomid.h"

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

static bool table_exists(sqlite3 *db, const char *name, char *err, size_t errlen, int *rc)
{
	sqlite3_stmt *q;
	*rc = sqlite3_prepare_v2(db,
				 "SELECT 1 FROM sqlite_master WHERE type='table'"
				 " AND name=?",
				 -1, &q, NULL);
	if (*rc != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return false;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	int step = sqlite3_step(q);
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		*rc = step;
	}
	sqlite3_finalize(q);
	return step == SQLITE_ROW;
}

/* Read one meta value; 1 found, 0 absent, -1 error. */
static int meta_get(sqlite3 *db, const char *key, char *out, size_t cap, char *err,
		    size_t errlen)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?", -1, &q, NULL)) {
		snprintf(err, errlen, "meta: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	int step = sqlite3_step(q);
	int found = 0;
	if (step == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 0);
		snprintf(out, cap, "%s", v ? v : "");
		found = 1;
	} else if (step != SQLITE_DONE) {
		snprintf(err, errlen, "meta: %s", sqlite3_errmsg(db));
		found = -1;
	}
	sqlite3_finalize(q);
	return found;
}

void rdb_close(rdb *d)
{
	if (d->db)
		sqlite3_close_v2(d->db);
	d->db = NULL;
}

/* "<path>-wal" into out. */
static const char *wal_path(const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s-wal", path);
	return out;
}

/* A file: URI for path, read-only, immutable if asked; false if too long. */
static bool file_uri(const char *path, bool immutable, char *out, size_t cap)
{
	size_t n = 0;
	const char *pre = "file:";
	for (const char *p = pre; *p; p++)
		out[n++] = *p;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (n + 4 >= cap)
			return false;
		if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20 || *p >= 0x7f)
			n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
		else
			out[n++] = (char)*p;
	}
	int k = snprintf(out + n, cap - n, "?mode=ro%s", immutable ? "&immutable=1" : "");
	return k > 0 && (size_t)k < cap - n;
}

int rdb_open(rdb *d, const char *path, bool live, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->path = path;
	struct stat sb;
	if (stat(path, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return RK_EXIT_FAIL;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return RK_EXIT_FAIL;
	}
	/* Refuse anything that is not a SQLite file before SQLite sees it. */
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return RK_EXIT_FAIL;
	}
	char magic[16];
	size_t n = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	if (n != sizeof(magic) || memcmp(magic, "SQLite format 3", 16) != 0) {
		snprintf(err, errlen, "%s: not a SQLite database (not a room file)",
			 path);
		return RK_EXIT_FAIL;
	}
	/*
	 * A read-only connection to a WAL file creates the -wal and -shm files
	 * when they are missing and cannot remove them again. No -wal file
	 * means no process has the room open in WAL mode (roomd keeps its WAL
	 * while it has the room), so a one-shot read opens the file as
	 * immutable and leaves the directory exactly as it was. A live reader
	 * (--follow) uses the normal WAL protocol to see later commits.
	 */
	char uri[PATH_MAX * 3 + 64];
	bool immutable = !live && access(wal_path(path, uri, sizeof(uri)), F_OK) != 0;
	if (!file_uri(path, immutable, uri, sizeof(uri))) {
		snprintf(err, errlen, "%s: path too long", path);
		return RK_EXIT_FAIL;
	}
	if (sqlite3_open_v2(uri, &d->db,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 d->db ? sqlite3_errmsg(d->db) : "cannot open");
		rdb_close(d);
		return RK_EXIT_FAIL;
	}
	sqlite3_extended_result_codes(d->db, 0);
	sqlite3_busy_timeout(d->db, 5000);
	char msg[256] = "";
	int rc;
	static const char *const need[] = {"meta", "events", "snapshots"};
	for (size_t i = 0; i < RK_ARRAY_LEN(need); i++) {
		if (!table_exists(d->db, need[i], msg, sizeof(msg), &rc)) {
			if (rc != SQLITE_OK)
				snprintf(err, errlen, "%s: %s", path, msg);
			else
				snprintf(err, errlen, "%s: not a room file (no %s table)",
					 path, need[i]);
			rdb_close(d);
			return RK_EXIT_FAIL;
		}
	}
	d->has_alarms = table_exists(d->db, "alarms", msg, sizeof(msg), &rc);
	sqlite3_stmt *q;
	d->has_op_id = sqlite3_prepare_v2(d->db, "SELECT op_id FROM events LIMIT 0", -1,
					  &q, NULL) == SQLITE_OK;
	sqlite3_finalize(q);

	char val[128];
	int got = meta_get(d->db, "format", val, sizeof(val), msg, sizeof(msg));
	if (got <= 0) {
		snprintf(err, errlen, "%s: %s", path,
			 got < 0 ? msg : "meta has no 'format' (not a room file?)");
		rdb_close(d);
		return RK_EXIT_FAIL;
	}
	char *end;
	long fmt = strtol(val, &end, 10);
	if (!val[0] || *end || fmt < 1) {
		snprintf(err, errlen, "%s: meta 'format' is '%s', not a format number",
			 path, val);
		rdb_close(d);
		return RK_EXIT_FAIL;
	}
	if (fmt > RDB_FORMAT) {
		snprintf(err, errlen,
			 "%s: room file format %ld is newer than this roomctl "
			 "reads (%d)",
			 path, fmt, RDB_FORMAT);
		rdb_close(d);
		return RK_EXIT_FAIL;
	}
	got = meta_get(d->db, "room", val, sizeof(val), msg, sizeof(msg));
	if (got <= 0 || !rk_roomid_validz(val)) {
		snprintf(err, errlen, "%s: %s", path,
			 got < 0    ? msg
			 : got == 0 ? "meta has no 'room'"
				    : "meta 'room' is not a valid room id");
		rdb_close(d);
		return RK_EXIT_FAIL;
	}
	memcpy(d->room, val, strlen(val) + 1); /* valid id: <= RK_ROOM_ID_MAX */
	got = meta_get(d->db, "epoch", d->epoch, sizeof(d->epoch), msg, sizeof(msg));
	if (got <= 0 || !d->epoch[0]) {
		snprintf(err, errlen, "%s: %s", path,
			 got < 0 ? msg : "meta has no 'epoch'");
		rdb_close(d);
		return RK_EXIT_FAIL;
	}
	if (meta_get(d->db, "created_ms", val, sizeof(val), msg, sizeof(msg)) > 0)
		d->created_ms = strtoll(val, NULL, 10);
	return RK_EXIT_OK;
}

int rdb_iter_begin(rdb *d, rdb_iter *it, int64_t since, int64_t upto, const char *user,
		   char *err, size_t errlen)
{
	memset(it, 0, sizeof(*it));
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "SELECT seq, ts, session, user, %s, op FROM events WHERE seq > ?1 AND"
		 " seq <= ?2%s ORDER BY seq",
		 d->has_op_id ? "op_id" : "''", user ? " AND user = ?3" : "");
	if (sqlite3_prepare_v2(d->db, sql, -1, &it->q, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: events: %s", d->path, sqlite3_errmsg(d->db));
		return RK_EXIT_FAIL;
	}
	sqlite3_bind_int64(it->q, 1, since);
	sqlite3_bind_int64(it->q, 2, upto < 0 ? INT64_MAX : upto);
	if (user)
		sqlite3_bind_text(it->q, 3, user, -1, SQLITE_TRANSIENT);
	return RK_EXIT_OK;
}

int rdb_iter_next(rdb *d, rdb_iter *it, char *err, size_t errlen)
{
	int step = sqlite3_step(it->q);
	if (step == SQLITE_DONE)
		return 0;
	if (step != SQLITE_ROW) {
		snprintf(err, errlen, "%s: events: %s", d->path, sqlite3_errmsg(d->db));
		return -1;
	}
	rdb_event *ev = &it->ev;
	ev->seq = sqlite3_column_int64(it->q, 0);
	ev->ts = sqlite3_column_int64(it->q, 1);
	ev->session = (const char *)sqlite3_column_text(it->q, 2);
	ev->user = (const char *)sqlite3_column_text(it->q, 3);
	ev->op_id = (const char *)sqlite3_column_text(it->q, 4);
	ev->op = (const char *)sqlite3_column_text(it->q, 5);
	ev->op_len = (size_t)sqlite3_column_bytes(it->q, 5);
	if (!ev->session || !ev->user || !ev->op_id || !ev->op) {
		snprintf(err, errlen, "%s: event %lld has a NULL column", d->path,
			 (long long)ev->seq);
		return -1;
	}
	return 1;
}

void rdb_iter_end(rdb_iter *it)
{
	sqlite3_finalize(it->q);
	it->q = NULL;
}

int rdb_seq_range(rdb *d, int64_t *min, int64_t *max, int64_t *count, char *err,
		  size_t errlen)
{
	sqlite3_stmt *q;
	*min = *max = *count = 0;
	if (sqlite3_prepare_v2(d->db, "SELECT min(seq), max(seq), count(*) FROM events",
			       -1, &q, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
		return RK_EXIT_FAIL;
	}
	int step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		*min = sqlite3_column_int64(q, 0);
		*max = sqlite3_column_int64(q, 1);
		*count = sqlite3_column_int64(q, 2);
	} else {
		snprintf(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
	}
	sqlite3_finalize(q);
	return step == SQLITE_ROW ? RK_EXIT_OK : RK_EXIT_FAIL;
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
	rk_actor actor = {
	    .user = ev->user, .role = RK_ROLE_OWNER, .seq = ev->seq, .ts = ev->ts,
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
	sqlite3_stmt *q;
	*st = NULL;
	*seq = 0;
	if (sqlite3_prepare_v2(d->db,
			       "SELECT seq, state FROM snapshots WHERE seq <= ?"
			       " ORDER BY seq DESC LIMIT 1",
			       -1, &q, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: snapshots: %s", d->path,
			 sqlite3_errmsg(d->db));
		return RK_EXIT_FAIL;
	}
	sqlite3_bind_int64(q, 1, upto < 0 ? INT64_MAX : upto);
	int step = sqlite3_step(q);
	int rc = RK_EXIT_OK;
	if (step == SQLITE_ROW) {
		*seq = sqlite3_column_int64(q, 0);
		const char *json = (const char *)sqlite3_column_text(q, 1);
		size_t len = (size_t)sqlite3_column_bytes(q, 1);
		char derr[200];
		if (rk_state_decode_text(json ? json : "", len, st, derr, sizeof(derr)) !=
		    RK_OK) {
			snprintf(err, errlen, "%s: snapshot at seq %lld is corrupt: %s",
				 d->path, (long long)*seq, derr);
			rc = RK_EXIT_FAIL;
		}
	} else if (step != SQLITE_DONE) {
		snprintf(err, errlen, "%s: snapshots: %s", d->path,
			 sqlite3_errmsg(d->db));
		rc = RK_EXIT_FAIL;
	}
	sqlite3_finalize(q);
	return rc;
}

/* The lowest seq a replay can stop at: the oldest snapshot, or the event just
 * before the oldest kept one; 0 when the log is empty (or unreadable). */
static int64_t earliest_seq(rdb *d)
{
	sqlite3_stmt *q;
	int64_t seq = 0;
	if (sqlite3_prepare_v2(d->db,
			       "SELECT min(s) FROM (SELECT min(seq) AS s FROM snapshots"
			       " UNION ALL SELECT min(seq) - 1 FROM events)",
			       -1, &q, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		seq = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return seq;
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
		int64_t first = seq == 0 ? earliest_seq(d) : 0;
		if (first > upto)
			snprintf(err, errlen,
				 "%s: seq %lld was removed by compaction; the earliest"
				 " seq replay can reach is %lld",
				 d->path, (long long)upto, (long long)first);
		else
			snprintf(err, errlen, "%s: seq %lld is past the last event (%lld)",
				 d->path, (long long)upto, (long long)seq);
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
	*fd = open(path, O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return ctl_fail(c, "%s: %s", path, strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(*fd);
		*fd = -1;
		if (e == EWOULDBLOCK)
			return ctl_fail(c,
					"%s is held by a running roomd (stop it or wait "
					"until the room is idle and unloaded)",
					path);
		return ctl_fail(c, "%s: flock: %s", path, strerror(e));
	}
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
