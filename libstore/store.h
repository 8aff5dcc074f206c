/*
 * store.h - the storage contract: one room's durable log (PROTOCOL.md
 * section 7). libstore alone knows the schema, the format version, the
 * meta check, the single-writer lock and how a batch becomes durable;
 * roomd, roomctl and the tests go through these calls.
 *
 * THE BACKEND SEAM
 *   A `store` is a handle on one room's log held by one backend. Every call
 *   below on a handle goes through the backend's table of operations
 *   (backend.h: `store_ops`, chosen when the handle is opened; the handle
 *   starts with a pointer to it), so a call costs one indirect call and no
 *   allocation more than the backend's own work. Today there is one backend,
 *   SQLite (sqlite.c: "<data>/rooms/<room>.db" in WAL mode). A second one
 *   (PostgreSQL, the cluster issue) is a new file with its own `store_ops`
 *   and its own open call beside store_open; roomd's actor, loader and
 *   output gate do not change, because what they rely on is written here,
 *   per call, and not in SQLite's terms:
 *     - a batch (store_begin .. store_commit) is atomic: after RK_OK from
 *       store_commit every row of it is readable by the next open, after a
 *       failure or store_rollback none is;
 *     - committed batches are visible in commit order and seqs are dense;
 *     - the meta (room, epoch, created_ms, format) is written once, when
 *       the room is created, and checked by every open (STORE_FORMAT);
 *     - one writer per room: the caller holds the room's single-writer lock
 *       (store_lock; for PostgreSQL a lease with a fencing token checked in
 *       every commit) for as long as it holds a writable handle.
 *   Calls named store_file_* / store_*_path and store_peek are about the
 *   SQLite file layout itself (paths, flock, WAL checkpoints, webhooks.db);
 *   a networked backend has no such calls and roomd does not make them in
 *   cluster mode.
 *
 * FORMAT (one rule, roomd and roomctl alike): meta 'format' is a decimal
 * number. A file of a format in [STORE_FORMAT_MIN, STORE_FORMAT] is read
 * (and written); a newer one is refused with "room file format N is newer
 * than this <program> reads (M)", RK_ECORRUPT, and left untouched; anything
 * else (missing, not a number, 0) is "not a room file". New files get
 * STORE_FORMAT.
 *
 * ERRORS: every fallible call returns rk_err: RK_OK; RK_EIO (the OS or the
 * database failed: the message in err says why, with the errno behind a
 * "disk I/O error" when SQLite kept it); RK_ECORRUPT (the data is not what
 * this contract promises: not a room file, a newer format, another room's
 * file, a log gap, a row that does not decode); RK_ENOMEM. err (errlen
 * bytes, may be 0) always receives one line on failure and is untouched on
 * success. Strings handed to callbacks are valid only during the callback.
 *
 * DURABILITY (SQLite backend): synchronous=NORMAL always: a commit is in
 * the WAL when store_commit returns RK_OK and survives kill -9 of the
 * process; it survives power loss once the WAL is fdatasynced (roomd
 * --fsync: syncer.h, off the event loop) or checkpointed. Automatic
 * checkpoints and checkpoint-on-close are off on writable handles: WAL
 * checkpoints fsync, so they run through store_file_checkpoint on another
 * thread, never inside a call the event loop makes. When the writer
 * restarts a fully checkpointed WAL it cuts the file back to
 * STORE_WAL_LIMIT bytes.
 *
 * THREADS: a handle is used by one thread at a time (the loader thread
 * opens and loads it, then hands it to the loop). Distinct handles, even on
 * the same room, may be used from different threads.
 */
#ifndef RK_STORE_H
#define RK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rk_common.h"
#include "state.h"

typedef struct store store;

/* The room file format this build writes, and the oldest it reads. */
#define STORE_FORMAT 1
#define STORE_FORMAT_MIN 1

/* Bytes a restarted WAL is cut back to (PRAGMA journal_size_limit). */
#define STORE_WAL_LIMIT 4194304

/* A room's meta, written once at creation. */
typedef struct store_meta {
	char room[RK_ROOM_ID_MAX + 1];
	char epoch[RK_EPOCH_MAX + 1];
	int64_t created_ms;
	int format;
} store_meta;

/* ---- files and the single-writer lock (SQLite layout) ------------------- */

