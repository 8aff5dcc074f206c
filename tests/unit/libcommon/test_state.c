/*
 * test_state.c - the room state machine: every reject rule of PROTOCOL.md
 * section 3 with its code (and that a reject changes nothing), the effect of
 * each op on the snapshot, the chat ring, alarms, determinism across a
 * snapshot round trip, and rejection of corrupt snapshots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "state.h"

/* ---- helpers ------------------------------------------------------------ */

static char *xstrdup(const char *s)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	assert_non_null(d);
	return d;
}

/* n points (i, 2i) + (dx, 0). */
static rk_point *mk_points(size_t n, int64_t dx)
{
	if (n == 0)
		return NULL;
	rk_point *p = calloc(n, sizeof(*p));
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		p[i].x = (int64_t)i + dx;
		p[i].y = 2 * (int64_t)i;
	}
	return p;
}

static rk_op op_add(const char *id, rk_shape_type type, int color, size_t npoints,
		    const char *text)
{
	rk_op op = {.k = RK_OP_SHAPE_ADD, .type = type, .color = color};
	op.id = xstrdup(id);
	op.points = mk_points(npoints, 0);
	op.npoints = npoints;
	op.text = xstrdup(text);
	return op;
}

static rk_op op_update(const char *id, unsigned set, int color, size_t npoints,
		       const char *text)
{
	rk_op op = {.k = RK_OP_SHAPE_UPDATE, .set = set, .color = color};
	op.id = xstrdup(id);
	if (set & RK_SET_POINTS) {
		op.points = mk_points(npoints, 10);
		op.npoints = npoints;
	}
	op.text = xstrdup(text);
	return op;
}

static rk_op op_id(rk_op_kind k, const char *id)
{
	rk_op op = {.k = k};
	op.id = xstrdup(id);
	return op;
}

static rk_op op_poll(const char *id, const char *question, size_t noptions,
		     int64_t closes_at)
{
	rk_op op = {.k = RK_OP_POLL_CREATE, .closes_at = closes_at};
	op.id = xstrdup(id);
	op.question = xstrdup(question);
	if (noptions) {
		op.options = calloc(noptions, sizeof(char *));
		assert_non_null(op.options);
		for (size_t i = 0; i < noptions; i++) {
			char o[32];
			snprintf(o, sizeof(o), "o%zu", i);
			op.options[i] = xstrdup(o);
		}
	}
	op.noptions = noptions;
	return op;
}

static rk_op op_vote(const char *id, int choice)
{
	rk_op op = op_id(RK_OP_POLL_VOTE, id);
	op.choice = choice;
	return op;
}

static rk_op op_chat(const char *text)
{
	rk_op op = {.k = RK_OP_CHAT_POST};
	op.text = xstrdup(text);
	return op;
}

static rk_actor actor(const char *user, rk_role role, int64_t seq, int64_t ts)
{
	return (rk_actor){.user = user, .role = role, .seq = seq, .ts = ts};
}

/* Apply and free op; returns the code. */
static rk_reject apply1(rk_state *st, rk_op op, rk_actor a)
{
	char msg[RK_MSG_MSG_MAX];
	rk_reject r = rk_state_apply(st, &op, &a, msg, sizeof(msg));
	rk_op_free(&op);
	return r;
}

static void apply_ok(rk_state *st, rk_op op, rk_actor a)
{
	char msg[RK_MSG_MSG_MAX] = "";
	rk_reject r = rk_state_apply(st, &op, &a, msg, sizeof(msg));
	if (r != RK_REJ_NONE)
		fail_msg("%s rejected: %s: %s", rk_op_kind_name(op.k), rk_reject_name(r),
			 msg);
	rk_op_free(&op);
}

/* The snapshot as a malloc'd string. */
static char *snap(const rk_state *st)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_state_encode(st, &b);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	char *s = rk_buf_steal(&b, NULL);
	assert_non_null(s);
	return s;
}

static void assert_snap(const rk_state *st, const char *want)
{
	char *s = snap(st);
	assert_string_equal(s, want);
	free(s);
}

static rk_state *decode_ok(const char *text)
{
	char err[256] = "";
	rk_state *st = NULL;
	rk_err rc = rk_state_decode_text(text, strlen(text), &st, err, sizeof(err));
	if (rc != RK_OK)
		fail_msg("decode failed (%s): %s\n%s", rk_strerror(rc), err, text);
	assert_non_null(st);
	return st;
}

/* encode -> decode -> encode gives the same bytes. */
static void assert_roundtrip(const rk_state *st)
{
	char *a = snap(st);
	rk_state *d = decode_ok(a);
	char *b = snap(d);
	assert_string_equal(a, b);
	free(a);
	free(b);
	rk_state_free(d);
}

/*
 * The fixture of the reject table, applied at ts 1000 by alice (editor):
 * shapes s1 (stroke), l1 (line), r1 (rect), t1 (text); polls p1 (2 options,
 * closes at 5000), p2 (closed), p3 (3 options, no alarm).
 */
static rk_state *fixture(void)
{
	rk_state *st = rk_state_new();
	assert_non_null(st);
	rk_actor al = actor("alice", RK_ROLE_EDITOR, 1, 1000);
	apply_ok(st, op_add("s1", RK_SHAPE_STROKE, 1, 2, NULL), al);
	apply_ok(st, op_add("l1", RK_SHAPE_LINE, 2, 2, NULL), al);
	apply_ok(st, op_add("r1", RK_SHAPE_RECT, 3, 2, NULL), al);
	apply_ok(st, op_add("t1", RK_SHAPE_TEXT, 4, 1, "hello"), al);
	apply_ok(st, op_poll("p1", "Q1?", 2, 5000), al);
	apply_ok(st, op_poll("p2", "Q2?", 2, 0), al);
	apply_ok(st, op_id(RK_OP_POLL_CLOSE, "p2"), al);
	apply_ok(st, op_poll("p3", "Q3?", 3, 0), al);
	apply_ok(st, op_chat("first"), al);
	return st;
}

/* ---- the reject table --------------------------------------------------- */

enum { ROLE_NONE_ = -1 };

typedef struct rcase {
	const char *name;
	rk_op_kind k;
	const char *id;
	rk_shape_type type;
	int color;
	size_t npoints;
	const char *text;
	unsigned set;
	size_t noptions;
	int64_t closes_at;
	int choice;
	const char *user; /* default "alice" */
	int role;	  /* default editor; ROLE_NONE_ for none */
	int64_t ts;	  /* default 2000 */
	rk_reject want;
	rk_role ok_as; /* if set: the same op by this role is applied */
} rcase;

/* clang-format off */
#define ALL_KINDS_VIEWER(kind, ...)                                            \
	{.name = "viewer " #kind, .k = kind, .role = RK_ROLE_VIEWER,           \
	 .want = RK_REJ_FORBIDDEN, __VA_ARGS__}

