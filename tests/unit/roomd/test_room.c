/*
 * test_room.c - the room actor (roomd/room.c) on its own, its neighbours
 * stubbed (room_stubs.c): the output gate (nothing of an op leaves before
 * its batch is committed; a reply waits behind its sender's pending acks),
 * the load queue (what arrives while a room loads runs in arrival order
 * once it is loaded, or is refused if the load fails) and the --fsync
 * queue (committed output leaves only once the syncer reports its seq
 * durable; a failed sync fails the room), and dozing (a quiet loaded room
 * closes its handle; its next op reopens it through the loader, the op's
 * output waiting for the commit after the reopen), and a new room's file
 * waiting for its first op (the loader creates it with the epoch the
 * members were given).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "conn.h"
#include "room.h"
#include "room_stubs.h"

typedef struct fixture {
	server s;
	conn a, b;
	room *r;
} fixture;

static int setup(void **state)
{
	stubs_reset();
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	server *s = &f->s;
	snprintf(s->cfg.data_dir, sizeof(s->cfg.data_dir), "/nonexistent");
	s->cfg.max_frame = 65536;
	s->cfg.snapshot_every = 1000;
	s->cfg.resume_max = 1000;
	s->loader = (loader *)1; /* never dereferenced by the stubs */
	s->running = true;
	rk_buf_init(&s->scratch, 0);
	rk_buf_init(&s->op_scratch, 0);
	rk_buf_init(&s->wh_scratch, 0);
	const char *names[] = {"A", "B"};
	conn *cs[] = {&f->a, &f->b};
	for (int i = 0; i < 2; i++) {
		cs[i]->srv = s;
		cs[i]->state = CONN_OPEN;
		cs[i]->role = RK_ROLE_EDITOR;
		char session[8], user[8];
		snprintf(session, sizeof(session), "s%s", names[i]);
		snprintf(user, sizeof(user), "u%s", names[i]);
		assert_true(conn_set_ids(cs[i], session, user, NULL, "127.0.0.1"));
	}
	f->r = room_new(s, "r1");
	assert_non_null(f->r);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	if (f->a.room)
		room_leave(f->r, &f->a);
	if (f->b.room)
		room_leave(f->r, &f->b);
	room_free(f->r);
	conn_free_ids(&f->a);
	conn_free_ids(&f->b);
	rk_buf_free(&f->s.scratch);
	rk_buf_free(&f->s.op_scratch);
	rk_buf_free(&f->s.wh_scratch);
	free(f);
	stubs_reset();
	return 0;
}

/* The index of the first message to c at or after from containing needle,
 * or -1. */
static int sent_to(conn *c, const char *needle, size_t from)
{
	for (size_t i = from; i < stubs.nsent; i++)
		if (stubs.sent[i].c == c && strstr(stubs.sent[i].text, needle))
			return (int)i;
	return -1;
}

static void submit(fixture *f, conn *c, const char *json)
{
	rk_cmsg m;
	rk_reject rej = RK_REJ_NONE;
	char msg[RK_MSG_MSG_MAX + 1];
	assert_int_equal(
	    rk_cmsg_decode(json, strlen(json), 65536, &m, &rej, msg, sizeof(msg)), RK_OK);
	room_submit(f->r, c, &m);
	rk_cmsg_free(&m);
}

#define CHAT(id)                                                                         \
	"{\"t\":\"op\",\"id\":\"" id "\",\"op\":{\"k\":\"chat.post\",\"text\":\"hi\"}}"

/* The loader's result for r: a successful load of an empty room. */
static void deliver_load(fixture *f)
{
	load_result res = {.kind = LOADER_LOAD, .rc = RK_OK, .lock_fd = -1};
	snprintf(res.room, sizeof(res.room), "r1");
	res.state = rk_state_new();
	res.ids = opids_new();
	char err[64];
	assert_int_equal(store_open("p", "r1", 0, &res.st, err, sizeof(err)), RK_OK);
	room_loaded(f->r, &res);
	assert_null(res.state); /* taken */
	assert_null(res.ids);
}