/* Room path "<data>/rooms/<room>.db" into out (cap bytes); false if too long.
 * room must already be a valid room id. This function can't fail otherwise. */
bool store_path(const char *data_dir, const char *room, char *out, size_t cap);

/*
 * Take the room's single-writer lock: flock(LOCK_EX | LOCK_NB) on the .db
 * file, independent of SQLite's own locks, held until store_unlock. Every
 * writer of a room file (roomd, roomctl compact / import / delete) holds it
 * while it writes, so two never interleave and a second roomd on the same
 * data dir refuses the room instead of forking its history. Returns the
 * lock fd (>= 0); STORE_LOCK_HELD (< 0) with "<path> is held by another
 * roomd process (locked)" in err when another process holds it; -1 with
 * one line in err when the file cannot be opened (missing and !create). With
 * create the file is created empty if missing; an empty file with a -wal or
 * -shm beside it gets those removed (a dead room's, see roomfiles.h).
 */
#define STORE_LOCK_HELD (-2)
int store_lock(const char *path, bool create, char *err, size_t errlen);
/* The same for a room file that must not exist yet (roomctl import):
 * created exclusively, then locked. The fd, or STORE_LOCK_EXISTS (the file
 * exists), STORE_LOCK_HELD or -1, with one line in err. */
#define STORE_LOCK_EXISTS (-3)
int store_lock_new(const char *path, char *err, size_t errlen);
/* Release a lock from store_lock; -1 is fine. Can't fail. */
void store_unlock(int fd);

/* ---- opening ------------------------------------------------------------ */

/* Process-wide settings for many small room handles; call once in main()
 * before any thread opens a handle. Returns false if the backend refused
 * (already initialised): rooms then cost more memory but work the same. */
bool store_global_init(void);

/*
 * Open room's log for writing (the lock must be held), creating the schema
 * and meta (room, a new random epoch, created_ms = now, STORE_FORMAT) if the
 * file is new (empty). A file that is not a room file of this room is
 * refused before anything is written to it and left byte for byte as it
 * was. Returns RK_OK and *out (free with store_close), or RK_EIO /
 * RK_ECORRUPT / RK_ENOMEM with *out NULL.
 * busy_ms: how long a call may wait for another process's lock on the file
 * (a reader): 0 on the event loop, which must never wait; a worker thread
 * may wait and sets it back to 0 (store_busy_timeout) before the handle
 * reaches the loop.
 */
RK_WARN_UNUSED rk_err store_open(const char *path, const char *room, int busy_ms,
				 store **out, char *err, size_t errlen);

/*
 * Create a new room file at path with the meta given (room, epoch,
 * created_ms; format is ignored: STORE_FORMAT is written), for roomctl
 * import, roomd's first commit of a room and test fixtures. The file must not exist or be
 * empty, and its lock must be held. Returns like store_open (RK_ECORRUPT if the file
 * already holds a room).
 */
RK_WARN_UNUSED rk_err store_create(const char *path, const store_meta *meta, store **out,
				   char *err, size_t errlen);

/*
 * The meta of a room that has no file yet (roomd creates a room's file at
 * its first commit, not at its first join): room, a new random epoch,
 * created_ms now, STORE_FORMAT. The caller keeps it and passes it to
 * store_create when the file is made, so the epoch its clients were given
 * is the file's. Can't fail.
 */
void store_fresh_meta(const char *room, store_meta *out);

/*
 * Open a room file read-only (roomctl's offline commands): never writes
 * the file, never blocks a writer (WAL readers see the last commit); a
 * one-shot read of a file without a -wal leaves no -wal/-shm behind; live:
 * a reader that polls for later commits (events --follow). Checks that it
 * is a room file by the FORMAT rule above and that its meta names a valid
 * room and an epoch. Files of format 1 written before the alarms table and
 * events.op_id existed are read (no alarms; op ids ""). Returns RK_OK and
 * *out, or RK_EIO (missing, unreadable) / RK_ECORRUPT (not a room file,
 * newer format) with *out NULL.
 */
RK_WARN_UNUSED rk_err store_open_ro(const char *path, bool live, store **out, char *err,
				    size_t errlen);

void store_busy_timeout(store *s, int ms);
/* Free the handle's cached pages (no I/O; a later statement reads what it
 * needs back from the file, normally from the OS page cache). Loading a
 * room reads its whole log through the cache; a loaded room needs a few
 * pages. Can't fail. */
