/*
 * roomtest.h - small helpers shared by roomd's integration tests, on top of
 * wsclient.h (the WebSocket client) and roomd_proc.h (the roomd process).
 * They fail the current cmocka test (fail_msg) instead of returning errors,
 * so a test reads as the protocol conversation it checks.
 */
#ifndef RK_ROOMTEST_H
#define RK_ROOMTEST_H

#include <stdint.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "roomd_proc.h"
#include "wsclient.h"

#define RT_TIMEOUT_MS 5000

/* Send a string literal or C string as one text frame. */
#define RT_SEND(w, s) ws_send_text((w), (s), strlen(s))

/* Start roomd with extra args (NULL-terminated list or NULL); fails the test
 * if it does not come up. */
rd_proc *rt_start(const char *const *extra_args);

/* Connect to /ws/<room>?<query> (query may be NULL) and wait for the welcome,
 * which is returned in *welcome if not NULL (caller frees). Fails the test if
 * the upgrade is refused or no welcome comes. */
struct ws *rt_join(rd_proc *rd, const char *room, const char *query, cJSON **welcome);

/* rt_join with connection options (opts may be NULL), e.g. .tls_ca to
 * join over wss://. */
struct ws *rt_join_ex(rd_proc *rd, const char *room, const char *query,
		      const ws_opts *opts, cJSON **welcome);

/* Send {"t":"op","id":id,"op":<op_json>} and wait for the ack or reject
 * with that id (other messages are skipped). Returns the seq of the ack, or
 * 0 for a reject whose code is stored in reject_code (64 bytes, may be
 * NULL). */
int64_t rt_op(struct ws *w, const char *id, const char *op_json, char *reject_code);

/* Drop what rt_op kept aside for w. */
void rt_forget(struct ws *w);
/* rt_forget + ws_free. */
void rt_free(struct ws *w);

/* Send an op without waiting. */
void rt_send_op(struct ws *w, const char *id, const char *op_json);

/* Wait for the next message of type t (others skipped), first among the
 * messages rt_op read past while waiting for its reply; fails the test if
 * none comes within RT_TIMEOUT_MS. Caller frees. */
cJSON *rt_expect(struct ws *w, const char *t);

/* Integer / string field of a JSON object; fails the test if absent. */
int64_t rt_int(const cJSON *obj, const char *field);
const char *rt_str(const cJSON *obj, const char *field);

/* Run a query returning one integer on a SQLite file (opened read-only). */
int64_t rt_sql_int(const char *db_path, const char *sql);
/* Same for a text result, copied into out. */
void rt_sql_text(const char *db_path, const char *sql, char *out, size_t n);

/* GET path from roomd; returns the status and the body (caller frees). */
int rt_http(rd_proc *rd, const char *path, const char *headers, char **body);

/* Under ASan (in a sanitizer build of the tests): cap the quarantine of the
 * roomd processes started from now on at mb MB (ASAN_OPTIONS), so that
 * their RSS says something about roomd. A no-op in other builds. */
void rt_asan_quarantine(int mb);

/* POST body to path on roomd (extra header lines in headers, may be NULL);
 * returns the status, the reply in *reply if not NULL (caller frees with
 * http_reply_free). Fails the test if no answer comes within timeout_ms. */
int rt_post(rd_proc *rd, const char *path, const char *headers, const char *body,
	    int timeout_ms, http_reply *reply);

/* Run argv[0] (a path; argv NULL-terminated) to completion with stdout and
 * stderr captured together into *out (caller frees; out may be NULL).
 * Returns its exit status (128 + signal if a signal ended it); fails the
 * test, killing it, if it runs longer than timeout_ms. */
int rt_run(const char *const *argv, int timeout_ms, char **out);

/* Run $ROOMCTL_BIN with args (NULL-terminated, without the program name)
 * to completion with rt_run (at most 60 s). Returns its exit code
 * (128 + signal if a signal ended it); its stdout and stderr, up to n - 1
 * bytes, go to out (may be NULL). */
int rt_roomctl(const char *const *args, char *out, size_t n);

/* Stop the tmux server on socket name sock (tmux -L) and remove the socket
 * file tmux leaves behind in $TMUX_TMPDIR (or /tmp)/tmux-UID/. */
void rt_tmux_kill(const char *sock);

/* Write s to a new temporary file; returns its path (static per call site
 * is not needed: caller frees). */
char *rt_temp_file(const char *content);

#endif