/* Load r through the loader path (room_join queues, the test delivers the
 * loader's result) and join both conns. */
static void load_and_join(fixture *f)
{
	room_join(f->r, &f->a, NULL, NULL);
	room_join(f->r, &f->b, NULL, NULL);
	assert_int_equal(stubs.loads, 1);
	deliver_load(f);
	assert_true(room_is_loaded(f->r));
	assert_true(f->a.joined && f->b.joined);
}

/* ---- output gate ---- */

static void test_gate_holds_output_until_commit(void **state)
{
	fixture *f = *state;
	load_and_join(f);
	size_t before = stubs.nsent;
	submit(f, &f->a, CHAT("op1"));
	/* Applied, not committed: nothing of it has left. */
	assert_int_equal(stubs.nsent, before);
	assert_true(room_has_unsynced(f->r));
	assert_int_equal(room_committed_seq(f->r), 0);
	assert_false(room_flush_dirty(&f->s, false));
	assert_int_equal(stubs.commits, 1);
	assert_int_equal(stubs.appended, 1);
	assert_int_equal(room_committed_seq(f->r), 1);
	int ack = sent_to(&f->a, "\"t\":\"ack\"", before);
	int ev = sent_to(&f->b, "\"t\":\"event\"", before);
	assert_true(ack >= 0 && ev >= 0);
	assert_int_equal(sent_to(&f->a, "\"t\":\"event\"", before),
			 -1); /* not to its sender */
	assert_false(room_has_unsynced(f->r));
}

static void test_gate_reply_waits_behind_pending_ack(void **state)
{
	fixture *f = *state;
	load_and_join(f);
	size_t before = stubs.nsent;
	submit(f, &f->a, CHAT("op1"));
	/* A reply produced now (as conn_in's pong) must not overtake the ack. */
	rk_msg *pong = msg_new("{\"t\":\"pong\"}", 12, false);
	room_reply(f->r, &f->a, pong);
	assert_int_equal(stubs.nsent, before);
	assert_false(room_flush_dirty(&f->s, false));
	int ack = sent_to(&f->a, "\"t\":\"ack\"", before);
	int p = sent_to(&f->a, "\"t\":\"pong\"", before);
	assert_true(ack >= 0 && p >= 0);
	assert_true(ack < p);
	/* With nothing pending, a reply leaves at once. */
	size_t n = stubs.nsent;
	room_reply(f->r, &f->a, msg_new("{\"t\":\"pong\"}", 12, false));
	assert_int_equal(stubs.nsent, n + 1);
}

static void test_gate_failed_commit_sends_nothing(void **state)
{
	fixture *f = *state;
	load_and_join(f);
	size_t before = stubs.nsent;
	submit(f, &f->a, CHAT("op1"));
	stubs.fail_append = true;
	assert_false(room_flush_dirty(&f->s, false));
	assert_int_equal(stubs.rollbacks, 1);
	assert_int_equal(sent_to(&f->a, "\"t\":\"ack\"", before), -1);
	assert_int_equal(sent_to(&f->b, "\"t\":\"event\"", before), -1);
	assert_int_equal(f->a.close_code, CLOSE_INTERNAL);
	assert_int_equal(f->b.close_code, CLOSE_INTERNAL);
	assert_false(room_is_loaded(f->r));
	assert_int_equal(room_committed_seq(f->r), 0);
}

/* ---- load queue ---- */