static const rcase rcases[] = {
	/* viewer -> forbidden for every op (each one fine for a writer) */
	ALL_KINDS_VIEWER(RK_OP_SHAPE_ADD, .id = "s9", .type = RK_SHAPE_STROKE,
			 .npoints = 2, .ok_as = RK_ROLE_EDITOR),
	ALL_KINDS_VIEWER(RK_OP_SHAPE_UPDATE, .id = "s1", .set = RK_SET_COLOR, .color = 3,
			 .ok_as = RK_ROLE_EDITOR),
	ALL_KINDS_VIEWER(RK_OP_SHAPE_DELETE, .id = "s1", .ok_as = RK_ROLE_EDITOR),
	ALL_KINDS_VIEWER(RK_OP_BOARD_CLEAR, .ok_as = RK_ROLE_OWNER),
	ALL_KINDS_VIEWER(RK_OP_POLL_CREATE, .id = "p9", .noptions = 2,
			 .ok_as = RK_ROLE_EDITOR),
	ALL_KINDS_VIEWER(RK_OP_POLL_VOTE, .id = "p1", .choice = 1, .ok_as = RK_ROLE_EDITOR),
	ALL_KINDS_VIEWER(RK_OP_POLL_CLOSE, .id = "p1", .ok_as = RK_ROLE_OWNER),
	ALL_KINDS_VIEWER(RK_OP_CHAT_POST, .text = "hi", .ok_as = RK_ROLE_EDITOR),
	{.name = "no role", .k = RK_OP_CHAT_POST, .text = "hi", .role = ROLE_NONE_,
	 .want = RK_REJ_FORBIDDEN, .ok_as = RK_ROLE_EDITOR},

	/* shapes */
	{.name = "shape.add existing id", .k = RK_OP_SHAPE_ADD, .id = "s1",
	 .type = RK_SHAPE_STROKE, .npoints = 2, .want = RK_REJ_CONFLICT},
	{.name = "shape.add existing id (other type)", .k = RK_OP_SHAPE_ADD, .id = "t1",
	 .type = RK_SHAPE_LINE, .npoints = 2, .want = RK_REJ_CONFLICT},
	{.name = "shape.update missing", .k = RK_OP_SHAPE_UPDATE, .id = "nope",
	 .set = RK_SET_COLOR, .color = 1, .want = RK_REJ_NOT_FOUND},
	{.name = "shape.delete missing", .k = RK_OP_SHAPE_DELETE, .id = "nope",
	 .want = RK_REJ_NOT_FOUND},
	{.name = "update stroke to 0 points", .k = RK_OP_SHAPE_UPDATE, .id = "s1",
	 .set = RK_SET_POINTS, .npoints = 0, .want = RK_REJ_INVALID},
	{.name = "update stroke to 4097 points", .k = RK_OP_SHAPE_UPDATE, .id = "s1",
	 .set = RK_SET_POINTS, .npoints = 4097, .want = RK_REJ_INVALID},
	{.name = "update line to 3 points", .k = RK_OP_SHAPE_UPDATE, .id = "l1",
	 .set = RK_SET_POINTS, .npoints = 3, .want = RK_REJ_INVALID},
	{.name = "update line to 1 point", .k = RK_OP_SHAPE_UPDATE, .id = "l1",
	 .set = RK_SET_POINTS, .npoints = 1, .want = RK_REJ_INVALID},
	{.name = "update rect to 1 point", .k = RK_OP_SHAPE_UPDATE, .id = "r1",
	 .set = RK_SET_POINTS, .npoints = 1, .want = RK_REJ_INVALID},
	{.name = "update text shape to 2 points", .k = RK_OP_SHAPE_UPDATE, .id = "t1",
	 .set = RK_SET_POINTS, .npoints = 2, .want = RK_REJ_INVALID},
	{.name = "update text shape to empty text", .k = RK_OP_SHAPE_UPDATE, .id = "t1",
	 .set = RK_SET_TEXT, .text = "", .want = RK_REJ_INVALID},
	{.name = "update text shape with text absent", .k = RK_OP_SHAPE_UPDATE,
	 .id = "t1", .set = RK_SET_TEXT, .want = RK_REJ_INVALID},
	{.name = "update text on a stroke", .k = RK_OP_SHAPE_UPDATE, .id = "s1",
	 .set = RK_SET_TEXT, .text = "x", .want = RK_REJ_INVALID},
	{.name = "update text on a rect", .k = RK_OP_SHAPE_UPDATE, .id = "r1",
	 .set = RK_SET_TEXT | RK_SET_COLOR, .text = "x", .color = 2,
	 .want = RK_REJ_INVALID},
	{.name = "update color 8", .k = RK_OP_SHAPE_UPDATE, .id = "s1",
	 .set = RK_SET_COLOR, .color = 8, .want = RK_REJ_INVALID},
	{.name = "update color -1", .k = RK_OP_SHAPE_UPDATE, .id = "s1",
	 .set = RK_SET_COLOR, .color = -1, .want = RK_REJ_INVALID},
	{.name = "update with empty set", .k = RK_OP_SHAPE_UPDATE, .id = "s1", .set = 0,
	 .want = RK_REJ_INVALID},
	{.name = "update with unknown set bit", .k = RK_OP_SHAPE_UPDATE, .id = "s1",
	 .set = 1u << 7, .want = RK_REJ_INVALID},
	{.name = "add stroke without points", .k = RK_OP_SHAPE_ADD, .id = "s9",
	 .type = RK_SHAPE_STROKE, .want = RK_REJ_INVALID},
	{.name = "add line with 3 points", .k = RK_OP_SHAPE_ADD, .id = "s9",
	 .type = RK_SHAPE_LINE, .npoints = 3, .want = RK_REJ_INVALID},
	{.name = "add rect with 1 point", .k = RK_OP_SHAPE_ADD, .id = "s9",
	 .type = RK_SHAPE_RECT, .npoints = 1, .want = RK_REJ_INVALID},
	{.name = "add text without text", .k = RK_OP_SHAPE_ADD, .id = "s9",
	 .type = RK_SHAPE_TEXT, .npoints = 1, .want = RK_REJ_INVALID},
	{.name = "add text with empty text", .k = RK_OP_SHAPE_ADD, .id = "s9",
	 .type = RK_SHAPE_TEXT, .npoints = 1, .text = "", .want = RK_REJ_INVALID},
	{.name = "add stroke with text", .k = RK_OP_SHAPE_ADD, .id = "s9",
	 .type = RK_SHAPE_STROKE, .npoints = 2, .text = "x", .want = RK_REJ_INVALID},
	{.name = "add color 8", .k = RK_OP_SHAPE_ADD, .id = "s9", .type = RK_SHAPE_STROKE,
	 .npoints = 2, .color = 8, .want = RK_REJ_INVALID},
	{.name = "add unknown type", .k = RK_OP_SHAPE_ADD, .id = "s9",
	 .type = RK_SHAPE_NONE, .npoints = 2, .want = RK_REJ_INVALID},
	{.name = "add id of 65 bytes", .k = RK_OP_SHAPE_ADD,
	 .id = "0123456789012345678901234567890123456789012345678901234567890123X",
	 .type = RK_SHAPE_STROKE, .npoints = 2, .want = RK_REJ_INVALID},
	{.name = "add empty id", .k = RK_OP_SHAPE_ADD, .id = "", .type = RK_SHAPE_STROKE,
	 .npoints = 2, .want = RK_REJ_INVALID},
	{.name = "shape.add NULL id", .k = RK_OP_SHAPE_ADD, .type = RK_SHAPE_STROKE,
	 .npoints = 2, .want = RK_REJ_INVALID},
	{.name = "shape.update NULL id", .k = RK_OP_SHAPE_UPDATE, .set = RK_SET_COLOR,
	 .want = RK_REJ_INVALID},
	{.name = "shape.delete NULL id", .k = RK_OP_SHAPE_DELETE, .want = RK_REJ_INVALID},
	{.name = "board.clear by editor", .k = RK_OP_BOARD_CLEAR,
	 .want = RK_REJ_FORBIDDEN, .ok_as = RK_ROLE_OWNER},

	/* polls */
	{.name = "poll.create existing id", .k = RK_OP_POLL_CREATE, .id = "p1",
	 .noptions = 2, .want = RK_REJ_CONFLICT},
	{.name = "poll.create closes_at == ts", .k = RK_OP_POLL_CREATE, .id = "p9",
	 .noptions = 2, .closes_at = 2000, .ts = 2000, .want = RK_REJ_INVALID},
	{.name = "poll.create closes_at in the past", .k = RK_OP_POLL_CREATE,
	 .id = "p9", .noptions = 2, .closes_at = 1500, .want = RK_REJ_INVALID},
	{.name = "poll.create closes_at negative", .k = RK_OP_POLL_CREATE, .id = "p9",
	 .noptions = 2, .closes_at = -5, .want = RK_REJ_INVALID},
	{.name = "poll.create 1 option", .k = RK_OP_POLL_CREATE, .id = "p9",
	 .noptions = 1, .want = RK_REJ_INVALID},
	{.name = "poll.create 11 options", .k = RK_OP_POLL_CREATE, .id = "p9",
	 .noptions = 11, .want = RK_REJ_INVALID},
	{.name = "poll.create NULL id", .k = RK_OP_POLL_CREATE, .noptions = 2,
	 .want = RK_REJ_INVALID},
	{.name = "poll.vote missing poll", .k = RK_OP_POLL_VOTE, .id = "nope",
	 .want = RK_REJ_NOT_FOUND},
	{.name = "poll.vote closed poll", .k = RK_OP_POLL_VOTE, .id = "p2",
	 .want = RK_REJ_FORBIDDEN},
	{.name = "poll.vote closed poll, as owner", .k = RK_OP_POLL_VOTE, .id = "p2",
	 .role = RK_ROLE_OWNER, .want = RK_REJ_FORBIDDEN},
	{.name = "poll.vote at closes_at", .k = RK_OP_POLL_VOTE, .id = "p1", .ts = 5000,
	 .want = RK_REJ_FORBIDDEN},
	{.name = "poll.vote after closes_at", .k = RK_OP_POLL_VOTE, .id = "p1",
	 .ts = 6000, .want = RK_REJ_FORBIDDEN},
	{.name = "poll.vote choice == noptions", .k = RK_OP_POLL_VOTE, .id = "p1",
	 .choice = 2, .want = RK_REJ_INVALID},
	{.name = "poll.vote negative choice", .k = RK_OP_POLL_VOTE, .id = "p1",
	 .choice = -1, .want = RK_REJ_INVALID},
	{.name = "poll.vote NULL id", .k = RK_OP_POLL_VOTE, .want = RK_REJ_INVALID},
	{.name = "poll.close missing", .k = RK_OP_POLL_CLOSE, .id = "nope",
	 .want = RK_REJ_NOT_FOUND},
	{.name = "poll.close by non-creator editor", .k = RK_OP_POLL_CLOSE, .id = "p1",
	 .user = "bob", .want = RK_REJ_FORBIDDEN, .ok_as = RK_ROLE_OWNER},
	{.name = "poll.close already closed", .k = RK_OP_POLL_CLOSE, .id = "p2",
	 .want = RK_REJ_CONFLICT},
	{.name = "poll.close already closed, as owner", .k = RK_OP_POLL_CLOSE,
	 .id = "p2", .user = "carol", .role = RK_ROLE_OWNER, .want = RK_REJ_CONFLICT},
	{.name = "poll.close NULL id", .k = RK_OP_POLL_CLOSE, .want = RK_REJ_INVALID},

	/* chat, odd ops */
	{.name = "chat.post empty", .k = RK_OP_CHAT_POST, .text = "",
	 .want = RK_REJ_INVALID},
	{.name = "chat.post NULL text", .k = RK_OP_CHAT_POST, .want = RK_REJ_INVALID},
	{.name = "kind NONE", .k = RK_OP_NONE, .want = RK_REJ_INVALID},
	{.name = "kind out of range", .k = (rk_op_kind)99, .want = RK_REJ_INVALID},
	{.name = "kind COUNT", .k = RK_OP_KIND_COUNT, .want = RK_REJ_INVALID},
};

