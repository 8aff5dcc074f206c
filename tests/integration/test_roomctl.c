/* test_roomctl.c - roomctl end to end: its command line contract, the
 * offline commands on fixture rooms built here with libcommon (exactly as
 * roomd's store.c writes them) and on corrupted copies, and the token and
 * online commands against a real roomd on an ephemeral port.
 *
 * roomctl and roomd are the binaries named by ROOMCTL_BIN and ROOMD_BIN. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "clock.h"
#include "pg.h"
#include "pgtmp.h"
#include "proto.h"
#include "state.h"
#include "store.h"
#include "token.h"
#include "timescale.h"
#include "roomd_proc.h"
#include "wsclient.h"

#define TS0 INT64_C(1700000000000)
#define SECRET "roomctl-test-secret"
#define NSEQ 12

/* ---- processes ---------------------------------------------------------- */

typedef struct run_result {
	int code;  /* exit status, or 128 + signal */
	char *out; /* stdout, NUL-terminated */
	char *err; /* stderr, NUL-terminated */
} run_result;

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return p;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait for pid with a deadline; kills it if it does not end. */
static int wait_exit(pid_t pid, int timeout_ms)
{
	int64_t end = rk_mono_us() + (int64_t)rt_scaled_ms(timeout_ms) * 1000;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		assert_true(r == 0);
		if (rk_mono_us() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("process %d did not exit in time", (int)pid);
		}
		sleep_ms(5);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

typedef struct tctx {
	char dir[256];		     /* temporary directory */
	char demo[300];		     /* the standard fixture room file */
	char states[NSEQ + 1][4096]; /* encoded state after each seq */
} tctx;

/* Start roomctl with args (NULL-terminated), its stdout and stderr going to
 * DIR/ctl.out and DIR/ctl.err. Returns its pid. */
static pid_t ctl_spawn(const tctx *t, const char *const *args)
{
	const char *bin = getenv("ROOMCTL_BIN");
	assert_non_null(bin);
	char outp[400], errp[400];
	snprintf(outp, sizeof(outp), "%s/ctl.out", t->dir);
	snprintf(errp, sizeof(errp), "%s/ctl.err", t->dir);
	const char *argv[32] = {"roomctl"};
	int n = 1;
	for (; args[n - 1]; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0)
			_exit(127);
		dup2(o, 1);
		dup2(e, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Run roomctl with args (NULL-terminated) to completion. */
static run_result ctl(const tctx *t, const char *const *args)
{
	char outp[400], errp[400];
	snprintf(outp, sizeof(outp), "%s/ctl.out", t->dir);
	snprintf(errp, sizeof(errp), "%s/ctl.err", t->dir);
	pid_t pid = ctl_spawn(t, args);
	run_result r;
	r.code = wait_exit(pid, 30000);
	r.out = slurp(outp, NULL);
	r.err = slurp(errp, NULL);
	assert_non_null(r.out);
	assert_non_null(r.err);
	return r;
}

static void run_free(run_result *r)
{
	free(r->out);
	free(r->err);
}

/* Count lines of s. */
static int nlines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- fixture rooms ------------------------------------------------------ */

/* A room file written through libstore (store.h), as roomd writes one:
 * one batch from fx_open to fx_close. */
typedef struct fx {
	store *s;
	int lock;
	rk_state *st;
	int64_t seq;
	int64_t slow_after; /* events after this seq are 10 s apart (0: none) */
} fx;

static void sql(sqlite3 *db, const char *q)
{
	char *msg = NULL;
	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("sql %s: %s", q, msg);
}

/* A new room file (epoch 00112233aabbccdd, created at TS0). */
static void fx_open(fx *f, const char *path, const char *room)
{
	memset(f, 0, sizeof(*f));
	unlink(path);
	char err[300];
	f->lock = store_lock(path, true, err, sizeof(err));
	if (f->lock < 0)
		fail_msg("%s", err);
	store_meta m = {.epoch = "00112233aabbccdd", .created_ms = TS0};
	snprintf(m.room, sizeof(m.room), "%s", room);
	if (store_create(path, &m, &f->s, err, sizeof(err)) != RK_OK ||
	    store_begin(f->s, err, sizeof(err)) != RK_OK)
		fail_msg("%s: %s", path, err);
	f->st = rk_state_new();
	assert_non_null(f->st);
}

/* Apply op (JSON text) as user and log it as roomd does. */
static void fx_op(fx *f, const char *user, const char *op_id, const char *json)
{
	rk_op op;
	char msg[200];
	assert_int_equal(rk_op_decode_text(json, strlen(json), &op, msg, sizeof(msg)),
			 RK_REJ_NONE);
	int64_t seq = f->seq + 1;
	int64_t ts = TS0 + seq * (f->slow_after && seq > f->slow_after ? 10000 : 1000);
	rk_actor a = {
	    .user = user, .role = RK_ROLE_OWNER, .seq = seq, .ts = ts, .id = op_id};
	rk_reject rej = rk_state_apply(f->st, &op, &a, msg, sizeof(msg));
	if (rej != RK_REJ_NONE)
		fail_msg("fixture op %lld rejected: %s", (long long)seq, msg);
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_op_encode(&op, &b);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	char session[32], err[300];
	snprintf(session, sizeof(session), "s-%s", user);
	if (store_append(f->s, seq, ts, session, user, op_id, b.data, b.len, err,
			 sizeof(err)) != RK_OK ||
	    (op.k == RK_OP_POLL_CREATE && op.closes_at > 0 &&
	     store_set_alarm(f->s, op.id, op.closes_at, err, sizeof(err)) != RK_OK) ||
	    (op.k == RK_OP_POLL_CLOSE &&
	     store_del_alarm(f->s, op.id, err, sizeof(err)) != RK_OK))
		fail_msg("fixture op %lld: %s", (long long)seq, err);
	rk_buf_free(&b);
	rk_op_free(&op);
	f->seq = seq;
}

static char *fx_encode(const fx *f)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_state_encode(f->st, &b);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	return rk_buf_steal(&b, NULL);
}

static void fx_snapshot(fx *f)
{
	char *s = fx_encode(f), err[300];
	if (store_put_snapshot(f->s, f->seq, TS0 + f->seq * 1000, s, strlen(s), err,
			       sizeof(err)) != RK_OK)
		fail_msg("fixture snapshot: %s", err);
	free(s);
}

/* Commit, and leave one file (no -wal, no -shm), as a room nobody has open. */
static void fx_close(fx *f)
{
	char err[300];
	if (store_commit(f->s, err, sizeof(err)) != RK_OK ||
	    store_settle(f->s, false, err, sizeof(err)) != RK_OK)
		fail_msg("fixture commit: %s", err);
	store_close(f->s);
	store_unlock(f->lock);
	rk_state_free(f->st);
}

/* A writer of the demo room that holds it as roomd does (the lock and a
 * store_open handle, which never checkpoints): event seq, a chat post by
 * dave, committed into the WAL. Close it with live_close. */
static store *live_append(const char *path, int *lock, int64_t seq, const char *text)
{
	char err[300], op[128];
	store *s = NULL;
	*lock = store_lock(path, false, err, sizeof(err));
	if (*lock < 0 || store_open(path, "demo", 0, &s, err, sizeof(err)) != RK_OK)
		fail_msg("%s: %s", path, err);
	snprintf(op, sizeof(op), "{\"k\":\"chat.post\",\"text\":\"%s\"}", text);
	if (store_begin(s, err, sizeof(err)) != RK_OK ||
	    store_append(s, seq, TS0 + seq * 1000, "s-dave", "dave", "d1", op, strlen(op),
			 err, sizeof(err)) != RK_OK ||
	    store_commit(s, err, sizeof(err)) != RK_OK)
		fail_msg("%s: %s", path, err);
	return s;
}

static void live_close(store *s, int lock)
{
	store_close(s);
	store_unlock(lock);
}

/* The standard room's ops: 12 events by alice, bob and carol (shapes, polls,
 * chat). */
static const struct {
	const char *user, *id, *op;
} demo_ops[NSEQ] = {
    {"alice", "a1",
     "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s1\",\"type\":"
     "\"stroke\",\"color\":1,\"points\":[[0,0],[5,5],[10,0]]}}"},
    {"bob", "b1",
     "{\"k\":\"shape.add\",\"shape\":{\"id\":\"r1\",\"type\":\"rect\","
     "\"color\":2,\"points\":[[2,1],[8,4]]}}"},
    {"alice", "a2", "{\"k\":\"chat.post\",\"text\":\"hello\"}"},
    {"alice", "a3",
     "{\"k\":\"poll.create\",\"poll\":{\"id\":\"p1\",\"question\":"
     "\"Lunch?\",\"options\":[\"pizza\",\"sushi\"],"
     "\"closes_at\":4000000000000}}"},
    {"bob", "b2", "{\"k\":\"poll.vote\",\"poll\":\"p1\",\"choice\":1}"},
    {"carol", "c1", "{\"k\":\"poll.vote\",\"poll\":\"p1\",\"choice\":1}"},
    {"alice", "a4", "{\"k\":\"shape.update\",\"id\":\"s1\",\"set\":{\"color\":3}}"},
    {"bob", "b3", "{\"k\":\"chat.post\",\"text\":\"hi alice\"}"},
    {"alice", "a5",
     "{\"k\":\"shape.add\",\"shape\":{\"id\":\"t1\",\"type\":\"text\","
     "\"color\":0,\"points\":[[1,6]],\"text\":\"Hi\"}}"},
    {"bob", "b4", "{\"k\":\"shape.delete\",\"id\":\"r1\"}"},
    {"alice", "a6",
     "{\"k\":\"poll.create\",\"poll\":{\"id\":\"p2\",\"question\":"
     "\"Done?\",\"options\":[\"yes\",\"no\"]}}"},
    {"alice", "a7", "{\"k\":\"poll.close\",\"poll\":\"p2\"}"},
};

/* The standard room: demo_ops with snapshots at seqs 4 and 8. Records the
 * state after every seq. */
static void build_demo(tctx *t, const char *path, const char *room)
{
	fx f;
	fx_open(&f, path, room);
	char *s0 = fx_encode(&f);
	snprintf(t->states[0], sizeof(t->states[0]), "%s", s0);
	free(s0);
	for (int i = 0; i < NSEQ; i++) {
		fx_op(&f, demo_ops[i].user, demo_ops[i].id, demo_ops[i].op);
		if (f.seq == 4 || f.seq == 8)
			fx_snapshot(&f);
		char *s = fx_encode(&f);
		assert_true(strlen(s) < sizeof(t->states[0]));
		snprintf(t->states[f.seq], sizeof(t->states[0]), "%s", s);
		free(s);
	}
	fx_close(&f);
}

static void copy_file(const char *from, const char *to)
{
	size_t n;
	char *p = slurp(from, &n);
	assert_non_null(p);
	FILE *f = fopen(to, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
	free(p);
}

/* A copy of the demo room at path, changed by the SQL in q (may be NULL). */
static void corrupt_copy(const tctx *t, const char *path, const char *q)
{
	copy_file(t->demo, path);
	if (!q)
		return;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sql(db, q);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int group_setup(void **state)
{
	tctx *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_roomctl.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	char rooms[300];
	snprintf(rooms, sizeof(rooms), "%s/rooms", t->dir);
	assert_int_equal(mkdir(rooms, 0755), 0);
	snprintf(t->demo, sizeof(t->demo), "%s/rooms/demo.db", t->dir);
	build_demo(t, t->demo, "demo");
	*state = t;
	return 0;
}

static int group_teardown(void **state)
{
	tctx *t = *state;
	if (!getenv("RK_KEEP_TMP")) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", t->dir);
	}
	free(t);
	return 0;
}

#define CTL(t, ...) ctl((t), (const char *const[]){__VA_ARGS__, NULL})

/* ---- roomd --------------------------------------------------------------- */

typedef struct roomd {
	rd_proc *rd; /* the shared launcher's (tests/support/roomd_proc.h) */
	int port;
	char url[64];
} roomd;

/* Start roomd through the shared launcher on an ephemeral port. Its data dir
 * is a fresh DIR/srv holding a copy of the demo room (roomd writes to rooms
 * it loads; the offline tests keep the original). */
static void roomd_start(const tctx *t, roomd *r, const char *secret_file)
{
	char data[300], cmd[700], room[400];
	snprintf(data, sizeof(data), "%s/srv", t->dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s/rooms'", data, data);
	assert_int_equal(system(cmd), 0);
	snprintf(room, sizeof(room), "%s/rooms/demo.db", data);
	copy_file(t->demo, room);
	const char *const args[] = {secret_file ? "--secret-file" : NULL, secret_file,
				    NULL};
	r->rd = rd_start(args, data);
	assert_non_null(r->rd);
	r->port = r->rd->port;
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d", r->port);
}

/* SIGTERM: a clean shutdown (exit 0); the data dir stays for the test. */
static void roomd_stop(roomd *r)
{
	assert_int_equal(rd_stop(r->rd, SIGTERM), 0);
	rd_cleanup(r->rd);
	r->rd = NULL;
}

/* ws://127.0.0.1:PORT/ws/ROOM?QUERY through tests/support/wsclient.h; NULL
 * if the upgrade was refused (its status in *status if not NULL). */
static struct ws *ws_open(int port, const char *room, const char *query, int *status)
{
	char path[3000];
	snprintf(path, sizeof(path), "/ws/%s?%s", room, query);
	http_reply reply = {0};
	struct ws *w = ws_connect_ex("127.0.0.1", port, path, NULL, &reply);
	if (status)
		*status = w ? 101 : reply.status;
	http_reply_free(&reply);
	return w;
}

/* The next text message whose "t" is t, byte for byte as roomd sent it
 * (caller frees); others are dropped. Fails the test after 10 s. */
static char *ws_read_type(struct ws *w, const char *t)
{
	char want[32];
	snprintf(want, sizeof(want), "{\"t\":\"%s\"", t);
	for (;;) {
		int op;
		const char *data;
		size_t len;
		assert_int_equal(ws_recv(w, rt_scaled_ms(10000), &op, &data, &len),
				 WS_MSG);
		if (op == WS_OP_TEXT && strncmp(data, want, strlen(want)) == 0)
			return strndup(data, len);
	}
}

/* Upgrade and read the first message (the welcome) into *msg (NULL unless
 * the status is 101). Returns the HTTP status. */
static int ws_first_message(int port, const char *room, const char *query, char **msg)
{
	int status;
	struct ws *w = ws_open(port, room, query, &status);
	*msg = NULL;
	if (w) {
		int op;
		const char *data;
		size_t len;
		if (ws_recv(w, rt_scaled_ms(10000), &op, &data, &len) == WS_MSG)
			*msg = strndup(data, len);
		ws_free(w);
	}
	return status;
}

/* ---- tests -------------------------------------------------------------- */

/* --help and help exit 0 with the usage; bad usage exits 2 with one line. */
static void test_help_and_usage(void **state)
{
	tctx *t = *state;
	run_result r = CTL(t, "--help");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "Usage: roomctl <command>"));
	assert_non_null(strstr(r.out, "verify"));
	run_free(&r);
	static const char *const cmds[] = {
	    "token", "inspect", "events",  "replay", "verify", "diff",	 "rooms",
	    "room",  "health",	"metrics", "usage",  "export", "import", "compact"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		r = CTL(t, cmds[i], "--help");
		assert_int_equal(r.code, 0);
		char want[64];
		snprintf(want, sizeof(want), "Usage: roomctl %s", cmds[i]);
		assert_non_null(strstr(r.out, want));
		run_free(&r);
		r = CTL(t, "help", cmds[i]);
		assert_int_equal(r.code, 0);
		assert_non_null(strstr(r.out, want));
		run_free(&r);
	}
	static const char *const bad[][6] = {
	    {"bogus"},
	    {"help", "bogus"},
	    {"inspect"},
	    {"inspect", "a.db", "b.db"},
	    {"events", "a.db", "--limit", "x"},
	    {"events", "a.db", "--kind", "shape.fly"},
	    {"replay", "a.db", "--upto"},
	    {"verify", "a.db", "--nope"},
	    {"diff", "a.db"},
	    {"token", "--room", "r"},
	    {"token", "--secret-file", "f", "--room", "r"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = ctl(t, bad[i]);
		assert_int_equal(r.code, 2);
		assert_string_equal(r.out, "");
		assert_int_equal(nlines(r.err), 1);
		assert_non_null(strstr(r.err, "--help"));
		run_free(&r);
	}
	r = ctl(t, (const char *const[]){NULL});
	assert_int_equal(r.code, 2);
	run_free(&r);
}

static void write_secret(const tctx *t, char *path, size_t cap)
{
	snprintf(path, cap, "%s/secret", t->dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(SECRET "\n", f); /* roomd and roomctl both drop the newline */
	fclose(f);
}

/* A token verifies with the secret and carries the requested claims. */
static void test_token_claims(void **state)
{
	tctx *t = *state;
	char sec[400];
	write_secret(t, sec, sizeof(sec));
	run_result r = CTL(t, "token", "--secret-file", sec, "--room", "team-*", "--user",
			   "alice", "--role", "editor", "--ttl", "120");
	assert_int_equal(r.code, 0);
	assert_int_equal(nlines(r.out), 1);
	rk_claims c;
	int64_t now = rk_wall_ms() / 1000;
	assert_int_equal(
	    rk_token_verify(SECRET, strlen(SECRET), r.out, strlen(r.out) - 1, now, &c),
	    RK_TOK_OK);
	assert_string_equal(c.sub, "alice");
	assert_string_equal(c.room, "team-*");
	assert_int_equal(c.role, RK_ROLE_EDITOR);
	assert_true(c.exp >= now + 119 && c.exp <= now + 121);
	assert_int_equal(rk_token_verify("other", 5, r.out, strlen(r.out) - 1, now, &c),
			 RK_TOK_BAD_SIG);
	run_free(&r);
	/* Default ttl is an hour. */
	r = CTL(t, "token", "--secret-file", sec, "--room", "demo", "--user", "bob",
		"--role", "viewer");
	assert_int_equal(r.code, 0);
	assert_int_equal(
	    rk_token_verify(SECRET, strlen(SECRET), r.out, strlen(r.out) - 1, now, &c),
	    RK_TOK_OK);
	assert_true(c.exp >= now + 3599 && c.exp <= now + 3601);
	run_free(&r);
	/* Bad values are usage errors; an unreadable secret a runtime error. */
	r = CTL(t, "token", "--secret-file", sec, "--room", "demo", "--user", "bob",
		"--role", "god");
	assert_int_equal(r.code, 2);
	run_free(&r);
	r = CTL(t, "token", "--secret-file", sec, "--room", "../x", "--user", "bob",
		"--role", "owner");
	assert_int_equal(r.code, 2);
	run_free(&r);
	r = CTL(t, "token", "--secret-file", "/nonexistent/secret", "--room", "demo",
		"--user", "bob", "--role", "owner");
	assert_int_equal(r.code, 1);
	assert_true(strncmp(r.err, "Error: ", 7) == 0);
	assert_int_equal(nlines(r.err), 1);
	run_free(&r);
}

static char *token(const tctx *t, const char *sec, const char *room, const char *user,
		   const char *role)
{
	run_result r = CTL(t, "token", "--secret-file", sec, "--room", room, "--user",
			   user, "--role", role);
	assert_int_equal(r.code, 0);
	r.out[strcspn(r.out, "\n")] = '\0';
	free(r.err);
	return r.out;
}

/* roomd started with the same secret accepts roomctl's tokens: a WebSocket
 * upgrade with ?token= gets a welcome naming the token's user and role, and
 * an owner token for "*" opens /v1/rooms; without it, or with an editor
 * token, the API refuses (roomctl exits 1 with one line). */
static void test_token_accepted_by_roomd(void **state)
{
	tctx *t = *state;
	char sec[400];
	write_secret(t, sec, sizeof(sec));
	roomd d;
	roomd_start(t, &d, sec);
	char *tok = token(t, sec, "demo", "dora", "editor");
	char q[2048];
	snprintf(q, sizeof(q), "token=%s", tok);
	char *msg;
	assert_int_equal(ws_first_message(d.port, "demo", q, &msg), 101);
	rk_smsg m;
	char err[200];
	assert_int_equal(rk_smsg_decode(msg, strlen(msg), true, &m, err, sizeof(err)),
			 RK_OK);
	assert_int_equal(m.t, RK_S_WELCOME);
	assert_string_equal(m.welcome.user, "dora");
	assert_int_equal(m.welcome.role, RK_ROLE_EDITOR);
	assert_int_equal(m.welcome.seq, NSEQ);
	rk_smsg_free(&m);
	free(msg);
	/* A token for another room is refused before the upgrade. */
	char *other = token(t, sec, "elsewhere", "dora", "editor");
	snprintf(q, sizeof(q), "token=%s", other);
	int st = ws_first_message(d.port, "demo", q, &msg);
	assert_true(st == 401 || st == 403);
	free(msg);

	char *owner = token(t, sec, "*", "admin", "owner");
	run_result r = CTL(t, "rooms", "--server", d.url, "--token", owner, "--json");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "\"room\":\"demo\""));
	run_free(&r);
	r = CTL(t, "rooms", "--server", d.url);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "401"));
	assert_int_equal(nlines(r.err), 1);
	run_free(&r);
	r = CTL(t, "rooms", "--server", d.url, "--token", tok);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "403"));
	run_free(&r);
	roomd_stop(&d);
	free(tok);
	free(other);
	free(owner);
}

