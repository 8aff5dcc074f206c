/*
 * metrics.h - the counters behind GET /metrics, owned by the server context.
 * Plain integers updated on the event loop thread; rendered in Prometheus
 * text format on request.
 */
#ifndef ROOMD_METRICS_H
#define ROOMD_METRICS_H

#include "buf.h"
#include "op.h"
#include "proto.h"

/* Commit-batch latency buckets, microseconds (Prometheus "le" bounds). */
#define METRICS_COMMIT_BUCKETS 12

typedef struct metrics {
	uint64_t conns_opened;        /* WebSocket connections accepted */
	uint64_t conns_closed;
	uint64_t conns_refused;       /* upgrades refused (400/401/403/429/503) */
	uint64_t refused_rate;        /* 429: --conn-rate of the client's IP */
	uint64_t refused_ip_conns;    /* 429: --max-conns-per-ip */
	uint64_t ops_committed;
	uint64_t ops_duplicate;   /* ops acked as dup (idempotent ops), not applied */
	uint64_t events_delivered;    /* event messages queued to recipients */
	uint64_t msgs_out;            /* all messages written */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t rejects[RK_REJ_COUNT];
	uint64_t errors[RK_ERRC_COUNT];
	uint64_t closes_4400, closes_4408, closes_4409, closes_4429, closes_4503,
		closes_4507, closes_1009;
	uint64_t cursors_dropped;
	uint64_t commit_batches;
	uint64_t commit_buckets[METRICS_COMMIT_BUCKETS + 1]; /* last = +Inf */
	double commit_sum_s;
	uint64_t room_loads, room_hibernations;
	uint64_t alarms_fired;
	uint64_t http_ops;            /* ops submitted by POST /v1/rooms/<room>/ops */
} metrics;

void metrics_observe_commit(metrics *m, int64_t us);

/* Append the Prometheus exposition; gauges are passed in. */
void metrics_render(const metrics *m, rk_buf *b, uint64_t conns_now,
		    uint64_t rooms_loaded, uint64_t rooms_hibernated);
/* The process-wide limits: refusals by reason, and the per-IP table. */
void metrics_render_limits(const metrics *m, rk_buf *b, uint64_t ip_entries,
			   uint64_t ip_table_full);

#endif
