/*
 * test_roomd_logs.c - roomd's log at the default level stays readable: one
 * line per connection, and a flood of connections or of refused upgrades
 * writes a bounded number of lines plus a summary of what was left out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "clock.h"
#include "log.h"
#include "roomtest.h"
#include "timescale.h"

/* Lines of roomd's log file containing s. */
static int log_lines_with(rd_proc *rd, const char *s)
{
	FILE *f = fopen(rd->log_path, "r");
	assert_non_null(f);
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, s) != NULL;
	fclose(f);
	return n;
}

/* Wait until roomd counts no connection in room (its closes are processed). */
static void wait_room_empty(rd_proc *rd, const char *room)
{
	char path[128];
	snprintf(path, sizeof(path), "/v1/rooms/%s", room);
	int64_t deadline = rk_mono_us() + (int64_t)RT_TIMEOUT_MS * 1000;
	while (rk_mono_us() < deadline) {
		char *body = NULL;
		int st = rt_http(rd, path, NULL, &body);
		if (st == 404) { /* a new room nobody is in: gone (no file) */
			free(body);
			return;
		}
		assert_int_equal(st, 200);
		cJSON *j = cJSON_Parse(body);
		free(body);
		int64_t n = rt_int(j, "connections");
		cJSON_Delete(j);
		if (n == 0)
			return;
	}
	fail_msg("room %s still has connections", room);
}

/* One connection, opened and closed: one info line names its session. */
static void test_one_line_per_connection(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	cJSON *wel = NULL;
	struct ws *w = rt_join(rd, "quiet", "name=a", &wel);
	char session[64];
	snprintf(session, sizeof(session), "conn %s ", rt_str(wel, "session"));
	cJSON_Delete(wel);
	rt_free(w);
	wait_room_empty(rd, "quiet");
	assert_int_equal(log_lines_with(rd, session), 1);
	assert_int_equal(log_lines_with(rd, " joined room quiet as a"), 1);
	rd_cleanup(rd);
}

/* 600 connects and 300 refused upgrades as fast as the test can: at most
 * the limiter's burst plus its rate over the elapsed time, then a summary. */
static void test_flood_is_capped(void **state)
{
	(void)state;
	rd_proc *rd = rt_start(NULL);
	int64_t t0 = rk_mono_us();
	for (int i = 0; i < 600; i++) {
		struct ws *w =
		    ws_connect(rd->host, rd->port, "/ws/flood?name=a", NULL, 5000);
		assert_non_null(w);
		ws_free(w);
	}
	for (int i = 0; i < 300; i++)
		assert_int_equal(ws_connect_status(rd->host, rd->port, "/ws/bad%20id",
						   NULL, 5000, NULL),
				 400);
	wait_room_empty(rd, "flood");
	double secs = (double)(rk_mono_us() - t0) / 1e6;
	int cap = RK_LOG_LIMIT_BURST + (int)(RK_LOG_LIMIT_RATE * (secs + 1));
	/* More lines than the cap were asked for, so some were left out and a
	 * summary says so (written by the tick a second after the first). */
	if (900 > cap)
		assert_true(
		    rd_log_wait(rd, "lines suppressed in the last", rt_scaled_ms(5000)));
	int lines = log_lines_with(rd, " joined room flood ") +
		    log_lines_with(rd, "upgrade refused: 400");
	print_message("900 connects in %.2f s: %d log lines (cap %d)\n", secs, lines,
		      cap);
	if (lines > cap)
		fail_msg("%d log lines for 900 connects in %.2f s (cap %d)", lines, secs,
			 cap);
	rd_cleanup(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_line_per_connection),
	    cmocka_unit_test(test_flood_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
