/*
 * test_roomd_delete.c - rooms end: DELETE /v1/rooms/<room> closes the
 * room's clients with 4404 and removes its files off the loop, whatever the
 * room was doing (loaded with ops in flight, hibernated with members, being
 * woken); a room created again under the name is new (new epoch, seq from
 * 1, a stale client resuming with the old epoch gets the full, empty
 * state); roomctl delete does the same offline and is refused while a roomd
 * holds the room; a removal interrupted by a crash is finished at start.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "clock.h"
#include "roomtest.h"
#include "timescale.h"

#define CHAT "{\"k\":\"chat.post\",\"text\":\"x\"}"

static bool exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* True once none of db, db-wal, db-shm exists (polls every 10 ms). */
static bool wait_files_gone(const char *db, int timeout_ms)
{
	char wal[PATH_MAX + 80], shm[PATH_MAX + 80];
	snprintf(wal, sizeof(wal), "%s-wal", db);
	snprintf(shm, sizeof(shm), "%s-shm", db);
	int64_t end = rk_mono_us() + (int64_t)rt_scaled_ms(timeout_ms) * 1000;
	while (exists(db) || exists(wal) || exists(shm)) {
		if (rk_mono_us() > end)
			return false;
		usleep(10000);
	}
	return true;
}

static int del(rd_proc *rd, const char *room, cJSON **reply)
{
	char path[128], *body = NULL;
	snprintf(path, sizeof(path), "/v1/rooms/%s", room);
	int st = rt_http_method(rd, "DELETE", path, NULL, &body);
	if (reply)
		*reply = body ? cJSON_Parse(body) : NULL;
	free(body);
	return st;
}

/* A loaded room with two members: DELETE answers 202 with the old epoch,
 * both are closed with 4404, the files go, GET says 404, the metrics count
 * it; a join then makes a new room, and a stale client resuming with the
 * old epoch gets a full (empty) state and seq 1 for its first op. */
static void test_delete_loaded_room(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	char db[PATH_MAX + 64];
	rd_room_db(rd, "gone", db, sizeof(db));
	cJSON *wa = NULL;
	struct ws *a = rt_join(rd, "gone", "name=alice", &wa);
	struct ws *b = rt_join(rd, "gone", "name=bob", NULL);
	char old_epoch[80];
	snprintf(old_epoch, sizeof(old_epoch), "%s", rt_str(wa, "epoch"));
	for (int i = 1; i <= 5; i++) {
		char id[8];
		snprintf(id, sizeof(id), "a%d", i);
		assert_int_equal(rt_op(a, id, CHAT, NULL), i);
	}
	cJSON *reply = NULL;
	assert_int_equal(del(rd, "gone", &reply), 202);
	assert_non_null(reply);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(reply, "deleted")));
	assert_string_equal(rt_str(reply, "epoch"), old_epoch);
	assert_int_equal(rt_int(reply, "connections_closed"), 2);
	cJSON_Delete(reply);
	rt_expect_close(a, 4404, "room deleted");
	rt_expect_close(b, 4404, "room deleted");
	assert_true(wait_files_gone(db, 5000));
	assert_int_equal(rt_http(rd, "/v1/rooms/gone", NULL, NULL), 404);
	char *body = NULL;
	assert_int_equal(rt_http(rd, "/v1/rooms", NULL, &body), 200);
	assert_null(strstr(body, "\"gone\""));
	free(body);
	assert_int_equal(del(rd, "gone", NULL), 404);
	assert_true(rd_log_wait(rd, "room gone: files removed", RT_TIMEOUT_MS));
	rt_http(rd, "/metrics", NULL, &body);
	assert_non_null(strstr(body, "roomd_rooms_deleted_total 1\n"));
	assert_non_null(strstr(body, "roomd_closes_total{code=\"4404\"} 2\n"));
	free(body);

	char q[256];
	snprintf(q, sizeof(q), "name=carol&since=5&epoch=%s", old_epoch);
	cJSON *wc = NULL;
	struct ws *c = rt_join(rd, "gone", q, &wc);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(wc, "resumed")));
	assert_int_equal(rt_int(wc, "seq"), 0);
	assert_string_not_equal(rt_str(wc, "epoch"), old_epoch);
	cJSON *chat = cJSON_GetObjectItem(cJSON_GetObjectItem(wc, "state"), "chat");
	assert_int_equal(cJSON_GetArraySize(chat), 0);
	assert_int_equal(rt_op(c, "c1", CHAT, NULL), 1);
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), 1);
	rt_free(a);
	rt_free(b);
	rt_free(c);
	cJSON_Delete(wa);
	cJSON_Delete(wc);
	rd_cleanup(rd);
}

/* Whatever the room is doing: 200 ops pipelined and not yet acked (the
 * committed ones are acked before the 4404, none after it), a hibernated
 * room whose member keeps its lock, a join right behind the DELETE (it
 * waits for the removal and gets a new room); bad requests are refused. */
