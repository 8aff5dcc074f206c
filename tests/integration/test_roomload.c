/* test_roomload.c - roomload against the real roomd: a chat load of 250
 * connections is fully established, every op is acked and delivered to all
 * other clients of its room with zero ordering violations, and its --csv
 * rows add up to the report; --procs 2 merges two workers into one report
 * with the same invariants, and a killed worker fails the run; per-client
 * tokens and viewers work, and a missed --max-p99 makes roomload exit 1;
 * with --reconnect a roomd killed (SIGKILL) mid-run and started again costs
 * nothing: every client resumes, and every op roomload reports committed
 * (--acked-file) is in the room files at its seq.
 *
 * roomd is started by the shared launcher (tests/support/roomd_proc.h: port
 * 0, a temp data dir, its ready line read with a deadline, no sleeps). Both
 * binaries come from the environment (ROOMD_BIN, ROOMLOAD_BIN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "cluster.h"
#include "roomd_proc.h"
#include "roomtest.h"
#include "timescale.h"

#define RUN_TIMEOUT_MS 120000

/* One test's roomd (the shared launcher, tests/support/roomd_proc.h) and
 * the secret file it was given, if any. */
typedef struct server {
	rd_proc *rd;
	int port;
	const char *dir;   /* a scratch directory that rd_cleanup removes */
	char *secret_path; /* NULL without --secret-file (rt_temp_file's) */
	cl_load *load;	   /* a roomload in the background, or NULL */
} server;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *env_bin(const char *name)
{
	const char *p = getenv(name);
	if (!p || !*p)
		fail_msg("%s is not set (run through ctest)", name);
	return p;
}

static void server_start(server *s, bool with_secret)
{
	memset(s, 0, sizeof(*s));
	if (with_secret)
		s->secret_path = rt_temp_file("integration-test-secret-0123456789\n");
	const char *const plain[] = {"--log-level", "warn", NULL};
	const char *const secret[] = {"--log-level", "warn", "--secret-file",
				      s->secret_path, NULL};
	s->rd = rd_start(with_secret ? secret : plain, NULL);
	assert_non_null(s->rd);
	s->port = s->rd->port;
	s->dir = s->rd->tmp_dir;
}

/* Stop roomd with SIGTERM: it must drain and exit 0. */
static void server_stop(server *s)
{
	int rc = rd_stop(s->rd, SIGTERM);
	rd_cleanup(s->rd);
	s->rd = NULL;
	if (s->secret_path) {
		unlink(s->secret_path);
		free(s->secret_path);
		s->secret_path = NULL;
	}
	assert_int_equal(rc, 0);
}

