/* test_tui_backoff.c - roomtui's reconnect delays grow exponentially from
 * 250 ms, stay within the jitter window [d/2, d], never pass the 8 s cap,
 * actually vary (jitter), and start from the base again after a reset (a
 * connection that went live). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "backoff.h" /* compiled in: RK_UNIT_SRC_ in tests/CMakeLists.txt */

static void test_window_per_attempt(void **state)
{
	/* attempt -> the undithered delay d: the result is in [d/2, d]. */
	static const struct {
		unsigned attempt;
		int64_t d;
	} cases[] = {{0, 250},	{1, 500},  {2, 1000},  {3, 2000},   {4, 4000},
		     {5, 8000}, {6, 8000}, {40, 8000}, {1000, 8000}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t d = cases[i].d;
		/* r = 0 gives the low end, r = d/2 the high end. */
		assert_int_equal(tb_delay_ms(cases[i].attempt, 0), d / 2);
		assert_int_equal(tb_delay_ms(cases[i].attempt, (uint64_t)(d / 2)), d);
		assert_int_equal(tb_delay_ms(cases[i].attempt, UINT64_MAX) >= d / 2, 1);
		assert_true(tb_delay_ms(cases[i].attempt, UINT64_MAX) <= d);
	}
}

static void test_sequence_grows_capped_and_jitters(void **state)
{
	tb_backoff b;
	tb_init(&b, 0x1234);
	int64_t prev_hi = 0;
	for (unsigned i = 0; i < 20; i++) {
		int64_t hi = TB_BASE_MS << (i < 5 ? i : 5);
		if (hi > TB_CAP_MS)
			hi = TB_CAP_MS;
		int64_t ms = tb_next(&b);
		assert_true(ms >= hi / 2);
		assert_true(ms <= hi);
		assert_true(hi >= prev_hi);
		prev_hi = hi;
	}
	/* Jitter: at the cap, 50 delays are not all the same. */
	int64_t first = tb_next(&b);
	bool varied = false;
	for (int i = 0; i < 50; i++)
		varied = varied || tb_next(&b) != first;
	assert_true(varied);
	/* Two clients seeded differently do not retry in lockstep. */
	tb_backoff c1, c2;
	tb_init(&c1, 1);
	tb_init(&c2, 2);
	int same = 0;
	for (int i = 0; i < 20; i++)
		same += tb_next(&c1) == tb_next(&c2);
	assert_true(same < 20);
}

static void test_reset_after_live(void **state)
{
	tb_backoff b;
	tb_init(&b, 99);
	for (int i = 0; i < 10; i++)
		tb_next(&b);
	assert_true(tb_next(&b) >= TB_CAP_MS / 2);
	tb_reset(&b);
	int64_t ms = tb_next(&b);
	assert_true(ms >= TB_BASE_MS / 2);
	assert_true(ms <= TB_BASE_MS);
	ms = tb_next(&b);
	assert_true(ms >= TB_BASE_MS);
	assert_true(ms <= 2 * TB_BASE_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window_per_attempt),
	    cmocka_unit_test(test_sequence_grows_capped_and_jitters),
	    cmocka_unit_test(test_reset_after_live),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
