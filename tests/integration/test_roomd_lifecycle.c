/*
 * test_roomd_lifecycle.c - what happens over time: resume (section 4) in
 * both branches, presence grace, hibernation and wake, restart continuity,
 * poll alarms across hibernation and restarts, SIGTERM drain, kill -9 with
 * pipelined ops (no acked op lost, also with --fsync), the single-writer
 * room lock, order while a room loads on the loader thread (a wake by
 * pipelined ops, joins racing to a brand-new room), and with --fsync the
 * order of output waiting for the syncer and joins that wait for it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "clock.h"
#include "roomtest.h"

static char *join_query(const char *name, const char *client, int64_t since,
			const char *epoch)
{
	static char q[256];
	int n = snprintf(q, sizeof(q), "name=%s", name);
	if (client)
		n += snprintf(q + n, sizeof(q) - (size_t)n, "&client=%s", client);
	if (epoch)
		snprintf(q + n, sizeof(q) - (size_t)n, "&since=%lld&epoch=%s",
			 (long long)since, epoch);
	return q;
}

static void chat(struct ws *w, const char *id, int64_t want_seq)
{
	int64_t seq = rt_op(w, id, "{\"k\":\"chat.post\",\"text\":\"x\"}", NULL);
	if (want_seq && seq != want_seq)
		fail_msg("op %s got seq %lld, want %lld", id, (long long)seq,
			 (long long)want_seq);
}

/* Section 4: a matching epoch resumes with the missed events only; a stale
 * epoch or a future since gets the full state. */
static void test_resume(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	cJSON *wa = NULL;
	struct ws *a = rt_join(rd, "res", "name=alice", &wa);
	char epoch[80];
	snprintf(epoch, sizeof(epoch), "%s", rt_str(wa, "epoch"));
	chat(a, "a1", 1);
	chat(a, "a2", 2);
	chat(a, "a3", 3);
	rt_free(a);
	struct ws *b = rt_join(rd, "res", "name=bob", NULL);
	chat(b, "b1", 4);
	chat(b, "b2", 5);

	cJSON *w2 = NULL;
	struct ws *a2 = rt_join(rd, "res", join_query("alice", NULL, 2, epoch), &w2);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(w2, "resumed")));
	assert_null(cJSON_GetObjectItem(w2, "state"));
	assert_int_equal(rt_int(w2, "seq"), 5);
	const char *ids[] = {"a3", "b1", "b2"};
	for (int i = 0; i < 3; i++) {
		cJSON *e = rt_expect(a2, "event");
		assert_int_equal(rt_int(e, "seq"), 3 + i);
		assert_string_equal(rt_str(e, "id"), ids[i]); /* own op included */
		cJSON_Delete(e);
	}
	chat(b, "b3", 6); /* then live traffic */
	cJSON *e = rt_expect(a2, "event");
	assert_int_equal(rt_int(e, "seq"), 6);
	cJSON_Delete(e);

	cJSON *w3 = NULL;
	struct ws *a3 = rt_join(rd, "res", join_query("alice", NULL, 2, "0000dead"), &w3);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(w3, "resumed")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
			     cJSON_GetObjectItem(w3, "state"), "chat")),
			 6);
	cJSON *w4 = NULL;
	struct ws *a4 = rt_join(rd, "res", join_query("alice", NULL, 99, epoch), &w4);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(w4, "resumed")));
	assert_non_null(cJSON_GetObjectItem(w4, "state"));
	rt_free(a2);
	rt_free(a3);
	rt_free(a4);
	rt_free(b);
	cJSON_Delete(wa);
	cJSON_Delete(w2);
	cJSON_Delete(w3);
	cJSON_Delete(w4);
	rd_cleanup(rd);
}

/* Section 1: a peer that drops without a close and comes back with the same
 * client id within the grace keeps its session, and nobody sees it flap; one
 * that does not come back leaves after the grace. */
