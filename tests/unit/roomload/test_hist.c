/* test_hist.c - roomload's latency histogram reports percentiles within its
 * stated relative error (1/256 of the value) for constant, uniform and
 * exponential distributions, has contiguous buckets over the whole range,
 * keeps min/max exact, clamps overflow, and merges losslessly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include "hist.h" /* compiled in: RK_UNIT_SRC_ in tests/CMakeLists.txt */

#define REL_BOUND (1.0 / 256.0)

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / 9007199254740992.0; /* [0, 1) */
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Exact percentile by the histogram's rule: the value at rank ceil(q% n). */
static int64_t exact_pct(const int64_t *sorted, size_t n, double q)
{
	size_t rank = (size_t)ceil(q / 100.0 * (double)n);
	if (rank == 0)
		rank = 1;
	return sorted[rank - 1];
}

static void check_against_exact(int64_t *v, size_t n)
{
	rk_hist *h = malloc(sizeof(*h));
	assert_non_null(h);
	rk_hist_init(h);
	for (size_t i = 0; i < n; i++)
		rk_hist_record(h, v[i]);
	qsort(v, n, sizeof(*v), cmp_i64);
	assert_int_equal(h->n, n);
	assert_int_equal(h->min, v[0]);
	assert_int_equal(h->max, v[n - 1]);
	static const double qs[] = {1, 10, 25, 50, 75, 90, 99, 99.9, 99.99};
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		int64_t want = exact_pct(v, n, qs[i]);
		int64_t got = rk_hist_pct(h, qs[i]);
		double err = fabs((double)(got - want));
		/* Exact below 128; within 1/256 of the value above. */
		if (want < RK_HIST_SUB)
			assert_int_equal(got, want);
		else if (err > REL_BOUND * (double)want)
			fail_msg("p%g: got %lld, want %lld (error %.4f%%)", qs[i],
				 (long long)got, (long long)want,
				 100 * err / (double)want);
	}
	assert_int_equal(rk_hist_pct(h, 100), v[n - 1]);
	free(h);
}

static void test_constant(void **state)
{
	(void)state;
	rk_hist h;
	rk_hist_init(&h);
	for (int i = 0; i < 1000; i++)
		rk_hist_record(&h, 12345);
	/* min == max == the value, so every percentile is exact. */
	assert_int_equal(rk_hist_pct(&h, 0), 12345);
	assert_int_equal(rk_hist_pct(&h, 50), 12345);
	assert_int_equal(rk_hist_pct(&h, 99.9), 12345);
	assert_int_equal(h.max, 12345);
	assert_true(fabs(rk_hist_mean(&h) - 12345) < 1e-6);
}

static void test_uniform(void **state)
{
	(void)state;
	size_t n = 200000;
	int64_t *v = malloc(n * sizeof(*v));
	assert_non_null(v);
	uint64_t s = 42;
	for (size_t i = 0; i < n; i++)
		v[i] = 1 + (int64_t)(rng_unit(&s) * 1e6); /* 1 us .. 1 s */
	check_against_exact(v, n);
	free(v);
}

static void test_exponential(void **state)
{
	(void)state;
	size_t n = 200000;
	int64_t *v = malloc(n * sizeof(*v));
	assert_non_null(v);
	uint64_t s = 7;
	for (size_t i = 0; i < n; i++)
		v[i] = (int64_t)(-log(1.0 - rng_unit(&s)) * 2000.0); /* mean 2 ms */
	check_against_exact(v, n);
	free(v);
}

static void test_small_values_exact(void **state)
{
	(void)state;
	size_t n = 1000;
	int64_t v[1000];
	for (size_t i = 0; i < n; i++)
		v[i] = (int64_t)(i % 100);
	check_against_exact(v, n);
}

static void test_buckets_contiguous(void **state)
{
	(void)state;
	int64_t prev_hi = -1;
	int top = rk_hist_index(RK_HIST_MAX_US); /* values are clamped to it */
	assert_true(top < RK_HIST_BUCKETS);
	for (int i = 0; i <= top; i++) {
		int64_t lo, hi;
		rk_hist_bucket_range(i, &lo, &hi);
		assert_int_equal(lo, prev_hi + 1);
		assert_true(hi >= lo);
		assert_int_equal(rk_hist_index(lo), i);
		assert_int_equal(rk_hist_index(hi), i);
		/* The bound the header promises: midpoint within 1/256. */
		assert_true((double)(hi - lo) / 2.0 <= REL_BOUND * (double)lo + 0.5);
		prev_hi = hi;
	}
	assert_true(prev_hi >= RK_HIST_MAX_US);
	assert_int_equal(rk_hist_index(-5), 0);
	assert_int_equal(rk_hist_index(INT64_MAX), rk_hist_index(RK_HIST_MAX_US));
}

static void test_overflow_and_empty(void **state)
{
	(void)state;
	rk_hist h;
	rk_hist_init(&h);
	assert_int_equal(rk_hist_pct(&h, 50), 0);
	assert_true(rk_hist_mean(&h) == 0.0);
	rk_hist_record(&h, 120000000); /* 2 minutes: past the range */
	rk_hist_record(&h, 10);
	assert_int_equal(h.overflow, 1);
	assert_int_equal(h.max, 120000000);
	assert_int_equal(rk_hist_pct(&h, 100), 120000000);
	assert_int_equal(rk_hist_pct(&h, 50), 10);
	int64_t top = rk_hist_pct(&h, 99);
	assert_true(top <= 120000000 && top >= RK_HIST_MAX_US * 99 / 100);
	rk_hist_record(&h, -3); /* negatives count as 0 */
	assert_int_equal(h.min, 0);
}

static void test_merge(void **state)
{
	(void)state;
	rk_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)),
		*all = malloc(sizeof(*all));
	assert_true(a && b && all);
	rk_hist_init(a);
	rk_hist_init(b);
	rk_hist_init(all);
	uint64_t s = 99;
	for (int i = 0; i < 50000; i++) {
		int64_t v = (int64_t)(rng_unit(&s) * 5e6);
		rk_hist_record(i % 3 ? a : b, v);
		rk_hist_record(all, v);
	}
	rk_hist empty;
	rk_hist_init(&empty);
	rk_hist_merge(a, &empty); /* merging nothing changes nothing */
	rk_hist_merge(a, b);
	assert_int_equal(a->n, all->n);
	assert_int_equal(a->min, all->min);
	assert_int_equal(a->max, all->max);
	assert_memory_equal(a->counts, all->counts, sizeof(all->counts));
	assert_int_equal(rk_hist_pct(a, 99), rk_hist_pct(all, 99));
	/* Merging into an empty histogram copies. */
	rk_hist_merge(&empty, b);
	assert_int_equal(empty.n, b->n);
	assert_int_equal(empty.min, b->min);
	assert_int_equal(empty.max, b->max);
	free(a);
	free(b);
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_constant),
	    cmocka_unit_test(test_uniform),
	    cmocka_unit_test(test_exponential),
	    cmocka_unit_test(test_small_values_exact),
	    cmocka_unit_test(test_buckets_contiguous),
	    cmocka_unit_test(test_overflow_and_empty),
	    cmocka_unit_test(test_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
