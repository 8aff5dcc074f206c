/*
 * test_roomd_abuse.c - hostile clients against the real roomd, each with a
 * bystander in the same room who must keep getting events, and nothing
 * written for refused input: hostile messages (binary, invalid UTF-8, deep
 * nesting, oversized ops and frames, floods of bad messages), thousands of
 * connect/drop cycles (roomd's fds and memory stay bounded), slowloris on
 * the HTTP upgrade (--handshake-timeout), and the per-IP limits
 * (--conn-rate, --max-conns-per-ip: HTTP 429 with Retry-After; loopback
 * exempt unless --limit-loopback). Frame limits, tokens, room ids, rates
 * and slow consumers have their own tests in test_roomd_limits.c and
 * test_roomd_protocol.c.
 */
#include <dirent.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "buf.h"
#include "clock.h"
#include "roomtest.h"
#include "timescale.h"

/* A writer and a bystander in one room: the writer's op must reach the
 * bystander as an event, and be the events table's n-th row. */
typedef struct pair {
	struct ws *w, *b;
	int ops;
	char db[PATH_MAX + 64];
} pair;

static void pair_join(rd_proc *rd, pair *p, const char *room)
{
	p->w = rt_join(rd, room, "name=writer", NULL);
	p->b = rt_join(rd, room, "name=bystander", NULL);
	p->ops = 0;
	rd_room_db(rd, room, p->db, sizeof(p->db));
}

static void pair_check(pair *p)
{
	char id[32];
	snprintf(id, sizeof(id), "w%d", ++p->ops);
	if (rt_op(p->w, id, "{\"k\":\"chat.post\",\"text\":\"hello\"}", NULL) != p->ops)
		fail_msg("writer's op %s not acked at seq %d", id, p->ops);
	cJSON *e = rt_expect(p->b, "event");
	assert_string_equal(rt_str(e, "id"), id);
	cJSON_Delete(e);
	/* Nothing but the writer's ops was ever logged. */
	assert_int_equal(rt_sql_int(p->db, "SELECT count(*) FROM events"), p->ops);
}

static void pair_free(pair *p)
{
	rt_free(p->w);
	rt_free(p->b);
}

static int count_room_files(rd_proc *rd)
{
	char dir[PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%s/rooms", rd->data_dir);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		n += len > 3 && strcmp(de->d_name + len - 3, ".db") == 0;
	}
	closedir(d);
	return n;
}

/* Deep nesting of n arrays around 1, inside a frame: `pre` [[[1]]] `post`. */
static char *nested(const char *pre, int n, const char *post)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_puts(&b, pre);
	for (int i = 0; i < n; i++)
		rk_buf_putc(&b, '[');
	rk_buf_putc(&b, '1');
	for (int i = 0; i < n; i++)
		rk_buf_putc(&b, ']');
	rk_buf_puts(&b, post);
	return rk_buf_steal(&b, NULL);
}

/* Hostile messages, one attacker each: the documented reply or close code
 * comes back, the bystander keeps getting the writer's events, and nothing
 * of the attacker's input is logged. */