static void test_presence_grace(void **state)
{
	(void)state;
	const char *args[] = {"--presence-grace", "800", NULL};
	rd_proc *rd = rt_start(args);
	struct ws *obs = rt_join(rd, "gr", "name=obs", NULL);
	cJSON *w1 = NULL;
	struct ws *a = rt_join(rd, "gr", "name=alice&client=dev-1", &w1);
	cJSON_Delete(rt_expect(obs, "presence"));
	rt_free(a); /* dropped: no close frame */
	cJSON *w2 = NULL;
	struct ws *a2 = rt_join(rd, "gr", "name=alice&client=dev-1", &w2);
	assert_string_equal(rt_str(w1, "session"), rt_str(w2, "session"));
	/* obs sees neither leave nor join. */
	cJSON *m = ws_recv_json(obs, 1500);
	if (m)
		fail_msg("observer got %s during a graced reconnect",
			 cJSON_PrintUnformatted(m));
	rt_free(a2);
	int64_t t0 = rk_mono_us();
	cJSON *pl = rt_expect(obs, "presence");
	assert_string_equal(rt_str(pl, "leave"), rt_str(w1, "session"));
	assert_true(rk_mono_us() - t0 > 300000); /* not before the grace */
	cJSON_Delete(pl);
	rt_free(obs);
	cJSON_Delete(w1);
	cJSON_Delete(w2);
	rd_cleanup(rd);
}

/* An idle room hibernates (state dropped, snapshot written, connections
 * kept) and wakes with its state and seq intact. */
static void test_hibernation(void **state)
{
	(void)state;
	const char *args[] = {"--hibernate-after", "300", NULL};
	rd_proc *rd = rt_start(args);
	struct ws *a = rt_join(rd, "hib", "name=alice", NULL);
	assert_int_equal(rt_op(a, "s",
			       "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s1\",\"type\":"
			       "\"rect\",\"color\":4,\"points\":[[0,0],[9,9]]}}",
			       NULL),
			 1);
	chat(a, "c", 2);
	assert_true(rd_log_wait(rd, "room hib hibernated", 5000));
	char *body = NULL;
	rt_http(rd, "/metrics", NULL, &body);
	assert_non_null(strstr(body, "roomd_rooms_loaded 0"));
	assert_non_null(strstr(body, "roomd_rooms_hibernated 1"));
	free(body);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "hib", db, sizeof(db));
	assert_int_equal(rt_sql_int(db, "SELECT max(seq) FROM snapshots"), 2);
	/* The connection stayed; the next op wakes the room. */
	chat(a, "c2", 3);
	cJSON *wb = NULL;
	struct ws *b = rt_join(rd, "hib", "name=bob", &wb);
	cJSON *s1 = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(wb, "state"), "shapes"), "s1");
	assert_non_null(s1);
	assert_int_equal(rt_int(s1, "color"), 4);
	assert_int_equal(rt_int(wb, "seq"), 3);
	rt_free(a);
	rt_free(b);
	cJSON_Delete(wb);
	rd_cleanup(rd);
}

/* A restart on the same data dir continues the room: same epoch, state and
 * seq; SIGTERM closes clients with 1001 and exits 0. */
static void test_restart_and_drain(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	cJSON *w1 = NULL;
	struct ws *a = rt_join(rd, "cont", "name=alice", &w1);
	for (int i = 1; i <= 5; i++) {
		char id[8];
		snprintf(id, sizeof(id), "c%d", i);
		chat(a, id, i);
	}
	assert_int_equal(rd_stop(rd, SIGTERM), 0);
	ws_result r;
	while ((r = ws_recv(a, 3000, NULL, NULL, NULL)) == WS_MSG)
		;
	assert_int_equal(r, WS_CLOSED);
	assert_int_equal(ws_close_code(a), 1001);
	rt_free(a);
	assert_int_equal(rd_restart(rd, NULL), 0);
	cJSON *w2 = NULL;
	struct ws *b = rt_join(rd, "cont", "name=bob", &w2);
	assert_string_equal(rt_str(w1, "epoch"), rt_str(w2, "epoch"));
	assert_int_equal(rt_int(w2, "seq"), 5);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
			     cJSON_GetObjectItem(w2, "state"), "chat")),
			 5);
	chat(b, "c6", 6);
	rt_free(b);
	cJSON_Delete(w1);
	cJSON_Delete(w2);
	rd_cleanup(rd);
}

static bool wait_sql(const char *db, const char *sql, int64_t want, int timeout_ms)
{
	int64_t until = rk_mono_us() + (int64_t)timeout_ms * 1000;
	while (rk_mono_us() < until) {
		if (access(db, R_OK) == 0 && rt_sql_int(db, sql) == want)
			return true;
		usleep(50000);
	}
	return false;
}

/* Section 3: a poll alarm is committed by the server itself: in a room that
 * hibernated with nobody left, and across a restart that missed it. */
