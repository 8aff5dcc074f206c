/*
 * test_iplimit.c - roomd's per-IP limits (roomd/iplimit.c, a pure module
 * compiled into this test): the token bucket against a fake clock,
 * Retry-After, the open-connection cap, the loopback exemption, the sweep
 * of idle addresses and the bounded table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iplimit.h"

#define SEC 1000000LL

static ipl_verdict admit(iplimit *l, const char *addr, int64_t now, int *retry)
{
	int r;
	ipl_verdict v = iplimit_admit(l, addr, now, &r);
	if (retry)
		*retry = r;
	return v;
}

/* burst at once, then rate per second; Retry-After says when. */
static void test_rate(void **state)
{
	(void)state;
	iplimit l;
	iplimit_init(&l, 2, 5, 0, false);
	int64_t t = 100 * SEC;
	for (int i = 0; i < 5; i++)
		assert_int_equal(admit(&l, "10.0.0.1", t, NULL), IPL_OK);
	int retry = 0;
	assert_int_equal(admit(&l, "10.0.0.1", t, &retry), IPL_RATE);
	assert_int_equal(retry, 1);
	/* Another address has its own bucket. */
	assert_int_equal(admit(&l, "10.0.0.2", t, NULL), IPL_OK);
	/* Half a second gives one token back (2 per second). */
	assert_int_equal(admit(&l, "10.0.0.1", t + SEC / 2, NULL), IPL_OK);
	assert_int_equal(admit(&l, "10.0.0.1", t + SEC / 2, NULL), IPL_RATE);
	/* The bucket never holds more than burst. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(admit(&l, "10.0.0.1", t + 3600 * SEC, NULL), IPL_OK);
	assert_int_equal(admit(&l, "10.0.0.1", t + 3600 * SEC, NULL), IPL_RATE);
	iplimit_free(&l);

	/* A slow rate asks for a longer wait. */
	iplimit_init(&l, 0.1, 1, 0, false);
	assert_int_equal(admit(&l, "10.0.0.1", t, NULL), IPL_OK);
	assert_int_equal(admit(&l, "10.0.0.1", t, &retry), IPL_RATE);
	assert_int_equal(retry, 10);
	iplimit_free(&l);
}

/* Open connections per address, counted by opened/closed. */
static void test_conns(void **state)
{
	(void)state;
	iplimit l;
	iplimit_init(&l, 0, 1, 2, false);
	int64_t t = SEC;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(admit(&l, "10.0.0.1", t, NULL), IPL_OK);
		iplimit_opened(&l, "10.0.0.1");
	}
	assert_int_equal(admit(&l, "10.0.0.1", t, NULL), IPL_CONNS);
	assert_int_equal(admit(&l, "10.0.0.9", t, NULL), IPL_OK);
	iplimit_closed(&l, "10.0.0.1");
	assert_int_equal(admit(&l, "10.0.0.1", t, NULL), IPL_OK);
	/* An address with open connections survives the sweep. */
	iplimit_sweep(&l, t + 10 * SEC);
	assert_non_null(rk_omap_get(&l.map, "10.0.0.1", 8));
	assert_null(rk_omap_get(&l.map, "10.0.0.9", 8));
	iplimit_free(&l);
}

/* Loopback is exempt unless limit_loopback; both limits off exempts all. */
static void test_loopback(void **state)
{
	(void)state;
	iplimit l;
	iplimit_init(&l, 1, 1, 1, false);
	static const char *const lo[] = {"127.0.0.1", "127.0.0.2", "::1",
					 "::ffff:127.0.0.1"};
	for (size_t i = 0; i < sizeof(lo) / sizeof(lo[0]); i++)
		for (int k = 0; k < 10; k++)
			assert_int_equal(admit(&l, lo[i], SEC, NULL), IPL_OK);
	assert_int_equal(rk_omap_count(&l.map), 0);
	assert_int_equal(admit(&l, "128.0.0.1", SEC, NULL), IPL_OK);
	assert_int_equal(admit(&l, "128.0.0.1", SEC, NULL), IPL_RATE);
	iplimit_free(&l);

	iplimit_init(&l, 1, 1, 0, true);
	assert_int_equal(admit(&l, "127.0.0.2", SEC, NULL), IPL_OK);
	assert_int_equal(admit(&l, "127.0.0.2", SEC, NULL), IPL_RATE);
	iplimit_free(&l);

	iplimit_init(&l, 0, 1, 0, true);
	for (int k = 0; k < 10; k++)
		assert_int_equal(admit(&l, "10.0.0.1", SEC, NULL), IPL_OK);
	assert_int_equal(rk_omap_count(&l.map), 0);
	iplimit_free(&l);
}

/* The sweep forgets idle addresses (bucket full again), at most once a
 * second; a full table admits newcomers unlimited and counts them. */
static void test_sweep_and_bound(void **state)
{
	(void)state;
	iplimit l;
	iplimit_init(&l, 10, 10, 0, false);
	char addr[32];
	int64_t t = SEC;
	for (int i = 0; i < IPL_MAX_ENTRIES; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
			 i & 255);
		assert_int_equal(admit(&l, addr, t, NULL), IPL_OK);
	}
	assert_int_equal(rk_omap_count(&l.map), IPL_MAX_ENTRIES);
	/* Full: a newcomer is admitted, without an entry, however often. */
	for (int k = 0; k < 20; k++)
		assert_int_equal(admit(&l, "192.168.0.1", t, NULL), IPL_OK);
	assert_int_equal(l.table_full, 20);
	/* 50 ms later the buckets are not full yet: nothing goes. */
	iplimit_sweep(&l, t + SEC / 20);
	assert_int_equal(rk_omap_count(&l.map), IPL_MAX_ENTRIES);
	/* Within a second of that sweep no other runs. */
	iplimit_sweep(&l, t + SEC / 2);
	assert_int_equal(rk_omap_count(&l.map), IPL_MAX_ENTRIES);
	iplimit_sweep(&l, t + 2 * SEC);
	assert_int_equal(rk_omap_count(&l.map), 0);
	assert_int_equal(admit(&l, "192.168.0.1", t + 2 * SEC, NULL), IPL_OK);
	assert_int_equal(rk_omap_count(&l.map), 1);
	iplimit_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_conns),
	    cmocka_unit_test(test_loopback),
	    cmocka_unit_test(test_sweep_and_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
