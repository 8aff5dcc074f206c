/*
 * loader.h - the room loader: jobs of one worker thread (worker.h) that
 * open a room's SQLite file and load its state (store_lock if needed,
 * store_open, store_load) off the event loop, or find that the room has no
 * file yet (a new room: its file is created by its first commit, not its
 * first join); create the file of such a room once it has something to
 * commit; reopen the file of a loaded room that closed its handle while
 * quiet (room.c: dozing); or remove a deleted room's files, then hand the
 * result back to the loop
 * through the worker's uv_async_t. Jobs run one at a time in submission order.
 *
 * The worker sees only what a job carries (room id, path, whether to take
 * the flock) and what it builds itself (store, state, lock fd); it never
 * touches room or conn structs. Once a result is delivered, its store and
 * state belong to the loop thread alone (the SQLite handle is opened with
 * SQLITE_OPEN_NOMUTEX, which is fine: it is never used by two threads at
 * once).
 */
#ifndef ROOMD_LOADER_H
#define ROOMD_LOADER_H

#include <uv.h>
#include "ckpt.h"
#include "opids.h"
#include "rk_common.h"
#include "state.h"
#include "store.h"

typedef struct loader loader;

/* What a job does. */
typedef enum loader_kind {
	LOADER_LOAD = 0, /* lock, open, load; or: no file yet (fresh) */
	LOADER_DELETE,	 /* remove the room's files (roomfiles.h) */
	LOADER_REOPEN,	 /* open the file of a loaded room whose handle was
			  * closed while it was quiet (no lock, no load) */
	LOADER_CREATE,	 /* lock and create the file of a fresh room (its
			  * meta given), for its first commit */
} loader_kind;

typedef struct load_alarm {
	char poll[RK_ID_MAX + 1];
	int64_t at;
} load_alarm;

typedef struct load_result {
	loader_kind kind;
	char room[RK_ROOM_ID_MAX + 1];
	rk_err rc; /* RK_OK, or why it failed (err) */
	char err[256];
	int lock_fd; /* flock taken by the worker, or -1 */
	store *st;   /* open on success */
	rk_state *state;
	opids *ids; /* committed op ids (idempotent ops) */
	int64_t seq, snap_seq;
	/* File mode: LOADER_LOAD found no file: the room is new and empty
	 * (state and ids empty, seq 0, no st, no lock) and meta is what its
	 * file will hold (a new epoch); LOADER_CREATE: the meta it was
	 * created with. */
	bool fresh;
	store_meta meta;
	int64_t took_us;
	/* Cluster mode (loader_set_cluster): */
	int64_t token;	    /* the fencing token st was acquired with */
	bool taken_over;    /* from a node whose lease had expired */
	bool moving;	    /* refused: a live node owns it (owner), asked to hand
			     * it over: its joins are told to try again (1013) */
	char owner[64];	    /* moving: that node */
	load_alarm *alarms; /* the room's pending alarms (loaded rooms) */
	size_t nalarms;
} load_result;

/* Called on the loop thread for every finished job, in completion order.
 * It may take st, state, ids and lock_fd (setting them to NULL / -1); whatever
 * is left is freed after it returns. */
typedef void (*loader_done_fn)(void *arg, load_result *res);

/* Start the thread and register the async handle on loop; NULL on failure.
 * Before a room's file is opened, the worker quiesces the checkpointer c for
 * it (ckpt_quiesce), so no TRUNCATE checkpoint runs under its writer. */
loader *loader_start(uv_loop_t *loop, ckpt *c, loader_done_fn done,
		     void *arg) RK_WARN_UNUSED;
/* Queue a load of room (file at path; take its flock first if take_lock).
 * Never blocks on I/O. RK_OK, or RK_ENOMEM (out of memory, or the queue is
 * at its cap): nothing was queued. */
rk_err loader_submit(loader *l, const char *room, const char *path,
		     bool take_lock) RK_WARN_UNUSED;
/* Queue the reopening of the handle of a loaded room (file at path) that
 * closed it while quiet: the result (kind LOADER_REOPEN) carries st only
 * (its flock is the room's already; nothing is loaded). File mode only.
 * Never blocks on I/O. RK_OK or RK_ENOMEM (nothing was queued). */
rk_err loader_submit_reopen(loader *l, const char *room, const char *path) RK_WARN_UNUSED;
/* Queue the creation of the file of a loaded fresh room (file at path,
 * meta copied): the worker takes its flock (store_lock) and creates it
 * (store_create, which refuses a file that already holds a room: another
 * writer created it meanwhile). The result (kind LOADER_CREATE) carries st
 * and lock_fd. File mode only. Never blocks on I/O. RK_OK or RK_ENOMEM
 * (nothing was queued). */
rk_err loader_submit_create(loader *l, const char *room, const char *path,
			    const store_meta *meta) RK_WARN_UNUSED;
/* Queue the removal of room's files (path: its .db). lock_fd is the
 * room's flock if the loop holds it (the job takes it over and closes it),
 * else -1 and the job takes the lock itself (a file held by another
 * process is not removed: the result says so). The result comes back
 * through the same callback with kind LOADER_DELETE (rc RK_OK, or RK_EIO
 * with err). Jobs run in submission order, so a load queued after it
 * creates a new room. Never blocks on I/O. RK_OK or RK_ENOMEM (then
 * lock_fd stays the caller's). */
rk_err loader_submit_delete(loader *l, const char *room, const char *path,
			    int lock_fd) RK_WARN_UNUSED;
/*
 * Cluster mode (--pg, before the first submit): loads acquire the room in
 * PostgreSQL for node (pg.h store_pg_acquire: created if new, taken over
 * from a node whose lease expired, or refused as `moving` while a live node
 * holds it) and load it from there, keeping the last `tail` events in the
 * handle for resumes; deletions remove its rows. The worker thread keeps
 * its own connection (reconnected when broken). Strings are copied. RK_OK
 * or RK_ENOMEM.
 */
rk_err loader_set_cluster(loader *l, const char *url, const char *node, int lease_ms,
			  int timeout_ms, int tail) RK_WARN_UNUSED;
/* Block until no job for room is queued or running, then deliver every
 * finished result (the admin HTTP path, which may wait). */
void loader_wait(loader *l, const char *room);
/* Stop the thread (the running job finishes, queued ones are dropped), free
 * undelivered results and close the async handle; l is freed now, the
 * worker once the loop has run the close callback. NULL is a no-op. */
void loader_stop(loader *l);

#endif