static void test_loadq_runs_in_arrival_order(void **state)
{
	fixture *f = *state;
	room_join(f->r, &f->a, NULL, NULL);
	assert_int_equal(stubs.loads, 1);
	assert_int_equal(room_members(f->r), 1); /* a waiting join counts */
	assert_false(f->a.joined);
	/* An op while the room loads waits behind the join, and is taken. */
	rk_cmsg m;
	rk_reject rej;
	char msg[RK_MSG_MSG_MAX + 1];
	assert_int_equal(rk_cmsg_decode(CHAT("op1"), strlen(CHAT("op1")), 65536, &m, &rej,
					msg, sizeof(msg)),
			 RK_OK);
	room_submit(f->r, &f->a, &m);
	assert_int_equal(m.t, 0); /* moved into the queue: the caller's free is a no-op */
	assert_string_equal(m.id, "");
	rk_cmsg_free(&m);
	room_reply(f->r, &f->a, msg_new("{\"t\":\"pong\"}", 12, false));
	assert_int_equal(stubs.nsent, 0);
	assert_int_equal(stubs.loads, 1); /* one load for everything */

	deliver_load(f);
	assert_true(f->a.joined);
	int welcome = sent_to(&f->a, "\"t\":\"welcome\"", 0);
	assert_int_equal(welcome, 0);
	/* The op is applied (pending); the pong waits behind its ack. */
	assert_int_equal(sent_to(&f->a, "\"t\":\"pong\"", 0), -1);
	assert_false(room_flush_dirty(&f->s, false));
	int ack = sent_to(&f->a, "\"t\":\"ack\"", 0);
	int pong = sent_to(&f->a, "\"t\":\"pong\"", 0);
	assert_true(welcome < ack && ack < pong);
}

static void test_loadq_failed_load_refuses_waiters(void **state)
{
	fixture *f = *state;
	room_join(f->r, &f->a, NULL, NULL);
	room_join(f->r, &f->b, NULL, NULL);
	assert_int_equal(room_members(f->r), 2);
	load_result res = {.kind = LOADER_LOAD, .rc = RK_EIO, .lock_fd = -1};
	snprintf(res.room, sizeof(res.room), "r1");
	snprintf(res.err, sizeof(res.err), "not a room file");
	room_loaded(f->r, &res);
	assert_false(room_is_loaded(f->r));
	assert_int_equal(f->a.close_code, CLOSE_INTERNAL);
	assert_int_equal(f->b.close_code, CLOSE_INTERNAL);
	assert_int_equal(stubs.nsent, 0);
	assert_int_equal(room_members(f->r), 0);
}

static void test_loadq_leaver_drops_its_items(void **state)
{
	fixture *f = *state;
	room_join(f->r, &f->a, NULL, NULL);
	room_join(f->r, &f->b, NULL, NULL);
	room_leave(f->r, &f->a); /* a goes away while the room loads */
	assert_null(f->a.room);
	assert_int_equal(room_members(f->r), 1);
	deliver_load(f);
	assert_int_equal(sent_to(&f->a, "", 0), -1); /* nothing for the leaver */
	assert_true(sent_to(&f->b, "\"t\":\"welcome\"", 0) >= 0);
}

/* ---- --fsync queue ---- */

static void test_fsync_output_waits_for_sync(void **state)
{
	fixture *f = *state;
	load_and_join(f);
	f->s.syncer = (syncer *)1; /* --fsync */
	size_t before = stubs.nsent;
	submit(f, &f->a, CHAT("op1"));
	assert_false(room_flush_dirty(&f->s, false));
	submit(f, &f->a, CHAT("op2"));
	assert_false(room_flush_dirty(&f->s, false));
	assert_int_equal(stubs.commits, 2);
	assert_int_equal(stubs.syncs, 2);
	assert_int_equal(stubs.sync_seq, 2);
	/* Committed, not durable: nothing has left, the seq stays. */
	assert_int_equal(stubs.nsent, before);
	assert_int_equal(room_committed_seq(f->r), 0);
	assert_true(room_has_unsynced(f->r));
	/* A reply now waits behind the acks in the sync queue. */
	room_reply(f->r, &f->a, msg_new("{\"t\":\"pong\"}", 12, false));
	assert_int_equal(stubs.nsent, before);
	/* A result releases the batches up to its seq, no further. */
	room_synced(f->r, 1, 0);
	int ack1 = sent_to(&f->a, "\"seq\":1", before);
	assert_true(ack1 >= 0);
	assert_int_equal(sent_to(&f->a, "\"seq\":2", before), -1);
	assert_int_equal(room_committed_seq(f->r), 1);
	room_synced(f->r, 2, 0);
	int ack2 = sent_to(&f->a, "\"t\":\"ack\",\"id\":\"op2\"", before);
	int pong = sent_to(&f->a, "\"t\":\"pong\"", before);
	assert_true(ack2 > ack1 && pong > ack2);
	assert_true(sent_to(&f->b, "\"seq\":2", before) >= 0);
	assert_int_equal(room_committed_seq(f->r), 2);
	assert_false(room_has_unsynced(f->r));
}

