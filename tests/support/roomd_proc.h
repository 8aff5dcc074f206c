/*
 * roomd_proc.h - run the real roomd binary for an integration test.
 *
 * rd_start launches `$ROOMD_BIN --listen 127.0.0.1:0 --data DIR <extra
 * args>` and returns once roomd has logged "roomd listening on HOST:PORT"
 * (PROTOCOL.md section 10), so a test never sleeps and never guesses a port.
 * roomd's stdout and stderr go through a pipe that a harness thread drains
 * for the whole life of the process: into a log file (kept on disk, see
 * log_path) and into memory for rd_log_contains / rd_log_wait. Set
 * RK_ECHO_LOG=1 to also copy every line to the test's stderr, and
 * RK_KEEP_TMP=1 to keep the temporary directory (data and log) after
 * rd_cleanup.
 *
 * roomd is started with PR_SET_PDEATHSIG, so it dies with a crashed test.
 * One rd_proc belongs to one test thread; several may run at once. Start it
 * in a cmocka setup and rd_cleanup it in the teardown, so that a failed
 * assertion (which leaves the test function) still removes the directory.
 */
#ifndef RK_ROOMD_PROC_H
#define RK_ROOMD_PROC_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct rd_priv;

typedef struct rd_proc {
	/* read-only */
	pid_t pid;		 /* roomd's pid while it runs, else 0 */
	int port;		 /* the port it listens on (changes on
				  * every rd_restart) */
	char host[64];		 /* "127.0.0.1" (from its ready line) */
	char data_dir[PATH_MAX]; /* the --data directory */
	char log_path[PATH_MAX]; /* roomd's stdout + stderr, all runs
				  * appended with a separator line */
	char tmp_dir[PATH_MAX];	 /* what rd_cleanup removes: holds the log,
				  * and the data directory unless the test
				  * gave its own */
	/* private */
	struct rd_priv *priv;
} rd_proc;

/*
 * Start roomd. extra_args: a NULL-terminated list of more arguments (or
 * NULL), e.g. (const char *const[]){"--secret-file", path, NULL}.
 * data_dir_or_NULL: an existing directory to use as --data (kept by
 * rd_cleanup), or NULL for a fresh one under the temporary directory. The
 * environment is inherited (so a test may set ROOMD_SECRET first).
 * Waits up to 10 s for the ready line. Returns the process (free with
 * rd_cleanup), or NULL with the reason and roomd's output on stderr if
 * ROOMD_BIN is not set, roomd exited, or it was not ready in time (it is
 * then killed and everything is removed).
 */
rd_proc *rd_start(const char *const *extra_args, const char *data_dir_or_NULL);

/* How to run roomd, for the storage-fault tests (rd_start_ex). */
typedef struct rd_opts {
	uid_t uid; /* with set_uid: run roomd as this user (and its
		    * group = uid), after chowning the temporary and
		    * data directories to it; needs root */
	bool set_uid;
	long long fsize; /* > 0: RLIMIT_FSIZE soft limit in bytes, with
			  * SIGXFSZ ignored, so a write past it fails with
			  * EFBIG: a full disk for every file roomd writes
			  * (its output goes to a pipe, not a file). The
			  * hard limit is left alone so the test may raise
			  * the soft one with prlimit(2) */
} rd_opts;

/* rd_start with opts (NULL: as rd_start); every rd_restart keeps them. */
rd_proc *rd_start_ex(const char *const *extra_args, const char *data_dir_or_NULL,
		     const rd_opts *opts);

/*
 * Send sig (SIGTERM for a clean shutdown, SIGKILL for a crash, or any other)
 * and wait up to 10 s for roomd to exit. Returns its exit code (0..255), or
 * 128 + the signal number if a signal ended it (SIGKILL: 137), or -1 if it
 * was not running or did not exit in time (it is then killed with SIGKILL
 * and reaped). If rd_alive found it dead, returns how it ended instead.
 * Afterwards pid is 0 and rd_restart may start it again.
 */
int rd_stop(rd_proc *rd, int sig);

/* True while roomd runs. Once it has exited by itself (crashed, say) this
 * returns false, pid becomes 0, and the next rd_stop returns how it ended
 * without sending anything. */
bool rd_alive(rd_proc *rd);

/*
 * Start roomd again on the same data directory and log file, with the same
 * extra arguments (extra_args_or_NULL: NULL) or new ones. A running roomd is
 * first stopped with SIGTERM. Returns 0 once the new one is ready (port is
 * updated: it is usually a new one), or -1 as for rd_start (rd stays valid,
 * stopped, for rd_cleanup).
 */
int rd_restart(rd_proc *rd, const char *const *extra_args_or_NULL);

/* rd_restart with new rd_opts (NULL: none) from now on. */
int rd_restart_ex(rd_proc *rd, const char *const *extra_args_or_NULL,
		  const rd_opts *opts);

/* Kill roomd if it still runs (SIGKILL), remove tmp_dir (unless RK_KEEP_TMP
 * is set, then its path is printed) and free rd. NULL is a no-op. */
void rd_cleanup(rd_proc *rd);

/* Free a NULL-terminated list of malloc'ed strings and the list; NULL is
 * fine. */
void rd_free_args(char **args);

/* True if the output of the current run (since the last start or restart)
 * contains s, as far as the harness has read it. */
bool rd_log_contains(rd_proc *rd, const char *s);

/* Wait up to timeout_ms for the output of the current run to contain s;
 * true if it does. For log lines written after the event that causes them. */
bool rd_log_wait(rd_proc *rd, const char *s, int timeout_ms);

/* "<data_dir>/rooms/<room>.db" (PROTOCOL.md section 7) into out (n bytes);
 * returns out. */
char *rd_room_db(const rd_proc *rd, const char *room, char *out, size_t n);

#endif