/* inspect summarizes the demo room: seq range, ops per kind, users,
 * snapshots, alarms; --json carries the same numbers. */
static void test_inspect(void **state)
{
	tctx *t = *state;
	run_result r = CTL(t, "inspect", t->demo);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.err, "");
	assert_non_null(strstr(r.out, "room:        demo\n"));
	assert_non_null(strstr(r.out, "epoch:       00112233aabbccdd\n"));
	assert_non_null(strstr(r.out, "events:      12 (seq 1..12)\n"));
	assert_non_null(strstr(r.out, "snapshots:   seq 4, seq 8\n"));
	assert_non_null(strstr(r.out, "  shape.add      3\n"));
	assert_non_null(strstr(r.out, "  poll.vote      2\n"));
	assert_non_null(strstr(r.out, "  chat.post      2\n"));
	assert_non_null(strstr(r.out, "users:       3\n"));
	assert_non_null(strstr(r.out, "  alice          7\n"));
	assert_non_null(strstr(r.out, "activity:    first 2023-11-14T22:13:21.000Z, last "
				      "2023-11-14T22:13:32.000Z\n"));
	assert_non_null(strstr(r.out, "alarms:      1 pending\n  poll p1 closes at "));
	run_free(&r);

	r = CTL(t, "inspect", t->demo, "--json");
	assert_int_equal(r.code, 0);
	cJSON *j = cJSON_Parse(r.out);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "room")->valuestring, "demo");
	assert_int_equal(cJSON_GetObjectItem(j, "events")->valueint, 12);
	assert_int_equal(cJSON_GetObjectItem(j, "first_seq")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(j, "last_seq")->valueint, 12);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "snapshots")), 2);
	cJSON *ops = cJSON_GetObjectItem(j, "ops");
	assert_int_equal(cJSON_GetObjectItem(ops, "poll.create")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(ops, "shape.delete")->valueint, 1);
	cJSON *users = cJSON_GetObjectItem(j, "users");
	assert_int_equal(cJSON_GetArraySize(users), 3);
	assert_int_equal(cJSON_GetObjectItem(users, "bob")->valueint, 4);
	cJSON *alarms = cJSON_GetObjectItem(j, "alarms");
	assert_int_equal(cJSON_GetArraySize(alarms), 1);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(alarms, 0), "poll")->valuestring,
	    "p1");
	assert_true(cJSON_GetObjectItem(j, "file_bytes")->valuedouble > 0);
	cJSON_Delete(j);
	run_free(&r);
}

