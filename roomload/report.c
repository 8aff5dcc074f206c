/*
 * report.c - what roomload tells the user: one progress line per second on
 * stderr, the final report (human text, or one JSON object with --json) and
 * the pass/fail checks that decide the exit status.
 */
#include "load.h"
#include "proto.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double ms(int64_t us)
{
	return (double)us / 1000.0;
}

static const char *const phase_names[] = {"connect", "run", "drain", "close", "end"};

bool report_csv_open(load *ld)
{
	if (!ld->cfg.csv[0])
		return true;
	ld->csv = fopen(ld->cfg.csv, "w");
	if (!ld->csv) {
		fprintf(stderr, "Error: cannot write --csv %s: %s\n", ld->cfg.csv,
			strerror(errno));
		return false;
	}
	fputs("time_s,phase,connections,sent,delivered,acks,errors,violations,"
	      "p50_ms,p99_ms\n",
	      ld->csv);
	return true;
}

void report_csv_close(load *ld)
{
	if (ld->csv) {
		fclose(ld->csv);
		ld->csv = NULL;
	}
}

void report_interval(load *ld, int64_t now_ns)
{
	const counters *c = &ld->c, *p = &ld->c_prev;
	double dt = (double)(now_ns - ld->last_progress_ns) / 1e9;
	if (dt <= 0)
		dt = 1;
	uint64_t errors = c->connect_failed + c->closed_by_server + c->server_errors +
			  c->decode_errors + c->rejected;
	uint64_t perrors = p->connect_failed + p->closed_by_server + p->server_errors +
			   p->decode_errors + p->rejected;
	uint64_t sent = c->sent + c->cursors_sent - p->sent - p->cursors_sent;
	uint64_t delivered = c->events + c->cursors_recv - p->events - p->cursors_recv;
	/* Open now: welcomed, less those closed for good and those dropped
	 * and not back yet (--reconnect). */
	unsigned long long conns =
	    c->established - c->closed_by_server - (c->drops - c->recovered);
	double t = (double)(now_ns - ld->t0_ns) / 1e9;
	if (!ld->cfg.quiet)
		fprintf(stderr,
			"[%6.1fs] %-7s conns %llu/%u  sent/s %.0f  delivered/s %.0f  "
			"p99 %.2f ms  errors %llu  violations %llu\n",
			t, phase_names[ld->ph], conns, ld->nclients, (double)sent / dt,
			(double)delivered / dt, ms(rk_hist_pct(&ld->h_win, 99)),
			(unsigned long long)errors, (unsigned long long)ld->chk.total);
	if (ld->csv) {
		fprintf(ld->csv, "%.3f,%s,%llu,%llu,%llu,%llu,%llu,%llu,%.3f,%.3f\n", t,
			phase_names[ld->ph], conns, (unsigned long long)sent,
			(unsigned long long)delivered,
			(unsigned long long)(c->acked - p->acked),
			(unsigned long long)(errors - perrors),
			(unsigned long long)ld->chk.total,
			ms(rk_hist_pct(&ld->h_win, 50)), ms(rk_hist_pct(&ld->h_win, 99)));
		fflush(ld->csv);
	}
	ld->c_prev = ld->c;
	rk_hist_init(&ld->h_win);
}

static double tv_us(struct timeval tv)
{
	return (double)tv.tv_sec * 1e6 + (double)tv.tv_usec;
}

/* Everything the report prints, computed once. */
typedef struct summary {
	double run_s; /* run phase length (send window) */
	double deliveries_per_s;
	double acks_per_s;
	double cpu_s;		 /* user + system, whole run */
	double cpu_us_per_event; /* per received event (or message if no events) */
	double cpu_us_per_msg;	 /* per received message of any kind */
	long rss_kb;		 /* peak resident set */
	double connect_all_s;	 /* from start to the last welcome */
} summary;

