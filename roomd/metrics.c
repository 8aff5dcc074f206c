/* metrics.c - Prometheus text rendering of roomd's counters. */
#include "metrics.h"
#include "pgcommit.h"

static const int64_t commit_bounds_us[METRICS_COMMIT_BUCKETS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 500000,
};

void metrics_observe_commit(metrics *m, int64_t us)
{
	size_t i = 0;
	while (i < METRICS_COMMIT_BUCKETS && us > commit_bounds_us[i])
		i++;
	m->commit_buckets[i]++;
	m->commit_batches++;
	m->commit_sum_s += (double)us / 1e6;
}

static const struct {
	roomd_close code;
	bool shown;
} close_rows[METRICS_CLOSES] = {
#define ROOMD_CLOSE_ROW(name, code, shown) {name, shown},
    ROOMD_CLOSES(ROOMD_CLOSE_ROW)
#undef ROOMD_CLOSE_ROW
};

static size_t close_index(roomd_close code)
{
	for (size_t i = 0; i < METRICS_CLOSES; i++)
		if (close_rows[i].code == code)
			return i;
	return 0; /* cannot happen: every code is a row */
}

void metrics_count_close(metrics *m, roomd_close code)
{
	m->closes[close_index(code)]++;
}

uint64_t metrics_closes(const metrics *m, roomd_close code)
{
	return m->closes[close_index(code)];
}

static void counter(rk_buf *b, const char *name, const char *help, uint64_t v)
{
	rk_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
		      name, (unsigned long long)v);
}

static void gauge(rk_buf *b, const char *name, const char *help, uint64_t v)
{
	rk_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name,
		      name, (unsigned long long)v);
}

void metrics_render(const metrics *m, rk_buf *b, uint64_t conns_now,
		    uint64_t rooms_loaded, uint64_t rooms_hibernated)
{
	gauge(b, "roomd_connections", "Open WebSocket connections.", conns_now);
	gauge(b, "roomd_rooms_loaded", "Rooms whose state is in memory.", rooms_loaded);
	gauge(b, "roomd_rooms_hibernated", "Known rooms whose state is not in memory.",
	      rooms_hibernated);
	counter(b, "roomd_connections_opened_total", "WebSocket connections accepted.",
		m->conns_opened);
	counter(b, "roomd_connections_closed_total", "WebSocket connections closed.",
		m->conns_closed);
	counter(b, "roomd_upgrades_refused_total",
		"WebSocket upgrades refused before the handshake.", m->conns_refused);
	counter(b, "roomd_ops_committed_total", "Ops committed to room logs.",
		m->ops_committed);
	counter(
	    b, "roomd_ops_duplicate_total",
	    "Ops whose id the user had already committed: acked with dup, not applied.",
	    m->ops_duplicate);
	counter(b, "roomd_events_delivered_total", "Event messages queued to recipients.",
		m->events_delivered);
	counter(b, "roomd_messages_out_total", "Messages written to clients.",
		m->msgs_out);
	counter(b, "roomd_bytes_in_total", "WebSocket payload bytes received.",
		m->bytes_in);
	counter(b, "roomd_bytes_out_total", "WebSocket payload bytes sent.",
		m->bytes_out);
	counter(b, "roomd_cursors_dropped_total",
		"Cursor updates dropped for slow consumers.", m->cursors_dropped);
	counter(b, "roomd_room_loads_total", "Rooms loaded from disk.", m->room_loads);
	counter(b, "roomd_room_hibernations_total", "Rooms hibernated.",
		m->room_hibernations);
	counter(b, "roomd_room_dozes_total",
		"Loaded rooms that closed their SQLite handle while quiet.",
		m->room_dozes);
	counter(b, "roomd_room_wakes_total", "Dozing rooms that reopened their handle.",
		m->room_wakes);
	counter(b, "roomd_room_files_created_total",
		"Room files created (a new room's, at its first commit).",
		m->room_files_created);
	counter(b, "roomd_alarms_fired_total", "Poll alarms fired.", m->alarms_fired);
	counter(b, "roomd_http_ops_total", "Ops submitted by POST /v1/rooms/<room>/ops.",
		m->http_ops);

	rk_buf_puts(b, "# HELP roomd_rejects_total Ops rejected, by code.\n"
		       "# TYPE roomd_rejects_total counter\n");
	for (int i = 1; i < RK_REJ_COUNT; i++)
		rk_buf_printf(b, "roomd_rejects_total{code=\"%s\"} %llu\n",
			      rk_reject_name((rk_reject)i),
			      (unsigned long long)m->rejects[i]);
	rk_buf_puts(b, "# HELP roomd_errors_total Malformed client messages, by code.\n"
		       "# TYPE roomd_errors_total counter\n");
	for (int i = 1; i < RK_ERRC_COUNT; i++)
		rk_buf_printf(b, "roomd_errors_total{code=\"%s\"} %llu\n",
			      rk_errcode_name((rk_errcode)i),
			      (unsigned long long)m->errors[i]);
	rk_buf_puts(
	    b, "# HELP roomd_closes_total Connections closed by roomd, by close code.\n"
	       "# TYPE roomd_closes_total counter\n");
	for (size_t i = 0; i < METRICS_CLOSES; i++)
		if (close_rows[i].shown)
			rk_buf_printf(b, "roomd_closes_total{code=\"%d\"} %llu\n",
				      (int)close_rows[i].code,
				      (unsigned long long)m->closes[i]);

	rk_buf_puts(b, "# HELP roomd_commit_seconds Latency of one batch commit to a "
		       "room file (SQLite; cluster mode: roomd_pg_commit_seconds).\n"
		       "# TYPE roomd_commit_seconds histogram\n");
	uint64_t cum = 0;
	for (int i = 0; i < METRICS_COMMIT_BUCKETS; i++) {
		cum += m->commit_buckets[i];
		rk_buf_printf(b, "roomd_commit_seconds_bucket{le=\"%g\"} %llu\n",
			      (double)commit_bounds_us[i] / 1e6, (unsigned long long)cum);
	}
	cum += m->commit_buckets[METRICS_COMMIT_BUCKETS];
	rk_buf_printf(b, "roomd_commit_seconds_bucket{le=\"+Inf\"} %llu\n",
		      (unsigned long long)cum);
	rk_buf_printf(b,
		      "roomd_commit_seconds_sum %.6f\nroomd_commit_seconds_count %llu\n",
		      m->commit_sum_s, (unsigned long long)m->commit_batches);
}

