/*
 * store.h - one room's SQLite file (PROTOCOL.md section 7): schema, the
 * single-writer lock, loading (newest snapshot + events after it), appending
 * a batch of events in one transaction, snapshots, alarms, and the event
 * range reads used by resume.
 *
 * File: <data>/rooms/<room>.db in WAL mode. Besides the tables of section 7 we
 * keep: events.op_id (the sender's client op id, needed to replay `event`
 * messages exactly) and alarms(poll, at) (pending poll.close alarms, so they
 * survive restarts without loading every room).
 *
 * Lock: while a roomd holds a room it keeps an flock(LOCK_EX) on the .db file
 * (independent of SQLite's own fcntl locks), so a second roomd on the same
 * data dir refuses the room instead of forking its history.
 *
 * Durability: synchronous=NORMAL always (a commit survives kill -9 of
 * roomd). With --fsync the commit's WAL frames are made durable by the
 * syncer thread (syncer.h: fdatasync of "<path>-wal") before any reply for
 * them leaves, so the loop never waits on an fsync. Automatic checkpoints are
 * off on this connection and checkpoint-on-close is disabled: WAL checkpoints
 * fsync, so they run on the checkpointer thread (ckpt.h), never on the loop.
 * When the writer restarts a fully checkpointed WAL it truncates the file to
 * STORE_WAL_LIMIT bytes (journal_size_limit) if it had grown past that.
 */
#ifndef ROOMD_STORE_H
#define ROOMD_STORE_H

#include <sqlite3.h>
#include "rk_common.h"
#include "opids.h"
#include "state.h"

typedef struct store store;

/* Bytes a restarted WAL is cut back to (PRAGMA journal_size_limit). */
#define STORE_WAL_LIMIT 4194304

/* Process-wide SQLite settings for many small room handles; call once in
 * main() before any thread opens a handle (sqlite3_config must precede
 * sqlite3_initialize). Returns false if SQLite refused (already initialised):
 * rooms then cost more memory but work the same. */
bool store_global_init(void);

/* Room path "<data>/rooms/<room>.db" into out (cap bytes); false if too long.
 * room must already be a valid room id. */
bool store_path(const char *data_dir, const char *room, char *out, size_t cap);

/* Take the room's flock. Returns the lock fd (>= 0), or -1 with a reason in
 * err: another process holds the room, or the file cannot be opened. The
 * file is created (empty) if missing and create is true. */
int store_lock(const char *path, bool create, char *err, size_t errlen);
void store_unlock(int fd);

/*
 * Open the room database (lock must be held), creating the schema and meta
 * (room, epoch, created_ms, format=1) if the file is new. Returns RK_OK and
 * *out, or RK_EIO / RK_ECORRUPT with a reason in err (unreadable file, not a
 * SQLite file, a newer format, a meta naming another room).
 * busy_ms: how long SQLite may wait for another process's lock on the file
 * (a reader such as roomctl): 0 on the event loop, which must never wait;
 * the loader thread may, and sets it back to 0 (store_busy_timeout) before
 * the handle reaches the loop.
 */
rk_err store_open(const char *path, const char *room, int busy_ms,
		  store **out, char *err, size_t errlen);
void store_busy_timeout(store *s, int ms);
/* Free the handle's cached pages (no I/O; a later statement reads what it
 * needs back from the file, normally the OS page cache). Loading a room
 * reads its whole log through the cache; the loaded room needs a few pages. */
void store_trim_cache(store *s);
void store_close(store *s);

const char *store_epoch(const store *s);
int64_t store_created_ms(const store *s);

/* Load the state: newest snapshot, then every event after it through
 * rk_state_apply. Returns RK_OK with *st and the last seq / snapshot seq, or
 * RK_ECORRUPT naming the first bad row, RK_EIO, RK_ENOMEM. */
rk_err store_load(store *s, rk_state **st, int64_t *seq, int64_t *snap_seq,
		  char *err, size_t errlen);

/* Rebuild the memory of committed op ids (opids.h) from the log: every
 * event inside the window (the last OPIDS_KEEP_OPS events, and every event
 * within OPIDS_KEEP_MS of the newest one's ts) except the server's own ops
 * (session "server"). Reads only that tail of the events table. Returns
 * RK_OK with a new *out (caller frees with opids_free), or RK_EIO /
 * RK_ENOMEM with the reason in err and *out NULL. */
rk_err store_load_opids(store *s, opids **out, char *err, size_t errlen);

/* Batch writes: begin, any number of appends/snapshots/alarm changes, then
 * commit (or rollback). RK_OK or RK_EIO with the SQLite message in err. */
rk_err store_begin(store *s, char *err, size_t errlen);
rk_err store_append(store *s, int64_t seq, int64_t ts, const char *session,
		    const char *user, const char *op_id, const char *op_json,
		    size_t op_len, char *err, size_t errlen);
rk_err store_put_snapshot(store *s, int64_t seq, int64_t ts, const char *json,
			  size_t len, char *err, size_t errlen);
rk_err store_set_alarm(store *s, const char *poll, int64_t at, char *err,
		       size_t errlen);
rk_err store_del_alarm(store *s, const char *poll, char *err, size_t errlen);
/*
 * Webhook outbox (webhook.h): one row per webhook to deliver, written in the
 * transaction of what it reports, so a committed op's webhook is as durable
 * as the op. ids only grow (AUTOINCREMENT: never reused, even once the table
 * is empty), so delivery order is id order and "delivered up to id N" is a
 * complete record of progress. Rows are read and sent by the webhook worker
 * through its own read-only handle; this handle deletes those delivered
 * (trim) in a later transaction. Both inside a batch (store_begin).
 */
#define STORE_OUTBOX_SQL                                                          \
	"CREATE TABLE IF NOT EXISTS webhooks(id INTEGER PRIMARY KEY AUTOINCREMENT," \
	" created_ms INTEGER NOT NULL, body TEXT NOT NULL)"
rk_err store_outbox_add(store *s, int64_t created_ms, const char *body, size_t len,
			char *err, size_t errlen);
/* Delete the rows with id <= upto (delivered). */
rk_err store_outbox_trim(store *s, int64_t upto, char *err, size_t errlen);
rk_err store_commit(store *s, char *err, size_t errlen);
void store_rollback(store *s);

/* Frames in the WAL after the last commit (to decide on a checkpoint). */
int store_wal_frames(const store *s);

/* Lowest seq still in the log (0 if empty). */
int64_t store_min_seq(store *s);

/* One stored event, as handed to a store_events() callback. Strings are
 * valid only during the callback. */
typedef struct store_event {
	int64_t seq, ts;
	const char *session, *user, *op_id, *op;
	size_t op_len;
} store_event;

/* Call cb for every event with seq in (since, upto], in order; stop early if
 * cb returns false. RK_OK or RK_EIO. */
rk_err store_events(store *s, int64_t since, int64_t upto,
		    bool (*cb)(void *arg, const store_event *ev), void *arg);

/* What a startup scan learns of a room file without loading it. */
typedef struct store_info {
	int64_t seq;
	int64_t last_active_ms;
	struct {
		char poll[RK_ID_MAX + 1];
		int64_t at;
	} *alarms;
	size_t nalarms;
} store_info;

/* Read seq, last activity and alarms from a room file, read-only (no lock).
 * RK_OK or RK_EIO/RK_ECORRUPT. Caller frees info->alarms. */
rk_err store_peek(const char *path, store_info *info, char *err, size_t errlen);

#endif