/* clang-format on */

static rk_op build_op(const rcase *c)
{
	rk_op op;
	switch (c->k) {
	case RK_OP_SHAPE_ADD:
		return op_add(c->id, c->type, c->color, c->npoints, c->text);
	case RK_OP_SHAPE_UPDATE:
		return op_update(c->id, c->set, c->color, c->npoints, c->text);
	case RK_OP_POLL_CREATE:
		return op_poll(c->id, "Q?", c->noptions, c->closes_at);
	case RK_OP_POLL_VOTE:
		return op_vote(c->id, c->choice);
	case RK_OP_CHAT_POST:
		return op_chat(c->text);
	default:
		op = op_id(c->k, c->id);
		return op;
	}
}

static rk_actor case_actor(const rcase *c, rk_role role)
{
	return actor(c->user ? c->user : "alice", role, 100, c->ts ? c->ts : 2000);
}

static void test_reject_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < RK_ARRAY_LEN(rcases); i++) {
		const rcase *c = &rcases[i];
		rk_state *st = fixture();
		char *before = snap(st);
		rk_role role = c->role == ROLE_NONE_ ? RK_ROLE_NONE
			       : c->role	     ? (rk_role)c->role
						     : RK_ROLE_EDITOR;
		rk_op op = build_op(c);
		rk_actor a = case_actor(c, role);
		char msg[RK_MSG_MSG_MAX] = "";
		rk_reject got = rk_state_apply(st, &op, &a, msg, sizeof(msg));
		if (got != c->want)
			fail_msg("case \"%s\": got %s (%s), want %s", c->name,
				 rk_reject_name(got), msg, rk_reject_name(c->want));
		if (msg[0] == '\0')
			fail_msg("case \"%s\": no message", c->name);
		assert_null(op.tally); /* a rejected vote is not "as applied" */
		char *after = snap(st);
		if (strcmp(before, after) != 0)
			fail_msg("case \"%s\": a rejected op changed the state", c->name);
		free(after);
		rk_op_free(&op);

		/* The same op from the right role does go through. */
		if (c->ok_as) {
			op = build_op(c);
			a = case_actor(c, c->ok_as);
			got = rk_state_apply(st, &op, &a, msg, sizeof(msg));
			if (got != RK_REJ_NONE)
				fail_msg("case \"%s\" as %s: got %s (%s)", c->name,
					 rk_role_name(c->ok_as), rk_reject_name(got),
					 msg);
			after = snap(st);
			assert_string_not_equal(before, after);
			free(after);
			rk_op_free(&op);
		}
		free(before);
		rk_state_free(st);
	}
}

static void test_apply_never_crashes_on_odd_input(void **state)
{
	(void)state;
	rk_state *st = fixture();
	char *before = snap(st);
	rk_op op = op_chat("hi");
	rk_actor a = actor("alice", RK_ROLE_EDITOR, 1, 1);
	char msg[RK_MSG_MSG_MAX];
	assert_int_equal(rk_state_apply(st, NULL, &a, msg, sizeof(msg)), RK_REJ_INVALID);
	assert_int_equal(rk_state_apply(st, &op, NULL, msg, sizeof(msg)), RK_REJ_INVALID);
	assert_int_equal(rk_state_apply(NULL, &op, &a, msg, sizeof(msg)), RK_REJ_INVALID);
	/* No user, an empty user, a user past 32 characters. */
	a.user = NULL;
	assert_int_equal(rk_state_apply(st, &op, &a, msg, sizeof(msg)), RK_REJ_INVALID);
	a.user = "";
	assert_int_equal(rk_state_apply(st, &op, &a, msg, sizeof(msg)), RK_REJ_INVALID);
	a.user = "abcdefghijklmnopqrstuvwxyz0123456";
	assert_int_equal(rk_state_apply(st, &op, &a, msg, sizeof(msg)), RK_REJ_INVALID);
	/* A NULL or empty message buffer is fine. */
	a.user = "alice";
	a.role = RK_ROLE_VIEWER;
	assert_int_equal(rk_state_apply(st, &op, &a, NULL, 0), RK_REJ_FORBIDDEN);
	/* points == NULL with npoints set. */
	rk_op bad = op_add("s9", RK_SHAPE_STROKE, 1, 0, NULL);
	bad.npoints = 3;
	a.role = RK_ROLE_EDITOR;
	assert_int_equal(rk_state_apply(st, &bad, &a, msg, sizeof(msg)), RK_REJ_INVALID);
	bad.npoints = 0;
	rk_op_free(&bad);
	/* Coordinates beyond 2^53 would not survive a snapshot. */
	bad = op_add("s9", RK_SHAPE_STROKE, 1, 2, NULL);
	bad.points[1].x = RK_INT_MAX + 1;
	assert_int_equal(rk_state_apply(st, &bad, &a, msg, sizeof(msg)), RK_REJ_INVALID);
	rk_op_free(&bad);
	/* Invalid UTF-8 text would not survive a snapshot either. */
	rk_op_free(&op);
	op = op_chat("bad \xff byte");
	assert_int_equal(rk_state_apply(st, &op, &a, msg, sizeof(msg)), RK_REJ_INVALID);
	rk_op_free(&op);
	char *after = snap(st);
	assert_string_equal(before, after);
	free(before);
	free(after);
	rk_state_free(st);
}