static void test_hostile_messages(void **state)
{
	(void)state;
	const char *args[] = {"--max-frame", "8192", NULL};
	rd_proc *rd = rt_start(args);
	pair p;
	pair_join(rd, &p, "hostile");
	pair_check(&p);
	char *deep = nested("", 3000, "");
	char *deep_op =
	    nested("{\"t\":\"op\",\"id\":\"n\",\"op\":{\"k\":\"chat.post\",\"text\":"
		   "\"x\",\"extra\":",
		   2000, "}}");
	char long_text[2200];
	snprintf(long_text, sizeof(long_text),
		 "{\"t\":\"op\",\"id\":\"big\",\"op\":{\"k\":"
		 "\"chat.post\",\"text\":\"%02001d\"}}",
		 0);
	char too_long_id[200];
	snprintf(too_long_id, sizeof(too_long_id),
		 "{\"t\":\"op\",\"id\":\"%070d\",\"op\":{\"k\":"
		 "\"chat.post\",\"text\":\"x\"}}",
		 0);
	char over_frame[9000];
	snprintf(over_frame, sizeof(over_frame),
		 "{\"t\":\"signal\",\"data\":\"%08900d\"}", 0);
	static const unsigned char bin[] = {0x00, 0xff, 0x7b, 0x7d};
	const struct {
		const char *name;
		int opcode; /* WS_OP_TEXT or WS_OP_BINARY */
		const char *frame;
		size_t len;	  /* 0: strlen */
		const char *t;	  /* reply type (when close is 0) */
		const char *code; /* error/reject code */
		int close;
	} cases[] = {
	    {"binary frame", WS_OP_BINARY, (const char *)bin, sizeof(bin), "error",
	     "bad_message", 0},
	    {"invalid UTF-8", WS_OP_TEXT, "{\"t\":\"ping\",\"id\":\"\xc3\x28\"}", 0,
	     "error", "bad_json", 0},
	    {"overlong UTF-8", WS_OP_TEXT, "{\"t\":\"ping\",\"id\":\"\xc0\xaf\"}", 0,
	     "error", "bad_json", 0},
	    {"3000-deep JSON", WS_OP_TEXT, deep, 0, "error", "bad_json", 0},
	    {"2000-deep JSON in an op", WS_OP_TEXT, deep_op, 0, "error", "bad_json", 0},
	    {"op text over 2000 chars", WS_OP_TEXT, long_text, 0, "reject", "too_large",
	     0},
	    {"op id over 64 bytes", WS_OP_TEXT, too_long_id, 0, "error", "bad_message",
	     0},
	    {"frame over --max-frame", WS_OP_TEXT, over_frame, 0, NULL, NULL, 1009},
	};
	for (size_t i = 0; i < RK_ARRAY_LEN(cases); i++) {
		struct ws *a = rt_join(rd, "hostile", "name=mallory", NULL);
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].frame);
		assert_int_equal(
		    ws_send_frame(a, cases[i].opcode, true, cases[i].frame, len), 0);
		if (cases[i].close) {
			rt_expect_close(a, cases[i].close, NULL);
		} else {
			cJSON *m = rt_expect(a, cases[i].t);
			if (strcmp(rt_str(m, "code"), cases[i].code) != 0) {
				fail_msg("%s: code %s, want %s", cases[i].name,
					 rt_str(m, "code"), cases[i].code);
			}
			cJSON_Delete(m);
			/* The attacker's connection stays usable. */
			RT_SEND(a, "{\"t\":\"ping\",\"id\":1}");
			cJSON_Delete(rt_expect(a, "pong"));
		}
		rt_free(a);
		pair_check(&p);
	}
	/* A flood of bad messages: 4400, the room goes on. */
	struct ws *a = rt_join(rd, "hostile", "name=mallory", NULL);
	for (int i = 0;
	     i < 100 && ws_send_frame(a, WS_OP_BINARY, true, bin, sizeof(bin)) == 0; i++)
		;
	rt_expect_close(a, 4400, NULL);
	rt_free(a);
	pair_check(&p);
	assert_int_equal(count_room_files(rd), 1);
	pair_free(&p);
	free(deep);
	free(deep_op);
	rd_cleanup(rd);
}

static int64_t metric(rd_proc *rd, const char *line)
{
	char *body = NULL;
	rt_http(rd, "/metrics", NULL, &body);
	const char *m = strstr(body, line);
	int64_t v = m ? strtoll(m + strlen(line), NULL, 10) : -1;
	free(body);
	return v;
}