/* Run roomload with extra args; returns its exit status, *out its stdout. */
static int run_roomload(server *s, char **out, const char *const *extra)
{
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d", s->port);
	const char *argv[40];
	int n = 0;
	argv[n++] = env_bin("ROOMLOAD_BIN");
	argv[n++] = "--url";
	argv[n++] = url;
	for (int i = 0; extra[i] && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	int64_t deadline = now_ms() + rt_scaled_ms(RUN_TIMEOUT_MS);
	for (;;) {
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			fail_msg("roomload did not finish in time");
		}
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (pfd.revents) {
			if (len + 4096 > cap) {
				cap *= 2;
				buf = realloc(buf, cap);
				assert_non_null(buf);
			}
			ssize_t r = read(p[0], buf + len, cap - len - 1);
			if (r <= 0)
				break;
			len += (size_t)r;
		}
	}
	buf[len] = '\0';
	close(p[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	*out = buf;
	return WEXITSTATUS(st);
}

static double num(const cJSON *o, const char *path)
{
	/* path: "a.b.c" */
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	const cJSON *cur = o;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k;
	     k = strtok_r(NULL, ".", &save)) {
		cur = cJSON_GetObjectItemCaseSensitive(cur, k);
		if (!cur)
			fail_msg("report has no %s", path);
	}
	if (!cJSON_IsNumber(cur))
		fail_msg("report field %s is not a number", path);
	return cur->valuedouble;
}

static cJSON *parse_report(const char *out)
{
	cJSON *j = cJSON_Parse(out);
	if (!j)
		fail_msg("roomload --json printed no JSON: %s", out);
	return j;
}

/* The common assertions of a clean run of R rooms x C clients. */
static void assert_clean(const cJSON *j, int rooms, int clients, int senders_per_room)
{
	int total = rooms * clients;
	assert_int_equal((int)num(j, "connections.established"), total);
	assert_int_equal((int)num(j, "connections.failed"), 0);
	assert_int_equal((int)num(j, "connections.closed_by_server"), 0);
	assert_int_equal((int)num(j, "violations.total"), 0);
	double sent = num(j, "ops_sent"), acked = num(j, "ops_acked");
	/* rate 2 for 3 s from random offsets: 5 or 6 ops per sender. */
	assert_true(sent >= rooms * senders_per_room * 5.0);
	assert_true(sent <= rooms * senders_per_room * 6.0);
	assert_true(acked == sent);
	assert_int_equal((int)num(j, "ops_rejected"), 0);
	/* Sending starts after every connection is welcomed: each op reaches
	 * all clients of its room but its sender. */
	assert_true(num(j, "events_delivered") == acked * (clients - 1));
	assert_true(num(j, "latency_ms.ack.count") == acked);
	assert_true(num(j, "latency_ms.delivery.count") == acked * (clients - 1));
	double p50 = num(j, "latency_ms.delivery.p50"),
	       p99 = num(j, "latency_ms.delivery.p99");
	assert_true(p50 > 0 && p50 <= p99 && p99 <= num(j, "latency_ms.delivery.max"));
	assert_true(num(j, "connections.connect_ms.p50") > 0);
	assert_true(num(j, "cpu_us_per_event") > 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "passed")));
}

/* Each test gets its own roomd; teardown stops it even when the test failed. */
static int setup_plain(void **state)
{
	server *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	server_start(s, false);
	*state = s;
	return 0;
}

static int setup_secret(void **state)
{
	server *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	server_start(s, true);
	*state = s;
	return 0;
}

static int teardown_server(void **state)
{
	server *s = *state;
	if (s)
		server_stop(s);
	free(s);
	return 0;
}

/* For a test that stops (or kills) roomd itself: whatever state it is in. */
static int teardown_stopped(void **state)
{
	server *s = *state;
	if (s) {
		cl_load_free(s->load);
		rd_cleanup(s->rd);
	}
	free(s);
	return 0;
}

/* --csv: the documented header, then one row a second whose interval
 * counts add up to the report's totals (each op, ack and delivery is in
 * exactly one row), with sane connections and percentiles. */
static void assert_csv(const char *path, const cJSON *j)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[512];
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "time_s,phase,connections,sent,delivered,acks,errors,"
				  "violations,p50_ms,p99_ms\n");
	double total = num(j, "connections.target");
	double sent = 0, delivered = 0, acks = 0, last_t = 0, max_conns = 0;
	int rows = 0;
	while (fgets(line, sizeof(line), f)) {
		double t, conns, se, de, ac, er, vi, p50, p99;
		char ph[16];
		int n = sscanf(line, "%lf,%15[a-z],%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &t,
			       ph, &conns, &se, &de, &ac, &er, &vi, &p50, &p99);
		if (n != 10)
			fail_msg("bad --csv row: %s", line);
		assert_true(t > last_t);
		assert_true(conns >= 0 && conns <= total);
		assert_true(er == 0 && vi == 0);
		assert_true(p50 >= 0 && p50 <= p99);
		if (conns > max_conns)
			max_conns = conns;
		last_t = t;
		sent += se;
		delivered += de;
		acks += ac;
		rows++;
	}
	fclose(f);
	assert_true(rows >= 3); /* a 3 s run and its connect and drain */
	assert_true(max_conns == total);
	assert_true(sent == num(j, "ops_sent"));
	assert_true(acks == num(j, "ops_acked"));
	assert_true(delivered == num(j, "events_delivered"));
}