static void test_fsync_failed_sync_fails_room(void **state)
{
	fixture *f = *state;
	load_and_join(f);
	f->s.syncer = (syncer *)1;
	size_t before = stubs.nsent;
	submit(f, &f->a, CHAT("op1"));
	assert_false(room_flush_dirty(&f->s, false));
	room_synced(f->r, 1, EIO);
	assert_int_equal(stubs.nsent, before); /* never acked, never fanned out */
	assert_int_equal(f->a.close_code, CLOSE_INTERNAL);
	assert_int_equal(f->b.close_code, CLOSE_INTERNAL);
	assert_false(room_is_loaded(f->r));
	assert_false(room_has_unsynced(f->r));
	assert_int_equal(room_committed_seq(f->r), 0);
}

/* ---- dozing ---- */

/* The loader's result for r's reopen (or kind: a new room's file
 * creation), which brings a handle (or fails). */
static void deliver_handle(fixture *f, loader_kind kind, rk_err rc)
{
	load_result res = {.kind = kind, .rc = rc, .lock_fd = -1};
	snprintf(res.room, sizeof(res.room), "r1");
	char err[64];
	if (rc == RK_OK)
		assert_int_equal(store_open("p", "r1", 0, &res.st, err, sizeof(err)),
				 RK_OK);
	else
		snprintf(res.err, sizeof(res.err), "disk gone");
	room_loaded(f->r, &res);
	assert_null(res.st); /* taken (or none) */
}

static void deliver_reopen(fixture *f, rk_err rc)
{
	deliver_handle(f, LOADER_REOPEN, rc);
}

/* Doze: 1.5 s after the last op (ROOM_DOZE_US in room.c). */
#define DOZE_AFTER_US 1600000

static void test_doze_reopens_on_next_op(void **state)
{
	fixture *f = *state;
	load_and_join(f);
	submit(f, &f->a, CHAT("op1"));
	assert_false(room_flush_dirty(&f->s, false));
	assert_int_equal(stubs.commits, 1);
	/* Quiet: the handle is closed, the state stays loaded. */
	int64_t now = rk_mono_us();
	assert_false(room_tick(f->r, now, INT64_C(1) << 40));
	assert_int_equal(stubs.store_closes, 0);
	assert_true(room_tick(f->r, now + DOZE_AFTER_US, INT64_C(1) << 40));
	assert_int_equal(stubs.store_closes, 1);
	assert_true(room_is_loaded(f->r));
	assert_int_equal(stubs.reopens, 0);
	/* The next op is applied and reopens the handle; nothing of it leaves
	 * before its commit, which waits for the reopen. */
	size_t sent = stubs.nsent;
	submit(f, &f->b, CHAT("op2"));
	assert_int_equal(stubs.reopens, 1);
	assert_false(room_flush_dirty(&f->s, false));
	assert_int_equal(stubs.commits, 1);
	assert_int_equal(sent_to(&f->b, "\"t\":\"ack\"", sent), -1);
	assert_int_equal(sent_to(&f->a, "\"t\":\"event\"", sent), -1);
	/* A join meanwhile waits for the reopen too (its welcome carries the
	 * committed state). */
	conn c = {.srv = &f->s, .state = CONN_OPEN, .role = RK_ROLE_EDITOR};
	assert_true(conn_set_ids(&c, "sC", "uC", NULL, NULL));
	room_join(f->r, &c, NULL, NULL);
	assert_false(c.joined);
	assert_int_equal(stubs.reopens, 1);
	deliver_reopen(f, RK_OK);
	assert_true(c.joined);
	assert_false(room_flush_dirty(&f->s, false));
	assert_int_equal(stubs.commits, 2);
	assert_int_equal(stubs.appended, 2);
	int ack = sent_to(&f->b, "\"t\":\"ack\"", sent);
	assert_true(ack >= 0);
	assert_true(sent_to(&f->a, "\"t\":\"event\"", sent) >= 0);
	/* The welcome came after the commit of op2: it carries seq 2. */
	int welcome = sent_to(&c, "\"t\":\"welcome\"", sent);
	assert_true(welcome >= 0);
	assert_non_null(strstr(stubs.sent[welcome].text, "\"seq\":2"));
	assert_int_equal(room_committed_seq(f->r), 2);
	room_leave(f->r, &c);
	conn_free_ids(&c);
}

