/*
 * lease.h - cluster mode's node liveness (--pg): a heartbeat job on a
 * worker thread (worker.h) with its own PostgreSQL connection, every
 * lease/4. Each beat records this node alive (store_pg_heartbeat) and
 * reports to the loop what it learnt:
 *   - wanted: rooms this node owns that another node asked for (the
 *     router sends their clients there now): the server hands them over;
 *   - owned: after a gap (this node was paused or cut off for more than
 *     half a lease, so others may have taken rooms over), the rooms it
 *     still owns with their tokens: a loaded room missing from it, or with
 *     another token, is lost (its clients are closed with 1001);
 *   - lost: no beat succeeded for a whole lease: every loaded room may be
 *     another node's by now, so all are dropped (reported once per outage);
 *   - orphans: rooms with a pending alarm whose owner is dead (every 4th
 *     beat): the server loads them so the alarm fires, on one node.
 * The next beat is queued once the loop has the report, so beats never
 * pile up behind a slow database.
 */
#ifndef ROOMD_LEASE_H
#define ROOMD_LEASE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "rk_common.h"

typedef struct lease lease;

typedef struct lease_room {
	char room[RK_ROOM_ID_MAX + 1];
	int64_t token;
} lease_room;

/* One beat's report; valid during the callback only. */
typedef struct lease_report {
	bool lost;    /* no beat for a lease: drop every loaded room */
	bool checked; /* owned[] is the complete list of rooms owned */
	const lease_room *owned;
	size_t nowned;
	const lease_room *wanted; /* token: the one owned under */
	size_t nwanted;
	const lease_room *orphans; /* token unused */
	size_t norphans;
} lease_report;

typedef void (*lease_report_fn)(void *arg, const lease_report *rep);

/* Connect, release every room a previous run of this node held (it has
 * none of their state now), and beat once, synchronously (at startup,
 * before roomd accepts: a node whose database cannot be reached does not
 * start). RK_OK, or
 * RK_EIO with libpq's message in err. */
rk_err lease_first_beat(const char *url, const char *node, int timeout_ms, char *err,
			size_t errlen) RK_WARN_UNUSED;
/* Start beating every lease_ms / 4 on a thread; url and node copied. NULL
 * if out of memory or the thread cannot start. */
lease *lease_start(uv_loop_t *loop, const char *url, const char *node, int lease_ms,
		   int timeout_ms, lease_report_fn report, void *arg) RK_WARN_UNUSED;
/* Stop beating (a beat in flight finishes; no report after this). NULL is
 * fine. */
void lease_stop(lease *l);

#endif
