/*
 * test_roomd_storage.c - what a room costs on disk: WALs are really
 * checkpointed (the .db file alone holds the data), a loaded room's WAL
 * stays under a bound while ops keep coming, a hibernating room's WAL and a
 * SIGTERM'd roomd's are truncated, a room's files stay within a factor of
 * its export, a checkpoint that copies nothing is a metric and a warning,
 * and --retain-events cuts a hibernating room's log but never into the
 * idempotency window; a quiet loaded room closes its file (dozes) and its
 * next op reopens it, nothing lost.
 *
 * Bounds stated here (roomd/room.c CKPT_FRAMES = 1000 frames of 4 KiB + 24
 * bytes, store.h STORE_WAL_LIMIT = 4 MiB): a loaded room's WAL never
 * exceeds WAL_BOUND = 10 MiB (roomd holds a room's commits once its WAL
 * passes 2 * CKPT_FRAMES = 8.2 MB while a checkpoint runs; plus what one
 * loop turn commits); after hibernation or shutdown it is 0 bytes, and
 * .db + -wal + -shm is at most SIZE_FACTOR times the size of `roomctl
 * export` of the room.
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

#define WAL_BOUND (10 * 1048576LL)
#define SIZE_FACTOR 4
#define FAST_OPS "--ops-per-sec", "1000000", "--ops-burst", "1000000"

/* Size of a file, 0 if it does not exist. */
static long long fsize(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static long long wal_size(const char *db)
{
	char p[PATH_MAX + 80];
	snprintf(p, sizeof(p), "%s-wal", db);
	return fsize(p);
}

/* .db + -wal + -shm */
static long long room_bytes(const char *db)
{
	char p[PATH_MAX + 80];
	snprintf(p, sizeof(p), "%s-shm", db);
	return fsize(db) + wal_size(db) + fsize(p);
}

/*
 * Events in the .db file ALONE (what a checkpoint has copied into it): the
 * file is copied without its -wal and opened immutable, so SQLite cannot
 * see the WAL. -1 if the copy has no events table (nothing checkpointed
 * yet: a 4 KiB file holding only the WAL-mode header) or is unreadable.
 */
static long long db_alone_events(const char *db)
{
	char copy[] = "/tmp/roomtest-alone-XXXXXX";
	int out = mkstemp(copy);
	int in = open(db, O_RDONLY | O_CLOEXEC);
	long long n = -1;
	if (out < 0 || in < 0)
		fail_msg("cannot copy %s", db);
	char buf[65536];
	ssize_t r;
	while ((r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)r) != r)
			fail_msg("cannot copy %s", db);
	close(in);
	close(out);
	char uri[PATH_MAX];
	snprintf(uri, sizeof(uri), "file:%s?immutable=1", copy);
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	if (sqlite3_open_v2(uri, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) ==
		SQLITE_OK &&
	    sqlite3_prepare_v2(h, "SELECT count(*) FROM events", -1, &q, NULL) ==
		SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(h);
	unlink(copy);
	return n;
}

/* The value of a metric line "name value" in GET /metrics, -1 if absent. */
static long long metric(rd_proc *rd, const char *name)
{
	char *body = NULL;
	assert_int_equal(rt_http(rd, "/metrics", NULL, &body), 200);
	long long v = -1;
	size_t n = strlen(name);
	for (const char *p = body; (p = strstr(p, name)); p += n) {
		if ((p == body || p[-1] == '\n') && p[n] == ' ') {
			v = strtoll(p + n + 1, NULL, 10);
			break;
		}
	}
	free(body);
	return v;
}

/* Poll (every 20 ms) until the WAL of db is at most max bytes. */
static bool wait_wal_at_most(const char *db, long long max, int timeout_ms)
{
	int64_t end = rk_mono_us() + (int64_t)rt_scaled_ms(timeout_ms) * 1000;
	while (wal_size(db) > max) {
		if (rk_mono_us() > end)
			return false;
		usleep(20000);
	}
	return true;
}

/* Poll until the .db alone holds at least want events. */
static bool wait_db_events(const char *db, long long want, int timeout_ms)
{
	int64_t end = rk_mono_us() + (int64_t)rt_scaled_ms(timeout_ms) * 1000;
	while (db_alone_events(db) < want) {
		if (rk_mono_us() > end)
			return false;
		usleep(20000);
	}
	return true;
}

static void chat_ops(struct ws *w, int from, int n, const char *db, long long *max_wal)
{
	for (int i = from; i < from + n; i++) {
		char id[24];
		snprintf(id, sizeof(id), "c%d", i);
		if (rt_op(w, id,
			  "{\"k\":\"chat.post\",\"text\":\"hello, this is a chat line\"}",
			  NULL) != i)
			fail_msg("op %d not acked with its seq", i);
		if (max_wal && i % 100 == 0) {
			long long ws = wal_size(db);
			if (ws > *max_wal)
				*max_wal = ws;
		}
	}
}

/* 4000 ops, one commit each, into a loaded room: the WAL never exceeds
 * WAL_BOUND, the checkpoints copy the log into the .db (which alone then
 * holds nearly all of it), and none of them is a no-op. */
static void test_wal_bounded_under_ops(void **state)
{
	(void)state;
	enum { N = 4000 };
	rd_proc *rd = rt_start((const char *const[]){FAST_OPS, NULL});
	char db[PATH_MAX + 64];
	rd_room_db(rd, "wal", db, sizeof(db));
	struct ws *a = rt_join(rd, "wal", "name=alice", NULL);
	long long max_wal = 0;
	chat_ops(a, 1, N, db, &max_wal);
	/* Everything but the tail since the last WAL restart is in the .db. */
	if (!wait_db_events(db, N / 2, 10000))
		fail_msg(
		    "the .db alone holds %lld of %d events (WAL %lld bytes): the WAL "
		    "was not checkpointed",
		    db_alone_events(db), N, wal_size(db));
	if (max_wal > WAL_BOUND || wal_size(db) > WAL_BOUND)
		fail_msg("WAL reached %lld bytes (now %lld), bound %lld", max_wal,
			 wal_size(db), WAL_BOUND);
	print_message(
	    "WAL at most %lld bytes during %d ops, %lld at the end; .db alone holds "
	    "%lld events\n",
	    max_wal, N, wal_size(db), db_alone_events(db));
	assert_true(metric(rd, "roomd_wal_checkpoints_total{result=\"complete\"}") +
			metric(rd, "roomd_wal_checkpoints_total{result=\"partial\"}") >=
		    1);
	assert_int_equal(metric(rd, "roomd_wal_checkpoints_total{result=\"noop\"}"), 0);
	assert_true(metric(rd, "roomd_wal_checkpoint_frames_total") > 0);
	rt_free(a);
	rd_cleanup(rd);
}

/* A room that hibernates has its WAL copied into the .db and truncated: the
 * .db alone holds every event and the final snapshot, and the room's files
 * are within SIZE_FACTOR of its export. It wakes with its state. */
static void test_wal_truncated_at_hibernation(void **state)
{
	(void)state;
	enum { N = 1500 };
	rd_proc *rd =
	    rt_start((const char *const[]){FAST_OPS, "--hibernate-after", "300", NULL});
	char db[PATH_MAX + 64];
	rd_room_db(rd, "hib", db, sizeof(db));
	struct ws *a = rt_join(rd, "hib", "name=alice", NULL);
	chat_ops(a, 1, N, db, NULL);
	assert_true(rd_log_wait(rd, "room hib hibernated", rt_scaled_ms(5000)));
	if (!wait_wal_at_most(db, 0, 10000))
		fail_msg("WAL of a hibernated room is %lld bytes, want 0", wal_size(db));
	assert_int_equal(db_alone_events(db), N);
	assert_int_equal(rt_sql_int(db, "SELECT max(seq) FROM snapshots"), N);
	assert_int_equal(metric(rd, "roomd_wal_truncations_total") >= 1, 1);

	char exp[PATH_MAX + 64];
	snprintf(exp, sizeof(exp), "%s/export.jsonl", rd->tmp_dir);
	assert_int_equal(
	    rt_roomctl((const char *const[]){"export", db, "--output", exp, NULL}, NULL,
		       0),
	    0);
	long long files = room_bytes(db), export_bytes = fsize(exp);
	print_message("room files %lld bytes, export %lld bytes (factor %.2f)\n", files,
		      export_bytes, (double)files / (double)export_bytes);
	assert_true(export_bytes > 0);
	if (files > SIZE_FACTOR * export_bytes)
		fail_msg("room files %lld bytes > %d x export %lld", files, SIZE_FACTOR,
			 export_bytes);
	/* It wakes with its seq (and the next op goes on from there). */
	chat_ops(a, N + 1, 1, db, NULL);
	rt_free(a);
	rd_cleanup(rd);
}

/* SIGTERM: every loaded room's WAL goes into its .db and is truncated. */
static void test_wal_truncated_at_shutdown(void **state)
{
	(void)state;
	enum { N = 600 };
	rd_proc *rd = rt_start((const char *const[]){FAST_OPS, NULL});
	char db[PATH_MAX + 64];
	rd_room_db(rd, "down", db, sizeof(db));
	struct ws *a = rt_join(rd, "down", "name=alice", NULL);
	chat_ops(a, 1, N, db, NULL);
	assert_true(wal_size(db) > 0);
	rt_free(a);
	assert_int_equal(rd_stop(rd, SIGTERM), 0);
	assert_int_equal(wal_size(db), 0);
	assert_int_equal(db_alone_events(db), N);
	rd_cleanup(rd);
}

/* A reader (roomctl, say) holding a snapshot stops a hibernating room's
 * TRUNCATE from copying anything: that is counted (noop) and logged as a
 * warning, and once the reader is gone a retry truncates the WAL. */
static void test_noop_checkpoint_is_visible(void **state)
{
	(void)state;
	rd_proc *rd =
	    rt_start((const char *const[]){FAST_OPS, "--hibernate-after", "300", NULL});
	char db[PATH_MAX + 64];
	rd_room_db(rd, "held", db, sizeof(db));
	struct ws *a = rt_join(rd, "held", "name=alice", NULL);
	chat_ops(a, 1, 50, db, NULL);
	assert_true(rd_log_wait(rd, "room held hibernated", rt_scaled_ms(5000)));
	assert_true(wait_wal_at_most(db, 0, 10000));
	assert_int_equal(metric(rd, "roomd_wal_checkpoints_total{result=\"noop\"}"), 0);

	/* A read transaction on the checkpointed file. */
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(h, "BEGIN; SELECT count(*) FROM events", NULL, NULL, NULL),
	    SQLITE_OK);
	chat_ops(a, 51, 50, db, NULL); /* wakes the room, which hibernates again */
	assert_true(rd_log_wait(rd, "copied nothing out of a", rt_scaled_ms(10000)));
	assert_true(metric(rd, "roomd_wal_checkpoints_total{result=\"noop\"}") >= 1);
	assert_true(wal_size(db) > 0);
	sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(h);
	if (!wait_wal_at_most(db, 0, 15000))
		fail_msg("WAL not truncated after the reader left: %lld bytes",
			 wal_size(db));
	assert_int_equal(db_alone_events(db), 100);
	rt_free(a);
	rd_cleanup(rd);
}

