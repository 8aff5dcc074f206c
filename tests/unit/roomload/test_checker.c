/* test_checker.c - roomload's ordering checker flags each kind of fault
 * (gap, duplicate, reorder, two ops at one seq, ack seq != event seq, an
 * unknown op, connections ending at different seqs, a reconnect behind a
 * seq already seen) exactly where it is, a clean stream gives zero
 * violations, a room's seq -> op memory outlives a reconnect, --reconnect
 * resends exactly the unanswered ops still in the ring, and two checkers
 * merge into one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "checker.h" /* compiled in: RK_UNIT_SRC_ in tests/CMakeLists.txt */

/* ---- per-connection seq streams, as a table ---------------------------- */

typedef struct stream_case {
	const char *name;
	int64_t welcome; /* -1: no welcome */
	int64_t seqs[8]; /* 0-terminated */
	uint64_t want[CHK_KIND_COUNT];
} stream_case;

static const stream_case stream_cases[] = {
    {"clean", 5, {6, 7, 8, 9}, {0}},
    {"clean from zero", 0, {1, 2, 3}, {0}},
    {"gap", 5, {6, 8, 9}, {[CHK_GAP] = 1}},
    {"duplicate", 5, {6, 6, 7}, {[CHK_DUP] = 1}},
    {"old seq again", 5, {6, 7, 8, 6}, {[CHK_DUP] = 1}},
    {"reorder", 5, {7, 6, 8}, {[CHK_GAP] = 1, [CHK_REORDER] = 1}},
    {"seq before welcome", -1, {3}, {[CHK_REORDER] = 1}},
    {"welcome seq repeated", 5, {5, 6}, {[CHK_DUP] = 1}},
};

static void test_streams(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(stream_cases) / sizeof(stream_cases[0]); i++) {
		const stream_case *tc = &stream_cases[i];
		checker c;
		chk_stream s;
		chk_init(&c);
		chk_stream_init(&s);
		if (tc->welcome >= 0)
			chk_stream_welcome(&c, &s, 1, tc->welcome);
		for (int j = 0; tc->seqs[j]; j++)
			chk_stream_seq(&c, &s, 1, tc->seqs[j]);
		uint64_t total = 0;
		for (int k = 0; k < CHK_KIND_COUNT; k++) {
			if (c.counts[k] != tc->want[k])
				fail_msg("%s: %s count %llu, want %llu", tc->name,
					 chk_kind_name((chk_kind)k),
					 (unsigned long long)c.counts[k],
					 (unsigned long long)tc->want[k]);
			total += tc->want[k];
		}
		assert_int_equal(c.total, total);
		assert_int_equal(c.nfirst, total < CHK_FIRST_MAX ? total : CHK_FIRST_MAX);
	}
}

/* A dup ack repeats the seq of its op's earlier commit, which the
 * connection has seen: no violation, and the stream goes on from where it
 * was. One ahead of the stream is a reorder. */
static void test_dup_ack(void **state)
{
	(void)state;
	checker c;
	chk_init(&c);
	chk_stream s;
	chk_stream_init(&s);
	chk_stream_welcome(&c, &s, 1, 5);
	chk_stream_seq(&c, &s, 1, 6);
	chk_stream_seq(&c, &s, 1, 7);
	chk_stream_dup_ack(&c, &s, 1, 7); /* the event, then the dup ack */
	chk_stream_dup_ack(&c, &s, 1, 6);
	chk_stream_seq(&c, &s, 1, 8);
	assert_int_equal(c.total, 0);
	chk_stream_dup_ack(&c, &s, 1, 9);
	assert_int_equal(c.total, 1);
	assert_int_equal(c.counts[CHK_REORDER], 1);
	chk_stream_seq(&c, &s, 1, 9); /* the stream did not move */
	assert_int_equal(c.total, 1);
}

static void test_detail_kept(void **state)
{
	(void)state;
	checker c;
	chk_stream s;
	chk_init(&c);
	chk_stream_init(&s);
	chk_stream_welcome(&c, &s, 42, 10);
	chk_stream_seq(&c, &s, 42, 13);
	assert_int_equal(c.nfirst, 1);
	assert_non_null(strstr(c.first[0], "gap"));
	assert_non_null(strstr(c.first[0], "conn 42"));
	assert_non_null(strstr(c.first[0], "11..12"));
	/* Only the first CHK_FIRST_MAX keep their detail; all are counted. */
	for (int i = 0; i < 20; i++)
		chk_stream_seq(&c, &s, 42, 13);
	assert_int_equal(c.nfirst, CHK_FIRST_MAX);
	assert_int_equal(c.total, 21);
}

