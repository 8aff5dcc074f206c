/* sqlite.c - libstore's SQLite backend: one room per file,
 * "<data>/rooms/<room>.db" in WAL mode (store.h has the contract, backend.h
 * the seam). The only place that knows the room file's schema. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "backend.h"
#include "clock.h"
#include "log.h"
#include "retain.h"
#include "sqlite_int.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define WAL_LIMIT_STR STR(STORE_WAL_LIMIT)
#define FORMAT_STR STR(STORE_FORMAT)

/* PROTOCOL.md section 7, plus events.op_id (the sender's client op id, to
 * replay `event` messages exactly and rebuild the op-id memory) and
 * alarms(poll, at) (pending poll.close alarms, so they survive restarts
 * without loading every room). */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " session TEXT NOT NULL, user TEXT NOT NULL, op TEXT NOT NULL,"
    " op_id TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS snapshots(seq INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL, state TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alarms(poll TEXT PRIMARY KEY, at INTEGER NOT NULL);";

/* The webhook outbox (store_outbox_add): created by the first batch that
 * needs it, so a room file of a roomd without webhooks has none. ids only
 * grow (AUTOINCREMENT: never reused, even once the table is empty). */
static const char outbox_sql[] =
    "CREATE TABLE IF NOT EXISTS webhooks(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_ms INTEGER NOT NULL, body TEXT NOT NULL)";

typedef struct sq {
	store base;
	sqlite3 *db;
	sqlite3_stmt *ins_event; /* writable handles: prepared at open */
	sqlite3_stmt *ins_snap;
	sqlite3_stmt *set_alarm;
	sqlite3_stmt *del_alarm;
	sqlite3_stmt *begin, *commit; /* prepared once: exec would parse per batch */
	sqlite3_stmt *ins_hook;	      /* webhook outbox: prepared at first use */
	sqlite3_stmt *trim_hook;
	bool has_op_id;	 /* events.op_id exists (always when writable) */
	bool has_alarms; /* the alarms table exists */
	int wal_frames;	 /* from the WAL hook, after each commit */
} sq;

typedef struct sq_cursor {
	store_cursor base;
	sqlite3_stmt *q;
} sq_cursor;

static const store_ops sqlite_ops;

static sq *SQ(store *s)
{
	return (sq *)s;
}

/* ---- helpers ------------------------------------------------------------ */

/* What is behind a failed call: "disk I/O error" alone does not tell a full
 * disk from a read-only one. The OS errno is kept by SQLite only until the
 * next system call (its rollback), so the extended code is the clue. */
static void add_errno(sqlite3 *db, char *err, size_t errlen)
{
	int x = db ? sqlite3_extended_errcode(db) : 0,
	    e = db ? sqlite3_system_errno(db) : 0;
	size_t n = strnlen(err, errlen);
	if (n >= errlen)
		return;
	if (x == SQLITE_IOERR_WRITE || x == SQLITE_FULL)
		snprintf(err + n, errlen - n,
			 " (write failed: disk full or file size limit)");
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

int64_t sq_one_int(sqlite3 *db, const char *sql, int64_t arg, int64_t dflt)
{
	sqlite3_stmt *q = NULL;
	int64_t v = dflt;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, arg);
		if (sqlite3_step(q) == SQLITE_ROW &&
		    sqlite3_column_type(q, 0) != SQLITE_NULL)
			v = sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	return v;
}

/* Read one meta value into out (cap bytes): 1 found, 0 absent, -1 error. */
static int meta_get(sqlite3 *db, const char *key, char *out, size_t cap)
{
	sqlite3_stmt *st;
	int found = -1;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		snprintf(out, cap, "%s", v ? v : "");
		found = 1;
	} else if (step == SQLITE_DONE) {
		found = 0;
	}
	sqlite3_finalize(st);
	return found;
}