/* events prints every logged event as the `event` message roomd sends
 * (decodable, seq/id/user/op as logged, poll.vote with its tally), and the
 * filters select what they say. */
static void test_events(void **state)
{
	tctx *t = *state;
	static const char *const ids[NSEQ] = {"a1", "b1", "a2", "a3", "b2", "c1",
					      "a4", "b3", "a5", "b4", "a6", "a7"};
	run_result r = CTL(t, "events", t->demo);
	assert_int_equal(r.code, 0);
	assert_int_equal(nlines(r.out), NSEQ);
	char *line = r.out;
	for (int i = 1; i <= NSEQ; i++) {
		char *nl = strchr(line, '\n');
		rk_smsg m;
		char err[200];
		assert_int_equal(rk_smsg_decode(line, (size_t)(nl - line), false, &m, err,
						sizeof(err)),
				 RK_OK);
		assert_int_equal(m.t, RK_S_EVENT);
		assert_int_equal(m.seq, i);
		assert_int_equal(m.ts, TS0 + i * 1000);
		assert_string_equal(m.id, ids[i - 1]);
		const char *user = ids[i - 1][0] == 'a'	  ? "alice"
				   : ids[i - 1][0] == 'b' ? "bob"
							  : "carol";
		assert_string_equal(m.user, user);
		char session[32];
		snprintf(session, sizeof(session), "s-%s", user);
		assert_string_equal(m.session, session);
		if (i == 6) {
			/* The op as applied: the decoder ignores tally, so
			 * look at the text. */
			assert_int_equal(m.op.k, RK_OP_POLL_VOTE);
			char *tally = strstr(line, "\"tally\":[0,2]");
			assert_true(tally && tally < nl);
		}
		rk_smsg_free(&m);
		line = nl + 1;
	}
	/* The line is byte for byte rk_enc_event of the logged row. */
	rk_buf b;
	rk_buf_init(&b, 0);
	const char *op3 = "{\"k\":\"chat.post\",\"text\":\"hello\"}";
	rk_enc_event(&b, 3, TS0 + 3000, "s-alice", "alice", "a2", op3, strlen(op3));
	rk_buf_putc(&b, '\n');
	assert_non_null(strstr(r.out, b.data));
	rk_buf_free(&b);
	run_free(&r);

	r = CTL(t, "events", t->demo, "--since", "3", "--limit", "2");
	assert_int_equal(r.code, 0);
	assert_int_equal(nlines(r.out), 2);
	assert_non_null(strstr(r.out, "\"seq\":4,"));
	assert_non_null(strstr(r.out, "\"seq\":5,"));
	run_free(&r);
	r = CTL(t, "events", t->demo, "--kind", "chat.post");
	assert_int_equal(r.code, 0);
	assert_int_equal(nlines(r.out), 2);
	assert_non_null(strstr(r.out, "hi alice"));
	run_free(&r);
	r = CTL(t, "events", t->demo, "--user", "bob", "--until", "8");
	assert_int_equal(r.code, 0);
	assert_int_equal(nlines(r.out), 3);
	assert_null(strstr(r.out, "\"user\":\"alice\""));
	run_free(&r);
	r = CTL(t, "events", t->demo, "--since", "12");
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "");
	run_free(&r);
}