/* A room file of n chat posts made by roomctl import (snapshots every 1000
 * and at the end): events up to recent_from - 1 from 2023, the rest from
 * now. */
static void import_room(const char *data_dir, const char *room, int n, int recent_from)
{
	char exp[PATH_MAX + 64], db[PATH_MAX + 64];
	snprintf(exp, sizeof(exp), "%s/%s.jsonl", data_dir, room);
	snprintf(db, sizeof(db), "%s/rooms/%s.db", data_dir, room);
	FILE *f = fopen(exp, "w");
	assert_non_null(f);
	fprintf(f,
		"{\"t\":\"room\",\"v\":1,\"room\":\"%s\",\"epoch\":\"00112233aabbccdd\","
		"\"created_ms\":1700000000000,\"format\":1}\n",
		room);
	long long now = (long long)rk_wall_ms();
	for (int i = 1; i <= n; i++)
		fprintf(f,
			"{\"t\":\"event\",\"seq\":%d,\"ts\":%lld,\"session\":\"s1\","
			"\"user\":\"alice\",\"id\":\"o%d\",\"op\":{\"k\":\"chat.post\","
			"\"text\":\"m%d\"}}\n",
			i, i < recent_from ? 1700000000000LL + i : now, i, i);
	fclose(f);
	char out[512];
	if (rt_roomctl((const char *const[]){"import", exp, db, NULL}, out,
		       sizeof(out)) != 0)
		fail_msg("import: %s", out);
	unlink(exp);
}

