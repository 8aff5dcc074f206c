/* test_haproxy.c - deploy/haproxy.cfg in front of two single-node roomd
 * (each with its own data directory): every request of a room (the
 * WebSocket join and the HTTP API alike) reaches one node and rooms spread
 * over both; a stopped node (SIGSTOP) fails its /healthz checks, is marked
 * down within about 1.3 s, its connections are closed and its rooms' new
 * connections go to the other node, and they come back once it runs again
 * (SIGCONT); and roomload --reconnect through HAProxy, while one node is
 * killed (SIGKILL) and restarted, exits 0 with every op it reports
 * committed in the stored logs; a node that joins takes its share of the
 * rooms and no other room moves.
 *
 * The harness is tests/support/cluster.h: HAProxy runs as a child of the
 * test on a free port, with a config generated from deploy/haproxy.cfg
 * itself; roomd through roomd_proc.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "cluster.h"
#include "roomtest.h"
#include "timescale.h"

#define NODES 2

typedef struct fixture {
	cl_nodes *nodes;
	hx_proc *hx;
	cl_load *load;
} fixture;

static int start(void **state, const hx_opts *opts, bool joiner)
{
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	*state = f;
	const char *const args[] = {"--log-level", "warn", NULL};
	f->nodes = cl_nodes_start(NODES, args);
	if (!f->nodes)
		return -1;
	if (joiner) /* a third node HAProxy knows of, started by the test */
		cl_node_reserve(f->nodes);
	f->hx = hx_start(f->nodes->port, NULL, f->nodes->n, opts);
	return f->hx ? 0 : -1;
}

static int setup(void **state)
{
	return start(state, NULL, false);
}

static int setup_joiner(void **state)
{
	return start(state, NULL, true);
}

/* A room's log lives only on its node here (SQLite, no shared storage):
 * moving a room would start it anew on the other node. So for the load
 * test the killed node is never marked down (40 failed checks: 20 s):
 * HAProxy answers 503 for its rooms until it is back, and roomload
 * retries. (With PostgreSQL, issue 13, the rooms are meant to move.) */
static int setup_no_move(void **state)
{
	const hx_opts opts = {.fall = 40};
	return start(state, &opts, false);
}

