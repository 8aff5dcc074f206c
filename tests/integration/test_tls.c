/*
 * test_tls.c - roomd with --tls-cert/--tls-key serves wss:// and https://
 * on one port, and every client speaks it: the raw test client (OpenSSL),
 * roomctl (libcurl), roomload and roomtui (libwebsockets), each verifying
 * the server's certificate against --ca. A certificate made at run time
 * (tlscert.h: self-signed, CN/SAN 127.0.0.1 and localhost) is the only
 * trust anchor; clients without it, plain ws:// and http://, and a
 * certificate for another name are refused while roomd keeps serving.
 * Back-pressure over TLS (lws buffers what SSL_write could not send) loses
 * nothing, and a reader that never reads is still closed with 4507.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "clock.h"
#include "roomtest.h"
#include "timescale.h"
#include "tlscert.h"

#define RUN_TIMEOUT_MS 60000
#define SCREEN_TIMEOUT_MS 15000

typedef struct tctx {
	char dir[64];			      /* temporary: certificates, keys */
	char cert[256], key[256];	      /* for 127.0.0.1 and localhost */
	char other_cert[256], other_key[256]; /* for example.com only */
	rd_proc *rd;			      /* roomd with cert and key */
	char url[64];			      /* wss://127.0.0.1:PORT */
	char https[64];			      /* https://127.0.0.1:PORT */
} tctx;

static const char *bin(const char *env)
{
	const char *b = getenv(env);
	if (!b)
		fail_msg("%s is not set (run through ctest)", env);
	return b;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(path);
}

static int group_setup(void **state)
{
	tctx *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/rk-tls-XXXXXX");
	if (!mkdtemp(t->dir) ||
	    tls_make_cert(t->dir, "server", "127.0.0.1", "IP:127.0.0.1,DNS:localhost",
			  t->cert, t->key, sizeof(t->cert)) != 0 ||
	    tls_make_cert(t->dir, "other", "example.com", "DNS:example.com",
			  t->other_cert, t->other_key, sizeof(t->other_cert)) != 0) {
		free(t);
		return -1;
	}
	const char *args[] = {"--tls-cert", t->cert, "--tls-key", t->key, NULL};
	t->rd = rd_start(args, NULL);
	if (!t->rd) {
		nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		free(t);
		return -1;
	}
	snprintf(t->url, sizeof(t->url), "wss://127.0.0.1:%d", t->rd->port);
	snprintf(t->https, sizeof(t->https), "https://127.0.0.1:%d", t->rd->port);
	*state = t;
	return 0;
}

