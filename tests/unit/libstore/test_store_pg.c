/* test_store_pg.c - libstore's PostgreSQL backend (libstore/pg.h) against a
 * real throwaway PostgreSQL (tests/support/pgtmp.c): nodes connecting
 * together to an empty database; the schema and meta made by acquire; a log committed
 * through the group commit loads to the same state, seq and op-id memory as the SQLite
 * backend fed the same ops; several rooms in one group; fencing (a node paused past its
 * lease commits nothing more, while its other rooms commit); repeats of a commit are
 * harmless; handover, release, leave, owned rooms and orphan alarms; read-only opens,
 * cursors, stats, the rooms list and delete; the tail a detached handle answers from
 * without its connection; a large group, and a PostgreSQL restart under a connection.
 * PostgreSQL must start: nothing is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "pg.h"
#include "pgtmp.h"
#include "retain.h"
#include "store.h"

#define LEASE_MS 300

static pgtmp server;

static int group_setup(void **state)
{
	(void)state;
	if (!pgtmp_start(&server)) {
		fprintf(stderr, "test_store_pg: PostgreSQL did not start\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	pgtmp_stop(&server);
	return 0;
}

static store_pg *connect_pg(void)
{
	store_pg *pg;
	char err[300];
	if (store_pg_connect(server.url, 5000, &pg, err, sizeof(err)) != RK_OK)
		fail_msg("connect: %s", err);
	return pg;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void beat(store_pg *pg, const char *node)
{
	char err[300];
	if (store_pg_heartbeat(pg, node, err, sizeof(err)) != RK_OK)
		fail_msg("heartbeat: %s", err);
}

/* Acquire room for node; the outcome must be want. */
static store *acquire(store_pg *pg, const char *room, const char *node, int tail,
		      store_pg_acq want)
{
	store_pg_acq acq;
	store *s;
	char owner[80], err[300];
	if (store_pg_acquire(pg, room, node, LEASE_MS, tail, &acq, &s, owner,
			     sizeof(owner), err, sizeof(err)) != RK_OK)
		fail_msg("acquire %s: %s", room, err);
	assert_int_equal(acq, want);
	if (acq == STORE_PG_OWNED)
		assert_null(s);
	else
		assert_non_null(s);
	return s;
}

/* The ops of the comparison log, by seq (1-based); seq 11 is the server's
 * close of the poll. */
static const char *const ops[] = {
    "{\"k\":\"shape.add\",\"shape\":{\"id\":\"a\",\"type\":\"stroke\",\"color\":1,"
    "\"points\":[[0,0],[1,1]]}}",
    "{\"k\":\"chat.post\",\"text\":\"hi \xc3\xa9 \xf0\x9f\x98\x80\"}",
    "{\"k\":\"poll.create\",\"poll\":{\"id\":\"p\",\"question\":\"q?\","
    "\"options\":[\"a\",\"b\"],\"closes_at\":1700000000000}}",
    "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1}",
    "{\"k\":\"shape.update\",\"id\":\"a\",\"set\":{\"color\":2}}",
    "{\"k\":\"shape.add\",\"shape\":{\"id\":\"t\",\"type\":\"text\",\"color\":3,"
    "\"points\":[[5,5]],\"text\":\"x\"}}",
    "{\"k\":\"chat.post\",\"text\":\"\\\"quoted\\\" \\\\ back\"}",
    "{\"k\":\"shape.delete\",\"id\":\"t\"}",
    "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":0}",
    "{\"k\":\"chat.post\",\"text\":\"m\"}",
    "{\"k\":\"poll.close\",\"poll\":\"p\"}",
};
enum { NOPS = sizeof(ops) / sizeof(ops[0]) };

/* Stage (pg) or commit (SQLite) events n0..n1 of ops[] in one batch, with
 * the poll's alarm set at seq 3 and deleted at seq 11. */
static void write_ops(store *s, int n0, int n1)
{
	char err[300], id[16];
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	for (int q = n0; q <= n1; q++) {
		bool server_op = q == NOPS;
		snprintf(id, sizeof(id), "o%d", q);
		if (store_append(s, q, 1000 + q, server_op ? "server" : "s1",
				 server_op ? "server"
				 : q % 2   ? "alice"
					   : "bob",
				 server_op ? "" : id, ops[q - 1], strlen(ops[q - 1]), err,
				 sizeof(err)) != RK_OK)
			fail_msg("append %d: %s", q, err);
		if (q == 3)
			assert_int_equal(
			    store_set_alarm(s, "p", 1700000000000, err, sizeof(err)),
			    RK_OK);
		if (q == NOPS)
			assert_int_equal(store_del_alarm(s, "p", err, sizeof(err)),
					 RK_OK);
	}
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
}

/* A snapshot of s's loaded state at its last seq, in its own batch. */
static void write_snapshot(store *s)
{
	rk_state *st;
	int64_t seq, snap;
	char err[300];
	assert_int_equal(store_load(s, &st, &seq, &snap, err, sizeof(err)), RK_OK);
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_state_encode(st, &b);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(
	    store_put_snapshot(s, seq, 2000, b.data, b.len, err, sizeof(err)), RK_OK);
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
	rk_buf_free(&b);
	rk_state_free(st);
}

/* Commit the staged batches of handles h[0..n) in one group; the outcomes
 * into res. */
static rk_err commit(store_pg *pg, store **h, size_t n, store_pg_res *res)
{
	store_pg_batch *b[8];
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		assert_non_null(b[i] = store_pg_take(h[i]));
	char err[300];
	rk_err rc = store_pg_commit_group(pg, b, n, res, err, sizeof(err));
	for (size_t i = 0; i < n; i++)
		store_pg_batch_free(b[i]);
	return rc;
}

