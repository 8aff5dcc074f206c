/*
 * test_roomd_faults.c - storage faults: roomd refuses only the affected room
 * (a log line naming the room and the reason, close 1011 "room
 * unavailable" or "storage error" to its clients), keeps serving every
 * other room, never rewrites a file it cannot read, and loses no acked op:
 * a corrupt room file at load (garbage, a truncated header, another
 * program's SQLite file, a wrong schema, another room's file), a read-only
 * data directory, and a full disk (RLIMIT_FSIZE on roomd, see rd_opts).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "clock.h"
#include "roomtest.h"
#include "store.h"

#define NOBODY 65534

/* The whole content of a file (caller frees), its size in *n; NULL if none. */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 65536;
			b = realloc(b, cap);
			assert_non_null(b);
		}
		size_t r = fread(b + *n, 1, cap - *n, f);
		if (!r)
			break;
		*n += r;
	}
	fclose(f);
	return b;
}

static void put_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* A room file of room at path, written by libstore, one file (no -wal). */
static void make_room(const char *path, const char *room)
{
	char err[300];
	store_meta m = {.epoch = "e", .created_ms = 1};
	snprintf(m.room, sizeof(m.room), "%s", room);
	store *s = NULL;
	int lock = store_lock(path, true, err, sizeof(err));
	if (lock < 0 || store_create(path, &m, &s, err, sizeof(err)) != RK_OK ||
	    store_settle(s, false, err, sizeof(err)) != RK_OK)
		fail_msg("%s: %s", path, err);
	store_close(s);
	store_unlock(lock);
}

/* Change the SQLite file at path with sql. */
static void make_db(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", path, msg ? msg : sqlite3_errmsg(db));
	sqlite3_close(db);
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* An op in `good` reaches the bystander: the other room is undisturbed. */
static void good_room_works(struct ws *a, struct ws *b, const char *id)
{
	assert_true(rt_op(a, id, "{\"k\":\"chat.post\",\"text\":\"still fine\"}", NULL) >
		    0);
	cJSON *e = rt_expect(b, "event");
	assert_string_equal(rt_str(e, "id"), id);
	cJSON_Delete(e);
}

/* A corrupt room file at load: the join is closed with 1011, the log names
 * the room and why, the file is left byte for byte as it was (no WAL, no
 * schema written into it), /v1/rooms/<room> answers 503, and the other
 * room goes on. Also after a restart (the startup scan warns about them). */
static void test_corrupt_room_files(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	struct ws *a = rt_join(rd, "good", "name=a", NULL);
	struct ws *b = rt_join(rd, "good", "name=b", NULL);
	good_room_works(a, b, "g0");

	char path[PATH_MAX + 64];
	unsigned char junk[8192];
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < sizeof(junk); i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		junk[i] = (unsigned char)x;
	}
	put_file(rd_room_db(rd, "garbage", path, sizeof(path)), junk, sizeof(junk));
	/* The first 60 bytes of a real SQLite file: a truncated header. */
	char full[PATH_MAX + 64];
	snprintf(full, sizeof(full), "%s/full.sqlite", rd->tmp_dir);
	make_room(full, "full");
	make_db(full, "PRAGMA journal_mode=DELETE"); /* see "foreign" below */
	size_t n;
	char *bytes = slurp(full, &n);
	assert_true(n > 60);
	put_file(rd_room_db(rd, "truncated", path, sizeof(path)), bytes, 60);
	free(bytes);
	/* Another program's SQLite database: a webhooks.db (libstore's
	 * delivery record) with a row in it. These three leave WAL mode
	 * (journal_mode=DELETE), so a -wal beside them after roomd looked
	 * would show that roomd wrote to them. */
	char err[300];
	store_hookpos *hp = store_hookpos_open(
	    rd_room_db(rd, "foreign", path, sizeof(path)), NULL, NULL, err, sizeof(err));
	if (!hp || store_hookpos_put(hp, "keep-me", "e", 1, err, sizeof(err)) != RK_OK)
		fail_msg("%s: %s", path, err);
	store_hookpos_close(hp);
	make_db(path, "PRAGMA journal_mode=DELETE");
	/* A room file whose events lost a column roomd writes. */
	make_room(rd_room_db(rd, "wrongschema", path, sizeof(path)), "wrongschema");
	make_db(path, "PRAGMA journal_mode=DELETE; ALTER TABLE events DROP COLUMN op_id");
	/* Another room's file under this room's name. */
	make_room(rd_room_db(rd, "otherroom", path, sizeof(path)), "elsewhere");
	make_db(path, "PRAGMA journal_mode=DELETE");
	static const struct {
		const char *room, *why;
	} bad[] = {
	    {"garbage", "not a room file"},
	    {"truncated", "not a room file"},
	    {"foreign", "not a room file (wrong schema)"},
	    {"wrongschema", "not a room file (wrong schema)"},
	    {"otherroom", "room file belongs to room 'elsewhere'"},
	};
	for (int run = 0; run < 2; run++) {
		if (run == 1) {
			/* Again after a restart: the scan warns, loads refuse. */
			assert_int_equal(rd_restart(rd, NULL), 0);
			assert_true(rd_log_contains(
			    rd, "room garbage: read: file is not a "
				"database (it will be refused when used)"));
			rt_free(a);
			rt_free(b);
			a = rt_join(rd, "good", "name=a", NULL);
			b = rt_join(rd, "good", "name=b", NULL);
		}
		for (size_t i = 0; i < RK_ARRAY_LEN(bad); i++) {
			rd_room_db(rd, bad[i].room, path, sizeof(path));
			size_t n0, n1;
			char *before = slurp(path, &n0);
			assert_non_null(before);
			char q[128], line[256];
			snprintf(q, sizeof(q), "/ws/%s?name=c", bad[i].room);
			struct ws *c = ws_connect(rd->host, rd->port, q, NULL, 3000);
			assert_non_null(c);
			rt_expect_close(c, 1011, "room unavailable");
			ws_free(c);
			snprintf(line, sizeof(line), "room %s refused: ", bad[i].room);
			assert_true(rd_log_wait(rd, line, RT_TIMEOUT_MS));
			snprintf(line, sizeof(line), "room %s refused: %s", bad[i].room,
				 bad[i].why);
			if (!rd_log_contains(rd, line))
				fail_msg("log has no \"%s\"", line);
			snprintf(q, sizeof(q), "/v1/rooms/%s", bad[i].room);
			assert_int_equal(rt_http(rd, q, NULL, NULL), 503);
			char *after = slurp(path, &n1);
			if (n0 != n1 || memcmp(before, after, n0) != 0)
				fail_msg("%s was modified", path);
			free(before);
			free(after);
			char wal[PATH_MAX + 80];
			snprintf(wal, sizeof(wal), "%s-wal", path);
			assert_false(file_exists(wal));
			char id[32];
			snprintf(id, sizeof(id), "g%d-%zu", run, i);
			good_room_works(a, b, id);
		}
	}
	assert_int_equal(rt_http(rd, "/healthz", NULL, NULL), 200);
	rt_free(a);
	rt_free(b);
	rd_cleanup(rd);
}

