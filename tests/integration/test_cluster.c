/*
 * test_cluster.c - cluster mode (issue 13, docs/CLUSTER.md) with real
 * processes: a throwaway PostgreSQL (pgtmp.h), roomd nodes started with
 * --pg/--node, HAProxy in front with the project's deploy/haproxy.cfg
 * (cluster.h), roomload --reconnect with its checker and acked-file.
 *
 *  - kill -9 of a node under load: no acked op lost, no seq gap or
 *    violation, every client resumed (no full state), the rooms served again
 *    within the lease plus a few seconds;
 *  - SIGSTOP of a room's owner past its lease, another node takes the room
 *    and commits, SIGCONT: the stale node commits nothing more (fenced) and
 *    closes its client with 1001; the log has one history;
 *  - a fourth node joins and another drains under load: rooms move, nothing
 *    lost or doubled;
 *  - PostgreSQL restarts under load: nodes stop acking, then go on without
 *    a restart, nothing acked lost;
 *  - a poll's alarm fires once, on its room's owner; one due after its
 *    owner was killed fires once, on the node that takes the room over;
 *  - a drain (SIGTERM) while PostgreSQL is down ends after --pg-timeout
 *    with exit 1, and what was never committed was never acked;
 *  - the command line: --pg without --node, with --fsync, an unreachable
 *    database.
 * After each test every room is pulled (roomctl pull) and verified
 * (roomctl verify), and roomload's acked ops are checked against the
 * pulled logs.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "clock.h"
#include "cluster.h"
#include "pgtmp.h"
#include "roomtest.h"
#include "timescale.h"

#define LEASE_MS 1500
#define LEASE_S "1500"

typedef struct world {
	pgtmp pg;
	bool pg_on;
	cl_nodes *nodes;
	hx_proc *hx;
	cl_load *load;
	char pulls[64]; /* temporary: pulled room files */
} world;

static const hx_opts quick_checks = {
    .inter_ms = 200, .fastinter_ms = 100, .fall = 2, .rise = 2};

