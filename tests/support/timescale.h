/*
 * timescale.h - one knob for every timeout of the test harness.
 *
 * RK_TIMEOUT_SCALE=N (an integer 1-100, default 1) multiplies the timeouts
 * of wsclient.c (connect, send, receive, HTTP) and roomd_proc.c (ready line,
 * exit, log waits). make check-valgrind sets it, since every binary runs
 * 10-50 times slower under valgrind. A test that must wait for something
 * NOT to happen stays correct, just slower.
 * RT_SKIP_UNDER_VALGRIND needs <stdio.h> and <cmocka.h> at its use.
 */
#ifndef RK_TIMESCALE_H
#define RK_TIMESCALE_H

#include <stdbool.h>

/* ms times the scale (saturating at INT_MAX); ms <= 0 is returned as is. */
int rt_scaled_ms(int ms);

/* The scale itself (1 unless RK_TIMEOUT_SCALE says otherwise). */
int rt_timeout_scale(void);

/*
 * True when RK_UNDER_VALGRIND is set (by scripts/check-valgrind.sh). For the
 * few tests whose assertions are about throughput within a fixed time and
 * cannot hold when every binary runs 10-50 times slower: they skip
 * themselves with RT_SKIP_UNDER_VALGRIND(reason), and the reason is listed
 * in scripts/check-valgrind.sh.
 */
bool rt_under_valgrind(void);

#define RT_SKIP_UNDER_VALGRIND(reason)                                                   \
	do {                                                                             \
		if (rt_under_valgrind()) {                                               \
			fprintf(stderr, "skipped under valgrind: %s\n", reason);         \
			skip();                                                          \
		}                                                                        \
	} while (0)

#endif