static bool table_exists(sqlite3 *db, const char *name)
{
	sqlite3_stmt *q;
	bool yes = false;
	if (sqlite3_prepare_v2(
		db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1, &q,
		NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		yes = sqlite3_step(q) == SQLITE_ROW;
	}
	sqlite3_finalize(q);
	return yes;
}

static bool prepares(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *q = NULL;
	bool ok = sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK;
	sqlite3_finalize(q);
	return ok;
}

/*
 * Is db one of our room files (of want_room if not NULL)? A file that is
 * not is refused before anything is written to it (no journal mode switch,
 * no schema, no meta): garbage, a truncated header, another program's
 * SQLite database, another room's file or a newer format stay exactly as
 * they were, for a human to look at. An empty file (no tables: a new room,
 * or a crash right after its creation) is *fresh when writable. A writer
 * needs every column it writes; a reader reads format-1 files written
 * before events.op_id and the alarms table existed. RK_OK (meta in s),
 * RK_ECORRUPT or RK_EIO with the reason in err.
 */
static rk_err check_room_file(sq *s, const char *want_room, bool writable, bool *fresh,
			      char *err, size_t errlen)
{
	sqlite3 *db = s->db;
	sqlite3_stmt *q = NULL;
	int tables = -1;
	*fresh = false;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &q, NULL) ==
		SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		tables = sqlite3_column_int(q, 0);
	if (tables < 0) {
		int code = sqlite3_errcode(db) & 0xff;
		snprintf(err, errlen, "not a room file: %s", sqlite3_errmsg(db));
		sqlite3_finalize(q);
		return code == SQLITE_NOTADB || code == SQLITE_CORRUPT ? RK_ECORRUPT
								       : RK_EIO;
	}
	sqlite3_finalize(q);
	if (tables == 0 && writable) {
		*fresh = true;
		return RK_OK;
	}
	static const char *const need[] = {"meta", "events", "snapshots"};
	for (size_t i = 0; i < RK_ARRAY_LEN(need); i++)
		if (!table_exists(db, need[i])) {
			snprintf(err, errlen,
				 "not a room file (wrong schema): no %s table", need[i]);
			return RK_ECORRUPT;
		}
	s->has_op_id = prepares(db, "SELECT op_id FROM events LIMIT 0");
	s->has_alarms = table_exists(db, "alarms");
	/* Every column this handle reads or writes must be there. */
	const char *const probes[] = {
	    "SELECT key, value FROM meta",
	    writable ? "SELECT seq, ts, session, user, op, op_id FROM events"
		     : "SELECT seq, ts, session, user, op FROM events",
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
	char v[4][160];
	int got[4];
	static const char *const keys[] = {"format", "room", "epoch", "created_ms"};
	for (int i = 0; i < 4; i++) {
		got[i] = meta_get(db, keys[i], v[i], sizeof(v[i]));
		if (got[i] < 0) {
			sql_err(db, "meta", err, errlen);
			return RK_EIO;
		}
	}
	return store_meta_check(&s->base.meta, got[0] ? v[0] : NULL, got[1] ? v[1] : NULL,
				got[2] ? v[2] : NULL, got[3] ? v[3] : NULL, want_room,
				err, errlen);
}

/* Write the meta of a new room file (inside the creating transaction). */
static rk_err write_meta(sq *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
		s->db,
		"INSERT INTO meta(key,value) VALUES"
		"('room',?1),('epoch',?2),('created_ms',?3),('format','" FORMAT_STR "')",
		-1, &st, NULL)) {
		sql_err(s->db, "meta", err, errlen);
		return RK_EIO;
	}
	char created[24];
	snprintf(created, sizeof(created), "%lld", (long long)s->base.meta.created_ms);
	sqlite3_bind_text(st, 1, s->base.meta.room, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->base.meta.epoch, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, created, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		sql_err(s->db, "meta", err, errlen);
		return RK_EIO;
	}
	s->base.meta.format = STORE_FORMAT;
	return RK_OK;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((sq *)arg)->wal_frames = frames;
	return SQLITE_OK;
}

