/*
 * roomctl.h - roomctl's internal interfaces: the command context, option
 * parsing, room files (through libstore: store.h), and one entry point per
 * command.
 *
 * Every command writes its result to ctx->out and its diagnostics to
 * ctx->err, and returns an exit status of the table below; nothing calls
 * exit(), so roomctl_main() can be driven from tests.
 */
#ifndef ROOMCTL_H
#define ROOMCTL_H

#include <stdio.h>

#include "buf.h"
#include "cli.h"
#include "rk_common.h"
#include "state.h"
#include "store.h"

/* Exit statuses: libcli's rk_exit (PROTOCOL.md section 10): RK_EXIT_OK
 * (verify: the room file is consistent), RK_EXIT_FAIL (a failed check or a
 * runtime error), RK_EXIT_USAGE (bad command line). */

typedef struct ctl_ctx {
	FILE *out;	 /* results */
	FILE *err;	 /* "Error: ..." lines and usage hints */
	const char *cmd; /* the command being run, for usage hints */
} ctl_ctx;

/* Run roomctl with argv (argv[0] is the program name). Returns the exit
 * status. This is main() minus the process. */
int roomctl_main(int argc, char **argv, FILE *out, FILE *err);

/* ---- diagnostics (cli.c) ----------------------------------------------- */

/* Print "Error: <msg>" on one line; returns RK_EXIT_FAIL. */
int ctl_fail(ctl_ctx *c, const char *fmt, ...) RK_PRINTF(2, 3);
/* Print "roomctl <cmd>: <msg>" and a one-line hint; returns RK_EXIT_USAGE. */
int ctl_usage(ctl_ctx *c, const char *fmt, ...) RK_PRINTF(2, 3);
/* Print the help text of a command (NULL: the overview) to f; false if the
 * command is unknown. */
bool ctl_help(FILE *f, const char *cmd);

/* ---- option parsing (opts.c) ------------------------------------------- */

/* One option a command accepts. */
typedef struct ctl_opt {
	const char *name; /* "--since" */
	bool has_arg;	  /* takes a value ("--since N" or "--since=N") */
	bool multi;	  /* may be repeated (values kept in order) */
} ctl_opt;

enum { CTL_MAX_POS = 4, CTL_MAX_VALS = 8 };

/* The parsed command line of one command. Values point into argv. */
typedef struct ctl_args {
	const char *pos[CTL_MAX_POS]; /* positional arguments */
	int npos;
	bool help; /* -h / --help was given */
	struct {
		const char *vals[CTL_MAX_VALS];
		int n; /* times given */
	} opt[16];     /* parallel to the command's option table */
} ctl_args;

/* ctl_parse's "go on" result is libcli's RK_CLI_GO; any other result is
 * the command's exit status (RK_EXIT_OK after printing the help for --help,
 * RK_EXIT_USAGE after a hint). */

/* Parse argv[0..argc) against opts (NULL-name terminated, at most 16) and at
 * most max_pos positional arguments. Returns RK_CLI_GO, or RK_EXIT_OK when --help
 * was given (the command's help is printed), or RK_EXIT_USAGE (hint printed). */
int ctl_parse(ctl_ctx *c, int argc, char **argv, const ctl_opt *opts, int max_pos,
	      ctl_args *a);
/* ctl_parse for a command of exactly one ROOM.db (a->pos[0]): RK_CLI_GO, or
 * the exit status (RK_EXIT_USAGE with "which room file?" when it is not
 * given once). */
int ctl_parse_file(ctl_ctx *c, int argc, char **argv, const ctl_opt *opts, ctl_args *a);
/* Index of an option in opts by name (it must exist). */
int ctl_opt_index(const ctl_opt *opts, const char *name);
/* The last value of option name, or NULL if it was not given. */
const char *ctl_get(const ctl_opt *opts, const ctl_args *a, const char *name);
/* True if a flag was given. */
bool ctl_flag(const ctl_opt *opts, const ctl_args *a, const char *name);
/* Parse a decimal integer in [min, max]; usage error naming the option. */
int ctl_int(ctl_ctx *c, const char *opt, const char *s, int64_t min, int64_t max,
	    int64_t *out);

/* ---- room files (db.c) -------------------------------------------------- */

/* A room file opened read-only through libstore (store_open_ro: the format
 * and meta checks are libstore's), with its meta. */
typedef struct rdb {
	store *s;
	const char *path;
	char room[RK_ROOM_ID_MAX + 1];
	char epoch[RK_EPOCH_MAX + 1];
	int64_t created_ms;
} rdb;