/* ---- ops and rooms ------------------------------------------------------ */

typedef struct fixture {
	checker c;
	chk_room room;
	chk_ops a, b; /* two senders, clients 0 and 1 */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (!f || !chk_room_init(&f->room, 64) || !chk_ops_init(&f->a, 16) ||
	    !chk_ops_init(&f->b, 16))
		return -1;
	chk_init(&f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	chk_room_free(&f->room);
	chk_ops_free(&f->a);
	chk_ops_free(&f->b);
	free(f);
	return 0;
}

static void test_clean_ops(void **state)
{
	fixture *f = *state;
	chk_op_sent(&f->a, 1, 1000, false);
	chk_op_sent(&f->b, 1, 2000, false);
	/* a's op: ack first, then two receivers. */
	chk_oprec *r = chk_ack(&f->c, &f->room, &f->a, 0, 1, 10);
	assert_non_null(r);
	assert_int_equal(r->sent_ns, 1000);
	assert_non_null(chk_event(&f->c, &f->room, &f->a, 0, 1, 10));
	assert_non_null(chk_event(&f->c, &f->room, &f->a, 0, 1, 10));
	/* b's op: events before the ack (allowed: different connections). */
	r = chk_event(&f->c, &f->room, &f->b, 1, 1, 11);
	assert_non_null(r);
	assert_int_equal(r->sent_ns, 2000);
	assert_non_null(chk_ack(&f->c, &f->room, &f->b, 1, 1, 11));
	assert_int_equal(f->c.total, 0);
	assert_int_equal(f->c.unchecked, 0);
}

static void test_ack_event_mismatch(void **state)
{
	fixture *f = *state;
	chk_op_sent(&f->a, 1, 0, false);
	chk_ack(&f->c, &f->room, &f->a, 0, 1, 10);
	chk_event(&f->c, &f->room, &f->a, 0, 1, 11);
	assert_int_equal(f->c.counts[CHK_ACK_EVENT], 1);
	assert_int_equal(f->c.total, 1);
}

static void test_event_then_wrong_ack(void **state)
{
	fixture *f = *state;
	chk_op_sent(&f->a, 1, 0, false);
	chk_event(&f->c, &f->room, &f->a, 0, 1, 10);
	chk_ack(&f->c, &f->room, &f->a, 0, 1, 12);
	assert_int_equal(f->c.counts[CHK_ACK_EVENT], 1);
	assert_int_equal(f->c.total, 1);
}

static void test_two_events_disagree(void **state)
{
	fixture *f = *state;
	chk_op_sent(&f->a, 1, 0, false);
	chk_event(&f->c, &f->room, &f->a, 0, 1, 10);
	chk_event(&f->c, &f->room, &f->a, 0, 1, 11);
	assert_int_equal(f->c.counts[CHK_ACK_EVENT], 1);
}

static void test_two_ops_one_seq(void **state)
{
	fixture *f = *state;
	chk_op_sent(&f->a, 1, 0, false);
	chk_op_sent(&f->b, 1, 0, false);
	chk_ack(&f->c, &f->room, &f->a, 0, 1, 10);
	chk_event(&f->c, &f->room, &f->b, 1, 1, 10);
	assert_int_equal(f->c.counts[CHK_SEQ_OP], 1);
	assert_int_equal(f->c.total, 1);
}

static void test_unknown_and_double_ack(void **state)
{
	fixture *f = *state;
	chk_op_sent(&f->a, 1, 0, false);
	assert_null(chk_ack(&f->c, &f->room, &f->a, 0, 5, 10)); /* never sent */
	assert_int_equal(f->c.counts[CHK_UNKNOWN_OP], 1);
	chk_ack(&f->c, &f->room, &f->a, 0, 1, 11);
	chk_ack(&f->c, &f->room, &f->a, 0, 1, 11);
	assert_int_equal(f->c.counts[CHK_DUP], 1);
	assert_int_equal(f->c.total, 2);
}

static void test_ring_window_is_not_a_violation(void **state)
{
	fixture *f = *state;
	for (uint32_t l = 1; l <= 40; l++) /* ring of 16: lseq 1..24 fall out */
		chk_op_sent(&f->a, l, l, false);
	assert_null(chk_op_find(&f->a, 3));
	assert_non_null(chk_op_find(&f->a, 40));
	assert_null(chk_ack(&f->c, &f->room, &f->a, 0, 3, 10));
	assert_int_equal(f->c.total, 0);
	assert_int_equal(f->c.unchecked, 1);
}

static void test_final_agreement(void **state)
{
	(void)state;
	checker c;
	chk_init(&c);
	const int64_t same[] = {7, 7, 7};
	chk_final(&c, 0, same, 3);
	chk_final(&c, 1, same, 0);
	assert_int_equal(c.total, 0);
	const int64_t differ[] = {7, 7, 8};
	chk_final(&c, 2, differ, 3);
	assert_int_equal(c.counts[CHK_DIVERGED], 1);
	assert_non_null(strstr(c.first[0], "room 2"));
}

/* Two processes' checkers (--procs) merge into the counts and the first
 * details one checker would have had; details beyond CHK_FIRST_MAX are
 * counted, not kept. */
static void test_merge(void **state)
{
	(void)state;
	checker a, b, one;
	chk_init(&a);
	chk_init(&b);
	chk_init(&one);
	for (uint32_t i = 0; i < 6; i++) {
		chk_stream s;
		chk_stream_init(&s);
		checker *half = i < 3 ? &a : &b;
		for (int k = 0; k < 2; k++) {
			checker *c = k ? &one : half;
			chk_stream_init(&s);
			chk_stream_welcome(c, &s, i, 1);
			chk_stream_seq(c, &s, i, 3); /* a gap */
			chk_stream_seq(c, &s, i, 3); /* a duplicate */
		}
	}
	b.unchecked = 4;
	one.unchecked = 4;
	chk_merge(&a, &b);
	assert_int_equal(a.total, one.total);
	assert_int_equal(a.unchecked, 4);
	assert_memory_equal(a.counts, one.counts, sizeof(a.counts));
	assert_int_equal(a.nfirst, CHK_FIRST_MAX);
	for (int i = 0; i < CHK_FIRST_MAX; i++)
		assert_string_equal(a.first[i], one.first[i]);
	checker empty;
	chk_init(&empty);
	chk_merge(&a, &empty); /* merging nothing changes nothing */
	assert_int_equal(a.total, one.total);
}

/* ---- reconnects (--reconnect, churn) ---------------------------------- */

typedef struct rewelcome_case {
	const char *name;
	int64_t last;	 /* the stream's last seq before the drop; -1: none */
	int64_t welcome; /* the reconnect's welcome seq */
	bool resumed;
	int64_t seqs[8]; /* then, 0-terminated */
	uint64_t want[CHK_KIND_COUNT];
} rewelcome_case;

static const rewelcome_case rewelcome_cases[] = {
    {"resumed, replay then live", 10, 12, true, {11, 12, 13}, {0}},
    {"resumed, nothing missed", 10, 10, true, {11}, {0}},
    {"full state ahead", 10, 15, false, {16, 17}, {0}},
    {"full state at the same seq", 10, 10, false, {11}, {0}},
    {"full state behind: ops lost", 10, 8, false, {9}, {[CHK_REWOUND] = 1}},
    {"resumed but behind", 10, 8, true, {0}, {[CHK_REWOUND] = 1}},
    {"resumed, replay with a hole", 10, 13, true, {11, 13}, {[CHK_GAP] = 1}},
    {"resumed, replay repeats a seq", 10, 12, true, {10, 11, 12}, {[CHK_DUP] = 1}},
    {"no stream yet", -1, 4, false, {5}, {0}},
};

static void test_rewelcome(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rewelcome_cases) / sizeof(rewelcome_cases[0]);
	     i++) {
		const rewelcome_case *tc = &rewelcome_cases[i];
		checker c;
		chk_stream s;
		chk_init(&c);
		chk_stream_init(&s);
		if (tc->last >= 0)
			chk_stream_welcome(&c, &s, 3, tc->last);
		chk_stream_rewelcome(&c, &s, 3, tc->welcome, tc->resumed);
		for (int j = 0; tc->seqs[j]; j++)
			chk_stream_seq(&c, &s, 3, tc->seqs[j]);
		for (int k = 0; k < CHK_KIND_COUNT; k++)
			if (c.counts[k] != tc->want[k])
				fail_msg("%s: %s count %llu, want %llu", tc->name,
					 chk_kind_name((chk_kind)k),
					 (unsigned long long)c.counts[k],
					 (unsigned long long)tc->want[k]);
	}
}