/* True if user uid can run bin (roomd is exec'd as that user). */
static bool uid_can_exec(uid_t uid, const char *bin)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid((gid_t)uid) != 0 || setuid(uid) != 0)
			_exit(2);
		_exit(access(bin, X_OK) == 0 ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* A read-only data directory. Tests run as root in CI, and root writes
 * through any mode bits: there roomd runs as nobody (uid 65534) on a data
 * directory it owns (rd_opts.set_uid); otherwise as the test's own user.
 * Then rooms/ is made read-only under a running roomd: a loaded room keeps
 * committing (its files exist), a hibernated one reloads with its history,
 * a new room is joined but its first op (which needs its file) is refused:
 * not acked, 1011 and a log line naming it and the reason, nothing is
 * created; once the directory is writable again the same room
 * works. */
static void test_readonly_data_dir(void **state)
{
	(void)state;
	rd_opts o = {0};
	char *bin_copy = NULL, *saved_bin = NULL;
	if (geteuid() == 0) {
		o.set_uid = true;
		o.uid = NOBODY;
		const char *bin = getenv("ROOMD_BIN");
		assert_non_null(bin);
		if (!uid_can_exec(NOBODY, bin)) {
			/* The build tree is private: run a copy nobody can reach. */
			bin_copy = strdup("/tmp/roomd-ro-XXXXXX");
			int fd = mkstemp(bin_copy);
			assert_true(fd >= 0);
			size_t n;
			char *img = slurp(bin, &n);
			assert_non_null(img);
			assert_int_equal(write(fd, img, n), (ssize_t)n);
			free(img);
			fchmod(fd, 0755);
			close(fd);
			saved_bin = strdup(bin);
			setenv("ROOMD_BIN", bin_copy, 1);
		}
	}
	rd_proc *rd = rd_start_ex((const char *const[]){"--hibernate-after", "300", NULL},
				  NULL, &o);
	if (saved_bin) {
		setenv("ROOMD_BIN", saved_bin, 1);
		free(saved_bin);
	}
	assert_non_null(rd);
	/* A room with a history that hibernates before the directory turns
	 * read-only (its connections leave, its files stay). */
	struct ws *h = rt_join(rd, "old", "name=h", NULL);
	assert_int_equal(rt_op(h, "o1", "{\"k\":\"chat.post\",\"text\":\"x\"}", NULL), 1);
	rt_free(h);
	assert_true(rd_log_wait(rd, "room old hibernated", 10000));
	struct ws *a = rt_join(rd, "keep", "name=a", NULL);
	struct ws *b = rt_join(rd, "keep", "name=b", NULL);
	good_room_works(a, b, "k0");
	char rooms[PATH_MAX + 16], path[PATH_MAX + 64];
	snprintf(rooms, sizeof(rooms), "%s/rooms", rd->data_dir);
	assert_int_equal(chmod(rooms, 0555), 0);

	/* A new room is joined (it needs no file yet); its first op needs
	 * one, which cannot be created: the op is never acked, the client is
	 * closed with 1011, the log names the room and the reason. */
	struct ws *c = rt_join(rd, "fresh", "name=c", NULL);
	rt_send_op(c, "c1", "{\"k\":\"chat.post\",\"text\":\"lost\"}");
	for (;;) {
		cJSON *m = ws_recv_json(c, RT_TIMEOUT_MS);
		if (!m)
			break;
		assert_string_not_equal(rt_str(m, "t"), "ack");
		cJSON_Delete(m);
	}
	assert_int_equal(ws_last_result(c), WS_CLOSED);
	assert_int_equal(ws_close_code(c), 1011);
	assert_string_equal(ws_close_reason(c), "storage error");
	ws_free(c);
	assert_true(rd_log_wait(rd, "room fresh: ", RT_TIMEOUT_MS));
	assert_true(rd_log_contains(rd, "Permission denied"));
	assert_false(file_exists(rd_room_db(rd, "fresh", path, sizeof(path))));
	/* The hibernated room reloads (its -wal and -shm files stay next to
	 * it) and keeps its history; it even commits, into files that exist. */
	cJSON *w = NULL;
	h = rt_join(rd, "old", "name=h2", &w);
	assert_int_equal(rt_int(w, "seq"), 1);
	cJSON_Delete(w);
	assert_int_equal(rt_op(h, "o2", "{\"k\":\"chat.post\",\"text\":\"y\"}", NULL), 2);
	rt_free(h);
	for (int i = 1; i <= 20; i++) {
		char id[16];
		snprintf(id, sizeof(id), "k%d", i);
		good_room_works(a, b, id);
	}

	assert_int_equal(chmod(rooms, 0755), 0);
	struct ws *d = rt_join(rd, "fresh", "name=d", NULL);
	assert_int_equal(rt_op(d, "f1", "{\"k\":\"chat.post\",\"text\":\"now\"}", NULL),
			 1);
	rt_free(a);
	rt_free(b);
	rt_free(d);
	rd_cleanup(rd);
	if (bin_copy) {
		unlink(bin_copy);
		free(bin_copy);
	}
}

/* A chat post of about 2 KB: a few hundred of them fill the "disk". */
static char *big_op(void)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_puts(&b, "{\"k\":\"chat.post\",\"text\":\"");
	for (int i = 0; i < 1990; i++)
		rk_buf_putc(&b, (char)('a' + i % 26));
	rk_buf_puts(&b, "\"}");
	return rk_buf_steal(&b, NULL);
}