/* events --follow prints events committed after it started. */
static void test_events_follow(void **state)
{
	tctx *t = *state;
	char path[400], outp[400];
	snprintf(path, sizeof(path), "%s/follow.db", t->dir);
	snprintf(outp, sizeof(outp), "%s/ctl.out", t->dir);
	copy_file(t->demo, path);
	pid_t pid = ctl_spawn(
	    t, (const char *const[]){"events", path, "--follow", "--since", "11", NULL});
	/* First the existing event 12, then the one appended below. */
	int64_t end = rk_mono_us() + (int64_t)rt_scaled_ms(10000) * 1000;
	bool appended = false, seen = false;
	while (!seen) {
		char *out = slurp(outp, NULL);
		if (out && !appended && strstr(out, "\"seq\":12,")) {
			int lock;
			store *w = live_append(path, &lock, 13, "late");
			live_close(w, lock);
			appended = true;
		}
		seen = out && strstr(out, "\"seq\":13,") && strstr(out, "late");
		free(out);
		if (!seen && rk_mono_us() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail_msg("events --follow did not print the new event");
		}
		sleep_ms(10);
	}
	kill(pid, SIGINT);
	assert_int_equal(wait_exit(pid, 5000), 128 + SIGINT);
}

/* replay gives the state libcommon computed while building the room, at
 * every seq, from the best snapshot and from scratch alike. */
static void test_replay(void **state)
{
	tctx *t = *state;
	for (int i = 0; i <= NSEQ; i++) {
		char upto[16];
		snprintf(upto, sizeof(upto), "%d", i);
		run_result r = CTL(t, "replay", t->demo, "--upto", upto);
		assert_int_equal(r.code, 0);
		char want[4200];
		snprintf(want, sizeof(want), "%s\n", t->states[i]);
		assert_string_equal(r.out, want);
		run_free(&r);
		r = CTL(t, "replay", t->demo, "--upto", upto, "--from-scratch");
		assert_int_equal(r.code, 0);
		assert_string_equal(r.out, want);
		run_free(&r);
	}
	run_result r = CTL(t, "replay", t->demo);
	assert_int_equal(r.code, 0);
	char want[4200];
	snprintf(want, sizeof(want), "%s\n", t->states[NSEQ]);
	assert_string_equal(r.out, want);
	run_free(&r);
	r = CTL(t, "replay", t->demo, "--upto", "13");
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "past the last event"));
	run_free(&r);
}

static int64_t sql_int(const char *path, const char *q_text);

/* verify accepts the demo room and counts what it checked. */
static void test_verify_ok(void **state)
{
	tctx *t = *state;
	run_result r = CTL(t, "verify", t->demo);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "ok: 12 events, 2 snapshots verified\n");
	assert_string_equal(r.err, "");
	run_free(&r);
	/* A file begun before revision 2: its snapshots' chat posts carry no
	 * op id (the replay has them); it verifies all the same. */
	char path[400];
	snprintf(path, sizeof(path), "%s/legacy.db", t->dir);
	corrupt_copy(
	    t, path,
	    "UPDATE snapshots SET state=replace(replace(state,',\"id\":\"a2\"',''),"
	    "',\"id\":\"b3\"','')");
	assert_int_equal(sql_int(path, "SELECT count(*) FROM snapshots WHERE state LIKE "
				       "'%\"id\":\"a2\"%'"),
			 0);
	r = CTL(t, "verify", path);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "ok: 12 events, 2 snapshots verified\n");
	run_free(&r);
}

/* Each corruption of a room file is found: exit 1, one "Error:" line that
 * names the problem, nothing on stdout. */
static void test_verify_corrupt(void **state)
{
	tctx *t = *state;
	static const struct {
		const char *name, *sql, *want;
	} cases[] = {
	    {"gap", "DELETE FROM events WHERE seq=5", "log gap: seq 6 follows 4"},
	    {"bad op",
	     "UPDATE events SET op='{\"k\":\"shape.delete\",\"id\":\"nope\"}'"
	     " WHERE seq=3",
	     "event 3 (shape.delete by alice) does not apply: "
	     "not_found"},
	    {"undecodable op", "UPDATE events SET op='{\"k\":\"shape.add\"' WHERE seq=2",
	     "event 2: op does not decode"},
	    {"snapshot differs",
	     "UPDATE snapshots SET state=replace(state,'hello',"
	     "'HELLO') WHERE seq=4",
	     "snapshot at seq 4 differs"},
	    {"chat id differs",
	     "UPDATE snapshots SET state=replace(state,'\"id\":\"a2\"','\"id\":\"zz\"')"
	     " WHERE seq=4",
	     "snapshot at seq 4 differs"},
	    {"pre-revision-2 snapshot differs",
	     "UPDATE snapshots SET state=replace(replace(state,',\"id\":\"a2\"',''),"
	     "'hello','HELLO') WHERE seq=4",
	     "snapshot at seq 4 differs"},
	    {"snapshot past end", "INSERT INTO snapshots VALUES(99,0,'{}')",
	     "snapshot at seq 99 is past the last event"},
	    {"op not as applied",
	     "UPDATE events SET op=replace(op,',\"tally\":[0,1]','')"
	     " WHERE seq=5",
	     "event 5: the stored op is not the op as applied"},
	    {"ts backwards", "UPDATE events SET ts=5 WHERE seq=7",
	     "event 7: ts 5 goes backwards"},
	    {"missing alarm", "DELETE FROM alarms", "open poll 'p1' closes at"},
	    {"stray alarm", "INSERT INTO alarms VALUES('zz',5)", "alarm for poll 'zz'"},
	    {"no meta", "DELETE FROM meta", "meta has no 'format'"},
	    {"no epoch", "DELETE FROM meta WHERE key='epoch'", "meta has no 'epoch'"},
	    {"no meta table", "DROP TABLE meta",
	     "not a room file (wrong schema): no meta table"},
	    {"newer format", "UPDATE meta SET value='2' WHERE key='format'",
	     "room file format 2 is newer than this roomctl reads (1)"},
	    {"bad room", "UPDATE meta SET value='../x' WHERE key='room'",
	     "meta 'room' is not a valid room id"},
	};
	char path[400];
	snprintf(path, sizeof(path), "%s/corrupt.db", t->dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		corrupt_copy(t, path, cases[i].sql);
		run_result r = CTL(t, "verify", path);
		if (r.code != 1 || !strstr(r.err, cases[i].want))
			fail_msg("case '%s': exit %d, stderr '%s'", cases[i].name, r.code,
				 r.err);
		assert_true(strncmp(r.err, "Error: ", 7) == 0);
		assert_int_equal(nlines(r.err), 1);
		assert_string_equal(r.out, "");
		run_free(&r);
	}
	/* Files that are not room files at all. */
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (int i = 0; i < 5000; i++)
		fputc((i * 7919) & 0xff, f);
	fclose(f);
	static const char *const cmds[] = {"verify", "inspect", "events", "replay"};
	for (size_t i = 0; i < 4; i++) {
		run_result r = CTL(t, cmds[i], path);
		assert_int_equal(r.code, 1);
		assert_non_null(strstr(r.err, "not a SQLite database"));
		assert_int_equal(nlines(r.err), 1);
		run_free(&r);
	}
	/* Truncated: the first page only. */
	size_t n;
	char *p = slurp(t->demo, &n);
	assert_true(n > 8192);
	f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(p, 1, 4096, f);
	fclose(f);
	free(p);
	for (size_t i = 0; i < 4; i++) {
		run_result r = CTL(t, cmds[i], path);
		if (r.code != 1 || strncmp(r.err, "Error: ", 7) != 0 ||
		    nlines(r.err) != 1)
			fail_msg("truncated file, %s: exit %d, stderr '%s'", cmds[i],
				 r.code, r.err);
		run_free(&r);
	}
	/* Empty, missing, a directory. */
	f = fopen(path, "wb");
	fclose(f);
	run_result r = CTL(t, "verify", path);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "not a SQLite database"));
	run_free(&r);
	r = CTL(t, "verify", "/nonexistent/room.db");
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "No such file"));
	run_free(&r);
	r = CTL(t, "inspect", t->dir);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "not a regular file"));
	run_free(&r);
}

