/* store.c - one room's SQLite file: schema, lock, load, batch append. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clock.h"
#include "log.h"
#include "store.h"

#define FORMAT_VERSION "1"
#define STR_(x) #x
#define STR(x) STR_(x)
#define WAL_LIMIT_STR STR(STORE_WAL_LIMIT)

struct store {
	sqlite3 *db;
	sqlite3_stmt *ins_event;
	sqlite3_stmt *ins_snap;
	sqlite3_stmt *set_alarm;
	sqlite3_stmt *del_alarm;
	sqlite3_stmt *begin, *commit; /* prepared once: exec would parse per batch */
	sqlite3_stmt *ins_hook;    /* webhook outbox: prepared at first use */
	sqlite3_stmt *trim_hook;
	char epoch[RK_EPOCH_MAX + 1];
	int64_t created_ms;
	int wal_frames;        /* from the WAL hook, after each commit */
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
	" session TEXT NOT NULL, user TEXT NOT NULL, op TEXT NOT NULL,"
	" op_id TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE IF NOT EXISTS snapshots(seq INTEGER PRIMARY KEY,"
	" ts INTEGER NOT NULL, state TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS alarms(poll TEXT PRIMARY KEY, at INTEGER NOT NULL);";

bool store_path(const char *data_dir, const char *room, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/rooms/%s.db", data_dir, room);
	return n > 0 && (size_t)n < cap;
}

int store_lock(const char *path, bool create, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "%s is held by another roomd process (%s)", path,
			 errno == EWOULDBLOCK ? "locked" : strerror(errno));
		close(fd);
		return -1;
	}
	/* An empty file is a new room (SQLite writes the WAL-mode header into
	 * the file itself before any frame): a -wal or -shm next to it is a
	 * dead room's, left by a removal that crashed, and must not be
	 * replayed into the new one (roomfiles.h). */
	struct stat sb;
	if (fstat(fd, &sb) == 0 && sb.st_size == 0) {
		char p[4200];
		for (int i = 0; i < 2; i++) {
			snprintf(p, sizeof(p), "%s%s", path, i ? "-shm" : "-wal");
			if (unlink(p) == 0)
				rk_warn("removed %s, left next to a new room file", p);
		}
	}
	return fd;
}

void store_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((store *)arg)->wal_frames = frames;
	return SQLITE_OK;
}

/* What is behind a failed call: "disk I/O error" alone does not tell a full
 * disk from a read-only one. The OS errno is kept by SQLite only until the
 * next system call (its rollback), so the extended code is the clue. */
static void add_errno(sqlite3 *db, char *err, size_t errlen)
{
	int x = db ? sqlite3_extended_errcode(db) : 0, e = db ? sqlite3_system_errno(db) : 0;
	size_t n = strlen(err);
	if (n >= errlen)
		return;
	if (x == SQLITE_IOERR_WRITE || x == SQLITE_FULL)
		snprintf(err + n, errlen - n, " (write failed: disk full or file size limit)");
	else if (x == SQLITE_READONLY || (x & 0xff) == SQLITE_READONLY)
		snprintf(err + n, errlen - n, " (read-only file or directory)");
	else if (e)
		snprintf(err + n, errlen - n, " (%s)", strerror(e));
}

static void sql_err(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "no database");
	add_errno(db, err, errlen);
}

static bool exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		add_errno(db, err, errlen);
		sqlite3_free(msg);
		return false;
	}
	return true;
}

/* Read one meta value into out (cap bytes); false if absent. */
static bool meta_get(sqlite3 *db, const char *key, char *out, size_t cap)
{
	sqlite3_stmt *st;
	bool found = false;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL))
		return false;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		snprintf(out, cap, "%s", v ? v : "");
		found = true;
	}
	sqlite3_finalize(st);
	return found;
}

static void new_epoch(char *out)
{
	unsigned char r[8];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* getrandom on Linux >= 3.17 does not fail for 8 bytes; be safe. */
		int64_t t = rk_mono_ns() ^ rk_wall_ms();
		memcpy(r, &t, sizeof(r));
	}
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

