/*
 * cluster.h - test support for several roomd nodes behind HAProxy (issue 13):
 *
 *  - HAProxy (hx_*): started in the foreground (`haproxy -db`) as a child
 *    of the test, on a free port, with a config generated from the
 *    project's own deploy/haproxy.cfg (its global, defaults, frontend and
 *    backend lines as they are; only the bind address and the server lines
 *    are the test's, and the health-check timing may be overridden), so the
 *    tests prove the shipped config. Routing is read back from the
 *    X-Roomkit-Node response header that config adds (the name of the
 *    server HAProxy picked).
 *  - roomd nodes (cl_nodes_*): N roomd processes through roomd_proc.h, each
 *    with its own data directory, extra arguments passed through ("{node}"
 *    in an argument becomes the node's name: `--node {node}`); signals
 *    (SIGKILL, SIGTERM: waited for; SIGSTOP, SIGCONT: sent) and a restart
 *    on the same port and data directory.
 *  - roomload in the background (cl_load_*) with --json and --acked-file,
 *    its report parsed with cJSON.
 *  - cl_check_acked: every line of an acked-file ("ROOM SEQ OP_ID") is in
 *    the room's stored log (`roomctl events`) at that seq with that op id,
 *    and no (user, op id) is in a log twice.
 *
 * Every child (haproxy, roomd, roomload) gets PR_SET_PDEATHSIG SIGKILL, so
 * none outlives a crashed test; a cmocka teardown that calls hx_stop,
 * cl_nodes_stop and cl_load_free ends them after a failed assertion. The
 * functions meant for a setup (hx_start, cl_nodes_start, cl_load_start)
 * return NULL with the reason on stderr; the others fail the current test
 * (fail_msg), as roomtest.h does. Binaries come from the environment:
 * ROOMD_BIN, ROOMLOAD_BIN, ROOMCTL_BIN (set by ctest), HAPROXY_BIN (else
 * /usr/sbin/haproxy, else `haproxy` on PATH), and the config from
 * $RK_SRC_DIR/deploy/haproxy.cfg (else the source tree the harness was
 * built from).
 */
#ifndef RK_CLUSTER_H
#define RK_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "roomd_proc.h"
#include "wsclient.h"

#define CL_NODES_MAX 8

/* ---- HAProxy ---- */

/* Health-check timing, overriding deploy/haproxy.cfg's default-server line
 * (0: keep the file's value). */
typedef struct hx_opts {
	int inter_ms;	  /* `inter`: between checks of a healthy server */
	int fastinter_ms; /* `fastinter`: while a server is changing state */
	int fall;	  /* failed checks before a server is marked down */
	int rise;	  /* passed checks before it is up again */
} hx_opts;

typedef struct hx_proc {
	/* read-only */
	pid_t pid;	    /* haproxy's pid while it runs, else 0 */
	int port;	    /* the frontend's port on 127.0.0.1 */
	char dir[64];	    /* temporary: the config and haproxy's log */
	char cfg_path[128]; /* the generated config */
	char log_path[128]; /* haproxy's stdout + stderr */
} hx_proc;

/*
 * Start HAProxy in front of n backends (127.0.0.1:ports[i], server names
 * names[i], or n1..nN when names is NULL) and return once its port accepts
 * connections. opts may be NULL. Returns NULL (reason and haproxy's output
 * on stderr, nothing left running) if the config cannot be generated or
 * haproxy does not come up within 10 s. Free with hx_stop.
 */
hx_proc *hx_start(const int *ports, const char *const *names, int n, const hx_opts *opts);

/* SIGTERM, then SIGKILL after 2 s; reap it, remove its directory (kept,
 * with its path printed, when RK_KEEP_TMP is set) and free hx. NULL is a
 * no-op. */
void hx_stop(hx_proc *hx);

/*
 * Which server HAProxy routes room to now: `GET /v1/rooms/<room>` through
 * it (hashed like /ws/<room>) and the X-Roomkit-Node header of the answer,
 * into node (n bytes). Returns true with the name, or false with node ""
 * if no server answered (HAProxy's own 503, or no answer in timeout_ms).
 */
bool hx_route(const hx_proc *hx, const char *room, char *node, size_t n, int timeout_ms);

/*
 * Poll hx_route every 50 ms until it names node (or, with node "", until
 * no server answers). Returns the milliseconds it took, or -1 after
 * timeout_ms (scaled by RK_TIMEOUT_SCALE).
 */
int hx_wait_route(const hx_proc *hx, const char *room, const char *node, int timeout_ms);

/*
 * Poll HAProxy's output (its log: server state changes such as "Server
 * roomd/n1 is DOWN") every 20 ms until it contains s at least count times
 * in all (count 1: once). Returns the milliseconds it took, or -1 after
 * timeout_ms (scaled).
 */
int hx_wait_log(const hx_proc *hx, const char *s, int count, int timeout_ms);

/*
 * Join /ws/<room>?<query> through HAProxy (query may be NULL; the
 * room.v1 subprotocol is offered) and wait for the welcome. The server that
 * took the upgrade goes to node (n bytes; X-Roomkit-Node of the 101).
 * Returns the connection (ws_free), or fails the test.
 */