static int group_teardown(void **state)
{
	tctx *t = *state;
	if (!t)
		return 0;
	rd_cleanup(t->rd);
	nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* Run a tool (argv NULL-terminated) and check its exit status and that
 * its output (stdout and stderr) contains says (if not NULL). */
static void expect_run(const char *const *argv, int code, const char *says)
{
	char *out = NULL;
	int rc = rt_run(argv, RUN_TIMEOUT_MS, &out);
	if (rc != code || (says && !strstr(out, says)))
		fail_msg("%s %s: exit %d (want %d, saying \"%s\"), output:\n%s", argv[0],
			 argv[1], rc, code, says ? says : "", out);
	free(out);
}

/* Join room over wss:// trusting t's certificate; fails the test if refused. */
static struct ws *join(tctx *t, rd_proc *rd, const char *room, const char *name)
{
	char q[96];
	snprintf(q, sizeof(q), "name=%s", name);
	ws_opts o = {.subprotocol = "room.v1", .tls_ca = t->cert, .timeout_ms = 10000};
	return rt_join_ex(rd, room, q, &o, NULL);
}

/* The first event of kind k; others skipped. Caller frees. */
static cJSON *expect_event(struct ws *w, const char *k)
{
	for (;;) {
		cJSON *ev = rt_expect(w, "event");
		if (strcmp(rt_str(cJSON_GetObjectItem(ev, "op"), "k"), k) == 0)
			return ev;
		cJSON_Delete(ev);
	}
}

/* Two wss:// clients of one room: acks to the sender, events to the other,
 * in both directions; the roomd log says TLS is on. */
static void test_wss_clients_see_each_other(void **state)
{
	tctx *t = *state;
	assert_true(rd_log_contains(t->rd, "TLS on"));
	assert_true(rd_log_contains(t->rd, "(TLS)"));
	struct ws *a = join(t, t->rd, "tls-room", "alice");
	struct ws *b = join(t, t->rd, "tls-room", "bob");
	cJSON *pj = rt_expect(a, "presence");
	cJSON_Delete(pj);

	int64_t s1 =
	    rt_op(a, "a1", "{\"k\":\"chat.post\",\"text\":\"hello over tls\"}", NULL);
	assert_true(s1 > 0);
	cJSON *ev = expect_event(b, "chat.post");
	assert_int_equal(rt_int(ev, "seq"), s1);
	assert_string_equal(rt_str(ev, "user"), "alice");
	assert_string_equal(rt_str(cJSON_GetObjectItem(ev, "op"), "text"),
			    "hello over tls");
	cJSON_Delete(ev);

	int64_t s2 = rt_op(b, "b1", "{\"k\":\"chat.post\",\"text\":\"hi alice\"}", NULL);
	assert_int_equal(s2, s1 + 1);
	ev = expect_event(a, "chat.post");
	assert_int_equal(rt_int(ev, "seq"), s2);
	assert_string_equal(rt_str(ev, "user"), "bob");
	cJSON_Delete(ev);
	assert_int_equal(ws_close(a, 1000), 1000);
	rt_free(a);
	rt_free(b);
}

/* A stroke of BIG_POINTS points [100000+i,-100000-i]: ~48 KiB of JSON, under
 * --max-frame 65536. Caller frees op. */
#define BIG_POINTS 3500
static void big_stroke(rk_buf *op)
{
	rk_buf_init(op, 0);
	rk_buf_puts(op,
		    "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s1\",\"type\":\"stroke\","
		    "\"color\":1,\"points\":[");
	for (int i = 0; i < BIG_POINTS; i++)
		rk_buf_printf(op, "%s[%d,%d]", i ? "," : "", 100000 + i, -100000 - i);
	rk_buf_puts(op, "]}}");
	assert_int_equal(rk_buf_ok(op), RK_OK);
}

/* A message larger than half of roomd's coalescing buffer takes the
 * single-frame path (many TLS records); it arrives whole, and a small one
 * queued behind it still follows in order. */
static void test_big_event_over_tls(void **state)
{
	tctx *t = *state;
	struct ws *a = join(t, t->rd, "tls-big", "alice");
	struct ws *b = join(t, t->rd, "tls-big", "bob");
	rk_buf op;
	int npoints = BIG_POINTS;
	big_stroke(&op);
	rt_send_op(a, "big", op.data);
	rt_send_op(a, "small", "{\"k\":\"chat.post\",\"text\":\"after the big one\"}");
	cJSON *ev = expect_event(b, "shape.add");
	const cJSON *pts = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "op"), "shape"), "points");
	assert_int_equal(cJSON_GetArraySize(pts), npoints);
	const cJSON *last = cJSON_GetArrayItem(pts, npoints - 1);
	assert_int_equal((int)cJSON_GetArrayItem(last, 0)->valuedouble,
			 100000 + npoints - 1);
	int64_t seq = rt_int(ev, "seq");
	cJSON_Delete(ev);
	ev = expect_event(b, "chat.post");
	assert_int_equal(rt_int(ev, "seq"), seq + 1);
	cJSON_Delete(ev);
	rk_buf_free(&op);
	rt_free(a);
	rt_free(b);
}

/* The HTTP endpoints answer over https://: to the test client and to
 * roomctl with --ca or ROOMCTL_CA. */
