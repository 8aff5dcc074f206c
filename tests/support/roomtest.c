/* roomtest.c - helpers for roomd's integration tests. */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "buf.h"
#include "clock.h"
#include <cmocka.h>
#include "clock.h"
#include <sqlite3.h>
#include "roomtest.h"

rd_proc *rt_start(const char *const *extra_args)
{
	rd_proc *rd = rd_start(extra_args, NULL);
	if (!rd)
		fail_msg("roomd did not start");
	return rd;
}

struct ws *rt_join(rd_proc *rd, const char *room, const char *query, cJSON **welcome)
{
	return rt_join_ex(rd, room, query, NULL, welcome);
}

struct ws *rt_join_ex(rd_proc *rd, const char *room, const char *query,
		      const ws_opts *opts, cJSON **welcome)
{
	char path[1024];
	snprintf(path, sizeof(path), "/ws/%s%s%s", room, query ? "?" : "",
		 query ? query : "");
	http_reply reply = {0};
	struct ws *w = ws_connect_ex(rd->host, rd->port, path, opts, &reply);
	if (!w) {
		fail_msg("upgrade to %s refused: %d %s %s", path, reply.status,
			 reply.body ? reply.body : "", reply.error);
	}
	http_reply_free(&reply);
	cJSON *wel = ws_recv_type(w, "welcome", RT_TIMEOUT_MS);
	if (!wel)
		fail_msg("no welcome on %s: %s (close %d)", path, ws_error(w),
			 ws_close_code(w));
	if (welcome)
		*welcome = wel;
	else
		cJSON_Delete(wel);
	return w;
}

void rt_send_op(struct ws *w, const char *id, const char *op_json)
{
	if (ws_send_textf(w, "{\"t\":\"op\",\"id\":\"%s\",\"op\":%s}", id, op_json) != 0)
		fail_msg("send op %s: %s", id, ws_error(w));
}

/*
 * Messages rt_op read while waiting for its reply, kept per connection so
 * that rt_expect still sees them in order (tests are single-threaded).
 */
#define STASH_CONNS 64
typedef struct stash {
	struct ws *w;
	cJSON *msgs; /* array, oldest first */
} stash;
static stash stashes[STASH_CONNS];

static stash *stash_of(struct ws *w, bool create)
{
	stash *free_slot = NULL;
	for (int i = 0; i < STASH_CONNS; i++) {
		if (stashes[i].w == w)
			return &stashes[i];
		if (!stashes[i].w && !free_slot)
			free_slot = &stashes[i];
	}
	if (!create || !free_slot)
		return NULL;
	free_slot->w = w;
	free_slot->msgs = cJSON_CreateArray();
	return free_slot;
}

void rt_forget(struct ws *w)
{
	stash *s = stash_of(w, false);
	if (s) {
		cJSON_Delete(s->msgs);
		s->msgs = NULL;
		s->w = NULL;
	}
}

void rt_free(struct ws *w)
{
	rt_forget(w);
	ws_free(w);
}

static cJSON *stash_take(struct ws *w, const char *t)
{
	stash *s = stash_of(w, false);
	if (!s)
		return NULL;
	int n = cJSON_GetArraySize(s->msgs);
	for (int i = 0; i < n; i++) {
		cJSON *m = cJSON_GetArrayItem(s->msgs, i);
		const char *mt = cJSON_GetStringValue(cJSON_GetObjectItem(m, "t"));
		if (!t || (mt && strcmp(mt, t) == 0)) {
			/* Messages of other types before it are skipped, as
			 * ws_recv_type would have. */
			cJSON *got = cJSON_DetachItemFromArray(s->msgs, i);
			for (int k = 0; k < i; k++)
				cJSON_DeleteItemFromArray(s->msgs, 0);
			return got;
		}
	}
	if (t) {
		cJSON_Delete(s->msgs);
		s->msgs = cJSON_CreateArray();
	}
	return NULL;
}

