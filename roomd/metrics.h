/*
 * metrics.h - the counters behind GET /metrics, owned by the server context.
 * Plain integers updated on the event loop thread; rendered in Prometheus
 * text format on request.
 */
#ifndef ROOMD_METRICS_H
#define ROOMD_METRICS_H

#include "buf.h"
#include "ckpt.h"
#include "op.h"
#include "proto.h"

/*
 * Every close code roomd sends (PROTOCOL.md section 9), in one table: the
 * enum, the index of its counter, and whether /metrics shows it
 * (roomd_closes_total{code=...}). conn_close takes one of these and counts
 * it once, when it is the connection's close (the first reason sticks).
 *   X(name, code, shown)
 */
#define ROOMD_CLOSES(X)                                                                  \
	X(CLOSE_SHUTDOWN, 1001, false) /* server shutting down (drain) */                \
	X(CLOSE_TOO_BIG, 1009, true)   /* message larger than --max-frame */             \
	X(CLOSE_RETRY, 1013, true)     /* cluster: room moving between nodes */          \
	X(CLOSE_INTERNAL, 1011,                                                          \
	  false)		 /* out of memory, storage error, room unavailable */    \
	X(CLOSE_BAD, 4400, true) /* too many bad messages; identity refused */           \
	X(CLOSE_DELETED, 4404, true)	/* room deleted */                               \
	X(CLOSE_IDLE, 4408, true)	/* idle timeout */                               \
	X(CLOSE_FULL, 4409, true)	/* room full */                                  \
	X(CLOSE_RATE, 4429, true)	/* rate limit exceeded repeatedly */             \
	X(CLOSE_OVERLOADED, 4503, true) /* --max-conns */                                \
	X(CLOSE_SLOW, 4507, true)	/* slow consumer: --max-queue */

typedef enum roomd_close {
#define ROOMD_CLOSE_ENUM(name, code, shown) name = code,
	ROOMD_CLOSES(ROOMD_CLOSE_ENUM)
#undef ROOMD_CLOSE_ENUM
} roomd_close;

enum {
#define ROOMD_CLOSE_ONE(name, code, shown) +1
	METRICS_CLOSES = 0 ROOMD_CLOSES(ROOMD_CLOSE_ONE)
#undef ROOMD_CLOSE_ONE
};

/* Commit-batch latency buckets, microseconds (Prometheus "le" bounds). */
#define METRICS_COMMIT_BUCKETS 12

typedef struct metrics {
	uint64_t conns_opened; /* WebSocket connections accepted */
	uint64_t conns_closed;
	uint64_t conns_refused;	   /* upgrades refused (400/401/403/429/503) */
	uint64_t refused_rate;	   /* 429: --conn-rate of the client's IP */
	uint64_t refused_ip_conns; /* 429: --max-conns-per-ip */
	uint64_t ops_committed;
	uint64_t ops_duplicate;	   /* ops acked as dup (idempotent ops), not applied */
	uint64_t events_delivered; /* event messages queued to recipients */
	uint64_t msgs_out;	   /* all messages written */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t rejects[RK_REJ_COUNT];
	uint64_t errors[RK_ERRC_COUNT];
	uint64_t closes[METRICS_CLOSES]; /* by ROOMD_CLOSES row: metrics_count_close */
	uint64_t cursors_dropped;
	uint64_t commit_batches;
	uint64_t commit_buckets[METRICS_COMMIT_BUCKETS + 1]; /* last = +Inf */
	double commit_sum_s;
	uint64_t room_loads, room_hibernations;
	uint64_t room_dozes, room_wakes; /* handles closed while quiet, reopened */
	uint64_t room_files_created;	 /* new rooms' files, at their first commit */
	uint64_t alarms_fired;
	uint64_t http_ops;	       /* ops submitted by POST /v1/rooms/<room>/ops */
	uint64_t rooms_deleted;	       /* DELETE /v1/rooms/<room> accepted */
	uint64_t room_delete_failures; /* files that could not be removed */
	/* Cluster mode (--pg) */
	uint64_t cluster_takeovers; /* rooms acquired from a node whose lease expired */
	uint64_t cluster_lost;	    /* rooms dropped: lease lost / not owned */
	uint64_t cluster_handovers; /* rooms released to a node that asked */
} metrics;

/* Count one batch commit that took us microseconds (the histogram). */
void metrics_observe_commit(metrics *m, int64_t us);
/* Count one connection closed with code (conn_close, the one caller). */
void metrics_count_close(metrics *m, roomd_close code);
/* The count of code so far. */
uint64_t metrics_closes(const metrics *m, roomd_close code);

/* Append the Prometheus exposition; gauges are passed in. */
void metrics_render(const metrics *m, rk_buf *b, uint64_t conns_now,
		    uint64_t rooms_loaded, uint64_t rooms_hibernated);
/* Storage: the checkpointer's counters (ckpt.h) and room deletions. */
void metrics_render_storage(const metrics *m, rk_buf *b, const ckpt_stats *ck);
/* Cluster mode: rooms owned (loaded under a token), the ownership
 * counters and the group commit's (pgcommit.h). */
struct pgcommit_stats;
void metrics_render_cluster(const metrics *m, rk_buf *b, uint64_t owned,
			    const struct pgcommit_stats *pc);
/* The process-wide limits: refusals by reason, and the per-IP table. */
void metrics_render_limits(const metrics *m, rk_buf *b, uint64_t ip_entries,
			   uint64_t ip_table_full);

#endif