static void test_chat_load_is_clean(void **state)
{
	server *s = *state;
	char *out;
	RT_SKIP_UNDER_VALGRIND("counts ops sent and acked in a fixed 3 s run");
	char csv[PATH_MAX + 16];
	snprintf(csv, sizeof(csv), "%s/one.csv", s->dir);
	const char *const args[] = {"--rooms",	  "10", "--clients", "25", "--rate", "2",
				    "--duration", "3",	"--json",    "-q", "--csv",  csv,
				    NULL};
	int rc = run_roomload(s, &out, args);
	cJSON *j = parse_report(out);
	assert_int_equal(rc, 0);
	assert_clean(j, 10, 25, 25);
	assert_csv(csv, j);
	cJSON_Delete(j);
	free(out);
}

/* --procs 2: two workers share the rooms; the parent's one report has the
 * same shape and the same invariants as a single process's (every op acked
 * and delivered to each other client of its room, no violation), and so
 * has its --csv. */
static void test_procs_merge_into_one_report(void **state)
{
	server *s = *state;
	char *out;
	char csv[PATH_MAX + 16];
	snprintf(csv, sizeof(csv), "%s/procs.csv", s->dir);
	const char *const args[] = {"--rooms",	  "10", "--clients", "30", "--rate", "2",
				    "--duration", "3",	"--procs",   "2",  "--json", "-q",
				    "--csv",	  csv,	NULL};
	int rc = run_roomload(s, &out, args);
	cJSON *j = parse_report(out);
	assert_int_equal(rc, 0);
	assert_clean(j, 10, 30, 30);
	assert_true(num(j, "latency_ms.send_lag.count") == num(j, "ops_sent"));
	assert_true(num(j, "connections.connect_ms.p99") > 0);
	assert_true(num(j, "rss_kb") > 0);
	assert_csv(csv, j);
	cJSON_Delete(j);
	free(out);

	/* More workers than rooms would split a room: refused. */
	const char *const bad[] = {"--rooms", "2", "--procs", "3", NULL};
	assert_int_equal(run_roomload(s, &out, bad), 2);
	free(out);
}

/* A pid whose parent is ppid, or -1. */
static pid_t child_of(pid_t ppid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", ppid, ppid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int pid = -1;
	if (fscanf(f, "%d", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

/* A worker killed mid-run fails the whole run with a clear error, and the
 * parent does not wait for the run's end to say so. */
static void test_procs_worker_crash_fails_the_run(void **state)
{
	server *s = *state;
	char url[64], err_path[PATH_MAX + 16];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d", s->port);
	snprintf(err_path, sizeof(err_path), "%s/crash.err", s->dir);
	const char *argv[] = {env_bin("ROOMLOAD_BIN"),
			      "--url",
			      url,
			      "--rooms",
			      "4",
			      "--clients",
			      "5",
			      "--rate",
			      "2",
			      "--duration",
			      "60",
			      "--procs",
			      "2",
			      "-q",
			      NULL};
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int64_t deadline = now_ms() + 20000;
	pid_t w;
	while ((w = child_of(pid)) <= 0) {
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			fail_msg("roomload started no worker");
		}
		poll(NULL, 0, 20);
	}
	poll(NULL, 0, 500); /* let it connect and start sending */
	assert_int_equal(kill(w, SIGKILL), 0);
	/* Well before the 60 s run would end. */
	deadline = now_ms() + 30000;
	int st = 0;
	pid_t r;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < deadline)
		poll(NULL, 0, 50);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("roomload hung after a worker was killed");
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	FILE *f = fopen(err_path, "r");
	assert_non_null(f);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	if (!strstr(buf, "died before its results: killed by signal 9"))
		fail_msg("no clear error for the dead worker: %s", buf);
}

static void test_tokens_viewers_and_poll(void **state)
{
	server *s = *state;
	char *out;
	/* 20 % viewers: 4 of 20 per room watch; a poll per room (setup op). */
	const char *const args[] = {"--rooms",
				    "4",
				    "--clients",
				    "20",
				    "--rate",
				    "2",
				    "--duration",
				    "3",
				    "--scenario",
				    "poll",
				    "--viewers",
				    "0.2",
				    "--secret-file",
				    s->secret_path,
				    "--room-prefix",
				    "tok-",
				    "--json",
				    "-q",
				    NULL};
	int rc = run_roomload(s, &out, args);
	cJSON *j = parse_report(out);
	assert_int_equal(rc, 0);
	assert_clean(j, 4, 20, 16);
	assert_int_equal((int)num(j, "setup_ops"), 4);
	cJSON_Delete(j);
	free(out);

	/* Without tokens the secured server refuses every connection: exit 1. */
	const char *const bad[] = {"--rooms", "1",	"--clients", "2", "--duration",
				   "0",	      "--json", "-q",	     NULL};
	rc = run_roomload(s, &out, bad);
	j = parse_report(out);
	assert_int_equal(rc, 1);
	assert_int_equal((int)num(j, "connections.failed"), 2);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "passed")));
	cJSON_Delete(j);
	free(out);
}