int64_t rt_op(struct ws *w, const char *id, const char *op_json, char *reject_code)
{
	rt_send_op(w, id, op_json);
	for (;;) {
		cJSON *m = ws_recv_json(w, RT_TIMEOUT_MS);
		if (!m)
			fail_msg("no reply to op %s: %s", id, ws_error(w));
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(m, "t"));
		const char *mid = cJSON_GetStringValue(cJSON_GetObjectItem(m, "id"));
		if (t && mid && strcmp(mid, id) == 0 &&
		    (strcmp(t, "ack") == 0 || strcmp(t, "reject") == 0)) {
			int64_t seq = 0;
			if (strcmp(t, "ack") == 0) {
				seq = rt_int(m, "seq");
			} else if (reject_code) {
				snprintf(reject_code, 64, "%s", rt_str(m, "code"));
			}
			cJSON_Delete(m);
			return seq;
		}
		stash *st = stash_of(w, true);
		if (st)
			cJSON_AddItemToArray(st->msgs, m);
		else
			cJSON_Delete(m);
	}
}

cJSON *rt_expect(struct ws *w, const char *t)
{
	cJSON *m = stash_take(w, t);
	if (!m)
		m = ws_recv_type(w, t, RT_TIMEOUT_MS);
	if (!m)
		fail_msg("expected a '%s' message: %s (result %d, close %d)", t,
			 ws_error(w), ws_last_result(w), ws_close_code(w));
	return m;
}

int64_t rt_int(const cJSON *obj, const char *field)
{
	const cJSON *n = cJSON_GetObjectItem(obj, field);
	if (!cJSON_IsNumber(n))
		fail_msg("field %s missing or not a number", field);
	return (int64_t)n->valuedouble;
}

const char *rt_str(const cJSON *obj, const char *field)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(obj, field));
	if (!s)
		fail_msg("field %s missing or not a string", field);
	return s;
}

static sqlite3 *open_ro(const char *db_path)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		fail_msg("open %s: %s", db_path, db ? sqlite3_errmsg(db) : "?");
	/* As roomctl: roomd's checkpointer may hold a lock for a moment (a
	 * hibernating room's WAL is truncated while the test reads). */
	sqlite3_busy_timeout(db, 5000);
	return db;
}

int64_t rt_sql_int(const char *db_path, const char *sql)
{
	sqlite3 *db = open_ro(db_path);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	int64_t v = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

void rt_sql_text(const char *db_path, const char *sql, char *out, size_t n)
{
	sqlite3 *db = open_ro(db_path);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	out[0] = '\0';
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		snprintf(out, n, "%s", v ? v : "");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

int rt_http(rd_proc *rd, const char *path, const char *headers, char **body)
{
	int status = 0;
	char *b = NULL;
	if (http_get(rd->host, rd->port, path, headers, RT_TIMEOUT_MS, &status, &b) != 0)
		fail_msg("GET %s failed", path);
	if (body)
		*body = b;
	else
		free(b);
	return status;
}

void rt_asan_quarantine(int mb)
{
#ifdef __SANITIZE_ADDRESS__
	const char *prev = getenv("ASAN_OPTIONS");
	char opts[512];
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=%d", prev ? prev : "",
		 prev && *prev ? ":" : "", mb);
	setenv("ASAN_OPTIONS", opts, 1);
#else
	(void)mb;
#endif
}

int rt_post(rd_proc *rd, const char *path, const char *headers, const char *body,
	    int timeout_ms, http_reply *reply)
{
	size_t blen = strlen(body);
	size_t cap = strlen(path) + (headers ? strlen(headers) : 0) + blen + 256;
	char *req = malloc(cap);
	if (!req)
		fail_msg("out of memory");
	int n = snprintf(
	    req, cap,
	    "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s%s\r\n%s",
	    path, rd->host, rd->port, blen, headers ? headers : "",
	    headers && *headers ? "\r\n" : "", body);
	http_reply r;
	memset(&r, 0, sizeof(r));
	int rc = http_request(rd->host, rd->port, req, (size_t)n, timeout_ms, &r);
	free(req);
	if (rc != 0)
		fail_msg("POST %s: %s", path, r.error);
	int status = r.status;
	if (reply)
		*reply = r;
	else
		http_reply_free(&r);
	return status;
}

int rt_http_method(rd_proc *rd, const char *method, const char *path, const char *headers,
		   char **body)
{
	char req[8192];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: %s:%d\r\n"
			 "Connection: close\r\nContent-Length: 0\r\n%s%s\r\n",
			 method, path, rd->host, rd->port, headers ? headers : "",
			 headers && *headers ? "\r\n" : "");
	if (n <= 0 || (size_t)n >= sizeof(req))
		fail_msg("request too long");
	http_reply r;
	if (http_request(rd->host, rd->port, req, (size_t)n, RT_TIMEOUT_MS, &r) != 0)
		fail_msg("%s %s failed: %s", method, path, r.error);
	int status = r.status;
	if (body) {
		*body = r.body;
		r.body = NULL;
	}
	http_reply_free(&r);
	return status;
}