/* Resident memory of pid in KiB, or -1. */
static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long kb = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A raw TCP connection to roomd (the caller sends what it likes). */
static int raw_connect(rd_proc *rd)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)rd->port)};
	inet_pton(AF_INET, rd->host, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

/* Thousands of connect/drop cycles of five kinds (a join dropped without a
 * close, an upgrade dropped before its welcome is read, a bad room id, a
 * bare TCP connect, half an HTTP request): roomd's fd count returns to
 * where it was, its memory stays bounded, no room file is created for
 * refused input, and the bystander's room never stalls. */
static void test_connect_drop_cycles(void **state)
{
	(void)state;
	enum { CYCLES = 3000, WARMUP = 200 };
#ifdef __SANITIZE_ADDRESS__
	/* ASan keeps freed memory in quarantine (256 MB by default): bound it
	 * so that roomd's RSS says something about roomd. */
	rt_asan_quarantine(8);
	const long max_growth_kb = 64 * 1024;
#else
	const long max_growth_kb = 16 * 1024;
#endif
	rd_proc *rd = rt_start(NULL);
	pair p;
	pair_join(rd, &p, "watch");
	pair_check(&p);
	long rss0 = 0;
	int fd0 = 0;
	int64_t t0 = rk_mono_us();
	for (int i = 0; i < CYCLES; i++) {
		if (i == WARMUP) {
			pair_check(&p);
			usleep(200000);
			rss0 = rss_kb(rd->pid);
			fd0 = fd_count(rd->pid);
		}
		switch (i % 5) {
		case 0: {
			struct ws *w = rt_join(rd, "churn", "name=c", NULL);
			ws_free(w); /* no close frame */
			break;
		}
		case 1: {
			struct ws *w = ws_connect(rd->host, rd->port, "/ws/churn?name=d",
						  NULL, 3000);
			assert_non_null(w);
			ws_free(w);
			break;
		}
		case 2:
			assert_int_equal(ws_connect_status(rd->host, rd->port,
							   "/ws/..%2fx", NULL, 3000,
							   NULL),
					 400);
			break;
		case 3:
			close(raw_connect(rd));
			break;
		default: {
			int fd = raw_connect(rd);
			static const char half[] =
			    "GET /ws/half-open HTTP/1.1\r\nHost: x\r\nUpg";
			assert_int_equal(write(fd, half, sizeof(half) - 1),
					 (ssize_t)sizeof(half) - 1);
			close(fd);
			break;
		}
		}
		if (i % 500 == 499)
			pair_check(&p);
	}
	double secs = (double)(rk_mono_us() - t0) / 1e6;
	pair_check(&p);
	/* roomd notices the last drops within a moment. */
	int fds = fd_count(rd->pid);
	for (int k = 0; k < 50 && fds > fd0 + 4; k++) {
		usleep(100000);
		fds = fd_count(rd->pid);
	}
	long rss = rss_kb(rd->pid);
	printf(
	    "connect/drop: %d cycles in %.1f s; roomd fds %d -> %d, RSS %ld -> %ld KiB\n",
	    CYCLES, secs, fd0, fds, rss0, rss);
	if (fds > fd0 + 4)
		fail_msg("roomd has %d fds, %d before the cycles", fds, fd0);
	/* Under valgrind RSS is mostly memcheck's own (shadow memory, code
	 * translated as new paths run); its leak check speaks for roomd there. */
	if (rss - rss0 > max_growth_kb && !rt_under_valgrind())
		fail_msg("roomd RSS grew by %ld KiB", rss - rss0);
	/* Only the room with ops has a file: the churn room was joined
	 * and left thousands of times, never written to (a new room's file
	 * is created by its first op), and refused input creates nothing. */
	assert_int_equal(count_room_files(rd), 1);
	/* Every dropped connection is gone: only the writer and bystander. */
	int64_t conns = -1;
	for (int k = 0; k < 100 && conns != 2; k++) {
		if (k)
			usleep(50000);
		conns = metric(rd, "\nroomd_connections ");
	}
	assert_int_equal(conns, 2);
	pair_free(&p);
	rd_cleanup(rd);
}

/* True once the server has closed fd (EOF or reset), without blocking. */
static bool dropped(int fd)
{
	char c;
	ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Slowloris: connections that send their upgrade request one byte every
 * 250 ms, and connections that send nothing, are dropped once
 * --handshake-timeout passes (well before the request would be complete),
 * while the bystander's room keeps going; the room they name never gets a
 * file. */
static void test_slowloris(void **state)
{
	(void)state;
	const char *args[] = {"--handshake-timeout", "2", NULL};
	rd_proc *rd = rt_start(args);
	pair p;
	pair_join(rd, &p, "steady");
	enum { SLOW = 20, SILENT = 5 };
	static const char req[] =
	    "GET /ws/loris?name=slow HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: "
	    "websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n";
	int fds[SLOW + SILENT];
	bool gone[SLOW + SILENT] = {false};
	for (int i = 0; i < SLOW + SILENT; i++)
		fds[i] = raw_connect(rd);
	int64_t t0 = rk_mono_us();
	size_t pos = 0;
	int left = SLOW + SILENT;
	double last_drop_s = 0;
	while (left > 0) {
		double t = (double)(rk_mono_us() - t0) / 1e6;
		if (t > 20)
			fail_msg("%d slow connections still open after %.1f s", left, t);
		for (int i = 0; i < SLOW + SILENT; i++) {
			if (gone[i])
				continue;
			if (dropped(fds[i]) ||
			    (i < SLOW && pos < sizeof(req) - 1 &&
			     send(fds[i], req + pos, 1, MSG_NOSIGNAL) != 1)) {
				gone[i] = true;
				left--;
				last_drop_s = t;
			}
		}
		pos++;
		if (pos >= sizeof(req) - 1)
			fail_msg("a whole request went through at one byte per 250 ms");
		pair_check(&p); /* the room is not disturbed meanwhile */
		usleep(250000);
	}
	printf("slowloris: %d dripping + %d silent connections dropped by %.1f s "
	       "(--handshake-timeout 2), after %zu of %zu request bytes\n",
	       SLOW, SILENT, last_drop_s, pos, sizeof(req) - 1);
	assert_true(last_drop_s >= 1.0);
	for (int i = 0; i < SLOW + SILENT; i++)
		close(fds[i]);
	char db[PATH_MAX + 64];
	assert_int_equal(access(rd_room_db(rd, "loris", db, sizeof(db)), F_OK), -1);
	pair_check(&p);
	pair_free(&p);
	rd_cleanup(rd);
}

/* One upgrade attempt from source address src; the status (101: accepted,
 * the connection is returned in *out if out is not NULL, else dropped). */
static int upgrade_from(rd_proc *rd, const char *src, const char *path, struct ws **out,
			int *retry_after)
{
	ws_opts o = {.bind_addr = src, .timeout_ms = 5000};
	http_reply r = {0};
	struct ws *w = ws_connect_ex(rd->host, rd->port, path, &o, &r);
	int st = w ? 101 : r.status;
	char ra[16];
	if (retry_after)
		*retry_after =
		    http_reply_header(&r, "Retry-After", ra, sizeof(ra)) ? atoi(ra) : -1;
	if (!w && st == 0)
		fail_msg("upgrade from %s: %s", src, r.error);
	http_reply_free(&r);
	if (out)
		*out = w;
	else
		ws_free(w);
	return st;
}

/* Per-IP limits: with a tight --conn-rate, a flood of upgrades from
 * 127.0.0.2 is refused with 429 and Retry-After before any room is touched
 * (no file for the refused rooms), while 127.0.0.1 connects and its room
 * goes on; once Retry-After has passed 127.0.0.2 gets in again. Then
 * --max-conns-per-ip, and the default exemption of loopback. */
static void test_per_ip_limits(void **state)
{
	(void)state;
	const char *args[] = {"--conn-rate",	  "2", "--conn-burst", "5",
			      "--limit-loopback", NULL};
	rd_proc *rd = rt_start(args);
	pair p;
	pair_join(rd, &p, "local"); /* 2 of 127.0.0.1's 5 */
	int ok = 0, refused = 0, retry = 0;
	int64_t t0 = rk_mono_us();
	for (int i = 0; i < 40; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/ws/flood-%d?name=f", i);
		int ra;
		int st = upgrade_from(rd, "127.0.0.2", path, NULL, &ra);
		char db[PATH_MAX + 64];
		rd_room_db(rd, path + 4, db, sizeof(db));
		*strchr(db + strlen(rd->data_dir), '?') = '\0';
		strcat(db, ".db");
		if (st == 101) {
			ok++;
		} else {
			assert_int_equal(st, 429);
			assert_true(ra >= 1);
			retry = ra;
			refused++;
			assert_int_equal(access(db, F_OK), -1);
		}
	}
	double secs = (double)(rk_mono_us() - t0) / 1e6;
	/* 5 at once, 2 more per second of the flood. */
	printf(
	    "per-IP rate: 40 upgrades from 127.0.0.2 in %.2f s: %d accepted, %d refused "
	    "with 429 (Retry-After %d)\n",
	    secs, ok, refused, retry);
	assert_true(ok >= 5 && ok <= 5 + (int)(secs * 2) + 1);
	assert_true(refused >= 40 - 5 - (int)(secs * 2) - 1);
	assert_int_equal(
	    metric(rd, "roomd_connections_refused_total{reason=\"conn_rate\"} "),
	    refused);
	/* 127.0.0.1 is unaffected: it joins, and its room goes on. */
	struct ws *l = rt_join(rd, "local", "name=late", NULL);
	pair_check(&p);
	rt_free(l);
	usleep((useconds_t)retry * 1000000);
	assert_int_equal(upgrade_from(rd, "127.0.0.2", "/ws/local?name=back", NULL, NULL),
			 101);

	/* At most 3 open connections per address. */
	const char *args2[] = {"--conn-rate",	   "0", "--max-conns-per-ip", "3",
			       "--limit-loopback", NULL};
	pair_free(&p);
	assert_int_equal(rd_restart(rd, args2), 0);
	struct ws *c[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    upgrade_from(rd, "127.0.0.2", "/ws/cap?name=c", &c[i], NULL), 101);
	assert_int_equal(upgrade_from(rd, "127.0.0.2", "/ws/cap?name=c", NULL, NULL),
			 429);
	assert_int_equal(upgrade_from(rd, "127.0.0.3", "/ws/cap?name=c", NULL, NULL),
			 101);
	ws_close(c[0], 1000);
	ws_free(c[0]);
	int st = 429;
	for (int k = 0; k < 250 && st == 429; k++) {
		usleep(20000); /* until roomd has seen the close */
		st = upgrade_from(rd, "127.0.0.2", "/ws/cap?name=c", &c[0], NULL);
	}
	assert_int_equal(st, 101);
	assert_true(
	    metric(rd, "roomd_connections_refused_total{reason=\"max_conns_per_ip\"} ") >=
	    1);
	for (int i = 0; i < 3; i++)
		ws_free(c[i]);

	/* By default loopback is exempt: a tight rate does not stop it. */
	const char *args3[] = {"--conn-rate", "1", "--conn-burst", "1", NULL};
	assert_int_equal(rd_restart(rd, args3), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(
		    upgrade_from(rd, "127.0.0.2", "/ws/lo?name=x", NULL, NULL), 101);
	rd_cleanup(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hostile_messages),
	    cmocka_unit_test(test_connect_drop_cycles),
	    cmocka_unit_test(test_slowloris),
	    cmocka_unit_test(test_per_ip_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
