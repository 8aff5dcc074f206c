/* syncer.c - fdatasync of room WALs on a small pool of threads (--fsync);
 * results go back to the loop through a uv_async_t. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "syncer.h"

/* A job is its own result: finishing one never allocates, so a result
 * cannot be lost to out of memory (the room's output would wait forever). */
typedef struct job {
	struct job *next;
	char room[RK_ROOM_ID_MAX + 1];
	int64_t seq;
	int err;
	char path[];
} job;

struct syncer {
	uv_async_t async;         /* its data is the syncer, freed when it closes */
	pthread_t threads[SYNCER_THREADS];
	int nthreads;             /* started */
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* a job was queued, or stop */
	pthread_cond_t idle_cv;   /* a job finished (syncer_flush) */
	job *head, *tail;         /* queued jobs */
	job *done_head, *done_tail; /* finished, not yet delivered */
	int busy;                 /* jobs running */
	bool stop;
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

static void *syncer_main(void *arg)
{
	syncer *y = arg;
	pthread_mutex_lock(&y->mu);
	for (;;) {
		while (!y->head && !y->stop)
			pthread_cond_wait(&y->cv, &y->mu);
		if (!y->head)
			break; /* stop, and every queued job is done */
		job *j = y->head;
		y->head = j->next;
		if (!y->head)
			y->tail = NULL;
		j->next = NULL;
		y->busy++;
		pthread_mutex_unlock(&y->mu);
		j->err = sync_file(j->path);
		pthread_mutex_lock(&y->mu);
		y->busy--;
		if (y->done_tail)
			y->done_tail->next = j;
		else
			y->done_head = j;
		y->done_tail = j;
		pthread_cond_broadcast(&y->idle_cv);
		/* Thread-safe; sends coalesce into one callback on the loop. The
		 * handle is closed only after this thread is joined. */
		uv_async_send(&y->async);
	}
	pthread_mutex_unlock(&y->mu);
	return NULL;
}

static void deliver(syncer *y)
{
	pthread_mutex_lock(&y->mu);
	job *j = y->done_head;
	y->done_head = y->done_tail = NULL;
	pthread_mutex_unlock(&y->mu);
	while (j) {
		job *next = j->next;
		y->done(y->arg, j->room, j->seq, j->err);
		free(j);
		j = next;
	}
}

static void free_on_close(uv_handle_t *h)
{
	free(h->data);
}

static void async_cb(uv_async_t *h)
{
	deliver(h->data);
}

syncer *syncer_start(uv_loop_t *loop, syncer_done_fn done, void *arg)
{
	syncer *y = calloc(1, sizeof(*y));
	if (!y)
		return NULL;
	y->done = done;
	y->arg = arg;
	if (uv_async_init(loop, &y->async, async_cb) != 0) {
		free(y);
		return NULL;
	}
	y->async.data = y;
	pthread_mutex_init(&y->mu, NULL);
	pthread_cond_init(&y->cv, NULL);
	pthread_cond_init(&y->idle_cv, NULL);
	while (y->nthreads < SYNCER_THREADS &&
	       pthread_create(&y->threads[y->nthreads], NULL, syncer_main, y) == 0)
		y->nthreads++;
	if (y->nthreads == 0) {
		pthread_mutex_destroy(&y->mu);
		pthread_cond_destroy(&y->cv);
		pthread_cond_destroy(&y->idle_cv);
		uv_close((uv_handle_t *)&y->async, free_on_close);
		return NULL;
	}
	return y;
}

rk_err syncer_submit(syncer *y, const char *room, const char *wal_path, int64_t seq)
{
	pthread_mutex_lock(&y->mu);
	/* Not started yet: its fdatasync will cover this commit too. */
	for (job *j = y->head; j; j = j->next) {
		if (strcmp(j->room, room) == 0) {
			if (seq > j->seq)
				j->seq = seq;
			pthread_mutex_unlock(&y->mu);
			return RK_OK;
		}
	}
	pthread_mutex_unlock(&y->mu);
	size_t n = strlen(wal_path) + 1;
	job *j = calloc(1, sizeof(*j) + n);
	if (!j)
		return RK_ENOMEM;
	snprintf(j->room, sizeof(j->room), "%s", room);
	j->seq = seq;
	memcpy(j->path, wal_path, n);
	pthread_mutex_lock(&y->mu);
	if (y->tail)
		y->tail->next = j;
	else
		y->head = j;
	y->tail = j;
	pthread_cond_signal(&y->cv);
	pthread_mutex_unlock(&y->mu);
	return RK_OK;
}

void syncer_flush(syncer *y)
{
	if (!y)
		return;
	pthread_mutex_lock(&y->mu);
	while (y->head || y->busy)
		pthread_cond_wait(&y->idle_cv, &y->mu);
	pthread_mutex_unlock(&y->mu);
	deliver(y);
}

void syncer_stop(syncer *y)
{
	if (!y)
		return;
	pthread_mutex_lock(&y->mu);
	y->stop = true;
	pthread_cond_broadcast(&y->cv);
	pthread_mutex_unlock(&y->mu);
	for (int i = 0; i < y->nthreads; i++)
		pthread_join(y->threads[i], NULL);
	/* The rooms are going away: nothing is delivered any more. */
	for (job *j = y->done_head, *next; j; j = next) {
		next = j->next;
		free(j);
	}
	y->done_head = y->done_tail = NULL;
	pthread_mutex_destroy(&y->mu);
	pthread_cond_destroy(&y->cv);
	pthread_cond_destroy(&y->idle_cv);
	uv_close((uv_handle_t *)&y->async, free_on_close);
}