/*
 * A file that is not one of our room files is refused before anything is
 * written to it (no journal mode switch, no schema, no meta): garbage, a
 * truncated header, another program's SQLite database, another room's file
 * or a newer format stay exactly as they were, for a human to look at. An
 * empty file (no tables: a new room, or a crash right after its creation)
 * is fine. RK_OK, RK_ECORRUPT or RK_EIO with the reason in err.
 */
static rk_err check_room_file(sqlite3 *db, const char *room, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int tables = -1;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &q, NULL) ==
	    SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		tables = sqlite3_column_int(q, 0);
	if (tables < 0) {
		int code = sqlite3_errcode(db) & 0xff;
		snprintf(err, errlen, "not a room file: %s", sqlite3_errmsg(db));
		sqlite3_finalize(q);
		return code == SQLITE_NOTADB || code == SQLITE_CORRUPT ? RK_ECORRUPT : RK_EIO;
	}
	sqlite3_finalize(q);
	if (tables == 0)
		return RK_OK;
	/* Every column roomd reads or writes must be there. */
	static const char *const probes[] = {
		"SELECT key, value FROM meta",
		"SELECT seq, ts, session, user, op, op_id FROM events",
		"SELECT seq, ts, state FROM snapshots",
	};
	for (size_t i = 0; i < RK_ARRAY_LEN(probes); i++) {
		if (sqlite3_prepare_v2(db, probes[i], -1, &q, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "not a room file (wrong schema): %s",
				 sqlite3_errmsg(db));
			return RK_ECORRUPT;
		}
		sqlite3_finalize(q);
	}
	char val[128];
	if (!meta_get(db, "format", val, sizeof(val))) {
		snprintf(err, errlen, "not a room file: no format in its meta table");
		return RK_ECORRUPT;
	}
	if (strcmp(val, FORMAT_VERSION) != 0) {
		snprintf(err, errlen, "room file format %s is not supported (want %s)", val,
			 FORMAT_VERSION);
		return RK_ECORRUPT;
	}
	if (!meta_get(db, "room", val, sizeof(val)) || strcmp(val, room) != 0) {
		snprintf(err, errlen, "room file belongs to room '%s', not '%s'", val, room);
		return RK_ECORRUPT;
	}
	return RK_OK;
}

/* Read the meta of a checked room file, or write it into a new one. */
static rk_err init_meta(store *s, const char *room, char *err, size_t errlen)
{
	char val[128];
	if (meta_get(s->db, "format", val, sizeof(val))) {
		/* check_room_file accepted format and room already. */
		if (!meta_get(s->db, "epoch", s->epoch, sizeof(s->epoch)) || !s->epoch[0]) {
			snprintf(err, errlen, "room file has no epoch");
			return RK_ECORRUPT;
		}
		if (meta_get(s->db, "created_ms", val, sizeof(val)))
			s->created_ms = strtoll(val, NULL, 10);
		return RK_OK;
	}
	new_epoch(s->epoch);
	s->created_ms = rk_wall_ms();
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO meta(key,value) VALUES"
			       "('room',?1),('epoch',?2),('created_ms',?3),('format','"
			       FORMAT_VERSION "')", -1, &st, NULL)) {
		sql_err(s->db, "meta", err, errlen);
		return RK_EIO;
	}
	sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->epoch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, s->created_ms);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		sql_err(s->db, "meta", err, errlen);
		return RK_EIO;
	}
	return RK_OK;
}

bool store_global_init(void)
{
	/* No bulk page-cache allocation per handle: by default every handle
	 * mallocs (and touches) room for 20 pages, or cache_size if smaller,
	 * at its first read: ~66 KiB of RSS per loaded room, most of it never
	 * used by a room whose working set is a few pages. Pages are then
	 * allocated one by one as used, up to cache_size. */
	return sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0) == SQLITE_OK;
}