static void test_alarms(void **state)
{
	(void)state;
	const char *args[] = {"--hibernate-after", "200", NULL};
	rd_proc *rd = rt_start(args);
	char op[256];
	struct ws *a = rt_join(rd, "al", "name=alice", NULL);
	snprintf(op, sizeof(op),
		 "{\"k\":\"poll.create\",\"poll\":{\"id\":\"p1\",\"question\":"
		 "\"q\",\"options\":[\"a\",\"b\"],\"closes_at\":%lld}}",
		 (long long)(rk_wall_ms() + 1200));
	assert_int_equal(rt_op(a, "o1", op, NULL), 1);
	snprintf(op, sizeof(op),
		 "{\"k\":\"poll.create\",\"poll\":{\"id\":\"p2\",\"question\":"
		 "\"q\",\"options\":[\"a\",\"b\"],\"closes_at\":%lld}}",
		 (long long)(rk_wall_ms() + 4000));
	assert_int_equal(rt_op(a, "o2", op, NULL), 2);
	assert_int_equal(ws_close(a, 1000), 1000);
	rt_free(a);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "al", db, sizeof(db));
	assert_true(
	    wait_sql(db,
		     "SELECT count(*) FROM events WHERE seq=3 AND session='server'"
		     " AND user='roomd' AND op LIKE '%poll.close%p1%'",
		     1, 5000));
	/* p2's alarm is still pending; stop before it is due, restart after. */
	assert_int_equal(rd_stop(rd, SIGTERM), 0);
	int64_t due = rt_sql_int(db, "SELECT at FROM alarms WHERE poll='p2'");
	assert_true(due > 0);
	while (rk_wall_ms() < due + 100)
		usleep(50000);
	assert_int_equal(rd_restart(rd, NULL), 0);
	assert_true(wait_sql(db,
			     "SELECT count(*) FROM events WHERE seq=4 AND user='roomd'"
			     " AND op LIKE '%poll.close%p2%'",
			     1, 5000));
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM alarms"), 0);
	cJSON *w = NULL;
	struct ws *b = rt_join(rd, "al", "name=bob", &w);
	cJSON *polls = cJSON_GetObjectItem(cJSON_GetObjectItem(w, "state"), "polls");
	assert_true(cJSON_IsTrue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(polls, "p1"), "closed")));
	assert_true(cJSON_IsTrue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(polls, "p2"), "closed")));
	rt_free(b);
	cJSON_Delete(w);
	rd_cleanup(rd);
}

/* Durability: clients stream pipelined ops, roomd is killed with SIGKILL
 * mid-stream, restarted on the same data: every acked op is at its seq, and
 * the log has no gap. */