static void sq_close(store *st)
{
	sq *s = SQ(st);
	if (s->db && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
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

/*
 * store_open and store_create: open path for writing; a file already
 * holding a room must be want_room's (store_open) or is refused
 * (store_create: create != NULL); a fresh one gets the schema and the meta
 * (create's, or a new epoch).
 */
static rk_err open_rw(const char *path, const char *want_room, const store_meta *create,
		      int busy_ms, store **out, char *err, size_t errlen)
{
	*out = NULL;
	sq *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	s->base.ops = &sqlite_ops;
	rk_err rc = RK_EIO;
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		sql_err(s->db, "open", err, errlen);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, busy_ms);
	/* Thousands of rooms may be open at once: keep each handle small. The
	 * default lookaside (1200 x 100 B) and page cache dominate an idle
	 * room's memory; a room's working set is a few pages. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 64, 16);
	/* The WAL is checkpointed by store_file_checkpoint, never here. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	bool fresh;
	rc = check_room_file(s, want_room, true, &fresh, err, errlen);
	if (rc != RK_OK)
		goto fail;
	if (create && !fresh) {
		snprintf(err, errlen, "%s already holds room '%s'", path,
			 s->base.meta.room);
		rc = RK_ECORRUPT;
		goto fail;
	}
	rc = RK_EIO;
	/* Creating a room must not stall the loop on fsyncs: the file is
	 * switched to WAL and given its schema with synchronous=OFF (a crash
	 * in between leaves an empty room, recreated on the next open), then
	 * the configured durability applies from the first op on. */
	if (!exec(s->db,
		  "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL;"
		  "PRAGMA wal_autocheckpoint=0;"
		  "PRAGMA journal_size_limit=" WAL_LIMIT_STR ";"
		  "PRAGMA cache_size=-64; PRAGMA mmap_size=0;",
		  err, errlen)) {
		rc = strstr(err, "not a database") ? RK_ECORRUPT : RK_EIO;
		goto fail;
	}
	if (fresh) {
		if (create) {
			s->base.meta = *create;
		} else {
			snprintf(s->base.meta.room, sizeof(s->base.meta.room), "%s",
				 want_room);
			store_new_epoch(s->base.meta.epoch);
			s->base.meta.created_ms = rk_wall_ms();
		}
		char ignore[8];
		if (!exec(s->db, "BEGIN IMMEDIATE", err, errlen))
			goto fail;
		if (!exec(s->db, schema_sql, err, errlen) ||
		    (rc = write_meta(s, err, errlen)) != RK_OK) {
			exec(s->db, "ROLLBACK", ignore, sizeof(ignore));
			rc = RK_EIO;
			goto fail;
		}
		if (!exec(s->db, "COMMIT", err, errlen))
			goto fail;
		s->has_op_id = s->has_alarms = true;
	} else if (!s->has_alarms) {
		/* A format-1 file from before alarms: the writer adds it. */
		if (!exec(s->db, schema_sql, err, errlen))
			goto fail;
		s->has_alarms = true;
	}
	rc = RK_EIO;
	/* NORMAL even with --fsync: a commit only writes the WAL; the
	 * syncer thread fdatasyncs it off the loop (roomd/syncer.h). */
	if (!exec(s->db, "PRAGMA synchronous=NORMAL", err, errlen))
		goto fail;
	if (sqlite3_prepare_v3(s->db,
			       "INSERT INTO events(seq,ts,session,user,op,op_id)"
			       " VALUES(?,?,?,?,?,?)",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->ins_event, NULL) ||
	    sqlite3_prepare_v3(s->db,
			       "INSERT OR REPLACE INTO snapshots(seq,ts,state)"
			       " VALUES(?,?,?)",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->ins_snap, NULL) ||
	    sqlite3_prepare_v3(s->db,
			       "INSERT OR REPLACE INTO alarms(poll,at) VALUES(?,?)", -1,
			       SQLITE_PREPARE_PERSISTENT, &s->set_alarm, NULL) ||
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
	*out = &s->base;
	return RK_OK;
fail:
	sq_close(&s->base);
	return rc;
}

rk_err store_open(const char *path, const char *room, int busy_ms, store **out, char *err,
		  size_t errlen)
{
	return open_rw(path, room, NULL, busy_ms, out, err, errlen);
}

rk_err store_create(const char *path, const store_meta *meta, store **out, char *err,
		    size_t errlen)
{
	return open_rw(path, meta->room, meta, 0, out, err, errlen);
}

/* A file: URI for path, read-only, immutable if asked; false if too long. */
static bool file_uri(const char *path, bool immutable, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = "file:"; *p; p++)
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

rk_err store_open_ro(const char *path, bool live, store **out, char *err, size_t errlen)
{
	*out = NULL;
	struct stat sb;
	if (stat(path, &sb) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return RK_EIO;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		return RK_EIO;
	}
	/* Refuse anything that is not a SQLite file before SQLite sees it. */
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s", strerror(errno));
		return RK_EIO;
	}
	char magic[16];
	size_t n = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	if (n != sizeof(magic) || memcmp(magic, "SQLite format 3", 16) != 0) {
		snprintf(err, errlen, "not a SQLite database (not a room file)");
		return RK_ECORRUPT;
	}
	/*
	 * A read-only connection to a WAL file creates the -wal and -shm files
	 * when they are missing and cannot remove them again. No -wal file
	 * means no process has the room open in WAL mode (roomd keeps its WAL
	 * while it has the room), so a one-shot read opens the file as
	 * immutable and leaves the directory exactly as it was. A live reader
	 * uses the normal WAL protocol to see later commits.
	 */
	char uri[PATH_MAX * 3 + 64];
	snprintf(uri, sizeof(uri), "%s-wal", path);
	bool immutable = !live && access(uri, F_OK) != 0;
	if (!file_uri(path, immutable, uri, sizeof(uri))) {
		snprintf(err, errlen, "path too long");
		return RK_EIO;
	}
	sq *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	s->base.ops = &sqlite_ops;
	if (sqlite3_open_v2(uri, &s->db,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s",
			 s->db ? sqlite3_errmsg(s->db) : "cannot open");
		sq_close(&s->base);
		return RK_EIO;
	}
	sqlite3_busy_timeout(s->db, 5000);
	bool fresh;
	rk_err rc = check_room_file(s, NULL, false, &fresh, err, errlen);
	if (rc != RK_OK) {
		sq_close(&s->base);
		return rc;
	}
	*out = &s->base;
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

static void sq_trim_cache(store *s)
{
	sqlite3_db_release_memory(SQ(s)->db);
}

static void sq_busy_timeout(store *s, int ms)
{
	sqlite3_busy_timeout(SQ(s)->db, ms);
}

/* ---- the single-writer lock ---------------------------------------------- */

int store_lock(const char *path, bool create, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		snprintf(err, errlen, "%s is held by another roomd process (%s)", path,
			 e == EWOULDBLOCK ? "locked" : strerror(e));
		close(fd);
		return e == EWOULDBLOCK ? STORE_LOCK_HELD : -1;
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

int store_lock_new(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return e == EEXIST ? STORE_LOCK_EXISTS : -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		snprintf(err, errlen, "%s is held by another roomd process (%s)", path,
			 e == EWOULDBLOCK ? "locked" : strerror(e));
		close(fd);
		unlink(path);
		return e == EWOULDBLOCK ? STORE_LOCK_HELD : -1;
	}
	return fd;
}

void store_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* ---- reading -------------------------------------------------------------- */

static rk_err sq_snapshot_at(store *st, int64_t upto, int64_t *seq, char **json,
			     size_t *len, char *err, size_t errlen)
{
	sq *s = SQ(st);
	sqlite3_stmt *q;
	*seq = 0;
	*json = NULL;
	*len = 0;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT seq, state FROM snapshots WHERE seq <= ?"
			       " ORDER BY seq DESC LIMIT 1",
			       -1, &q, NULL)) {
		sql_err(s->db, "snapshots", err, errlen);
		return RK_EIO;
	}
	sqlite3_bind_int64(q, 1, upto < 0 ? INT64_MAX : upto);
	int step = sqlite3_step(q);
	rk_err rc = RK_OK;
	if (step == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(q, 1);
		size_t n = (size_t)sqlite3_column_bytes(q, 1);
		char *copy = malloc(n + 1);
		if (!copy) {
			snprintf(err, errlen, "out of memory");
			rc = RK_ENOMEM;
		} else {
			memcpy(copy, text ? text : "", text ? n : 0);
			copy[text ? n : 0] = '\0';
			*seq = sqlite3_column_int64(q, 0);
			*json = copy;
			*len = text ? n : 0;
		}
	} else if (step != SQLITE_DONE) {
		sql_err(s->db, "snapshots", err, errlen);
		rc = RK_EIO;
	}
	sqlite3_finalize(q);
	return rc;
}