rk_err store_open(const char *path, const char *room, int busy_ms,
		  store **out, char *err, size_t errlen)
{
	*out = NULL;
	store *s = calloc(1, sizeof(*s));
	if (!s)
		return RK_ENOMEM;
	rk_err rc = RK_EIO;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sql_err(s->db, "open", err, errlen);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, busy_ms);
	/* Thousands of rooms may be open at once: keep each handle small. The
	 * default lookaside (1200 x 100 B) and page cache dominate an idle
	 * room's memory; a room's working set is a few pages. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 64, 16);
	/* The WAL is checkpointed by the checkpointer thread, never here. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	rc = check_room_file(s->db, room, err, errlen);
	if (rc != RK_OK)
		goto fail;
	rc = RK_EIO;
	/* Creating a room must not stall the loop on fsyncs: the file is
	 * switched to WAL and given its schema with synchronous=OFF (a crash
	 * in between leaves an empty room, recreated on the next open), then
	 * the configured durability applies from the first op on. */
	if (!exec(s->db, "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL;"
		  "PRAGMA wal_autocheckpoint=0;"
		  "PRAGMA journal_size_limit=" WAL_LIMIT_STR ";"
		  "PRAGMA cache_size=-64; PRAGMA mmap_size=0;", err, errlen)) {
		rc = strstr(err, "not a database") ? RK_ECORRUPT : RK_EIO;
		goto fail;
	}
	if (!exec(s->db, "BEGIN IMMEDIATE", err, errlen))
		goto fail;
	if (!exec(s->db, schema_sql, err, errlen)) {
		exec(s->db, "ROLLBACK", err, 0);
		goto fail;
	}
	rc = init_meta(s, room, err, errlen);
	if (rc != RK_OK) {
		char ignore[8];
		exec(s->db, "ROLLBACK", ignore, sizeof(ignore));
		goto fail;
	}
	rc = RK_EIO;
	if (!exec(s->db, "COMMIT", err, errlen) ||
	    /* NORMAL even with --fsync: a commit only writes the WAL; the
	     * syncer thread fdatasyncs it off the loop (syncer.h). */
	    !exec(s->db, "PRAGMA synchronous=NORMAL", err, errlen))
		goto fail;
	if (sqlite3_prepare_v3(s->db, "INSERT INTO events(seq,ts,session,user,op,op_id)"
			       " VALUES(?,?,?,?,?,?)", -1, SQLITE_PREPARE_PERSISTENT,
			       &s->ins_event, NULL) ||
	    sqlite3_prepare_v3(s->db, "INSERT OR REPLACE INTO snapshots(seq,ts,state)"
			       " VALUES(?,?,?)", -1, SQLITE_PREPARE_PERSISTENT,
			       &s->ins_snap, NULL) ||
	    sqlite3_prepare_v3(s->db, "INSERT OR REPLACE INTO alarms(poll,at) VALUES(?,?)",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->set_alarm, NULL) ||
	    sqlite3_prepare_v3(s->db, "DELETE FROM alarms WHERE poll=?", -1,
			       SQLITE_PREPARE_PERSISTENT, &s->del_alarm, NULL) ||
	    sqlite3_prepare_v3(s->db, "BEGIN", -1, SQLITE_PREPARE_PERSISTENT, &s->begin,
			       NULL) ||
	    sqlite3_prepare_v3(s->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &s->commit,
			       NULL)) {
		sql_err(s->db, "prepare", err, errlen);
		goto fail;
	}
	sqlite3_wal_hook(s->db, wal_hook, s);
	*out = s;
	return RK_OK;
fail:
	store_close(s);
	return rc;
}

void store_trim_cache(store *s)
{
	sqlite3_db_release_memory(s->db);
}

void store_busy_timeout(store *s, int ms)
{
	sqlite3_busy_timeout(s->db, ms);
}

void store_close(store *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->ins_event);
	sqlite3_finalize(s->ins_snap);
	sqlite3_finalize(s->set_alarm);
	sqlite3_finalize(s->del_alarm);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->ins_hook);
	sqlite3_finalize(s->trim_hook);
	sqlite3_close_v2(s->db);
	free(s);
}

const char *store_epoch(const store *s)
{
	return s->epoch;
}

int64_t store_created_ms(const store *s)
{
	return s->created_ms;
}

int store_wal_frames(const store *s)
{
	return s->wal_frames;
}

