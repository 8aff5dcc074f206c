/*
 * syncer.h - the syncer: jobs of a small worker pool (worker.h) that make
 * committed WAL frames durable (--fsync) off the event loop, then hand the
 * result back to the loop through the worker's uv_async_t.
 *
 * The loop's SQLite connections run synchronous=NORMAL: a commit writes its
 * frames to "<room>.db-wal" and returns without an fsync. A job {room, wal
 * path, seq} opens the WAL read-only, fdatasyncs it and closes it: fdatasync
 * on any fd of a file flushes that inode's data, so every frame written
 * before the job started is durable afterwards (what synchronous=FULL does
 * after each commit, without the loop waiting). A queued, not yet started
 * job for the same room is replaced by the newer seq: one fdatasync covers
 * all earlier commits.
 *
 * SYNCER_THREADS threads take jobs from the one queue, so several rooms'
 * fdatasyncs are in flight at once and the filesystem merges them into
 * fewer journal commits; a room waits for its own sync, not behind every
 * other dirty room's. Two jobs of one room (one running, the next queued
 * meanwhile) may then finish out of order; each result is still true ("seq
 * is durable": the later job's fdatasync started after the earlier job's
 * frames were written and waits for their writeback), so the caller takes
 * a result for a seq at or below one already reported as a no-op
 * (room_synced does).
 *
 * The worker never touches room or conn structs; it sees only paths.
 */
#ifndef ROOMD_SYNCER_H
#define ROOMD_SYNCER_H

#include <uv.h>
#include "rk_common.h"

typedef struct syncer syncer;

#define SYNCER_THREADS 4

/* Called on the loop thread for every finished job, in completion order
 * (per room not necessarily seq order, see above): seq is durable for room if err == 0,
 * else err is the errno that failed. */
typedef void (*syncer_done_fn)(void *arg, const char *room, int64_t seq, int err);

/* Start the threads and register the async handle on loop; NULL on failure. */
syncer *syncer_start(uv_loop_t *loop, syncer_done_fn done, void *arg) RK_WARN_UNUSED;
/* Queue (or coalesce into the queued job of room) a sync of wal_path up to
 * seq. Never blocks on I/O. RK_OK, or RK_ENOMEM (out of memory, or the
 * queue at its cap): nothing queued, the caller fails the room. */
rk_err syncer_submit(syncer *y, const char *room, const char *wal_path,
		     int64_t seq) RK_WARN_UNUSED;
/* Block until no job is queued or running, then deliver every finished
 * result (shutdown: the drain releases what became durable). */
void syncer_flush(syncer *y);
/* Finish the queued jobs, stop the threads, free undelivered results and
 * close the async handle; y is freed now, its worker once the loop has run
 * the close callback. NULL is a no-op. */
void syncer_stop(syncer *y);

#endif
