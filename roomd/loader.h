/*
 * loader.h - the room loader: a thread that opens (or creates) a room's
 * SQLite file and loads its state (store_lock if needed, store_open,
 * store_load) off the event loop, then hands the result back to the loop
 * through a uv_async_t.
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
#include "rk_common.h"
#include "state.h"
#include "store.h"

typedef struct loader loader;

typedef struct load_result {
	struct load_result *next;
	char room[RK_ROOM_ID_MAX + 1];
	rk_err rc;                /* RK_OK, or why it failed (err) */
	char err[256];
	int lock_fd;              /* flock taken by the worker, or -1 */
	store *st;                /* open on success */
	rk_state *state;
	opids *ids;               /* committed op ids (idempotent ops) */
	int64_t seq, snap_seq;
	int64_t took_us;
} load_result;

/* Called on the loop thread for every finished job, in completion order.
 * It may take st, state, ids and lock_fd (setting them to NULL / -1); whatever
 * is left is freed after it returns. */
typedef void (*loader_done_fn)(void *arg, load_result *res);

/* Start the thread and register the async handle on loop; NULL on failure. */
loader *loader_start(uv_loop_t *loop, loader_done_fn done, void *arg);
/* Queue a load of room (file at path; take its flock first if take_lock).
 * Never blocks on I/O. RK_OK or RK_ENOMEM. */
rk_err loader_submit(loader *l, const char *room, const char *path, bool take_lock);
/* Block until no job for room is queued or running, then deliver every
 * finished result (the admin HTTP path, which may wait). */
void loader_wait(loader *l, const char *room);
/* Stop the thread (the running job finishes, queued ones are dropped), free
 * undelivered results and close the async handle; l is freed once the loop
 * has run the close callback. */
void loader_stop(loader *l);

#endif