rk_err store_load(store *s, rk_state **stp, int64_t *seq, int64_t *snap_seq,
		  char *err, size_t errlen)
{
	*stp = NULL;
	*seq = 0;
	*snap_seq = 0;
	rk_state *st = NULL;
	sqlite3_stmt *q = NULL;
	rk_err rc = RK_EIO;
	if (sqlite3_prepare_v2(s->db, "SELECT seq, state FROM snapshots ORDER BY seq DESC"
			       " LIMIT 1", -1, &q, NULL)) {
		sql_err(s->db, "load snapshot", err, errlen);
		return RK_EIO;
	}
	int step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		*snap_seq = sqlite3_column_int64(q, 0);
		const char *json = (const char *)sqlite3_column_text(q, 1);
		size_t len = (size_t)sqlite3_column_bytes(q, 1);
		char derr[160];
		rc = rk_state_decode_text(json ? json : "", len, &st, derr, sizeof(derr));
		if (rc != RK_OK) {
			snprintf(err, errlen, "snapshot at seq %lld: %s",
				 (long long)*snap_seq, derr);
			sqlite3_finalize(q);
			return rc == RK_ENOMEM ? RK_ENOMEM : RK_ECORRUPT;
		}
	} else if (step != SQLITE_DONE) {
		sql_err(s->db, "load snapshot", err, errlen);
		sqlite3_finalize(q);
		return RK_EIO;
	} else {
		st = rk_state_new();
		if (!st) {
			sqlite3_finalize(q);
			return RK_ENOMEM;
		}
	}
	sqlite3_finalize(q);
	*seq = *snap_seq;

	if (sqlite3_prepare_v2(s->db, "SELECT seq, ts, user, op, op_id FROM events WHERE seq > ?"
			       " ORDER BY seq", -1, &q, NULL)) {
		sql_err(s->db, "load events", err, errlen);
		goto fail;
	}
	sqlite3_bind_int64(q, 1, *snap_seq);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t eseq = sqlite3_column_int64(q, 0);
		if (eseq != *seq + 1) {
			snprintf(err, errlen, "log gap: seq %lld follows %lld",
				 (long long)eseq, (long long)*seq);
			rc = RK_ECORRUPT;
			goto fail;
		}
		const char *user = (const char *)sqlite3_column_text(q, 2);
		const char *opj = (const char *)sqlite3_column_text(q, 3);
		size_t oplen = (size_t)sqlite3_column_bytes(q, 3);
		rk_op op;
		char msg[RK_MSG_MSG_MAX + 1];
		rk_reject rej = rk_op_decode_text(opj ? opj : "", oplen, &op, msg, sizeof(msg));
		if (rej == RK_REJ_NONE) {
			/* Logged ops were applied once; the role check passed then. */
			rk_actor actor = {.user = user ? user : "", .role = RK_ROLE_OWNER,
					  .seq = eseq, .ts = sqlite3_column_int64(q, 1),
					  .id = (const char *)sqlite3_column_text(q, 4)};
			rej = rk_state_apply(st, &op, &actor, msg, sizeof(msg));
			rk_op_free(&op);
		}
		if (rej != RK_REJ_NONE) {
			snprintf(err, errlen, "event %lld does not apply: %s: %s",
				 (long long)eseq, rk_reject_name(rej), msg);
			rc = RK_ECORRUPT;
			goto fail;
		}
		*seq = eseq;
	}
	if (step != SQLITE_DONE) {
		sql_err(s->db, "load events", err, errlen);
		rc = RK_EIO;
		goto fail;
	}
	sqlite3_finalize(q);
	*stp = st;
	return RK_OK;
fail:
	sqlite3_finalize(q);
	rk_state_free(st);
	return rc;
}

/* Run a statement without bindings or rows (BEGIN, COMMIT); the message
 * on failure as exec() gives it. */
static bool step_once(store *s, sqlite3_stmt *st, char *err, size_t errlen)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return true;
	snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
	add_errno(s->db, err, errlen);
	return false;
}

rk_err store_begin(store *s, char *err, size_t errlen)
{
	return step_once(s, s->begin, err, errlen) ? RK_OK : RK_EIO;
}

static rk_err step_reset(store *s, sqlite3_stmt *st, const char *what, char *err,
			 size_t errlen)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		sql_err(s->db, what, err, errlen);
		return RK_EIO;
	}
	return RK_OK;
}

