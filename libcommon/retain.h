/*
 * retain.h - which events of a room's log may be deleted (roomd
 * --retain-events, roomctl compact --keep-events).
 *
 * Idempotent ops (PROTOCOL.md section 3, revision 2) are answered
 * `ack {dup:true}` from a memory of op ids that roomd rebuilds at load from
 * the events table: the (user, op_id) of the last RK_IDEM_EVENTS events and
 * of every event within RK_IDEM_MS of the newest event's ts (roomd/opids.h
 * OPIDS_KEEP_OPS, OPIDS_KEEP_MS). Deleting an event inside that window would
 * make a retried op commit twice, so nothing may.
 */
#ifndef RK_RETAIN_H
#define RK_RETAIN_H

#include "rk_common.h"

#define RK_IDEM_EVENTS 10000		/* the last 10,000 events */
#define RK_IDEM_EVENTS_STR "10000"	/* the same, for messages */
#define RK_IDEM_MS (24LL * 3600 * 1000) /* and 24 h before the newest */

/*
 * The highest seq whose event may be deleted when the log ends at last_seq,
 * the caller wants to keep the last keep events (keep >= 0), and
 * first_recent is the lowest seq of an event with ts >= (the newest
 * event's ts) - RK_IDEM_MS (last_seq + 1 if there is none). Never above last_seq -
 * RK_IDEM_EVENTS, never at or above first_recent. Returns 0 (nothing may go) or more.
 * This function can't fail.
 */
int64_t rk_retain_cut(int64_t last_seq, int64_t keep, int64_t first_recent);

#endif