static void summarize(const load *ld, summary *s)
{
	memset(s, 0, sizeof(*s));
	int64_t end =
	    ld->run_end_ns > ld->run_start_ns ? ld->run_end_ns : ld->run_start_ns;
	s->run_s = (double)(end - ld->run_start_ns) / 1e9;
	if (s->run_s > 0) {
		s->deliveries_per_s = (double)ld->c.events / s->run_s;
		s->acks_per_s = (double)ld->c.acked / s->run_s;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	s->cpu_s = (tv_us(ru.ru_utime) - tv_us(ld->ru0.ru_utime) + tv_us(ru.ru_stime) -
		    tv_us(ld->ru0.ru_stime)) /
		       1e6 +
		   ld->cpu_extra_s;
	uint64_t ev = ld->c.events + ld->c.cursors_recv;
	if (ev)
		s->cpu_us_per_event = s->cpu_s * 1e6 / (double)ev;
	if (ld->c.msgs_recv)
		s->cpu_us_per_msg = s->cpu_s * 1e6 / (double)ld->c.msgs_recv;
	s->rss_kb = ru.ru_maxrss + ld->rss_extra_kb;
	if (ld->connect_done_ns)
		s->connect_all_s = (double)(ld->connect_done_ns - ld->t0_ns) / 1e9;
}

/* ---- checks ----------------------------------------------------------- */

/* Print each failed check on stderr; return the exit status. */
static int checks(const load *ld)
{
	const load_config *cfg = &ld->cfg;
	int rc = 0;
	if (ld->chk.total) {
		fprintf(stderr, "FAILED: %llu ordering violations\n",
			(unsigned long long)ld->chk.total);
		rc = 1;
	}
	if (ld->c.connect_failed || ld->c.established < ld->nclients) {
		fprintf(stderr, "FAILED: %llu of %u connections established (%s)\n",
			(unsigned long long)ld->c.established, ld->nclients,
			ld->first_connect_error[0] ? ld->first_connect_error
						   : "not all attempted");
		rc = 1;
	}
	if (ld->c.closed_by_server) {
		fprintf(stderr, "FAILED: %llu connections closed by the server\n",
			(unsigned long long)ld->c.closed_by_server);
		rc = 1;
	}
	if (ld->c.unrecovered) {
		fprintf(stderr,
			"FAILED: %llu dropped connections were not back when the run "
			"ended\n",
			(unsigned long long)ld->c.unrecovered);
		rc = 1;
	}
	if (cfg->reconnect && ld->c.unanswered_end) {
		fprintf(
		    stderr,
		    "FAILED: %llu ops were never answered (no ack, reject or replayed "
		    "event, resends included)\n",
		    (unsigned long long)ld->c.unanswered_end);
		rc = 1;
	}
	if (cfg->max_p99_ms >= 0) {
		double a = ms(rk_hist_pct(&ld->h_ack, 99));
		double d = ms(rk_hist_pct(&ld->h_delivery, 99));
		if (ld->h_ack.n == 0 && ld->h_delivery.n == 0) {
			fprintf(stderr, "FAILED: --max-p99: no latency was measured\n");
			rc = 1;
		}
		if (a > cfg->max_p99_ms || d > cfg->max_p99_ms) {
			fprintf(stderr,
				"FAILED: p99 ack %.3f ms / delivery %.3f ms above "
				"--max-p99 %g ms\n",
				a, d, cfg->max_p99_ms);
			rc = 1;
		}
	}
	if (cfg->min_delivered >= 0 && ld->c.events < (uint64_t)cfg->min_delivered) {
		fprintf(stderr, "FAILED: %llu events delivered, --min-delivered %lld\n",
			(unsigned long long)ld->c.events, cfg->min_delivered);
		rc = 1;
	}
	return rc;
}

/* ---- text ------------------------------------------------------------- */

static void text_lat(FILE *f, const char *name, const rk_hist *h)
{
	if (!h->n) {
		fprintf(f, "  %-9s -\n", name);
		return;
	}
	fprintf(f,
		"  %-9s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms  (%llu "
		"samples)\n",
		name, ms(rk_hist_pct(h, 50)), ms(rk_hist_pct(h, 90)),
		ms(rk_hist_pct(h, 99)), ms(rk_hist_pct(h, 99.9)), ms(h->max),
		(unsigned long long)h->n);
}

static void report_text(const load *ld, const summary *s, FILE *f)
{
	const load_config *cfg = &ld->cfg;
	const counters *c = &ld->c;
	fprintf(f,
		"====== roomload %s: %d rooms x %d clients, %g msg/s per client, %g s "
		"======\n",
		scenario_name(cfg->sc), cfg->rooms, cfg->clients, cfg->rate,
		cfg->duration);
	fprintf(f,
		"connections: %llu/%u established, %llu failed, %llu closed by server; "
		"all connected in %.2f s\n",
		(unsigned long long)c->established, ld->nclients,
		(unsigned long long)c->connect_failed,
		(unsigned long long)c->closed_by_server, s->connect_all_s);
	fprintf(f, "connect:   p50 %.3f  p99 %.3f  max %.3f ms\n",
		ms(rk_hist_pct(&ld->h_connect, 50)), ms(rk_hist_pct(&ld->h_connect, 99)),
		ms(ld->h_connect.max));
	fprintf(f, "ops:       %llu sent, %llu acked, %llu rejected (+%llu setup)\n",
		(unsigned long long)c->sent, (unsigned long long)c->acked,
		(unsigned long long)c->rejected, (unsigned long long)c->setup_ops);
	fprintf(
	    f, "events:    %llu delivered, %.0f deliveries/s, %.0f acks/s over %.2f s\n",
	    (unsigned long long)c->events, s->deliveries_per_s, s->acks_per_s, s->run_s);
	if (c->reconnects && !cfg->reconnect)
		fprintf(
		    f,
		    "churn:     %llu reconnects, %llu resumed; %llu own ops answered by "
		    "a replayed event\n",
		    (unsigned long long)c->reconnects, (unsigned long long)c->resumed,
		    (unsigned long long)c->own_replayed);
	if (cfg->reconnect)
		fprintf(f,
			"reconnect: %llu drops, %llu reconnects (%llu resumed, %llu full "
			"state), %llu failed attempts, %llu not back; %llu ops resent, "
			"%llu ack.dup, %llu answered by a replayed event; longest outage "
			"%.0f ms\n",
			(unsigned long long)c->drops, (unsigned long long)c->reconnects,
			(unsigned long long)c->resumed, (unsigned long long)c->full_state,
			(unsigned long long)c->reconnect_failed,
			(unsigned long long)c->unrecovered, (unsigned long long)c->resent,
			(unsigned long long)c->ack_dups,
			(unsigned long long)c->own_replayed, ms(c->max_outage_us));
	if (cfg->acked_file[0])
		fprintf(f, "acked:     %llu ops written to %s\n",
			(unsigned long long)c->acked_lines, cfg->acked_file);
	if (c->cursors_sent || c->cursors_recv)
		fprintf(f, "cursors:   %llu sent, %llu relayed\n",
			(unsigned long long)c->cursors_sent,
			(unsigned long long)c->cursors_recv);
	fprintf(f, "latency:\n");
	text_lat(f, "ack", &ld->h_ack);
	text_lat(f, "delivery", &ld->h_delivery);
	if (ld->h_cursor.n)
		text_lat(f, "cursor", &ld->h_cursor);
	if (ld->h_lag.n)
		text_lat(f, "send lag", &ld->h_lag);
	fprintf(f, "rejects:  ");
	bool any = false;
	for (int i = 1; i < RK_REJ_COUNT; i++) {
		if (c->rejects[i]) {
			fprintf(f, " %s %llu", rk_reject_name((rk_reject)i),
				(unsigned long long)c->rejects[i]);
			any = true;
		}
	}
	fprintf(f, "%s\ncloses:   ", any ? "" : " none");
	for (int i = 0; i < c->ncloses; i++)
		fprintf(f, " %d x%llu", c->closes[i].code,
			(unsigned long long)c->closes[i].n);
	fprintf(f, "%s\n", c->ncloses ? "" : " none");
	fprintf(f,
		"errors:    %llu server error messages, %llu undecodable, %llu foreign "
		"events\n",
		(unsigned long long)c->server_errors,
		(unsigned long long)c->decode_errors,
		(unsigned long long)c->foreign_events);
	fprintf(f, "ordering:  %llu violations", (unsigned long long)ld->chk.total);
	for (int k = 0; k < CHK_KIND_COUNT; k++)
		if (ld->chk.counts[k])
			fprintf(f, ", %s %llu", chk_kind_name((chk_kind)k),
				(unsigned long long)ld->chk.counts[k]);
	fprintf(f, " (%llu observations outside the check window)\n",
		(unsigned long long)ld->chk.unchecked);
	for (int i = 0; i < ld->chk.nfirst; i++)
		fprintf(f, "  %s\n", ld->chk.first[i]);
	fprintf(f,
		"cpu:       %.2f s, %.2f us per received event, %.2f us per message; "
		"peak RSS %ld KiB\n",
		s->cpu_s, s->cpu_us_per_event, s->cpu_us_per_msg, s->rss_kb);
}

/* ---- JSON ------------------------------------------------------------- */

static cJSON *json_lat(const rk_hist *h)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "count", (double)h->n);
	cJSON_AddNumberToObject(o, "p50", ms(rk_hist_pct(h, 50)));
	cJSON_AddNumberToObject(o, "p90", ms(rk_hist_pct(h, 90)));
	cJSON_AddNumberToObject(o, "p99", ms(rk_hist_pct(h, 99)));
	cJSON_AddNumberToObject(o, "p99_9", ms(rk_hist_pct(h, 99.9)));
	cJSON_AddNumberToObject(o, "max", ms(h->max));
	cJSON_AddNumberToObject(o, "mean", rk_hist_mean(h) / 1000.0);
	return o;
}

