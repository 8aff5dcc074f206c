/*
 * ckpt.h - the checkpointer: jobs of one worker thread (worker.h) that run SQLite WAL
 * checkpoints (which fsync) off the event loop. The loop hands it file paths; it opens
 * its own connection per job, reads the schema (a connection that has read
 * nothing does not know the file is in WAL mode: SQLite 3.40 then returns
 * SQLITE_OK from a checkpoint that did nothing, reporting -1/-1 frames),
 * checkpoints and closes. Jobs for the same path are coalesced.
 *
 * Two kinds of job:
 *  - PASSIVE (a loaded room whose WAL grew past its threshold): never waits
 *    for and never blocks the room's writer on the loop; it copies what no
 *    reader still needs, and the writer restarts the WAL at its next commit
 *    once everything is copied. Under back-to-back commits that moment never
 *    comes (each pass ends behind frames written while it ran), so a pass
 *    that copied anything is followed at once by a catch-up pass of the few
 *    frames written meanwhile (if any: else it costs no I/O), during which the room may
 * hold its commits (ckpt_state; room.c decides): a pause of one short pass, after which
 * the WAL restarts.
 *  - TRUNCATE (a room that hibernated, or roomd shutting down): copies
 *    everything and truncates the WAL to 0 bytes. It blocks writers while it
 *    runs, so it is only asked for a room without a writer, and whoever is
 *    about to give the room a writer again (the loader, a deletion) calls
 *    ckpt_quiesce first. Readers (roomctl) may hold it up: it waits for them
 *    up to CKPT_BUSY_MS, and a TRUNCATE that could not finish is retried
 *    later (CKPT_RETRY_MS, at most CKPT_RETRIES times).
 *
 * A checkpoint that copied nothing out of a non-empty WAL is counted
 * (ckpt_stats: noop) and logged as a warning with the reason.
 */
#ifndef ROOMD_CKPT_H
#define ROOMD_CKPT_H

#include "rk_common.h"

#define CKPT_BUSY_MS 200   /* a TRUNCATE waits this long for readers */
#define CKPT_RETRY_MS 5000 /* then tries again this much later */
#define CKPT_RETRIES 12

typedef struct ckpt ckpt;

/* What the checkpointer did so far (a copy; see ckpt_stats). */
typedef struct ckpt_stats {
	uint64_t complete;  /* every frame of the WAL copied */
	uint64_t partial;   /* some frames copied, not all (a reader or a
			     * concurrent writer holds the rest) */
	uint64_t noop;	    /* nothing copied out of a non-empty WAL */
	uint64_t failed;    /* an SQLite error (open, read, checkpoint) */
	uint64_t frames;    /* frames copied into database files */
	uint64_t truncated; /* WALs truncated to 0 bytes */
	uint64_t retained;  /* events deleted by --retain-events */
} ckpt_stats;

/* Start the thread; NULL on failure. retain: --retain-events (0: off):
 * before a TRUNCATE (no writer), the room's log is cut to the newest
 * snapshot that leaves the last retain events and the idempotency window
 * (retain.h); counted in ckpt_stats.retained. */
ckpt *ckpt_start(int64_t retain) RK_WARN_UNUSED;
/* Queue a checkpoint of path (copied): PASSIVE, or TRUNCATE if truncate. A
 * queued job for the same path is reused (and becomes TRUNCATE if either
 * asks for it). Never blocks on I/O; a job lost to out of memory is only a
 * checkpoint later. */
void ckpt_request(ckpt *c, const char *path, bool truncate);
/* Drop every queued job for path and wait until none runs: afterwards the
 * checkpointer does not touch path until it is asked again. May block for
 * one checkpoint: call it off the loop (the loader thread) or on the
 * loop's admin path only. */
void ckpt_quiesce(ckpt *c, const char *path);
/* Where path's checkpoint is: none queued or running, a first (bulk)
 * pass, or a catch-up pass, during which the room's writer may hold its
 * commits (see the PASSIVE job above); for a catch-up, *copied is the WAL
 * frame the first pass copied up to (else 0), so the writer can tell how
 * much the catch-up has to copy. Cheap: one lock and a walk of the queue,
 * no I/O. */
typedef enum ckpt_phase { CKPT_IDLE = 0, CKPT_BULK, CKPT_CATCHUP } ckpt_phase;
ckpt_phase ckpt_state(ckpt *c, const char *path, int *copied);
/* Finish queued jobs (retries waiting for their time are tried once now),
 * stop the thread and free everything. */
void ckpt_stop(ckpt *c);
/* Checkpoints completed so far (any outcome). */
uint64_t ckpt_done(ckpt *c);
/* A consistent copy of the counters. */
void ckpt_get_stats(ckpt *c, ckpt_stats *out);

#endif