/* ---- successful ops ----------------------------------------------------- */

#define EMPTY_REST "\"polls\":{},\"chat\":[]}"

static void test_shapes(void **state)
{
	(void)state;
	rk_state *st = rk_state_new();
	assert_non_null(st);
	assert_snap(st, "{\"shapes\":{}," EMPTY_REST);
	rk_actor al = actor("alice", RK_ROLE_EDITOR, 1, 1000);
	rk_actor bob = actor("bob", RK_ROLE_EDITOR, 2, 1001);

	apply_ok(st, op_add("s1", RK_SHAPE_STROKE, 1, 2, NULL), al);
	assert_snap(st,
		    "{\"shapes\":{\"s1\":{\"id\":\"s1\",\"type\":\"stroke\",\"color\":1,"
		    "\"points\":[[0,0],[1,2]],\"by\":\"alice\"}}," EMPTY_REST);

	apply_ok(st, op_add("t1", RK_SHAPE_TEXT, 7, 1, "say \"hi\"\n"), bob);
	assert_snap(st,
		    "{\"shapes\":{\"s1\":{\"id\":\"s1\",\"type\":\"stroke\",\"color\":1,"
		    "\"points\":[[0,0],[1,2]],\"by\":\"alice\"},"
		    "\"t1\":{\"id\":\"t1\",\"type\":\"text\",\"color\":7,"
		    "\"points\":[[0,0]],\"text\":\"say "
		    "\\\"hi\\\"\\n\",\"by\":\"bob\"}}," EMPTY_REST);

	/* bob updates alice's stroke: fields replace, by stays alice. */
	apply_ok(st, op_update("s1", RK_SET_COLOR | RK_SET_POINTS, 5, 3, NULL), bob);
	apply_ok(st, op_update("t1", RK_SET_TEXT, 0, 0, "bye"), al);
	apply_ok(st, op_update("t1", RK_SET_POINTS, 0, 1, NULL), al);
	assert_snap(st,
		    "{\"shapes\":{\"s1\":{\"id\":\"s1\",\"type\":\"stroke\",\"color\":5,"
		    "\"points\":[[10,0],[11,2],[12,4]],\"by\":\"alice\"},"
		    "\"t1\":{\"id\":\"t1\",\"type\":\"text\",\"color\":7,"
		    "\"points\":[[10,0]],\"text\":\"bye\",\"by\":\"bob\"}}," EMPTY_REST);

	/* Delete, then re-add the same id: it goes on top (end of the map). */
	apply_ok(st, op_id(RK_OP_SHAPE_DELETE, "s1"), bob);
	apply_ok(st, op_add("l1", RK_SHAPE_LINE, 0, 2, NULL), al);
	apply_ok(st, op_add("s1", RK_SHAPE_RECT, 2, 2, NULL), bob);
	assert_snap(st,
		    "{\"shapes\":{\"t1\":{\"id\":\"t1\",\"type\":\"text\",\"color\":7,"
		    "\"points\":[[10,0]],\"text\":\"bye\",\"by\":\"bob\"},"
		    "\"l1\":{\"id\":\"l1\",\"type\":\"line\",\"color\":0,"
		    "\"points\":[[0,0],[1,2]],\"by\":\"alice\"},"
		    "\"s1\":{\"id\":\"s1\",\"type\":\"rect\",\"color\":2,"
		    "\"points\":[[0,0],[1,2]],\"by\":\"bob\"}}," EMPTY_REST);
	assert_roundtrip(st);

	/* board.clear by an owner removes every shape and nothing else. */
	apply_ok(st, op_chat("keep me"), al);
	apply_ok(st, op_id(RK_OP_BOARD_CLEAR, NULL),
		 actor("carol", RK_ROLE_OWNER, 3, 1002));
	assert_snap(st, "{\"shapes\":{},\"polls\":{},\"chat\":[{\"seq\":1,\"ts\":1000,"
			"\"user\":\"alice\",\"text\":\"keep me\"}]}");
	/* Clearing an empty board is fine; ids are free again. */
	apply_ok(st, op_id(RK_OP_BOARD_CLEAR, NULL),
		 actor("carol", RK_ROLE_OWNER, 4, 1003));
	apply_ok(st, op_add("s1", RK_SHAPE_STROKE, 1, 1, NULL), al);
	assert_int_equal(rk_omap_count(&st->shapes), 1);
	rk_state_free(st);
}

/* Apply a vote and check the tally carried by the op as applied. */
static void vote_expect(rk_state *st, const char *poll, int choice, rk_actor a,
			const int64_t *want, size_t n)
{
	rk_op op = op_vote(poll, choice);
	char msg[RK_MSG_MSG_MAX] = "";
	rk_reject r = rk_state_apply(st, &op, &a, msg, sizeof(msg));
	if (r != RK_REJ_NONE)
		fail_msg("vote rejected: %s", msg);
	assert_int_equal(op.ntally, n);
	assert_non_null(op.tally);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(op.tally[i], want[i]);
	rk_op_free(&op);
}

static void test_polls(void **state)
{
	(void)state;
	rk_state *st = rk_state_new();
	assert_non_null(st);
	rk_actor al = actor("alice", RK_ROLE_EDITOR, 1, 1000);
	rk_actor bob = actor("bob", RK_ROLE_EDITOR, 2, 1100);

	apply_ok(st, op_poll("p1", "Lunch?", 3, 9000), al);
	assert_snap(st,
		    "{\"shapes\":{},\"polls\":{\"p1\":{\"id\":\"p1\",\"question\":"
		    "\"Lunch?\",\"options\":[\"o0\",\"o1\",\"o2\"],\"tally\":[0,0,0],"
		    "\"votes\":{},\"closed\":false,\"closes_at\":9000,\"by\":\"alice\"}},"
		    "\"chat\":[]}");

	vote_expect(st, "p1", 2, bob, (const int64_t[]){0, 0, 1}, 3);
	vote_expect(st, "p1", 0, al, (const int64_t[]){1, 0, 1}, 3);
	/* A new vote replaces the old: bob moves 2 -> 0; he keeps his place. */
	vote_expect(st, "p1", 0, bob, (const int64_t[]){2, 0, 0}, 3);
	/* Voting the same choice again changes nothing. */
	vote_expect(st, "p1", 0, bob, (const int64_t[]){2, 0, 0}, 3);
	/* The last ms before closes_at still counts. */
	vote_expect(st, "p1", 1, actor("dave", RK_ROLE_EDITOR, 3, 8999),
		    (const int64_t[]){2, 1, 0}, 3);
	assert_snap(st, "{\"shapes\":{},\"polls\":{\"p1\":{\"id\":\"p1\",\"question\":"
			"\"Lunch?\",\"options\":[\"o0\",\"o1\",\"o2\"],\"tally\":[2,1,0],"
			"\"votes\":{\"bob\":0,\"alice\":0,\"dave\":1},\"closed\":false,"
			"\"closes_at\":9000,\"by\":\"alice\"}},\"chat\":[]}");

	/* An op that already carries a tally (e.g. wrong size) gets a fresh one. */
	rk_op op = op_vote("p1", 2);
	op.tally = calloc(1, sizeof(int64_t));
	op.ntally = 1;
	rk_actor eve = actor("eve", RK_ROLE_EDITOR, 4, 1200);
	assert_int_equal(rk_state_apply(st, &op, &eve, NULL, 0), RK_REJ_NONE);
	assert_int_equal(op.ntally, 3);
	assert_int_equal(op.tally[0], 2);
	assert_int_equal(op.tally[1], 1);
	assert_int_equal(op.tally[2], 1);
	/* Applying it again (same size) replaces the values. */
	eve.user = "frank";
	assert_int_equal(rk_state_apply(st, &op, &eve, NULL, 0), RK_REJ_NONE);
	assert_int_equal(op.ntally, 3);
	assert_int_equal(op.tally[2], 2);
	rk_op_free(&op);

	/* The creator closes; votes are then forbidden. */
	apply_ok(st, op_id(RK_OP_POLL_CLOSE, "p1"), al);
	assert_int_equal(apply1(st, op_vote("p1", 0), bob), RK_REJ_FORBIDDEN);
	assert_snap(st,
		    "{\"shapes\":{},\"polls\":{\"p1\":{\"id\":\"p1\",\"question\":"
		    "\"Lunch?\",\"options\":[\"o0\",\"o1\",\"o2\"],\"tally\":[2,1,2],"
		    "\"votes\":{\"bob\":0,\"alice\":0,\"dave\":1,\"eve\":2,\"frank\":2},"
		    "\"closed\":true,\"closes_at\":9000,\"by\":\"alice\"}},\"chat\":[]}");

	/* An owner closes someone else's poll; the server closes as roomd. */
	apply_ok(st, op_poll("p2", "Tea?", 2, 0), bob);
	apply_ok(st, op_poll("p3", "Coffee?", 2, 50000), bob);
	apply_ok(st, op_id(RK_OP_POLL_CLOSE, "p2"),
		 actor("carol", RK_ROLE_OWNER, 5, 1300));
	apply_ok(st, op_id(RK_OP_POLL_CLOSE, "p3"),
		 actor("roomd", RK_ROLE_OWNER, 6, 50000));
	const rk_poll *p2 = rk_omap_get(&st->polls, "p2", 2);
	const rk_poll *p3 = rk_omap_get(&st->polls, "p3", 2);
	assert_non_null(p2);
	assert_non_null(p3);
	assert_true(p2->closed);
	assert_true(p3->closed);
	assert_string_equal(p2->by, "bob");
	assert_roundtrip(st);
	rk_state_free(st);
}

