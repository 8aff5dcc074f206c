/*
 * test_crashloop.c - crash consistency under load: at least 20 cycles of
 * clients pipelining ops into several rooms, roomd killed with SIGKILL after
 * a random (seeded, printed) number of acks, then restarted on the same data
 * directory. After every restart: each acked (op id, seq) is in the room's
 * log at that seq, seqs are contiguous from 1, `roomctl verify` passes on
 * every room file (snapshots included), and every client resuming with
 * since/epoch gets exactly the events it missed, in order, then goes on.
 *
 * Run twice: with roomd's default durability and with --fsync (acks wait
 * for the syncer; a kill can land while a sync is in flight).
 *
 * RK_SEED=N replays a run; RK_CYCLES=N runs more cycles (never fewer
 * than 20).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "clock.h"
#include "roomtest.h"

enum {
	ROOMS = 3,
	CLIENTS = 6, /* client i is in room i % ROOMS */
	MIN_CYCLES = 20,
	WINDOW = 40,	    /* ops a client has in flight at most */
	MAX_ACKED = 100000, /* acked ops remembered over the whole run */
	CYCLE_TIMEOUT_US = 30000000,
};

typedef struct acked_op {
	int room;
	int64_t seq;
	char id[32];
} acked_op;

typedef struct client {
	struct ws *w;
	int room;
	int64_t last;	 /* highest seq applied (welcome, event, ack) */
	int sent, acked; /* this cycle */
	char epoch[64];
} client;

/* A room's log as read after a restart: op_id by seq (index seq - 1). */
typedef struct room_log {
	char (*ids)[32];
	int64_t n;
} room_log;

typedef struct run {
	rd_proc *rd;
	room_log log[ROOMS];
	client c[CLIENTS];
	acked_op *acks;
	size_t nacks;
	unsigned seed;
	long long replayed; /* events received by resuming clients */
} run;

static const char *room_name(int r)
{
	static const char *const names[ROOMS] = {"crash-a", "crash-b", "crash-c"};
	return names[r];
}

/* Note what m says about seqs (ack: remember the op). */
static void take(run *x, client *cl, cJSON *m)
{
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(m, "t"));
	if (!t)
		return;
	if (strcmp(t, "ack") == 0 || strcmp(t, "event") == 0) {
		int64_t seq = rt_int(m, "seq");
		if (seq != cl->last + 1)
			fail_msg("room %s: seq %lld after %lld (%s)", room_name(cl->room),
				 (long long)seq, (long long)cl->last, t);
		cl->last = seq;
	}
	if (strcmp(t, "ack") == 0) {
		if (x->nacks == MAX_ACKED)
			fail_msg("more than %d acks", MAX_ACKED);
		acked_op *a = &x->acks[x->nacks++];
		a->room = cl->room;
		a->seq = cl->last;
		snprintf(a->id, sizeof(a->id), "%s", rt_str(m, "id"));
		cl->acked++;
	} else if (strcmp(t, "reject") == 0 || strcmp(t, "error") == 0) {
		fail_msg("unexpected %s: %s", t, cJSON_PrintUnformatted(m));
	}
}

/* Read what has arrived on cl (waiting up to timeout_ms for the first). */
static void drain(run *x, client *cl, int timeout_ms)
{
	cJSON *m;
	while ((m = ws_recv_json(cl->w, timeout_ms))) {
		take(x, cl, m);
		cJSON_Delete(m);
		timeout_ms = 0;
	}
}

/* Connect every client: a fresh welcome on the first cycle, a resume from
 * its last seq afterwards, which must replay exactly the missing events. */
