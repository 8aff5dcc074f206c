/* pgtmp.c - a throwaway PostgreSQL for a test, through scripts/pgtmp.sh
 * (pgtmp.h), with a watchdog process that cleans up after the test in any
 * case. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgtmp.h"

#ifndef RK_PGTMP_SCRIPT
#error "RK_PGTMP_SCRIPT (the path of scripts/pgtmp.sh) must be defined"
#endif

/* A pipe (close-on-exec) and a child: the child's pid (0 in the child),
 * or -1 with nothing left open. */
static pid_t fork_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
	}
	return pid;
}

/* Run the script with cmd on dir; its stdout's first line into out. */
static bool script(const char *cmd, const char *dir, char *out, size_t cap)
{
	int fds[2];
	pid_t pid = fork_pipe(fds);
	if (pid < 0)
		return false;
	if (pid == 0) {
		dup2(fds[1], 1);
		execlp("sh", "sh", RK_PGTMP_SCRIPT, cmd, dir, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char buf[512];
	size_t n = 0;
	ssize_t r;
	while ((r = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0 ||
	       (r < 0 && errno == EINTR))
		n += r > 0 ? (size_t)r : 0;
	close(fds[0]);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (out && cap) {
		size_t k = strlen(buf) < cap - 1 ? strlen(buf) : cap - 1;
		memcpy(out, buf, k);
		out[k] = '\0';
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The watchdog: waits for the test to close its pipe (pgtmp_stop writes
 * 's' first: a clean stop) or to die (EOF alone: an immediate stop), then
 * stops the server and removes the directory. */
static void watchdog(int rfd, const char *dir)
{
	setpgid(0, 0); /* out of the test's process group: ^C reaches only it */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	char c = 0;
	while (read(rfd, &c, 1) < 0 && errno == EINTR)
		;
	/* A test killed while its start was still running leaves the start
	 * going (initdb, then maybe a server): stop and remove again until
	 * the directory stays gone. */
	for (int i = 0; i < 60; i++) {
		script(c == 's' ? "stop" : "kill", dir, NULL, 0);
		pid_t pid = fork();
		if (pid == 0) {
			execlp("rm", "rm", "-rf", dir, (char *)NULL);
			_exit(127);
		}
		int st;
		while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (c != 's')
			usleep(500 * 1000); /* let a start still running show itself */
		if (access(dir, F_OK) != 0)
			break;
	}
	_exit(0);
}

bool pgtmp_start(pgtmp *p)
{
	memset(p, 0, sizeof(*p));
	p->guard = -1;
	snprintf(p->dir, sizeof(p->dir), "/tmp/pgtmp.XXXXXX");
	if (!mkdtemp(p->dir)) {
		fprintf(stderr, "pgtmp: mkdtemp: %s\n", strerror(errno));
		return false;
	}
	int fds[2];
	pid_t pid = fork_pipe(fds);
	if (pid < 0)
		return false;
	if (pid == 0) {
		close(fds[1]);
		watchdog(fds[0], p->dir);
	}
	close(fds[0]);
	p->guard = fds[1];
	p->watchdog = pid;
	if (!script("start", p->dir, p->url, sizeof(p->url)) ||
	    strncmp(p->url, "postgresql://", 13) != 0) {
		fprintf(stderr, "pgtmp: PostgreSQL did not start in %s\n", p->dir);
		pgtmp_stop(p);
		return false;
	}
	return true;
}

bool pgtmp_ctl(pgtmp *p, const char *cmd)
{
	char out[128];
	return script(cmd, p->dir, out, sizeof(out));
}

void pgtmp_stop(pgtmp *p)
{
	if (p->guard < 0)
		return;
	ssize_t w = write(p->guard, "s", 1);
	(void)w;
	close(p->guard);
	p->guard = -1;
	int st;
	while (waitpid(p->watchdog, &st, 0) < 0 && errno == EINTR)
		;
}