rk_err store_append(store *s, int64_t seq, int64_t ts, const char *session,
		    const char *user, const char *op_id, const char *op_json,
		    size_t op_len, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->ins_event;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_text(st, 3, session, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, op_json, (int)op_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, op_id, -1, SQLITE_STATIC);
	return step_reset(s, st, "append event", err, errlen);
}

rk_err store_put_snapshot(store *s, int64_t seq, int64_t ts, const char *json,
			  size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->ins_snap;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_text(st, 3, json, (int)len, SQLITE_STATIC);
	return step_reset(s, st, "snapshot", err, errlen);
}

rk_err store_set_alarm(store *s, const char *poll, int64_t at, char *err, size_t errlen)
{
	sqlite3_bind_text(s->set_alarm, 1, poll, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->set_alarm, 2, at);
	return step_reset(s, s->set_alarm, "set alarm", err, errlen);
}

rk_err store_del_alarm(store *s, const char *poll, char *err, size_t errlen)
{
	sqlite3_bind_text(s->del_alarm, 1, poll, -1, SQLITE_STATIC);
	return step_reset(s, s->del_alarm, "delete alarm", err, errlen);
}

/* ---- webhook outbox ---------------------------------------------------- */

/* The table, created in the first transaction that needs it (a room file of
 * a roomd without webhooks has none), and the statements on it. */
static rk_err outbox_prepare(store *s, char *err, size_t errlen)
{
	if (s->ins_hook)
		return RK_OK;
	if (!exec(s->db, STORE_OUTBOX_SQL, err, errlen))
		return RK_EIO;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO webhooks(created_ms, body) VALUES(?, ?)", -1,
			       &s->ins_hook, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM webhooks WHERE id <= ?", -1, &s->trim_hook,
			       NULL) != SQLITE_OK) {
		sql_err(s->db, "prepare outbox", err, errlen);
		sqlite3_finalize(s->ins_hook);
		s->ins_hook = NULL;
		return RK_EIO;
	}
	return RK_OK;
}

rk_err store_outbox_add(store *s, int64_t created_ms, const char *body, size_t len,
			char *err, size_t errlen)
{
	rk_err rc = outbox_prepare(s, err, errlen);
	if (rc != RK_OK)
		return rc;
	sqlite3_bind_int64(s->ins_hook, 1, created_ms);
	sqlite3_bind_text(s->ins_hook, 2, body, (int)len, SQLITE_STATIC);
	return step_reset(s, s->ins_hook, "webhook outbox", err, errlen);
}

rk_err store_outbox_trim(store *s, int64_t upto, char *err, size_t errlen)
{
	rk_err rc = outbox_prepare(s, err, errlen);
	if (rc != RK_OK)
		return rc;
	sqlite3_bind_int64(s->trim_hook, 1, upto);
	return step_reset(s, s->trim_hook, "webhook outbox trim", err, errlen);
}

rk_err store_commit(store *s, char *err, size_t errlen)
{
	if (step_once(s, s->commit, err, errlen))
		return RK_OK;
	store_rollback(s);
	return RK_EIO;
}

void store_rollback(store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

rk_err store_load_opids(store *s, opids **out, char *err, size_t errlen)
{
	*out = NULL;
	opids *ids = opids_new();
	sqlite3_stmt *q = NULL;
	int step;
	if (!ids) {
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	/* Newest first, seq and ts only (the primary key's order): find the
	 * oldest event the window must still hold. */
	if (sqlite3_prepare_v2(s->db, "SELECT seq, ts FROM events ORDER BY seq DESC", -1, &q,
			       NULL))
		goto sql_fail;
	int64_t last = -1, last_ts = 0, from = 0;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0), ts = sqlite3_column_int64(q, 1);
		if (last < 0) {
			last = seq;
			last_ts = ts;
		}
		if (seq <= last - OPIDS_KEEP_OPS && ts < last_ts - OPIDS_KEEP_MS)
			break;
		from = seq;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		goto sql_fail;
	sqlite3_finalize(q);
	q = NULL;
	if (last < 0) {
		*out = ids;
		return RK_OK;
	}
	if (sqlite3_prepare_v2(s->db, "SELECT seq, ts, user, op_id FROM events"
			       " WHERE seq >= ? AND session <> 'server' AND op_id <> ''"
			       " ORDER BY seq", -1, &q, NULL))
		goto sql_fail;
	sqlite3_bind_int64(q, 1, from);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *user = (const char *)sqlite3_column_text(q, 2);
		const char *id = (const char *)sqlite3_column_text(q, 3);
		if (!user || !id ||
		    opids_add(ids, user, id, sqlite3_column_int64(q, 0),
			      sqlite3_column_int64(q, 1)) != RK_OK) {
			sqlite3_finalize(q);
			opids_free(ids);
			snprintf(err, errlen, "out of memory");
			return RK_ENOMEM;
		}
	}
	if (step != SQLITE_DONE)
		goto sql_fail;
	sqlite3_finalize(q);
	*out = ids;
	return RK_OK;
sql_fail:
	sql_err(s->db, "load op ids", err, errlen);
	sqlite3_finalize(q);
	opids_free(ids);
	return RK_EIO;
}

