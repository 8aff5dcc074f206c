/*
 * pgcommit.h - cluster mode's commits (--pg): the batches that room handles
 * staged (libstore pg.h: store_commit records, store_pg_take hands over) go
 * to PostgreSQL in rounds on one worker thread (worker.h) with its own
 * connection. Every batch that arrives while a round is in flight joins the
 * next round, so one round commits every room that got dirty since the
 * last, in one transaction and one round trip (store_pg_commit_group): the
 * group commit across rooms.
 *
 * A round that fails (PostgreSQL down or restarting) is tried again, first
 * in the queue, with a backoff of 50 ms doubling to 1 s, on a new
 * connection when the old one broke, until it commits: nothing is
 * acknowledged meanwhile (the rooms' output gates stay shut) and nothing
 * is lost or doubled (a repeated commit is idempotent by token and seq).
 * A fenced batch (another node owns its room now) is reported, never
 * retried.
 *
 * Releases (a room handed over to another node) are done by the round they
 * were queued into, after its batches: a room's last batch is committed
 * before another node may take it.
 *
 * Threads: pgcommit_* run on the loop thread; results arrive there through
 * the worker's uv_async_t, one `done` call per batch, in commit order.
 */
#ifndef ROOMD_PGCOMMIT_H
#define ROOMD_PGCOMMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "pg.h"
#include "rk_common.h"

typedef struct pgcommit pgcommit;

/* room's batch up to seq (under token) is committed (fenced false: durable,
 * its output may leave) or was refused because another node holds the room
 * now (fenced true: nothing of it was written). */
typedef void (*pgcommit_done_fn)(void *arg, const char *room, int64_t token, int64_t seq,
				 bool fenced);

/* What /metrics shows (updated on the loop thread). */
typedef struct pgcommit_stats {
	uint64_t rounds, batches, fenced, retries;
	uint64_t buckets[13]; /* round latency: le 0.5,1,2,5,10,20,50,100,200,
			       * 500,1000,5000 ms, +Inf */
	double sum_s;
} pgcommit_stats;

/* Start the thread (it connects on its first round). url, node: copied.
 * NULL if out of memory or the thread cannot start. */
pgcommit *pgcommit_start(uv_loop_t *loop, const char *url, const char *node,
			 int timeout_ms, pgcommit_done_fn done, void *arg) RK_WARN_UNUSED;
/* Queue b (a room's staged batches under token) for the next round. RK_OK
 * (b is pgcommit's) or RK_ENOMEM (b stays the caller's). Never blocks. */
rk_err pgcommit_submit(pgcommit *p, store_pg_batch *b, int64_t token) RK_WARN_UNUSED;
/* Queue the release of room (held under token) after every batch queued so
 * far. RK_OK or RK_ENOMEM. */
rk_err pgcommit_release(pgcommit *p, const char *room, int64_t token) RK_WARN_UNUSED;
/* Block until every queued round committed, delivering the results (the
 * admin path and shutdown). While PostgreSQL is down this waits for it. */
void pgcommit_flush(pgcommit *p);
const pgcommit_stats *pgcommit_get_stats(const pgcommit *p);
/* The last round failed and none has committed since (PostgreSQL down or
 * unreachable): the admin paths answer 503 instead of waiting for it on
 * the loop. Any thread. */
bool pgcommit_failing(pgcommit *p);
/* A drain: from now on a round still failing ms from now is dropped (its
 * batches not committed and never acknowledged; pgcommit_dropped counts
 * them), so a node told to stop while PostgreSQL is down stops. */
void pgcommit_give_up_after(pgcommit *p, int ms);
/* Batches dropped so far (pgcommit_give_up_after). */
uint64_t pgcommit_dropped(const pgcommit *p);
/* Stop the thread (queued rounds are tried once more, not delivered); with
 * leave, then release every room of the node and remove it from rk_nodes
 * (store_pg_leave: a drain, so others take its rooms at once). NULL is
 * fine. */
void pgcommit_stop(pgcommit *p, bool leave);

#endif