static void test_https_endpoints(void **state)
{
	tctx *t = *state;
	struct ws *a = join(t, t->rd, "tls-http", "alice");
	rk_buf op;
	big_stroke(&op); /* a /v1/rooms/tls-http body of several HTTP chunks */
	assert_true(rt_op(a, "x1", op.data, NULL) > 0);
	rk_buf_free(&op);
	int status = 0;
	char *body = NULL;
	assert_int_equal(http_get_tls("127.0.0.1", t->rd->port, t->cert, "/healthz", NULL,
				      RT_TIMEOUT_MS, &status, &body),
			 0);
	assert_int_equal(status, 200);
	assert_string_equal(body, "ok\n");
	free(body);
	assert_int_equal(http_get_tls("127.0.0.1", t->rd->port, t->cert, "/v1/rooms",
				      NULL, RT_TIMEOUT_MS, &status, &body),
			 0);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, "\"room\":\"tls-http\""));
	free(body);
	assert_int_equal(http_get_tls("127.0.0.1", t->rd->port, t->cert,
				      "/v1/rooms/tls-http", NULL, RT_TIMEOUT_MS, &status,
				      &body),
			 0);
	assert_int_equal(status, 200);
	char last[64];
	snprintf(last, sizeof(last), "[%d,%d]]", 100000 + BIG_POINTS - 1,
		 -100000 - BIG_POINTS + 1);
	assert_non_null(strstr(body, last)); /* the whole state, to its last point */
	free(body);

	const char *health[] = {
	    bin("ROOMCTL_BIN"), "health", "--server", t->https, "--ca", t->cert, NULL};
	expect_run(health, 0, "ok\n");
	const char *rooms[] = {bin("ROOMCTL_BIN"), "rooms",  "--server",
			       t->https,	   "--json", NULL};
	setenv("ROOMCTL_CA", t->cert, 1);
	expect_run(rooms, 0, "\"room\":\"tls-http\"");
	unsetenv("ROOMCTL_CA");
	const char *room[] = {bin("ROOMCTL_BIN"), "room", "tls-http", "--server",
			      t->https,		  "--ca", t->cert,    NULL};
	expect_run(room, 0, "connections:  1");
	rt_free(a);
}

/* Without the CA, over plain ws:// or http://, or trusting another
 * certificate, a client is refused with a reason that says so; roomd goes
 * on serving the clients that do it right. */
static void test_refused_clients_and_roomd_goes_on(void **state)
{
	tctx *t = *state;
	struct ws *stay = join(t, t->rd, "tls-stay", "stay");

	/* The test client, trusting the wrong certificate. */
	http_reply r;
	ws_opts o = {.tls_ca = t->other_cert, .timeout_ms = 5000};
	assert_null(
	    ws_connect_ex("127.0.0.1", t->rd->port, "/ws/tls-stay?name=x", &o, &r));
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.error, "certificate rejected"));
	http_reply_free(&r);
	/* Plain WebSocket and plain HTTP on the TLS port: no HTTP answer. */
	o = (ws_opts){.timeout_ms = 5000};
	assert_null(
	    ws_connect_ex("127.0.0.1", t->rd->port, "/ws/tls-stay?name=x", &o, &r));
	assert_int_equal(r.status, 0);
	http_reply_free(&r);
	const char get[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	assert_int_equal(
	    http_request("127.0.0.1", t->rd->port, get, strlen(get), 5000, &r), -1);
	http_reply_free(&r);

	/* The tools without --ca: the system's store does not know our CA. */
	const char *ctl[] = {bin("ROOMCTL_BIN"), "health", "--server", t->https, NULL};
	expect_run(ctl, 1,
		   "certificate problem: self-signed certificate (pass the "
		   "server's CA certificate with --ca");
	const char *load[] = {bin("ROOMLOAD_BIN"),
			      "--url",
			      t->url,
			      "--rooms",
			      "1",
			      "--clients",
			      "2",
			      "--rate",
			      "1",
			      "--duration",
			      "1",
			      "-q",
			      NULL};
	expect_run(load, 1, "TLS: server certificate rejected: self-signed certificate");
	/* --ca of a plain URL is a usage error; an unreadable one a runtime one. */
	char ws_url[64];
	snprintf(ws_url, sizeof(ws_url), "ws://127.0.0.1:%d", t->rd->port);
	const char *load_ws[] = {
	    bin("ROOMLOAD_BIN"), "--url", ws_url, "--ca", t->cert, NULL};
	expect_run(load_ws, 2, "--ca is for wss:// URLs");
	const char *load_noca[] = {bin("ROOMLOAD_BIN"),	  "--url", t->url, "--ca",
				   "/nonexistent/ca.pem", NULL};
	expect_run(load_noca, 1, "Error: --ca /nonexistent/ca.pem");
	const char *tui_ws[] = {
	    bin("ROOMTUI_BIN"), "--url", ws_url, "--room", "r", "--ca", t->cert, NULL};
	expect_run(tui_ws, 2, "--ca is for wss:// URLs");

	/* roomd is fine: the old connection works, new ones are accepted. */
	assert_true(rd_alive(t->rd));
	assert_true(
	    rt_op(stay, "s1", "{\"k\":\"chat.post\",\"text\":\"still here\"}", NULL) > 0);
	struct ws *late = join(t, t->rd, "tls-stay", "late");
	assert_true(rt_op(late, "l1", "{\"k\":\"chat.post\",\"text\":\"me too\"}", NULL) >
		    0);
	rt_free(late);
	rt_free(stay);
}