static void test_chat_ring(void **state)
{
	(void)state;
	rk_state *st = rk_state_new();
	assert_non_null(st);
	assert_null(st->chat); /* the ring comes with the first post */
	apply_ok(st, op_chat("hi"), actor("alice", RK_ROLE_EDITOR, 12, 1700000000000));
	assert_non_null(st->chat);
	assert_snap(st, "{\"shapes\":{},\"polls\":{},\"chat\":[{\"seq\":12,"
			"\"ts\":1700000000000,\"user\":\"alice\",\"text\":\"hi\"}]}");
	rk_state_free(st);

	st = rk_state_new();
	assert_non_null(st);
	for (int i = 1; i <= 250; i++) {
		char t[16];
		snprintf(t, sizeof(t), "m%d", i);
		apply_ok(st, op_chat(t),
			 actor(i % 2 ? "alice" : "bob", RK_ROLE_EDITOR, i, 1000 + i));
		assert_int_equal(st->chat_len, i < RK_CHAT_KEEP ? i : RK_CHAT_KEEP);
	}
	for (size_t i = 0; i < RK_CHAT_KEEP; i++) {
		const rk_chat *c = rk_state_chat_at(st, i);
		char t[16];
		assert_non_null(c);
		assert_int_equal(c->seq, 51 + (int64_t)i);
		assert_int_equal(c->ts, 1051 + (int64_t)i);
		snprintf(t, sizeof(t), "m%zu", 51 + i);
		assert_string_equal(c->text, t);
	}
	assert_null(rk_state_chat_at(st, RK_CHAT_KEEP));
	char *s = snap(st);
	const char *head =
	    "{\"shapes\":{},\"polls\":{},\"chat\":[{\"seq\":51,\"ts\":1051,"
	    "\"user\":\"alice\",\"text\":\"m51\"},{\"seq\":52,";
	assert_memory_equal(s, head, strlen(head));
	const char *tail =
	    "{\"seq\":250,\"ts\":1250,\"user\":\"bob\",\"text\":\"m250\"}]}";
	assert_string_equal(s + strlen(s) - strlen(tail), tail);
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, "{\"seq\":")); p++)
		n++;
	assert_int_equal(n, RK_CHAT_KEEP);
	free(s);
	assert_roundtrip(st);
	rk_state_free(st);
}

static void test_next_alarm(void **state)
{
	(void)state;
	rk_state *st = rk_state_new();
	const rk_poll *p = NULL;
	assert_false(rk_state_next_alarm(st, &p));
	rk_actor al = actor("alice", RK_ROLE_EDITOR, 1, 100);
	apply_ok(st, op_poll("none", "Q?", 2, 0), al);
	assert_false(rk_state_next_alarm(st, &p));
	apply_ok(st, op_poll("early-closed", "Q?", 2, 1000), al);
	apply_ok(st, op_id(RK_OP_POLL_CLOSE, "early-closed"), al);
	apply_ok(st, op_poll("late", "Q?", 2, 5000), al);
	assert_true(rk_state_next_alarm(st, &p));
	assert_string_equal(p->id, "late");
	apply_ok(st, op_poll("tie-a", "Q?", 2, 3000), al);
	apply_ok(st, op_poll("tie-b", "Q?", 2, 3000), al);
	assert_true(rk_state_next_alarm(st, &p));
	assert_string_equal(p->id, "tie-a");
	apply_ok(st, op_id(RK_OP_POLL_CLOSE, "tie-a"),
		 actor("roomd", RK_ROLE_OWNER, 2, 3000));
	assert_true(rk_state_next_alarm(st, &p));
	assert_string_equal(p->id, "tie-b");
	apply_ok(st, op_id(RK_OP_POLL_CLOSE, "tie-b"),
		 actor("roomd", RK_ROLE_OWNER, 3, 3000));
	assert_true(rk_state_next_alarm(st, &p));
	assert_string_equal(p->id, "late");
	assert_int_equal(p->closes_at, 5000);
	rk_state_free(st);
}

/* ---- determinism -------------------------------------------------------- */

typedef struct gen {
	uint64_t rng;
	int64_t ts;
	int64_t seq; /* last applied seq */
	size_t ok[RK_OP_KIND_COUNT];
	size_t rejected;
} gen;

static uint64_t rnd(gen *g, uint64_t n)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng % n;
}

/* The next op of a pseudo-random session, and its actor. */
static rk_op gen_op(gen *g, rk_actor *a)
{
	static const char *const users[] = {"alice", "bob", "carol", "vic"};
	static const rk_role roles[] = {RK_ROLE_EDITOR, RK_ROLE_EDITOR, RK_ROLE_OWNER,
					RK_ROLE_VIEWER};
	size_t u = rnd(g, 20) == 0 ? 3 : rnd(g, 3);
	g->ts += (int64_t)rnd(g, 500);
	*a = actor(users[u], roles[u], g->seq + 1, g->ts);
	char id[16], text[32];
	uint64_t k = rnd(g, 100);
	if (k < 30) {
		static const size_t np[] = {0, 3, 2, 2, 1};
		rk_shape_type t = (rk_shape_type)(1 + rnd(g, 4));
		snprintf(id, sizeof(id), "s%u", (unsigned)rnd(g, 40));
		snprintf(text, sizeof(text), "txt %u", (unsigned)rnd(g, 1000));
		rk_op op = op_add(id, t, (int)rnd(g, 8), np[t] + (rnd(g, 10) == 0),
				  t == RK_SHAPE_TEXT ? text : NULL);
		for (size_t i = 0; i < op.npoints; i++)
			op.points[i].x = (int64_t)rnd(g, 2000) - 1000;
		return op;
	}
	if (k < 45) {
		unsigned set = (unsigned)(1 + rnd(g, 7));
		snprintf(id, sizeof(id), "s%u", (unsigned)rnd(g, 40));
		snprintf(text, sizeof(text), "upd %u", (unsigned)rnd(g, 1000));
		return op_update(id, set, (int)rnd(g, 8), 1 + rnd(g, 3),
				 (set & RK_SET_TEXT) ? text : NULL);
	}
	if (k < 55) {
		snprintf(id, sizeof(id), "s%u", (unsigned)rnd(g, 40));
		return op_id(RK_OP_SHAPE_DELETE, id);
	}
	if (k < 57)
		return op_id(RK_OP_BOARD_CLEAR, NULL);
	if (k < 65) {
		snprintf(id, sizeof(id), "p%u", (unsigned)rnd(g, 8));
		int64_t at = rnd(g, 2) ? g->ts + (int64_t)rnd(g, 30000) : 0;
		return op_poll(id, "Which?", 2 + rnd(g, 3), at);
	}
	if (k < 85) {
		snprintf(id, sizeof(id), "p%u", (unsigned)rnd(g, 8));
		return op_vote(id, (int)rnd(g, 4));
	}
	if (k < 90) {
		snprintf(id, sizeof(id), "p%u", (unsigned)rnd(g, 8));
		return op_id(RK_OP_POLL_CLOSE, id);
	}
	snprintf(text, sizeof(text), "chat %u", (unsigned)rnd(g, 100000));
	return op_chat(text);
}