static void report_json(const load *ld, const summary *s, int rc)
{
	const load_config *cfg = &ld->cfg;
	const counters *c = &ld->c;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "scenario", scenario_name(cfg->sc));
	cJSON_AddStringToObject(o, "url", cfg->url);
	cJSON_AddNumberToObject(o, "rooms", cfg->rooms);
	cJSON_AddNumberToObject(o, "clients_per_room", cfg->clients);
	cJSON_AddNumberToObject(o, "rate", cfg->rate);
	cJSON_AddNumberToObject(o, "duration_s", cfg->duration);
	cJSON_AddNumberToObject(o, "run_s", s->run_s);
	cJSON *cn = cJSON_AddObjectToObject(o, "connections");
	cJSON_AddNumberToObject(cn, "target", ld->nclients);
	cJSON_AddNumberToObject(cn, "established", (double)c->established);
	cJSON_AddNumberToObject(cn, "failed", (double)c->connect_failed);
	cJSON_AddNumberToObject(cn, "closed_by_server", (double)c->closed_by_server);
	cJSON_AddNumberToObject(cn, "connect_all_s", s->connect_all_s);
	cJSON *ct = cJSON_AddObjectToObject(cn, "connect_ms");
	cJSON_AddNumberToObject(ct, "p50", ms(rk_hist_pct(&ld->h_connect, 50)));
	cJSON_AddNumberToObject(ct, "p99", ms(rk_hist_pct(&ld->h_connect, 99)));
	cJSON_AddNumberToObject(ct, "max", ms(ld->h_connect.max));
	cJSON_AddNumberToObject(o, "ops_sent", (double)c->sent);
	cJSON_AddNumberToObject(o, "ops_acked", (double)c->acked);
	cJSON_AddNumberToObject(o, "ops_rejected", (double)c->rejected);
	cJSON_AddNumberToObject(o, "setup_ops", (double)c->setup_ops);
	cJSON_AddNumberToObject(o, "events_delivered", (double)c->events);
	cJSON_AddNumberToObject(o, "deliveries_per_s", s->deliveries_per_s);
	cJSON_AddNumberToObject(o, "acks_per_s", s->acks_per_s);
	cJSON_AddNumberToObject(o, "cursors_sent", (double)c->cursors_sent);
	cJSON_AddNumberToObject(o, "cursors_relayed", (double)c->cursors_recv);
	cJSON_AddNumberToObject(o, "foreign_events", (double)c->foreign_events);
	cJSON_AddNumberToObject(o, "reconnects", (double)c->reconnects);
	cJSON_AddNumberToObject(o, "resumed", (double)c->resumed);
	cJSON_AddNumberToObject(o, "own_replayed", (double)c->own_replayed);
	cJSON_AddNumberToObject(o, "full_state_welcomes", (double)c->full_state);
	cJSON_AddNumberToObject(o, "drops", (double)c->drops);
	cJSON_AddNumberToObject(o, "reconnect_failed", (double)c->reconnect_failed);
	cJSON_AddNumberToObject(o, "unrecovered", (double)c->unrecovered);
	cJSON_AddNumberToObject(o, "resent", (double)c->resent);
	cJSON_AddNumberToObject(o, "ack_dups", (double)c->ack_dups);
	cJSON_AddNumberToObject(o, "max_outage_ms", ms(c->max_outage_us));
	cJSON_AddNumberToObject(o, "unanswered_at_end", (double)c->unanswered_end);
	cJSON_AddNumberToObject(o, "acked_file_lines", (double)c->acked_lines);
	cJSON *lat = cJSON_AddObjectToObject(o, "latency_ms");
	cJSON_AddItemToObject(lat, "ack", json_lat(&ld->h_ack));
	cJSON_AddItemToObject(lat, "delivery", json_lat(&ld->h_delivery));
	cJSON_AddItemToObject(lat, "cursor", json_lat(&ld->h_cursor));
	cJSON_AddItemToObject(lat, "send_lag", json_lat(&ld->h_lag));
	cJSON *rj = cJSON_AddObjectToObject(o, "rejects");
	for (int i = 1; i < RK_REJ_COUNT; i++)
		cJSON_AddNumberToObject(rj, rk_reject_name((rk_reject)i),
					(double)c->rejects[i]);
	cJSON *cl = cJSON_AddObjectToObject(o, "closes");
	for (int i = 0; i < c->ncloses; i++) {
		char k[16];
		snprintf(k, sizeof(k), "%d", c->closes[i].code);
		cJSON_AddNumberToObject(cl, k, (double)c->closes[i].n);
	}
	cJSON *er = cJSON_AddObjectToObject(o, "errors");
	cJSON_AddNumberToObject(er, "server_errors", (double)c->server_errors);
	cJSON_AddNumberToObject(er, "undecodable", (double)c->decode_errors);
	cJSON *v = cJSON_AddObjectToObject(o, "violations");
	cJSON_AddNumberToObject(v, "total", (double)ld->chk.total);
	for (int k = 0; k < CHK_KIND_COUNT; k++)
		cJSON_AddNumberToObject(v, chk_kind_name((chk_kind)k),
					(double)ld->chk.counts[k]);
	cJSON_AddNumberToObject(v, "unchecked", (double)ld->chk.unchecked);
	cJSON *ex = cJSON_AddArrayToObject(v, "first");
	for (int i = 0; i < ld->chk.nfirst; i++)
		cJSON_AddItemToArray(ex, cJSON_CreateString(ld->chk.first[i]));
	cJSON_AddNumberToObject(o, "cpu_s", s->cpu_s);
	cJSON_AddNumberToObject(o, "cpu_us_per_event", s->cpu_us_per_event);
	cJSON_AddNumberToObject(o, "cpu_us_per_msg", s->cpu_us_per_msg);
	cJSON_AddNumberToObject(o, "rss_kb", (double)s->rss_kb);
	cJSON_AddBoolToObject(o, "passed", rc == 0);
	char *txt = cJSON_PrintUnformatted(o);
	if (txt) {
		fputs(txt, stdout);
		fputc('\n', stdout);
		free(txt);
	}
	cJSON_Delete(o);
}

int report_final(load *ld)
{
	summary s;
	summarize(ld, &s);
	if (ld->cfg.json) {
		if (!ld->cfg.quiet)
			report_text(ld, &s, stderr);
	} else {
		report_text(ld, &s, stdout);
	}
	int rc = checks(ld);
	if (ld->cfg.json)
		report_json(ld, &s, rc);
	fflush(stdout);
	return rc;
}
