/*
 * ckpt.h - the checkpointer: a thread that runs SQLite WAL checkpoints
 * (which fsync) off the event loop. The loop hands it file paths; it opens
 * its own connection per job, checkpoints (PASSIVE: never blocks the writer)
 * and closes. Jobs for the same path are coalesced.
 */
#ifndef ROOMD_CKPT_H
#define ROOMD_CKPT_H

#include "rk_common.h"

typedef struct ckpt ckpt;

/* Start the thread; NULL on failure. */
ckpt *ckpt_start(void);
/* Queue a checkpoint of path (copied). Never blocks on I/O. */
void ckpt_request(ckpt *c, const char *path);
/* Finish queued jobs, stop the thread and free everything. */
void ckpt_stop(ckpt *c);
/* Checkpoints completed so far. */
uint64_t ckpt_done(ckpt *c);

#endif