/* No offline command modifies the room file: same bytes, same mtime. */
static void test_read_only(void **state)
{
	tctx *t = *state;
	size_t n0, n1;
	char *before = slurp(t->demo, &n0);
	struct stat s0, s1;
	assert_int_equal(stat(t->demo, &s0), 0);
	const char *const runs[][7] = {
	    {"inspect", t->demo, "--json"},
	    {"events", t->demo},
	    {"replay", t->demo, "--render"},
	    {"verify", t->demo},
	    {"diff", t->demo, "--at", "3", "--at", "9"},
	};
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		run_result r = ctl(t, runs[i]);
		assert_int_equal(r.code, 0);
		run_free(&r);
	}
	char *after = slurp(t->demo, &n1);
	assert_int_equal(stat(t->demo, &s1), 0);
	assert_int_equal(n0, n1);
	assert_memory_equal(before, after, n0);
	assert_int_equal(s0.st_mtim.tv_sec, s1.st_mtim.tv_sec);
	assert_int_equal(s0.st_mtim.tv_nsec, s1.st_mtim.tv_nsec);
	free(before);
	free(after);
	/* Nor does it leave -wal/-shm files next to a room nobody has open. */
	char side[400];
	snprintf(side, sizeof(side), "%s-wal", t->demo);
	assert_int_equal(access(side, F_OK), -1);
	snprintf(side, sizeof(side), "%s-shm", t->demo);
	assert_int_equal(access(side, F_OK), -1);
}

/* While a writer holds the room open (as roomd does), commits still in its
 * WAL are visible to every offline command. */
static void test_reads_wal(void **state)
{
	tctx *t = *state;
	char path[400];
	snprintf(path, sizeof(path), "%s/live.db", t->dir);
	copy_file(t->demo, path);
	int lock;
	store *w = live_append(path, &lock, 13, "in the wal");
	run_result r = CTL(t, "events", path, "--since", "12");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "\"seq\":13,"));
	run_free(&r);
	r = CTL(t, "verify", path);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "ok: 13 events, 2 snapshots verified\n");
	run_free(&r);
	r = CTL(t, "replay", path, "--render");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "[13] dave: in the wal\n"));
	run_free(&r);
	live_close(w, lock);
}

/* diff names what changed between two seqs, and nothing for equal rooms. */
static void test_diff(void **state)
{
	tctx *t = *state;
	run_result r = CTL(t, "diff", t->demo, "--at", "4", "--at", "12");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "- shape r1 (rect, color 2, 2 points, by bob)\n"));
	assert_non_null(strstr(r.out, "~ shape s1: color 1 -> 3\n"));
	assert_non_null(strstr(r.out,
			       "+ shape t1 (text, color 0, 1 points, text \"Hi\", by "
			       "alice)\n"));
	assert_non_null(strstr(r.out, "~ poll p1: votes 0 -> 2, tally 0/0 -> 0/2\n"));
	assert_non_null(strstr(r.out,
			       "+ poll p2 \"Done?\" (2 options, tally 0/0, closed, by "
			       "alice)\n"));
	assert_non_null(strstr(r.out, "+ chat [8] bob: hi alice\n"));
	assert_null(strstr(r.out, "hello"));
	run_free(&r);
	char path[400];
	snprintf(path, sizeof(path), "%s/same.db", t->dir);
	copy_file(t->demo, path);
	r = CTL(t, "diff", t->demo, path);
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "no differences\n"));
	run_free(&r);
}

/* --render of a small room matches the golden picture in tests/fixtures. */
static void test_render_golden(void **state)
{
	tctx *t = *state;
	char path[400];
	snprintf(path, sizeof(path), "%s/render.db", t->dir);
	fx f;
	fx_open(&f, path, "render");
	fx_op(&f, "alice", "1",
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"box\",\"type\":"
	      "\"rect\",\"color\":1,\"points\":[[0,0],[30,8]]}}");
	fx_op(&f, "alice", "2",
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"hello\",\"type\":"
	      "\"text\",\"color\":2,\"points\":[[3,2]],\"text\":\"roomkit\"}}");
	fx_op(&f, "bob", "3",
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"diag\",\"type\":"
	      "\"line\",\"color\":3,\"points\":[[2,7],[28,3]]}}");
	fx_op(&f, "bob", "4",
	      "{\"k\":\"shape.add\",\"shape\":{\"id\":\"zig\",\"type\":"
	      "\"stroke\",\"color\":4,\"points\":[[34,0],[38,4],[42,0],[46,4]]}}");
	fx_op(&f, "bob", "5",
	      "{\"k\":\"poll.create\",\"poll\":{\"id\":\"color\",\"question\":"
	      "\"Best color?\",\"options\":[\"red\",\"green\",\"blue\"]}}");
	fx_op(&f, "alice", "6", "{\"k\":\"poll.vote\",\"poll\":\"color\",\"choice\":2}");
	fx_op(&f, "bob", "7", "{\"k\":\"poll.vote\",\"poll\":\"color\",\"choice\":2}");
	fx_op(&f, "carol", "8", "{\"k\":\"poll.vote\",\"poll\":\"color\",\"choice\":0}");
	fx_op(&f, "alice", "9", "{\"k\":\"chat.post\",\"text\":\"nice board\"}");
	fx_close(&f);
	run_result r = CTL(t, "replay", path, "--render");
	assert_int_equal(r.code, 0);
	char golden[600];
	snprintf(golden, sizeof(golden), "%s", __FILE__);
	char *slash = strrchr(golden, '/');
	assert_non_null(slash);
	*slash = '\0';
	slash = strrchr(golden, '/');
	assert_non_null(slash);
	snprintf(slash, sizeof(golden) - (size_t)(slash - golden),
		 "/fixtures/roomctl_render.txt");
	if (getenv("RK_UPDATE_GOLDEN")) {
		FILE *g = fopen(golden, "w");
		assert_non_null(g);
		fputs(r.out, g);
		fclose(g);
	}
	char *want = slurp(golden, NULL);
	if (!want)
		fail_msg("no golden file %s (run with RK_UPDATE_GOLDEN=1)", golden);
	assert_string_equal(r.out, want);
	free(want);
	run_free(&r);
}

/* Against a real roomd without a secret: rooms (table and --json), room,
 * health and metrics report the fixture room the server found on disk. */
