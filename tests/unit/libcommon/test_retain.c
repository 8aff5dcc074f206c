/* test_retain.c - rk_retain_cut: retention never reaches into the
 * idempotency window (the last 10,000 events, and those within 24 h of the
 * newest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "retain.h"

static void test_cut(void **state)
{
	(void)state;
	const struct {
		int64_t last, keep, recent, want;
	} cases[] = {
	    {0, 0, 1, 0},		  /* empty log */
	    {300, 50, 301, 0},		  /* small room: all inside the window */
	    {10000, 0, 10001, 0},	  /* exactly the window */
	    {10001, 0, 10002, 1},	  /* one event older than the window */
	    {10300, 50, 10301, 300},	  /* keep 50 is raised to 10,000 */
	    {30000, 15000, 30001, 15000}, /* keep above the window counts */
	    {30000, 0, 12001, 12000},	  /* events within 24 h of the newest stay */
	    {30000, 0, 5000, 4999},
	    {30000, 0, 1, 0},	       /* everything is recent */
	    {30000, -5, 30001, 20000}, /* a negative keep is the window */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got =
		    rk_retain_cut(cases[i].last, cases[i].keep, cases[i].recent);
		if (got != cases[i].want)
			fail_msg("case %zu: cut %lld, want %lld", i, (long long)got,
				 (long long)cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