void rt_expect_close(struct ws *w, int code, const char *reason)
{
	for (;;) {
		ws_result r = ws_recv(w, RT_TIMEOUT_MS, NULL, NULL, NULL);
		if (r == WS_MSG)
			continue;
		if (r != WS_CLOSED)
			fail_msg("want close %d, got result %d (%s)", code, r,
				 ws_error(w));
		if (ws_close_code(w) != code ||
		    (reason && strcmp(ws_close_reason(w), reason)))
			fail_msg("want close %d %s, got %d %s", code,
				 reason ? reason : "", ws_close_code(w),
				 ws_close_reason(w));
		return;
	}
}

char *rt_temp_file(const char *content)
{
	char *path = strdup("/tmp/roomtest-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		fail_msg("mkstemp failed");
	size_t n = strlen(content);
	if (write(fd, content, n) != (ssize_t)n)
		fail_msg("write temp file failed");
	close(fd);
	return path;
}

int rt_run(const char *const *argv, int timeout_ms, char **out)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		fail_msg("pipe failed");
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork failed");
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	rk_buf b;
	rk_buf_init(&b, 16 << 20);
	int64_t deadline = rk_mono_us() + (int64_t)timeout_ms * 1000;
	for (;;) {
		int64_t left = (deadline - rk_mono_us()) / 1000;
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail_msg("%s did not finish within %d ms; output:\n%s", argv[0],
				 timeout_ms, b.data ? b.data : "");
		}
		char chunk[4096];
		ssize_t r = read(p[0], chunk, sizeof(chunk));
		if (r <= 0)
			break;
		rk_buf_put(&b, chunk, (size_t)r);
	}
	close(p[0]);
	int st;
	if (waitpid(pid, &st, 0) != pid)
		fail_msg("waitpid failed");
	rk_buf_putc(&b, '\0');
	char *s = rk_buf_steal(&b, NULL);
	if (out)
		*out = s;
	else
		free(s);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int rt_roomctl(const char *const *args, char *out, size_t n)
{
	const char *bin = getenv("ROOMCTL_BIN");
	if (!bin || !*bin)
		fail_msg("ROOMCTL_BIN is not set");
	const char *argv[32] = {bin};
	size_t k = 1;
	while (k < 31 && args[k - 1]) {
		argv[k] = args[k - 1];
		k++;
	}
	argv[k] = NULL;
	char *text = NULL;
	int rc = rt_run(argv, 60000, &text);
	if (out && n)
		snprintf(out, n, "%s", text);
	free(text);
	return rc;
}

void rt_tmux_kill(const char *sock)
{
	char cmd[256], path[512];
	snprintf(cmd, sizeof(cmd), "tmux -f /dev/null -L %s kill-server 2>/dev/null",
		 sock);
	if (system(cmd) == -1)
		return;
	const char *dir = getenv("TMUX_TMPDIR");
	snprintf(path, sizeof(path), "%s/tmux-%u/%s", dir && *dir ? dir : "/tmp",
		 (unsigned)getuid(), sock);
	unlink(path);
}