static void kill9_run(bool fsync)
{
	const char *args[] = {"--ops-per-sec",		"100000", "--ops-burst", "100000",
			      fsync ? "--fsync" : NULL, NULL};
	rd_proc *rd = rt_start(args);
	enum { CLIENTS = 3, OPS = 1500 };
	struct ws *c[CLIENTS];
	int64_t acked[CLIENTS][OPS];
	memset(acked, 0, sizeof(acked));
	for (int i = 0; i < CLIENTS; i++) {
		char q[32];
		snprintf(q, sizeof(q), "name=c%d", i);
		c[i] = rt_join(rd, "k9", q, NULL);
	}
	int nacked = 0;
	bool killed = false;
	for (int k = 0; k < OPS; k++) {
		for (int i = 0; i < CLIENTS; i++)
			ws_send_textf(c[i],
				      "{\"t\":\"op\",\"id\":\"c%d-%d\",\"op\":{\"k\":"
				      "\"chat.post\",\"text\":\"m%d\"}}",
				      i, k, k);
		for (int i = 0; i < CLIENTS; i++) {
			cJSON *m;
			while ((m = ws_recv_json(c[i], 0))) {
				const char *t =
				    cJSON_GetStringValue(cJSON_GetObjectItem(m, "t"));
				if (t && strcmp(t, "ack") == 0) {
					int ci, ki;
					if (sscanf(rt_str(m, "id"), "c%d-%d", &ci, &ki) ==
					    2) {
						acked[ci][ki] = rt_int(m, "seq");
						nacked++;
					}
				}
				cJSON_Delete(m);
			}
		}
		if (nacked > 300) {
			assert_int_equal(rd_stop(rd, SIGKILL), 137);
			killed = true;
			break;
		}
	}
	/* On a loaded machine the acks may lag the sends: wait for them. */
	int64_t until = rk_mono_us() + 10000000;
	while (!killed && rk_mono_us() < until) {
		for (int i = 0; i < CLIENTS && !killed; i++) {
			cJSON *m = ws_recv_json(c[i], 10);
			if (!m)
				continue;
			const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(m, "t"));
			int ci, ki;
			if (t && strcmp(t, "ack") == 0 &&
			    sscanf(rt_str(m, "id"), "c%d-%d", &ci, &ki) == 2) {
				acked[ci][ki] = rt_int(m, "seq");
				nacked++;
			}
			cJSON_Delete(m);
			if (nacked > 300) {
				assert_int_equal(rd_stop(rd, SIGKILL), 137);
				killed = true;
			}
		}
	}
	assert_true(killed);
	/* Collect acks that were already in the sockets. */
	for (int i = 0; i < CLIENTS; i++) {
		cJSON *m;
		while ((m = ws_recv_json(c[i], 200))) {
			const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(m, "t"));
			int ci, ki;
			if (t && strcmp(t, "ack") == 0 &&
			    sscanf(rt_str(m, "id"), "c%d-%d", &ci, &ki) == 2) {
				acked[ci][ki] = rt_int(m, "seq");
				nacked++;
			}
			cJSON_Delete(m);
		}
		rt_free(c[i]);
	}
	assert_int_equal(rd_restart(rd, NULL), 0);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "k9", db, sizeof(db));
	int64_t max = rt_sql_int(db, "SELECT max(seq) FROM events");
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), max);
	assert_int_equal(rt_sql_int(db, "SELECT min(seq) FROM events"), 1);
	int checked = 0;
	for (int i = 0; i < CLIENTS; i++) {
		for (int k = 0; k < OPS; k++) {
			if (!acked[i][k])
				continue;
			char sql[160], got[80], want[80];
			snprintf(sql, sizeof(sql),
				 "SELECT op_id FROM events WHERE seq=%lld",
				 (long long)acked[i][k]);
			rt_sql_text(db, sql, got, sizeof(got));
			snprintf(want, sizeof(want), "c%d-%d", i, k);
			if (strcmp(got, want) != 0)
				fail_msg("acked %s at seq %lld, log has '%s'", want,
					 (long long)acked[i][k], got);
			checked++;
		}
	}
	assert_true(checked > 300);
	/* The restarted room continues after the last durable seq. */
	struct ws *n = rt_join(rd, "k9", "name=late", NULL);
	chat(n, "after", max + 1);
	rt_free(n);
	rd_cleanup(rd);
}

static void test_kill9(void **state)
{
	(void)state;
	kill9_run(false);
}

/* The same with --fsync: acks leave only once the syncer thread has made
 * their WAL frames durable; none may be lost either. */
static void test_kill9_fsync(void **state)
{
	(void)state;
	kill9_run(true);
}

/* One writer per room: a second roomd on the same data dir refuses a room
 * the first one holds, and serves the others. */
static void test_room_lock(void **state)
{
	(void)state;
	rd_proc *one = rt_start(NULL);
	struct ws *a = rt_join(one, "held", "name=a", NULL);
	chat(a, "x", 1);
	rd_proc *two = rd_start(NULL, one->data_dir);
	assert_non_null(two);
	struct ws *b = ws_connect(two->host, two->port, "/ws/held?name=b", NULL, 3000);
	assert_non_null(b);
	ws_result r;
	while ((r = ws_recv(b, 3000, NULL, NULL, NULL)) == WS_MSG)
		;
	assert_int_equal(r, WS_CLOSED);
	assert_int_equal(ws_close_code(b), 1011);
	assert_true(rd_log_wait(two, "held by another roomd", 2000));
	struct ws *c = rt_join(two, "free", "name=c", NULL);
	chat(c, "y", 1);
	chat(a, "z", 2);
	rt_free(a);
	rt_free(b);
	rt_free(c);
	rd_cleanup(two);
	rd_cleanup(one);
}

/* Type of a message ("" if none). */
static const char *msg_type(const cJSON *m)
{
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(m, "t"));
	return t ? t : "";
}