/* --retain-events: when a room hibernates, its log is cut at the newest
 * snapshot that keeps the last N events - and never into the idempotency
 * window: the last 10,000 events ("old": 12,500 events from 2023, cut at
 * the snapshot 2000) and the events within 24 h of the newest ("recent": events
 * after 1500 are from now, cut at the snapshot 1000). The file verifies,
 * replay before the cut says so, and the room reloads at its seq. */
static void test_retention_keeps_the_window(void **state)
{
	(void)state;
	char dir[] = "/tmp/roomkit-retain-XXXXXX", rooms[64];
	assert_non_null(mkdtemp(dir));
	snprintf(rooms, sizeof(rooms), "%s/rooms", dir);
	assert_int_equal(mkdir(rooms, 0755), 0);
	import_room(dir, "old", 12500, 12501);
	import_room(dir, "recent", 12500, 1501);
	rd_proc *rd = rd_start((const char *const[]){"--retain-events", "100",
						     "--hibernate-after", "300", NULL},
			       dir);
	assert_non_null(rd);
	const struct {
		const char *room;
		int n, cut;
	} cases[] = {{"old", 12500, 2000}, {"recent", 12500, 1000}};
	for (size_t i = 0; i < 2; i++) {
		char q[64], db[PATH_MAX + 64], line[160];
		snprintf(db, sizeof(db), "%s/%s.db", rooms, cases[i].room);
		cJSON *w = NULL;
		struct ws *a = rt_join(rd, cases[i].room, "name=alice", &w);
		assert_int_equal(rt_int(w, "seq"), cases[i].n);
		cJSON_Delete(w);
		snprintf(q, sizeof(q), "n%zu", i);
		assert_int_equal(
		    rt_op(a, q, "{\"k\":\"chat.post\",\"text\":\"new\"}", NULL),
		    cases[i].n + 1);
		snprintf(line, sizeof(line), "events up to seq %d deleted", cases[i].cut);
		assert_true(rd_log_wait(rd, line, rt_scaled_ms(10000)));
		assert_true(wait_wal_at_most(db, 0, 10000));
		assert_int_equal(rt_sql_int(db, "SELECT min(seq) FROM events"),
				 cases[i].cut + 1);
		assert_int_equal(rt_sql_int(db, "SELECT min(seq) FROM snapshots"),
				 cases[i].cut);
		char out[4096];
		assert_int_equal(rt_roomctl((const char *const[]){"verify", db, NULL},
					    out, sizeof(out)),
				 0);
		char upto[16];
		snprintf(upto, sizeof(upto), "%d", cases[i].cut - 1);
		assert_int_equal(
		    rt_roomctl((const char *const[]){"replay", db, "--upto", upto, NULL},
			       out, sizeof(out)),
		    1);
		assert_non_null(strstr(out, "removed by compaction"));
		/* It wakes at its seq. */
		snprintf(q, sizeof(q), "m%zu", i);
		assert_int_equal(
		    rt_op(a, q, "{\"k\":\"chat.post\",\"text\":\"again\"}", NULL),
		    cases[i].n + 2);
		rt_free(a);
	}
	assert_int_equal(metric(rd, "roomd_retention_events_deleted_total"), 3000);
	rd_cleanup(rd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Open descriptors of roomd on the room's -wal or -shm (its SQLite handle;
 * the flock is on the .db itself and stays while the room has members). */
static int handle_fds(rd_proc *rd, const char *db)
{
	char dir[64], p[PATH_MAX + 80], target[PATH_MAX + 80];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)rd->pid);
	int n = 0;
	for (int fd = 0; fd < 1024; fd++) {
		snprintf(p, sizeof(p), "%s/%d", dir, fd);
		ssize_t len = readlink(p, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		size_t dl = strlen(db);
		if (strncmp(target, db, dl) == 0 && (strcmp(target + dl, "-wal") == 0 ||
						     strcmp(target + dl, "-shm") == 0))
			n++;
	}
	return n;
}