/* A certificate the client trusts but issued for another name is refused:
 * the name is checked, not only the chain. */
static void test_wrong_name_refused(void **state)
{
	tctx *t = *state;
	const char *args[] = {"--tls-cert", t->other_cert, "--tls-key", t->other_key,
			      NULL};
	rd_proc *rd = rt_start(args);
	char url[64], https[64];
	snprintf(url, sizeof(url), "wss://127.0.0.1:%d", rd->port);
	snprintf(https, sizeof(https), "https://127.0.0.1:%d", rd->port);
	const char *load[] = {bin("ROOMLOAD_BIN"),
			      "--url",
			      url,
			      "--ca",
			      t->other_cert,
			      "--rooms",
			      "1",
			      "--clients",
			      "1",
			      "--rate",
			      "1",
			      "--duration",
			      "1",
			      "-q",
			      NULL};
	expect_run(load, 1,
		   "IP address mismatch (the certificate is not for the --url host)");
	const char *ctl[] = {bin("ROOMCTL_BIN"), "health", "--server", https, "--ca",
			     t->other_cert,	 NULL};
	expect_run(ctl, 1, "Error: GET https://");
	rd_cleanup(rd);
}

/* roomload over wss:// for a few seconds: every connection, every op, no
 * ordering violation. */
static void test_roomload_over_wss(void **state)
{
	tctx *t = *state;
	char *out = NULL;
	const char *load[] = {bin("ROOMLOAD_BIN"),
			      "--url",
			      t->url,
			      "--ca",
			      t->cert,
			      "--rooms",
			      "4",
			      "--clients",
			      "5",
			      "--rate",
			      "10",
			      "--duration",
			      "3",
			      "--room-prefix",
			      "tls-load-",
			      "--json",
			      "-q",
			      NULL};
	int rc = rt_run(load, RUN_TIMEOUT_MS, &out);
	if (rc != 0)
		fail_msg("roomload exited %d:\n%s", rc, out);
	const char *j = strchr(out, '{');
	assert_non_null(j);
	cJSON *rep = cJSON_Parse(j);
	assert_non_null(rep);
	const cJSON *conns = cJSON_GetObjectItem(rep, "connections");
	assert_int_equal((int)cJSON_GetObjectItem(conns, "established")->valuedouble, 20);
	assert_int_equal((int)cJSON_GetObjectItem(conns, "closed_by_server")->valuedouble,
			 0);
	const cJSON *viol = cJSON_GetObjectItem(rep, "violations");
	assert_int_equal((int)cJSON_GetObjectItem(viol, "total")->valuedouble, 0);
	double sent = cJSON_GetObjectItem(rep, "ops_sent")->valuedouble;
	double acked = cJSON_GetObjectItem(rep, "ops_acked")->valuedouble;
	double events = cJSON_GetObjectItem(rep, "events_delivered")->valuedouble;
	assert_true(sent >= 20 * 10 * 2); /* 600 planned; allow a slow start */
	assert_true(acked == sent);
	assert_true(events == acked * 4); /* every op reaches the 4 others */
	cJSON_Delete(rep);
	free(out);
}