static void test_delete_races(void **state)
{
	(void)state;
	rd_proc *rd =
	    rt_start((const char *const[]){"--hibernate-after", "300", "--ops-per-sec",
					   "100000", "--ops-burst", "100000", NULL});
	/* In flight. */
	struct ws *a = rt_join(rd, "busy", "name=alice", NULL);
	for (int i = 0; i < 200; i++) {
		char id[8];
		snprintf(id, sizeof(id), "p%d", i);
		rt_send_op(a, id, CHAT);
	}
	assert_int_equal(del(rd, "busy", NULL), 202);
	int acks = 0, last = 0;
	for (;;) {
		const char *text = NULL;
		size_t len = 0;
		ws_result r = ws_recv(a, RT_TIMEOUT_MS, NULL, &text, &len);
		if (r != WS_MSG) {
			assert_int_equal(r, WS_CLOSED);
			break;
		}
		cJSON *m = cJSON_ParseWithLength(text, len);
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(m, "t"));
		if (t && strcmp(t, "ack") == 0) {
			int seq = (int)rt_int(m, "seq");
			assert_int_equal(seq, last + 1);
			last = seq;
			acks++;
		}
		cJSON_Delete(m);
	}
	assert_int_equal(ws_close_code(a), 4404);
	print_message("%d of 200 pipelined ops acked before the 4404\n", acks);
	/* Right behind the DELETE: a new room. */
	cJSON *w = NULL;
	struct ws *a2 = rt_join(rd, "busy", "name=alice", &w);
	assert_int_equal(rt_int(w, "seq"), 0);
	cJSON_Delete(w);
	assert_int_equal(rt_op(a2, "n1", CHAT, NULL), 1);
	rt_free(a2);

	/* Hibernated, with a member (which holds the room's lock). */
	struct ws *h = rt_join(rd, "sleepy", "name=h", NULL);
	assert_int_equal(rt_op(h, "h1", CHAT, NULL), 1);
	assert_true(rd_log_wait(rd, "room sleepy hibernated", rt_scaled_ms(5000)));
	char db[PATH_MAX + 64];
	rd_room_db(rd, "sleepy", db, sizeof(db));
	assert_int_equal(del(rd, "sleepy", NULL), 202);
	rt_expect_close(h, 4404, "room deleted");
	assert_true(wait_files_gone(db, 5000));

	/* Refusals. */
	assert_int_equal(del(rd, "never-was", NULL), 404);
	assert_int_equal(rt_http_method(rd, "DELETE", "/v1/rooms", NULL, NULL), 405);
	assert_int_equal(rt_http_method(rd, "DELETE", "/healthz", NULL, NULL), 405);
	assert_int_equal(rt_http_method(rd, "DELETE", "/v1/rooms/a%2fb", NULL, NULL),
			 400);
	assert_int_equal(rt_http_method(rd, "PUT", "/v1/rooms/busy", NULL, NULL), 405);
	rt_free(a);
	rt_free(h);
	rd_cleanup(rd);
}

/* roomctl delete: refused (exit 1) while roomd holds the room, and for a
 * file that is not a room; removes an idle room's files; a usage error is
 * exit 2. A roomd started on a directory where a removal was interrupted
 * (ROOM.db.deleting and a stale -wal left) finishes it, and the room of
 * that name is new. */
static void test_roomctl_delete(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	char db[PATH_MAX + 64], out[2048];
	rd_room_db(rd, "off", db, sizeof(db));
	struct ws *a = rt_join(rd, "off", "name=alice", NULL);
	assert_int_equal(rt_op(a, "o1", CHAT, NULL), 1);
	assert_int_equal(
	    rt_roomctl((const char *const[]){"delete", db, NULL}, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "Error: "));
	assert_non_null(strstr(out, "held by a running roomd"));
	assert_true(exists(db));
	rt_free(a);
	assert_int_equal(rd_stop(rd, SIGTERM), 0);

	assert_int_equal(
	    rt_roomctl((const char *const[]){"delete", NULL}, out, sizeof(out)), 2);
	char junk[PATH_MAX + 64];
	snprintf(junk, sizeof(junk), "%s/rooms/junk.db", rd->data_dir);
	FILE *f = fopen(junk, "w");
	fputs("not sqlite", f);
	fclose(f);
	assert_int_equal(
	    rt_roomctl((const char *const[]){"delete", junk, NULL}, out, sizeof(out)), 1);
	assert_true(exists(junk));
	unlink(junk);
	assert_int_equal(
	    rt_roomctl((const char *const[]){"delete", db, NULL}, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "deleted "));
	assert_non_null(strstr(out, "room off"));
	assert_true(wait_files_gone(db, 1000));

	/* An interrupted removal: ROOM.db.deleting and the old -wal remain. */
	char wal[PATH_MAX + 80], gone[PATH_MAX + 80];
	snprintf(wal, sizeof(wal), "%s-wal", db);
	snprintf(gone, sizeof(gone), "%s.deleting", db);
	f = fopen(wal, "w");
	fputs("stale wal of a dead room", f);
	fclose(f);
	f = fopen(gone, "w");
	fclose(f);
	assert_int_equal(rd_restart(rd, NULL), 0);
	assert_true(rd_log_contains(rd, "finished removing"));
	assert_false(exists(gone));
	assert_false(exists(wal));
	cJSON *w = NULL;
	a = rt_join(rd, "off", "name=alice", &w);
	assert_int_equal(rt_int(w, "seq"), 0);
	cJSON_Delete(w);
	assert_int_equal(rt_op(a, "n1", CHAT, NULL), 1);
	rt_free(a);
	rd_cleanup(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_delete_loaded_room),
	    cmocka_unit_test(test_delete_races),
	    cmocka_unit_test(test_roomctl_delete),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