/* A hibernated room is woken by 50 pipelined ops (and a ping among them):
 * they wait for the load on the loader thread and are applied in arrival
 * order: acks seq N+1..N+50 in order, the pong exactly behind the ops sent
 * before it, the other member sees the events in order, the log matches. */
static void test_wake_keeps_order(void **state)
{
	(void)state;
	const char *args[] = {"--hibernate-after", "200", NULL};
	rd_proc *rd = rt_start(args);
	enum { N = 3, OPS = 50, PING_AFTER = 25 };
	struct ws *a = rt_join(rd, "wake", "name=alice", NULL);
	struct ws *b = rt_join(rd, "wake", "name=bob", NULL);
	for (int i = 1; i <= N; i++) {
		char id[16];
		snprintf(id, sizeof(id), "w%d", i);
		chat(a, id, i);
	}
	for (int i = 1; i <= N; i++)
		cJSON_Delete(rt_expect(b, "event"));
	assert_true(rd_log_wait(rd, "room wake hibernated", 5000));
	for (int i = 0; i < OPS; i++) {
		if (i == PING_AFTER)
			assert_int_equal(RT_SEND(a, "{\"t\":\"ping\",\"id\":\"pp\"}"), 0);
		char id[16];
		snprintf(id, sizeof(id), "o%d", i);
		rt_send_op(a, id, "{\"k\":\"chat.post\",\"text\":\"burst\"}");
	}
	int acks = 0;
	bool ponged = false;
	while (acks < OPS) {
		cJSON *m = ws_recv_json(a, RT_TIMEOUT_MS);
		if (!m)
			fail_msg("after %d acks: %s (close %d)", acks, ws_error(a),
				 ws_close_code(a));
		const char *t = msg_type(m);
		if (strcmp(t, "ack") == 0) {
			char want[16];
			snprintf(want, sizeof(want), "o%d", acks);
			assert_string_equal(rt_str(m, "id"), want);
			assert_int_equal(rt_int(m, "seq"), N + 1 + acks);
			acks++;
		} else if (strcmp(t, "pong") == 0) {
			assert_int_equal(acks,
					 PING_AFTER); /* behind the ops sent before it */
			ponged = true;
		} else if (strcmp(t, "reject") == 0 || strcmp(t, "error") == 0) {
			fail_msg("got %s", cJSON_PrintUnformatted(m));
		}
		cJSON_Delete(m);
	}
	assert_true(ponged);
	for (int i = 0; i < OPS; i++) {
		cJSON *e = rt_expect(b, "event");
		char want[16];
		snprintf(want, sizeof(want), "o%d", i);
		assert_string_equal(rt_str(e, "id"), want);
		assert_int_equal(rt_int(e, "seq"), N + 1 + i);
		cJSON_Delete(e);
	}
	char db[PATH_MAX + 64], sql[160], got[80];
	rd_room_db(rd, "wake", db, sizeof(db));
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), N + OPS);
	assert_int_equal(rt_sql_int(db, "SELECT max(seq) FROM events"), N + OPS);
	for (int i = 0; i < OPS; i++) {
		char want[16];
		snprintf(want, sizeof(want), "o%d", i);
		snprintf(sql, sizeof(sql), "SELECT op_id FROM events WHERE seq=%d",
			 N + 1 + i);
		rt_sql_text(db, sql, got, sizeof(got));
		assert_string_equal(got, want);
	}
	/* A join after the wake sees it all. */
	cJSON *w = NULL;
	struct ws *c = rt_join(rd, "wake", "name=carol", &w);
	assert_int_equal(rt_int(w, "seq"), N + OPS);
	cJSON_Delete(w);
	rt_free(a);
	rt_free(b);
	rt_free(c);
	rd_cleanup(rd);
}

/* Joins racing to brand-new rooms (the second upgrade lands while the first
 * join waits for the file to be created on the loader thread): one load
 * per room, both welcomes carry its epoch. An op pipelined by a conn that
 * has no welcome yet is applied after its welcome. */
/* A new room costs no file until its first op: joins, presence and a
 * resume at seq 0 create nothing; the first op creates the file with the
 * epoch the members were given, and is there after a kill -9 (a resume
 * from it is a resume). A new room nobody wrote to, once empty and
 * hibernated, does not exist for the HTTP API (PROTOCOL.md 8: "every room
 * with a file or a connection"). */