static void test_doze_failed_reopen_acks_nothing(void **state)
{
	fixture *f = *state;
	load_and_join(f);
	assert_true(room_tick(f->r, rk_mono_us() + DOZE_AFTER_US, INT64_C(1) << 40));
	size_t sent = stubs.nsent;
	submit(f, &f->a, CHAT("op1"));
	assert_int_equal(stubs.reopens, 1);
	assert_false(room_flush_dirty(&f->s, false));
	deliver_reopen(f, RK_EIO);
	assert_false(room_flush_dirty(&f->s, false));
	assert_int_equal(stubs.commits, 0);
	assert_int_equal(sent_to(&f->a, "\"t\":\"ack\"", sent), -1);
	assert_int_equal(sent_to(&f->b, "\"t\":\"event\"", sent), -1);
	assert_int_equal(f->a.close_code, CLOSE_INTERNAL);
	assert_false(room_is_loaded(f->r));
	assert_int_equal(room_committed_seq(f->r), 0);
}

/* A dozing room due to hibernate with ops since its snapshot reopens first
 * (the snapshot needs the handle), then hibernates. */
static void test_doze_hibernation_reopens_for_snapshot(void **state)
{
	fixture *f = *state;
	load_and_join(f);
	submit(f, &f->a, CHAT("op1"));
	assert_false(room_flush_dirty(&f->s, false));
	int64_t now = rk_mono_us() + DOZE_AFTER_US;
	assert_true(room_tick(f->r, now, INT64_C(1) << 40));
	assert_int_equal(stubs.store_closes, 1);
	int commits = stubs.commits;
	assert_false(room_tick(f->r, now + 1000, 1000)); /* hibernation due */
	assert_int_equal(stubs.reopens, 1);
	assert_true(room_is_loaded(f->r));
	deliver_reopen(f, RK_OK);
	assert_true(room_tick(f->r, now + 2000, 1000));
	assert_false(room_is_loaded(f->r));
	assert_int_equal(stubs.commits, commits + 1); /* the snapshot */
	assert_int_equal(stubs.store_closes, 2);
}

/* ---- a new room has no file until its first commit ---- */

/* The loader's result for a room with no file: new and empty, epoch ep. */
static void deliver_fresh(fixture *f, const char *ep)
{
	load_result res = {
	    .kind = LOADER_LOAD, .rc = RK_OK, .lock_fd = -1, .fresh = true};
	snprintf(res.room, sizeof(res.room), "r1");
	snprintf(res.meta.room, sizeof(res.meta.room), "r1");
	snprintf(res.meta.epoch, sizeof(res.meta.epoch), "%s", ep);
	res.meta.created_ms = 7;
	res.state = rk_state_new();
	res.ids = opids_new();
	room_loaded(f->r, &res);
	assert_null(res.state);
	assert_null(res.ids);
}

static void deliver_create(fixture *f, rk_err rc)
{
	deliver_handle(f, LOADER_CREATE, rc);
}

/* Joins (and a resume at seq 0) of a new room open nothing; its first op
 * asks the loader to create the file with the epoch the members were
 * given, and nothing of the op leaves before the commit that follows. */
