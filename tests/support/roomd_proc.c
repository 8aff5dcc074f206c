/* roomd_proc.c - start, stop and watch roomd for integration tests
 * (see roomd_proc.h). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "buf.h"
#include "clock.h"
#include "roomd_proc.h"
#include "timescale.h"

enum {
	READY_TIMEOUT_MS = 10000,      /* rd_start: wait for the ready line */
	EXIT_TIMEOUT_MS = 10000,       /* rd_stop: wait for the exit */
	DRAIN_TIMEOUT_MS = 2000,       /* after the exit: wait for the last output */
	OUTPUT_MAX = 64 * 1024 * 1024, /* output kept in memory per run */
	TAIL_ON_FAILURE = 4096,	       /* output printed when a start fails */
};

#define READY_MARK "roomd listening on "

struct rd_priv {
	char *bin;	 /* $ROOMD_BIN at rd_start */
	char **extra;	 /* extra arguments, NULL-terminated, owned */
	int log_fd;	 /* the log file, O_APPEND */
	bool echo;	 /* RK_ECHO_LOG: copy output to stderr */
	bool own_tmp;	 /* tmp_dir was created by rd_start */
	int runs;	 /* starts so far (for the log separator) */
	int pidfd;	 /* for waiting with a deadline, or -1 */
	rd_opts opts;	 /* how roomd runs (rd_start_ex) */
	int exit_status; /* wait status of a roomd that rd_alive
			  * found dead, until rd_stop reports it;
			  * -1 if none */

	/* The pump thread drains roomd's output (pipe_r) until EOF, or until
	 * stop_w is written. The fields below the mutex are shared with it. */
	pthread_t pump;
	bool pump_running;
	int pipe_r;
	int stop_r, stop_w;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled on new output and EOF */
	rk_buf out;	   /* output of the current run (capped) */
	size_t scan;	   /* start of the first line not yet checked
			    * for the ready line */
	bool eof;
	bool ready;
	char ready_host[64];
	int ready_port;
};

/* ---- small helpers ---- */

void rd_free_args(char **args)
{
	if (!args)
		return;
	for (char **a = args; *a; a++)
		free(*a);
	free(args);
}

/* Deep copy of a NULL-terminated list (NULL gives an empty list). */
static char **copy_args(const char *const *args)
{
	size_t n = 0;
	while (args && args[n])
		n++;
	char **c = calloc(n + 1, sizeof(*c));
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		c[i] = strdup(args[i]);
		if (!c[i]) {
			rd_free_args(c);
			return NULL;
		}
	}
	return c;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the log is best effort; the test goes on */
		p += w;
		n -= (size_t)w;
	}
}