static void commit_one(store_pg *pg, store *s)
{
	store_pg_res res;
	assert_int_equal(commit(pg, &s, 1, &res), RK_OK);
	assert_int_equal(res, STORE_PG_COMMITTED);
}

/* Room acquired by node n1 (alive) with events 1..n of ops[] committed. */
static store *room_with(store_pg *pg, const char *room, int tail, int n)
{
	beat(pg, "n1");
	store *w = acquire(pg, room, "n1", tail, STORE_PG_ACQUIRED);
	write_ops(w, 1, n);
	commit_one(pg, w);
	return w;
}

/* The encoded state, seq and snapshot seq a load gives. */
static char *load_enc(store *s, int64_t *seq, int64_t *snap)
{
	rk_state *st;
	char err[300];
	if (store_load(s, &st, seq, snap, err, sizeof(err)) != RK_OK)
		fail_msg("load: %s", err);
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_state_encode(st, &b);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	rk_state_free(st);
	rk_buf_putc(&b, '\0');
	return b.data;
}

static rk_err add_opid(void *arg, const char *user, const char *op_id, int64_t seq,
		       int64_t ts)
{
	rk_buf_printf(arg, "%s/%s/%lld/%lld;", user, op_id, (long long)seq,
		      (long long)ts);
	return RK_OK;
}

static char *opids_of(store *s)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	char err[300];
	assert_int_equal(store_load_opids(s, add_opid, &b, err, sizeof(err)), RK_OK);
	rk_buf_putc(&b, '\0');
	return b.data;
}

static bool collect(void *arg, const store_event *ev)
{
	rk_buf_printf(arg, "%lld:%s:%s:%s:%.*s;", (long long)ev->seq, ev->session,
		      ev->user, ev->op_id, (int)ev->op_len, ev->op);
	return true;
}

static char *events_of(store *s, int64_t since, int64_t upto)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	assert_int_equal(store_events(s, since, upto, collect, &b), RK_OK);
	rk_buf_putc(&b, '\0');
	return b.data;
}

/* The events of room as a read-only handle on a connection of its own
 * reads them. */
static char *room_events(const char *room)
{
	store_pg *pg = connect_pg();
	store *s;
	char err[300];
	if (store_pg_open_ro(pg, room, &s, err, sizeof(err)) != RK_OK)
		fail_msg("open_ro %s: %s", room, err);
	char *e = events_of(s, 0, -1);
	store_close(s);
	store_pg_close(pg);
	return e;
}

/* ---- the rooms list ------------------------------------------------------- */

typedef struct room_row {
	char owner[80];
	bool alive, found;
	int64_t seq, token, last_active_ms;
} room_row;

typedef struct find_room {
	const char *room;
	room_row row;
} find_room;

static bool find_cb(void *arg, const store_pg_room *r)
{
	find_room *f = arg;
	if (strcmp(r->room, f->room) != 0)
		return true;
	f->row.found = true;
	snprintf(f->row.owner, sizeof(f->row.owner), "%s", r->owner);
	f->row.alive = r->owner_alive;
	f->row.seq = r->seq;
	f->row.token = r->token;
	f->row.last_active_ms = r->last_active_ms;
	return false;
}

static room_row row_of(store_pg *pg, const char *room)
{
	find_room f = {.room = room};
	char err[300];
	store_pg_set_lease(pg, LEASE_MS);
	assert_int_equal(store_pg_rooms(pg, find_cb, &f, err, sizeof(err)), RK_OK);
	return f.row;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_connect_errors(void **state)
{
	(void)state;
	store_pg *pg;
	char err[300];
	assert_int_equal(store_pg_connect("postgresql://postgres@127.0.0.1:1/postgres",
					  1000, &pg, err, sizeof(err)),
			 RK_EIO);
	assert_null(pg);
	assert_non_null(strstr(err, "connect"));
	assert_null(strchr(err, '\n'));
	assert_true(store_pg_node_valid("node-1.a_b"));
	assert_false(store_pg_node_valid(""));
	assert_false(store_pg_node_valid("a b"));
	assert_false(store_pg_node_valid("n/1"));
	/* Two connects (the second finds the schema) work. */
	store_pg *a = connect_pg(), *b = connect_pg();
	assert_true(store_pg_alive(a));
	store_pg_close(a);
	store_pg_close(b);
}

static void test_acquire_creates_meta(void **state)
{
	(void)state;
	store_pg *pg = connect_pg();
	beat(pg, "n1");
	store *s = acquire(pg, "meta-1", "n1", 10, STORE_PG_ACQUIRED);
	const store_meta *m = store_get_meta(s);
	assert_string_equal(m->room, "meta-1");
	assert_int_equal(m->format, STORE_FORMAT);
	assert_int_equal(strlen(m->epoch), 16);
	int64_t created = m->created_ms;
	assert_true(created > 0);
	char epoch[RK_EPOCH_MAX + 1];
	snprintf(epoch, sizeof(epoch), "%s", m->epoch);
	int64_t t1 = store_pg_token(s);
	assert_true(t1 > 0);
	/* A new room loads empty. */
	int64_t seq, snap;
	char *enc = load_enc(s, &seq, &snap);
	assert_int_equal(seq, 0);
	assert_int_equal(snap, 0);
	free(enc);
	room_row r = row_of(pg, "meta-1");
	assert_true(r.found);
	assert_string_equal(r.owner, "n1");
	assert_true(r.alive);
	assert_int_equal(r.token, t1);
	store_close(s);
	/* Acquired again by its owner: the same meta, a new token. */
	s = acquire(pg, "meta-1", "n1", 10, STORE_PG_ACQUIRED);
	assert_string_equal(store_epoch(s), epoch);
	assert_int_equal(store_created_ms(s), created);
	assert_true(store_pg_token(s) > t1);
	/* Not a file backend. */
	char err[300];
	assert_int_equal(store_wal_frames(s), 0);
	assert_int_equal(store_settle(s, false, err, sizeof(err)), RK_EIO);
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_outbox_add(s, 1, "{}", 2, err, sizeof(err)), RK_EIO);
	assert_string_equal(err, "webhooks are not supported with --pg");
	store_rollback(s);
	store_close(s);
	store_pg_close(pg);
}