static rk_err sq_load_opids(store *st, store_opid_fn add, void *arg, char *err,
			    size_t errlen)
{
	sq *s = SQ(st);
	sqlite3_stmt *q = NULL;
	int step;
	/* Newest first, seq and ts only (the primary key's order): find the
	 * oldest event the window must still hold. */
	if (sqlite3_prepare_v2(s->db, "SELECT seq, ts FROM events ORDER BY seq DESC", -1,
			       &q, NULL))
		goto sql_fail;
	store_idem_walk w;
	store_idem_init(&w);
	while (
	    (step = sqlite3_step(q)) == SQLITE_ROW &&
	    store_idem_step(&w, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1)))
		;
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		goto sql_fail;
	sqlite3_finalize(q);
	q = NULL;
	if (w.last < 0)
		return RK_OK;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT seq, ts, user, op_id FROM events"
			       " WHERE seq >= ? AND session <> 'server' AND op_id <> ''"
			       " ORDER BY seq",
			       -1, &q, NULL))
		goto sql_fail;
	sqlite3_bind_int64(q, 1, w.from);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *user = (const char *)sqlite3_column_text(q, 2);
		const char *id = (const char *)sqlite3_column_text(q, 3);
		rk_err rc = !user || !id ? RK_ENOMEM
					 : add(arg, user, id, sqlite3_column_int64(q, 0),
					       sqlite3_column_int64(q, 1));
		if (rc != RK_OK) {
			sqlite3_finalize(q);
			snprintf(err, errlen, "%s",
				 rc == RK_ENOMEM ? "out of memory"
						 : "load op ids: refused");
			return rc;
		}
	}
	if (step != SQLITE_DONE)
		goto sql_fail;
	sqlite3_finalize(q);
	return RK_OK;