static void connect_all(run *x, int cycle)
{
	for (int i = 0; i < CLIENTS; i++) {
		client *cl = &x->c[i];
		char q[256];
		if (cycle == 0)
			snprintf(q, sizeof(q), "name=c%d", i);
		else
			snprintf(q, sizeof(q), "name=c%d&since=%lld&epoch=%s", i,
				 (long long)cl->last, cl->epoch);
		cJSON *w = NULL;
		cl->w = rt_join(x->rd, room_name(cl->room), q, &w);
		int64_t seq = rt_int(w, "seq");
		if (cycle == 0) {
			cl->last = seq;
			snprintf(cl->epoch, sizeof(cl->epoch), "%s", rt_str(w, "epoch"));
		} else {
			if (!cJSON_IsTrue(cJSON_GetObjectItem(w, "resumed")))
				fail_msg("cycle %d: client %d (since %lld) not resumed, "
					 "room at %lld",
					 cycle, i, (long long)cl->last, (long long)seq);
			assert_string_equal(rt_str(w, "epoch"), cl->epoch);
			if (seq < cl->last)
				fail_msg("cycle %d: room %s restarted at seq %lld, "
					 "client saw %lld",
					 cycle, room_name(cl->room), (long long)seq,
					 (long long)cl->last);
			/* Exactly the events after since, in order (take checks the
			 * order), each as in the log. */
			const room_log *lg = &x->log[cl->room];
			if (seq != lg->n)
				fail_msg("cycle %d: welcome seq %lld, log ends at %lld",
					 cycle, (long long)seq, (long long)lg->n);
			while (cl->last < seq) {
				cJSON *e = ws_recv_type(cl->w, "event", RT_TIMEOUT_MS);
				if (!e)
					fail_msg("cycle %d: client %d resumed at %lld of "
						 "%lld: %s",
						 cycle, i, (long long)cl->last,
						 (long long)seq, ws_error(cl->w));
				take(x, cl, e); /* checks it is cl->last + 1 */
				assert_string_equal(rt_str(e, "id"),
						    lg->ids[cl->last - 1]);
				cJSON_Delete(e);
				x->replayed++;
			}
		}
		cJSON_Delete(w);
		cl->sent = cl->acked = 0;
	}
}

/* Pipeline ops from every client until `target` acks arrived this cycle,
 * then SIGKILL roomd and collect the acks already in the sockets. */
static int load_and_kill(run *x, int cycle, int target)
{
	int64_t deadline = rk_mono_us() + CYCLE_TIMEOUT_US;
	int got = 0;
	while (got < target) {
		if (rk_mono_us() > deadline)
			fail_msg("cycle %d: %d of %d acks in time", cycle, got, target);
		for (int i = 0; i < CLIENTS; i++) {
			client *cl = &x->c[i];
			while (cl->sent - cl->acked < WINDOW) {
				int k = cl->sent++;
				/* Mixed ops: chat posts and shapes (snapshots carry
				 * both). */
				if (k % 3 == 2)
					ws_send_textf(
					    cl->w,
					    "{\"t\":\"op\",\"id\":\"c%d-%d-%d\",\"op\":"
					    "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s%"
					    "d-%d-%d\","
					    "\"type\":\"rect\",\"color\":%d,\"points\":"
					    "[[0,0],[%d,%d]]}}}",
					    i, cycle, k, i, cycle, k, k % 8, k, cycle);
				else
					ws_send_textf(
					    cl->w,
					    "{\"t\":\"op\",\"id\":\"c%d-%d-%d\",\"op\":"
					    "{\"k\":\"chat.post\",\"text\":\"m%d\"}}",
					    i, cycle, k, k);
			}
		}
		got = 0;
		for (int i = 0; i < CLIENTS; i++) {
			drain(x, &x->c[i], i == 0 ? 5 : 0);
			got += x->c[i].acked;
		}
	}
	assert_int_equal(rd_stop(x->rd, SIGKILL), 137);
	got = 0;
	for (int i = 0; i < CLIENTS; i++) {
		drain(x, &x->c[i], 100);
		got += x->c[i].acked;
		rt_free(x->c[i].w);
		x->c[i].w = NULL;
	}
	return got;
}

/* Read a room's (seq, op_id) pairs; the seqs must be 1, 2, 3, ... false
 * (an empty log) if the room has no file yet, or a file whose creation the
 * kill interrupted (no schema: roomd creates it again at the room's next
 * commit): a room's file is created by its first commit, so such a room
 * never acked anything, which check_logs holds it to. */
static bool read_log(const char *db_path, room_log *lg)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	lg->n = 0;
	if (access(db_path, F_OK) != 0)
		return false;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		fail_msg("%s: %s", db_path, sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, "SELECT seq, op_id FROM events ORDER BY seq", -1, &q,
			       NULL) != SQLITE_OK) {
		if (!strstr(sqlite3_errmsg(db), "no such table"))
			fail_msg("%s: %s", db_path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return false;
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0);
		if (seq != lg->n + 1)
			fail_msg("%s: seq %lld follows %lld", db_path, (long long)seq,
				 (long long)lg->n);
		if (lg->n % 1024 == 0) {
			lg->ids =
			    realloc(lg->ids, (size_t)(lg->n + 1024) * sizeof(*lg->ids));
			assert_non_null(lg->ids);
		}
		const char *id = (const char *)sqlite3_column_text(q, 1);
		snprintf(lg->ids[lg->n++], sizeof(lg->ids[0]), "%s", id ? id : "");
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	return true;
}