/* Files of room PREFIXi in s's data directory that still exist. */
static int room_files_left(const server *s, const char *prefix, int rooms)
{
	int left = 0;
	for (int i = 0; i < rooms; i++) {
		const char *sfx[] = {"", "-wal", "-shm"};
		for (int k = 0; k < 3; k++) {
			char p[256];
			struct stat sb;
			char room[64];
			snprintf(room, sizeof(room), "%s%d", prefix, i);
			rd_room_db(s->rd, room, p, sizeof(p));
			snprintf(p + strlen(p), sizeof(p) - strlen(p), "%s", sfx[k]);
			left += stat(p, &sb) == 0;
		}
	}
	return left;
}

/* --cleanup deletes the run's rooms at the end: with an owner token minted
 * from --secret-file, and the report (JSON on stdout) is unchanged. The
 * rooms' files are gone once roomd's loader thread has removed them. */
static void test_cleanup_deletes_the_rooms(void **state)
{
	server *s = *state;
	char *out;
	const char *const args[] = {"--rooms",
				    "3",
				    "--clients",
				    "2",
				    "--rate",
				    "5",
				    "--duration",
				    "1",
				    "--secret-file",
				    s->secret_path,
				    "--room-prefix",
				    "cl-",
				    "--cleanup",
				    "--json",
				    "-q",
				    NULL};
	int rc = run_roomload(s, &out, args);
	cJSON *j = parse_report(out);
	assert_int_equal(rc, 0);
	assert_clean(j, 3, 2, 2);
	cJSON_Delete(j);
	free(out);
	int64_t end = now_ms() + rt_scaled_ms(5000);
	while (room_files_left(s, "cl-", 3) && now_ms() < end)
		usleep(10000);
	assert_int_equal(room_files_left(s, "cl-", 3), 0);
}

/* Without a secret roomd lets a loopback client delete: --cleanup prints
 * its summary after the text report; rooms of another prefix stay. */
static void test_cleanup_without_secret(void **state)
{
	server *s = *state;
	char *out;
	/* A run that writes (a room's file is created by its first op) and
	 * does not clean up leaves its room. */
	const char *const keep[] = {"--rooms",	     "1",     "--clients",  "1",
				    "--rate",	     "5",     "--duration", "0.5",
				    "--room-prefix", "keep-", "-q",	    NULL};
	assert_int_equal(run_roomload(s, &out, keep), 0);
	free(out);
	const char *const args[] = {
	    "--rooms",	     "2",   "--clients", "1",  "--rate", "5", "--duration", "0.5",
	    "--room-prefix", "cl-", "--cleanup", "-q", NULL};
	assert_int_equal(run_roomload(s, &out, args), 0);
	assert_non_null(strstr(out, "cleanup: 2 rooms deleted, 0 not found\n"));
	free(out);
	int64_t end = now_ms() + rt_scaled_ms(5000);
	while (room_files_left(s, "cl-", 2) && now_ms() < end)
		usleep(10000);
	assert_int_equal(room_files_left(s, "cl-", 2), 0);
	assert_true(room_files_left(s, "keep-", 1) > 0);
}

