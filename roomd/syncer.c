/* syncer.c - fdatasync of room WALs (--fsync) as jobs of a worker pool
 * (worker.h, SYNCER_THREADS), coalesced per room; results go back to the loop through the
 * worker's uv_async_t. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "syncer.h"
#include "worker.h"

#define SYNCER_MAX_QUEUED 65536 /* jobs coalesce per room: one per room at most */

/* A job is its own result: finishing one never allocates, so a result
 * cannot be lost to out of memory (the room's output would wait forever). */
typedef struct job {
	worker_job wj; /* key: room */
	char room[RK_ROOM_ID_MAX + 1];
	int64_t seq; /* written under the worker lock while queued */
	int err;
	char path[];
} job;

struct syncer {
	worker *w;
	syncer_done_fn done;
	void *arg;
};

static int sync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int err = fdatasync(fd) == 0 ? 0 : errno;
	close(fd);
	return err;
}

static int run_cb(void *arg, worker_job *wj)
{
	(void)arg;
	job *j = (job *)wj;
	j->err = sync_file(j->path);
	return 0;
}

static void done_cb(void *arg, worker_job *wj)
{
	syncer *y = arg;
	job *j = (job *)wj;
	y->done(y->arg, j->room, j->seq, j->err);
}

static void job_free(worker_job *wj)
{
	free(wj);
}

static const worker_ops syncer_ops = {
    .run = run_cb,
    .done = done_cb,
    .free = job_free,
    .drain_on_stop = true,
    .max_queued = SYNCER_MAX_QUEUED,
    .threads = SYNCER_THREADS,
};

syncer *syncer_start(uv_loop_t *loop, syncer_done_fn done, void *arg)
{
	syncer *y = calloc(1, sizeof(*y));
	if (!y)
		return NULL;
	y->done = done;
	y->arg = arg;
	y->w = worker_start(loop, &syncer_ops, y);
	if (!y->w) {
		free(y);
		return NULL;
	}
	return y;
}

rk_err syncer_submit(syncer *y, const char *room, const char *wal_path, int64_t seq)
{
	worker_lock(y->w);
	/* Not started yet: its fdatasync will cover this commit too. */
	job *q = (job *)worker_find_queued(y->w, room);
	if (q) {
		if (seq > q->seq)
			q->seq = seq;
		worker_unlock(y->w);
		return RK_OK;
	}
	worker_unlock(y->w);
	size_t n = strlen(wal_path) + 1;
	job *j = calloc(1, sizeof(*j) + n);
	if (!j)
		return RK_ENOMEM;
	snprintf(j->room, sizeof(j->room), "%s", room);
	j->wj.key = j->room;
	j->seq = seq;
	memcpy(j->path, wal_path, n);
	if (worker_submit(y->w, &j->wj) != RK_OK) {
		free(j);
		return RK_ENOMEM;
	}
	return RK_OK;
}

void syncer_flush(syncer *y)
{
	if (y)
		worker_wait_idle(y->w);
}

void syncer_stop(syncer *y)
{
	if (!y)
		return;
	worker_stop(y->w);
	free(y);
}