/* After a restart: the logs hold every acked op at its seq, with no gap,
 * and roomctl verify accepts every room file. Returns the ops lost. */
static size_t check_logs(run *x, int cycle)
{
	size_t lost = 0;
	for (int r = 0; r < ROOMS; r++) {
		char db[PATH_MAX + 64];
		rd_room_db(x->rd, room_name(r), db, sizeof(db));
		if (!read_log(db, &x->log[r]))
			continue; /* no file (yet): nothing acked may be missing */
		char out[2048];
		const char *args[] = {"verify", db, NULL};
		int code = rt_roomctl(args, out, sizeof(out));
		if (code != 0)
			fail_msg("cycle %d: roomctl verify %s: exit %d: %s", cycle, db,
				 code, out);
	}
	for (size_t i = 0; i < x->nacks; i++) {
		acked_op *a = &x->acks[i];
		const room_log *lg = &x->log[a->room];
		const char *got = a->seq <= lg->n ? lg->ids[a->seq - 1] : "(none)";
		if (strcmp(got, a->id) != 0) {
			fprintf(stderr,
				"cycle %d: %s acked at seq %lld of %s, log has '%s'\n",
				cycle, a->id, (long long)a->seq, room_name(a->room), got);
			lost++;
		}
	}
	return lost;
}

static void crashloop(bool fsync)
{
	run *x = calloc(1, sizeof(*x));
	x->acks = calloc(MAX_ACKED, sizeof(*x->acks));
	assert_non_null(x->acks);
	const char *env = getenv("RK_SEED");
	x->seed = env && *env ? (unsigned)strtoul(env, NULL, 10)
			      : (unsigned)(time(NULL) ^ getpid());
	int cycles = MIN_CYCLES;
	env = getenv("RK_CYCLES");
	if (env && atoi(env) > cycles)
		cycles = atoi(env);
	printf("crashloop%s: seed %u (RK_SEED=%u replays it), %d cycles\n",
	       fsync ? " --fsync" : "", x->seed, x->seed, cycles);
	fflush(stdout);
	srand(x->seed);
	/* Snapshots every 50 events: verify checks them too. */
	const char *args[] = {"--ops-per-sec",
			      "100000",
			      "--ops-burst",
			      "100000",
			      "--snapshot-every",
			      "50",
			      fsync ? "--fsync" : NULL,
			      NULL};
	x->rd = rt_start(args);
	for (int i = 0; i < CLIENTS; i++)
		x->c[i].room = i % ROOMS;
	int64_t t0 = rk_mono_us();
	size_t lost = 0;
	for (int cycle = 0; cycle < cycles; cycle++) {
		connect_all(x, cycle);
		int target = 1 + rand() % 1500;
		int got = load_and_kill(x, cycle, target);
		assert_int_equal(rd_restart(x->rd, NULL), 0);
		lost += check_logs(x, cycle);
		printf(
		    "crashloop: cycle %d: killed after %d acks (target %d), %zu acked in "
		    "total\n",
		    cycle + 1, got, target, x->nacks);
	}
	/* One last resume proves the final restart too. */
	connect_all(x, cycles);
	for (int i = 0; i < CLIENTS; i++)
		rt_free(x->c[i].w);
	printf(
	    "crashloop%s: seed %u: %d cycles, %zu ops acked, %zu ops lost, %lld events "
	    "replayed to resuming clients, %.1f s\n",
	    fsync ? " --fsync" : "", x->seed, cycles, x->nacks, lost, x->replayed,
	    (double)(rk_mono_us() - t0) / 1e6);
	assert_int_equal(lost, 0);
	rd_cleanup(x->rd);
	for (int r = 0; r < ROOMS; r++)
		free(x->log[r].ids);
	free(x->acks);
	free(x);
}

static void test_crashloop(void **state)
{
	(void)state;
	crashloop(false);
}

/* The same with --fsync: acks wait for the syncer's fdatasync, and a kill
 * can land while a sync is in flight. */
static void test_crashloop_fsync(void **state)
{
	(void)state;
	crashloop(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crashloop),
	    cmocka_unit_test(test_crashloop_fsync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
