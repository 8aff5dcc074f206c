/* test_store.c - the storage contract (libstore/store.h) on the SQLite
 * backend, in a temp dir: create and reopen, the single-writer lock, the
 * one meta/format rule (a newer format refused, the file untouched), a
 * batch committed is read back whole and a batch rolled back leaves
 * nothing, snapshots, alarms, event ranges and their bounds, the op-id
 * memory's source and its window, the outbox and webhooks.db, read-only
 * opens, cuts and checkpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "backend.h"
#include "buf.h"
#include "clock.h"
#include "retain.h"
#include "store.h"

typedef struct tctx {
	char dir[64];
	char path[128]; /* <dir>/r1.db */
} tctx;

static int setup(void **state)
{
	tctx *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/r1.db", t->dir);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tctx *t = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

static bool exists(const char *path, const char *suffix)
{
	char p[256];
	struct stat sb;
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &sb) == 0;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *p = malloc(1 << 20);
	assert_non_null(p);
	*n = fread(p, 1, 1 << 20, f);
	fclose(f);
	return p;
}

/* A deliberate edit of a room file behind libstore's back. */
static void edit(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static store *open_room(const char *path, const char *room)
{
	store *s = NULL;
	char err[300];
	if (store_open(path, room, 0, &s, err, sizeof(err)) != RK_OK)
		fail_msg("open %s: %s", path, err);
	return s;
}

/* One committed batch of ops n0..n1 (chat posts by alice with op id
 * "a<seq>"), ts = ts0 + seq. */
static void append_chat(store *s, int64_t n0, int64_t n1, int64_t ts0)
{
	char err[300], op[64], id[32];
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	for (int64_t seq = n0; seq <= n1; seq++) {
		snprintf(op, sizeof(op), "{\"k\":\"chat.post\",\"text\":\"m%lld\"}",
			 (long long)seq);
		snprintf(id, sizeof(id), "a%lld", (long long)seq);
		if (store_append(s, seq, ts0 + seq, "s1", "alice", id, op, strlen(op),
				 err, sizeof(err)) != RK_OK)
			fail_msg("append %lld: %s", (long long)seq, err);
	}
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
}

/* ---- open, create, lock --------------------------------------------------- */

static void test_create_and_reopen(void **state)
{
	tctx *t = *state;
	int64_t before = rk_wall_ms();
	store *s = open_room(t->path, "r1");
	const store_meta *m = store_get_meta(s);
	assert_string_equal(m->room, "r1");
	assert_int_equal(strlen(m->epoch), 16);
	assert_int_equal(m->format, STORE_FORMAT);
	assert_true(m->created_ms >= before && m->created_ms <= rk_wall_ms());
	char epoch[RK_EPOCH_MAX + 1];
	snprintf(epoch, sizeof(epoch), "%s", store_epoch(s));
	int64_t created = store_created_ms(s);
	store_close(s);
	s = open_room(t->path, "r1");
	assert_string_equal(store_epoch(s), epoch);
	assert_int_equal(store_created_ms(s), created);
	store_close(s);
	/* Another room's name: refused. */
	char err[300];
	store *o = NULL;
	assert_int_equal(store_open(t->path, "r2", 0, &o, err, sizeof(err)), RK_ECORRUPT);
	assert_null(o);
	assert_non_null(strstr(err, "room file belongs to room 'r1', not 'r2'"));
	/* store_create never takes over a room. */
	store_meta nm = {.room = "r1", .epoch = "feed", .created_ms = 5};
	assert_int_equal(store_create(t->path, &nm, &o, err, sizeof(err)), RK_ECORRUPT);
	assert_non_null(strstr(err, "already holds room 'r1'"));
	/* A new one with a given meta. */
	char p2[160];
	snprintf(p2, sizeof(p2), "%s/r2.db", t->dir);
	snprintf(nm.room, sizeof(nm.room), "r2");
	assert_int_equal(store_create(p2, &nm, &o, err, sizeof(err)), RK_OK);
	store_close(o);
	assert_int_equal(store_open_ro(p2, false, &o, err, sizeof(err)), RK_OK);
	assert_string_equal(store_epoch(o), "feed");
	assert_int_equal(store_created_ms(o), 5);
	store_close(o);
}

static void test_lock_exclusion(void **state)
{
	tctx *t = *state;
	char err[300];
	assert_int_equal(store_lock(t->path, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open"));
	int a = store_lock(t->path, true, err, sizeof(err));
	assert_true(a >= 0);
	/* flock is per open file: a second open, even in this process, is
	 * another holder. */
	assert_int_equal(store_lock(t->path, true, err, sizeof(err)), STORE_LOCK_HELD);
	assert_non_null(strstr(err, "is held by another roomd process"));
	assert_int_equal(store_lock_new(t->path, err, sizeof(err)), STORE_LOCK_EXISTS);
	store_unlock(a);
	int b = store_lock(t->path, false, err, sizeof(err));
	assert_true(b >= 0);
	store_unlock(b);
	/* An empty room file with a dead room's -wal beside it: removed. */
	char wal[160];
	snprintf(wal, sizeof(wal), "%s-wal", t->path);
	FILE *f = fopen(wal, "w");
	fputs("old", f);
	fclose(f);
	b = store_lock(t->path, false, err, sizeof(err));
	assert_true(b >= 0);
	assert_false(exists(t->path, "-wal"));
	store_unlock(b);
	char p2[160];
	snprintf(p2, sizeof(p2), "%s/new.db", t->dir);
	int n = store_lock_new(p2, err, sizeof(err));
	assert_true(n >= 0);
	assert_int_equal(store_lock(p2, false, err, sizeof(err)), STORE_LOCK_HELD);
	store_unlock(n);
}

/* ---- the one format rule -------------------------------------------------- */

static void test_meta_check_table(void **state)
{
	(void)state;
	static const struct {
		const char *format, *room, *epoch, *want;
		rk_err rc;
		const char *msg;
	} cases[] = {
	    {"1", "r", "e", NULL, RK_OK, NULL},
	    {"1", "r", "e", "r", RK_OK, NULL},
	    {NULL, "r", "e", NULL, RK_ECORRUPT, "not a room file: meta has no 'format'"},
	    {"2", "r", "e", NULL, RK_ECORRUPT,
	     "room file format 2 is newer than this test_store reads (1)"},
	    {"17", "r", "e", NULL, RK_ECORRUPT, "room file format 17 is newer"},
	    {"0", "r", "e", NULL, RK_ECORRUPT, "not a format number"},
	    {"01", "r", "e", NULL, RK_ECORRUPT, "not a format number"},
	    {" 1", "r", "e", NULL, RK_ECORRUPT, "not a format number"},
	    {"1.0", "r", "e", NULL, RK_ECORRUPT, "not a format number"},
	    {"-1", "r", "e", NULL, RK_ECORRUPT, "not a format number"},
	    {"", "r", "e", NULL, RK_ECORRUPT, "not a format number"},
	    {"99999999999", "r", "e", NULL, RK_ECORRUPT, "not a format number"},
	    {"1", NULL, "e", NULL, RK_ECORRUPT, "meta has no 'room'"},
	    {"1", "../x", "e", NULL, RK_ECORRUPT, "meta 'room' is not a valid room id"},
	    {"1", "r", "e", "q", RK_ECORRUPT, "room file belongs to room 'r', not 'q'"},
	    {"1", "r", NULL, NULL, RK_ECORRUPT, "meta has no 'epoch'"},
	    {"1", "r", "", NULL, RK_ECORRUPT, "meta has no 'epoch'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		store_meta m;
		char err[200] = "";
		rk_err rc =
		    store_meta_check(&m, cases[i].format, cases[i].room, cases[i].epoch,
				     "12", cases[i].want, err, sizeof(err));
		if (rc != cases[i].rc || (cases[i].msg && !strstr(err, cases[i].msg)))
			fail_msg("case %zu (format '%s'): rc %d, '%s'", i,
				 cases[i].format ? cases[i].format : "(none)", rc, err);
		if (rc == RK_OK) {
			assert_int_equal(m.format, 1);
			assert_int_equal(m.created_ms, 12);
		}
	}
}

/* A file of a newer format is refused by both opens with the same clear
 * error, and left byte for byte as it was. */
static void test_newer_format_refused(void **state)
{
	tctx *t = *state;
	store *s = open_room(t->path, "r1");
	char err[300];
	assert_int_equal(store_settle(s, false, err, sizeof(err)), RK_OK);
	store_close(s);
	edit(t->path,
	     "PRAGMA journal_mode=DELETE; UPDATE meta SET value='2' WHERE key='format'");
	size_t n0, n1;
	char *before = slurp(t->path, &n0);
	s = NULL;
	assert_int_equal(store_open(t->path, "r1", 0, &s, err, sizeof(err)), RK_ECORRUPT);
	assert_null(s);
	assert_string_equal(err,
			    "room file format 2 is newer than this test_store reads (1)");
	assert_int_equal(store_open_ro(t->path, false, &s, err, sizeof(err)),
			 RK_ECORRUPT);
	assert_string_equal(err,
			    "room file format 2 is newer than this test_store reads (1)");
	char *after = slurp(t->path, &n1);
	assert_int_equal(n0, n1);
	assert_memory_equal(before, after, n0);
	assert_false(exists(t->path, "-wal"));
	free(before);
	free(after);
	/* No format at all: not a room file, for both. */
	edit(t->path, "DELETE FROM meta WHERE key='format'");
	assert_int_equal(store_open(t->path, "r1", 0, &s, err, sizeof(err)), RK_ECORRUPT);
	assert_non_null(strstr(err, "not a room file: meta has no 'format'"));
	assert_int_equal(store_open_ro(t->path, false, &s, err, sizeof(err)),
			 RK_ECORRUPT);
	assert_non_null(strstr(err, "not a room file: meta has no 'format'"));
}

static void test_not_room_files(void **state)
{
	tctx *t = *state;
	char err[300];
	store *s = NULL;
	FILE *f = fopen(t->path, "wb");
	for (int i = 0; i < 5000; i++)
		fputc((i * 7919) & 0xff, f);
	fclose(f);
	assert_int_equal(store_open_ro(t->path, false, &s, err, sizeof(err)),
			 RK_ECORRUPT);
	assert_non_null(strstr(err, "not a SQLite database (not a room file)"));
	assert_int_equal(store_open(t->path, "r1", 0, &s, err, sizeof(err)), RK_ECORRUPT);
	assert_non_null(strstr(err, "not a room file"));
	assert_null(s);
	/* An empty SQLite database is a new room to a writer, not to a reader. */
	unlink(t->path);
	edit(t->path, "PRAGMA user_version=1");
	assert_int_equal(store_open_ro(t->path, false, &s, err, sizeof(err)),
			 RK_ECORRUPT);
	assert_non_null(strstr(err, "not a room file (wrong schema): no meta table"));
	assert_int_equal(store_open_ro("/nonexistent/x.db", false, &s, err, sizeof(err)),
			 RK_EIO);
	assert_non_null(strstr(err, "No such file"));
}

/* ---- batches ------------------------------------------------------------- */

static bool collect(void *arg, const store_event *ev)
{
	rk_buf *b = arg;
	rk_buf_printf(b, "%lld:%s:%s:%s:%.*s;", (long long)ev->seq, ev->session, ev->user,
		      ev->op_id, (int)ev->op_len, ev->op);
	return true;
}

static bool stop_after_one(void *arg, const store_event *ev)
{
	(*(int *)arg)++;
	(void)ev;
	return false;
}

static char *events_of(store *s, int64_t since, int64_t upto)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	assert_int_equal(store_events(s, since, upto, collect, &b), RK_OK);
	rk_buf_putc(&b, '\0');
	return rk_buf_steal(&b, NULL);
}

static void test_batch_read_back(void **state)
{
	tctx *t = *state;
	store *s = open_room(t->path, "r1");
	append_chat(s, 1, 5, 1000);
	store_close(s);
	s = open_room(t->path, "r1");
	rk_state *st;
	int64_t seq, snap;
	char err[300];
	assert_int_equal(store_load(s, &st, &seq, &snap, err, sizeof(err)), RK_OK);
	assert_int_equal(seq, 5);
	assert_int_equal(snap, 0);
	rk_state_free(st);
	/* Bounds: (since, upto]. */
	char *e = events_of(s, 0, 5);
	assert_non_null(
	    strstr(e, "1:s1:alice:a1:{\"k\":\"chat.post\",\"text\":\"m1\"};"));
	assert_non_null(strstr(e, "5:s1:alice:a5:"));
	free(e);
	e = events_of(s, 1, 2);
	assert_string_equal(e, "2:s1:alice:a2:{\"k\":\"chat.post\",\"text\":\"m2\"};");
	free(e);
	e = events_of(s, 5, 100);
	assert_string_equal(e, "");
	free(e);
	e = events_of(s, 3, 3);
	assert_string_equal(e, "");
	free(e);
	int n = 0;
	assert_int_equal(store_events(s, 0, 5, stop_after_one, &n), RK_OK);
	assert_int_equal(n, 1);
	/* A cursor: unbounded, and one user's. */
	store_cursor *c;
	store_event ev;
	assert_int_equal(store_cursor_open(s, 3, -1, NULL, &c, err, sizeof(err)), RK_OK);
	assert_int_equal(store_cursor_next(c, &ev, err, sizeof(err)), 1);
	assert_int_equal(ev.seq, 4);
	assert_int_equal(ev.ts, 1004);
	assert_int_equal(store_cursor_next(c, &ev, err, sizeof(err)), 1);
	assert_int_equal(store_cursor_next(c, &ev, err, sizeof(err)), 0);
	store_cursor_close(c);
	assert_int_equal(store_cursor_open(s, 0, -1, "bob", &c, err, sizeof(err)), RK_OK);
	assert_int_equal(store_cursor_next(c, &ev, err, sizeof(err)), 0);
	store_cursor_close(c);
	int64_t min, max, count;
	assert_int_equal(store_seq_range(s, &min, &max, &count, err, sizeof(err)), RK_OK);
	assert_int_equal(min, 1);
	assert_int_equal(max, 5);
	assert_int_equal(count, 5);
	assert_int_equal(store_min_seq(s), 1);
	store_stats ss;
	assert_int_equal(store_get_stats(s, &ss, err, sizeof(err)), RK_OK);
	assert_int_equal(ss.last_ts, 1005);
	assert_int_equal(ss.snapshots, 0);
	store_close(s);
}

/* A rolled-back batch, and one whose commit cannot happen (a write failed:
 * a duplicate seq), leave nothing: not even the writes before the failure. */
static void test_rollback_leaves_nothing(void **state)
{
	tctx *t = *state;
	store *s = open_room(t->path, "r1");
	append_chat(s, 1, 2, 0);
	char err[300];
	const char *op = "{\"k\":\"chat.post\",\"text\":\"x\"}";
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(
	    store_append(s, 3, 3, "s", "u", "x3", op, strlen(op), err, sizeof(err)),
	    RK_OK);
	assert_int_equal(store_set_alarm(s, "p1", 99, err, sizeof(err)), RK_OK);
	store_rollback(s);
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(
	    store_append(s, 3, 3, "s", "u", "x3", op, strlen(op), err, sizeof(err)),
	    RK_OK);
	assert_int_equal(
	    store_append(s, 2, 3, "s", "u", "x4", op, strlen(op), err, sizeof(err)),
	    RK_EIO);
	assert_non_null(strstr(err, "append event"));
	store_rollback(s);
	store_rollback(s); /* no batch open: fine */
	store_close(s);
	s = open_room(t->path, "r1");
	char *e = events_of(s, 0, 100);
	assert_null(strstr(e, "3:"));
	assert_non_null(strstr(e, "2:s1:alice:a2"));
	free(e);
	store_info info;
	assert_int_equal(store_peek(t->path, &info, err, sizeof(err)), RK_OK);
	assert_int_equal(info.seq, 2);
	assert_int_equal(info.nalarms, 0);
	free(info.alarms);
	/* Closing with a batch open rolls it back. */
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(
	    store_append(s, 3, 3, "s", "u", "x3", op, strlen(op), err, sizeof(err)),
	    RK_OK);
	store_close(s);
	s = open_room(t->path, "r1");
	assert_int_equal(store_min_seq(s), 1);
	int64_t min, max, count;
	assert_int_equal(store_seq_range(s, &min, &max, &count, err, sizeof(err)), RK_OK);
	assert_int_equal(max, 2);
	store_close(s);
}

/* ---- snapshots, alarms, cuts ---------------------------------------------- */

static void test_snapshot_round_trip(void **state)
{
	tctx *t = *state;
	store *s = open_room(t->path, "r1");
	append_chat(s, 1, 3, 0);
	rk_state *st;
	int64_t seq, snap;
	char err[300];
	assert_int_equal(store_load(s, &st, &seq, &snap, err, sizeof(err)), RK_OK);
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_state_encode(st, &b);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_put_snapshot(s, 3, 77, b.data, b.len, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
	append_chat(s, 4, 6, 0);
	char *json;
	size_t len;
	int64_t at;
	assert_int_equal(store_snapshot_at(s, -1, &at, &json, &len, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(at, 3);
	assert_int_equal(len, b.len);
	assert_memory_equal(json, b.data, len);
	free(json);
	assert_int_equal(store_snapshot_at(s, 2, &at, &json, &len, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(at, 0);
	assert_null(json);
	/* Load = the snapshot + the events after it; the same state as a
	 * replay of every event. */
	rk_state *st2;
	assert_int_equal(store_load(s, &st2, &seq, &snap, err, sizeof(err)), RK_OK);
	assert_int_equal(seq, 6);
	assert_int_equal(snap, 3);
	/* The cut: events <= 3 and snapshots < 3 go; load still works. */
	int64_t ne, ns;
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_cut(s, 3, &ne, &ns, err, sizeof(err)), RK_OK);
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
	assert_int_equal(ne, 3);
	assert_int_equal(ns, 0);
	assert_int_equal(store_min_seq(s), 4);
	assert_int_equal(store_earliest_seq(s), 3);
	rk_state *st3;
	assert_int_equal(store_load(s, &st3, &seq, &snap, err, sizeof(err)), RK_OK);
	assert_int_equal(seq, 6);
	rk_buf b2, b3;
	rk_buf_init(&b2, 0);
	rk_buf_init(&b3, 0);
	rk_state_encode(st2, &b2);
	rk_state_encode(st3, &b3);
	assert_int_equal(b2.len, b3.len);
	assert_memory_equal(b2.data, b3.data, b2.len);
	rk_buf_free(&b);
	rk_buf_free(&b2);
	rk_buf_free(&b3);
	rk_state_free(st);
	rk_state_free(st2);
	rk_state_free(st3);
	/* A snapshot that does not decode: load names it. */
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_put_snapshot(s, 6, 1, "{nope", 5, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_load(s, &st, &seq, &snap, err, sizeof(err)), RK_ECORRUPT);
	assert_null(st);
	assert_non_null(strstr(err, "snapshot at seq 6"));
	store_close(s);
}

static bool collect_alarm(void *arg, const char *poll, int64_t at)
{
	rk_buf_printf(arg, "%s@%lld;", poll, (long long)at);
	return true;
}

static void test_alarms(void **state)
{
	tctx *t = *state;
	store *s = open_room(t->path, "r1");
	char err[300];
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_set_alarm(s, "p1", 300, err, sizeof(err)), RK_OK);
	assert_int_equal(store_set_alarm(s, "p2", 200, err, sizeof(err)), RK_OK);
	assert_int_equal(store_set_alarm(s, "p3", 100, err, sizeof(err)), RK_OK);
	assert_int_equal(store_set_alarm(s, "p1", 150, err, sizeof(err)),
			 RK_OK); /* replaces */
	assert_int_equal(store_del_alarm(s, "p3", err, sizeof(err)), RK_OK);
	assert_int_equal(store_del_alarm(s, "nope", err, sizeof(err)), RK_OK);
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
	rk_buf b;
	rk_buf_init(&b, 0);
	assert_int_equal(store_alarms(s, collect_alarm, &b, err, sizeof(err)), RK_OK);
	rk_buf_putc(&b, '\0');
	assert_string_equal(b.data, "p1@150;p2@200;");
	rk_buf_free(&b);
	store_close(s);
	store_info info;
	assert_int_equal(store_peek(t->path, &info, err, sizeof(err)), RK_OK);
	assert_int_equal(info.nalarms, 2);
	assert_string_equal(info.alarms[0].poll, "p1");
	assert_int_equal(info.alarms[1].at, 200);
	free(info.alarms);
}

/* ---- the op-id memory's source -------------------------------------------- */

typedef struct opid_rows {
	int64_t n, first, last;
	bool fail_at_two;
} opid_rows;

static rk_err count_opid(void *arg, const char *user, const char *op_id, int64_t seq,
			 int64_t ts)
{
	opid_rows *r = arg;
	(void)ts;
	assert_string_equal(user, "alice");
	assert_true(op_id[0] == 'a');
	if (r->fail_at_two && r->n == 1)
		return RK_ENOMEM;
	if (!r->n)
		r->first = seq;
	r->last = seq;
	r->n++;
	return RK_OK;
}

static void test_opids_source(void **state)
{
	tctx *t = *state;
	store *s = open_room(t->path, "r1");
	char err[300];
	opid_rows r = {0};
	assert_int_equal(store_load_opids(s, count_opid, &r, err, sizeof(err)), RK_OK);
	assert_int_equal(r.n, 0);
	/* 10 old events (ts 1..10), then RK_IDEM_EVENTS recent ones, then a
	 * server op and an op without an id: the window is every recent event
	 * (the old ones are both more than RK_IDEM_EVENTS back and more than
	 * 24 h older), and the last two are not op ids of a user. */
	int64_t now = RK_IDEM_MS * 10;
	append_chat(s, 1, 10, 0);
	append_chat(s, 11, 10 + RK_IDEM_EVENTS, now);
	const char *op = "{\"k\":\"chat.post\",\"text\":\"x\"}";
	int64_t n = 10 + RK_IDEM_EVENTS;
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_append(s, n + 1, now + n + 1, "server", "alice", "a-srv",
				      op, strlen(op), err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_append(s, n + 2, now + n + 2, "s1", "alice", "", op,
				      strlen(op), err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_load_opids(s, count_opid, &r, err, sizeof(err)), RK_OK);
	assert_int_equal(r.first, 11);
	assert_int_equal(r.last, n);
	assert_int_equal(r.n, RK_IDEM_EVENTS);
	/* The same events all within 24 h: every one is in the window. */
	char p2[160];
	snprintf(p2, sizeof(p2), "%s/r2.db", t->dir);
	store *s2 = open_room(p2, "r2");
	append_chat(s2, 1, n, now);
	r = (opid_rows){0};
	assert_int_equal(store_load_opids(s2, count_opid, &r, err, sizeof(err)), RK_OK);
	assert_int_equal(r.first, 1);
	assert_int_equal(r.n, n);
	/* The callback's failure stops the read and is returned. */
	r = (opid_rows){.fail_at_two = true};
	assert_int_equal(store_load_opids(s2, count_opid, &r, err, sizeof(err)),
			 RK_ENOMEM);
	assert_int_equal(r.n, 1);
	assert_string_equal(err, "out of memory");
	store_close(s2);
	store_close(s);
}

/* ---- read-only, outbox, webhooks.db, checkpoints ------------------------- */

static void test_read_only(void **state)
{
	tctx *t = *state;
	store *s = open_room(t->path, "r1");
	append_chat(s, 1, 3, 0);
	char err[300];
	assert_int_equal(store_settle(s, false, err, sizeof(err)), RK_OK);
	store_close(s);
	assert_false(exists(t->path, "-wal"));
	assert_false(exists(t->path, "-shm"));
	store *ro;
	assert_int_equal(store_open_ro(t->path, false, &ro, err, sizeof(err)), RK_OK);
	assert_string_equal(store_get_meta(ro)->room, "r1");
	assert_int_equal(store_begin(ro, err, sizeof(err)), RK_OK);
	const char *op = "{\"k\":\"chat.post\",\"text\":\"x\"}";
	assert_int_equal(
	    store_append(ro, 4, 4, "s", "u", "i", op, strlen(op), err, sizeof(err)),
	    RK_EIO);
	assert_non_null(strstr(err, "read-only"));
	store_rollback(ro);
	store_close(ro);
	/* A one-shot read leaves no -wal/-shm behind. */
	assert_false(exists(t->path, "-wal"));
	assert_false(exists(t->path, "-shm"));
	/* A live reader sees a writer's later commits. */
	assert_int_equal(store_open_ro(t->path, true, &ro, err, sizeof(err)), RK_OK);
	s = open_room(t->path, "r1");
	append_chat(s, 4, 4, 0);
	int64_t min, max, count;
	assert_int_equal(store_seq_range(ro, &min, &max, &count, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(max, 4);
	store_close(ro);
	store_close(s);
}

static void test_outbox(void **state)
{
	tctx *t = *state;
	store *s = open_room(t->path, "r1");
	char err[300];
	int64_t n, oldest;
	assert_int_equal(store_outbox_backlog(s, 0, &n, &oldest, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(n, -1); /* no outbox yet */
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_outbox_add(s, 10, "{\"a\":1}", 7, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_outbox_add(s, 20, "{\"b\":2}", 7, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
	store_outbox *o = store_outbox_open(t->path);
	assert_non_null(o);
	char epoch[RK_EPOCH_MAX + 1];
	int64_t id, created, max;
	char *body;
	size_t len;
	/* Unknown epoch: from the first row whatever after says. */
	assert_int_equal(
	    store_outbox_read(o, "", 1, epoch, &id, &created, &body, &len, &max), 1);
	assert_string_equal(epoch, store_epoch(s));
	assert_int_equal(id, 1);
	assert_int_equal(created, 10);
	assert_string_equal(body, "{\"a\":1}");
	assert_int_equal(max, 2);
	free(body);
	assert_int_equal(
	    store_outbox_read(o, epoch, 1, epoch, &id, &created, &body, &len, &max), 1);
	assert_int_equal(id, 2);
	free(body);
	assert_int_equal(
	    store_outbox_read(o, epoch, 2, epoch, &id, &created, &body, &len, &max), 0);
	assert_int_equal(store_outbox_backlog(s, 1, &n, &oldest, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(n, 1);
	assert_int_equal(oldest, 20);
	/* Trimmed rows go; ids are never reused. */
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_outbox_trim(s, 2, err, sizeof(err)), RK_OK);
	assert_int_equal(store_outbox_add(s, 30, "{}", 2, err, sizeof(err)), RK_OK);
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
	assert_int_equal(
	    store_outbox_read(o, epoch, 0, epoch, &id, &created, &body, &len, &max), 1);
	assert_int_equal(id, 3);
	free(body);
	store_outbox_close(o);
	store_close(s);
	/* webhooks.db */
	char pos[160];
	snprintf(pos, sizeof(pos), "%s/webhooks.db", t->dir);
	store_hookpos *p = store_hookpos_open(pos, NULL, NULL, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(store_hookpos_put(p, "r1", "e1", 5, err, sizeof(err)), RK_OK);
	assert_int_equal(store_hookpos_put(p, "r1", "e2", 7, err, sizeof(err)), RK_OK);
	store_hookpos_close(p);
	assert_int_equal(store_hookpos_get(pos, "r1", "e2"), 7);
	assert_int_equal(store_hookpos_get(pos, "r1", "e1"), 0); /* replaced */
	assert_int_equal(store_hookpos_get(pos, "r9", "e2"), 0);
}

static void test_checkpoint(void **state)
{
	tctx *t = *state;
	store_ckpt_result res;
	char err[300];
	assert_int_equal(
	    store_file_checkpoint(t->path, false, 0, 0, &res, err, sizeof(err)), RK_OK);
	assert_true(res.missing);
	assert_false(exists(t->path, "")); /* never created */
	store *s = open_room(t->path, "r1");
	append_chat(s, 1, 50, 0);
	int frames = store_wal_frames(s);
	assert_true(frames > 0);
	assert_int_equal(
	    store_file_checkpoint(t->path, false, 0, 0, &res, err, sizeof(err)), RK_OK);
	assert_false(res.missing);
	assert_int_equal(res.log, frames);
	assert_int_equal(res.ckpted, frames);
	store_close(s);
	/* TRUNCATE with retention on a room without a writer: keeps the last
	 * events and the idempotency window (all of them here: one second). */
	assert_int_equal(
	    store_file_checkpoint(t->path, true, 200, 5, &res, err, sizeof(err)), RK_OK);
	assert_false(res.busy);
	assert_int_equal(res.retained, 0);
	struct stat sb;
	char wal[160];
	snprintf(wal, sizeof(wal), "%s-wal", t->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_size, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock_exclusion, setup, teardown),
	    cmocka_unit_test(test_meta_check_table),
	    cmocka_unit_test_setup_teardown(test_newer_format_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_room_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_read_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_opids_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_checkpoint, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