/* The reference: room in a SQLite room file of its own (temp dir). */
typedef struct sqref {
	char dir[32], path[64];
	int fd;
	store *s;
} sqref;

static store *sqref_open(sqref *r, const char *room)
{
	char err[300];
	snprintf(r->dir, sizeof(r->dir), "/tmp/test_store_pg.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/%s.db", r->dir, room);
	r->fd = store_lock(r->path, true, err, sizeof(err));
	assert_true(r->fd >= 0);
	if (store_open(r->path, room, 0, &r->s, err, sizeof(err)) != RK_OK)
		fail_msg("%s: %s", r->path, err);
	return r->s;
}

static void sqref_close(sqref *r)
{
	store_close(r->s);
	store_unlock(r->fd);
	unlink(r->path);
	rmdir(r->dir);
}

static void test_same_as_sqlite(void **state)
{
	(void)state;
	/* SQLite: the reference. */
	char err[300];
	sqref ref;
	store *q = sqref_open(&ref, "cmp-1");
	write_ops(q, 1, 6);
	write_snapshot(q);
	write_ops(q, 7, NOPS);
	/* PostgreSQL: the first batch alone, the snapshot and the rest staged
	 * together (one merged batch). */
	store_pg *pg = connect_pg();
	beat(pg, "n1");
	store *s = acquire(pg, "cmp-1", "n1", 100, STORE_PG_ACQUIRED);
	write_ops(s, 1, 6);
	store_pg_batch *b = store_pg_take(s);
	assert_non_null(b);
	assert_string_equal(store_pg_batch_room(b), "cmp-1");
	assert_int_equal(store_pg_batch_seq(b), 6);
	store_pg_res res;
	assert_int_equal(store_pg_commit_group(pg, &b, 1, &res, err, sizeof(err)), RK_OK);
	assert_int_equal(res, STORE_PG_COMMITTED);
	store_pg_batch_free(b);
	assert_null(store_pg_take(s));
	write_snapshot(s);
	write_ops(s, 7, NOPS);
	commit_one(pg, s);
	/* The same state, seq, snapshot seq and op-id memory; the same rows. */
	int64_t qs, qn, ps, pn;
	char *qe = load_enc(q, &qs, &qn), *pe = load_enc(s, &ps, &pn);
	assert_int_equal(ps, NOPS);
	assert_int_equal(qs, ps);
	assert_int_equal(qn, 6);
	assert_int_equal(pn, qn);
	assert_string_equal(pe, qe);
	free(qe);
	free(pe);
	char *qo = opids_of(q), *po = opids_of(s);
	assert_non_null(strstr(po, "alice/o1/1/1001;"));
	assert_null(strstr(po, "server"));
	assert_string_equal(po, qo);
	free(qo);
	free(po);
	qe = events_of(q, 0, -1);
	pe = events_of(s, 0, -1);
	assert_string_equal(pe, qe);
	free(qe);
	free(pe);
	store_stats a, c;
	assert_int_equal(store_get_stats(q, &a, err, sizeof(err)), RK_OK);
	assert_int_equal(store_get_stats(s, &c, err, sizeof(err)), RK_OK);
	assert_memory_equal(&a, &c, sizeof(a));
	assert_int_equal(store_earliest_seq(s), store_earliest_seq(q));
	assert_int_equal(store_first_recent(s), store_first_recent(q));
	room_row r = row_of(pg, "cmp-1");
	assert_int_equal(r.seq, NOPS);
	assert_int_equal(r.last_active_ms, 1000 + NOPS);
	/* A load from a new acquire (another node's view) agrees too. */
	store_close(s);
	s = acquire(pg, "cmp-1", "n1", 100, STORE_PG_ACQUIRED);
	pe = load_enc(s, &ps, &pn);
	qe = load_enc(q, &qs, &qn);
	assert_string_equal(pe, qe);
	free(qe);
	free(pe);
	/* A cut in a batch: events <= 6 and snapshots < 6 go. */
	int64_t ne, ns;
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	assert_int_equal(store_cut(s, 6, &ne, &ns, err, sizeof(err)), RK_OK);
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
	commit_one(pg, s);
	assert_int_equal(store_min_seq(s), 7);
	assert_int_equal(store_earliest_seq(s), 6);
	pe = load_enc(s, &ps, &pn);
	assert_int_equal(ps, NOPS);
	assert_int_equal(pn, 6);
	free(pe);
	store_close(s);
	store_pg_close(pg);
	sqref_close(&ref);
}

/* Events 1..n of chat posts with ts(seq), in one batch. */
static void write_chats(store *s, int n, int64_t (*ts)(int64_t seq))
{
	char err[300], op[64], id[16];
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
	for (int q = 1; q <= n; q++) {
		int len =
		    snprintf(op, sizeof(op), "{\"k\":\"chat.post\",\"text\":\"m%d\"}", q);
		snprintf(id, sizeof(id), "c%d", q);
		assert_int_equal(store_append(s, q, ts(q), q % 10 ? "s1" : "server", "u",
					      id, op, (size_t)len, err, sizeof(err)),
				 RK_OK);
	}
	assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
}