static void test_missed_p99_exits_1(void **state)
{
	server *s = *state;
	char *out;
	const char *const args[] = {
	    "--rooms", "2",	    "--clients", "5",	   "--rate", "5", "--duration",
	    "1",       "--max-p99", "0.001",	 "--json", "-q",     NULL};
	int rc = run_roomload(s, &out, args);
	cJSON *j = parse_report(out);
	assert_int_equal(rc, 1);
	assert_int_equal((int)num(j, "violations.total"), 0); /* only the p99 missed */
	assert_true(num(j, "latency_ms.delivery.p99") > 0.001);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "passed")));
	cJSON_Delete(j);
	free(out);

	/* The same load with a generous bound passes. */
	const char *const ok[] = {
	    "--rooms",	  "2",	"--clients", "5",     "--rate",		 "5",
	    "--duration", "1",	"--max-p99", "10000", "--min-delivered", "1",
	    "--json",	  "-q", NULL};
	rc = run_roomload(s, &out, ok);
	assert_int_equal(rc, 0);
	free(out);

	/* --min-delivered above what can be delivered fails. */
	const char *const few[] = {"--rooms",	      "1",	 "--clients",  "2",
				   "--rate",	      "2",	 "--duration", "1",
				   "--min-delivered", "1000000", "-q",	       NULL};
	rc = run_roomload(s, &out, few);
	assert_int_equal(rc, 1);
	free(out);
}

static void test_churn_resumes_without_gaps(void **state)
{
	server *s = *state;
	char *out;
	RT_SKIP_UNDER_VALGRIND("counts ops sent and acked in a fixed 3 s run");
	/* Every client drops and resumes about every 0.5 s while chat goes on:
	 * the replay must fill every gap (the stream checks see no gap and no
	 * duplicate), so each op still reaches each other client exactly once. */
	const char *const args[] = {"--rooms",
				    "4",
				    "--clients",
				    "8",
				    "--rate",
				    "4",
				    "--duration",
				    "3",
				    "--scenario",
				    "churn",
				    "--reconnect-every",
				    "0.5",
				    "--json",
				    "-q",
				    NULL};
	int rc = run_roomload(s, &out, args);
	cJSON *j = parse_report(out);
	assert_int_equal(rc, 0);
	assert_int_equal((int)num(j, "violations.total"), 0);
	assert_int_equal((int)num(j, "connections.established"), 32);
	assert_int_equal((int)num(j, "connections.closed_by_server"), 0);
	double reconnects = num(j, "reconnects");
	assert_true(reconnects >= 32 * 2); /* about 6 each; at least 2 */
	assert_true(num(j, "resumed") == reconnects);
	double sent = num(j, "ops_sent"), acked = num(j, "ops_acked");
	assert_true(sent >= 4 * 8 * 11);
	/* An op in flight at a reconnect is answered by its replayed event. */
	assert_true(acked + num(j, "own_replayed") == sent);
	assert_true(num(j, "events_delivered") == sent * 7);
	cJSON_Delete(j);
	free(out);
}

/* Until every room load-0..load-(rooms-1) has committed at least min ops
 * (GET /v1/rooms): the load is running. Fails the test after 20 s. */