static void test_online(void **state)
{
	tctx *t = *state;
	roomd d;
	roomd_start(t, &d, NULL);
	run_result r = CTL(t, "rooms", "--server", d.url, "--json");
	assert_int_equal(r.code, 0);
	cJSON *j = cJSON_Parse(r.out);
	assert_true(cJSON_IsArray(j));
	assert_int_equal(cJSON_GetArraySize(j), 1);
	cJSON *e = cJSON_GetArrayItem(j, 0);
	assert_string_equal(cJSON_GetObjectItem(e, "room")->valuestring, "demo");
	assert_int_equal(cJSON_GetObjectItem(e, "seq")->valueint, NSEQ);
	assert_int_equal(cJSON_GetObjectItem(e, "connections")->valueint, 0);
	cJSON_Delete(j);
	run_free(&r);

	r = CTL(t, "rooms", "--server", d.url);
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "ROOM"));
	assert_non_null(strstr(r.out, "demo"));
	assert_non_null(strstr(r.out, "1 room\n"));
	run_free(&r);

	setenv("ROOMCTL_SERVER", d.url, 1);
	r = CTL(t, "room", "demo");
	unsetenv("ROOMCTL_SERVER");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "room:         demo\n"));
	assert_non_null(strstr(r.out, "seq:          12\n"));
	assert_non_null(strstr(r.out, "state:        2 shapes, 2 polls, 2 chat posts\n"));
	run_free(&r);
	r = CTL(t, "room", "nosuch", "--server", d.url);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "404"));
	run_free(&r);

	r = CTL(t, "health", "--server", d.url);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "ok\n");
	run_free(&r);
	r = CTL(t, "metrics", "--server", d.url);
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "connections:"));
	assert_non_null(strstr(r.out, "rooms:             1 loaded"));
	assert_non_null(strstr(r.out, "ops committed:     0\n"));
	run_free(&r);
	r = CTL(t, "metrics", "--server", d.url, "--raw");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "# TYPE roomd_connections gauge"));
	run_free(&r);
	roomd_stop(&d);
	/* Nobody listens there any more. */
	r = CTL(t, "health", "--server", d.url);
	assert_int_equal(r.code, 1);
	assert_true(strncmp(r.err, "Error: ", 7) == 0);
	assert_int_equal(nlines(r.err), 1);
	run_free(&r);
}

/* A room written by a live roomd (ops sent over a WebSocket) reads back
 * while roomd still holds it: `events` prints each event byte for byte as
 * roomd delivered it to another client, and verify and replay agree with
 * the state roomd reports. */
static void test_roomd_written_room(void **state)
{
	tctx *t = *state;
	roomd d;
	roomd_start(t, &d, NULL);
	struct ws *a = ws_open(d.port, "fresh", "name=alice", NULL);
	assert_non_null(a);
	free(ws_read_type(a, "welcome"));
	struct ws *b = ws_open(d.port, "fresh", "name=bob", NULL);
	assert_non_null(b);
	free(ws_read_type(b, "welcome"));
	static const char *const ops[] = {
	    "{\"t\":\"op\",\"id\":\"o1\",\"op\":{\"k\":\"chat.post\",\"text\":\"hi\"}}",
	    "{\"t\":\"op\",\"id\":\"o2\",\"op\":{\"k\":\"shape.add\",\"shape\":{\"id\":"
	    "\"s\",\"type\":\"line\",\"color\":5,\"points\":[[0,0],[9,3]]}}}",
	    "{\"t\":\"op\",\"id\":\"o3\",\"op\":{\"k\":\"poll.create\",\"poll\":{\"id\":"
	    "\"q\",\"question\":\"ok?\",\"options\":[\"y\",\"n\"]}}}",
	    "{\"t\":\"op\",\"id\":\"o4\",\"op\":{\"k\":\"poll.vote\",\"poll\":\"q\","
	    "\"choice\":0}}",
	};
	rk_buf seen;
	rk_buf_init(&seen, 0);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		assert_int_equal(ws_send_text(a, ops[i], strlen(ops[i])), 0);
		free(ws_read_type(a, "ack"));
		char *ev = ws_read_type(b, "event");
		rk_buf_puts(&seen, ev);
		rk_buf_putc(&seen, '\n');
		free(ev);
	}
	char path[400];
	snprintf(path, sizeof(path), "%s/srv/rooms/fresh.db", t->dir);
	run_result r = CTL(t, "events", path);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, seen.data);
	run_free(&r);
	r = CTL(t, "verify", path);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "ok: 4 events, 0 snapshots verified\n");
	run_free(&r);
	r = CTL(t, "room", "fresh", "--server", d.url, "--json");
	assert_int_equal(r.code, 0);
	cJSON *j = cJSON_Parse(r.out);
	assert_non_null(j);
	char *live = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "state"));
	cJSON_Delete(j);
	run_free(&r);
	r = CTL(t, "replay", path);
	assert_int_equal(r.code, 0);
	j = cJSON_Parse(r.out);
	char *replayed = cJSON_PrintUnformatted(j);
	assert_string_equal(replayed, live);
	cJSON_Delete(j);
	free(live);
	free(replayed);
	run_free(&r);
	rk_buf_free(&seen);
	ws_free(a);
	ws_free(b);
	roomd_stop(&d);
	/* roomd wrote a snapshot when it stopped; it verifies too. */
	r = CTL(t, "verify", path);
	assert_int_equal(r.code, 0);
	run_free(&r);
}

/* export then import gives a room file with the same events (byte for byte
 * as `events` prints them), the same state, and that verifies; import never
 * overwrites, checks the file name, and leaves nothing behind on error. */
static void test_export_import(void **state)
{
	tctx *t = *state;
	char exp[400], dir[400], dest[500], other[500];
	snprintf(exp, sizeof(exp), "%s/demo.jsonl", t->dir);
	snprintf(dir, sizeof(dir), "%s/imp", t->dir);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/imp/rooms", t->dir);
	mkdir(dir, 0755);
	snprintf(dest, sizeof(dest), "%s/demo.db", dir);
	snprintf(other, sizeof(other), "%s/other.db", dir);
	run_result r = CTL(t, "export", t->demo, "--output", exp);
	assert_int_equal(r.code, 0);
	run_free(&r);
	char *text = slurp(exp, NULL);
	assert_non_null(text);
	assert_int_equal(nlines(text), NSEQ + 1);
	const char *hdr =
	    "{\"t\":\"room\",\"v\":1,\"room\":\"demo\",\"epoch\":"
	    "\"00112233aabbccdd\",\"created_ms\":1700000000000,\"format\":1}\n";
	assert_true(strncmp(text, hdr, strlen(hdr)) == 0);

	r = CTL(t, "import", exp, dest);
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "imported 12 events"));
	run_free(&r);
	run_result a = CTL(t, "events", t->demo);
	run_result b = CTL(t, "events", dest);
	assert_string_equal(a.out, b.out);
	assert_string_equal(strchr(text, '\n') + 1, a.out);
	run_free(&a);
	run_free(&b);
	r = CTL(t, "replay", dest);
	char want[4200];
	snprintf(want, sizeof(want), "%s\n", t->states[NSEQ]);
	assert_string_equal(r.out, want);
	run_free(&r);
	r = CTL(t, "verify", dest);
	assert_int_equal(r.code, 0);
	run_free(&r);
	r = CTL(t, "inspect", dest);
	assert_non_null(strstr(r.out, "epoch:       00112233aabbccdd\n"));
	assert_non_null(strstr(r.out, "alarms:      1 pending\n"));
	run_free(&r);

	/* Never overwrites; the name must match the room. */
	size_t n0, n1;
	char *before = slurp(dest, &n0);
	r = CTL(t, "import", exp, dest);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "never overwrites"));
	run_free(&r);
	char *after = slurp(dest, &n1);
	assert_int_equal(n0, n1);
	assert_memory_equal(before, after, n0);
	free(before);
	free(after);
	r = CTL(t, "import", exp, other);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "must be imported into a file named demo.db"));
	assert_int_equal(access(other, F_OK), -1);
	run_free(&r);

	/* A gap in the export: refused, and no file is left. */
	char bad[400];
	snprintf(bad, sizeof(bad), "%s/gap.jsonl", t->dir);
	FILE *f = fopen(bad, "w");
	assert_non_null(f);
	int line = 0;
	for (const char *p = text; *p; p++) {
		if (line != 5)
			fputc(*p, f);
		line += *p == '\n';
	}
	fclose(f);
	r = CTL(t, "import", bad, other, "--room", "other");
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "seq 6 follows 4"));
	assert_int_equal(access(other, F_OK), -1);
	run_free(&r);
	free(text);
}

/* usage lists every room file of a data dir with its numbers. */
static void test_usage(void **state)
{
	tctx *t = *state;
	run_result r = CTL(t, "usage", t->dir, "--json");
	assert_int_equal(r.code, 0);
	cJSON *j = cJSON_Parse(r.out);
	assert_true(cJSON_IsArray(j));
	assert_int_equal(cJSON_GetArraySize(j), 1);
	cJSON *e = cJSON_GetArrayItem(j, 0);
	assert_string_equal(cJSON_GetObjectItem(e, "room")->valuestring, "demo");
	assert_int_equal(cJSON_GetObjectItem(e, "events")->valueint, NSEQ);
	assert_int_equal(cJSON_GetObjectItem(e, "snapshots")->valueint, 2);
	cJSON_Delete(j);
	run_free(&r);
	/* An unreadable room file is reported in its row, and the exit is 1. */
	char junk[400];
	snprintf(junk, sizeof(junk), "%s/rooms/junk.db", t->dir);
	FILE *f = fopen(junk, "w");
	assert_non_null(f);
	fputs("not a database\n", f);
	fclose(f);
	r = CTL(t, "usage", t->dir);
	unlink(junk);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.out, "demo "));
	assert_non_null(strstr(r.out, "error: not a SQLite database"));
	assert_non_null(strstr(r.err, "Error: 1 room file could not be read"));
	run_free(&r);
	r = CTL(t, "usage", "/nonexistent");
	assert_int_equal(r.code, 1);
	run_free(&r);
}