/* Old events, then a day later the rest: the op-id window is the last
 * RK_IDEM_EVENTS events and those within a day of the newest. */
static int64_t window_ts(int64_t seq)
{
	return seq < 30 ? 1000 : 2 * RK_IDEM_MS + seq;
}

/* The op-id window over more events than one page of the walk: the same
 * op ids as the SQLite backend, from the same first seq. */
static void test_opid_window_same_as_sqlite(void **state)
{
	(void)state;
	enum { N = RK_IDEM_EVENTS + 50 };
	sqref ref;
	store *q = sqref_open(&ref, "win-1");
	write_chats(q, N, window_ts);
	store_pg *pg = connect_pg();
	beat(pg, "n1");
	store *s = acquire(pg, "win-1", "n1", 10, STORE_PG_ACQUIRED);
	write_chats(s, N, window_ts);
	commit_one(pg, s);
	char *qo = opids_of(q), *po = opids_of(s);
	assert_non_null(strstr(po, "u/c31/31/"));
	assert_null(strstr(po, "u/c29/"));
	assert_string_equal(po, qo);
	free(qo);
	free(po);
	assert_int_equal(store_first_recent(s), store_first_recent(q));
	int64_t ps, pn, qs, qn;
	char *pe = load_enc(s, &ps, &pn), *qe = load_enc(q, &qs, &qn);
	assert_int_equal(ps, N);
	assert_string_equal(pe, qe);
	free(pe);
	free(qe);
	store_close(s);
	store_pg_close(pg);
	sqref_close(&ref);
}

static void test_group_of_rooms(void **state)
{
	(void)state;
	store_pg *pg = connect_pg();
	beat(pg, "n1");
	store *h[3];
	const char *rooms[3] = {"grp-a", "grp-b", "grp-c"};
	for (int i = 0; i < 3; i++) {
		h[i] = acquire(pg, rooms[i], "n1", 10, STORE_PG_ACQUIRED);
		write_ops(h[i], 1, 2 + i);
	}
	store_pg_res res[3];
	assert_int_equal(commit(pg, h, 3, res), RK_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(res[i], STORE_PG_COMMITTED);
		int64_t seq, snap;
		free(load_enc(h[i], &seq, &snap));
		assert_int_equal(seq, 2 + i);
		assert_int_equal(row_of(pg, rooms[i]).seq, 2 + i);
		store_close(h[i]);
	}
	store_pg_close(pg);
}