/* An absolute CLOCK_MONOTONIC time timeout_ms from now, for the condvar. */
static struct timespec abs_after_unscaled(int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* The same for a harness timeout, scaled by RK_TIMEOUT_SCALE (timescale.h). */
static struct timespec abs_after(int timeout_ms)
{
	return abs_after_unscaled(rt_scaled_ms(timeout_ms));
}

/* ---- the pump ---- */

/* Parse "roomd listening on HOST:PORT" in one line. Caller holds mu. */
static void check_ready_line(struct rd_priv *p, const char *line, size_t n)
{
	const char *m = memmem(line, n, READY_MARK, strlen(READY_MARK));
	if (!m)
		return;
	const char *a = m + strlen(READY_MARK), *end = line + n;
	const char *e = a;
	/* The address ends at a blank, or at the quote closing a JSON msg
	 * (roomd --log-format json). */
	while (e < end && *e != ' ' && *e != '\r' && *e != '\t' && *e != '"')
		e++;
	const char *colon = NULL;
	for (const char *c = a; c < e; c++)
		if (*c == ':')
			colon = c;
	if (!colon || colon == a || e - colon < 2 || e - colon > 6)
		return;
	int port = 0;
	for (const char *c = colon + 1; c < e; c++) {
		if (*c < '0' || *c > '9')
			return;
		port = port * 10 + (*c - '0');
	}
	if (port < 1 || port > 65535)
		return;
	const char *h = a, *he = colon;
	if (*h == '[' && he[-1] == ']') { /* [::1]:port */
		h++;
		he--;
	}
	size_t hl = (size_t)(he - h);
	if (hl == 0 || hl >= sizeof(p->ready_host))
		return;
	memcpy(p->ready_host, h, hl);
	p->ready_host[hl] = '\0';
	p->ready_port = port;
	p->ready = true;
}

/* Add a chunk of output and look at the lines it completes. */
static void take_output(struct rd_priv *p, const char *buf, size_t n)
{
	pthread_mutex_lock(&p->mu);
	rk_buf_put(&p->out, buf, n);
	while (!p->ready && p->scan < p->out.len) {
		const char *line = p->out.data + p->scan;
		const char *nl = memchr(line, '\n', p->out.len - p->scan);
		if (!nl)
			break;
		check_ready_line(p, line, (size_t)(nl - line));
		p->scan = (size_t)(nl - p->out.data) + 1;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void *pump_main(void *arg)
{
	struct rd_priv *p = arg;
	char buf[65536];
	for (;;) {
		struct pollfd fds[2] = {{.fd = p->pipe_r, .events = POLLIN},
					{.fd = p->stop_r, .events = POLLIN}};
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents) {
			ssize_t n = read(p->pipe_r, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			write_all(p->log_fd, buf, (size_t)n);
			if (p->echo)
				write_all(STDERR_FILENO, buf, (size_t)n);
			take_output(p, buf, (size_t)n);
			continue;
		}
		if (fds[1].revents)
			break;
	}
	pthread_mutex_lock(&p->mu);
	p->eof = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Stop the pump (after roomd is gone) and close the pipes. */
static void pump_finish(struct rd_priv *p)
{
	if (!p->pump_running)
		return;
	/* Let it read what roomd wrote before it exited. Only a process that
	 * inherited the pipe and still runs could keep it open longer. */
	struct timespec until = abs_after(DRAIN_TIMEOUT_MS);
	pthread_mutex_lock(&p->mu);
	while (!p->eof && pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0)
		;
	pthread_mutex_unlock(&p->mu);
	write_all(p->stop_w, "x", 1);
	pthread_join(p->pump, NULL);
	p->pump_running = false;
	close(p->pipe_r);
	close(p->stop_r);
	close(p->stop_w);
	p->pipe_r = p->stop_r = p->stop_w = -1;
}

/* ---- the process ---- */

/* Wait for roomd to exit until the deadline; its wait status, or -1 if it
 * is still running then. */
static int wait_exit(rd_proc *rd, int timeout_ms)
{
	struct rd_priv *p = rd->priv;
	int64_t deadline = rk_mono_us() + (int64_t)rt_scaled_ms(timeout_ms) * 1000;
	int status;
	for (;;) {
		pid_t r = waitpid(rd->pid, &status, WNOHANG);
		if (r == rd->pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		int64_t left_us = deadline - rk_mono_us();
		if (left_us <= 0)
			return -1;
		int left_ms = (int)((left_us + 999) / 1000);
		if (p->pidfd >= 0) {
			/* Readable once the process has exited. */
			struct pollfd pf = {.fd = p->pidfd, .events = POLLIN};
			poll(&pf, 1, left_ms);
		} else {
			/* Kernels without pidfd: roomd's output ends when it
			 * exits, so wait for the pump's EOF, then briefly
			 * for the exit status. */
			struct timespec until = abs_after_unscaled(left_ms);
			pthread_mutex_lock(&p->mu);
			while (!p->eof &&
			       pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0)
				;
			pthread_mutex_unlock(&p->mu);
			struct timespec tick = {0, 1000000};
			nanosleep(&tick, NULL);
		}
	}
}

/* Reap a roomd that has exited or is being killed; close its pidfd. */
static void reaped(rd_proc *rd)
{
	struct rd_priv *p = rd->priv;
	rd->pid = 0;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	pump_finish(p);
}

static int kill_and_reap(rd_proc *rd)
{
	kill(rd->pid, SIGKILL);
	int status = -1;
	while (waitpid(rd->pid, &status, 0) < 0 && errno == EINTR)
		;
	reaped(rd);
	return status;
}

static void print_tail(rd_proc *rd)
{
	struct rd_priv *p = rd->priv;
	pthread_mutex_lock(&p->mu);
	size_t n = p->out.len, from = n > TAIL_ON_FAILURE ? n - TAIL_ON_FAILURE : 0;
	fprintf(stderr, "---- roomd output%s (%s) ----\n%.*s%s---- end ----\n",
		from ? ", last bytes" : "", rd->log_path, (int)(n - from),
		p->out.data ? p->out.data + from : "",
		n && p->out.data[n - 1] != '\n' ? "\n" : "");
	pthread_mutex_unlock(&p->mu);
}

/* Start roomd with the current arguments and wait for its ready line. */
static int launch(rd_proc *rd)
{
	struct rd_priv *p = rd->priv;
	size_t nextra = 0;
	while (p->extra[nextra])
		nextra++;
	char listen_arg[] = "127.0.0.1:0";
	char opt_listen[] = "--listen", opt_data[] = "--data";
	char **argv = calloc(nextra + 6, sizeof(*argv));
	if (!argv)
		return -1;
	argv[0] = p->bin;
	argv[1] = opt_listen;
	argv[2] = listen_arg;
	argv[3] = opt_data;
	argv[4] = rd->data_dir;
	for (size_t i = 0; i < nextra; i++)
		argv[5 + i] = p->extra[i];

	int out[2], stop[2];
	if (pipe2(out, O_CLOEXEC) != 0) {
		free(argv);
		return -1;
	}
	if (pipe2(stop, O_CLOEXEC) != 0) {
		close(out[0]);
		close(out[1]);
		free(argv);
		return -1;
	}
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	pthread_mutex_lock(&p->mu);
	rk_buf_reset(&p->out);
	p->scan = 0;
	p->eof = p->ready = false;
	pthread_mutex_unlock(&p->mu);
	if (p->runs++ > 0) {
		char sep[96];
		int n =
		    snprintf(sep, sizeof(sep), "==== roomd_proc: run %d ====\n", p->runs);
		write_all(p->log_fd, sep, (size_t)n);
	}

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* Child: only async-signal-safe calls until exec. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigaction(SIGPIPE, &dfl, NULL);
		if (p->opts.fsize > 0) {
			struct rlimit rl;
			struct sigaction ign = {.sa_handler = SIG_IGN};
			sigaction(SIGXFSZ, &ign, NULL); /* survives exec */
			if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
				_exit(127);
			rl.rlim_cur = (rlim_t)p->opts.fsize;
			if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
				_exit(127);
		}
		if (p->opts.set_uid) {
			if (setgroups(0, NULL) != 0 || setgid((gid_t)p->opts.uid) != 0 ||
			    setuid(p->opts.uid) != 0)
				_exit(127);
			/* A credential change clears the parent-death signal. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(127);
		}
		execv(argv[0], argv);
		static const char msg[] = "roomd_proc: exec failed\n";
		write_all(STDERR_FILENO, msg, sizeof(msg) - 1);
		_exit(127);
	}
	int fork_errno = errno;
	free(argv);
	close(out[1]);
	if (devnull >= 0)
		close(devnull);
	p->pipe_r = out[0];
	p->stop_r = stop[0];
	p->stop_w = stop[1];
	if (pid < 0) {
		fprintf(stderr, "rd_start: fork: %s\n", strerror(fork_errno));
		close(out[0]);
		close(stop[0]);
		close(stop[1]);
		return -1;
	}
	rd->pid = pid;
	p->pidfd = pidfd_open(pid, 0);
	if (pthread_create(&p->pump, NULL, pump_main, p) != 0) {
		fprintf(stderr, "rd_start: cannot start the output thread\n");
		close(out[0]);
		close(stop[0]);
		close(stop[1]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		rd->pid = 0;
		return -1;
	}
	p->pump_running = true;

	/* Wait for the ready line, the end of the output, or the deadline. */
	struct timespec until = abs_after(READY_TIMEOUT_MS);
	pthread_mutex_lock(&p->mu);
	while (!p->ready && !p->eof &&
	       pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0)
		;
	bool ready = p->ready, eof = p->eof;
	if (ready) {
		snprintf(rd->host, sizeof(rd->host), "%s", p->ready_host);
		rd->port = p->ready_port;
	}
	pthread_mutex_unlock(&p->mu);
	if (ready)
		return 0;

	fprintf(stderr, "rd_start: %s %s\n", p->bin,
		eof ? "exited (or closed its output) before it was ready"
		    : "printed no \"" READY_MARK "HOST:PORT\" line within 10 s");
	int st = kill_and_reap(rd);
	if (eof && st >= 0 && WIFEXITED(st))
		fprintf(stderr, "rd_start: exit status %d\n", WEXITSTATUS(st));
	print_tail(rd);
	return -1;
}

/* ---- public ---- */

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0)
		fprintf(stderr, "rd_cleanup: remove %s: %s\n", path, strerror(errno));
	return 0; /* go on: remove as much as possible */
}

void rd_cleanup(rd_proc *rd)
{
	if (!rd)
		return;
	struct rd_priv *p = rd->priv;
	if (p) {
		if (rd->pid > 0)
			kill_and_reap(rd);
		pump_finish(p);
		if (p->log_fd >= 0)
			close(p->log_fd);
	}
	if (rd->tmp_dir[0] && p && p->own_tmp) {
		const char *keep = getenv("RK_KEEP_TMP");
		if (keep && *keep)
			fprintf(stderr, "rd_cleanup: kept %s\n", rd->tmp_dir);
		else
			nftw(rd->tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (p) {
		free(p->bin);
		rd_free_args(p->extra);
		rk_buf_free(&p->out);
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		free(p);
	}
	free(rd);
}

rd_proc *rd_start(const char *const *extra_args, const char *data_dir_or_NULL)
{
	return rd_start_ex(extra_args, data_dir_or_NULL, NULL);
}

rd_proc *rd_start_ex(const char *const *extra_args, const char *data_dir_or_NULL,
		     const rd_opts *opts)
{
	const char *bin = getenv("ROOMD_BIN");
	if (!bin || !*bin) {
		fprintf(stderr, "rd_start: ROOMD_BIN is not set\n");
		return NULL;
	}
	rd_proc *rd = calloc(1, sizeof(*rd));
	struct rd_priv *p = calloc(1, sizeof(*p));
	if (!rd || !p) {
		free(rd);
		free(p);
		return NULL;
	}
	rd->priv = p;
	p->log_fd = p->pidfd = p->pipe_r = p->stop_r = p->stop_w = -1;
	p->exit_status = -1;
	if (opts)
		p->opts = *opts;
	rk_buf_init(&p->out, OUTPUT_MAX);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&p->mu, NULL);
	const char *echo = getenv("RK_ECHO_LOG");
	p->echo = echo && *echo && strcmp(echo, "0") != 0;
	p->bin = strdup(bin);
	p->extra = copy_args(extra_args);
	if (!p->bin || !p->extra)
		goto fail;

	snprintf(rd->tmp_dir, sizeof(rd->tmp_dir), "/tmp/roomkit-test-XXXXXX");
	if (!mkdtemp(rd->tmp_dir)) {
		fprintf(stderr, "rd_start: mkdtemp: %s\n", strerror(errno));
		rd->tmp_dir[0] = '\0';
		goto fail;
	}
	p->own_tmp = true;
	if (data_dir_or_NULL) {
		if ((size_t)snprintf(rd->data_dir, sizeof(rd->data_dir), "%s",
				     data_dir_or_NULL) >= sizeof(rd->data_dir))
			goto fail;
	} else {
		snprintf(rd->data_dir, sizeof(rd->data_dir), "%.*s/data",
			 (int)sizeof(rd->data_dir) - 6, rd->tmp_dir);
		if (mkdir(rd->data_dir, 0700) != 0) {
			fprintf(stderr, "rd_start: mkdir %s: %s\n", rd->data_dir,
				strerror(errno));
			goto fail;
		}
	}
	if (p->opts.set_uid &&
	    (chown(rd->tmp_dir, p->opts.uid, (gid_t)p->opts.uid) != 0 ||
	     chown(rd->data_dir, p->opts.uid, (gid_t)p->opts.uid) != 0)) {
		fprintf(stderr, "rd_start: chown to %d: %s\n", (int)p->opts.uid,
			strerror(errno));
		goto fail;
	}
	snprintf(rd->log_path, sizeof(rd->log_path), "%.*s/roomd.log",
		 (int)sizeof(rd->log_path) - 11, rd->tmp_dir);
	p->log_fd = open(rd->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (p->log_fd < 0) {
		fprintf(stderr, "rd_start: %s: %s\n", rd->log_path, strerror(errno));
		goto fail;
	}
	if (launch(rd) != 0)
		goto fail;
	return rd;

fail:
	rd_cleanup(rd);
	return NULL;
}

int rd_stop(rd_proc *rd, int sig)
{
	if (!rd)
		return -1;
	int st = rd->priv->exit_status;
	rd->priv->exit_status = -1;
	if (rd->pid > 0) {
		kill(rd->pid, sig);
		st = wait_exit(rd, EXIT_TIMEOUT_MS);
		if (st == -1) {
			fprintf(stderr,
				"rd_stop: roomd (pid %d) did not exit within %d ms "
				"of signal %d; killing it\n",
				(int)rd->pid, EXIT_TIMEOUT_MS, sig);
			kill_and_reap(rd);
			return -1;
		}
		reaped(rd);
	}
	if (st == -1)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

bool rd_alive(rd_proc *rd)
{
	if (!rd || rd->pid <= 0)
		return false;
	int st;
	if (waitpid(rd->pid, &st, WNOHANG) != rd->pid)
		return true;
	rd->priv->exit_status = st;
	reaped(rd);
	return false;
}

int rd_restart(rd_proc *rd, const char *const *extra_args_or_NULL)
{
	struct rd_priv *p = rd->priv;
	if (rd->pid > 0)
		rd_stop(rd, SIGTERM);
	p->exit_status = -1;
	if (extra_args_or_NULL) {
		char **c = copy_args(extra_args_or_NULL);
		if (!c)
			return -1;
		rd_free_args(p->extra);
		p->extra = c;
	}
	rd->port = 0;
	return launch(rd);
}

int rd_restart_ex(rd_proc *rd, const char *const *extra_args_or_NULL, const rd_opts *opts)
{
	if (rd->pid > 0)
		rd_stop(rd, SIGTERM);
	memset(&rd->priv->opts, 0, sizeof(rd->priv->opts));
	if (opts)
		rd->priv->opts = *opts;
	return rd_restart(rd, extra_args_or_NULL);
}

bool rd_log_contains(rd_proc *rd, const char *s)
{
	struct rd_priv *p = rd->priv;
	pthread_mutex_lock(&p->mu);
	bool found = p->out.data && memmem(p->out.data, p->out.len, s, strlen(s));
	pthread_mutex_unlock(&p->mu);
	return found;
}

bool rd_log_wait(rd_proc *rd, const char *s, int timeout_ms)
{
	struct rd_priv *p = rd->priv;
	struct timespec until = abs_after(timeout_ms > 0 ? timeout_ms : 0);
	size_t n = strlen(s);
	pthread_mutex_lock(&p->mu);
	bool found;
	while (!(found = p->out.data && memmem(p->out.data, p->out.len, s, n)) &&
	       !p->eof && pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0)
		;
	pthread_mutex_unlock(&p->mu);
	return found;
}

char *rd_room_db(const rd_proc *rd, const char *room, char *out, size_t n)
{
	snprintf(out, n, "%s/rooms/%s.db", rd->data_dir, room);
	return out;
}
