/*
 * pgtmp.h - a throwaway PostgreSQL for a test (scripts/pgtmp.sh: initdb in
 * a temporary directory, run as the postgres user, on a free port of
 * 127.0.0.1).
 *
 * pgtmp_start creates the directory (mkdtemp under /tmp), starts the
 * server and returns once it accepts connections, with its URL. A watchdog
 * process stops the server and removes the directory when pgtmp_stop is
 * called, or when the test process dies in any way (a failed assertion, a
 * crash, SIGKILL from ctest's timeout): no test leaves a PostgreSQL
 * running. One pgtmp per test process at a time is the common case; several
 * work.
 */
#ifndef RK_PGTMP_H
#define RK_PGTMP_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct pgtmp {
	/* read-only */
	char url[128];	    /* postgresql://postgres@127.0.0.1:PORT/postgres */
	char dir[PATH_MAX]; /* the server's directory (pgdata, log, socket) */
	/* private */
	int guard; /* write end of the watchdog's pipe */
	pid_t watchdog;
} pgtmp;

/* Start a server. true with p filled, or false with the reason (and the
 * end of the server's log) printed on stderr; nothing is left running. */
bool pgtmp_start(pgtmp *p);
/* Run `pgtmp.sh CMD DIR` (stop, kill, restart) on p's server; restart
 * keeps the port and the URL. true if it exited 0. */
bool pgtmp_ctl(pgtmp *p, const char *cmd);
/* Stop the server (fast) and remove its directory; waits for both. */
void pgtmp_stop(pgtmp *p);

#endif