static int teardown(void **state)
{
	fixture *f = *state;
	if (f) {
		cl_load_free(f->load);
		hx_stop(f->hx);
		cl_nodes_stop(f->nodes);
	}
	free(f);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The node HAProxy routes room to now (fails the test if none answers). */
static int route(fixture *f, const char *room)
{
	char node[32];
	if (!hx_route(f->hx, room, node, sizeof(node), rt_scaled_ms(RT_TIMEOUT_MS)))
		fail_msg("no node answered for room %s through haproxy", room);
	int i = cl_node_index(f->nodes, node);
	if (i < 0)
		fail_msg("X-Roomkit-Node names %s, not one of ours", node);
	return i;
}

/* GET /v1/rooms/<room> from node i directly: 200 if it has the room. */
static int node_has_room(fixture *f, int i, const char *room)
{
	char path[128], *body = NULL;
	snprintf(path, sizeof(path), "/v1/rooms/%s", room);
	int st = rt_http(f->nodes->rd[i], path, NULL, &body);
	free(body);
	return st;
}

/* The node that answers POST /v1/rooms/<room>/ops through HAProxy (its
 * X-Roomkit-Node; whatever roomd answers, an op or a refusal). */
static const char *post_node(fixture *f, const char *room)
{
	static char node[32];
	char req[512];
	static const char body[] =
	    "{\"id\":\"x\",\"op\":{\"k\":\"chat.post\",\"text\":\"hi\"}}";
	int len =
	    snprintf(req, sizeof(req),
		     "POST /v1/rooms/%s/ops HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     room, sizeof(body) - 1, body);
	http_reply r;
	memset(&r, 0, sizeof(r));
	if (http_request("127.0.0.1", f->hx->port, req, (size_t)len,
			 rt_scaled_ms(RT_TIMEOUT_MS), &r) != 0 ||
	    !http_reply_header(&r, "X-Roomkit-Node", node, sizeof(node)))
		fail_msg("POST /v1/rooms/%s/ops through haproxy: no node answered (%s)",
			 room, r.error);
	http_reply_free(&r);
	return node;
}

/* (a) Joins to one room through HAProxy always land on the same node, the
 * one its HTTP paths (/v1/rooms/<room> and .../ops) hash to as well; that
 * node (and only it) then has the room; twenty rooms use both nodes. */
static void test_rooms_stick_and_spread(void **state)
{
	fixture *f = *state;
	int per_node[NODES] = {0};
	for (int r = 0; r < 20; r++) {
		char room[32];
		snprintf(room, sizeof(room), "spread-%d", r);
		per_node[route(f, room)]++;
	}
	for (int i = 0; i < NODES; i++)
		if (per_node[i] == 0)
			fail_msg("no room of 20 went to node %s", f->nodes->name[i]);

	for (int r = 0; r < 4; r++) {
		char room[32];
		snprintf(room, sizeof(room), "stick-%d", r);
		int home = route(f, room);
		struct ws *w[3];
		for (int k = 0; k < 3; k++) {
			char node[32], q[32];
			snprintf(q, sizeof(q), "name=u%d", k);
			w[k] = hx_join(f->hx, room, q, node, sizeof(node));
			assert_string_equal(node, f->nodes->name[home]);
		}
		assert_string_equal(post_node(f, room), f->nodes->name[home]);
		assert_int_equal(node_has_room(f, home, room), 200);
		assert_int_equal(node_has_room(f, 1 - home, room), 404);
		for (int k = 0; k < 3; k++)
			ws_free(w[k]);
	}
}

/* Wait up to ms for the server to end w (a close frame, or the TCP
 * connection closed): true if it did. */
static bool ended(struct ws *w, int ms)
{
	int64_t left = rt_scaled_ms(ms);
	while (left > 0) {
		ws_result r = ws_recv(w, 100, NULL, NULL, NULL);
		if (r == WS_CLOSED || r == WS_EOF || r == WS_ERROR)
			return true;
		left -= 100;
	}
	return false;
}

/* (b) /healthz failover: a stopped node is marked down within about 1.3 s
 * (inter 400ms, fastinter 200ms, fall 2, timeout check 250ms), its open
 * connections are closed (on-marked-down shutdown-sessions), and new
 * connections for its rooms go to the other node; the other node's rooms
 * do not move. Running again, it gets its rooms back. */
static void test_healthz_failover(void **state)
{
	fixture *f = *state;
	RT_SKIP_UNDER_VALGRIND(
	    "times HAProxy's health checks of a roomd 10-50 times slower");
	/* A room on each node. */
	char mine[32] = "", other[32] = "";
	for (int r = 0; r < 64 && (!mine[0] || !other[0]); r++) {
		char room[32];
		snprintf(room, sizeof(room), "hc-%d", r);
		snprintf(route(f, room) == 0 ? mine : other, 32, "%s", room);
	}
	assert_true(mine[0] && other[0]);
	const char *n1 = f->nodes->name[0], *n2 = f->nodes->name[1];
	char node[32];
	struct ws *held = hx_join(f->hx, mine, "name=held", node, sizeof(node));
	assert_string_equal(node, n1);

	cl_node_signal(f->nodes, 0, SIGSTOP);
	char down[64];
	snprintf(down, sizeof(down), "Server roomd/%s is DOWN", n1);
	int ms = hx_wait_log(f->hx, down, 1, 5000);
	fprintf(stderr, "node %s stopped: marked down after %d ms\n", n1, ms);
	assert_true(ms >= 0);
	/* 0.9-1.3 s measured; slack for a loaded machine. */
	assert_true(ms <= rt_scaled_ms(2000));
	assert_true(hx_wait_route(f->hx, mine, n2, 1000) >= 0);
	/* Its connection is closed, not left hanging on a stopped process. */
	assert_true(ended(held, 2000));
	ws_free(held);
	struct ws *w = hx_join(f->hx, mine, "name=moved", node, sizeof(node));
	assert_string_equal(node, n2);
	ws_free(w);
	w = hx_join(f->hx, other, "name=stays", node, sizeof(node));
	assert_string_equal(node, n2);
	ws_free(w);

	cl_node_signal(f->nodes, 0, SIGCONT);
	char up[64];
	snprintf(up, sizeof(up), "Server roomd/%s is UP", n1);
	ms = hx_wait_log(f->hx, up, 1, 5000);
	fprintf(stderr, "node %s running again: up after %d ms\n", n1, ms);
	assert_true(ms >= 0);
	assert_true(hx_wait_route(f->hx, mine, n1, 1000) >= 0);
	w = hx_join(f->hx, mine, "name=back", node, sizeof(node));
	assert_string_equal(node, n1);
	ws_free(w);
	assert_int_equal(route(f, other), 1);
}

/* (d) A node that joins takes its share of the rooms and nothing else
 * moves (hash-type consistent): HAProxy knows a third server that is not
 * running (marked down), the rooms spread over the two others; once the
 * third runs and is marked up, some rooms go to it, and every room that
 * moved, moved to it. */
static void test_joining_node_takes_only_its_share(void **state)
{
	fixture *f = *state;
	enum { ROOMS = 40 };
	int n3 = NODES; /* the reserved node */
	char down[64], up[64];
	snprintf(down, sizeof(down), "Server roomd/%s is DOWN", f->nodes->name[n3]);
	snprintf(up, sizeof(up), "Server roomd/%s is UP", f->nodes->name[n3]);
	assert_true(hx_wait_log(f->hx, down, 1, 5000) >= 0);
	int before[ROOMS];
	for (int r = 0; r < ROOMS; r++) {
		char room[32];
		snprintf(room, sizeof(room), "join-%d", r);
		before[r] = route(f, room);
		assert_true(before[r] != n3);
	}
	cl_node_restart(f->nodes, n3);
	assert_true(hx_wait_log(f->hx, up, 1, 5000) >= 0);
	int moved = 0;
	for (int r = 0; r < ROOMS; r++) {
		char room[32];
		snprintf(room, sizeof(room), "join-%d", r);
		int now = route(f, room);
		if (now != before[r]) {
			assert_int_equal(now, n3);
			moved++;
		}
	}
	fprintf(stderr, "%d of %d rooms moved to the joining node\n", moved, ROOMS);
	assert_true(moved > 0 && moved < ROOMS);
}

/* The room file, on whichever node has it: exactly one may. */
static bool room_db_on_nodes(void *ctx, const char *room, char *path, size_t n)
{
	cl_nodes *c = ctx;
	int found = 0;
	char p[1024];
	for (int i = 0; i < c->n; i++) {
		rd_room_db(c->rd[i], room, p, sizeof(p));
		if (access(p, R_OK) == 0) {
			snprintf(path, n, "%s", p);
			found++;
		}
	}
	if (found > 1)
		fail_msg("room %s has a file on %d nodes", room, found);
	return found == 1;
}

/* Until every room of node i among load-0..load-(rooms-1) has committed
 * at least min ops (GET /v1/rooms on that node). */
static void wait_node_busy(fixture *f, int i, int rooms, int64_t min)
{
	int64_t deadline = (int64_t)time(NULL) + rt_scaled_ms(20000) / 1000;
	for (;;) {
		char *body = NULL;
		int busy = 0;
		if (rt_http(f->nodes->rd[i], "/v1/rooms", NULL, &body) == 200) {
			cJSON *list = cJSON_Parse(body);
			const cJSON *r;
			cJSON_ArrayForEach(r, list)
			{
				const cJSON *seq =
				    cJSON_GetObjectItemCaseSensitive(r, "seq");
				if (cJSON_IsNumber(seq) &&
				    seq->valuedouble >= (double)min)
					busy++;
			}
			cJSON_Delete(list);
		}
		free(body);
		if (busy >= rooms)
			return;
		if ((int64_t)time(NULL) > deadline)
			fail_msg("node %d: the load did not reach seq %lld", i,
				 (long long)min);
		sleep_ms(50);
	}
}

/* (c) roomload --reconnect through HAProxy; the node of load-0 is killed
 * (SIGKILL) mid-run and started again on its port about 1 s later. Its
 * clients are dropped and come back resumed (through HAProxy, to the same
 * node: see setup_no_move), the other node's never notice, roomload exits
 * 0, and every op it reports committed is in a room file, at its seq. */
static void test_load_through_a_node_kill(void **state)
{
	fixture *f = *state;
	enum { ROOMS = 6, CLIENTS = 3 };
	int victim = route(f, "load-0");
	int on_victim = 0;
	for (int r = 0; r < ROOMS; r++) {
		char room[32];
		snprintf(room, sizeof(room), "load-%d", r);
		on_victim += route(f, room) == victim;
	}
	char url[64], rooms[8], clients[8];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d", f->hx->port);
	snprintf(rooms, sizeof(rooms), "%d", ROOMS);
	snprintf(clients, sizeof(clients), "%d", CLIENTS);
	const char *const args[] = {"--rooms",	   rooms, "--clients",	clients,
				    "--rate",	   "20",  "--duration", "4",
				    "--reconnect", "-q",  NULL};
	f->load = cl_load_start(url, args);
	assert_non_null(f->load);
	wait_node_busy(f, victim, on_victim, 20);
	assert_int_equal(cl_node_signal(f->nodes, victim, SIGKILL), 137);
	sleep_ms(1000);
	cl_node_restart(f->nodes, victim);

	int status;
	cJSON *j = cl_load_wait(f->load, 120000, &status);
	fprintf(stderr,
		"%d of %d rooms on the killed node: %g drops, %g resumed, %g resent, "
		"%g ack.dup, longest outage %.0f ms, %g ops acked\n",
		on_victim, ROOMS, cl_num(j, "drops"), cl_num(j, "resumed"),
		cl_num(j, "resent"), cl_num(j, "ack_dups"), cl_num(j, "max_outage_ms"),
		cl_num(j, "ops_acked"));
	assert_int_equal(status, 0);
	assert_int_equal((int)cl_num(j, "violations.total"), 0);
	assert_int_equal((int)cl_num(j, "connections.established"), ROOMS * CLIENTS);
	assert_int_equal((int)cl_num(j, "drops"), on_victim * CLIENTS);
	assert_int_equal((int)cl_num(j, "reconnects"), on_victim * CLIENTS);
	assert_int_equal((int)cl_num(j, "resumed"), on_victim * CLIENTS);
	assert_int_equal((int)cl_num(j, "unanswered_at_end"), 0);
	double acked = cl_num(j, "ops_acked"), lines = cl_num(j, "acked_file_lines");
	assert_true(acked > 0 && lines >= acked);
	cJSON_Delete(j);

	for (int i = 0; i < NODES; i++)
		assert_int_equal(cl_node_signal(f->nodes, i, SIGTERM), 0);
	assert_int_equal(cl_check_acked(f->load->acked_path, room_db_on_nodes, f->nodes),
			 (long)lines);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rooms_stick_and_spread, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_healthz_failover, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_through_a_node_kill, setup_no_move,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_joining_node_takes_only_its_share,
					    setup_joiner, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
