/* test_opids.c - roomd's memory of committed op ids answers exactly like a
 * brute-force list of every op, under the window rule of opids.h (at least
 * the last 10,000 ops and the last 24 h), through growth, eviction with
 * backward shifting and the renumbering of insertion numbers; the same id
 * from another user is another op. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "opids.h" /* compiled in: RK_UNIT_SRC_ in tests/CMakeLists.txt */

static uint64_t rng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

typedef struct model_op {
	char user[8], id[24];
	int64_t seq, ts;
} model_op;

/* Must the window still hold op m, the newest being (seq, ts)? */
static bool in_window(const model_op *m, int64_t seq, int64_t ts)
{
	return m->seq > seq - OPIDS_KEEP_OPS || m->ts >= ts - OPIDS_KEEP_MS;
}

static void test_same_id_other_user(void **state)
{
	(void)state;
	opids *o = opids_new();
	assert_non_null(o);
	assert_int_equal(opids_find(o, "alice", "c1:1"), 0);
	assert_int_equal(opids_add(o, "alice", "c1:1", 5, 1000), RK_OK);
	assert_int_equal(opids_find(o, "alice", "c1:1"), 5);
	assert_int_equal(opids_find(o, "bob", "c1:1"), 0);
	assert_int_equal(opids_find(o, "alice", "c1:2"), 0);
	/* The separator: ("ab","c") and ("a","bc") are different keys. */
	assert_int_equal(opids_add(o, "ab", "c", 6, 1000), RK_OK);
	assert_int_equal(opids_find(o, "a", "bc"), 0);
	assert_int_equal(opids_find(o, "ab", "c"), 6);
	assert_int_equal(opids_count(o), 2);
	opids_free(o);
	opids_free(NULL);
}

/* 40,000 ops, 1 s apart, from 30 users reusing a small id space: every
 * remembered op is found with its seq, every op inside the window is
 * remembered, nothing is found that was never added. */
static void test_random_against_model(void **state)
{
	(void)state;
	enum { N = 40000 };
	model_op *ops = calloc(N, sizeof(*ops));
	assert_non_null(ops);
	opids *o = opids_new();
	assert_non_null(o);
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	int64_t ts = 1700000000000;
	size_t n = 0;
	for (int64_t seq = 1; seq <= N; seq++) {
		ts += (int64_t)(rng(&s) % 10000); /* ~5 s per op: 24 h ~ 17,000 ops */
		model_op *m = &ops[n];
		snprintf(m->user, sizeof(m->user), "u%d", (int)(rng(&s) % 30));
		snprintf(m->id, sizeof(m->id), "c%d:%d", (int)(rng(&s) % 7), (int)seq);
		m->seq = seq;
		m->ts = ts;
		assert_int_equal(opids_find(o, m->user, m->id), 0);
		assert_int_equal(opids_add(o, m->user, m->id, seq, ts), RK_OK);
		n++;
		if (seq % 997 == 0 || seq == N) {
			for (size_t i = 0; i < n; i++) {
				int64_t got = opids_find(o, ops[i].user, ops[i].id);
				if (in_window(&ops[i], seq, ts))
					assert_int_equal(got, ops[i].seq);
				else
					assert_true(got == 0 || got == ops[i].seq);
			}
			char other[24];
			snprintf(other, sizeof(other), "never:%lld", (long long)seq);
			assert_int_equal(opids_find(o, "u1", other), 0);
		}
	}
	assert_true(opids_count(o) > OPIDS_KEEP_OPS &&
		    opids_count(o) < N); /* both rules acted */
	opids_free(o);
	free(ops);
}

/* With ts far apart only the count rule holds: exactly the last 10,000 ops
 * stay, and memory stops growing. */
static void test_count_window_bounds_memory(void **state)
{
	(void)state;
	opids *o = opids_new();
	assert_non_null(o);
	char id[32];
	size_t bytes_at_30k = 0;
	for (int64_t seq = 1; seq <= 60000; seq++) {
		snprintf(id, sizeof(id), "x:%lld", (long long)seq);
		assert_int_equal(opids_add(o, "alice", id, seq, seq * OPIDS_KEEP_MS),
				 RK_OK);
		if (seq == 30000)
			bytes_at_30k = opids_bytes(o);
	}
	assert_int_equal(opids_count(o), OPIDS_KEEP_OPS);
	assert_int_equal(opids_bytes(o), bytes_at_30k);
	assert_true(opids_bytes(o) < 1024 * 1024);
	snprintf(id, sizeof(id), "x:%d", 60000 - OPIDS_KEEP_OPS);
	assert_int_equal(opids_find(o, "alice", id), 0);
	snprintf(id, sizeof(id), "x:%d", 60000 - OPIDS_KEEP_OPS + 1);
	assert_int_equal(opids_find(o, "alice", id), 60000 - OPIDS_KEEP_OPS + 1);
	opids_free(o);
}

/* With every op in the same millisecond the 24 h rule keeps them all. */
static void test_time_window_keeps_more(void **state)
{
	(void)state;
	opids *o = opids_new();
	assert_non_null(o);
	char id[32];
	for (int64_t seq = 1; seq <= 25000; seq++) {
		snprintf(id, sizeof(id), "y:%lld", (long long)seq);
		assert_int_equal(opids_add(o, "bob", id, seq, 1000), RK_OK);
	}
	assert_int_equal(opids_count(o), 25000);
	assert_int_equal(opids_find(o, "bob", "y:1"), 1);
	/* A day later the old ones go as new ones come. */
	assert_int_equal(opids_add(o, "bob", "late", 25001, 1000 + OPIDS_KEEP_MS + 1),
			 RK_OK);
	assert_int_equal(opids_count(o), OPIDS_KEEP_OPS);
	assert_int_equal(opids_find(o, "bob", "y:1"), 0);
	assert_int_equal(opids_find(o, "bob", "late"), 25001);
	opids_free(o);
}

/* Insertion numbers wrap at 2^32: started just below, entries stay
 * findable through the renumbering. */
static void test_insertion_number_wrap(void **state)
{
	(void)state;
	opids *o = opids_new();
	assert_non_null(o);
	o->head_abs = UINT32_MAX - 40;
	char id[32];
	for (int64_t seq = 1; seq <= 200; seq++) {
		snprintf(id, sizeof(id), "w:%lld", (long long)seq);
		assert_int_equal(opids_add(o, "carol", id, seq, 5), RK_OK);
		for (int64_t k = 1; k <= seq; k++) {
			snprintf(id, sizeof(id), "w:%lld", (long long)k);
			assert_int_equal(opids_find(o, "carol", id), k);
		}
	}
	opids_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_id_other_user),
	    cmocka_unit_test(test_random_against_model),
	    cmocka_unit_test(test_count_window_bounds_memory),
	    cmocka_unit_test(test_time_window_keeps_more),
	    cmocka_unit_test(test_insertion_number_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