/* A full disk: roomd runs with RLIMIT_FSIZE (writes past 2 MiB of any file
 * fail with EFBIG, as on a full disk). Big ops into one room until its
 * commit fails: that op is not acked, the room's clients are closed with
 * 1011 "storage error", the log says which room and why; the other room
 * keeps committing at once (its file is small). Once space is back
 * (prlimit raises the limit), the room reloads and works; after a crash and
 * a restart without the limit, roomctl verify passes and every acked op is
 * in the log at its seq, the failed one is not. */
static void test_disk_full(void **state)
{
	(void)state;
	rd_opts o = {.fsize = 2 << 20};
	rd_proc *rd = rd_start_ex((const char *const[]){"--ops-per-sec", "100000",
							"--ops-burst", "100000", NULL},
				  NULL, &o);
	assert_non_null(rd);
	struct ws *a = rt_join(rd, "full", "name=a", NULL);
	struct ws *b = rt_join(rd, "full", "name=b", NULL);
	struct ws *s1 = rt_join(rd, "small", "name=s1", NULL);
	struct ws *s2 = rt_join(rd, "small", "name=s2", NULL);
	good_room_works(s1, s2, "s0");
	char *op = big_op();
	enum { MAX_OPS = 4000 };
	int64_t *acked = calloc(MAX_OPS, sizeof(*acked));
	int failed_at = -1;
	/* 2 KB per op over 4 KiB pages: each commit adds about one page of
	 * WAL: the limit is hit after roughly 500 ops. */
	for (int i = 0; i < MAX_OPS && failed_at < 0; i++) {
		char id[16];
		snprintf(id, sizeof(id), "big%d", i);
		rt_send_op(a, id, op);
		for (;;) {
			cJSON *m = ws_recv_json(a, RT_TIMEOUT_MS);
			if (!m) {
				if (ws_last_result(a) != WS_CLOSED)
					fail_msg("op %s: no reply and no close: %s", id,
						 ws_error(a));
				assert_int_equal(ws_close_code(a), 1011);
				assert_string_equal(ws_close_reason(a), "storage error");
				failed_at = i;
				break;
			}
			const char *t = rt_str(m, "t");
			bool done = strcmp(t, "ack") == 0;
			if (done)
				acked[i] = rt_int(m, "seq");
			else if (strcmp(t, "reject") == 0 || strcmp(t, "error") == 0)
				fail_msg("op %s: %s", id, t);
			cJSON_Delete(m);
			if (done)
				break;
		}
	}
	if (failed_at < 0)
		fail_msg("%d ops of 2 KB fit under a 2 MiB file size limit", MAX_OPS);
	printf("disk full: commit of op %d failed, %d acked before\n", failed_at,
	       failed_at);
	assert_true(
	    rd_log_wait(rd, "room full: commit failed, 1 ops not acknowledged", 5000));
	assert_true(rd_log_contains(rd, "write failed: disk full or file size limit"));
	/* The bystander saw every acked op and nothing of the failed one. */
	for (int i = 0; i < failed_at; i++) {
		cJSON *e = rt_expect(b, "event");
		assert_int_equal(rt_int(e, "seq"), acked[i]);
		cJSON_Delete(e);
	}
	rt_expect_close(b, 1011, "storage error");
	/* The other room is not affected. */
	for (int i = 1; i <= 10; i++) {
		char id[16];
		snprintf(id, sizeof(id), "s%d", i);
		good_room_works(s1, s2, id);
	}
	/* Space is back: the room reloads from its file and goes on. */
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	assert_int_equal(prlimit(rd->pid, RLIMIT_FSIZE, &rl, NULL), 0);
	rt_free(a);
	rt_free(b);
	cJSON *w = NULL;
	a = rt_join(rd, "full", "name=a", &w);
	assert_int_equal(rt_int(w, "seq"), acked[failed_at - 1]);
	cJSON_Delete(w);
	assert_int_equal(rt_op(a, "again", op, NULL), acked[failed_at - 1] + 1);
	rt_free(a);
	rt_free(s1);
	rt_free(s2);

	assert_int_equal(rd_stop(rd, SIGKILL), 137);
	assert_int_equal(rd_restart_ex(rd, NULL, NULL), 0);
	char db[PATH_MAX + 64], out[1024];
	rd_room_db(rd, "full", db, sizeof(db));
	const char *args[] = {"verify", db, NULL};
	int code = rt_roomctl(args, out, sizeof(out));
	if (code != 0)
		fail_msg("roomctl verify: exit %d: %s", code, out);
	for (int i = 0; i < failed_at; i++) {
		char sql[96], got[32], want[32];
		snprintf(sql, sizeof(sql), "SELECT op_id FROM events WHERE seq=%lld",
			 (long long)acked[i]);
		rt_sql_text(db, sql, got, sizeof(got));
		snprintf(want, sizeof(want), "big%d", i);
		assert_string_equal(got, want);
	}
	char sql[96];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE op_id='big%d'",
		 failed_at);
	assert_int_equal(rt_sql_int(db, sql), 0);
	struct ws *c = rt_join(rd, "full", "name=c", NULL);
	assert_int_equal(rt_op(c, "after", "{\"k\":\"chat.post\",\"text\":\"x\"}", NULL),
			 acked[failed_at - 1] + 2);
	rt_free(c);
	free(acked);
	free(op);
	rd_cleanup(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corrupt_room_files),
	    cmocka_unit_test(test_readonly_data_dir),
	    cmocka_unit_test(test_disk_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