static void run(rk_state *st, gen *g, size_t nops)
{
	for (size_t i = 0; i < nops; i++) {
		rk_actor a;
		rk_op op = gen_op(g, &a);
		rk_reject r = rk_state_apply(st, &op, &a, NULL, 0);
		if (r == RK_REJ_NONE) {
			g->seq++;
			g->ok[op.k]++;
			if (op.k == RK_OP_POLL_VOTE) {
				const rk_poll *p =
				    rk_omap_get(&st->polls, op.id, strlen(op.id));
				assert_int_equal(op.ntally, p->noptions);
				assert_memory_equal(op.tally, p->tally,
						    p->noptions * sizeof(int64_t));
			}
		} else {
			g->rejected++;
		}
		rk_op_free(&op);
	}
}

static void test_determinism(void **state)
{
	(void)state;
	const uint64_t seed = 0x2545f4914f6cdd1du;
	gen ga = {.rng = seed, .ts = 1000};
	gen gb = {.rng = seed, .ts = 1000};
	rk_state *a = rk_state_new();
	rk_state *b = rk_state_new();
	run(a, &ga, 1000);
	run(b, &gb, 1000);
	char *sa = snap(a);
	char *sb = snap(b);
	assert_string_equal(sa, sb);
	/* The sequence exercises every kind, and rejects too. */
	for (int k = RK_OP_SHAPE_ADD; k < RK_OP_KIND_COUNT; k++)
		if (ga.ok[k] == 0)
			fail_msg("no %s was applied", rk_op_kind_name((rk_op_kind)k));
	assert_true(ga.rejected > 50);
	assert_true(rk_omap_count(&a->shapes) > 0);
	assert_true(rk_omap_count(&a->polls) > 0);

	/* 1..500, snapshot round trip, 501..1000: the same bytes. */
	gen gc = {.rng = seed, .ts = 1000};
	rk_state *c = rk_state_new();
	run(c, &gc, 500);
	char *mid = snap(c);
	rk_state *d = decode_ok(mid);
	rk_state *e = rk_state_clone(c);
	assert_non_null(e);
	rk_state_free(c);
	gen ge = gc;
	run(d, &gc, 500);
	char *sd = snap(d);
	assert_string_equal(sa, sd);
	/* ... and the same from a clone of the midpoint. */
	run(e, &ge, 500);
	char *se = snap(e);
	assert_string_equal(sa, se);
	assert_string_not_equal(mid, sa);

	free(sa);
	free(sb);
	free(sd);
	free(se);
	free(mid);
	rk_state_free(a);
	rk_state_free(b);
	rk_state_free(d);
	rk_state_free(e);
}

/* ---- snapshots: round trip, clone, corrupt input ----------------------- */

static rk_state *rich_state(void)
{
	rk_state *st = rk_state_new();
	assert_non_null(st);
	rk_actor al = actor("alice", RK_ROLE_EDITOR, 1, 1000);
	rk_actor u8 = actor("zoë ✓", RK_ROLE_EDITOR, 2, 1001);
	rk_op op = op_add("s\"1\\", RK_SHAPE_STROKE, 0, 3, NULL);
	op.points[0] = (rk_point){-RK_INT_MAX, RK_INT_MAX};
	op.points[1] = (rk_point){-1, 0};
	apply_ok(st, op, al);
	apply_ok(st,
		 op_add("ünï", RK_SHAPE_TEXT, 7, 1, "ctl \x01\x1f\t\r\n \"q\" \\ é ✓ 😀"),
		 u8);
	apply_ok(st, op_add("r", RK_SHAPE_RECT, 3, 2, NULL), u8);
	apply_ok(st, op_poll("p/1", "Who \"wins\"?", 4, 99999), al);
	apply_ok(st, op_vote("p/1", 3), u8);
	apply_ok(st, op_vote("p/1", 1), al);
	apply_ok(st, op_poll("p2", "Q", 2, 0), u8);
	apply_ok(st, op_vote("p2", 1), al);
	apply_ok(st, op_id(RK_OP_POLL_CLOSE, "p2"), u8);
	apply_ok(st, op_chat("hello\nworld"), u8);
	apply_ok(st, op_chat("😀"), actor("bob", RK_ROLE_EDITOR, RK_INT_MAX, RK_INT_MAX));
	return st;
}

static void test_roundtrip_identity(void **state)
{
	(void)state;
	rk_state *st = rich_state();
	assert_roundtrip(st);

	/* From a cJSON tree too. */
	char *s = snap(st);
	cJSON *root = cJSON_Parse(s);
	assert_non_null(root);
	rk_state *d = NULL;
	char err[128];
	assert_int_equal(rk_state_decode(root, &d, err, sizeof(err)), RK_OK);
	char *s2 = snap(d);
	assert_string_equal(s, s2);
	cJSON_Delete(root);
	free(s2);
	rk_state_free(d);
	free(s);
	rk_state_free(st);

	/* Input order is kept, not sorted: a hand-written snapshot comes back
	 * byte for byte. */
	const char *text =
	    "{\"shapes\":{\"zz\":{\"id\":\"zz\",\"type\":\"line\",\"color\":1,"
	    "\"points\":[[5,-5],[6,6]],\"by\":\"x\"},\"aa\":{\"id\":\"aa\",\"type\":"
	    "\"stroke\",\"color\":0,\"points\":[[1,1]],\"by\":\"y\"}},\"polls\":{"
	    "\"q\":{\"id\":\"q\",\"question\":\"?\",\"options\":[\"b\",\"a\"],"
	    "\"tally\":[1,1],\"votes\":{\"zed\":1,\"abe\":0},\"closed\":false,"
	    "\"by\":\"y\"},\"a\":{\"id\":\"a\",\"question\":\"?\",\"options\":[\"b\","
	    "\"a\"],\"tally\":[0,0],\"votes\":{},\"closed\":true,\"closes_at\":7,"
	    "\"by\":\"y\"}},\"chat\":[{\"seq\":9,\"ts\":1,\"user\":\"u\",\"text\":\"t\"},"
	    "{\"seq\":3,\"ts\":2,\"user\":\"u\",\"text\":\"t2\"}]}";
	st = decode_ok(text);
	assert_snap(st, text);
	/* The decoded state behaves: shapes, polls and votes are found. */
	rk_actor y = actor("y", RK_ROLE_EDITOR, 10, 3);
	assert_int_equal(apply1(st, op_add("aa", RK_SHAPE_STROKE, 0, 1, NULL), y),
			 RK_REJ_CONFLICT);
	rk_op v = op_vote("q", 0);
	rk_actor zed = actor("zed", RK_ROLE_EDITOR, 10, 3);
	assert_int_equal(rk_state_apply(st, &v, &zed, NULL, 0), RK_REJ_NONE);
	assert_int_equal(v.tally[0], 2);
	assert_int_equal(v.tally[1], 0);
	rk_op_free(&v);
	assert_int_equal(apply1(st, op_vote("a", 0), y), RK_REJ_FORBIDDEN);
	rk_state_free(st);
}

