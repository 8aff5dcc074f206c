/* test_theap.c - roomload's timer heap hands timers back in time order
 * under random schedules, moves (earlier and later) and deletions, checked
 * against a brute-force model; deleting an unscheduled timer is a no-op. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "theap.h" /* compiled in: RK_UNIT_SRC_ in tests/CMakeLists.txt */

#define N 500

static uint64_t rng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* The earliest scheduled time by brute force (INT64_MAX if none). */
static int64_t model_min(const rl_timer *t, const bool *on)
{
	int64_t m = INT64_MAX;
	for (int i = 0; i < N; i++)
		if (on[i] && t[i].at < m)
			m = t[i].at;
	return m;
}

static void test_random_against_model(void **state)
{
	(void)state;
	rl_theap q;
	rl_timer t[N];
	bool on[N];
	memset(t, 0, sizeof(t));
	memset(on, 0, sizeof(on));
	assert_true(rl_theap_init(&q, N));
	uint64_t s = 12345;
	int64_t now = 0;
	for (int step = 0; step < 20000; step++) {
		int i = (int)(rng(&s) % N);
		switch (rng(&s) % 4) {
		case 0:
		case 1: /* schedule or move, earlier or later */
			rl_theap_set(&q, &t[i], now + (int64_t)(rng(&s) % 1000));
			on[i] = true;
			break;
		case 2:
			rl_theap_del(&q, &t[i]);
			on[i] = false;
			break;
		case 3: { /* advance time and pop what is due, in order */
			now += (int64_t)(rng(&s) % 50);
			int64_t last = INT64_MIN;
			rl_timer *d;
			while ((d = rl_theap_due(&q, now))) {
				assert_true(d->at <= now);
				assert_true(d->at >= last);
				assert_int_equal(d->at, model_min(t, on));
				last = d->at;
				rl_theap_del(&q, d);
				on[d - t] = false;
			}
			break;
		}
		}
		assert_int_equal(rl_theap_next(&q), model_min(t, on));
		uint32_t count = 0;
		for (int k = 0; k < N; k++)
			count += on[k];
		assert_int_equal(q.n, count);
	}
	rl_theap_free(&q);
}

static void test_empty_and_unscheduled(void **state)
{
	(void)state;
	rl_theap q;
	rl_timer a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_true(rl_theap_init(&q, 2));
	assert_int_equal(rl_theap_next(&q), INT64_MAX);
	assert_null(rl_theap_due(&q, INT64_MAX));
	rl_theap_del(&q, &a); /* not scheduled: nothing happens */
	assert_int_equal(q.n, 0);
	rl_theap_set(&q, &a, 10);
	rl_theap_set(&q, &b, 5);
	assert_null(rl_theap_due(&q, 4));
	assert_ptr_equal(rl_theap_due(&q, 5), &b);
	rl_theap_set(&q, &b, 20); /* moved later: a is now first */
	assert_ptr_equal(rl_theap_due(&q, 100), &a);
	rl_theap_del(&q, &a);
	rl_theap_del(&q, &a);
	assert_int_equal(q.n, 1);
	assert_int_equal(rl_theap_next(&q), 20);
	rl_theap_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_against_model),
	    cmocka_unit_test(test_empty_and_unscheduled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