void store_trim_cache(store *s);
/* Close s (NULL is fine): an open batch is rolled back. Can't fail. */
void store_close(store *s);

/* The meta read or written at open; valid until store_close. */
const store_meta *store_get_meta(const store *s);
const char *store_epoch(const store *s);
int64_t store_created_ms(const store *s);

/* ---- reading ------------------------------------------------------------ */

/*
 * Load the state: newest snapshot, then every event after it through
 * rk_state_apply (role owner: roles were checked when the op was accepted).
 * Returns RK_OK with *st (caller frees with rk_state_free) and the last seq
 * / snapshot seq, or RK_ECORRUPT naming the first bad row (a gap, an op that
 * does not decode or apply, a snapshot that does not decode), RK_EIO,
 * RK_ENOMEM; *st is NULL on failure.
 */
RK_WARN_UNUSED rk_err store_load(store *s, rk_state **st, int64_t *seq, int64_t *snap_seq,
				 char *err, size_t errlen);

/*
 * The source of the memory of committed op ids (idempotent ops; roomd's
 * opids.h keeps the memory itself): add is called, in seq order, with
 * (user, op id, seq, ts) of every event inside the window (the last
 * RK_IDEM_EVENTS events, and every event within RK_IDEM_MS of the newest
 * one's ts; libcommon/retain.h) except the server's own ops (session
 * "server") and events without an op id. Reads only that tail of the log.
 * add returning anything but RK_OK stops the read and is returned (with
 * "out of memory" in err for RK_ENOMEM). RK_OK, RK_EIO.
 */
typedef rk_err (*store_opid_fn)(void *arg, const char *user, const char *op_id,
				int64_t seq, int64_t ts);
RK_WARN_UNUSED rk_err store_load_opids(store *s, store_opid_fn add, void *arg, char *err,
				       size_t errlen);

/* One stored event, as handed to a store_events() callback or a cursor. */
typedef struct store_event {
	int64_t seq, ts;
	const char *session, *user, *op_id, *op;
	size_t op_len;
} store_event;

/* Call cb for every event with seq in (since, upto], in seq order; stop
 * early (RK_OK) if cb returns false. RK_OK or RK_EIO. */
rk_err store_events(store *s, int64_t since, int64_t upto,
		    bool (*cb)(void *arg, const store_event *ev), void *arg);

/*
 * A cursor over the events with seq in (since, upto] (upto < 0: no bound),
 * only user's if user is not NULL, in seq order. store_cursor_open returns
 * RK_OK and *out (free with store_cursor_close, NULL is fine) or RK_EIO /
 * RK_ENOMEM. store_cursor_next: 1 and *ev (valid until the next call), 0 at
 * the end, -1 on error (one line in err: a database error, or a row with a
 * NULL column).
 */
typedef struct store_cursor store_cursor;
RK_WARN_UNUSED rk_err store_cursor_open(store *s, int64_t since, int64_t upto,
					const char *user, store_cursor **out, char *err,
					size_t errlen);
int store_cursor_next(store_cursor *c, store_event *ev, char *err, size_t errlen);
void store_cursor_close(store_cursor *c);

/* Lowest seq still in the log (0 if empty or unreadable). Can't fail. */
int64_t store_min_seq(store *s);
/* min(seq), max(seq) and the number of events (0s if empty). RK_OK, RK_EIO. */
rk_err store_seq_range(store *s, int64_t *min, int64_t *max, int64_t *count, char *err,
		       size_t errlen);
/* The same, with the number of snapshots and the newest event's ts. */
typedef struct store_stats {
	int64_t min_seq, max_seq, events, snapshots, last_ts;
} store_stats;
rk_err store_get_stats(store *s, store_stats *st, char *err, size_t errlen);
/* The lowest seq of an event with ts within RK_IDEM_MS of the newest
 * event's (retain.h: the idempotency window), or max seq + 1 if none; 1 if
 * unreadable (keep everything). */
int64_t store_first_recent(store *s);
/* The lowest seq a replay can stop at: the oldest snapshot, or the event
 * just before the oldest kept one; 0 when empty or unreadable. */
int64_t store_earliest_seq(store *s);