/* A node that lost acked ops and reuses their seqs: the client that saw
 * them reconnects behind them (rewound), and the room's seq -> op memory,
 * which is the room's and not the connection's, flags the other op now at
 * an acked seq. */
static void test_lost_op_seen_across_reconnect(void **state)
{
	fixture *f = *state;
	chk_stream s;
	chk_stream_init(&s);
	chk_stream_welcome(&f->c, &s, 0, 0);
	for (uint32_t l = 1; l <= 3; l++) {
		chk_op_sent(&f->a, l, 0, false);
		chk_stream_seq(&f->c, &s, 0, l);
		chk_ack(&f->c, &f->room, &f->a, 0, l, l);
	}
	assert_int_equal(f->c.total, 0);
	/* The node comes back with seq 1 only, full state. */
	chk_stream_rewelcome(&f->c, &s, 0, 1, false);
	assert_int_equal(f->c.counts[CHK_REWOUND], 1);
	/* b's new op is committed at seq 2, a's acked op's seq. */
	chk_op_sent(&f->b, 1, 0, false);
	chk_stream_seq(&f->c, &s, 0, 2);
	chk_event(&f->c, &f->room, &f->b, 1, 1, 2);
	assert_int_equal(f->c.counts[CHK_SEQ_OP], 1);
	assert_int_equal(f->c.total, 2);
	assert_non_null(strstr(f->c.first[0], "reconnected at seq 1 after seeing 3"));
}

