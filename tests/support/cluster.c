/* cluster.c - HAProxy, roomd nodes, background roomload and the acked-ops
 * check for the cluster tests (see cluster.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "roomtest.h"
#include "timescale.h"

enum {
	HX_READY_MS = 10000,	 /* hx_start: the port must accept by then */
	HX_STOP_MS = 2000,	 /* hx_stop: SIGTERM, then SIGKILL */
	HX_BIND_TRIES = 3,	 /* a free port taken meanwhile: try another */
	RESTART_TRY_MS = 5000,	 /* cl_node_restart: the port may be busy */
	ROUTE_POLL_MS = 50,	 /* hx_wait_route */
	LOAD_KILL_WAIT_MS = 2000 /* cl_load_free */
};

/* ---- small helpers ---- */

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int64_t now_ms(void)
{
	return rk_mono_us() / 1000;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0)
		fprintf(stderr, "cluster: remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* Remove dir and what is in it, unless RK_KEEP_TMP is set. */
static void remove_dir(const char *dir)
{
	if (!dir[0])
		return;
	const char *keep = getenv("RK_KEEP_TMP");
	if (keep && *keep) {
		fprintf(stderr, "cluster: kept %s\n", dir);
		return;
	}
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A port nobody listens on now (the kernel's pick for port 0). Another
 * process may take it before we do: callers retry. 0 on error. */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	int port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* True if something accepts TCP connections on 127.0.0.1:port. */
static bool port_accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* Run argv (argv[0] looked up on PATH) in the background with stdin from
 * /dev/null, stdout and stderr appended to the files (NULL: /dev/null),
 * dying with the test (PR_SET_PDEATHSIG). Its pid, or -1 (printed). */
static pid_t spawn(const char *const *argv, const char *out_path, const char *err_path)
{
	int out = open(out_path ? out_path : "/dev/null",
		       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int err = open(err_path ? err_path : "/dev/null",
		       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (out < 0 || err < 0 || in < 0) {
		fprintf(stderr, "cluster: cannot open the output of %s: %s\n", argv[0],
			strerror(errno));
		if (out >= 0)
			close(out);
		if (err >= 0)
			close(err);
		if (in >= 0)
			close(in);
		return -1;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* Child: only async-signal-safe calls until exec. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(in, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigaction(SIGPIPE, &dfl, NULL);
		execvp(argv[0], (char *const *)argv);
		static const char msg[] = "cluster: exec failed\n";
		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		_exit(127);
	}
	int fork_errno = errno;
	close(out);
	close(err);
	close(in);
	if (pid < 0)
		fprintf(stderr, "cluster: fork: %s\n", strerror(fork_errno));
	return pid;
}

/* Wait up to ms for pid to exit; its wait status, or -1 if it still runs. */
static int wait_pid(pid_t pid, int ms)
{
	int64_t deadline = now_ms() + ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			return -1;
		sleep_ms(10);
	}
}

static int exit_code(int st)
{
	if (st == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The whole file as a string (caller frees), or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	rk_buf b;
	rk_buf_init(&b, 64 << 20);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rk_buf_put(&b, chunk, n);
	fclose(f);
	rk_buf_putc(&b, '\0');
	if (rk_buf_ok(&b) != RK_OK) {
		rk_buf_free(&b);
		return NULL;
	}
	return rk_buf_steal(&b, NULL);
}

static void print_file(const char *what, const char *path)
{
	char *s = slurp(path);
	fprintf(stderr, "---- %s (%s) ----\n%s%s---- end ----\n", what, path, s ? s : "",
		s && *s && s[strlen(s) - 1] != '\n' ? "\n" : "");
	free(s);
}

/* ---- HAProxy ---- */

/* The first word of a config line (after its indentation), into w. */
static void first_word(const char *line, char *w, size_t n)
{
	while (*line == ' ' || *line == '\t')
		line++;
	size_t k = 0;
	while (line[k] && line[k] != ' ' && line[k] != '\t' && line[k] != '\n' &&
	       k + 1 < n) {
		w[k] = line[k];
		k++;
	}
	w[k] = '\0';
}

/* In a default-server line, set keyword kw's value to val (appended if
 * the line has none). */
static void set_kw(char *line, size_t cap, const char *kw, const char *val)
{
	char pat[32];
	snprintf(pat, sizeof(pat), " %s ", kw);
	char *p = strstr(line, pat);
	char tail[1024];
	if (!p) {
		size_t len = strcspn(line, "\n");
		snprintf(tail, sizeof(tail), "%s", line + len);
		snprintf(line + len, cap - len, " %s %s%s", kw, val, tail);
		return;
	}
	char *v = p + strlen(pat);
	char *end = v + strcspn(v, " \t\n");
	snprintf(tail, sizeof(tail), "%s", end);
	snprintf(v, cap - (size_t)(v - line), "%s%s", val, tail);
}

/* Write the test's config: deploy/haproxy.cfg with the bind address, the
 * servers and the health timing replaced, the system-only global lines
 * dropped and the log sent to stdout. false (printed) on failure. */
static bool write_config(const hx_proc *hx, const int *ports, const char *const *names,
			 int n, const hx_opts *o)
{
	const char *src = getenv("RK_SRC_DIR");
	char tpl[1024];
	snprintf(tpl, sizeof(tpl), "%s/deploy/haproxy.cfg",
		 src && *src ? src : RK_SOURCE_DIR);
	FILE *in = fopen(tpl, "r");
	if (!in) {
		fprintf(stderr, "hx_start: %s: %s (is RK_SRC_DIR set?)\n", tpl,
			strerror(errno));
		return false;
	}
	FILE *out = fopen(hx->cfg_path, "w");
	if (!out) {
		fprintf(stderr, "hx_start: %s: %s\n", hx->cfg_path, strerror(errno));
		fclose(in);
		return false;
	}
	char line[1024], word[64], section[64] = "";
	bool servers_done = false, bound = false;
	while (fgets(line, sizeof(line), in)) {
		first_word(line, word, sizeof(word));
		bool indented = line[0] == ' ' || line[0] == '\t';
		if (!indented && word[0] && word[0] != '#')
			snprintf(section, sizeof(section), "%s", word);
		if (strcmp(section, "global") == 0 && indented) {
			if (strcmp(word, "log") == 0) {
				fputs("    log stdout format raw local0\n", out);
				continue;
			}
			if (!strcmp(word, "chroot") || !strcmp(word, "user") ||
			    !strcmp(word, "group") || !strcmp(word, "daemon") ||
			    !strcmp(word, "stats") || !strcmp(word, "pidfile"))
				continue;
		}
		if (strcmp(word, "bind") == 0) {
			fprintf(out, "    bind 127.0.0.1:%d\n", hx->port);
			bound = true;
			continue;
		}
		if (strcmp(word, "server") == 0) {
			if (servers_done)
				continue;
			/* Keep the options after "server NAME ADDR". */
			const char *p = line;
			for (int f = 0; f < 3; f++) {
				p += strspn(p, " \t");
				p += strcspn(p, " \t\n");
			}
			char opts[512];
			snprintf(opts, sizeof(opts), "%.*s", (int)strcspn(p, "\n"), p);
			for (int i = 0; i < n; i++) {
				char def[16];
				snprintf(def, sizeof(def), "n%d", i + 1);
				fprintf(out, "    server %s 127.0.0.1:%d%s\n",
					names ? names[i] : def, ports[i], opts);
			}
			servers_done = true;
			continue;
		}
		if (strcmp(word, "default-server") == 0 && o) {
			char v[32];
			if (o->inter_ms > 0) {
				snprintf(v, sizeof(v), "%dms", o->inter_ms);
				set_kw(line, sizeof(line), "inter", v);
			}
			if (o->fastinter_ms > 0) {
				snprintf(v, sizeof(v), "%dms", o->fastinter_ms);
				set_kw(line, sizeof(line), "fastinter", v);
			}
			if (o->fall > 0) {
				snprintf(v, sizeof(v), "%d", o->fall);
				set_kw(line, sizeof(line), "fall", v);
			}
			if (o->rise > 0) {
				snprintf(v, sizeof(v), "%d", o->rise);
				set_kw(line, sizeof(line), "rise", v);
			}
		}
		fputs(line, out);
	}
	fclose(in);
	if (fclose(out) != 0 || !bound || !servers_done) {
		fprintf(stderr, "hx_start: %s has no %s line\n", tpl,
			!bound ? "bind" : "server");
		return false;
	}
	return true;
}

static void hx_kill(hx_proc *hx)
{
	if (hx->pid <= 0)
		return;
	kill(hx->pid, SIGTERM);
	if (wait_pid(hx->pid, HX_STOP_MS) == -1) {
		kill(hx->pid, SIGKILL);
		while (waitpid(hx->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	hx->pid = 0;
}

hx_proc *hx_start(const int *ports, const char *const *names, int n, const hx_opts *opts)
{
	hx_proc *hx = calloc(1, sizeof(*hx));
	if (!hx)
		return NULL;
	snprintf(hx->dir, sizeof(hx->dir), "/tmp/roomkit-haproxy-XXXXXX");
	if (!mkdtemp(hx->dir)) {
		fprintf(stderr, "hx_start: mkdtemp: %s\n", strerror(errno));
		free(hx);
		return NULL;
	}
	snprintf(hx->cfg_path, sizeof(hx->cfg_path), "%s/haproxy.cfg", hx->dir);
	snprintf(hx->log_path, sizeof(hx->log_path), "%s/haproxy.log", hx->dir);
	const char *bin = getenv("HAPROXY_BIN");
	if (!bin || !*bin) /* Debian's, which a plain user's PATH lacks */
		bin = access("/usr/sbin/haproxy", X_OK) == 0 ? "/usr/sbin/haproxy"
							     : "haproxy";
	for (int attempt = 0; attempt < HX_BIND_TRIES; attempt++) {
		hx->port = free_port();
		if (!hx->port || !write_config(hx, ports, names, n, opts))
			break;
		const char *const argv[] = {bin, "-db", "-f", hx->cfg_path, NULL};
		hx->pid = spawn(argv, hx->log_path, hx->log_path);
		if (hx->pid < 0) {
			hx->pid = 0;
			break;
		}
		int64_t deadline = now_ms() + rt_scaled_ms(HX_READY_MS);
		int st = -1;
		while (now_ms() < deadline) {
			if (port_accepts(hx->port))
				return hx;
			pid_t r = waitpid(hx->pid, &st, WNOHANG);
			if (r == hx->pid)
				break;
			sleep_ms(20);
		}
		if (st != -1) { /* it exited: the port was taken, or a config error */
			hx->pid = 0;
			fprintf(stderr, "hx_start: haproxy exited (status %d)\n",
				exit_code(st));
			print_file("haproxy output", hx->log_path);
			continue;
		}
		fprintf(stderr,
			"hx_start: haproxy did not accept on port %d within %d ms\n",
			hx->port, HX_READY_MS);
		print_file("haproxy output", hx->log_path);
		break;
	}
	hx_stop(hx);
	return NULL;
}

void hx_stop(hx_proc *hx)
{
	if (!hx)
		return;
	hx_kill(hx);
	remove_dir(hx->dir);
	free(hx);
}

bool hx_route(const hx_proc *hx, const char *room, char *node, size_t n, int timeout_ms)
{
	char req[512];
	int len = snprintf(req, sizeof(req),
			   "GET /v1/rooms/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
			   "Connection: close\r\n\r\n",
			   room, hx->port);
	http_reply r;
	memset(&r, 0, sizeof(r));
	node[0] = '\0';
	bool ok =
	    http_request("127.0.0.1", hx->port, req, (size_t)len, timeout_ms, &r) == 0 &&
	    http_reply_header(&r, "X-Roomkit-Node", node, n);
	http_reply_free(&r);
	return ok;
}

int hx_wait_route(const hx_proc *hx, const char *room, const char *node, int timeout_ms)
{
	int64_t t0 = now_ms(), deadline = t0 + rt_scaled_ms(timeout_ms);
	for (;;) {
		char got[64];
		/* A stopped node holds the request: ask with a short timeout. */
		hx_route(hx, room, got, sizeof(got), 250);
		if (strcmp(got, node) == 0)
			return (int)(now_ms() - t0);
		if (now_ms() >= deadline)
			return -1;
		sleep_ms(ROUTE_POLL_MS);
	}
}

int hx_wait_log(const hx_proc *hx, const char *s, int count, int timeout_ms)
{
	int64_t t0 = now_ms(), deadline = t0 + rt_scaled_ms(timeout_ms);
	for (;;) {
		char *log = slurp(hx->log_path);
		int seen = 0;
		for (const char *p = log; p && (p = strstr(p, s)); p += strlen(s))
			seen++;
		free(log);
		if (seen >= count)
			return (int)(now_ms() - t0);
		if (now_ms() >= deadline)
			return -1;
		sleep_ms(20);
	}
}

struct ws *hx_join(const hx_proc *hx, const char *room, const char *query, char *node,
		   size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "/ws/%s%s%s", room, query ? "?" : "",
		 query ? query : "");
	ws_opts o = {.subprotocol = "room.v1", .timeout_ms = rt_scaled_ms(5000)};
	http_reply r;
	memset(&r, 0, sizeof(r));
	struct ws *w = ws_connect_ex("127.0.0.1", hx->port, path, &o, &r);
	if (!w) {
		char why[200];
		snprintf(why, sizeof(why), "%s", r.error);
		int status = r.status;
		http_reply_free(&r);
		fail_msg("join %s through haproxy: status %d %s", path, status, why);
	}
	if (!http_reply_header(&r, "X-Roomkit-Node", node, n)) {
		http_reply_free(&r);
		ws_free(w);
		fail_msg("join %s through haproxy: no X-Roomkit-Node in the 101", path);
	}
	http_reply_free(&r);
	cJSON *welcome = ws_recv_type(w, "welcome", rt_scaled_ms(RT_TIMEOUT_MS));
	if (!welcome) {
		ws_free(w);
		fail_msg("join %s through haproxy: no welcome", path);
	}
	cJSON_Delete(welcome);
	return w;
}

/* ---- roomd nodes ---- */

/* args with "{node}" replaced by name, then extra (NULL-terminated lists;
 * either may be NULL). Caller frees with rd_free_args; NULL if out of memory. */
static char **node_args(char *const *args, const char *name, const char *const *extra)
{
	size_t na = 0, ne = 0;
	while (args && args[na])
		na++;
	while (extra && extra[ne])
		ne++;
	char **v = calloc(na + ne + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < na + ne; i++) {
		const char *a = i < na ? args[i] : extra[i - na];
		const char *mark = i < na ? strstr(a, "{node}") : NULL;
		if (mark) {
			size_t len = strlen(a) - 6 + strlen(name) + 1;
			v[i] = malloc(len);
			if (v[i])
				snprintf(v[i], len, "%.*s%s%s", (int)(mark - a), a, name,
					 mark + 6);
		} else {
			v[i] = strdup(a);
		}
		if (!v[i]) {
			rd_free_args(v);
			return NULL;
		}
	}
	return v;
}

cl_nodes *cl_nodes_start(int n, const char *const *args)
{
	if (n < 1 || n > CL_NODES_MAX) {
		fprintf(stderr, "cl_nodes_start: %d nodes (1..%d)\n", n, CL_NODES_MAX);
		return NULL;
	}
	cl_nodes *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	/* A copy, "{node}" marks kept: each start and restart fills them in. */
	size_t na = 0;
	while (args && args[na])
		na++;
	c->args = calloc(na + 1, sizeof(*c->args));
	for (size_t i = 0; c->args && i < na; i++)
		if (!(c->args[i] = strdup(args[i]))) {
			rd_free_args(c->args);
			c->args = NULL;
		}
	if (!c->args) {
		free(c);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		snprintf(c->name[i], sizeof(c->name[i]), "n%d", i + 1);
		char **a = node_args(c->args, c->name[i], NULL);
		c->rd[i] = a ? rd_start((const char *const *)a, NULL) : NULL;
		rd_free_args(a);
		if (!c->rd[i]) {
			fprintf(stderr, "cl_nodes_start: node %s did not start\n",
				c->name[i]);
			c->n = i;
			cl_nodes_stop(c);
			return NULL;
		}
		c->port[i] = c->rd[i]->port;
		c->n = i + 1;
	}
	return c;
}

void cl_nodes_stop(cl_nodes *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		if (c->rd[i] && c->rd[i]->pid > 0)
			kill(c->rd[i]->pid, SIGCONT);
	for (int i = 0; i < c->n; i++)
		rd_cleanup(c->rd[i]);
	rd_free_args(c->args);
	free(c);
}

int cl_node_signal(cl_nodes *c, int i, int sig)
{
	if (i < 0 || i >= c->n || !c->rd[i] || c->rd[i]->pid <= 0)
		fail_msg("cl_node_signal: node %d is not running", i);
	if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) {
		kill(c->rd[i]->pid, SIGCONT); /* a stopped node cannot exit */
		return rd_stop(c->rd[i], sig);
	}
	if (kill(c->rd[i]->pid, sig) != 0)
		fail_msg("cl_node_signal: kill(%d, %d): %s", (int)c->rd[i]->pid, sig,
			 strerror(errno));
	return 0;
}

void cl_node_restart(cl_nodes *c, int i)
{
	if (i < 0 || i >= c->n)
		fail_msg("cl_node_restart: no node %d", i);
	char listen[32];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", c->port[i]);
	const char *const extra[] = {"--listen", listen, NULL};
	char **a = node_args(c->args, c->name[i], extra);
	if (!a)
		fail_msg("cl_node_restart: out of memory");
	int64_t deadline = now_ms() + rt_scaled_ms(RESTART_TRY_MS);
	int rc;
	for (;;) {
		if (!c->rd[i]) { /* reserved, never started */
			c->rd[i] = rd_start((const char *const *)a, NULL);
			rc = c->rd[i] ? 0 : -1;
		} else {
			rc = rd_restart(c->rd[i], (const char *const *)a);
		}
		if (rc == 0 || now_ms() >= deadline)
			break;
		sleep_ms(200);
	}
	rd_free_args(a);
	if (rc != 0)
		fail_msg("cl_node_restart: node %s did not come back on port %d",
			 c->name[i], c->port[i]);
	if (c->rd[i]->port != c->port[i])
		fail_msg("cl_node_restart: node %s listens on %d, not %d", c->name[i],
			 c->rd[i]->port, c->port[i]);
}

int cl_node_reserve(cl_nodes *c)
{
	if (c->n >= CL_NODES_MAX)
		fail_msg("cl_node_reserve: already %d nodes", c->n);
	int i = c->n;
	c->port[i] = free_port();
	if (!c->port[i])
		fail_msg("cl_node_reserve: no free port");
	snprintf(c->name[i], sizeof(c->name[i]), "n%d", i + 1);
	c->rd[i] = NULL;
	c->n++;
	return i;
}

int cl_node_index(const cl_nodes *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->name[i], name) == 0)
			return i;
	return -1;
}

/* ---- roomload in the background ---- */

cl_load *cl_load_start(const char *url, const char *const *args)
{
	const char *bin = getenv("ROOMLOAD_BIN");
	if (!bin || !*bin) {
		fprintf(stderr, "cl_load_start: ROOMLOAD_BIN is not set\n");
		return NULL;
	}
	cl_load *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	snprintf(l->dir, sizeof(l->dir), "/tmp/roomkit-load-XXXXXX");
	if (!mkdtemp(l->dir)) {
		fprintf(stderr, "cl_load_start: mkdtemp: %s\n", strerror(errno));
		free(l);
		return NULL;
	}
	snprintf(l->acked_path, sizeof(l->acked_path), "%s/acked.txt", l->dir);
	snprintf(l->out_path, sizeof(l->out_path), "%s/report.json", l->dir);
	snprintf(l->err_path, sizeof(l->err_path), "%s/stderr.txt", l->dir);
	const char *argv[64];
	int k = 0;
	argv[k++] = bin;
	argv[k++] = "--url";
	argv[k++] = url;
	for (int i = 0; args && args[i] && k < 58; i++)
		argv[k++] = args[i];
	argv[k++] = "--json";
	argv[k++] = "--acked-file";
	argv[k++] = l->acked_path;
	argv[k] = NULL;
	l->pid = spawn(argv, l->out_path, l->err_path);
	if (l->pid < 0) {
		l->pid = 0;
		cl_load_free(l);
		return NULL;
	}
	l->status = -1;
	return l;
}

cJSON *cl_load_wait(cl_load *l, int timeout_ms, int *status)
{
	if (l->pid > 0) {
		int st = wait_pid(l->pid, rt_scaled_ms(timeout_ms));
		if (st == -1) {
			kill(l->pid, SIGKILL);
			waitpid(l->pid, NULL, 0);
			l->pid = 0;
			print_file("roomload stderr", l->err_path);
			fail_msg("roomload did not finish within %d ms", timeout_ms);
		}
		l->pid = 0;
		l->status = exit_code(st);
	}
	if (status)
		*status = l->status;
	if (l->status != 0)
		print_file("roomload stderr", l->err_path);
	char *out = slurp(l->out_path);
	cJSON *j = out ? cJSON_Parse(out) : NULL;
	if (!j) {
		print_file("roomload stderr", l->err_path);
		fail_msg("roomload (status %d) printed no JSON report: %s", l->status,
			 out ? out : "(no output)");
	}
	free(out);
	return j;
}

void cl_load_free(cl_load *l)
{
	if (!l)
		return;
	if (l->pid > 0) {
		kill(l->pid, SIGKILL);
		wait_pid(l->pid, LOAD_KILL_WAIT_MS);
	}
	remove_dir(l->dir);
	free(l);
}

double cl_num(const cJSON *report, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	const cJSON *cur = report;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k;
	     k = strtok_r(NULL, ".", &save)) {
		cur = cJSON_GetObjectItemCaseSensitive(cur, k);
		if (!cur)
			fail_msg("roomload report has no %s", path);
	}
	if (!cJSON_IsNumber(cur))
		fail_msg("roomload report field %s is not a number", path);
	return cur->valuedouble;
}

/* ---- the acked-ops check ---- */

typedef struct acked_line {
	char room[RK_ROOM_ID_MAX + 1];
	long long seq;
	char id[RK_ID_MAX + 1];
	long lineno;
} acked_line;

static int by_room(const void *a, const void *b)
{
	const acked_line *x = a, *y = b;
	int c = strcmp(x->room, y->room);
	return c ? c : (x->lineno < y->lineno ? -1 : x->lineno > y->lineno);
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One room's stored log, from `roomctl events DB`: ids[seq] (NULL where
 * there is no event), and "user\nid" of every event for the double check. */
typedef struct room_log {
	char **ids;
	long long max_seq;
	char **keys;
	size_t nkeys;
} room_log;

static void room_log_free(room_log *g)
{
	for (long long s = 0; g->ids && s <= g->max_seq; s++)
		free(g->ids[s]);
	free(g->ids);
	for (size_t i = 0; i < g->nkeys; i++)
		free(g->keys[i]);
	free(g->keys);
	memset(g, 0, sizeof(*g));
}

/* Read room's log from `roomctl events db`. false with why if it has a seq
 * or a (user, id) twice; a roomctl that fails fails the test. */
static bool room_log_read(room_log *g, const char *room, const char *db, char *why,
			  size_t whylen)
{
	memset(g, 0, sizeof(*g));
	const char *bin = getenv("ROOMCTL_BIN");
	if (!bin || !*bin)
		fail_msg("ROOMCTL_BIN is not set");
	const char *const argv[] = {bin, "events", db, NULL};
	char *out = NULL;
	int rc = rt_run(argv, 60000, &out);
	if (rc != 0) {
		fprintf(stderr, "%s\n", out ? out : "");
		free(out);
		fail_msg("roomctl events %s (room %s) exited %d", db, room, rc);
	}
	size_t cap = 0;
	bool ok = true;
	for (char *save = NULL, *ln = strtok_r(out, "\n", &save); ln && ok;
	     ln = strtok_r(NULL, "\n", &save)) {
		cJSON *e = cJSON_Parse(ln);
		const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "seq");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(e, "user");
		if (!cJSON_IsNumber(seq) || !cJSON_IsString(id) ||
		    !cJSON_IsString(user) || seq->valuedouble < 1) {
			cJSON_Delete(e);
			free(out);
			fail_msg("roomctl events %s: not an event line", db);
		}
		long long s = (long long)seq->valuedouble;
		if (s > g->max_seq || !g->ids) {
			char **ids = realloc(g->ids, (size_t)(s + 1) * sizeof(*ids));
			if (!ids)
				fail_msg("out of memory");
			long long from = g->ids ? g->max_seq + 1 : 0;
			memset(ids + from, 0, (size_t)(s + 1 - from) * sizeof(*ids));
			g->ids = ids;
			g->max_seq = s;
		}
		if (g->ids[s]) {
			snprintf(why, whylen, "room %s: seq %lld is in the log twice",
				 room, s);
			ok = false;
		} else {
			g->ids[s] = strdup(id->valuestring);
			if (g->nkeys == cap) {
				cap = cap ? cap * 2 : 1024;
				g->keys = realloc(g->keys, cap * sizeof(*g->keys));
				if (!g->keys)
					fail_msg("out of memory");
			}
			size_t kl =
			    strlen(user->valuestring) + strlen(id->valuestring) + 2;
			g->keys[g->nkeys] = malloc(kl);
			if (!g->keys[g->nkeys] || !g->ids[s])
				fail_msg("out of memory");
			snprintf(g->keys[g->nkeys++], kl, "%s\n%s", user->valuestring,
				 id->valuestring);
		}
		cJSON_Delete(e);
	}
	free(out);
	if (!ok)
		return false;
	qsort(g->keys, g->nkeys, sizeof(*g->keys), by_str);
	for (size_t i = 1; i < g->nkeys; i++) {
		if (strcmp(g->keys[i - 1], g->keys[i]) == 0) {
			const char *nl = strchr(g->keys[i], '\n');
			snprintf(why, whylen,
				 "room %s: op %s of user %.*s is in the log twice", room,
				 nl + 1, (int)(nl - g->keys[i]), g->keys[i]);
			return false;
		}
	}
	return true;
}

long cl_acked_verify(const char *acked_path, cl_room_db_fn room_db, void *ctx, char *why,
		     size_t whylen)
{
	why[0] = '\0';
	FILE *f = fopen(acked_path, "r");
	if (!f)
		fail_msg("cl_acked_verify: %s: %s", acked_path, strerror(errno));
	acked_line *v = NULL;
	size_t n = 0, cap = 0;
	char line[512];
	long lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				fail_msg("out of memory");
		}
		acked_line *a = &v[n];
		char extra;
		int got =
		    sscanf(line, "%64s %lld %64s %c", a->room, &a->seq, a->id, &extra);
		if (got != 3 || a->seq < 1) {
			snprintf(why, whylen, "%s:%ld: not 'ROOM SEQ OP_ID': %.200s",
				 acked_path, lineno, line);
			fclose(f);
			free(v);
			return -1;
		}
		a->lineno = lineno;
		n++;
	}
	fclose(f);
	if (n)
		qsort(v, n, sizeof(*v), by_room);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && strcmp(v[j].room, v[i].room) == 0)
			j++;
		char db[1024];
		room_log g;
		if (!room_db(ctx, v[i].room, db, sizeof(db))) {
			snprintf(why, whylen, "room %s (%zu acked ops) has no stored log",
				 v[i].room, j - i);
			free(v);
			return -1;
		}
		bool ok = room_log_read(&g, v[i].room, db, why, whylen);
		for (size_t k = i; ok && k < j; k++) {
			const acked_line *a = &v[k];
			const char *got = a->seq <= g.max_seq ? g.ids[a->seq] : NULL;
			if (!got || strcmp(got, a->id) != 0) {
				snprintf(
				    why, whylen,
				    "%s:%ld: op %s acked at seq %lld of room %s, but the "
				    "log has %s there (log ends at %lld)",
				    acked_path, a->lineno, a->id, a->seq, a->room,
				    got ? got : "nothing", g.max_seq);
				ok = false;
			}
		}
		room_log_free(&g);
		if (!ok) {
			free(v);
			return -1;
		}
		i = j;
	}
	free(v);
	return (long)n;
}

long cl_check_acked(const char *acked_path, cl_room_db_fn room_db, void *ctx)
{
	char why[512];
	long n = cl_acked_verify(acked_path, room_db, ctx, why, sizeof(why));
	if (n < 0)
		fail_msg("%s", why);
	return n;
}