sql_fail:
	sql_err(s->db, "load op ids", err, errlen);
	sqlite3_finalize(q);
	return RK_EIO;
}

static rk_err sq_cursor_open(store *st, int64_t since, int64_t upto, const char *user,
			     store_cursor **out, char *err, size_t errlen)
{
	sq *s = SQ(st);
	*out = NULL;
	sq_cursor *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	c->base.s = st;
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "SELECT seq, ts, session, user, %s, op FROM events WHERE seq > ?1 AND"
		 " seq <= ?2%s ORDER BY seq",
		 s->has_op_id ? "op_id" : "''", user ? " AND user = ?3" : "");
	if (sqlite3_prepare_v2(s->db, sql, -1, &c->q, NULL) != SQLITE_OK) {
		sql_err(s->db, "events", err, errlen);
		free(c);
		return RK_EIO;
	}
	sqlite3_bind_int64(c->q, 1, since);
	sqlite3_bind_int64(c->q, 2, upto < 0 ? INT64_MAX : upto);
	if (user)
		sqlite3_bind_text(c->q, 3, user, -1, SQLITE_TRANSIENT);
	*out = &c->base;
	return RK_OK;
}

static int sq_cursor_next(store_cursor *cb, store_event *ev, char *err, size_t errlen)
{
	sq_cursor *c = (sq_cursor *)cb;
	sqlite3 *db = SQ(cb->s)->db;
	int step = sqlite3_step(c->q);
	if (step == SQLITE_DONE)
		return 0;
	if (step != SQLITE_ROW) {
		sql_err(db, "events", err, errlen);
		return -1;
	}
	ev->seq = sqlite3_column_int64(c->q, 0);
	ev->ts = sqlite3_column_int64(c->q, 1);
	ev->session = (const char *)sqlite3_column_text(c->q, 2);
	ev->user = (const char *)sqlite3_column_text(c->q, 3);
	ev->op_id = (const char *)sqlite3_column_text(c->q, 4);
	ev->op = (const char *)sqlite3_column_text(c->q, 5);
	ev->op_len = (size_t)sqlite3_column_bytes(c->q, 5);
	if (!ev->session || !ev->user || !ev->op_id || !ev->op) {
		snprintf(err, errlen, "event %lld has a NULL column", (long long)ev->seq);
		return -1;
	}
	return 1;
}

static void sq_cursor_close(store_cursor *cb)
{
	sq_cursor *c = (sq_cursor *)cb;
	sqlite3_finalize(c->q);
	free(c);
}

