/*
 * test_roomd_cli.c - roomd's command line as a script sees it: --help on
 * stdout with exit 0 and every option listed; a bad flag or value is one
 * line on stderr that names the option as typed (then the 'Try --help'
 * line), and exit 2, before any file is touched. The config file (--config):
 * every option is a key with the same checks, a bad line is
 * "Error: FILE:LINE: ..." and exit 2, settings apply, flags override them
 * (a repeatable flag replaces the file's list), --log-format json logs JSON.
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
	static const char *const opts[] = {"--listen",
					   "--data",
					   "--secret-file",
					   "--hibernate-after",
					   "--fsync",
					   "--log-level",
					   "--max-frame",
					   "--ops-per-sec",
					   "--ops-burst",
					   "--max-room-conns",
					   "--max-conns",
					   "--max-queue",
					   "--idle-timeout",
					   "--ping-interval",
					   "--presence-grace",
					   "--snapshot-every",
					   "--resume-max",
					   "--conn-rate",
					   "--conn-burst",
					   "--max-conns-per-ip",
					   "--limit-loopback",
					   "--handshake-timeout",
					   "--tls-cert",
					   "--tls-key",
					   "--config",
					   "--allow-origin",
					   "--log-format",
					   "--webhook-url",
					   "--webhook-secret-file",
					   "--webhook-types",
					   "--webhook-timeout",
					   "--webhook-concurrency",
					   "--webhook-retry-max",
					   "--retain-events",
					   "--no-demo",
					   "Exit status"};
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
	    "--hibernate-after",   "--max-frame",	"--ops-per-sec",
	    "--ops-burst",	   "--max-room-conns",	"--max-conns",
	    "--max-queue",	   "--idle-timeout",	"--ping-interval",
	    "--presence-grace",	   "--snapshot-every",	"--resume-max",
	    "--conn-rate",	   "--conn-burst",	"--max-conns-per-ip",
	    "--handshake-timeout", "--webhook-timeout", "--webhook-concurrency",
	    "--webhook-retry-max", "--retain-events"};
	static const char *const bad[] = {"x12", "-5", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++)
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			const char *argv[] = {roomd_bin(), "--data", dir,
					      num[i],	   bad[k],   NULL};
			char *out = NULL;
			int rc = rt_run(argv, 10000, &out);
			if (rc != 2 || lines(out) != 2 ||
			    strncmp(out, "Error: ", 7) != 0 || !strstr(out, num[i]) ||
			    !strstr(out, bad[k]))
				fail_msg("roomd %s %s: exit %d, said: %s", num[i], bad[k],
					 rc, out);
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

/* roomd --config FILE (with more arguments) run to completion; its exit
 * code, output in *out (caller frees). */
static int run_config(const char *file_text, const char *more, char **out, char **path)
{
	*path = rt_temp_file(file_text);
	char dir[] = "/tmp/roomkit-cli-XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *argv[] = {roomd_bin(), "--data", dir, "--config", *path, more, NULL};
	int rc = rt_run(argv, 10000, out);
	char rooms[64];
	snprintf(rooms, sizeof(rooms), "%s/rooms", dir);
	assert_int_equal(access(rooms, F_OK), -1); /* refused before touching it */
	assert_int_equal(rmdir(dir), 0);
	return rc;
}

/* Every numeric option as a config key: a bad value names FILE:LINE and the
 * key; an unknown key, a line without '=', a broken quote likewise. */