static void wait_rooms_busy(server *s, int rooms, int64_t min)
{
	int64_t deadline = now_ms() + rt_scaled_ms(20000);
	for (;;) {
		char *body = NULL;
		int busy = 0;
		if (rt_http(s->rd, "/v1/rooms", NULL, &body) == 200) {
			cJSON *list = cJSON_Parse(body);
			const cJSON *r;
			cJSON_ArrayForEach(r, list)
			{
				const cJSON *name =
				    cJSON_GetObjectItemCaseSensitive(r, "room");
				const cJSON *seq =
				    cJSON_GetObjectItemCaseSensitive(r, "seq");
				if (cJSON_IsString(name) &&
				    !strncmp(name->valuestring, "load-", 5) &&
				    cJSON_IsNumber(seq) &&
				    seq->valuedouble >= (double)min)
					busy++;
			}
			cJSON_Delete(list);
		}
		free(body);
		if (busy >= rooms)
			return;
		if (now_ms() > deadline)
			fail_msg("the load did not reach seq %lld in %d rooms",
				 (long long)min, rooms);
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* The room file of one roomd, for cl_check_acked. */
static bool room_db_of(void *ctx, const char *room, char *path, size_t n)
{
	rd_room_db(ctx, room, path, n);
	return access(path, R_OK) == 0;
}

/* --reconnect: roomd is killed with SIGKILL mid-run and started again on
 * the same port and data directory about 1 s later. Every client is
 * dropped once and comes back resumed (the room files keep the epoch and
 * every committed event), ops in flight are resent, nothing is a
 * violation, roomload exits 0; and every op it reports committed is in the
 * room's log at that seq, read with roomctl events once roomd has stopped. */
static void test_reconnect_survives_sigkill(void **state)
{
	server *s = *state;
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d", s->port);
	const char *const args[] = {"--rooms", "4",	      "--clients",  "4",
				    "--rate",  "25",	      "--duration", "4",
				    "-q",      "--reconnect", NULL};
	s->load = cl_load_start(url, args);
	assert_non_null(s->load);
	wait_rooms_busy(s, 4, 20);
	assert_int_equal(rd_stop(s->rd, SIGKILL), 137);
	struct timespec outage = {1, 0};
	nanosleep(&outage, NULL);
	char listen[32];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	const char *const again[] = {"--log-level", "warn", "--listen", listen, NULL};
	assert_int_equal(rd_restart(s->rd, again), 0);
	assert_int_equal(s->rd->port, s->port);

	int status;
	cJSON *j = cl_load_wait(s->load, RUN_TIMEOUT_MS, &status);
	assert_int_equal(status, 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "passed")));
	assert_int_equal((int)cl_num(j, "violations.total"), 0);
	assert_int_equal((int)cl_num(j, "connections.established"), 16);
	assert_int_equal((int)cl_num(j, "connections.closed_by_server"), 0);
	/* Each of the 16 connections was dropped once and came back resumed. */
	assert_int_equal((int)cl_num(j, "drops"), 16);
	assert_int_equal((int)cl_num(j, "reconnects"), 16);
	assert_int_equal((int)cl_num(j, "resumed"), 16);
	assert_int_equal((int)cl_num(j, "full_state_welcomes"), 0);
	assert_int_equal((int)cl_num(j, "unrecovered"), 0);
	assert_int_equal((int)cl_num(j, "unanswered_at_end"), 0);
	/* The outage lasted the second we waited, at least. */
	assert_true(cl_num(j, "max_outage_ms") >= 900);
	assert_true(cl_num(j, "reconnect_failed") > 0); /* refused meanwhile */
	double acked = cl_num(j, "ops_acked"), lines = cl_num(j, "acked_file_lines");
	assert_true(acked > 0);
	/* Every acked op is a line; so is an op answered only by its replay. */
	assert_true(lines >= acked);
	assert_true(lines <= cl_num(j, "ops_sent"));
	cJSON_Delete(j);

	assert_int_equal(rd_stop(s->rd, SIGTERM), 0);
	long checked = cl_check_acked(s->load->acked_path, room_db_of, s->rd);
	assert_int_equal(checked, (long)lines);

	/* The check can fail: an op the log does not have at its seq, and a
	 * seq past the log's end. */
	char room[80], id[80], why[512];
	long long seq;
	FILE *f = fopen(s->load->acked_path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%79s %lld %79s", room, &seq, id), 3);
	fclose(f);
	char bad[256];
	snprintf(bad, sizeof(bad), "%s %lld c999999.1\n", room, seq);
	char *path = rt_temp_file(bad);
	assert_int_equal(cl_acked_verify(path, room_db_of, s->rd, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "but the log has"));
	unlink(path);
	free(path);
	snprintf(bad, sizeof(bad), "%s %lld %s\n", room, seq + 1000000, id);
	path = rt_temp_file(bad);
	assert_int_equal(cl_acked_verify(path, room_db_of, s->rd, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "has nothing there"));
	unlink(path);
	free(path);
}

/* --reconnect fails a run whose server lost committed ops: roomd is
 * killed and started again on its port with an empty data directory (every
 * room's history gone, a new epoch). The clients reconnect to a full state
 * behind the seqs they had seen: rewound, and roomload exits 1. */
static void test_reconnect_to_lost_history_fails(void **state)
{
	server *s = *state;
	char url[64];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d", s->port);
	const char *const args[] = {"--rooms", "2",	      "--clients",  "2",
				    "--rate",  "20",	      "--duration", "2",
				    "-q",      "--reconnect", NULL};
	s->load = cl_load_start(url, args);
	assert_non_null(s->load);
	wait_rooms_busy(s, 2, 10);
	assert_int_equal(rd_stop(s->rd, SIGKILL), 137);
	char listen[32], empty[PATH_MAX];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	snprintf(empty, sizeof(empty), "%.*s/empty", (int)sizeof(empty) - 8,
		 s->rd->tmp_dir);
	assert_int_equal(mkdir(empty, 0700), 0);
	const char *const again[] = {"--log-level", "warn", "--listen", listen,
				     "--data",	    empty,  NULL};
	assert_int_equal(rd_restart(s->rd, again), 0);

	int status;
	cJSON *j = cl_load_wait(s->load, RUN_TIMEOUT_MS, &status);
	assert_int_equal(status, 1);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "passed")));
	assert_int_equal((int)cl_num(j, "reconnects"), 4);
	assert_int_equal((int)cl_num(j, "full_state_welcomes"), 4);
	assert_int_equal((int)cl_num(j, "violations.rewound"), 4);
	cJSON_Delete(j);
}