/* A room of 300 events (shapes, chat, a poll with an alarm) with snapshots
 * at 100 and 200. */
/* 300 mixed ops (snapshots at 100 and 200), then chat posts up to n. */
static void build_big(const char *path, const char *room, int n)
{
	fx f;
	fx_open(&f, path, room);
	/* The tail 10 s apart: only events within 24 h of the newest are in
	 * the idempotency window by time (seq >= 1660 here). */
	f.slow_after = 300;
	char op[256], id[32];
	for (int i = 1; i <= n; i++) {
		const char *user = i % 3 == 0 ? "alice" : i % 3 == 1 ? "bob" : "carol";
		if (i == 10)
			snprintf(op, sizeof(op),
				 "{\"k\":\"poll.create\",\"poll\":{\"id\":\"p1\","
				 "\"question\":\"Q?\",\"options\":[\"a\",\"b\"],"
				 "\"closes_at\":4000000000000}}");
		else if (i % 7 == 0)
			snprintf(op, sizeof(op),
				 "{\"k\":\"poll.vote\",\"poll\":\"p1\",\"choice\":%d}",
				 i % 2);
		else if (i % 2 == 0)
			snprintf(
			    op, sizeof(op),
			    "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s%d\",\"type\":"
			    "\"line\",\"color\":%d,\"points\":[[%d,0],[0,%d]]}}",
			    i, i % 8, i, i);
		else
			snprintf(op, sizeof(op), "{\"k\":\"chat.post\",\"text\":\"m%d\"}",
				 i);
		if ((i < 10 && i % 7 == 0) || i > 300) /* no poll yet; the tail */
			snprintf(op, sizeof(op), "{\"k\":\"chat.post\",\"text\":\"m%d\"}",
				 i);
		snprintf(id, sizeof(id), "o%d", i);
		fx_op(&f, user, id, op);
		if (i == 100 || i == 200)
			fx_snapshot(&f);
	}
	fx_close(&f);
}

/* SELECT of one integer. */
static int64_t sql_int(const char *path, const char *q_text)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_prepare_v2(db, q_text, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	return v;
}

/* compact refuses a room held by roomd's flock (touching nothing), keeps
 * the last N events - never fewer than the idempotency window, the last
 * 10,000 events and those within 24 h of the newest - and the state, and leaves a
 * file that verifies, replays to the same state and that roomd serves at
 * the same seq. */
#define BIG_N 10300
static void test_compact(void **state)
{
	tctx *t = *state;
	char dir[300], path[400], zero[400];
	snprintf(dir, sizeof(dir), "%s/cx", t->dir);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/big.db", dir);
	snprintf(zero, sizeof(zero), "%s/zero.db", dir);
	build_big(path, "big", BIG_N);
	copy_file(path, zero);
	run_result pre = CTL(t, "replay", path);
	assert_int_equal(pre.code, 0);

	/* Held: exit 1, one line, the file untouched. */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	size_t n0, n1;
	char *before = slurp(path, &n0);
	struct stat s0, s1;
	assert_int_equal(stat(path, &s0), 0);
	run_result r = CTL(t, "compact", path, "--keep-events", "50");
	assert_int_equal(r.code, 1);
	assert_string_equal(r.out, "");
	assert_int_equal(nlines(r.err), 1);
	assert_non_null(strstr(r.err, "Error: "));
	assert_non_null(strstr(r.err, "is held by a running roomd (stop it or wait "
				      "until the room is idle and unloaded)"));
	run_free(&r);
	char *after = slurp(path, &n1);
	assert_int_equal(stat(path, &s1), 0);
	assert_int_equal(n0, n1);
	assert_memory_equal(before, after, n0);
	assert_int_equal(s0.st_mtim.tv_sec, s1.st_mtim.tv_sec);
	assert_int_equal(s0.st_mtim.tv_nsec, s1.st_mtim.tv_nsec);
	free(before);
	free(after);
	close(fd);

	r = CTL(t, "compact", path, "--keep-events", "-1");
	assert_int_equal(r.code, 2);
	assert_int_equal(nlines(r.err), 1);
	run_free(&r);

	/* --keep-events 50 keeps the window: 10,000 events, the cut at 300. */
	r = CTL(t, "compact", path, "--keep-events", "50");
	assert_int_equal(r.code, 0);
	assert_int_equal(nlines(r.out), 1);
	assert_non_null(strstr(r.out, "seq 10300, snapshot written, 300 events deleted"));
	assert_non_null(strstr(
	    r.out, "kept the last 10000 events and those within 24 h of the newest"));
	run_free(&r);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM events"), 10000);
	assert_int_equal(sql_int(path, "SELECT min(seq) FROM events"), 301);
	assert_int_equal(sql_int(path, "SELECT max(seq) FROM events"), BIG_N);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM snapshots WHERE seq=10300"),
			 1);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM snapshots WHERE seq<300"),
			 0);
	char side[500];
	snprintf(side, sizeof(side), "%s-wal", path);
	assert_int_equal(access(side, F_OK), -1);
	r = CTL(t, "verify", path);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "ok: 10000 events, 2 snapshots verified\n");
	run_free(&r);
	r = CTL(t, "replay", path);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, pre.out);
	run_free(&r);
	/* A seq before the cut is gone: say so, and name the earliest one left. */
	r = CTL(t, "replay", path, "--upto", "100");
	assert_int_equal(r.code, 1);
	assert_string_equal(r.out, "");
	assert_int_equal(nlines(r.err), 1);
	assert_non_null(strstr(r.err, "seq 100 was removed by compaction; the earliest"
				      " seq replay can reach is 300"));
	run_free(&r);
	r = CTL(t, "replay", path, "--upto", "300");
	assert_int_equal(r.code, 0);
	run_free(&r);
	/* Compacting again deletes nothing more. */
	r = CTL(t, "compact", path, "--keep-events", "50");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, " 0 events deleted"));
	run_free(&r);

	/* --keep-events 0 still keeps the window; events within 24 h of the
	 * newest (here: after seq 200) are kept whatever their number. */
	sqlite3 *h;
	char upd[128];
	assert_int_equal(sqlite3_open(zero, &h), SQLITE_OK);
	snprintf(upd, sizeof(upd), "UPDATE events SET ts = %lld WHERE seq > 200",
		 (long long)time(NULL) * 1000);
	assert_int_equal(sqlite3_exec(h, upd, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	run_result prez = CTL(t, "replay", zero); /* chat entries carry the new ts */
	assert_int_equal(prez.code, 0);
	r = CTL(t, "compact", zero, "--keep-events", "0");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, " 200 events deleted"));
	run_free(&r);
	assert_int_equal(sql_int(zero, "SELECT count(*) FROM events"), BIG_N - 200);
	assert_int_equal(sql_int(zero, "SELECT count(*) FROM snapshots"), 2);
	r = CTL(t, "verify", zero);
	assert_int_equal(r.code, 0);
	run_free(&r);
	r = CTL(t, "replay", zero);
	assert_string_equal(r.out, prez.out);
	run_free(&r);
	run_free(&prez);

	/* roomd loads the compacted room at seq 300 with the same state. */
	roomd d;
	roomd_start(t, &d, NULL);
	char srv[500];
	snprintf(srv, sizeof(srv), "%s/srv/rooms/big.db", t->dir);
	copy_file(path, srv);
	char *msg;
	assert_int_equal(ws_first_message(d.port, "big", "name=zed", &msg), 101);
	cJSON *j = cJSON_Parse(msg);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "t")->valuestring, "welcome");
	assert_int_equal(cJSON_GetObjectItem(j, "seq")->valueint, BIG_N);
	char *live = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "state"));
	cJSON *pj = cJSON_Parse(pre.out);
	char *replayed = cJSON_PrintUnformatted(pj);
	assert_string_equal(live, replayed);
	free(live);
	free(replayed);
	cJSON_Delete(pj);
	cJSON_Delete(j);
	free(msg);
	/* While roomd has the room, compact is refused. */
	r = CTL(t, "compact", srv);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "is held by a running roomd"));
	run_free(&r);
	roomd_stop(&d);
	run_free(&pre);
}

