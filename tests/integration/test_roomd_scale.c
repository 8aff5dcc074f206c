/*
 * test_roomd_scale.c - 1,000 concurrent WebSocket connections over 10 rooms:
 * all are welcomed, an op in each room reaches every other member of that
 * room (and no one else), and /metrics counts them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <cmocka.h>
#include "roomtest.h"

enum { ROOMS = 10, PER_ROOM = 100, TOTAL = ROOMS * PER_ROOM };

static void test_thousand_connections(void **state)
{
	(void)state;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
		rl.rlim_cur = 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	rd_proc *rd = rt_start(NULL);
	struct ws **c = calloc(TOTAL, sizeof(*c));
	for (int i = 0; i < TOTAL; i++) {
		char room[16], q[32];
		snprintf(room, sizeof(room), "big%d", i % ROOMS);
		snprintf(q, sizeof(q), "name=u%d", i);
		c[i] = rt_join(rd, room, q, NULL);
	}
	char *body = NULL;
	rt_http(rd, "/metrics", NULL, &body);
	assert_non_null(strstr(body, "roomd_connections 1000\n"));
	free(body);
	/* The first member of each room posts; each other member gets it. */
	for (int r = 0; r < ROOMS; r++) {
		char id[16];
		snprintf(id, sizeof(id), "r%d", r);
		assert_int_equal(
		    rt_op(c[r], id, "{\"k\":\"chat.post\",\"text\":\"hi all\"}", NULL),
		    1);
	}
	for (int i = ROOMS; i < TOTAL; i++) {
		cJSON *e = rt_expect(c[i], "event");
		char want[16];
		snprintf(want, sizeof(want), "r%d", i % ROOMS);
		assert_string_equal(rt_str(e, "id"), want);
		assert_int_equal(rt_int(e, "seq"), 1);
		cJSON_Delete(e);
	}
	rt_http(rd, "/metrics", NULL, &body);
	char want[64];
	snprintf(want, sizeof(want), "roomd_events_delivered_total %d\n", TOTAL - ROOMS);
	assert_non_null(strstr(body, want));
	free(body);
	for (int i = 0; i < TOTAL; i++)
		rt_free(c[i]);
	free(c);
	rd_cleanup(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_thousand_connections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
