/* test_cli.c - the command-line helpers every binary shares: numbers are
 * whole and in range or refused with a message naming the option and the
 * value, the secret file is read (and a repeat replaces it) or refused with
 * one "Error:" line, and the exit codes are PROTOCOL.md section 10's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "cli.h"

static void test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(RK_EXIT_OK, 0);
	assert_int_equal(RK_EXIT_FAIL, 1);
	assert_int_equal(RK_EXIT_USAGE, 2);
	assert_true(RK_CLI_GO != RK_EXIT_OK && RK_CLI_GO != RK_EXIT_FAIL &&
		    RK_CLI_GO != RK_EXIT_USAGE);
}

static void test_int(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		long long min, max, want;
	} ok[] = {
	    {"0", 0, 10, 0},
	    {"10", 0, 10, 10},
	    {"-5", -5, 5, -5},
	    {"007", 0, 10, 7},
	    {"9223372036854775807", 0, INT64_MAX, INT64_MAX},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		long long v = -1;
		char err[128] = "";
		assert_true(rk_cli_int("--n", ok[i].s, ok[i].min, ok[i].max, &v, err,
				       sizeof(err)));
		assert_int_equal(v, ok[i].want);
		assert_string_equal(err, "");
	}
	static const char *const bad[] = {"",	 "x",  "12x", "x12",
					  "1.5", "11", "-1",  "99999999999999999999",
					  "1 ",	 "0x5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long long v = 42;
		char err[128], want[128];
		if (rk_cli_int("--rooms", bad[i], 0, 10, &v, err, sizeof(err)))
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(v, 42);
		snprintf(want, sizeof(want), "bad number for --rooms: '%s' (want 0..10)",
			 bad[i]);
		assert_string_equal(err, want);
	}
	/* A short buffer truncates the message, never overruns. */
	long long v;
	char tiny[8];
	assert_false(rk_cli_int("--rooms", "x", 0, 10, &v, tiny, sizeof(tiny)));
	assert_string_equal(tiny, "bad num");
}

static void test_double(void **state)
{
	(void)state;
	double v = -1;
	char err[128];
	assert_true(rk_cli_double("--rate", "2.5", 0, 10, &v, err, sizeof(err)));
	assert_true(v == 2.5);
	assert_true(rk_cli_double("--rate", "1e1", 0, 10, &v, err, sizeof(err)));
	assert_true(v == 10);
	assert_true(rk_cli_double("--rate", "0.05", 0.05, 1, &v, err, sizeof(err)));
	static const char *const bad[] = {"",	 "x",	 "2.5s", "inf",
					  "nan", "-0.1", "10.5", "1e400"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (rk_cli_double("--rate", bad[i], 0, 10, &v, err, sizeof(err)))
			fail_msg("accepted '%s'", bad[i]);
		assert_true(v == 42);
		char want[128];
		snprintf(want, sizeof(want), "bad number for --rate: '%s' (want 0..10)",
			 bad[i]);
		assert_string_equal(err, want);
	}
}

/* stderr-like output captured in a temp file, returned as a string. */
static char *slurp(FILE *f)
{
	static char buf[512];
	rewind(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

static void test_secret(void **state)
{
	(void)state;
	char path[] = "/tmp/roomkit-cli-secret-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret\n", 7), 7);
	close(fd);
	FILE *err = tmpfile();
	assert_non_null(err);

	unsigned char *sec = NULL;
	size_t len = 0;
	assert_int_equal(rk_cli_secret(err, path, &sec, &len), RK_EXIT_OK);
	assert_int_equal(len, 6);
	assert_memory_equal(sec, "s3cret", 6);
	/* Given again: replaces (ASan's leak check sees the first go). */
	assert_int_equal(rk_cli_secret(err, path, &sec, &len), RK_EXIT_OK);
	assert_int_equal(len, 6);
	assert_string_equal(slurp(err), "");

	/* A missing file: one "Error:" line, nothing kept. */
	assert_int_equal(rk_cli_secret(err, "/nonexistent/secret", &sec, &len),
			 RK_EXIT_FAIL);
	assert_null(sec);
	assert_int_equal(len, 0);
	char *out = slurp(err);
	assert_true(strncmp(out, "Error: ", 7) == 0);
	assert_non_null(strstr(out, "/nonexistent/secret"));
	assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1);

	/* An empty file is refused too. */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(rk_cli_secret(err, path, &sec, &len), RK_EXIT_FAIL);
	assert_null(sec);
	fclose(err);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_codes),
	    cmocka_unit_test(test_int),
	    cmocka_unit_test(test_double),
	    cmocka_unit_test(test_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