static void test_usage(void **state)
{
	(void)state;
	server none = {.port = 1};
	server *s = &none;
	char *out;
	const char *const help[] = {"--help", NULL};
	assert_int_equal(run_roomload(s, &out, help), 0);
	assert_non_null(strstr(out, "open loop"));
	assert_non_null(strstr(out, "--reconnect"));
	assert_non_null(strstr(out, "--acked-file FILE"));
	assert_non_null(strstr(out, "coordinated omission"));
	free(out);
	const char *const bad[] = {"--rooms", "zero", NULL};
	assert_int_equal(run_roomload(s, &out, bad), 2);
	free(out);
	const char *const sc[] = {"--scenario", "nope", NULL};
	assert_int_equal(run_roomload(s, &out, sc), 2);
	free(out);
	const char *const acked[] = {"--acked-file", "", NULL};
	assert_int_equal(run_roomload(s, &out, acked), 2);
	free(out);
	const char *const drain[] = {"--drain", "-1", NULL};
	assert_int_equal(run_roomload(s, &out, drain), 2);
	free(out);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usage),
	    cmocka_unit_test_setup_teardown(test_chat_load_is_clean, setup_plain,
					    teardown_server),
	    cmocka_unit_test_setup_teardown(test_procs_merge_into_one_report, setup_plain,
					    teardown_server),
	    cmocka_unit_test_setup_teardown(test_procs_worker_crash_fails_the_run,
					    setup_plain, teardown_server),
	    cmocka_unit_test_setup_teardown(test_cleanup_deletes_the_rooms, setup_secret,
					    teardown_server),
	    cmocka_unit_test_setup_teardown(test_cleanup_without_secret, setup_plain,
					    teardown_server),
	    cmocka_unit_test_setup_teardown(test_tokens_viewers_and_poll, setup_secret,
					    teardown_server),
	    cmocka_unit_test_setup_teardown(test_missed_p99_exits_1, setup_plain,
					    teardown_server),
	    cmocka_unit_test_setup_teardown(test_churn_resumes_without_gaps, setup_plain,
					    teardown_server),
	    cmocka_unit_test_setup_teardown(test_reconnect_survives_sigkill, setup_plain,
					    teardown_stopped),
	    cmocka_unit_test_setup_teardown(test_reconnect_to_lost_history_fails,
					    setup_plain, teardown_stopped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