static void test_new_room_file_at_first_op(void **state)
{
	(void)state;
	const char *args[] = {"--hibernate-after", "300", NULL};
	rd_proc *rd = rt_start(args);
	char db[PATH_MAX + 64], epoch[80];
	rd_room_db(rd, "lazy", db, sizeof(db));
	cJSON *wa = NULL;
	struct ws *a = rt_join(rd, "lazy", "name=a", &wa);
	struct ws *b = rt_join(rd, "lazy", "name=b", NULL);
	char *body = NULL;
	assert_int_equal(rt_http(rd, "/v1/rooms/lazy", NULL, &body), 200);
	cJSON *j = cJSON_Parse(body);
	free(body);
	assert_int_equal(rt_int(j, "connections"), 2);
	assert_string_equal(rt_str(j, "epoch"), rt_str(wa, "epoch"));
	cJSON_Delete(j);
	assert_int_equal(access(db, F_OK), -1);
	assert_int_equal(rt_op(a, "first", "{\"k\":\"chat.post\",\"text\":\"x\"}", NULL),
			 1);
	cJSON *e = rt_expect(b, "event");
	assert_int_equal(rt_int(e, "seq"), 1);
	cJSON_Delete(e);
	assert_int_equal(access(db, F_OK), 0);
	rt_sql_text(db, "SELECT value FROM meta WHERE key='epoch'", epoch, sizeof(epoch));
	assert_string_equal(epoch, rt_str(wa, "epoch"));
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), 1);
	assert_true(rd_log_contains(rd, "room lazy loaded: new"));

	/* An empty room, joined and left: no file, and gone once hibernated. */
	struct ws *c = rt_join(rd, "empty", "name=c", NULL);
	rt_free(c);
	assert_true(rd_log_wait(rd, "room empty hibernated", 10000));
	assert_int_equal(rt_http(rd, "/v1/rooms/empty", NULL, NULL), 404);
	assert_int_equal(rt_http(rd, "/v1/rooms", NULL, &body), 200);
	assert_null(strstr(body, "\"empty\""));
	assert_non_null(strstr(body, "\"lazy\""));
	free(body);
	rd_room_db(rd, "empty", db, sizeof(db));
	assert_int_equal(access(db, F_OK), -1);
	char *m = NULL;
	assert_int_equal(rt_http(rd, "/metrics", NULL, &m), 200);
	assert_non_null(strstr(m, "roomd_room_files_created_total 1\n"));
	free(m);

	/* kill -9: the acked op and the epoch survive; a resume resumes. */
	rt_free(a);
	rt_free(b);
	assert_int_equal(rd_stop(rd, SIGKILL), 128 + SIGKILL);
	assert_int_equal(rd_restart(rd, NULL), 0);
	char q[160];
	snprintf(q, sizeof(q), "name=a&since=1&epoch=%s", rt_str(wa, "epoch"));
	cJSON *w2 = NULL;
	a = rt_join(rd, "lazy", q, &w2);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(w2, "resumed")));
	assert_int_equal(rt_int(w2, "seq"), 1);
	cJSON_Delete(w2);
	cJSON_Delete(wa);
	rt_free(a);
	rd_cleanup(rd);
}

static void test_join_race_new_room(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	enum { ROOMS = 8 };
	for (int i = 0; i < ROOMS; i++) {
		char room[16], path[64];
		snprintf(room, sizeof(room), "race%d", i);
		snprintf(path, sizeof(path), "/ws/%s?name=a", room);
		struct ws *a = ws_connect(rd->host, rd->port, path, NULL, 3000);
		assert_non_null(a);
		rt_send_op(a, "first", "{\"k\":\"chat.post\",\"text\":\"early\"}");
		snprintf(path, sizeof(path), "/ws/%s?name=b", room);
		struct ws *b = ws_connect(rd->host, rd->port, path, NULL, 3000);
		assert_non_null(b);

		cJSON *wa = ws_recv_json(a, RT_TIMEOUT_MS);
		assert_non_null(wa);
		assert_string_equal(msg_type(wa), "welcome"); /* before its ack */
		assert_int_equal(rt_int(wa, "seq"), 0);
		cJSON *ack = rt_expect(a, "ack");
		assert_string_equal(rt_str(ack, "id"), "first");
		assert_int_equal(rt_int(ack, "seq"), 1);
		cJSON_Delete(ack);

		cJSON *wb = rt_expect(b, "welcome");
		assert_string_equal(rt_str(wa, "epoch"), rt_str(wb, "epoch"));
		if (rt_int(wb, "seq") == 0) { /* b was welcomed before a's op */
			cJSON *e = rt_expect(b, "event");
			assert_int_equal(rt_int(e, "seq"), 1);
			cJSON_Delete(e);
		} else {
			assert_int_equal(rt_int(wb, "seq"), 1);
		}
		char db[PATH_MAX + 64], epoch[80];
		rd_room_db(rd, room, db, sizeof(db));
		rt_sql_text(db, "SELECT value FROM meta WHERE key='epoch'", epoch,
			    sizeof(epoch));
		assert_string_equal(rt_str(wa, "epoch"), epoch);
		cJSON_Delete(wa);
		cJSON_Delete(wb);
		rt_free(a);
		rt_free(b);
	}
	rd_cleanup(rd);
}