static void test_clone(void **state)
{
	(void)state;
	rk_state *st = rich_state();
	rk_state *c = rk_state_clone(st);
	assert_non_null(c);
	char *a = snap(st);
	char *b = snap(c);
	assert_string_equal(a, b);
	free(b);
	/* The clone is independent: changing it leaves the original alone. */
	rk_actor al = actor("alice", RK_ROLE_EDITOR, 50, 2000);
	apply_ok(c, op_vote("p/1", 0), actor("zoë ✓", RK_ROLE_EDITOR, 50, 2000));
	apply_ok(c, op_update("r", RK_SET_POINTS, 0, 2, NULL), al);
	apply_ok(c, op_id(RK_OP_SHAPE_DELETE, "ünï"), al);
	apply_ok(c, op_chat("more"), al);
	b = snap(c);
	assert_string_not_equal(a, b);
	free(b);
	b = snap(st);
	assert_string_equal(a, b);
	free(b);
	free(a);
	rk_state_free(c);
	/* A clone of a full chat ring keeps order. */
	for (int i = 0; i < 300; i++)
		apply_ok(st, op_chat("x"),
			 actor("bob", RK_ROLE_EDITOR, 100 + i, 3000 + i));
	c = rk_state_clone(st);
	a = snap(st);
	b = snap(c);
	assert_string_equal(a, b);
	assert_int_equal(rk_state_chat_at(c, 0)->seq, 200);
	free(a);
	free(b);
	rk_state_free(c);
	rk_state_free(st);
}

/* clang-format off */
#define SNAP(shapes, polls, chat)                                              \
	"{\"shapes\":{" shapes "},\"polls\":{" polls "},\"chat\":[" chat "]}"
#define SHAPE_OK "\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]],\"by\":\"a\"}"
#define POLL(tally, votes, extra)                                              \
	"\"p\":{\"id\":\"p\",\"question\":\"Q\",\"options\":[\"x\",\"y\"],"     \
	"\"tally\":" tally ",\"votes\":" votes ",\"closed\":false" extra       \
	",\"by\":\"a\"}"
#define POLL_OK POLL("[1,0]", "{\"a\":0}", ",\"closes_at\":5")
#define CHAT_OK "{\"seq\":1,\"ts\":2,\"user\":\"a\",\"text\":\"t\"}"

typedef struct ccase {
	const char *name;
	const char *text;
} ccase;

static const ccase corrupt[] = {
	{"empty text", ""},
	{"truncated", "{\"shapes\":{\"s\":{\"id\":\"s\",\"type\":\"str"},
	{"trailing garbage", SNAP("", "", "") "x"},
	{"not an object", "[]"},
	{"null", "null"},
	{"missing chat", "{\"shapes\":{},\"polls\":{}}"},
	{"missing shapes", "{\"polls\":{},\"chat\":[]}"},
	{"shapes is an array", "{\"shapes\":[],\"polls\":{},\"chat\":[]}"},
	{"chat is an object", "{\"shapes\":{},\"polls\":{},\"chat\":{}}"},
	{"unknown top field", "{\"shapes\":{},\"polls\":{},\"chat\":[],\"x\":1}"},
	{"duplicate top field", "{\"shapes\":{},\"shapes\":{},\"polls\":{},\"chat\":[]}"},
	{"bad UTF-8", SNAP("", "", "{\"seq\":1,\"ts\":2,\"user\":\"a\",\"text\":\"\xc3\"}")},
	{"shape not an object", SNAP("\"s\":3", "", "")},
	{"color 8", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":8,\"points\":[[0,0]],\"by\":\"a\"}", "", "")},
	{"color -1", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":-1,\"points\":[[0,0]],\"by\":\"a\"}", "", "")},
	{"color a string", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":\"1\",\"points\":[[0,0]],\"by\":\"a\"}", "", "")},
	{"color 1.5", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1.5,\"points\":[[0,0]],\"by\":\"a\"}", "", "")},
	{"key != id", SNAP("\"s\":{\"id\":\"t\",\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]],\"by\":\"a\"}", "", "")},
	{"id missing", SNAP("\"s\":{\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]],\"by\":\"a\"}", "", "")},
	{"duplicate shape key", SNAP(SHAPE_OK "," SHAPE_OK, "", "")},
	{"duplicate shape field", SNAP("\"s\":{\"id\":\"s\",\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]],\"by\":\"a\"}", "", "")},
	{"unknown shape field", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]],\"by\":\"a\",\"z\":0}", "", "")},
	{"unknown type", SNAP("\"s\":{\"id\":\"s\",\"type\":\"circle\",\"color\":1,\"points\":[[0,0]],\"by\":\"a\"}", "", "")},
	{"line with 3 points", SNAP("\"s\":{\"id\":\"s\",\"type\":\"line\",\"color\":1,\"points\":[[0,0],[1,1],[2,2]],\"by\":\"a\"}", "", "")},
	{"stroke without points", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"by\":\"a\"}", "", "")},
	{"empty points", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[],\"by\":\"a\"}", "", "")},
	{"point not a pair", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[[1]],\"by\":\"a\"}", "", "")},
	{"point of 3", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[[1,2,3]],\"by\":\"a\"}", "", "")},
	{"point coord a string", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[[\"1\",2]],\"by\":\"a\"}", "", "")},
	{"point coord 2^53", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[[9007199254740992,2]],\"by\":\"a\"}", "", "")},
	{"text on a stroke", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]],\"text\":\"x\",\"by\":\"a\"}", "", "")},
	{"text shape, empty text", SNAP("\"s\":{\"id\":\"s\",\"type\":\"text\",\"color\":1,\"points\":[[0,0]],\"text\":\"\",\"by\":\"a\"}", "", "")},
	{"text shape, no text", SNAP("\"s\":{\"id\":\"s\",\"type\":\"text\",\"color\":1,\"points\":[[0,0]],\"by\":\"a\"}", "", "")},
	{"by missing", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]]}", "", "")},
	{"by empty", SNAP("\"s\":{\"id\":\"s\",\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]],\"by\":\"\"}", "", "")},
	{"tally mismatch", SNAP("", POLL("[0,1]", "{\"a\":0}", ""), "")},
	{"tally without votes", SNAP("", POLL("[1,0]", "{}", ""), "")},
	{"tally too short", SNAP("", POLL("[1]", "{\"a\":0}", ""), "")},
	{"tally too long", SNAP("", POLL("[1,0,0]", "{\"a\":0}", ""), "")},
	{"tally negative", SNAP("", POLL("[-1,1]", "{\"a\":1}", ""), "")},
	{"tally not an array", SNAP("", POLL("1", "{\"a\":0}", ""), "")},
	{"vote out of range", SNAP("", POLL("[1,0]", "{\"a\":2}", ""), "")},
	{"vote a string", SNAP("", POLL("[1,0]", "{\"a\":\"0\"}", ""), "")},
	{"duplicate voter", SNAP("", POLL("[2,0]", "{\"a\":0,\"a\":0}", ""), "")},
	{"votes an array", SNAP("", POLL("[0,0]", "[]", ""), "")},
	{"closes_at 0", SNAP("", POLL("[1,0]", "{\"a\":0}", ",\"closes_at\":0"), "")},
	{"closes_at a string", SNAP("", POLL("[1,0]", "{\"a\":0}", ",\"closes_at\":\"5\""), "")},
	{"closed not a boolean", SNAP("", "\"p\":{\"id\":\"p\",\"question\":\"Q\",\"options\":[\"x\",\"y\"],\"tally\":[0,0],\"votes\":{},\"closed\":0,\"by\":\"a\"}", "")},
	{"one option", SNAP("", "\"p\":{\"id\":\"p\",\"question\":\"Q\",\"options\":[\"x\"],\"tally\":[0],\"votes\":{},\"closed\":false,\"by\":\"a\"}", "")},
	{"eleven options", SNAP("", "\"p\":{\"id\":\"p\",\"question\":\"Q\",\"options\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\"],\"tally\":[0,0,0,0,0,0,0,0,0,0,0],\"votes\":{},\"closed\":false,\"by\":\"a\"}", "")},
	{"empty option", SNAP("", "\"p\":{\"id\":\"p\",\"question\":\"Q\",\"options\":[\"x\",\"\"],\"tally\":[0,0],\"votes\":{},\"closed\":false,\"by\":\"a\"}", "")},
	{"empty question", SNAP("", "\"p\":{\"id\":\"p\",\"question\":\"\",\"options\":[\"x\",\"y\"],\"tally\":[0,0],\"votes\":{},\"closed\":false,\"by\":\"a\"}", "")},
	{"poll key != id", SNAP("", "\"q\":{\"id\":\"p\",\"question\":\"Q\",\"options\":[\"x\",\"y\"],\"tally\":[0,0],\"votes\":{},\"closed\":false,\"by\":\"a\"}", "")},
	{"chat entry not an object", SNAP("", "", "1")},
	{"chat empty text", SNAP("", "", "{\"seq\":1,\"ts\":2,\"user\":\"a\",\"text\":\"\"}")},
	{"chat seq negative", SNAP("", "", "{\"seq\":-1,\"ts\":2,\"user\":\"a\",\"text\":\"t\"}")},
	{"chat ts missing", SNAP("", "", "{\"seq\":1,\"user\":\"a\",\"text\":\"t\"}")},
	{"chat user too long", SNAP("", "", "{\"seq\":1,\"ts\":2,\"user\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"text\":\"t\"}")},
};