static int setup(void **state)
{
	world *w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	if (!pgtmp_start(&w->pg)) {
		free(w);
		return -1;
	}
	w->pg_on = true;
	snprintf(w->pulls, sizeof(w->pulls), "/tmp/rk-pulls-XXXXXX");
	if (!mkdtemp(w->pulls)) {
		pgtmp_stop(&w->pg);
		free(w);
		return -1;
	}
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	world *w = *state;
	cl_load_free(w->load);
	hx_stop(w->hx);
	cl_nodes_stop(w->nodes);
	if (w->pg_on)
		pgtmp_stop(&w->pg);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", w->pulls);
	if (!getenv("RK_KEEP_TMP") && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", w->pulls);
	free(w);
	return 0;
}

/* n nodes on w's database, each with the extra arguments given (NULL-
 * terminated, may be NULL). */
static cl_nodes *start_nodes(world *w, int n, const char *const *more)
{
	const char *args[32] = {"--pg",	   w->pg.url, "--node",	     "{node}",
				"--lease", LEASE_S,   "--log-level", "info"};
	int k = 8;
	for (int i = 0; more && more[i] && k < 31; i++)
		args[k++] = more[i];
	args[k] = NULL;
	cl_nodes *c = cl_nodes_start(n, args);
	assert_non_null(c);
	return c;
}

/* HAProxy (quick health checks) in front of every node of w (reserved
 * ones included: marked down until they start). */
static void start_router(world *w)
{
	w->hx = hx_start(w->nodes->port, NULL, w->nodes->n, &quick_checks);
	assert_non_null(w->hx);
}

/* ---- the stored log ------------------------------------------------------- */

/* cl_room_db_fn: `roomctl pull` the room (once) into w->pulls. */
static bool pull_room(void *ctx, const char *room, char *path, size_t n)
{
	world *w = ctx;
	snprintf(path, n, "%s/%s.db", w->pulls, room);
	if (access(path, F_OK) == 0)
		return true;
	char out[1024];
	int rc = rt_roomctl(
	    (const char *const[]){"pull", "--pg", w->pg.url, room, "-o", path, NULL}, out,
	    sizeof(out));
	if (rc != 0)
		fprintf(stderr, "roomctl pull %s: exit %d: %s\n", room, rc, out);
	return rc == 0;
}

/* Pull and verify every room prefix0 .. prefix(n-1); returns the sum of
 * their last seqs. */
static int64_t pull_verify_all(world *w, const char *prefix, int n)
{
	int64_t total = 0;
	for (int i = 0; i < n; i++) {
		char room[64], path[256], out[2048];
		snprintf(room, sizeof(room), "%s%d", prefix, i);
		assert_true(pull_room(w, room, path, sizeof(path)));
		int rc = rt_roomctl((const char *const[]){"verify", path, NULL}, out,
				    sizeof(out));
		if (rc != 0)
			fail_msg("roomctl verify %s: exit %d: %s", room, rc, out);
		total += rt_sql_int(path, "SELECT coalesce(max(seq), 0) FROM events");
	}
	return total;
}

/* The sum over the nodes still running (only node `only` if >= 0) of a
 * /metrics series. */
static double metric_of(cl_nodes *c, int only, const char *name)
{
	double sum = 0;
	for (int i = 0; i < c->n; i++) {
		if (!c->rd[i] || !c->rd[i]->pid || (only >= 0 && i != only))
			continue;
		char *body = NULL;
		if (rt_http(c->rd[i], "/metrics", NULL, &body) != 200) {
			free(body);
			continue;
		}
		size_t len = strlen(name);
		for (char *p = body; p && *p;) {
			if (strncmp(p, name, len) == 0 && p[len] == ' ')
				sum += strtod(p + len + 1, NULL);
			p = strchr(p, '\n');
			if (p)
				p++;
		}
		free(body);
	}
	return sum;
}

static double metric_sum(cl_nodes *c, const char *name)
{
	return metric_of(c, -1, name);
}

static void sleep_ms(int ms)
{
	usleep((useconds_t)rt_scaled_ms(ms) * 1000);
}

/* roomload through HAProxy with --reconnect (rooms prefix0..), in the
 * background. */
static cl_load *start_load(world *w, const char *prefix, const char *rooms,
			   const char *clients, const char *duration,
			   const char *scenario)
{
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d", w->hx->port);
	/* --drain 20: the drain also waits out a failover of the last ops. */
	cl_load *l = cl_load_start(
	    url,
	    (const char *const[]){"--rooms", rooms, "--clients", clients, "--rate", "10",
				  "--duration", duration, "--scenario", scenario,
				  "--reconnect-every", "2", "--reconnect", "--drain",
				  "20", "--room-prefix", prefix, "-q", NULL});
	assert_non_null(l);
	return l;
}

/* roomload's report checked: exit 0 (no ordering violation, nothing lost),
 * every reconnect resumed. Returns the report (caller frees). */
static cJSON *finish_load(world *w, int timeout_ms)
{
	int status = -1;
	cJSON *rep = cl_load_wait(w->load, timeout_ms, &status);
	assert_non_null(rep);
	char *txt = cJSON_Print(rep);
	fprintf(stderr, "roomload report: %s\n", txt ? txt : "?");
	free(txt);
	assert_int_equal(status, 0);
	assert_true(cl_num(rep, "violations.total") == 0);
	assert_true(cl_num(rep, "ops_acked") > 0);
	return rep;
}

/* ---- kill -9 of a node under load ----------------------------------------- */

static void test_kill9_under_load(void **state)
{
	world *w = *state;
	w->nodes = start_nodes(w, 3, NULL);
	start_router(w);
	w->load = start_load(w, "kill-", "12", "4", "10", "chat");
	sleep_ms(3500);
	/* The node that serves kill-0 dies mid-run. */
	char victim[16];
	assert_true(hx_route(w->hx, "kill-0", victim, sizeof(victim), 2000));
	int v = cl_node_index(w->nodes, victim);
	assert_true(v >= 0);
	int64_t t0 = rk_mono_us();
	assert_int_equal(cl_node_signal(w->nodes, v, SIGKILL), 137);
	/* Another node serves kill-0 within the lease plus a few seconds. */
	char now[16] = "";
	while (rk_mono_us() - t0 < (int64_t)rt_scaled_ms(LEASE_MS + 5000) * 1000) {
		if (hx_route(w->hx, "kill-0", now, sizeof(now), 1000) &&
		    strcmp(now, victim) != 0)
			break;
		usleep(50000);
	}
	assert_string_not_equal(now, victim);
	cJSON *rep = finish_load(w, 60000);
	assert_true(cl_num(rep, "reconnects") > 0);
	/* Moves are invisible: every reconnect resumed from its seq. */
	assert_true(cl_num(rep, "full_state_welcomes") == 0);
	double outage = cl_num(rep, "max_outage_ms");
	fprintf(stderr,
		"failover: node %s killed, longest client outage %.0f ms "
		"(lease %d ms)\n",
		victim, outage, LEASE_MS);
	assert_true(outage < rt_scaled_ms(LEASE_MS + 5000));
	cJSON_Delete(rep);
	assert_true(metric_sum(w->nodes, "roomd_cluster_takeovers_total") >= 1);
	pull_verify_all(w, "kill-", 12);
	long n = cl_check_acked(w->load->acked_path, pull_room, w);
	fprintf(stderr, "%ld acked ops checked in the pulled logs\n", n);
	assert_true(n > 0);
}

/* ---- a paused owner is fenced ---------------------------------------------- */

/* Read w's messages until it closes or is silent for timeout_ms; fails the
 * test on an ack of op id (any ack if id is NULL): an op the node could not
 * commit must never be acknowledged. */
static void expect_no_ack(struct ws *w, const char *id, int timeout_ms)
{
	cJSON *m;
	while ((m = ws_recv_json(w, rt_scaled_ms(timeout_ms)))) {
		const cJSON *t = cJSON_GetObjectItem(m, "t");
		const cJSON *mid = cJSON_GetObjectItem(m, "id");
		bool ack = cJSON_IsString(t) && strcmp(t->valuestring, "ack") == 0;
		bool match =
		    !id || (cJSON_IsString(mid) && strcmp(mid->valuestring, id) == 0);
		cJSON_Delete(m);
		if (ack && match)
			fail_msg("op %s acknowledged, though it was never committed",
				 id ? id : "(any)");
	}
}

/* Join room on node i, retrying while the room is moving (1013) or the
 * node refuses it for now, up to timeout_ms. */
static struct ws *join_retry(cl_nodes *c, int i, const char *room, const char *query,
			     int timeout_ms, cJSON **welcome)
{
	int64_t end = rk_mono_us() + (int64_t)rt_scaled_ms(timeout_ms) * 1000;
	char path[256];
	snprintf(path, sizeof(path), "/ws/%s?%s", room, query);
	while (rk_mono_us() < end) {
		struct ws *ws =
		    ws_connect("127.0.0.1", c->port[i], path, "room.v1", 2000);
		if (ws) {
			cJSON *m = ws_recv_type(ws, "welcome", 3000);
			if (m) {
				*welcome = m;
				return ws;
			}
			ws_free(ws);
		}
		usleep(100000);
	}
	fail_msg("no welcome to %s on node %d in %d ms", room, i, timeout_ms);
	return NULL;
}

static void test_paused_owner_is_fenced(void **state)
{
	world *w = *state;
	w->nodes = start_nodes(w, 2, NULL);
	cJSON *wa = NULL, *wb = NULL;
	struct ws *a = rt_join(w->nodes->rd[0], "fence", "name=alice", &wa);
	assert_int_equal(rt_op(a, "a1", "{\"k\":\"chat.post\",\"text\":\"one\"}", NULL),
			 1);
	char epoch[80];
	snprintf(epoch, sizeof(epoch), "%s", rt_str(wa, "epoch"));

	/* n1 stalls; n2 gets the room once n1's lease has run out. */
	assert_int_equal(cl_node_signal(w->nodes, 0, SIGSTOP), 0);
	int64_t t0 = rk_mono_us();
	struct ws *b = join_retry(w->nodes, 1, "fence", "name=bob", LEASE_MS * 4, &wb);
	int64_t took_ms = (rk_mono_us() - t0) / 1000;
	fprintf(stderr, "n2 took the room over after %lld ms (lease %d ms)\n",
		(long long)took_ms, LEASE_MS);
	assert_true(took_ms >= LEASE_MS / 2); /* not while n1's lease held */
	/* The log is shared: same epoch, same seq. */
	assert_string_equal(rt_str(wb, "epoch"), epoch);
	assert_int_equal(rt_int(wb, "seq"), 1);
	assert_int_equal(rt_op(b, "b1", "{\"k\":\"chat.post\",\"text\":\"two\"}", NULL),
			 2);

	/* alice's op waits in n1's socket; n1 wakes up. */
	rt_send_op(a, "a2", "{\"k\":\"chat.post\",\"text\":\"stale\"}");
	assert_int_equal(cl_node_signal(w->nodes, 0, SIGCONT), 0);
	expect_no_ack(a, "a2", 10000);
	assert_int_equal(ws_last_result(a), WS_CLOSED);
	assert_int_equal(ws_close_code(a), 1001);
	/* n2 goes on. */
	assert_int_equal(rt_op(b, "b2", "{\"k\":\"chat.post\",\"text\":\"three\"}", NULL),
			 3);
	assert_true(metric_sum(w->nodes, "roomd_cluster_fencing_rejections_total") +
			metric_sum(w->nodes, "roomd_cluster_rooms_lost_total") >=
		    1);
	/* Commits are PostgreSQL's group commits; the room-file commit
	 * histogram stays empty (it would time only the staging). */
	assert_true(metric_sum(w->nodes, "roomd_pg_commit_seconds_count") >= 2);
	assert_true(metric_sum(w->nodes, "roomd_commit_seconds_count") == 0);

	/* One history: a1, b1, b2; nothing of the stale a2. */
	char path[256], out[8192];
	assert_true(pull_room(w, "fence", path, sizeof(path)));
	assert_int_equal(
	    rt_roomctl((const char *const[]){"verify", path, NULL}, out, sizeof(out)), 0);
	assert_int_equal(rt_sql_int(path, "SELECT count(*) FROM events"), 3);
	assert_int_equal(
	    rt_sql_int(path, "SELECT count(*) FROM events WHERE "
			     "op_id IN ('a1','b1','b2') AND seq = "
			     "CASE op_id WHEN 'a1' THEN 1 WHEN 'b1' THEN 2 ELSE 3 END"),
	    3);
	cJSON_Delete(wa);
	cJSON_Delete(wb);
	rt_free(a);
	rt_free(b);
}

/* ---- a node joins, another drains ------------------------------------------ */

static void test_join_and_drain_under_load(void **state)
{
	world *w = *state;
	w->nodes = start_nodes(w, 3, NULL);
	/* n4 is not running at first: HAProxy knows it, marks it down, and
	 * spreads the rooms over three. */
	int n4 = cl_node_reserve(w->nodes);
	start_router(w);
	sleep_ms(1000);
	/* Churn: clients reconnect now and then, as real ones do (networks
	 * change), so new connections reach n4 once it is up. */
	w->load = start_load(w, "move-", "16", "3", "12", "churn");
	sleep_ms(3000);
	/* n4 comes up: HAProxy sends it the new connections of its share of
	 * the rooms; their owners hand them over (and close their clients with
	 * 1001: all of a room's clients follow). */
	cl_node_restart(w->nodes, n4);
	sleep_ms(4000);
	assert_true(metric_sum(w->nodes, "roomd_cluster_handovers_total") >= 1);
	double n4_rooms = metric_of(w->nodes, n4, "roomd_cluster_rooms_owned");
	fprintf(stderr, "n4 owns %.0f of 16 rooms after it joined\n", n4_rooms);
	assert_true(n4_rooms >= 1);
	/* n2 drains: its clients are closed with 1001, its rooms released. */
	assert_int_equal(cl_node_signal(w->nodes, 1, SIGTERM), 0);
	cJSON *rep = finish_load(w, 60000);
	assert_true(cl_num(rep, "reconnects") > 0);
	assert_true(cl_num(rep, "full_state_welcomes") == 0);
	cJSON_Delete(rep);
	pull_verify_all(w, "move-", 16);
	assert_true(cl_check_acked(w->load->acked_path, pull_room, w) > 0);
}

/* ---- PostgreSQL restarts ---------------------------------------------------- */

static void test_pg_restart_under_load(void **state)
{
	world *w = *state;
	w->nodes = start_nodes(w, 2, NULL);
	start_router(w);
	w->load = start_load(w, "pgr-", "8", "3", "10", "chat");
	sleep_ms(3000);
	assert_true(pgtmp_ctl(&w->pg, "restart"));
	cJSON *rep = finish_load(w, 60000);
	cJSON_Delete(rep);
	/* The nodes retried their commits and went on without a restart. */
	assert_true(metric_sum(w->nodes, "roomd_pg_commit_retries_total") >= 1);
	for (int i = 0; i < w->nodes->n; i++)
		assert_true(w->nodes->rd[i]->pid > 0);
	pull_verify_all(w, "pgr-", 8);
	assert_true(cl_check_acked(w->load->acked_path, pull_room, w) > 0);
}

/* ---- alarms fire once, on the owner ---------------------------------------- */

/* The number of poll.close events in room's pulled log (pulled again). */
static int64_t closes_in_log(world *w, const char *room)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.db", w->pulls, room);
	unlink(path);
	assert_true(pull_room(w, room, path, sizeof(path)));
	return rt_sql_int(path, "SELECT count(*) FROM events WHERE op LIKE "
				"'%\"k\":\"poll.close\"%'");
}