/* --fsync: ops pipelined into two rooms (a ping among them) are acked in
 * seq order, the pong exactly behind the ops sent before it, and the other
 * member of each room gets the events in order; the log matches. */
static void test_fsync_pipelined_order(void **state)
{
	(void)state;
	const char *args[] = {"--fsync",     "--ops-per-sec", "100000",
			      "--ops-burst", "100000",	      NULL};
	rd_proc *rd = rt_start(args);
	enum { ROOMS = 2, OPS = 300, PING_AFTER = 150 };
	struct ws *a[ROOMS], *b[ROOMS];
	for (int r = 0; r < ROOMS; r++) {
		char room[16];
		snprintf(room, sizeof(room), "fs%d", r);
		a[r] = rt_join(rd, room, "name=alice", NULL);
		b[r] = rt_join(rd, room, "name=bob", NULL);
	}
	for (int i = 0; i < OPS; i++) {
		for (int r = 0; r < ROOMS; r++) {
			if (i == PING_AFTER)
				assert_int_equal(
				    RT_SEND(a[r], "{\"t\":\"ping\",\"id\":\"pp\"}"), 0);
			char id[16];
			snprintf(id, sizeof(id), "o%d", i);
			rt_send_op(a[r], id, "{\"k\":\"chat.post\",\"text\":\"p\"}");
		}
	}
	for (int r = 0; r < ROOMS; r++) {
		int acks = 0;
		bool ponged = false;
		while (acks < OPS) {
			cJSON *m = ws_recv_json(a[r], RT_TIMEOUT_MS);
			if (!m)
				fail_msg("room %d after %d acks: %s (close %d)", r, acks,
					 ws_error(a[r]), ws_close_code(a[r]));
			const char *t = msg_type(m);
			if (strcmp(t, "ack") == 0) {
				char want[16];
				snprintf(want, sizeof(want), "o%d", acks);
				assert_string_equal(rt_str(m, "id"), want);
				assert_int_equal(rt_int(m, "seq"), acks + 1);
				acks++;
			} else if (strcmp(t, "pong") == 0) {
				assert_int_equal(acks, PING_AFTER);
				ponged = true;
			} else if (strcmp(t, "reject") == 0 || strcmp(t, "error") == 0) {
				fail_msg("got %s", cJSON_PrintUnformatted(m));
			}
			cJSON_Delete(m);
		}
		assert_true(ponged);
		for (int i = 0; i < OPS; i++) {
			cJSON *e = rt_expect(b[r], "event");
			char want[16];
			snprintf(want, sizeof(want), "o%d", i);
			assert_string_equal(rt_str(e, "id"), want);
			assert_int_equal(rt_int(e, "seq"), i + 1);
			cJSON_Delete(e);
		}
		char room[16], db[PATH_MAX + 64];
		snprintf(room, sizeof(room), "fs%d", r);
		rd_room_db(rd, room, db, sizeof(db));
		assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), OPS);
		rt_free(a[r]);
		rt_free(b[r]);
	}
	rd_cleanup(rd);
}

/* --fsync: joins landing while pipelined ops wait for their sync get a
 * consistent welcome: its seq is the number of chat posts in its state
 * (and the newest one's seq), and the events after it continue from there. */