/* clang-format on */

static void expect_corrupt(const char *name, const char *text, size_t n)
{
	char err[256] = "";
	rk_state *st = (rk_state *)1;
	rk_err rc = rk_state_decode_text(text, n, &st, err, sizeof(err));
	if (rc != RK_ECORRUPT)
		fail_msg("case \"%s\": got %s, want RK_ECORRUPT", name, rk_strerror(rc));
	assert_null(st);
	if (err[0] == '\0')
		fail_msg("case \"%s\": no error message", name);
}

static void test_decode_corrupt(void **state)
{
	(void)state;
	/* Positive controls: the building blocks are valid on their own. */
	const char *good[] = {
	    SNAP("", "", ""),
	    SNAP(SHAPE_OK, "", ""),
	    SNAP("", POLL_OK, ""),
	    SNAP("", "", CHAT_OK),
	    SNAP(SHAPE_OK, POLL_OK, CHAT_OK "," CHAT_OK),
	};
	for (size_t i = 0; i < RK_ARRAY_LEN(good); i++) {
		rk_state *st = decode_ok(good[i]);
		assert_snap(st, good[i]);
		rk_state_free(st);
	}
	for (size_t i = 0; i < RK_ARRAY_LEN(corrupt); i++)
		expect_corrupt(corrupt[i].name, corrupt[i].text, strlen(corrupt[i].text));

	/* Every strict prefix of a real snapshot is corrupt. */
	rk_state *st = rich_state();
	char *s = snap(st);
	size_t n = strlen(s);
	for (size_t cut = 0; cut < n; cut++)
		expect_corrupt("prefix", s, cut);
	free(s);
	rk_state_free(st);

	/* 200 chat posts decode; 201 do not. */
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_puts(&b, "{\"shapes\":{},\"polls\":{},\"chat\":[");
	for (int i = 0; i < RK_CHAT_KEEP; i++) {
		if (i)
			rk_buf_putc(&b, ',');
		rk_buf_puts(&b, CHAT_OK);
	}
	rk_buf_puts(&b, "]}");
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	st = decode_ok(b.data);
	assert_int_equal(st->chat_len, RK_CHAT_KEEP);
	rk_state_free(st);
	b.len -= 2;
	rk_buf_puts(&b, "," CHAT_OK "]}");
	expect_corrupt("201 chat posts", b.data, b.len);
	rk_buf_free(&b);

	/* The tree entry point refuses non-objects too. */
	cJSON *arr = cJSON_CreateArray();
	char err[64];
	rk_state *out = NULL;
	assert_int_equal(rk_state_decode(arr, &out, err, sizeof(err)), RK_ECORRUPT);
	assert_null(out);
	cJSON_Delete(arr);
}

/* Revision 2: a chat post keeps its op id through apply, encode, decode and
 * clone; a snapshot written before revision 2 (no ids) still decodes, and
 * encodes back byte for byte; the legacy encoding drops the ids. */
static void test_chat_post_keeps_op_id(void **state)
{
	(void)state;
	rk_state *st = rk_state_new();
	assert_non_null(st);
	rk_actor a = actor("alice", RK_ROLE_EDITOR, 7, 1700000000007);
	a.id = "c7:41";
	apply_ok(st, op_chat("hi"), a);
	assert_string_equal(rk_state_chat_at(st, 0)->id, "c7:41");
	char *s1 = snap(st);
	assert_non_null(strstr(s1, "{\"seq\":7,\"ts\":1700000000007,\"user\":\"alice\","
				   "\"id\":\"c7:41\",\"text\":\"hi\"}"));
	rk_state *c = rk_state_clone(st);
	assert_non_null(c);
	assert_string_equal(rk_state_chat_at(c, 0)->id, "c7:41");
	char *s2 = snap(c);
	assert_string_equal(s1, s2);
	rk_state *d;
	char err[160];
	assert_int_equal(rk_state_decode_text(s1, strlen(s1), &d, err, sizeof(err)),
			 RK_OK);
	assert_string_equal(rk_state_chat_at(d, 0)->id, "c7:41");
	/* Legacy: no id in, none out; the legacy encoding of st is that. */
	const char *old = "{\"shapes\":{},\"polls\":{},\"chat\":[{\"seq\":7,"
			  "\"ts\":1700000000007,\"user\":\"alice\",\"text\":\"hi\"}]}";
	rk_state *o;
	assert_int_equal(rk_state_decode_text(old, strlen(old), &o, err, sizeof(err)),
			 RK_OK);
	assert_string_equal(rk_state_chat_at(o, 0)->id, "");
	char *s3 = snap(o);
	assert_string_equal(s3, old);
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_state_encode_legacy(st, &b);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	assert_int_equal(b.len, strlen(old));
	assert_memory_equal(b.data, old, b.len);
	rk_buf_free(&b);
	/* An id over 64 bytes, empty, or not a string is corrupt; an actor id
	 * over 64 bytes is invalid and changes nothing. */
	const char *bad[] = {
	    "{\"shapes\":{},\"polls\":{},\"chat\":[{\"seq\":1,\"ts\":1,\"user\":\"a\","
	    "\"id\":\"\",\"text\":\"x\"}]}",
	    "{\"shapes\":{},\"polls\":{},\"chat\":[{\"seq\":1,\"ts\":1,\"user\":\"a\","
	    "\"id\":5,\"text\":\"x\"}]}",
	    "{\"shapes\":{},\"polls\":{},\"chat\":[{\"seq\":1,\"ts\":1,\"user\":\"a\","
	    "\"id\":"
	    "\"0123456789012345678901234567890123456789012345678901234567890123456789\","
	    "\"text\":\"x\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rk_state *x = NULL;
		assert_int_equal(
		    rk_state_decode_text(bad[i], strlen(bad[i]), &x, err, sizeof(err)),
		    RK_ECORRUPT);
		assert_null(x);
	}
	a.seq = 8;
	a.id = "0123456789012345678901234567890123456789012345678901234567890123456789";
	assert_int_equal(apply1(st, op_chat("long id"), a), RK_REJ_INVALID);
	char *s4 = snap(st);
	assert_string_equal(s1, s4);
	free(s1);
	free(s2);
	free(s3);
	free(s4);
	rk_state_free(st);
	rk_state_free(c);
	rk_state_free(d);
	rk_state_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reject_table),
	    cmocka_unit_test(test_apply_never_crashes_on_odd_input),
	    cmocka_unit_test(test_shapes),
	    cmocka_unit_test(test_polls),
	    cmocka_unit_test(test_chat_ring),
	    cmocka_unit_test(test_next_alarm),
	    cmocka_unit_test(test_determinism),
	    cmocka_unit_test(test_roundtrip_identity),
	    cmocka_unit_test(test_clone),
	    cmocka_unit_test(test_decode_corrupt),
	    cmocka_unit_test(test_chat_post_keeps_op_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