static int64_t sq_min_seq(store *s)
{
	return sq_one_int(SQ(s)->db, "SELECT min(seq) FROM events", 0, 0);
}

static rk_err sq_stats(store *st, store_stats *out, char *err, size_t errlen)
{
	sqlite3 *db = SQ(st)->db;
	sqlite3_stmt *q;
	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(db,
			       "SELECT min(seq), max(seq), count(*), max(ts),"
			       " (SELECT count(*) FROM snapshots) FROM events",
			       -1, &q, NULL) != SQLITE_OK) {
		sql_err(db, "events", err, errlen);
		return RK_EIO;
	}
	int step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		out->min_seq = sqlite3_column_int64(q, 0);
		out->max_seq = sqlite3_column_int64(q, 1);
		out->events = sqlite3_column_int64(q, 2);
		out->last_ts = sqlite3_column_int64(q, 3);
		out->snapshots = sqlite3_column_int64(q, 4);
	} else {
		sql_err(db, "events", err, errlen);
	}
	sqlite3_finalize(q);
	return step == SQLITE_ROW ? RK_OK : RK_EIO;
}

static int64_t sq_earliest_seq(store *s)
{
	return sq_one_int(SQ(s)->db,
			  "SELECT min(s) FROM (SELECT min(seq) AS s FROM snapshots"
			  " UNION ALL SELECT min(seq) - 1 FROM events)",
			  0, 0);
}

static int64_t sq_first_recent(store *s)
{
	sqlite3 *db = SQ(s)->db;
	int64_t last = sq_one_int(db, "SELECT coalesce(max(seq), ?1) FROM events", 0, -1);
	if (last < 0)
		return 1;
	return sq_one_int(db,
			  "SELECT min(seq) FROM events WHERE ts >= "
			  "(SELECT max(ts) FROM events) - ?1",
			  RK_IDEM_MS, last + 1);
}

static rk_err sq_snapshots(store *st,
			   bool (*cb)(void *arg, int64_t seq, int64_t ts,
				      const char *json, size_t len),
			   void *arg, char *err, size_t errlen)
{
	sqlite3 *db = SQ(st)->db;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "SELECT seq, ts, state FROM snapshots ORDER BY seq",
			       -1, &q, NULL)) {
		sql_err(db, "snapshots", err, errlen);
		return RK_EIO;
	}
	int step;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(q, 2);
		if (!cb(arg, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
			text ? text : "",
			text ? (size_t)sqlite3_column_bytes(q, 2) : 0)) {
			step = SQLITE_DONE;
			break;
		}
	}
	if (step != SQLITE_DONE)
		sql_err(db, "snapshots", err, errlen);
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? RK_OK : RK_EIO;
}

static rk_err sq_alarms(store *st, bool (*cb)(void *arg, const char *poll, int64_t at),
			void *arg, char *err, size_t errlen)
{
	sq *s = SQ(st);
	sqlite3_stmt *q;
	if (!s->has_alarms)
		return RK_OK;
	if (sqlite3_prepare_v2(s->db, "SELECT poll, at FROM alarms ORDER BY at, poll", -1,
			       &q, NULL)) {
		sql_err(s->db, "alarms", err, errlen);
		return RK_EIO;
	}
	int step;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *poll = (const char *)sqlite3_column_text(q, 0);
		if (!cb(arg, poll ? poll : "", sqlite3_column_int64(q, 1))) {
			step = SQLITE_DONE;
			break;
		}
	}
	if (step != SQLITE_DONE)
		sql_err(s->db, "alarms", err, errlen);
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? RK_OK : RK_EIO;
}

static rk_err sq_users(store *st, bool (*cb)(void *arg, const char *user, int64_t events),
		       void *arg, char *err, size_t errlen)
{
	sqlite3 *db = SQ(st)->db;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
			       "SELECT user, count(*) FROM events GROUP BY user"
			       " ORDER BY count(*) DESC, user",
			       -1, &q, NULL)) {
		sql_err(db, "events", err, errlen);
		return RK_EIO;
	}
	int step;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *u = (const char *)sqlite3_column_text(q, 0);
		if (!cb(arg, u ? u : "", sqlite3_column_int64(q, 1))) {
			step = SQLITE_DONE;
			break;
		}
	}
	if (step != SQLITE_DONE)
		sql_err(db, "events", err, errlen);
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? RK_OK : RK_EIO;
}