static void test_fsync_join_consistent(void **state)
{
	(void)state;
	const char *args[] = {"--fsync",     "--ops-per-sec", "100000",
			      "--ops-burst", "100000",	      NULL};
	rd_proc *rd = rt_start(args);
	enum { JOINS = 6, OPS_PER = 20 }; /* 120 posts: under the 200 kept */
	struct ws *a = rt_join(rd, "fj", "name=alice", NULL);
	struct ws *j[JOINS];
	int64_t sent = 0;
	for (int k = 0; k < JOINS; k++) {
		for (int i = 0; i < OPS_PER; i++) {
			char id[32]; /* room for any int64 (Debug -Wformat-truncation) */
			snprintf(id, sizeof(id), "o%lld", (long long)++sent);
			rt_send_op(a, id, "{\"k\":\"chat.post\",\"text\":\"j\"}");
		}
		char path[32];
		snprintf(path, sizeof(path), "/ws/fj?name=j%d", k);
		j[k] = ws_connect(rd->host, rd->port, path, NULL, 3000);
		assert_non_null(j[k]);
	}
	for (int k = 0; k < JOINS; k++) {
		cJSON *w = rt_expect(j[k], "welcome");
		int64_t seq = rt_int(w, "seq");
		cJSON *chatv =
		    cJSON_GetObjectItem(cJSON_GetObjectItem(w, "state"), "chat");
		assert_non_null(chatv);
		int n = cJSON_GetArraySize(chatv);
		if (n != seq)
			fail_msg("join %d: welcome seq %lld with %d chat posts", k,
				 (long long)seq, n);
		if (n > 0)
			assert_int_equal(rt_int(cJSON_GetArrayItem(chatv, n - 1), "seq"),
					 seq);
		/* The events after the welcome continue from its seq. */
		for (int64_t want = seq + 1; want <= sent; want++) {
			cJSON *e = rt_expect(j[k], "event");
			assert_int_equal(rt_int(e, "seq"), want);
			cJSON_Delete(e);
		}
		cJSON_Delete(w);
		rt_free(j[k]);
	}
	for (int64_t i = 1; i <= sent; i++) {
		cJSON *ack = rt_expect(a, "ack");
		assert_int_equal(rt_int(ack, "seq"), i);
		cJSON_Delete(ack);
	}
	rt_free(a);
	rd_cleanup(rd);
}

/* A room whose log was compacted away (roomctl compact --keep-events 0)
 * keeps its seq in its newest snapshot: the startup scan reports that seq
 * in /v1/rooms before the room is loaded, and a join continues from it. */
static void test_compacted_room_seq(void **state)
{
	(void)state;
	const char *args[] = {"--snapshot-every", "1", NULL};
	rd_proc *rd = rt_start(args);
	struct ws *a = rt_join(rd, "cmp", "name=alice", NULL);
	for (int i = 1; i <= 4; i++) {
		char id[8];
		snprintf(id, sizeof(id), "c%d", i);
		chat(a, id, i);
	}
	rt_free(a);
	assert_int_equal(rd_stop(rd, SIGTERM), 0);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "cmp", db, sizeof(db));
	assert_int_equal(rt_sql_int(db, "SELECT max(seq) FROM snapshots"), 4);
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(h, "DELETE FROM events; DELETE FROM snapshots WHERE seq < 4",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(rd_restart(rd, NULL), 0);
	char *body = NULL;
	assert_int_equal(rt_http(rd, "/v1/rooms", NULL, &body), 200);
	cJSON *list = cJSON_Parse(body);
	free(body);
	cJSON *r0 = cJSON_GetArrayItem(list, 0);
	assert_non_null(r0);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r0, "loaded")));
	assert_int_equal(rt_int(r0, "seq"), 4);
	cJSON_Delete(list);
	struct ws *b = rt_join(rd, "cmp", "name=bob", NULL);
	chat(b, "c5", 5);
	rt_free(b);
	rd_cleanup(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_presence_grace),
	    cmocka_unit_test(test_hibernation),
	    cmocka_unit_test(test_restart_and_drain),
	    cmocka_unit_test(test_alarms),
	    cmocka_unit_test(test_kill9),
	    cmocka_unit_test(test_kill9_fsync),
	    cmocka_unit_test(test_room_lock),
	    cmocka_unit_test(test_compacted_room_seq),
	    cmocka_unit_test(test_wake_keeps_order),
	    cmocka_unit_test(test_join_race_new_room),
	    cmocka_unit_test(test_new_room_file_at_first_op),
	    cmocka_unit_test(test_fsync_pipelined_order),
	    cmocka_unit_test(test_fsync_join_consistent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