/*
 * The newest snapshot with seq <= upto (upto < 0: any). RK_OK with *seq and
 * *json (NUL-terminated, *len bytes, caller frees), or *seq 0 and *json NULL
 * if there is none; RK_EIO, RK_ENOMEM.
 */
rk_err store_snapshot_at(store *s, int64_t upto, int64_t *seq, char **json, size_t *len,
			 char *err, size_t errlen);
/* Every snapshot in seq order: cb(seq, ts, json, len); stop early if cb
 * returns false. RK_OK, RK_EIO. */
rk_err store_snapshots(store *s,
		       bool (*cb)(void *arg, int64_t seq, int64_t ts, const char *json,
				  size_t len),
		       void *arg, char *err, size_t errlen);
/* Every pending alarm, by time then poll id. RK_OK, RK_EIO. */
rk_err store_alarms(store *s, bool (*cb)(void *arg, const char *poll, int64_t at),
		    void *arg, char *err, size_t errlen);
/* Events per user, most first then by user. RK_OK, RK_EIO. */
rk_err store_users(store *s, bool (*cb)(void *arg, const char *user, int64_t events),
		   void *arg, char *err, size_t errlen);

/* ---- one batch ---------------------------------------------------------- */

/*
 * A batch: store_begin, any number of writes, then store_commit (or
 * store_rollback). Writes are visible to the next open only once committed,
 * all together. Each write returns RK_OK or RK_EIO (the batch must then be
 * rolled back: store_commit after a failed write is not allowed).
 * Strings and json are copied before the call returns.
 */
RK_WARN_UNUSED rk_err store_begin(store *s, char *err, size_t errlen);
/* Append event seq (the next one: seqs are dense). */
RK_WARN_UNUSED rk_err store_append(store *s, int64_t seq, int64_t ts, const char *session,
				   const char *user, const char *op_id,
				   const char *op_json, size_t op_len, char *err,
				   size_t errlen);
/* The state after event seq (replaces a snapshot at the same seq). */
RK_WARN_UNUSED rk_err store_put_snapshot(store *s, int64_t seq, int64_t ts,
					 const char *json, size_t len, char *err,
					 size_t errlen);
/* A poll's close alarm, set (replacing) or deleted. */
RK_WARN_UNUSED rk_err store_set_alarm(store *s, const char *poll, int64_t at, char *err,
				      size_t errlen);
RK_WARN_UNUSED rk_err store_del_alarm(store *s, const char *poll, char *err,
				      size_t errlen);
/*
 * Webhook outbox (roomd/webhook.h): one row per webhook to deliver, written
 * in the batch of what it reports, so a committed op's webhook is as durable
 * as the op. Ids only grow (never reused, even once the outbox is empty), so
 * delivery order is id order and "delivered up to id N" is a complete
 * record of progress. The rows are read by the webhook worker
 * (store_outbox_read, its own handle); trim deletes those delivered (id <=
 * upto).
 */
RK_WARN_UNUSED rk_err store_outbox_add(store *s, int64_t created_ms, const char *body,
				       size_t len, char *err, size_t errlen);
RK_WARN_UNUSED rk_err store_outbox_trim(store *s, int64_t upto, char *err, size_t errlen);
/*
 * Compaction and retention: delete the events with seq <= cut and the
 * snapshots with seq < cut (the caller wrote a snapshot at cut first, so
 * the log stays "a snapshot, then the events after it"). Counts into
 * *events / *snaps.
 */
RK_WARN_UNUSED rk_err store_cut(store *s, int64_t cut, int64_t *events, int64_t *snaps,
				char *err, size_t errlen);
/* Make the batch durable as above. On failure the batch is rolled back. */
RK_WARN_UNUSED rk_err store_commit(store *s, char *err, size_t errlen);
/* Drop the open batch (nothing of it is kept); no batch open is fine. */
void store_rollback(store *s);

/* ---- SQLite file maintenance -------------------------------------------- */

/* Frames in the WAL after the last commit (to decide on a checkpoint). */
int store_wal_frames(const store *s);
/*
 * For an offline writer that is done (roomctl compact and import, test
 * fixtures): with full, rewrite the file without its free pages (after a
 * cut); then checkpoint everything into the file (which fsyncs it: the
 * batches are durable) and let store_close remove the -wal and -shm, so
 * the room is one file again. Outside a batch, lock held, no other handle
 * open (roomd never calls it). RK_OK, RK_EIO.
 */