/* ---- one batch ------------------------------------------------------------- */

/* BEGIN or COMMIT: the handle's prepared statement (writable handles; the
 * batch path must not parse SQL per batch), else exec of sql; the message
 * on failure as exec gives it. */
static bool run_tx(sq *s, sqlite3_stmt *st, const char *sql, char *err, size_t errlen)
{
	if (!st)
		return exec(s->db, sql, err, errlen);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return true;
	snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
	add_errno(s->db, err, errlen);
	return false;
}

static rk_err sq_begin(store *st, char *err, size_t errlen)
{
	sq *s = SQ(st);
	return run_tx(s, s->begin, "BEGIN", err, errlen) ? RK_OK : RK_EIO;
}

static rk_err step_reset(sq *s, sqlite3_stmt *st, const char *what, char *err,
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

/* A read-only handle has no prepared writes. */
static bool writable(sq *s, char *err, size_t errlen)
{
	if (s->ins_event)
		return true;
	snprintf(err, errlen, "the room file was opened read-only");
	return false;
}

static rk_err sq_append(store *st, int64_t seq, int64_t ts, const char *session,
			const char *user, const char *op_id, const char *op_json,
			size_t op_len, char *err, size_t errlen)
{
	sq *s = SQ(st);
	if (!writable(s, err, errlen))
		return RK_EIO;
	sqlite3_stmt *q = s->ins_event;
	sqlite3_bind_int64(q, 1, seq);
	sqlite3_bind_int64(q, 2, ts);
	sqlite3_bind_text(q, 3, session, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, op_json, (int)op_len, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, op_id, -1, SQLITE_STATIC);
	return step_reset(s, q, "append event", err, errlen);
}

static rk_err sq_put_snapshot(store *st, int64_t seq, int64_t ts, const char *json,
			      size_t len, char *err, size_t errlen)
{
	sq *s = SQ(st);
	if (!writable(s, err, errlen))
		return RK_EIO;
	sqlite3_bind_int64(s->ins_snap, 1, seq);
	sqlite3_bind_int64(s->ins_snap, 2, ts);
	sqlite3_bind_text(s->ins_snap, 3, json, (int)len, SQLITE_STATIC);
	return step_reset(s, s->ins_snap, "snapshot", err, errlen);
}

static rk_err sq_set_alarm(store *st, const char *poll, int64_t at, char *err,
			   size_t errlen)
{
	sq *s = SQ(st);
	if (!writable(s, err, errlen))
		return RK_EIO;
	sqlite3_bind_text(s->set_alarm, 1, poll, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->set_alarm, 2, at);
	return step_reset(s, s->set_alarm, "set alarm", err, errlen);
}

static rk_err sq_del_alarm(store *st, const char *poll, char *err, size_t errlen)
{
	sq *s = SQ(st);
	if (!writable(s, err, errlen))
		return RK_EIO;
	sqlite3_bind_text(s->del_alarm, 1, poll, -1, SQLITE_STATIC);
	return step_reset(s, s->del_alarm, "delete alarm", err, errlen);
}

/* The outbox table, created in the first transaction that needs it, and
 * the statements on it. */
static rk_err outbox_prepare(sq *s, char *err, size_t errlen)
{
	if (s->ins_hook)
		return RK_OK;
	if (!writable(s, err, errlen) || !exec(s->db, outbox_sql, err, errlen))
		return RK_EIO;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO webhooks(created_ms, body) VALUES(?, ?)", -1,
			       &s->ins_hook, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM webhooks WHERE id <= ?", -1,
			       &s->trim_hook, NULL) != SQLITE_OK) {
		sql_err(s->db, "prepare outbox", err, errlen);
		sqlite3_finalize(s->ins_hook);
		s->ins_hook = NULL;
		return RK_EIO;
	}
	return RK_OK;
}

