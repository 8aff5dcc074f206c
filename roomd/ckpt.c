/* ckpt.c - WAL checkpoints on a background thread. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include "ckpt.h"
#include "log.h"

typedef struct job {
	struct job *next;
	char path[];
} job;

struct ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *head, *tail;
	bool stop;
	uint64_t done;
};

static void run_one(const char *path)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) ==
	    SQLITE_OK) {
		int log = 0, ckpted = 0;
		int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
						   &ckpted);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			rk_warn("checkpoint %s: %s", path, sqlite3_errmsg(db));
		else
			rk_debug("checkpoint %s: %d/%d frames", path, ckpted, log);
	}
	/* Checkpoint-on-close is allowed here: this is not the loop thread. */
	sqlite3_close_v2(db);
}

static void *ckpt_main(void *arg)
{
	ckpt *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->head && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (!c->head)
			break;
		job *j = c->head;
		c->head = j->next;
		if (!c->head)
			c->tail = NULL;
		pthread_mutex_unlock(&c->mu);
		run_one(j->path);
		free(j);
		pthread_mutex_lock(&c->mu);
		c->done++;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

ckpt *ckpt_start(void)
{
	ckpt *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

void ckpt_request(ckpt *c, const char *path)
{
	size_t n = strlen(path) + 1;
	pthread_mutex_lock(&c->mu);
	for (job *j = c->head; j; j = j->next) {
		if (strcmp(j->path, path) == 0) {
			pthread_mutex_unlock(&c->mu);
			return; /* already queued */
		}
	}
	job *j = malloc(sizeof(*j) + n);
	if (j) {
		j->next = NULL;
		memcpy(j->path, path, n);
		if (c->tail)
			c->tail->next = j;
		else
			c->head = j;
		c->tail = j;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
}

uint64_t ckpt_done(ckpt *c)
{
	pthread_mutex_lock(&c->mu);
	uint64_t d = c->done;
	pthread_mutex_unlock(&c->mu);
	return d;
}

void ckpt_stop(ckpt *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}
