/*
 * webhook.h - webhooks (PROTOCOL.md section 11): the bodies, and the
 * delivery thread that sends them with libcurl's multi interface.
 *
 * Durability: a webhook is a row of the room file's outbox (store.h),
 * written by the loop in the transaction of what it reports (room.c), so
 * nothing committed is lost to a crash, a restart or hibernation. The
 * worker thread owns everything else:
 *   - progress: "<data>/webhooks.db", table delivered(room, epoch, upto):
 *     every row of that room file (that epoch) with id <= upto got a 2xx.
 *     Updated after each 2xx; a crash between the 2xx and the update sends
 *     that one row again (at least once: receivers drop repeats by `id`).
 *   - reading: it opens a room file with its own SQLite handle, reads the
 *     one next row (id > upto), closes it: never the loop's handle, never a
 *     write, so the loop's commits (busy timeout 0) never wait for it. The
 *     loop deletes delivered rows itself, in its next transaction on the
 *     room (webhook_delivered).
 *   - sending: per room strictly in id order, one request at a time (the
 *     next row only after the previous got a 2xx); rooms do not wait for
 *     each other; at most --webhook-concurrency requests in flight; each
 *     attempt limited by --webhook-timeout; failures retried after 250 ms,
 *     doubling up to --webhook-retry-max, with jitter (x0.5-1.0).
 *   - memory: one small record per room with a backlog, plus the body of
 *     each request in flight; the backlog itself stays on disk.
 * At start it scans the rooms directory for backlog left by an earlier run.
 */
#ifndef ROOMD_WEBHOOK_H
#define ROOMD_WEBHOOK_H

#include "buf.h"
#include "config.h"
#include "state.h"

typedef struct webhook webhook;

/* Start the worker for cfg's URL, secret and limits (cfg must outlive it).
 * NULL with the reason in err (out of memory, thread, libcurl). */
webhook *webhook_start(const roomd_config *cfg, const char *data_dir, char *err,
		       size_t errlen) RK_WARN_UNUSED;
/* Stop and join the worker (requests in flight are abandoned and retried
 * at the next start). NULL is a no-op. */
void webhook_stop(webhook *w);

/* Rows were committed to room's outbox: have the worker look (thread-safe,
 * never blocks on I/O). */
void webhook_notify(webhook *w, const char *room);
/* The highest outbox id of room (file epoch epoch) delivered, 0 if none or
 * if the worker knows another epoch (thread-safe). */
int64_t webhook_delivered(webhook *w, const char *room, const char *epoch);
/* Append the webhook metrics (Prometheus text). */
void webhook_render_metrics(webhook *w, rk_buf *b);

/* Bodies: {"id","type","room","ts","data"}. ids are stable across retries:
 * op "op:<room>:<epoch>:<seq>", poll.closed "poll.closed:<room>:<epoch>:<seq>"
 * (the seq of the close), presence "presence:<room>:<session>:join|leave". */
void webhook_enc_op(rk_buf *b, const char *room, const char *epoch, int64_t seq,
		    int64_t ts, const char *session, const char *user, const char *op_id,
		    const char *op, size_t op_len);
/* poll: encoded as in the state snapshot (rk_state_encode_poll). */
void webhook_enc_poll_closed(rk_buf *b, const char *room, const char *epoch, int64_t seq,
			     int64_t ts, const char *by, const rk_poll *p);
void webhook_enc_presence(rk_buf *b, const char *room, int64_t ts, bool join,
			  const char *session, const char *user);

#endif