rk_err store_settle(store *s, bool full, char *err, size_t errlen);

/* The outcome of store_file_checkpoint. */
typedef struct store_ckpt_result {
	bool missing;	  /* no such file: nothing done (never created) */
	bool busy;	  /* a reader or writer held it up (TRUNCATE: retry) */
	int log, ckpted;  /* WAL frames, frames copied (-1: unknown) */
	int64_t retained; /* events deleted by retention */
} store_ckpt_result;

/*
 * Checkpoint a room file's WAL through a connection of its own (for the
 * checkpointer thread): PASSIVE never waits for the writer; truncate
 * (TRUNCATE) copies everything and cuts the WAL to 0 bytes, waiting up to
 * busy_ms for readers, and is only for a room without a writer. With
 * truncate and retain > 0 it first applies --retain-events (keep the last
 * retain events and the idempotency window; cut at the newest snapshot
 * that allows it; logged). The connection reads the schema first (one that
 * has read nothing does not know the file is in WAL mode and SQLite 3.40
 * reports success for a checkpoint that did nothing) and never checkpoints
 * on close. RK_OK (res->busy says whether it finished) or RK_EIO.
 */
rk_err store_file_checkpoint(const char *path, bool truncate, int busy_ms, int64_t retain,
			     store_ckpt_result *res, char *err, size_t errlen);

/* What a startup scan learns of a room file without loading it. */
typedef struct store_info {
	int64_t seq;
	int64_t last_active_ms;
	struct {
		char poll[RK_ID_MAX + 1];
		int64_t at;
	} * alarms;
	size_t nalarms;
} store_info;

/* Read seq, last activity and alarms from a room file, read-only, without
 * the lock. RK_OK or RK_EIO/RK_ECORRUPT. Caller frees info->alarms. */
rk_err store_peek(const char *path, store_info *info, char *err, size_t errlen);

/* ---- webhook delivery (SQLite layout) ------------------------------------ */

/*
 * The webhook worker's reader of one room file's outbox, a handle of its
 * own beside the room's writer (never checkpoints; waits up to 2 s for a
 * lock); NULL if the file cannot be opened. store_outbox_read: the meta
 * epoch into epoch (cap RK_EPOCH_MAX + 1) and, if a row with id > after
 * exists (any id when the epoch is not known_epoch: a new file under the
 * room's name starts from its first row), the first such row: 1 with *id,
 * *created_ms, *body (caller frees, NUL-terminated, *len bytes) and *max
 * (the highest id); 0 if none (*max still set); -1 if the file cannot be
 * read now (the caller closes the reader and tries later).
 */
typedef struct store_outbox store_outbox;
store_outbox *store_outbox_open(const char *path);
int store_outbox_read(store_outbox *o, const char *known_epoch, int64_t after,
		      char *epoch, int64_t *id, int64_t *created_ms, char **body,
		      size_t *len, int64_t *max);
void store_outbox_close(store_outbox *o);
/* roomctl inspect: rows with id > after not yet delivered in the room file
 * s (*n, and *oldest_ms of the first), or *n = -1 if it has no outbox. */
rk_err store_outbox_backlog(store *s, int64_t after, int64_t *n, int64_t *oldest_ms,
			    char *err, size_t errlen);

/*
 * <data>/webhooks.db: what the webhook worker delivered, per room and
 * epoch ("up to outbox id N"). store_hookpos_open creates it if missing
 * (WAL, synchronous=NORMAL) and calls cb (if not NULL) for every recorded
 * room; NULL with
 * one line in err if it cannot. store_hookpos_put records one room's
 * progress (RK_OK, RK_EIO). store_hookpos_get reads one room's progress
 * read-only from the file at path (0 if none or unreadable; roomctl).
 */
typedef struct store_hookpos store_hookpos;
store_hookpos *store_hookpos_open(const char *path,
				  void (*cb)(void *arg, const char *room,
					     const char *epoch, int64_t upto),
				  void *arg, char *err, size_t errlen);
rk_err store_hookpos_put(store_hookpos *p, const char *room, const char *epoch,
			 int64_t upto, char *err, size_t errlen);
void store_hookpos_close(store_hookpos *p);
int64_t store_hookpos_get(const char *path, const char *room, const char *epoch);

#endif