/*
 * Open path read-only (never writes the file; WAL readers never block
 * roomd; live: a reader that polls for later commits) and check it is a
 * room file (store.h, FORMAT). Returns RK_EXIT_OK, or RK_EXIT_FAIL with one line,
 * "<path>: <why>", in err (missing file, not SQLite, not a room file,
 * newer format). rdb_close is safe either way.
 */
int rdb_open(rdb *d, const char *path, bool live, char *err, size_t errlen);
void rdb_close(rdb *d);

/*
 * The rule of every command that writes or removes a room file: take
 * the room's single-writer lock (store_lock) on path first and hold it to
 * the end, so a room a roomd holds is never touched and roomd cannot take
 * it meanwhile. RK_EXIT_OK with the locked fd in *fd (store_unlock releases it),
 * or RK_EXIT_FAIL with an "Error:" line (missing file, held by a running roomd).
 */
int ctl_lock_room(ctl_ctx *c, const char *path, int *fd);
/* Bytes of path plus its -wal (and -shm if with_shm); 0 for missing files. */
int64_t ctl_room_bytes(const char *path, bool with_shm);

/* One stored event (store.h). Strings are valid until the next step. */
typedef store_event rdb_event;

/* A cursor over events with seq in (since, upto], optionally one user's. */
typedef struct rdb_iter {
	store_cursor *c;
	rdb_event ev;
} rdb_iter;

int rdb_iter_begin(rdb *d, rdb_iter *it, int64_t since, int64_t upto, const char *user,
		   char *err, size_t errlen);
/* 1: a row in it->ev; 0: done; -1: error (message in err). */
int rdb_iter_next(rdb *d, rdb_iter *it, char *err, size_t errlen);
void rdb_iter_end(rdb_iter *it);

/* min(seq), max(seq), count(*) of events (0s if empty). */
int rdb_seq_range(rdb *d, int64_t *min, int64_t *max, int64_t *count, char *err,
		  size_t errlen);

/*
 * The state after events 1..upto (upto < 0: every event). Starts from the
 * newest snapshot <= upto unless from_scratch, then applies the events after
 * it in order (user from the row, role owner: roomd checked roles when it
 * accepted them). Returns RK_EXIT_OK with *out (caller frees) and the seq reached
 * in *reached, or RK_EXIT_FAIL naming the first problem (a gap, an op that does
 * not decode or apply, a corrupt snapshot, upto beyond the log).
 */
int rdb_replay(rdb *d, int64_t upto, bool from_scratch, rk_state **out, int64_t *reached,
	       char *err, size_t errlen);

/* Apply one stored event to st. RK_EXIT_OK or RK_EXIT_FAIL with the reason in err. If
 * applied_json is not NULL the op as applied is encoded into it. */
int rdb_apply(rk_state *st, const rdb_event *ev, rk_buf *applied_json, char *err,
	      size_t errlen);

/* ---- output helpers ---------------------------------------------------- */

/* "2026-11-27T10:00:00.123Z" into out (at least 32 bytes); "-" for 0. */
void ctl_fmt_ms(int64_t ms, char *out, size_t cap);

/* ---- commands ---------------------------------------------------------- */

int cmd_token(ctl_ctx *c, int argc, char **argv);
int cmd_webhook(ctl_ctx *c, int argc, char **argv);
int cmd_inspect(ctl_ctx *c, int argc, char **argv);
int cmd_events(ctl_ctx *c, int argc, char **argv);
int cmd_replay(ctl_ctx *c, int argc, char **argv);
int cmd_verify(ctl_ctx *c, int argc, char **argv);
int cmd_diff(ctl_ctx *c, int argc, char **argv);
int cmd_rooms(ctl_ctx *c, int argc, char **argv);
int cmd_room(ctl_ctx *c, int argc, char **argv);
int cmd_health(ctl_ctx *c, int argc, char **argv);
int cmd_metrics(ctl_ctx *c, int argc, char **argv);
int cmd_usage(ctl_ctx *c, int argc, char **argv);
int cmd_export(ctl_ctx *c, int argc, char **argv);
int cmd_import(ctl_ctx *c, int argc, char **argv);
int cmd_compact(ctl_ctx *c, int argc, char **argv);
int cmd_delete(ctl_ctx *c, int argc, char **argv);
int cmd_pull(ctl_ctx *c, int argc, char **argv);
/* roomctl rooms --pg URL: the cluster's rooms (cluster.c). */
int ctl_rooms_pg(ctl_ctx *c, int argc, char **argv);

/* Draw st as ASCII art (board, polls, last chat lines) to f (render.c). */
void ctl_render(FILE *f, const rk_state *st);

#endif