/* A poll.create op for poll id closing in_ms from now, into buf. */
static const char *poll_op(char *buf, size_t n, const char *id, int in_ms)
{
	snprintf(buf, n,
		 "{\"k\":\"poll.create\",\"poll\":{\"id\":\"%s\",\"question\":"
		 "\"q\",\"options\":[\"a\",\"b\"],\"closes_at\":%lld}}",
		 id, (long long)(rk_wall_ms() + in_ms));
	return buf;
}

static void test_alarm_fires_once_after_owner_dies(void **state)
{
	world *w = *state;
	w->nodes = start_nodes(w, 2, NULL);
	/* Two polls on n1: one closes while n1 lives (it fires there, once:
	 * n2 must not), the other after n1 is killed (a live node picks the
	 * room up and fires it, once). */
	struct ws *a = rt_join(w->nodes->rd[0], "alarm", "name=alice", NULL);
	char op[256];
	assert_int_equal(rt_op(a, "o1", poll_op(op, sizeof(op), "p1", 800), NULL), 1);
	assert_int_equal(rt_op(a, "o2", poll_op(op, sizeof(op), "p2", 2500), NULL), 2);
	cJSON *ev = rt_expect(a, "event"); /* p1's close, by the server */
	assert_int_equal(rt_int(ev, "seq"), 3);
	assert_string_equal(rt_str(ev, "session"), "server");
	cJSON_Delete(ev);
	rt_free(a);
	assert_int_equal(cl_node_signal(w->nodes, 0, SIGKILL), 137);
	/* p2 comes due on nobody; n2's heartbeat finds the orphaned alarm
	 * once n1's lease is over, takes the room and fires it. */
	int64_t end = rk_mono_us() + (int64_t)rt_scaled_ms(LEASE_MS * 6 + 2500) * 1000;
	int64_t closes = 0;
	while (rk_mono_us() < end && (closes = closes_in_log(w, "alarm")) < 2)
		usleep(200000);
	assert_int_equal(closes, 2);
	/* Exactly once each, even after more heartbeats. */
	sleep_ms(LEASE_MS);
	assert_int_equal(closes_in_log(w, "alarm"), 2);
	assert_true(metric_sum(w->nodes, "roomd_cluster_takeovers_total") >= 1);
	char path[256], out[2048];
	snprintf(path, sizeof(path), "%s/alarm.db", w->pulls);
	assert_int_equal(
	    rt_roomctl((const char *const[]){"verify", path, NULL}, out, sizeof(out)), 0);
}