/* ---- roomtui through tmux ---- */

static int tmux(const char *sock, const char *fmt, ...) RK_PRINTF(2, 3);
static int tmux(const char *sock, const char *fmt, ...)
{
	char args[2048], cmd[2200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "tmux -L %s %s", sock, args);
	return system(cmd);
}

/* Wait until the tmux pane shows s; fail with the last screen otherwise. */
static void screen_wait(const char *sock, const char *s)
{
	char screen[16384], cmd[128];
	snprintf(cmd, sizeof(cmd), "tmux -L %s capture-pane -p -t tui 2>/dev/null", sock);
	int64_t deadline = rk_mono_us() + (int64_t)SCREEN_TIMEOUT_MS * 1000;
	for (;;) {
		FILE *f = popen(cmd, "r");
		size_t n = f ? fread(screen, 1, sizeof(screen) - 1, f) : 0;
		if (f)
			pclose(f);
		screen[n] = '\0';
		if (strstr(screen, s))
			return;
		if (rk_mono_us() > deadline)
			fail_msg("screen never showed \"%s\"; last screen:\n%s", s,
				 screen);
		struct timespec ts = {0, 30 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* tmux servers of test_roomtui_over_wss: one per roomtui run, so that a
 * new session never races with the previous server's exit. */
static void tui_sock(char *out, size_t n, char which)
{
	snprintf(out, n, "rk-tls-tui-%d-%c", (int)getpid(), which);
}

static int tui_teardown(void **state)
{
	char sock[64];
	for (char w = 'a'; w <= 'b'; w++) {
		tui_sock(sock, sizeof(sock), w);
		rt_tmux_kill(sock);
	}
	return 0;
}

/* roomtui joins over wss:// with --ca and shows a peer's chat; without
 * --ca it is refused and says why on its status line. */
static void test_roomtui_over_wss(void **state)
{
	tctx *t = *state;
	char sock[64];
	tui_sock(sock, sizeof(sock), 'a');
	unsetenv("TMUX");
	const char *tui = bin("ROOMTUI_BIN");
	int rc =
	    tmux(sock,
		 "new-session -d -s tui -x 110 -y 30 'TERM=xterm-256color LC_ALL=C.UTF-8 "
		 "%s --url %s --ca %s --room tls-tui --name tui'",
		 tui, t->url, t->cert);
	assert_int_equal(rc, 0);
	screen_wait(sock, "| live |");
	struct ws *peer = join(t, t->rd, "tls-tui", "peer");
	assert_true(rt_op(peer, "p1",
			  "{\"k\":\"chat.post\",\"text\":\"hello tui over tls\"}",
			  NULL) > 0);
	screen_wait(sock, "peer: hello tui over tls");
	rt_free(peer);

	tui_sock(sock, sizeof(sock), 'b');
	rc =
	    tmux(sock,
		 "new-session -d -s tui -x 110 -y 30 'TERM=xterm-256color LC_ALL=C.UTF-8 "
		 "%s --url %s --room tls-tui --name tui'",
		 tui, t->url);
	assert_int_equal(rc, 0);
	screen_wait(sock, "disconnected: TLS: server certificate rejected: self-signed");
	screen_wait(sock, "reconnecting");
}

/* roomd refuses bad TLS settings at start: one line, exit 2 for usage,
 * exit 1 for a missing, garbage or mismatched file; never a crash. */
static void test_bad_tls_files(void **state)
{
	tctx *t = *state;
	char garbage[300], data[300];
	snprintf(garbage, sizeof(garbage), "%s/garbage.pem", t->dir);
	snprintf(data, sizeof(data), "%s/data", t->dir);
	FILE *f = fopen(garbage, "w");
	assert_non_null(f);
	fputs("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
	      "-----END CERTIFICATE-----\n",
	      f);
	fclose(f);
	const char *roomd = bin("ROOMD_BIN");
	struct {
		const char *cert, *key;
		int code;
		const char *says;
	} cases[] = {
	    {t->cert, NULL, 2, "--tls-cert and --tls-key go together"},
	    {NULL, t->key, 2, "--tls-cert and --tls-key go together"},
	    {"/nonexistent/cert.pem", t->key, 1,
	     "Error: --tls-cert /nonexistent/cert.pem: No such file or directory"},
	    {t->cert, "/nonexistent/key.pem", 1,
	     "Error: --tls-key /nonexistent/key.pem: No such file or directory"},
	    {garbage, t->key, 1, "not a PEM certificate"},
	    {t->cert, garbage, 1, "not an unencrypted PEM private key"},
	    {t->cert, t->other_key, 1, "does not match the certificate"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[12];
		int n = 0;
		argv[n++] = roomd;
		argv[n++] = "--listen";
		argv[n++] = "127.0.0.1:0";
		argv[n++] = "--data";
		argv[n++] = data;
		if (cases[i].cert) {
			argv[n++] = "--tls-cert";
			argv[n++] = cases[i].cert;
		}
		if (cases[i].key) {
			argv[n++] = "--tls-key";
			argv[n++] = cases[i].key;
		}
		argv[n] = NULL;
		char *out = NULL;
		int rc = rt_run(argv, RUN_TIMEOUT_MS, &out);
		if (rc != cases[i].code || !strstr(out, cases[i].says))
			fail_msg("case %zu: exit %d (want %d), output:\n%s", i, rc,
				 cases[i].code, out);
		assert_null(strstr(out, "listening on"));
		free(out);
	}
}

/* ---- back-pressure over TLS ---- */

/* Drain what has arrived on w without waiting; returns the last event seq
 * seen (or last). */
static int64_t drain_now(struct ws *w, int64_t last)
{
	for (;;) {
		cJSON *m = ws_recv_json(w, 0);
		if (!m)
			return last;
		if (strcmp(rt_str(m, "t"), "event") == 0) {
			assert_int_equal(rt_int(m, "seq"), last + 1);
			last = rt_int(m, "seq");
		}
		cJSON_Delete(m);
	}
}

/* Read events until seq upto, checking that none is missing or reordered. */
static void read_all_events(struct ws *w, int64_t from, int64_t upto)
{
	int64_t seen = from;
	while (seen < upto) {
		cJSON *m = ws_recv_type(w, "event", 10000);
		if (!m)
			fail_msg("reader stopped at seq %lld of %lld: %s",
				 (long long)seen, (long long)upto, ws_error(w));
		assert_int_equal(rt_int(m, "seq"), seen + 1);
		seen = rt_int(m, "seq");
		cJSON_Delete(m);
	}
}

/* A reader that stops reading while ~3 MiB of events pile up (its socket
 * and TLS session full, so roomd's writes are held by lws) and then reads
 * again gets every event in order; a reader that keeps reading too. */
static void test_backpressure_no_loss(void **state)
{
	tctx *t = *state;
	const char *args[] = {"--tls-cert",  t->cert,	      "--tls-key",
			      t->key,	     "--ops-per-sec", "100000",
			      "--ops-burst", "100000",	      NULL};
	rd_proc *rd = rt_start(args);
	struct ws *lazy = join(t, rd, "tls-bp", "lazy");
	int small = 4096;
	setsockopt(ws_fd(lazy), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct ws *w = join(t, rd, "tls-bp", "writer");
	struct ws *fast = join(t, rd, "tls-bp", "fast");
	char op[2100];
	snprintf(op, sizeof(op), "{\"k\":\"chat.post\",\"text\":\"%01990d\"}", 0);
	int n = 1500; /* ~3 MiB of events: under the default --max-queue 4 MiB */
	int64_t fast_seen = 0;
	for (int i = 1; i <= n; i++) {
		char id[16];
		snprintf(id, sizeof(id), "w%d", i);
		rt_send_op(w, id, op);
		if (i % 50 == 0) {
			fast_seen = drain_now(fast, fast_seen);
			drain_now(w, 0); /* acks: keep the writer's socket open */
		}
	}
	read_all_events(fast, fast_seen, n);
	/* Reading through a 4 KiB window takes minutes (TCP's persist
	 * timer); reopen it, as a reader back from a stall would. */
	int big = 4 << 20;
	setsockopt(ws_fd(lazy), SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	read_all_events(lazy, 0, n);
	assert_false(rd_log_contains(rd, "4507"));
	rt_free(lazy);
	rt_free(w);
	rt_free(fast);
	rd_cleanup(rd);
}

/* A wss:// reader that never reads is closed with 4507 once its queue
 * passes --max-queue; the writer and a reading client lose nothing. */
static void test_slow_consumer_over_tls(void **state)
{
	tctx *t = *state;
	RT_SKIP_UNDER_VALGRIND(
	    "as test_slow_consumer: roomd gives a closing reader 5 s of "
	    "wall time to take its close frame");
	const char *args[] = {
	    "--tls-cert",    t->cert,  "--tls-key",   t->key,	"--max-queue", "1048576",
	    "--ops-per-sec", "100000", "--ops-burst", "100000", NULL};
	rd_proc *rd = rt_start(args);
	/* The room's file first (as in test_slow_consumer). */
	struct ws *w = join(t, rd, "tls-slow", "writer");
	assert_int_equal(rt_op(w, "w0", "{\"k\":\"chat.post\",\"text\":\"x\"}", NULL), 1);
	struct ws *slow = join(t, rd, "tls-slow", "slow");
	int small = 4096;
	setsockopt(ws_fd(slow), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct ws *fast = join(t, rd, "tls-slow", "fast");
	char op[2100];
	snprintf(op, sizeof(op), "{\"k\":\"chat.post\",\"text\":\"%01990d\"}", 0);
	int n = 3000;
	int64_t fast_seen = 1; /* seq 1 is w0 */
	for (int i = 1; i <= n; i++) {
		char id[16];
		snprintf(id, sizeof(id), "w%d", i);
		rt_send_op(w, id, op);
		if (i % 50 == 0) {
			fast_seen = drain_now(fast, fast_seen);
			drain_now(w, 0);
		}
	}
	assert_true(rd_log_wait(rd, "4507", 10000));
	read_all_events(fast, fast_seen, n + 1);
	/* Read again with a normal receive buffer: what roomd had handed to
	 * TCP and TLS comes first, then the close frame (see limits test). */
	int big = 4 << 20;
	setsockopt(ws_fd(slow), SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	for (;;) {
		ws_result r = ws_recv(slow, 10000, NULL, NULL, NULL);
		if (r == WS_MSG)
			continue;
		if (r != WS_CLOSED)
			fail_msg("want close 4507, got result %d (%s)", r,
				 ws_error(slow));
		assert_int_equal(ws_close_code(slow), 4507);
		break;
	}
	rt_free(slow);
	rt_free(w);
	rt_free(fast);
	rd_cleanup(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wss_clients_see_each_other),
	    cmocka_unit_test(test_big_event_over_tls),
	    cmocka_unit_test(test_https_endpoints),
	    cmocka_unit_test(test_refused_clients_and_roomd_goes_on),
	    cmocka_unit_test(test_wrong_name_refused),
	    cmocka_unit_test(test_roomload_over_wss),
	    cmocka_unit_test_teardown(test_roomtui_over_wss, tui_teardown),
	    cmocka_unit_test(test_bad_tls_files),
	    cmocka_unit_test(test_backpressure_no_loss),
	    cmocka_unit_test(test_slow_consumer_over_tls),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