struct ws *hx_join(const hx_proc *hx, const char *room, const char *query, char *node,
		   size_t n);

/* ---- roomd nodes ---- */

typedef struct cl_nodes {
	int n;
	rd_proc *rd[CL_NODES_MAX];   /* roomd_proc.h; rd[i]->pid is 0 while
				      * node i is down; NULL for a reserved
				      * node not started yet */
	int port[CL_NODES_MAX];	     /* fixed for the node's life: a restart
				      * listens on it again */
	char name[CL_NODES_MAX][16]; /* "n1", "n2", ... */
	char **args;		     /* the extra arguments, owned */
} cl_nodes;

/*
 * Start n roomd nodes (n <= CL_NODES_MAX), each `roomd --data <its own
 * temporary dir> <args>`, "{node}" in an argument replaced by the node's
 * name; args NULL-terminated, or NULL. Returns them once every node is
 * ready, or NULL (reason on stderr, nothing left running).
 */
cl_nodes *cl_nodes_start(int n, const char *const *args);

/* SIGCONT every node (a stopped one cannot exit), then rd_cleanup each
 * (SIGKILL if still running; directories removed) and free. NULL: no-op. */
void cl_nodes_stop(cl_nodes *c);

/*
 * Signal node i. SIGKILL, SIGTERM, SIGINT: wait for it to exit (rd_stop)
 * and return its status as rd_stop does (SIGKILL: 137; a drained SIGTERM:
 * 0). SIGSTOP, SIGCONT and others: sent, 0 returned. Fails the test if
 * node i is not running.
 */
int cl_node_signal(cl_nodes *c, int i, int sig);

/* Start node i again, stopped first with SIGTERM if it runs, on its port
 * and data directory with its arguments; or for the first time, a node
 * cl_node_reserve made. Fails the test if it does not come up (the port
 * may be taken for a moment: retried for 5 s). */
void cl_node_restart(cl_nodes *c, int i);

/*
 * One more node, not started: a name (the next nI) and a free port, so that
 * HAProxy can be given its server line before it runs (it is then marked
 * down, and takes its share of the rooms once cl_node_restart starts it:
 * a node joining the cluster). Returns its index; fails the test if all
 * CL_NODES_MAX are used. rd[i] stays NULL until it is started.
 */
int cl_node_reserve(cl_nodes *c);

/* The index of the node called name, or -1. */
int cl_node_index(const cl_nodes *c, const char *name);

/* ---- roomload in the background ---- */

typedef struct cl_load {
	/* read-only */
	pid_t pid;	      /* while it runs, else 0 */
	int status;	      /* its exit status once reaped (128 + signal) */
	char dir[64];	      /* temporary: its output and acked-file */
	char acked_path[128]; /* --acked-file */
	char out_path[128];   /* its stdout: the JSON report */
	char err_path[128];   /* its stderr: progress, FAILED lines */
} cl_load;

/*
 * Run `roomload --url <url> <args> --json --acked-file <dir>/acked.txt`
 * in the background (args NULL-terminated: rooms, clients, rate, duration,
 * --reconnect...). Returns at once, or NULL (reason on stderr).
 */
cl_load *cl_load_start(const char *url, const char *const *args);

/* Wait up to timeout_ms (scaled) for roomload to exit; returns its report
 * (caller cJSON_Deletes) and its exit status in *status (may be NULL).
 * Fails the test (after killing it) if it runs longer, or printed no JSON;
 * its stderr is printed when the status is not 0. */
cJSON *cl_load_wait(cl_load *l, int timeout_ms, int *status);

/* Kill roomload if it still runs, remove its directory (kept when
 * RK_KEEP_TMP is set) and free. NULL is a no-op. */
void cl_load_free(cl_load *l);

/* A number in the report by dotted path ("connections.established");
 * fails the test if it is absent or not a number. */
double cl_num(const cJSON *report, const char *path);

/* ---- the stored log ---- */

/* Where the stored log of room is, as a room .db file: into path (n
 * bytes). false if there is none. For one roomd: rd_room_db; for a
 * cluster: whichever node holds it, or `roomctl pull`. */
typedef bool (*cl_room_db_fn)(void *ctx, const char *room, char *path, size_t n);

/*
 * Check an acked-file against the stored logs: for each room in it, run
 * `roomctl events <db>` once and require, for every line, an event at that
 * seq whose id is that op id; and no (user, id) twice in any of those
 * logs. Returns the number of lines checked; fails the test, naming the
 * first line that is not in the log, otherwise.
 */
long cl_check_acked(const char *acked_path, cl_room_db_fn room_db, void *ctx);

/* cl_check_acked without failing the test on a finding: the number of
 * lines checked, or -1 with why (whylen bytes) set to the first line not
 * in its log, a log with a seq or a (user, id) twice, a room without a log
 * or a malformed line. Still fails the test if roomctl cannot be run. */
long cl_acked_verify(const char *acked_path, cl_room_db_fn room_db, void *ctx, char *why,
		     size_t whylen);

#endif