/* ---- cluster rooms (roomd --pg) ------------------------------------------ */

/* Commit f's batch through the group commit, with the staged batch of
 * other (may be NULL) in the same group, and open the next batch. */
static void fx_commit_pg(fx *f, store_pg *pg, store *other)
{
	char err[300];
	if (store_commit(f->s, err, sizeof(err)) != RK_OK)
		fail_msg("fixture commit: %s", err);
	store_pg_batch *b[2] = {store_pg_take(f->s), other ? store_pg_take(other) : NULL};
	store_pg_res res[2];
	size_t n = other ? 2 : 1;
	if (store_pg_commit_group(pg, b, n, res, err, sizeof(err)) != RK_OK)
		fail_msg("group commit: %s", err);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(res[i], STORE_PG_COMMITTED);
		store_pg_batch_free(b[i]);
	}
	assert_int_equal(store_begin(f->s, err, sizeof(err)), RK_OK);
}

/* The demo room's ops written into the cluster as room by node (a roomd
 * --pg does it so), in two group commits, snapshots at 4 and 8. Its epoch
 * into epoch (RK_EPOCH_MAX + 1 bytes). */
static void build_demo_pg(store_pg *pg, const char *room, const char *node, char *epoch)
{
	char err[300], owner[80];
	store_pg_acq acq;
	fx f;
	memset(&f, 0, sizeof(f));
	f.lock = -1;
	assert_int_equal(store_pg_heartbeat(pg, node, err, sizeof(err)), RK_OK);
	if (store_pg_acquire(pg, room, node, 10000, 10, &acq, &f.s, owner, sizeof(owner),
			     err, sizeof(err)) != RK_OK)
		fail_msg("acquire: %s", err);
	assert_int_equal(acq, STORE_PG_ACQUIRED);
	snprintf(epoch, RK_EPOCH_MAX + 1, "%s", store_epoch(f.s));
	/* Another room of the node, committed in the same group. */
	store *other;
	assert_int_equal(store_pg_acquire(pg, "side", node, 10000, 10, &acq, &other,
					  owner, sizeof(owner), err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_begin(other, err, sizeof(err)), RK_OK);
	const char *op = "{\"k\":\"chat.post\",\"text\":\"side\"}";
	assert_int_equal(store_append(other, 1, TS0, "s-x", "x", "x1", op, strlen(op),
				      err, sizeof(err)),
			 RK_OK);
	assert_int_equal(store_commit(other, err, sizeof(err)), RK_OK);
	f.st = rk_state_new();
	assert_non_null(f.st);
	assert_int_equal(store_begin(f.s, err, sizeof(err)), RK_OK);
	for (int i = 0; i < NSEQ; i++) {
		fx_op(&f, demo_ops[i].user, demo_ops[i].id, demo_ops[i].op);
		if (f.seq == 4 || f.seq == 8)
			fx_snapshot(&f);
		if (f.seq == 6)
			fx_commit_pg(&f, pg, other);
	}
	fx_commit_pg(&f, pg, NULL);
	store_rollback(f.s);
	store_close(f.s);
	store_close(other);
	rk_state_free(f.st);
}

/* roomctl pull writes a cluster room as a standard room file that every
 * offline command reads as it reads the same log written by one roomd;
 * rooms --pg lists the cluster's rooms with their owner. */
static void test_cluster_pull_and_rooms(void **state)
{
	tctx *t = *state;
	pgtmp srv;
	if (!pgtmp_start(&srv))
		fail_msg("PostgreSQL did not start");
	store_pg *pg;
	char err[300], epoch[RK_EPOCH_MAX + 1], out[400];
	if (store_pg_connect(srv.url, 5000, &pg, err, sizeof(err)) != RK_OK)
		fail_msg("connect: %s", err);
	build_demo_pg(pg, "team-1", "node-1", epoch);
	snprintf(out, sizeof(out), "%s/team-1.db", t->dir);
	unlink(out);

	run_result r = CTL(t, "pull", "--pg", srv.url, "team-1", "-o", out);
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "12 events, 2 snapshots, 1 alarms"));
	assert_non_null(strstr(r.out, epoch));
	run_free(&r);
	r = CTL(t, "verify", out);
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "ok: 12 events, 2 snapshots"));
	run_free(&r);
	/* The same events and state as the demo room written by one roomd. */
	run_result want = CTL(t, "events", t->demo);
	r = CTL(t, "events", out);
	assert_int_equal(r.code, 0);
	assert_int_equal(nlines(r.out), NSEQ);
	assert_string_equal(r.out, want.out);
	run_free(&r);
	run_free(&want);
	r = CTL(t, "replay", out, "--upto", "7");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, t->states[7]));
	run_free(&r);
	/* The room's meta, the epoch above all. */
	store *s;
	assert_int_equal(store_open_ro(out, false, &s, err, sizeof(err)), RK_OK);
	assert_string_equal(store_epoch(s), epoch);
	assert_string_equal(store_get_meta(s)->room, "team-1");
	store_close(s);

	/* An existing file is left as it is; a missing room makes no file. */
	struct stat before, after;
	assert_int_equal(stat(out, &before), 0);
	r = CTL(t, "pull", "--pg", srv.url, "team-1", "-o", out);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "never overwrites"));
	run_free(&r);
	assert_int_equal(stat(out, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_mtime, before.st_mtime);
	char none[400];
	snprintf(none, sizeof(none), "%s/none.db", t->dir);
	r = CTL(t, "pull", "--pg", srv.url, "none", "-o", none);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "no such room"));
	run_free(&r);
	assert_int_not_equal(access(none, F_OK), 0);
	r = CTL(t, "pull", "--pg", srv.url, "team-1");
	assert_int_equal(r.code, 2);
	run_free(&r);
	r = CTL(t, "pull", "--pg", srv.url, "bad room", "-o", none);
	assert_int_equal(r.code, 2);
	run_free(&r);
	r = CTL(t, "pull", "--help");
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "Usage: roomctl pull --pg URL ROOM -o ROOM.db"));
	run_free(&r);
	r = CTL(t, "pull", "--pg", "postgresql://postgres@127.0.0.1:1/postgres", "team-1",
		"-o", none);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "Error: connect"));
	run_free(&r);

	/* The cluster's rooms, with their owner. */
	r = CTL(t, "rooms", "--pg", srv.url);
	assert_int_equal(r.code, 0);
	assert_non_null(strstr(r.out, "OWNER"));
	char *line = strstr(r.out, "team-1 ");
	assert_non_null(line);
	line[strcspn(line, "\n")] = '\0';
	assert_non_null(strstr(line, "node-1"));
	assert_non_null(strstr(line, "yes"));
	assert_non_null(strstr(line, " 12 "));
	run_free(&r);
	r = CTL(t, "rooms", "--pg", srv.url, "--json");
	assert_int_equal(r.code, 0);
	assert_int_equal(nlines(r.out), 2);
	assert_non_null(strstr(r.out, "{\"room\":\"team-1\",\"owner\":\"node-1\","
				      "\"owner_alive\":true,\"seq\":12,"));
	assert_non_null(strstr(r.out, "{\"room\":\"side\",\"owner\":\"node-1\","));
	run_free(&r);
	/* After the node left: no owner. */
	assert_int_equal(store_pg_leave(pg, "node-1", err, sizeof(err)), RK_OK);
	r = CTL(t, "rooms", "--pg", srv.url, "--json");
	assert_non_null(strstr(r.out, "{\"room\":\"team-1\",\"owner\":\"\","
				      "\"owner_alive\":false,"));
	run_free(&r);
	store_pg_close(pg);
	unlink(out);
	pgtmp_stop(&srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_help_and_usage),
	    cmocka_unit_test(test_token_claims),
	    cmocka_unit_test(test_inspect),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_events_follow),
	    cmocka_unit_test(test_replay),
	    cmocka_unit_test(test_verify_ok),
	    cmocka_unit_test(test_verify_corrupt),
	    cmocka_unit_test(test_read_only),
	    cmocka_unit_test(test_reads_wal),
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_export_import),
	    cmocka_unit_test(test_usage),
	    cmocka_unit_test(test_render_golden),
	    cmocka_unit_test(test_token_accepted_by_roomd),
	    cmocka_unit_test(test_online),
	    cmocka_unit_test(test_roomd_written_room),
	    cmocka_unit_test(test_compact),
	    cmocka_unit_test(test_cluster_pull_and_rooms),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
