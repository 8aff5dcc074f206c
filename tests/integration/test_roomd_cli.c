/*
 * test_roomd_cli.c - roomd's command line as a script sees it: --help on
 * stdout with exit 0 and every option listed; a bad flag or value is one
 * line on stderr that names the option as typed (then the 'Try --help'
 * line), and exit 2, before any file is touched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "roomtest.h"

static const char *roomd_bin(void)
{
	const char *b = getenv("ROOMD_BIN");
	if (!b || !*b)
		fail_msg("ROOMD_BIN is not set");
	return b;
}

static int lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_help(void **state)
{
	(void)state;
	const char *argv[] = {roomd_bin(), "--help", NULL};
	char *out = NULL;
	assert_int_equal(rt_run(argv, 10000, &out), 0);
	assert_non_null(strstr(out, "Usage: roomd [OPTIONS]"));
	static const char *const opts[] = {
	    "--listen", "--data", "--secret-file", "--hibernate-after", "--fsync",
	    "--log-level", "--max-frame", "--ops-per-sec", "--ops-burst",
	    "--max-room-conns", "--max-conns", "--max-queue", "--idle-timeout",
	    "--ping-interval", "--presence-grace", "--snapshot-every", "--resume-max",
	    "--conn-rate", "--conn-burst", "--max-conns-per-ip", "--limit-loopback",
	    "--handshake-timeout", "--tls-cert", "--tls-key", "--no-demo", "Exit status"};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (!strstr(out, opts[i]))
			fail_msg("--help does not mention %s", opts[i]);
	free(out);
}

/* Every numeric option: a non-number and an out-of-range value. */
static void test_bad_values_name_the_option(void **state)
{
	(void)state;
	char dir[] = "/tmp/roomkit-cli-XXXXXX";
	assert_non_null(mkdtemp(dir));
	static const char *const num[] = {
	    "--hibernate-after", "--max-frame", "--ops-per-sec", "--ops-burst",
	    "--max-room-conns", "--max-conns", "--max-queue", "--idle-timeout",
	    "--ping-interval", "--presence-grace", "--snapshot-every", "--resume-max",
	    "--conn-rate", "--conn-burst", "--max-conns-per-ip", "--handshake-timeout"};
	static const char *const bad[] = {"x12", "-5", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++)
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			const char *argv[] = {roomd_bin(), "--data", dir, num[i], bad[k], NULL};
			char *out = NULL;
			int rc = rt_run(argv, 10000, &out);
			if (rc != 2 || lines(out) != 2 || strncmp(out, "Error: ", 7) != 0 || !strstr(out, num[i]) ||
			    !strstr(out, bad[k]))
				fail_msg("roomd %s %s: exit %d, said: %s", num[i], bad[k], rc,
					 out);
			free(out);
		}
	const char *unknown[] = {roomd_bin(), "--data", dir, "--no-such-flag", NULL};
	char *out = NULL;
	assert_int_equal(rt_run(unknown, 10000, &out), 2);
	assert_non_null(strstr(out, "no-such-flag"));
	free(out);
	/* Refused before anything was created in the data dir. */
	char rooms[64];
	snprintf(rooms, sizeof(rooms), "%s/rooms", dir);
	assert_int_equal(access(rooms, F_OK), -1);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_help),
	    cmocka_unit_test(test_bad_values_name_the_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