void metrics_render_limits(const metrics *m, rk_buf *b, uint64_t ip_entries,
			   uint64_t ip_table_full)
{
	rk_buf_printf(
	    b,
	    "# HELP roomd_connections_refused_total Connections refused by a "
	    "process-wide limit, by reason.\n"
	    "# TYPE roomd_connections_refused_total counter\n"
	    "roomd_connections_refused_total{reason=\"max_conns\"} %llu\n"
	    "roomd_connections_refused_total{reason=\"conn_rate\"} %llu\n"
	    "roomd_connections_refused_total{reason=\"max_conns_per_ip\"} %llu\n",
	    (unsigned long long)metrics_closes(m, CLOSE_OVERLOADED),
	    (unsigned long long)m->refused_rate, (unsigned long long)m->refused_ip_conns);
	gauge(b, "roomd_ip_table_entries", "Client addresses tracked for per-IP limits.",
	      ip_entries);
	counter(b, "roomd_ip_table_full_total",
		"Upgrades admitted without per-IP limits because the table was full.",
		ip_table_full);
}

void metrics_render_storage(const metrics *m, rk_buf *b, const ckpt_stats *ck)
{
	rk_buf_printf(
	    b,
	    "# HELP roomd_wal_checkpoints_total WAL checkpoints run by the "
	    "checkpointer, by outcome (noop: nothing copied out of a non-empty WAL).\n"
	    "# TYPE roomd_wal_checkpoints_total counter\n"
	    "roomd_wal_checkpoints_total{result=\"complete\"} %llu\n"
	    "roomd_wal_checkpoints_total{result=\"partial\"} %llu\n"
	    "roomd_wal_checkpoints_total{result=\"noop\"} %llu\n"
	    "roomd_wal_checkpoints_total{result=\"failed\"} %llu\n",
	    (unsigned long long)ck->complete, (unsigned long long)ck->partial,
	    (unsigned long long)ck->noop, (unsigned long long)ck->failed);
	counter(b, "roomd_wal_checkpoint_frames_total",
		"WAL frames copied into room databases by checkpoints.", ck->frames);
	counter(b, "roomd_wal_truncations_total",
		"WALs truncated to 0 bytes (rooms that hibernated, shutdown).",
		ck->truncated);
	counter(b, "roomd_retention_events_deleted_total",
		"Events deleted by --retain-events (rooms that hibernated).",
		ck->retained);
	counter(b, "roomd_rooms_deleted_total",
		"Rooms deleted (DELETE /v1/rooms/<room>).", m->rooms_deleted);
	counter(b, "roomd_room_delete_failures_total",
		"Room deletions whose files could not be removed.",
		m->room_delete_failures);
}

void metrics_render_cluster(const metrics *m, rk_buf *b, uint64_t owned,
			    const pgcommit_stats *pc)
{
	gauge(b, "roomd_cluster_rooms_owned",
	      "Rooms this node holds loaded under its lease (cluster mode).", owned);
	counter(b, "roomd_cluster_takeovers_total",
		"Rooms taken over from a node whose lease had expired.",
		m->cluster_takeovers);
	counter(b, "roomd_cluster_fencing_rejections_total",
		"Commits refused because another node holds the room (fencing token).",
		pc->fenced);
	counter(b, "roomd_cluster_rooms_lost_total",
		"Rooms dropped because this node lost its lease or no longer owned them.",
		m->cluster_lost);
	counter(b, "roomd_cluster_handovers_total",
		"Rooms released to another node that asked for them.",
		m->cluster_handovers);
	counter(b, "roomd_pg_commit_batches_total",
		"Room batches committed to PostgreSQL.", pc->batches);
	counter(b, "roomd_pg_commit_retries_total",
		"Group commits tried again (PostgreSQL failed or was unreachable).",
		pc->retries);
	static const double le_ms[12] = {0.5, 1,   2,	5,   10,   20,
					 50,  100, 200, 500, 1000, 5000};
	rk_buf_puts(b, "# HELP roomd_pg_commit_seconds Latency of one group commit "
		       "(one transaction, one round trip, many rooms).\n"
		       "# TYPE roomd_pg_commit_seconds histogram\n");
	uint64_t cum = 0;
	for (int i = 0; i < 12; i++) {
		cum += pc->buckets[i];
		rk_buf_printf(b, "roomd_pg_commit_seconds_bucket{le=\"%g\"} %llu\n",
			      le_ms[i] / 1e3, (unsigned long long)cum);
	}
	cum += pc->buckets[12];
	rk_buf_printf(b, "roomd_pg_commit_seconds_bucket{le=\"+Inf\"} %llu\n",
		      (unsigned long long)cum);
	rk_buf_printf(b,
		      "roomd_pg_commit_seconds_sum %.6f\nroomd_pg_commit_seconds_count "
		      "%llu\n",
		      pc->sum_s, (unsigned long long)pc->rounds);
}