static void test_fencing(void **state)
{
	(void)state;
	char err[300], owner[80];
	store_pg *a = connect_pg(), *b = connect_pg();
	beat(a, "node-a");
	beat(b, "node-b");
	store *af = acquire(a, "fence-1", "node-a", 10, STORE_PG_ACQUIRED);
	store *ag = acquire(a, "fence-2", "node-a", 10, STORE_PG_ACQUIRED);
	/* A beats: B is told who owns it (and asks for it). */
	store_pg_acq acq;
	store *bf;
	assert_int_equal(store_pg_acquire(b, "fence-1", "node-b", LEASE_MS, 10, &acq, &bf,
					  owner, sizeof(owner), err, sizeof(err)),
			 RK_OK);
	assert_int_equal(acq, STORE_PG_OWNED);
	assert_null(bf);
	assert_string_equal(owner, "node-a");
	/* A stalls past its lease; B takes the room over and commits. */
	sleep_ms(LEASE_MS + 200);
	beat(b, "node-b");
	assert_false(row_of(b, "fence-1").alive);
	bf = acquire(b, "fence-1", "node-b", 10, STORE_PG_TAKEN_OVER);
	assert_true(store_pg_token(bf) > store_pg_token(af));
	assert_int_equal(store_begin(bf, err, sizeof(err)), RK_OK);
	assert_int_equal(store_append(bf, 1, 5, "sb", "bob", "b1",
				      "{\"k\":\"chat.post\",\"text\":\"from B\"}", 34,
				      err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_commit(bf, err, sizeof(err)), RK_OK);
	commit_one(b, bf);
	/* A wakes up: its batch of fence-1 is fenced, its fence-2 commits in
	 * the same group. */
	for (int i = 0; i < 2; i++) {
		store *s = i ? ag : af;
		assert_int_equal(store_begin(s, err, sizeof(err)), RK_OK);
		for (int q = 1; q <= 2; q++)
			assert_int_equal(
			    store_append(s, q, 6, "sa", "alice", "",
					 "{\"k\":\"chat.post\",\"text\":\"from A\"}", 34,
					 err, sizeof(err)),
			    RK_OK);
		assert_int_equal(store_set_alarm(s, "p", 99, err, sizeof(err)), RK_OK);
		assert_int_equal(store_commit(s, err, sizeof(err)), RK_OK);
	}
	store *h[2] = {af, ag};
	store_pg_res res[2];
	beat(a, "node-a");
	assert_int_equal(commit(a, h, 2, res), RK_OK);
	assert_int_equal(res[0], STORE_PG_FENCED);
	assert_int_equal(res[1], STORE_PG_COMMITTED);
	assert_true(store_pg_alive(a));
	char *e = room_events("fence-1");
	assert_string_equal(e, "1:sb:bob:b1:{\"k\":\"chat.post\",\"text\":\"from B\"};");
	free(e);
	e = room_events("fence-2");
	assert_non_null(
	    strstr(e, "2:sa:alice::{\"k\":\"chat.post\",\"text\":\"from A\"};"));
	free(e);
	room_row r = row_of(a, "fence-1");
	assert_string_equal(r.owner, "node-b");
	assert_int_equal(r.seq, 1);
	/* No alarm of A's batch in fence-1: orphan alarms would name it. */
	store *ro;
	assert_int_equal(store_pg_open_ro(a, "fence-1", &ro, err, sizeof(err)), RK_OK);
	int64_t n = 0, oldest = 0;
	assert_int_equal(store_outbox_backlog(ro, 0, &n, &oldest, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(n, -1);
	store_stats st;
	assert_int_equal(store_get_stats(ro, &st, err, sizeof(err)), RK_OK);
	assert_int_equal(st.events, 1);
	store_close(ro);
	/* A group of fenced batches only: every one FENCED, RK_OK. */
	assert_int_equal(store_begin(af, err, sizeof(err)), RK_OK);
	assert_int_equal(store_append(af, 3, 7, "sa", "alice", "",
				      "{\"k\":\"board.clear\"}", 19, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_commit(af, err, sizeof(err)), RK_OK);
	assert_int_equal(commit(a, h, 1, res), RK_OK);
	assert_int_equal(res[0], STORE_PG_FENCED);
	store_close(af);
	store_close(ag);
	store_close(bf);
	store_pg_close(a);
	store_pg_close(b);
}

static void test_repeat_harmless(void **state)
{
	(void)state;
	char err[300];
	store_pg *pg = connect_pg();
	beat(pg, "n1");
	store *s = acquire(pg, "rep-1", "n1", 10, STORE_PG_ACQUIRED);
	write_ops(s, 1, 3);
	store_pg_batch *b1 = store_pg_take(s);
	store_pg_res res;
	assert_int_equal(store_pg_commit_group(pg, &b1, 1, &res, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(res, STORE_PG_COMMITTED);
	char *before = room_events("rep-1");
	/* The same batch again (its outcome was lost): committed, no change. */
	assert_int_equal(store_pg_commit_group(pg, &b1, 1, &res, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(res, STORE_PG_COMMITTED);
	char *after = room_events("rep-1");
	assert_string_equal(after, before);
	free(after);
	/* Later batches committed, then the first repeated with the next
	 * (a group retried whole): still one history. */
	write_ops(s, 4, 5);
	store_pg_batch *b2 = store_pg_take(s);
	assert_int_equal(store_pg_commit_group(pg, &b2, 1, &res, err, sizeof(err)),
			 RK_OK);
	store_pg_batch *both[2] = {b1, b2};
	store_pg_res r2[2];
	assert_int_equal(store_pg_commit_group(pg, both, 2, r2, err, sizeof(err)), RK_OK);
	assert_int_equal(r2[0], STORE_PG_COMMITTED);
	assert_int_equal(r2[1], STORE_PG_COMMITTED);
	after = room_events("rep-1");
	assert_int_equal(strncmp(after, before, strlen(before)), 0);
	assert_non_null(strstr(after, "5:s1:alice:o5:"));
	assert_null(strstr(after, "6:"));
	free(after);
	free(before);
	assert_int_equal(row_of(pg, "rep-1").seq, 5);
	/* The alarm set at seq 3 is there once. */
	store *ro;
	assert_int_equal(store_pg_open_ro(pg, "rep-1", &ro, err, sizeof(err)), RK_OK);
	int64_t seq, snap;
	char *enc = load_enc(ro, &seq, &snap);
	assert_int_equal(seq, 5);
	free(enc);
	store_close(ro);
	/* A batch out of order (a gap: it follows seq 6, the log is at 5) is
	 * refused by the fence, nothing written; in order, both go in. */
	store_pg_batch_free(b1);
	store_pg_batch_free(b2);
	write_ops(s, 6, 6);
	b1 = store_pg_take(s);
	write_ops(s, 7, 7);
	b2 = store_pg_take(s);
	assert_int_equal(store_pg_commit_group(pg, &b2, 1, &res, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(res, STORE_PG_FENCED);
	assert_int_equal(row_of(pg, "rep-1").seq, 5);
	both[0] = b1;
	both[1] = b2;
	assert_int_equal(store_pg_commit_group(pg, both, 2, r2, err, sizeof(err)), RK_OK);
	assert_int_equal(r2[0], STORE_PG_COMMITTED);
	assert_int_equal(r2[1], STORE_PG_COMMITTED);
	assert_int_equal(row_of(pg, "rep-1").seq, 7);
	store_pg_batch_free(b1);
	store_pg_batch_free(b2);
	store_close(s);
	store_pg_close(pg);
}

/* What a callback of rooms (store_pg_owned, _handover_wanted,
 * _orphan_alarms) was given: "room;room;..." and the first and last
 * numbers (token, alarm time). */
typedef struct seen {
	char rooms[512];
	int64_t first, token;
} seen;

static void seen_cb(void *arg, const char *room, int64_t v)
{
	seen *s = arg;
	size_t n = strlen(s->rooms);
	if (!n)
		s->first = v;
	snprintf(s->rooms + n, sizeof(s->rooms) - n, "%s;", room);
	s->token = v;
}

static void test_handover_release_leave(void **state)
{
	(void)state;
	char err[300];
	store_pg *a = connect_pg(), *b = connect_pg();
	beat(a, "ha");
	beat(b, "hb");
	store *h1 = acquire(a, "hand-1", "ha", 10, STORE_PG_ACQUIRED);
	store *h2 = acquire(a, "hand-2", "ha", 10, STORE_PG_ACQUIRED);
	seen sw = {.token = 0};
	assert_int_equal(
	    store_pg_handover_wanted(a, "ha", seen_cb, &sw, err, sizeof(err)), RK_OK);
	assert_string_equal(sw.rooms, "");
	seen so = {.token = 0};
	assert_int_equal(store_pg_owned(a, "ha", seen_cb, &so, err, sizeof(err)), RK_OK);
	assert_string_equal(so.rooms, "hand-1;hand-2;");
	/* B asks for hand-1: A is told, releases it; B gets it. */
	assert_null(acquire(b, "hand-1", "hb", 10, STORE_PG_OWNED));
	assert_int_equal(
	    store_pg_handover_wanted(a, "ha", seen_cb, &sw, err, sizeof(err)), RK_OK);
	assert_string_equal(sw.rooms, "hand-1;");
	assert_int_equal(sw.token, store_pg_token(h1));
	/* A release under an old token does nothing. */
	assert_int_equal(
	    store_pg_release(a, "hand-1", "ha", sw.token - 1, err, sizeof(err)), RK_OK);
	assert_string_equal(row_of(a, "hand-1").owner, "ha");
	assert_int_equal(store_pg_release(a, "hand-1", "ha", sw.token, err, sizeof(err)),
			 RK_OK);
	assert_string_equal(row_of(a, "hand-1").owner, "");
	store *bh = acquire(b, "hand-1", "hb", 10, STORE_PG_ACQUIRED);
	/* A's old handle is fenced now. */
	write_ops(h1, 1, 1);
	store_pg_res res;
	assert_int_equal(commit(a, &h1, 1, &res), RK_OK);
	assert_int_equal(res, STORE_PG_FENCED);
	/* B's release by another node's name does nothing. */
	assert_int_equal(
	    store_pg_release(b, "hand-1", "ha", store_pg_token(bh), err, sizeof(err)),
	    RK_OK);
	assert_string_equal(row_of(a, "hand-1").owner, "hb");
	/* A leaves: its rooms have no owner, its node row is gone. */
	assert_int_equal(store_pg_leave(a, "ha", err, sizeof(err)), RK_OK);
	so.rooms[0] = '\0';
	assert_int_equal(store_pg_owned(a, "ha", seen_cb, &so, err, sizeof(err)), RK_OK);
	assert_string_equal(so.rooms, "");
	room_row r = row_of(a, "hand-2");
	assert_string_equal(r.owner, "");
	assert_false(r.alive);
	assert_string_equal(row_of(a, "hand-1").owner, "hb");
	/* Another node acquires hand-2 plainly (no owner: not a takeover). */
	store *bh2 = acquire(b, "hand-2", "hb", 10, STORE_PG_ACQUIRED);
	store_close(bh2);
	store_close(bh);
	store_close(h1);
	store_close(h2);
	store_pg_close(a);
	store_pg_close(b);
}

static bool has_room(const char *list, const char *room)
{
	char want[80];
	snprintf(want, sizeof(want), "%s;", room);
	for (const char *p = list; (p = strstr(p, want)); p++)
		if (p == list || p[-1] == ';')
			return true;
	return false;
}

static void test_orphan_alarms(void **state)
{
	(void)state;
	char err[300];
	store_pg *a = connect_pg();
	beat(a, "oa");
	store *s = acquire(a, "orph-1", "oa", 10, STORE_PG_ACQUIRED);
	write_ops(s, 1, 3); /* sets the alarm of poll p */
	commit_one(a, s);
	seen o = {.token = 0};
	assert_int_equal(
	    store_pg_orphan_alarms(a, LEASE_MS, 1000, seen_cb, &o, err, sizeof(err)),
	    RK_OK);
	assert_false(has_room(o.rooms, "orph-1")); /* its owner is alive */
	sleep_ms(LEASE_MS + 200);
	memset(&o, 0, sizeof(o));
	assert_int_equal(
	    store_pg_orphan_alarms(a, LEASE_MS, 1000, seen_cb, &o, err, sizeof(err)),
	    RK_OK);
	assert_true(has_room(o.rooms, "orph-1"));
	/* Earliest first, at most limit rooms. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(
	    store_pg_orphan_alarms(a, LEASE_MS, 1, seen_cb, &o, err, sizeof(err)), RK_OK);
	assert_int_equal(strchr(o.rooms, ';') - o.rooms + 1, strlen(o.rooms));
	beat(a, "oa");
	memset(&o, 0, sizeof(o));
	assert_int_equal(
	    store_pg_orphan_alarms(a, LEASE_MS, 1000, seen_cb, &o, err, sizeof(err)),
	    RK_OK);
	assert_false(has_room(o.rooms, "orph-1"));
	store_close(s);
	store_pg_close(a);
}

static bool alarm_cb(void *arg, const char *poll, int64_t at)
{
	rk_buf_printf(arg, "%s@%lld;", poll, (long long)at);
	return true;
}

static bool user_cb(void *arg, const char *user, int64_t n)
{
	rk_buf_printf(arg, "%s=%lld;", user, (long long)n);
	return true;
}

static bool snap_cb(void *arg, int64_t seq, int64_t ts, const char *json, size_t len)
{
	(void)json;
	rk_buf_printf(arg, "%lld/%lld/%d;", (long long)seq, (long long)ts, len > 0);
	return true;
}

static void test_open_ro_cursor_stats(void **state)
{
	(void)state;
	char err[300];
	store_pg *pg = connect_pg();
	store *w = room_with(pg, "ro-1", 10, 4);
	write_snapshot(w);
	commit_one(pg, w);
	store *s;
	assert_int_equal(store_pg_open_ro(pg, "ro-none", &s, err, sizeof(err)), RK_EIO);
	assert_string_equal(err, "no such room");
	assert_int_equal(store_pg_open_ro(pg, "ro-1", &s, err, sizeof(err)), RK_OK);
	assert_string_equal(store_epoch(s), store_epoch(w));
	/* Writes are refused. */
	assert_int_equal(store_begin(s, err, sizeof(err)), RK_EIO);
	/* A cursor, one user's, bounded. */
	store_cursor *c;
	assert_int_equal(store_cursor_open(s, 0, 3, "alice", &c, err, sizeof(err)),
			 RK_OK);
	store_event ev;
	assert_int_equal(store_cursor_next(c, &ev, err, sizeof(err)), 1);
	assert_int_equal(ev.seq, 1);
	assert_string_equal(ev.op_id, "o1");
	assert_int_equal(ev.op_len, strlen(ops[0]));
	assert_memory_equal(ev.op, ops[0], ev.op_len);
	assert_int_equal(store_cursor_next(c, &ev, err, sizeof(err)), 1);
	assert_int_equal(ev.seq, 3);
	assert_int_equal(store_cursor_next(c, &ev, err, sizeof(err)), 0);
	store_cursor_close(c);
	char *e = events_of(s, 2, 3);
	assert_int_equal(strncmp(e, "3:", 2), 0);
	assert_null(strstr(e, ";2:"));
	free(e);
	store_stats st;
	assert_int_equal(store_get_stats(s, &st, err, sizeof(err)), RK_OK);
	assert_int_equal(st.min_seq, 1);
	assert_int_equal(st.max_seq, 4);
	assert_int_equal(st.events, 4);
	assert_int_equal(st.snapshots, 1);
	assert_int_equal(st.last_ts, 1004);
	assert_int_equal(store_min_seq(s), 1);
	rk_buf b;
	rk_buf_init(&b, 0);
	assert_int_equal(store_alarms(s, alarm_cb, &b, err, sizeof(err)), RK_OK);
	assert_int_equal(store_users(s, user_cb, &b, err, sizeof(err)), RK_OK);
	assert_int_equal(store_snapshots(s, snap_cb, &b, err, sizeof(err)), RK_OK);
	rk_buf_putc(&b, '\0');
	assert_string_equal(b.data, "p@1700000000000;alice=2;bob=2;4/2000/1;");
	rk_buf_free(&b);
	char *json;
	size_t len;
	int64_t at;
	assert_int_equal(store_snapshot_at(s, 3, &at, &json, &len, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(at, 0);
	assert_null(json);
	assert_int_equal(store_snapshot_at(s, -1, &at, &json, &len, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(at, 4);
	assert_int_equal(strlen(json), len);
	free(json);
	store_close(s);
	store_close(w);
	store_pg_close(pg);
}

static void test_delete(void **state)
{
	(void)state;
	char err[300];
	store_pg *pg = connect_pg();
	store *w = room_with(pg, "del-1", 10, 3);
	int64_t token = store_pg_token(w);
	/* Not its owner, or not its token: nothing goes. */
	assert_int_equal(store_pg_delete(pg, "del-1", "n2", token, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_pg_delete(pg, "del-1", "n1", token + 1, err, sizeof(err)),
			 RK_OK);
	assert_true(row_of(pg, "del-1").found);
	assert_int_equal(store_pg_delete(pg, "del-1", "n1", token, err, sizeof(err)),
			 RK_OK);
	assert_false(row_of(pg, "del-1").found);
	store *s;
	assert_int_equal(store_pg_open_ro(pg, "del-1", &s, err, sizeof(err)), RK_EIO);
	/* Its handle is fenced; a new acquire makes a new room (new epoch,
	 * seq from 1). */
	write_ops(w, 4, 4);
	store_pg_res res;
	assert_int_equal(commit(pg, &w, 1, &res), RK_OK);
	assert_int_equal(res, STORE_PG_FENCED);
	store *n = acquire(pg, "del-1", "n1", 10, STORE_PG_ACQUIRED);
	assert_string_not_equal(store_epoch(n), store_epoch(w));
	int64_t seq, snap;
	free(load_enc(n, &seq, &snap));
	assert_int_equal(seq, 0);
	/* Token 0: unconditionally. */
	assert_int_equal(store_pg_delete(pg, "del-1", NULL, 0, err, sizeof(err)), RK_OK);
	assert_false(row_of(pg, "del-1").found);
	store_close(n);
	store_close(w);
	store_pg_close(pg);
}

static void test_tail_after_detach(void **state)
{
	(void)state;
	char err[300];
	store_pg *pg = connect_pg();
	store_close(room_with(pg, "tail-1", 0, 8));
	/* A tail of 5: the last 5 events loaded, then those staged. */
	store *s = acquire(pg, "tail-1", "n1", 5, STORE_PG_ACQUIRED);
	int64_t seq, snap;
	free(load_enc(s, &seq, &snap));
	assert_int_equal(seq, 8);
	store_pg_detach(s);
	store_pg_close(pg); /* no connection at all from here */
	assert_int_equal(store_min_seq(s), 4);
	char *e = events_of(s, 5, -1);
	assert_int_equal(strncmp(e, "6:s1:bob:o6:", 12), 0);
	assert_non_null(strstr(e, ";8:s1:bob:o8:"));
	assert_null(strstr(e, ";9:"));
	free(e);
	write_ops(s, 9, 10); /* staged: into the tail, oldest dropped */
	assert_int_equal(store_min_seq(s), 6);
	e = events_of(s, 8, 9);
	assert_int_equal(strncmp(e, "9:s1:alice:o9:", 14), 0);
	assert_null(strstr(e, ";10:"));
	free(e);
	store_cursor *c;
	assert_int_equal(store_cursor_open(s, 0, -1, "bob", &c, err, sizeof(err)), RK_OK);
	store_event ev;
	int64_t got[8];
	int n = 0;
	while (store_cursor_next(c, &ev, err, sizeof(err)) == 1 && n < 8)
		got[n++] = ev.seq;
	store_cursor_close(c);
	assert_int_equal(n, 3);
	assert_int_equal(got[0], 6);
	assert_int_equal(got[1], 8);
	assert_int_equal(got[2], 10);
	/* Reads that need the database say so. */
	store_stats st;
	assert_int_equal(store_get_stats(s, &st, err, sizeof(err)), RK_EIO);
	assert_non_null(strstr(err, "detached"));
	/* The staged batch is still there to be taken. */
	store_pg_batch *b = store_pg_take(s);
	assert_non_null(b);
	assert_int_equal(store_pg_batch_seq(b), 10);
	store_pg_batch_free(b);
	store_close(s);
}

/* Nodes starting together on an empty database: every connect creates
 * the schema or finds it (the advisory lock serialises them), none fails. */
static void test_concurrent_first_connects(void **state)
{
	(void)state;
	char cmd[512], url[200];
	snprintf(cmd, sizeof(cmd), "psql -q '%s' -c 'CREATE DATABASE fresh' >/dev/null",
		 server.url);
	assert_int_equal(system(cmd), 0);
	snprintf(url, sizeof(url), "%.*sfresh",
		 (int)(strrchr(server.url, '/') - server.url + 1), server.url);
	enum { N = 6 };
	pid_t kids[N];
	int pipes[N][2];
	for (int i = 0; i < N; i++) {
		assert_int_equal(pipe(pipes[i]), 0);
		fflush(NULL);
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			char go;
			close(pipes[i][1]);
			if (read(pipes[i][0], &go, 1) != 1) /* all at once */
				_exit(3);
			store_pg *pg;
			char err[300];
			if (store_pg_connect(url, 5000, &pg, err, sizeof(err)) != RK_OK) {
				fprintf(stderr, "child %d: %s\n", i, err);
				_exit(1);
			}
			store_pg_close(pg);
			_exit(0);
		}
		close(pipes[i][0]);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(write(pipes[i][1], "g", 1), 1);
		close(pipes[i][1]);
	}
	for (int i = 0; i < N; i++) {
		int st;
		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

/* A group larger than the pipeline's flush interval, and PostgreSQL
 * restarted under a connection: the commit fails whole (nothing written,
 * the connection reported dead), and the same batches commit on a new
 * connection. */
static void test_big_group_and_restart(void **state)
{
	(void)state;
	char err[300], op[64];
	store_pg *pg = connect_pg();
	beat(pg, "n1");
	store *h[2] = {acquire(pg, "big-1", "n1", 10, STORE_PG_ACQUIRED),
		       acquire(pg, "big-2", "n1", 10, STORE_PG_ACQUIRED)};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_begin(h[i], err, sizeof(err)), RK_OK);
		for (int q = 1; q <= 1500; q++) {
			int n = snprintf(op, sizeof(op),
					 "{\"k\":\"chat.post\",\"text\":\"m%d\"}", q);
			assert_int_equal(store_append(h[i], q, q, "s", "u", "", op,
						      (size_t)n, err, sizeof(err)),
					 RK_OK);
		}
		assert_int_equal(store_commit(h[i], err, sizeof(err)), RK_OK);
	}
	store_pg_res res[2];
	assert_int_equal(commit(pg, h, 2, res), RK_OK);
	assert_int_equal(res[0], STORE_PG_COMMITTED);
	assert_int_equal(res[1], STORE_PG_COMMITTED);
	assert_int_equal(row_of(pg, "big-2").seq, 1500);
	/* The server restarts: the old connection fails the group. */
	assert_int_equal(store_begin(h[0], err, sizeof(err)), RK_OK);
	assert_int_equal(store_append(h[0], 1501, 1501, "s", "u", "",
				      "{\"k\":\"board.clear\"}", 19, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_commit(h[0], err, sizeof(err)), RK_OK);
	store_pg_batch *b = store_pg_take(h[0]);
	assert_true(pgtmp_ctl(&server, "restart"));
	store_pg_res r1 = STORE_PG_COMMITTED;
	assert_int_equal(store_pg_commit_group(pg, &b, 1, &r1, err, sizeof(err)), RK_EIO);
	assert_int_equal(r1, STORE_PG_FAILED);
	assert_false(store_pg_alive(pg));
	store_close(h[0]);
	store_close(h[1]);
	store_pg_close(pg);
	pg = connect_pg();
	assert_int_equal(row_of(pg, "big-1").seq, 1500);
	assert_int_equal(store_pg_commit_group(pg, &b, 1, &r1, err, sizeof(err)), RK_OK);
	assert_int_equal(r1, STORE_PG_COMMITTED);
	assert_int_equal(row_of(pg, "big-1").seq, 1501);
	store_pg_batch_free(b);
	store_pg_close(pg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect_errors),
	    cmocka_unit_test(test_concurrent_first_connects),
	    cmocka_unit_test(test_acquire_creates_meta),
	    cmocka_unit_test(test_same_as_sqlite),
	    cmocka_unit_test(test_opid_window_same_as_sqlite),
	    cmocka_unit_test(test_group_of_rooms),
	    cmocka_unit_test(test_fencing),
	    cmocka_unit_test(test_repeat_harmless),
	    cmocka_unit_test(test_handover_release_leave),
	    cmocka_unit_test(test_orphan_alarms),
	    cmocka_unit_test(test_open_ro_cursor_stats),
	    cmocka_unit_test(test_delete),
	    cmocka_unit_test(test_tail_after_detach),
	    cmocka_unit_test(test_big_group_and_restart),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