static void test_committed_seq_and_resends(void **state)
{
	fixture *f = *state;
	for (uint32_t l = 1; l <= 5; l++)
		chk_op_sent(&f->a, l, 0, false);
	assert_int_equal(chk_ops_next_open(&f->a, 1, 5), 1);
	chk_ack(&f->c, &f->room, &f->a, 0, 1, 7);   /* acked */
	chk_ack(&f->c, &f->room, &f->a, 0, 2, 8);   /* acked */
	chk_op_find(&f->a, 3)->done = true;	    /* rejected */
	chk_event(&f->c, &f->room, &f->a, 0, 4, 9); /* others saw it */
	assert_int_equal(chk_op_seq(chk_op_find(&f->a, 1)), 7);
	assert_int_equal(chk_op_seq(chk_op_find(&f->a, 3)), 0);
	assert_int_equal(chk_op_seq(chk_op_find(&f->a, 4)), 9);
	assert_int_equal(chk_op_seq(chk_op_find(&f->a, 5)), 0);
	/* 4 was committed but its sender has no answer yet: resent (a dup
	 * ack will settle it), as is 5; 1..3 are answered. */
	assert_int_equal(chk_ops_next_open(&f->a, 1, 5), 4);
	assert_int_equal(chk_ops_next_open(&f->a, 5, 5), 5);
	assert_int_equal(chk_ops_next_open(&f->a, 6, 5), 0);
	assert_int_equal(chk_ops_next_open(&f->a, 0, 0), 0);
	/* The ack of the resend (dup, same seq) is no violation. */
	chk_ack(&f->c, &f->room, &f->a, 0, 4, 9);
	assert_int_equal(chk_op_seq(chk_op_find(&f->a, 4)), 9);
	assert_int_equal(f->c.total, 0);
	/* Ops that fell out of the ring (16 slots) are not resendable. */
	for (uint32_t l = 6; l <= 40; l++)
		chk_op_sent(&f->a, l, 0, false);
	assert_int_equal(chk_ops_next_open(&f->a, 1, 40), 25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_streams),
	    cmocka_unit_test(test_dup_ack),
	    cmocka_unit_test(test_detail_kept),
	    cmocka_unit_test_setup_teardown(test_clean_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ack_event_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_then_wrong_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_events_disagree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_ops_one_seq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_and_double_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_window_is_not_a_violation, setup,
					    teardown),
	    cmocka_unit_test(test_final_agreement),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_rewelcome),
	    cmocka_unit_test_setup_teardown(test_lost_op_seen_across_reconnect, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_committed_seq_and_resends, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