static rk_err sq_outbox_add(store *st, int64_t created_ms, const char *body, size_t len,
			    char *err, size_t errlen)
{
	sq *s = SQ(st);
	rk_err rc = outbox_prepare(s, err, errlen);
	if (rc != RK_OK)
		return rc;
	sqlite3_bind_int64(s->ins_hook, 1, created_ms);
	sqlite3_bind_text(s->ins_hook, 2, body, (int)len, SQLITE_STATIC);
	return step_reset(s, s->ins_hook, "webhook outbox", err, errlen);
}

static rk_err sq_outbox_trim(store *st, int64_t upto, char *err, size_t errlen)
{
	sq *s = SQ(st);
	rk_err rc = outbox_prepare(s, err, errlen);
	if (rc != RK_OK)
		return rc;
	sqlite3_bind_int64(s->trim_hook, 1, upto);
	return step_reset(s, s->trim_hook, "webhook outbox trim", err, errlen);
}

static rk_err sq_outbox_backlog(store *st, int64_t after, int64_t *n, int64_t *oldest_ms,
				char *err, size_t errlen)
{
	sqlite3 *db = SQ(st)->db;
	(void)err;
	(void)errlen;
	*oldest_ms = 0;
	*n = -1;
	if (!table_exists(db, "webhooks"))
		return RK_OK;
	*n = sq_one_int(db, "SELECT count(*) FROM webhooks WHERE id > ?1", after, 0);
	*oldest_ms = sq_one_int(db, "SELECT min(created_ms) FROM webhooks WHERE id > ?1",
				after, 0);
	return RK_OK;
}

/* DELETE ... bound; *n = rows deleted. */
static bool delete_upto(sqlite3 *db, const char *q_text, int64_t bound, int64_t *n,
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
		sql_err(db, "cut", err, errlen);
	else
		*n = sqlite3_changes64(db);
	return ok;
}

static rk_err sq_cut(store *st, int64_t cut, int64_t *events, int64_t *snaps, char *err,
		     size_t errlen)
{
	sq *s = SQ(st);
	*events = *snaps = 0;
	if (!writable(s, err, errlen))
		return RK_EIO;
	return delete_upto(s->db, "DELETE FROM events WHERE seq <= ?", cut, events, err,
			   errlen) &&
		       delete_upto(s->db, "DELETE FROM snapshots WHERE seq < ?", cut,
				   snaps, err, errlen)
		   ? RK_OK
		   : RK_EIO;
}

static void sq_rollback(store *st)
{
	sq *s = SQ(st);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static rk_err sq_commit(store *st, char *err, size_t errlen)
{
	if (run_tx(SQ(st), SQ(st)->commit, "COMMIT", err, errlen))
		return RK_OK;
	sq_rollback(st);
	return RK_EIO;
}

static int sq_wal_frames(const store *s)
{
	return ((const sq *)s)->wal_frames;
}

static rk_err sq_settle(store *st, bool full, char *err, size_t errlen)
{
	sq *s = SQ(st);
	if (!writable(s, err, errlen))
		return RK_EIO;
	/* Give the freed pages back to the file system (VACUUM is atomic by
	 * itself), then empty the WAL; as the last connection, the close
	 * checkpoints again and removes the -wal and -shm. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	return (!full || exec(s->db, "VACUUM", err, errlen)) &&
		       exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", err, errlen)
		   ? RK_OK
		   : RK_EIO;
}

static const store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .busy_timeout = sq_busy_timeout,
    .trim_cache = sq_trim_cache,
    .load = store_load_log,
    .load_opids = sq_load_opids,
    .cursor_open = sq_cursor_open,
    .cursor_next = sq_cursor_next,
    .cursor_close = sq_cursor_close,
    .min_seq = sq_min_seq,
    .stats = sq_stats,
    .earliest_seq = sq_earliest_seq,
    .first_recent = sq_first_recent,
    .snapshot_at = sq_snapshot_at,
    .snapshots = sq_snapshots,
    .alarms = sq_alarms,
    .users = sq_users,
    .begin = sq_begin,
    .append = sq_append,
    .put_snapshot = sq_put_snapshot,
    .set_alarm = sq_set_alarm,
    .del_alarm = sq_del_alarm,
    .outbox_add = sq_outbox_add,
    .outbox_trim = sq_outbox_trim,
    .outbox_backlog = sq_outbox_backlog,
    .cut = sq_cut,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .wal_frames = sq_wal_frames,
    .settle = sq_settle,
};