/* A loaded room with no op for 1.5 s (room.c ROOM_DOZE_US) closes its
 * SQLite handle but stays loaded (no hibernation: --hibernate-after is
 * long); its next op reopens it and is acked with the next seq, and
 * everything is in the file after a restart. */
static void test_quiet_room_closes_its_file(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(
	    (const char *const[]){FAST_OPS, "--hibernate-after", "600000", NULL});
	char db[PATH_MAX + 64];
	rd_room_db(rd, "quiet", db, sizeof(db));
	struct ws *a = rt_join(rd, "quiet", "name=alice", NULL);
	struct ws *b = rt_join(rd, "quiet", "name=bob", NULL);
	chat_ops(a, 1, 5, db, NULL);
	assert_true(handle_fds(rd, db) > 0);
	int64_t until = rk_mono_us() + rt_scaled_ms(10000) * 1000LL;
	while ((metric(rd, "roomd_room_dozes_total") < 1 || handle_fds(rd, db) > 0) &&
	       rk_mono_us() < until)
		usleep(100000);
	assert_int_equal(metric(rd, "roomd_room_dozes_total"), 1);
	assert_int_equal(handle_fds(rd, db), 0);
	assert_int_equal(metric(rd, "roomd_rooms_loaded"), 1);
	assert_int_equal(metric(rd, "roomd_room_hibernations_total"), 0);
	/* The next op (from the other member) wakes it: acked with seq 6. */
	chat_ops(b, 6, 1, db, NULL);
	assert_int_equal(metric(rd, "roomd_room_wakes_total"), 1);
	assert_true(handle_fds(rd, db) > 0);
	chat_ops(a, 7, 2, db, NULL);
	rt_free(a);
	rt_free(b);
	/* kill -9: every acked op is in the file (its WAL). */
	assert_int_equal(rd_stop(rd, SIGKILL), 137);
	assert_int_equal(rt_sql_int(db, "SELECT count(*) FROM events"), 8);
	assert_int_equal(rt_sql_int(db, "SELECT max(seq) FROM events"), 8);
	rd_cleanup(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wal_bounded_under_ops),
	    cmocka_unit_test(test_wal_truncated_at_hibernation),
	    cmocka_unit_test(test_wal_truncated_at_shutdown),
	    cmocka_unit_test(test_noop_checkpoint_is_visible),
	    cmocka_unit_test(test_retention_keeps_the_window),
	    cmocka_unit_test(test_quiet_room_closes_its_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