int64_t store_min_seq(store *s)
{
	sqlite3_stmt *q;
	int64_t v = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT min(seq) FROM events", -1, &q, NULL))
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

rk_err store_events(store *s, int64_t since, int64_t upto,
		    bool (*cb)(void *arg, const store_event *ev), void *arg)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(s->db, "SELECT seq, ts, session, user, op_id, op FROM events"
			       " WHERE seq > ? AND seq <= ? ORDER BY seq", -1, &q, NULL))
		return RK_EIO;
	sqlite3_bind_int64(q, 1, since);
	sqlite3_bind_int64(q, 2, upto);
	int step;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		store_event ev = {
			.seq = sqlite3_column_int64(q, 0),
			.ts = sqlite3_column_int64(q, 1),
			.session = (const char *)sqlite3_column_text(q, 2),
			.user = (const char *)sqlite3_column_text(q, 3),
			.op_id = (const char *)sqlite3_column_text(q, 4),
			.op = (const char *)sqlite3_column_text(q, 5),
			.op_len = (size_t)sqlite3_column_bytes(q, 5),
		};
		if (!ev.session || !ev.user || !ev.op_id || !ev.op)
			break;
		if (!cb(arg, &ev)) {
			step = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? RK_OK : RK_EIO;
}

rk_err store_peek(const char *path, store_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof(*info));
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	rk_err rc = RK_EIO;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL)) {
		sql_err(db, "open", err, errlen);
		goto out;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* A compacted room may keep its last seq only in a snapshot. */
	if (sqlite3_prepare_v2(db, "SELECT max(coalesce((SELECT max(seq) FROM events), 0),"
			       " coalesce((SELECT max(seq) FROM snapshots), 0)),"
			       " coalesce((SELECT max(ts) FROM events),"
			       " (SELECT max(ts) FROM snapshots))", -1, &q, NULL)) {
		sql_err(db, "read", err, errlen);
		rc = strstr(err, "no such table") || strstr(err, "not a database")
			     ? RK_ECORRUPT : RK_EIO;
		goto out;
	}
	if (sqlite3_step(q) == SQLITE_ROW) {
		info->seq = sqlite3_column_int64(q, 0);
		info->last_active_ms = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	q = NULL;
	if (!info->last_active_ms) {
		char val[32];
		if (meta_get(db, "created_ms", val, sizeof(val)))
			info->last_active_ms = strtoll(val, NULL, 10);
	}
	if (sqlite3_prepare_v2(db, "SELECT poll, at FROM alarms ORDER BY at", -1, &q, NULL)) {
		/* A file without the alarms table has no alarms. */
		rc = RK_OK;
		goto out;
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		void *p = realloc(info->alarms, (info->nalarms + 1) * sizeof(*info->alarms));
		if (!p)
			break;
		info->alarms = p;
		const char *poll = (const char *)sqlite3_column_text(q, 0);
		snprintf(info->alarms[info->nalarms].poll, sizeof(info->alarms[0].poll), "%s",
			 poll ? poll : "");
		info->alarms[info->nalarms].at = sqlite3_column_int64(q, 1);
		info->nalarms++;
	}
	rc = RK_OK;
out:
	sqlite3_finalize(q);
	sqlite3_close_v2(db);
	return rc;
}