/* ---- a drain while PostgreSQL is down ---------------------------------------- */

static void test_drain_with_database_down(void **state)
{
	world *w = *state;
	w->nodes = start_nodes(w, 1, (const char *const[]){"--pg-timeout", "1000", NULL});
	struct ws *a = rt_join(w->nodes->rd[0], "down", "name=alice", NULL);
	assert_int_equal(rt_op(a, "a1", "{\"k\":\"chat.post\",\"text\":\"kept\"}", NULL),
			 1);
	assert_true(pgtmp_ctl(&w->pg, "stop"));
	/* Applied, never committed: it must not be acked. */
	rt_send_op(a, "a2", "{\"k\":\"chat.post\",\"text\":\"never acked\"}");
	sleep_ms(300);
	/* The admin path does not wait for the database on the loop: 503 at
	 * once (it used to stall the whole node until PostgreSQL answered). */
	int64_t g0 = rk_mono_us();
	char *body = NULL;
	assert_int_equal(rt_http(w->nodes->rd[0], "/v1/rooms/down", NULL, &body), 503);
	free(body);
	assert_true(rk_mono_us() - g0 < (int64_t)rt_scaled_ms(2000) * 1000);
	assert_int_equal(rt_http(w->nodes->rd[0], "/healthz", NULL, &body), 200);
	free(body);
	/* The drain gives up on the database after --pg-timeout and says so
	 * with its exit status. */
	int64_t t0 = rk_mono_us();
	assert_int_equal(cl_node_signal(w->nodes, 0, SIGTERM), 1);
	assert_true(rk_mono_us() - t0 < (int64_t)rt_scaled_ms(8000) * 1000);
	expect_no_ack(a, NULL, 2000);
	rt_free(a);
	/* Back up: the log has what was acked, nothing else. */
	assert_true(pgtmp_ctl(&w->pg, "restart"));
	char path[256];
	assert_true(pull_room(w, "down", path, sizeof(path)));
	assert_int_equal(rt_sql_int(path, "SELECT count(*) FROM events"), 1);
	assert_int_equal(
	    rt_sql_int(path, "SELECT count(*) FROM events WHERE op_id = 'a1'"), 1);
}