static void test_config_file_errors(void **state)
{
	(void)state;
	static const char *const num[] = {
	    "hibernate-after", "max-frame",	 "ops-per-sec",	     "ops-burst",
	    "max-room-conns",  "max-conns",	 "max-queue",	     "idle-timeout",
	    "ping-interval",   "presence-grace", "snapshot-every",   "resume-max",
	    "conn-rate",       "conn-burst",	 "max-conns-per-ip", "handshake-timeout"};
	for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++) {
		char text[256], want[300];
		snprintf(text, sizeof(text), "# line 1\n\n%s = 12x\n", num[i]);
		char *out = NULL, *path = NULL;
		int rc = run_config(text, NULL, &out, &path);
		snprintf(want, sizeof(want), "Error: %s:3: bad number for --%s: '12x'",
			 path, num[i]);
		if (rc != 2 || strncmp(out, want, strlen(want)) != 0)
			fail_msg("config '%s': exit %d, said: %s", num[i], rc, out);
		unlink(path);
		free(path);
		free(out);
	}
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"listen = 127.0.0.1:0\nno-such-key = 1\n", ":2: unknown key 'no-such-key'"},
	    {"max-frame 1024\n", ":1: want 'key = value'"},
	    {"data = \"/tmp/x\n", ":1: unterminated quote"},
	    {"fsync = maybe\n", ":1: --fsync wants true or false, got 'maybe'"},
	    {"config = other.conf\n", ":1: unknown key 'config'"},
	    {"log-format = xml\n", ":1: unknown --log-format 'xml'"},
	    {"allow-origin = example.com\n",
	     ":1: --allow-origin wants scheme://host[:port]"},
	    {"listen = nowhere\n", ":1: --listen wants HOST:PORT"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out = NULL, *path = NULL;
		int rc = run_config(bad[i].text, NULL, &out, &path);
		if (rc != 2 || strncmp(out, "Error: ", 7) != 0 || !strstr(out, path) ||
		    !strstr(out, bad[i].want))
			fail_msg("config %s: exit %d, said: %s", bad[i].text, rc, out);
		unlink(path);
		free(path);
		free(out);
	}
	const char *missing[] = {roomd_bin(), "--config", "/nonexistent/roomd.conf",
				 NULL};
	char *out = NULL;
	assert_int_equal(rt_run(missing, 10000, &out), 1);
	assert_non_null(strstr(out, "Error: --config /nonexistent/roomd.conf"));
	free(out);
}

static int upgrade_status(rd_proc *rd, const char *origin)
{
	char hdr[128];
	snprintf(hdr, sizeof(hdr), "Origin: %s", origin);
	ws_opts o = {.extra_headers = hdr};
	http_reply reply = {0};
	struct ws *w = ws_connect_ex(rd->host, rd->port, "/ws/cfg?name=a", &o, &reply);
	int st = w ? 101 : reply.status;
	ws_free(w);
	http_reply_free(&reply);
	return st;
}

/* Settings from the file apply; flags override them. */
static void test_config_file_applies(void **state)
{
	(void)state;
	char *path = rt_temp_file("# roomd settings\n"
				  "max-frame = 1024\n"
				  "ops_per_sec = 7      # the '_' form and a comment\n"
				  "log-format = \"json\"\n"
				  "allow-origin = https://a.example\n"
				  "allow-origin = https://b.example\n");
	const char *args[] = {"--config", path, "--max-frame", "2048", NULL};
	rd_proc *rd = rt_start(args);
	cJSON *wel = NULL;
	struct ws *w = rt_join(rd, "cfg", "name=a", &wel);
	const cJSON *lim = cJSON_GetObjectItem(wel, "limits");
	assert_int_equal(rt_int(lim, "max_frame"), 2048); /* the flag wins */
	assert_int_equal(rt_int(lim, "ops_per_sec"), 7);  /* from the file */
	cJSON_Delete(wel);
	rt_free(w);
	assert_int_equal(upgrade_status(rd, "https://b.example"), 101);
	assert_int_equal(upgrade_status(rd, "https://c.example"), 403);
	/* --log-format json: the log lines are JSON objects. */
	assert_true(rd_log_wait(rd, "{\"ts\":\"", RT_TIMEOUT_MS));
	assert_true(
	    rd_log_contains(rd, "\"level\":\"info\",\"msg\":\"roomd listening on "));

	/* A repeatable flag replaces the file's list. */
	const char *more[] = {"--config", path, "--allow-origin", "https://c.example",
			      NULL};
	assert_int_equal(rd_restart(rd, more), 0);
	assert_int_equal(upgrade_status(rd, "https://b.example"), 403);
	assert_int_equal(upgrade_status(rd, "https://c.example"), 101);
	rd_cleanup(rd);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_help),
	    cmocka_unit_test(test_bad_values_name_the_option),
	    cmocka_unit_test(test_config_file_errors),
	    cmocka_unit_test(test_config_file_applies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