static void test_new_room_file_waits_for_first_op(void **state)
{
	fixture *f = *state;
	room_join(f->r, &f->a, NULL, NULL);
	assert_int_equal(stubs.loads, 1);
	deliver_fresh(f, "F1");
	assert_true(f->a.joined);
	int w = sent_to(&f->a, "\"t\":\"welcome\"", 0);
	assert_true(w >= 0);
	assert_non_null(strstr(stubs.sent[w].text, "\"epoch\":\"F1\""));
	room_join(f->r, &f->b, "0", "F1");
	assert_true(f->b.joined);
	assert_non_null(strstr(stubs.sent[sent_to(&f->b, "\"t\":\"welcome\"", 0)].text,
			       "\"resumed\":true"));
	assert_int_equal(stubs.creates + stubs.reopens + stubs.begins, 0);
	assert_true(room_exists(f->r));
	size_t sent = stubs.nsent;
	submit(f, &f->a, CHAT("op1"));
	assert_int_equal(stubs.creates, 1);
	assert_string_equal(stubs.created_epoch, "F1");
	assert_false(room_flush_dirty(&f->s, false));
	assert_int_equal(stubs.commits, 0);
	/* Its resend (a duplicate) is answered behind the commit too. */
	submit(f, &f->a, CHAT("op1"));
	assert_int_equal(sent_to(&f->a, "\"t\":\"ack\"", sent), -1);
	assert_int_equal(sent_to(&f->b, "\"t\":\"event\"", sent), -1);
	deliver_create(f, RK_OK);
	assert_false(room_flush_dirty(&f->s, false));
	assert_int_equal(stubs.commits, 1);
	assert_int_equal(stubs.appended, 1);
	int ack = sent_to(&f->a, "\"t\":\"ack\"", sent);
	assert_true(ack >= 0);
	int dup = sent_to(&f->a, "\"dup\":true", (size_t)ack + 1);
	assert_true(dup > ack);
	assert_true(sent_to(&f->b, "\"t\":\"event\"", sent) >= 0);
	assert_int_equal(stubs.creates, 1);
}

/* A file that cannot be created fails the batch: nothing acked, the
 * members closed with 1011, the room unloaded. */
static void test_new_room_failed_create_acks_nothing(void **state)
{
	fixture *f = *state;
	room_join(f->r, &f->a, NULL, NULL);
	deliver_fresh(f, "F1");
	size_t sent = stubs.nsent;
	submit(f, &f->a, CHAT("op1"));
	deliver_create(f, RK_EIO);
	assert_false(room_flush_dirty(&f->s, false));
	assert_int_equal(stubs.commits, 0);
	assert_int_equal(sent_to(&f->a, "\"t\":\"ack\"", sent), -1);
	assert_int_equal(f->a.close_code, CLOSE_INTERNAL);
	assert_false(room_is_loaded(f->r));
}

/* A new room that hibernates keeps its epoch (a reload finds no file
 * again: the members' epoch stays valid), and once nobody is in it, it
 * does not exist for the HTTP API. */
static void test_new_room_hibernates_without_file(void **state)
{
	fixture *f = *state;
	room_join(f->r, &f->a, NULL, NULL);
	deliver_fresh(f, "F1");
	assert_true(room_tick(f->r, rk_mono_us() + 2000, 1000));
	assert_false(room_is_loaded(f->r));
	assert_int_equal(stubs.creates + stubs.begins, 0);
	room_join(f->r, &f->b, NULL, NULL);
	assert_int_equal(stubs.loads, 2);
	deliver_fresh(f, "F2");
	int w = sent_to(&f->b, "\"t\":\"welcome\"", 0);
	assert_true(w >= 0);
	assert_non_null(strstr(stubs.sent[w].text, "\"epoch\":\"F1\""));
	room_leave(f->r, &f->a);
	room_leave(f->r, &f->b);
	assert_true(room_tick(f->r, rk_mono_us() + 2000, 1000));
	assert_false(room_exists(f->r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_gate_holds_output_until_commit, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_gate_reply_waits_behind_pending_ack,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gate_failed_commit_sends_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_loadq_runs_in_arrival_order, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_loadq_failed_load_refuses_waiters, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_loadq_leaver_drops_its_items, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fsync_output_waits_for_sync, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fsync_failed_sync_fails_room, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_doze_reopens_on_next_op, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_doze_failed_reopen_acks_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_doze_hibernation_reopens_for_snapshot,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_room_file_waits_for_first_op, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_new_room_failed_create_acks_nothing,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_room_hibernates_without_file, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