/* ---- the command line --------------------------------------------------------- */

static void test_cluster_flags(void **state)
{
	world *w = *state;
	const char *roomd = getenv("ROOMD_BIN");
	assert_non_null(roomd);
	char *out = NULL;
	int rc =
	    rt_run((const char *const[]){roomd, "--pg", w->pg.url, NULL}, 10000, &out);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "--pg and --node go together"));
	free(out);
	rc = rt_run((const char *const[]){roomd, "--pg", w->pg.url, "--node", "n1",
					  "--fsync", NULL},
		    10000, &out);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "--fsync"));
	free(out);
	rc = rt_run(
	    (const char *const[]){roomd, "--pg", w->pg.url, "--node", "bad name", NULL},
	    10000, &out);
	assert_int_equal(rc, 2);
	free(out);
	/* A database that does not answer: a clear error, exit 1. */
	rc = rt_run((const char *const[]){roomd, "--listen", "127.0.0.1:0", "--pg",
					  "postgresql://postgres@127.0.0.1:1/postgres",
					  "--node", "n1", NULL},
		    20000, &out);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "cannot reach PostgreSQL"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cluster_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paused_owner_is_fenced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kill9_under_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_join_and_drain_under_load, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pg_restart_under_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarm_fires_once_after_owner_dies, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_drain_with_database_down, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
