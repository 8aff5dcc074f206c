/* pg.c - libstore's PostgreSQL backend (pg.h has the contract, backend.h
 * the seam): the connection and schema, node liveness and room ownership,
 * and a room handle's reads (on the connection until store_pg_detach, then
 * from its in-memory tail). The batches and the group commit are in
 * pg_commit.c. The only place that knows the cluster's schema. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pg_int.h"
#include "retain.h"
#include "roomid.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Every connect runs this in one transaction under an advisory lock (the
 * key is "rkschem" in ASCII), so nodes starting together do not race on
 * CREATE. Times of liveness are PostgreSQL's (now()); seqs, ts and
 * created_ms are the nodes' as in the SQLite backend; op JSON and states
 * are text (valid UTF-8 JSON). */
static const char schema_sql[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(32206290678211949);"
    "CREATE TABLE IF NOT EXISTS rk_nodes(name text PRIMARY KEY,"
    " beat timestamptz NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rk_rooms(room text PRIMARY KEY, epoch text NOT NULL,"
    " created_ms bigint NOT NULL, format text NOT NULL, owner text,"
    " token bigint NOT NULL DEFAULT 0, seq bigint NOT NULL DEFAULT 0, wanted_by text,"
    " last_active_ms bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS rk_rooms_owner ON rk_rooms(owner);"
    /* Tokens come from one sequence: never reused, even by a room deleted
     * and made again, so a stale handle's token never matches by chance. */
    "CREATE SEQUENCE IF NOT EXISTS rk_tokens;"
    "CREATE TABLE IF NOT EXISTS rk_events(room text NOT NULL, seq bigint NOT NULL,"
    " ts bigint NOT NULL, session text NOT NULL, \"user\" text NOT NULL,"
    " op_id text NOT NULL DEFAULT '', op text NOT NULL, PRIMARY KEY(room, seq));"
    "CREATE TABLE IF NOT EXISTS rk_snapshots(room text NOT NULL, seq bigint NOT NULL,"
    " ts bigint NOT NULL, state text NOT NULL, PRIMARY KEY(room, seq));"
    "CREATE TABLE IF NOT EXISTS rk_alarms(room text NOT NULL, poll text NOT NULL,"
    " at bigint NOT NULL, PRIMARY KEY(room, poll));"
    "CREATE INDEX IF NOT EXISTS rk_alarms_at ON rk_alarms(at);"
    "CREATE OR REPLACE FUNCTION rk_fence(p_room text, p_token bigint, p_prev bigint,"
    " p_last bigint, p_ts bigint) RETURNS void LANGUAGE plpgsql AS $f$\n"
    "DECLARE t bigint; s bigint;\n"
    "BEGIN\n"
    "  SELECT token, seq INTO t, s FROM rk_rooms WHERE room = p_room FOR UPDATE;\n"
    "  IF NOT FOUND OR t <> p_token THEN\n"
    "    RAISE EXCEPTION 'room %: fenced (another node owns it)', p_room\n"
    "      USING ERRCODE = 'RKF01';\n"
    "  END IF;\n"
    "  IF s = p_prev THEN\n"
    "    UPDATE rk_rooms SET seq = p_last,"
    " last_active_ms = CASE WHEN p_ts > 0 THEN p_ts ELSE last_active_ms END"
    " WHERE room = p_room;\n"
    "    PERFORM set_config('rk.apply', 'on', true);\n"
    "  ELSIF s >= p_last THEN\n"
    "    PERFORM set_config('rk.apply', 'off', true);\n"
    "  ELSE\n"
    "    RAISE EXCEPTION 'room %: fenced (its log is at seq %, the batch follows %)',\n"
    "      p_room, s, p_prev USING ERRCODE = 'RKF01';\n"
    "  END IF;\n"
    "END $f$;"
    "COMMIT;";

/* Pages of a cursor on the database, and of the op-id window's walk. */
enum { CURSOR_PAGE = 1000, IDEM_PAGE = 10000 };

static const store_ops pg_ops;

static pgs *PGS(store *s)
{
	return (pgs *)s;
}

/* ---- helpers ------------------------------------------------------------ */

void pg_errmsg(PGconn *conn, const char *msg, const char *what, char *err, size_t errlen)
{
	if (!msg || !*msg)
		msg = conn ? PQerrorMessage(conn) : "out of memory";
	int n =
	    snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
	/* one line: libpq's messages end in '\n' and may have several */
	size_t end = n < 0 ? 0 : (size_t)n < errlen ? (size_t)n : errlen - 1;
	for (size_t i = 0; i < end; i++)
		if (err[i] == '\n' || err[i] == '\r')
			err[i] = ' ';
	while (end > 0 && err[end - 1] == ' ')
		err[--end] = '\0';
}

static void i64s(char *out, int64_t v)
{
	snprintf(out, 24, "%" PRId64, v);
}

static int64_t col64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Run sql with n text parameters; the result if its status is want (tuples
 * or command), else NULL with "what: why" in err. */
static PGresult *run(store_pg *pg, const char *sql, int n, const char *const *p,
		     const char *what, char *err, size_t errlen)
{
	if (pg->broken) {
		snprintf(err, errlen, "%s: the connection is broken", what);
		return NULL;
	}
	PGresult *r = PQexecParams(pg->conn, sql, n, NULL, p, NULL, NULL, 0);
	ExecStatusType t = PQresultStatus(r);
	if (t == PGRES_TUPLES_OK || t == PGRES_COMMAND_OK)
		return r;
	pg_errmsg(pg->conn, r ? PQresultErrorMessage(r) : NULL, what, err, errlen);
	PQclear(r);
	return NULL;
}

/* run() for statements whose result is not needed: true if it ran. */
static bool run_ok(store_pg *pg, const char *sql, int n, const char *const *p,
		   const char *what, char *err, size_t errlen)
{
	PGresult *r = run(pg, sql, n, p, what, err, errlen);
	PQclear(r);
	return r != NULL;
}

/* run_ok() as the rk_err of a call that only runs sql: RK_OK or RK_EIO. */
static rk_err run_rc(store_pg *pg, const char *sql, int n, const char *const *p,
		     const char *what, char *err, size_t errlen)
{
	return run_ok(pg, sql, n, p, what, err, errlen) ? RK_OK : RK_EIO;
}

static void rollback(store_pg *pg)
{
	PQclear(PQexec(pg->conn, "ROLLBACK"));
}

/* ---- the connection ------------------------------------------------------ */

bool store_pg_node_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > STORE_PG_NODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

rk_err store_pg_connect(const char *url, int timeout_ms, store_pg **out, char *err,
			size_t errlen)
{
	*out = NULL;
	store_pg *pg = calloc(1, sizeof(*pg));
	if (!pg) {
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	pg->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
	pg->lease_ms = STORE_PG_LEASE_MS;
	/* Defaults first: what the URL says wins. Keepalives and a TCP user
	 * timeout let a node notice a dead network within seconds. */
	const char *keys[] = {
	    "connect_timeout",	   "keepalives",       "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "tcp_user_timeout",
	    "application_name",	   "dbname",	       NULL};
	const char *vals[] = {"10", "1", "5", "2", "3", "10000", "roomkit", url, NULL};
	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
		pg_errmsg(pg->conn, NULL, "connect", err, errlen);
		store_pg_close(pg);
		return RK_EIO;
	}
	char sql[128];
	/* No NOTICEs ("relation ... already exists, skipping") on stderr. */
	snprintf(sql, sizeof(sql),
		 "SET statement_timeout = %d; SET client_min_messages = warning",
		 pg->timeout_ms);
	PGresult *r = PQexec(pg->conn, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (ok) {
		r = PQexec(pg->conn, schema_sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			pg_errmsg(pg->conn, PQresultErrorMessage(r), "create schema", err,
				  errlen);
		PQclear(r);
	} else {
		pg_errmsg(pg->conn, NULL, "connect", err, errlen);
	}
	if (!ok || pg_prepare_commit(pg, err, errlen) != RK_OK) {
		store_pg_close(pg);
		return RK_EIO;
	}
	*out = pg;
	return RK_OK;
}

void store_pg_close(store_pg *pg)
{
	if (!pg)
		return;
	PQfinish(pg->conn);
	free(pg);
}

bool store_pg_alive(store_pg *pg)
{
	return pg && !pg->broken && PQstatus(pg->conn) == CONNECTION_OK;
}

bool store_pg_ensure(store_pg **pg, const char *url, int timeout_ms, char *err,
		     size_t errlen)
{
	if (store_pg_alive(*pg))
		return true;
	store_pg_close(*pg);
	*pg = NULL;
	if (store_pg_connect(url, timeout_ms, pg, err, errlen) == RK_OK)
		return true;
	*pg = NULL;
	return false;
}

void store_pg_set_lease(store_pg *pg, int lease_ms)
{
	pg->lease_ms = lease_ms > 0 ? lease_ms : STORE_PG_LEASE_MS;
}

/* ---- liveness and ownership ---------------------------------------------- */

rk_err store_pg_heartbeat(store_pg *pg, const char *node, char *err, size_t errlen)
{
	const char *p[1] = {node};
	return run_rc(pg,
		      "INSERT INTO rk_nodes(name, beat) VALUES($1, now())"
		      " ON CONFLICT (name) DO UPDATE SET beat = now()",
		      1, p, "heartbeat", err, errlen);
}

/* A new handle on pg for room (meta m). */
static pgs *handle_new(store_pg *pg, const store_meta *m, bool writable, int tail)
{
	pgs *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base.ops = &pg_ops;
	s->base.meta = *m;
	s->pg = pg;
	s->writable = writable;
	if (tail > 0) {
		s->ring = calloc((size_t)tail, sizeof(*s->ring));
		if (!s->ring) {
			free(s);
			return NULL;
		}
		s->tail_cap = (size_t)tail;
	}
	return s;
}

/* The meta of a rk_rooms row (columns epoch, created_ms, format from col),
 * checked as store_open checks a file's. */
static rk_err row_meta(const PGresult *r, int col, const char *room, store_meta *m,
		       char *err, size_t errlen)
{
	return store_meta_check(m, PQgetvalue(r, 0, col + 2), room, PQgetvalue(r, 0, col),
				PQgetvalue(r, 0, col + 1), room, err, errlen);
}

rk_err store_pg_acquire(store_pg *pg, const char *room, const char *node, int lease_ms,
			int tail, store_pg_acq *acq, store **out, char *owner, size_t cap,
			char *err, size_t errlen)
{
	*out = NULL;
	if (cap)
		owner[0] = '\0';
	if (!rk_roomid_validz(room) || !store_pg_node_valid(node)) {
		snprintf(err, errlen, "acquire: invalid room id or node name");
		return RK_EIO;
	}
	char epoch[RK_EPOCH_MAX + 1], created[24], fmt[12], lease[24];
	store_new_epoch(epoch);
	i64s(created, rk_wall_ms());
	snprintf(fmt, sizeof(fmt), "%d", STORE_FORMAT);
	i64s(lease, lease_ms);
	if (!run_ok(pg, "BEGIN", 0, NULL, "acquire", err, errlen))
		return RK_EIO;
	const char *pi[4] = {room, epoch, created, fmt};
	const char *ps[2] = {room, lease};
	PGresult *r = NULL;
	if (!run_ok(
		pg,
		"INSERT INTO rk_rooms(room, epoch, created_ms, format, last_active_ms)"
		" VALUES($1, $2, $3::bigint, $4, $3::bigint) ON CONFLICT (room) DO "
		"NOTHING",
		4, pi, "acquire", err, errlen) ||
	    !(r = run(
		  pg,
		  "SELECT r.epoch, r.created_ms, r.format, coalesce(r.owner, ''), r.seq,"
		  " coalesce(n.beat > now() - $2::bigint * interval '1 millisecond', "
		  "false)"
		  " FROM rk_rooms r LEFT JOIN rk_nodes n ON n.name = r.owner"
		  " WHERE r.room = $1 FOR UPDATE OF r",
		  2, ps, "acquire", err, errlen)))
		goto fail;
	if (PQntuples(r) != 1) {
		snprintf(err, errlen, "acquire: room '%s' vanished", room);
		goto fail;
	}
	store_meta m;
	rk_err rc = row_meta(r, 0, room, &m, err, errlen);
	if (rc != RK_OK) {
		PQclear(r);
		rollback(pg);
		return rc;
	}
	const char *cur = PQgetvalue(r, 0, 3);
	bool alive = PQgetvalue(r, 0, 5)[0] == 't';
	int64_t seq = col64(r, 0, 4);
	snprintf(owner, cap, "%s", cur);
	bool mine = !cur[0] || strcmp(cur, node) == 0;
	PQclear(r);
	r = NULL;
	const char *pn[2] = {room, node};
	if (!mine && alive) {
		/* A live owner keeps it; it is asked to hand it over. */
		if (!run_ok(pg, "UPDATE rk_rooms SET wanted_by = $2 WHERE room = $1", 2,
			    pn, "acquire", err, errlen) ||
		    !run_ok(pg, "COMMIT", 0, NULL, "acquire", err, errlen))
			goto fail;
		*acq = STORE_PG_OWNED;
		return RK_OK;
	}
	if (!(r = run(pg,
		      "UPDATE rk_rooms SET owner = $2, token = nextval('rk_tokens'), "
		      "wanted_by = NULL"
		      " WHERE room = $1 RETURNING token",
		      2, pn, "acquire", err, errlen)))
		goto fail;
	int64_t token = col64(r, 0, 0);
	PQclear(r);
	r = NULL;
	pgs *s = handle_new(pg, &m, true, tail);
	if (!s) {
		rollback(pg);
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	if (!run_ok(pg, "COMMIT", 0, NULL, "acquire", err, errlen)) {
		free(s->ring);
		free(s);
		goto fail;
	}
	s->token = token;
	s->seq = seq;
	*acq = mine ? STORE_PG_ACQUIRED : STORE_PG_TAKEN_OVER;
	*out = &s->base;
	return RK_OK;
fail:
	PQclear(r);
	rollback(pg);
	return RK_EIO;
}

int64_t store_pg_token(const store *s)
{
	return ((const pgs *)s)->token;
}

void store_pg_detach(store *s)
{
	PGS(s)->pg = NULL;
}

rk_err store_pg_release(store_pg *pg, const char *room, const char *node, int64_t token,
			char *err, size_t errlen)
{
	char t[24];
	i64s(t, token);
	const char *p[3] = {room, node, t};
	return run_rc(pg,
		      "UPDATE rk_rooms SET owner = NULL, wanted_by = NULL"
		      " WHERE room = $1 AND owner = $2 AND token = $3::bigint",
		      3, p, "release", err, errlen);
}

rk_err store_pg_leave(store_pg *pg, const char *node, char *err, size_t errlen)
{
	const char *p[1] = {node};
	return run_rc(pg,
		      "WITH r AS (UPDATE rk_rooms SET owner = NULL, wanted_by = NULL"
		      " WHERE owner = $1) DELETE FROM rk_nodes WHERE name = $1",
		      1, p, "leave", err, errlen);
}

/* Call cb(room, token) for each row of the query on node. */
static rk_err rooms_of(store_pg *pg, const char *sql, const char *node,
		       void (*cb)(void *arg, const char *room, int64_t token), void *arg,
		       const char *what, char *err, size_t errlen)
{
	const char *p[1] = {node};
	PGresult *r = run(pg, sql, 1, p, what, err, errlen);
	if (!r)
		return RK_EIO;
	for (int i = 0; i < PQntuples(r); i++)
		cb(arg, PQgetvalue(r, i, 0), col64(r, i, 1));
	PQclear(r);
	return RK_OK;
}

rk_err store_pg_handover_wanted(store_pg *pg, const char *node,
				void (*cb)(void *arg, const char *room, int64_t token),
				void *arg, char *err, size_t errlen)
{
	return rooms_of(pg,
			"SELECT room, token FROM rk_rooms WHERE owner = $1"
			" AND wanted_by IS NOT NULL ORDER BY room COLLATE \"C\"",
			node, cb, arg, "handover", err, errlen);
}

rk_err store_pg_owned(store_pg *pg, const char *node,
		      void (*cb)(void *arg, const char *room, int64_t token), void *arg,
		      char *err, size_t errlen)
{
	return rooms_of(pg,
			"SELECT room, token FROM rk_rooms WHERE owner = $1"
			" ORDER BY room COLLATE \"C\"",
			node, cb, arg, "owned", err, errlen);
}

rk_err store_pg_orphan_alarms(store_pg *pg, int lease_ms, int limit,
			      void (*cb)(void *arg, const char *room, int64_t at),
			      void *arg, char *err, size_t errlen)
{
	char l[24], n[24];
	i64s(l, lease_ms);
	i64s(n, limit);
	const char *p[2] = {l, n};
	PGresult *r = run(pg,
			  "SELECT a.room, min(a.at) FROM rk_alarms a"
			  " JOIN rk_rooms r ON r.room = a.room"
			  " LEFT JOIN rk_nodes n ON n.name = r.owner"
			  " WHERE r.owner IS NULL OR n.beat IS NULL"
			  " OR n.beat <= now() - $1::bigint * interval '1 millisecond'"
			  " GROUP BY a.room ORDER BY min(a.at), a.room COLLATE \"C\""
			  " LIMIT $2::bigint",
			  2, p, "orphan alarms", err, errlen);
	if (!r)
		return RK_EIO;
	for (int i = 0; i < PQntuples(r); i++)
		cb(arg, PQgetvalue(r, i, 0), col64(r, i, 1));
	PQclear(r);
	return RK_OK;
}

/* ---- roomctl ------------------------------------------------------------ */

rk_err store_pg_open_ro(store_pg *pg, const char *room, store **out, char *err,
			size_t errlen)
{
	*out = NULL;
	const char *p[1] = {room};
	PGresult *r =
	    run(pg, "SELECT epoch, created_ms, format FROM rk_rooms WHERE room = $1", 1,
		p, "open", err, errlen);
	if (!r)
		return RK_EIO;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, errlen, "no such room");
		return RK_EIO;
	}
	store_meta m;
	rk_err rc = row_meta(r, 0, room, &m, err, errlen);
	PQclear(r);
	if (rc != RK_OK)
		return rc;
	pgs *s = handle_new(pg, &m, false, 0);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	*out = &s->base;
	return RK_OK;
}

rk_err store_pg_read_begin(store_pg *pg, char *err, size_t errlen)
{
	return run_rc(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
		      "read", err, errlen);
}

void store_pg_read_end(store_pg *pg)
{
	rollback(pg);
}

rk_err store_pg_rooms(store_pg *pg, bool (*cb)(void *arg, const store_pg_room *r),
		      void *arg, char *err, size_t errlen)
{
	char l[24];
	i64s(l, pg->lease_ms);
	const char *p[1] = {l};
	PGresult *r =
	    run(pg,
		"SELECT r.room, coalesce(r.owner, ''),"
		" coalesce(n.beat > now() - $1::bigint * interval '1 millisecond',"
		" false), r.seq, r.last_active_ms, r.token"
		" FROM rk_rooms r LEFT JOIN rk_nodes n ON n.name = r.owner"
		" ORDER BY r.room COLLATE \"C\"",
		1, p, "rooms", err, errlen);
	if (!r)
		return RK_EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		store_pg_room e = {.room = PQgetvalue(r, i, 0),
				   .owner = PQgetvalue(r, i, 1),
				   .owner_alive = PQgetvalue(r, i, 2)[0] == 't',
				   .seq = col64(r, i, 3),
				   .last_active_ms = col64(r, i, 4),
				   .token = col64(r, i, 5)};
		if (!cb(arg, &e))
			break;
	}
	PQclear(r);
	return RK_OK;
}

rk_err store_pg_delete(store_pg *pg, const char *room, const char *node, int64_t token,
		       char *err, size_t errlen)
{
	char t[24];
	i64s(t, token);
	const char *p[3] = {room, node ? node : "", t};
	return run_rc(
	    pg,
	    "WITH r AS (DELETE FROM rk_rooms WHERE room = $1 AND ($3::bigint = 0"
	    " OR (owner = $2 AND token = $3::bigint)) RETURNING room),"
	    " e AS (DELETE FROM rk_events WHERE room IN (SELECT room FROM r)),"
	    " s AS (DELETE FROM rk_snapshots WHERE room IN (SELECT room FROM r))"
	    " DELETE FROM rk_alarms WHERE room IN (SELECT room FROM r)",
	    3, p, "delete", err, errlen);
}

/* ---- the tail ------------------------------------------------------------ */

/* The i-th event of the tail, oldest first. */
static store_event *tail_at(const pgs *s, size_t i)
{
	return s->ring[(s->head + i) % s->tail_cap];
}

void pgs_tail_add(pgs *s, int64_t seq, int64_t ts, const char *session, const char *user,
		  const char *op_id, const char *op, size_t op_len)
{
	if (!s->tail_cap)
		return;
	size_t a = strlen(session) + 1, b = strlen(user) + 1, c = strlen(op_id) + 1;
	store_event *e = malloc(sizeof(*e) + a + b + c + op_len + 1);
	if (!e)
		return; /* the tail is a cache: a resume then misses it */
	char *p = (char *)(e + 1);
	e->seq = seq;
	e->ts = ts;
	e->session = memcpy(p, session, a);
	e->user = memcpy(p + a, user, b);
	e->op_id = memcpy(p + a + b, op_id, c);
	char *o = p + a + b + c;
	memcpy(o, op, op_len);
	o[op_len] = '\0';
	e->op = o;
	e->op_len = op_len;
	/* The tail is dense: an event that does not follow resets it. */
	if (s->n && tail_at(s, s->n - 1)->seq + 1 != seq) {
		for (size_t i = 0; i < s->n; i++)
			free(tail_at(s, i));
		s->n = s->head = 0;
	}
	if (s->n == s->tail_cap) {
		free(s->ring[s->head]);
		s->ring[s->head] = e;
		s->head = (s->head + 1) % s->tail_cap;
	} else {
		s->ring[(s->head + s->n++) % s->tail_cap] = e;
	}
}

static void tail_clear(pgs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(tail_at(s, i));
	s->n = s->head = 0;
}

/* ---- a room handle's reads ----------------------------------------------- */

/* The connection of a handle that may still read, else NULL with err. */
static store_pg *conn_of(store *st, char *err, size_t errlen)
{
	pgs *s = PGS(st);
	if (!s->pg)
		snprintf(err, errlen, "the room handle is detached (no I/O)");
	return s->pg;
}

static void pgs_close(store *st)
{
	pgs *s = PGS(st);
	pgs_batch_drop(s);
	store_pg_batch_free(s->staged);
	tail_clear(s);
	free(s->ring);
	free(s);
}

static void pgs_busy_timeout(store *s, int ms)
{
	(void)s;
	(void)ms;
}

static void pgs_trim_cache(store *s)
{
	(void)s;
}

typedef struct pg_cursor {
	store_cursor base;
	bool tail;	/* answer from the handle's tail (detached) */
	int64_t after;	/* the last seq returned (or since) */
	int64_t upto;	/* INT64_MAX: no bound */
	char *user;	/* NULL: every user's */
	PGresult *page; /* database cursor: the current page, row the next */
	int row;
	bool last_page;
} pg_cursor;

static rk_err pgs_cursor_open(store *st, int64_t since, int64_t upto, const char *user,
			      store_cursor **out, char *err, size_t errlen)
{
	*out = NULL;
	pg_cursor *c = calloc(1, sizeof(*c));
	if (!c || (user && !(c->user = strdup(user)))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	c->base.s = st;
	c->tail = PGS(st)->pg == NULL;
	c->after = since;
	c->upto = upto < 0 ? INT64_MAX : upto;
	*out = &c->base;
	return RK_OK;
}

static void ev_of(const PGresult *r, int i, store_event *ev)
{
	ev->seq = col64(r, i, 0);
	ev->ts = col64(r, i, 1);
	ev->session = PQgetvalue(r, i, 2);
	ev->user = PQgetvalue(r, i, 3);
	ev->op_id = PQgetvalue(r, i, 4);
	ev->op = PQgetvalue(r, i, 5);
	ev->op_len = (size_t)PQgetlength(r, i, 5);
}

static int tail_next(pg_cursor *c, store_event *ev)
{
	pgs *s = PGS(c->base.s);
	if (!s->n)
		return 0;
	/* dense: the event after c->after is at a known place */
	int64_t first = tail_at(s, 0)->seq;
	size_t i = c->after < first ? 0 : (size_t)(c->after - first + 1);
	for (; i < s->n; i++) {
		const store_event *e = tail_at(s, i);
		if (e->seq > c->upto)
			return 0;
		if (c->user && strcmp(c->user, e->user) != 0)
			continue;
		*ev = *e;
		c->after = e->seq;
		return 1;
	}
	return 0;
}

static int pgs_cursor_next(store_cursor *cb, store_event *ev, char *err, size_t errlen)
{
	pg_cursor *c = (pg_cursor *)cb;
	if (c->tail)
		return tail_next(c, ev);
	if (c->page && c->row < PQntuples(c->page)) {
		ev_of(c->page, c->row++, ev);
		c->after = ev->seq;
		return 1;
	}
	if (c->last_page)
		return 0;
	PQclear(c->page);
	c->page = NULL;
	store_pg *pg = conn_of(cb->s, err, errlen);
	if (!pg)
		return -1;
	char a[24], u[24], lim[24];
	i64s(a, c->after);
	i64s(u, c->upto);
	i64s(lim, CURSOR_PAGE);
	const char *p[5] = {cb->s->meta.room, a, u, lim, c->user};
	c->page =
	    run(pg,
		c->user ? "SELECT seq, ts, session, \"user\", op_id, op FROM rk_events"
			  " WHERE room = $1 AND seq > $2::bigint AND seq <= $3::bigint"
			  " AND \"user\" = $5 ORDER BY seq LIMIT $4::bigint"
			: "SELECT seq, ts, session, \"user\", op_id, op FROM rk_events"
			  " WHERE room = $1 AND seq > $2::bigint AND seq <= $3::bigint"
			  " ORDER BY seq LIMIT $4::bigint",
		c->user ? 5 : 4, p, "events", err, errlen);
	if (!c->page)
		return -1;
	c->row = 0;
	c->last_page = PQntuples(c->page) < CURSOR_PAGE;
	return pgs_cursor_next(cb, ev, err, errlen);
}

static void pgs_cursor_close(store_cursor *cb)
{
	pg_cursor *c = (pg_cursor *)cb;
	PQclear(c->page);
	free(c->user);
	free(c);
}

/* One integer from sql on the room ($1, and arg as $2 if nparams is 2), or
 * dflt on error or NULL. */
static int64_t room_int(store *st, const char *sql, int nparams, int64_t arg,
			int64_t dflt)
{
	char err[200], a[24];
	store_pg *pg = conn_of(st, err, sizeof(err));
	if (!pg)
		return dflt;
	i64s(a, arg);
	const char *p[2] = {st->meta.room, a};
	PGresult *r = run(pg, sql, nparams, p, "query", err, sizeof(err));
	int64_t v =
	    r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? col64(r, 0, 0) : dflt;
	PQclear(r);
	return v;
}

static int64_t pgs_min_seq(store *st)
{
	pgs *s = PGS(st);
	if (!s->pg)
		return s->n ? tail_at(s, 0)->seq : 0;
	return room_int(st, "SELECT min(seq) FROM rk_events WHERE room = $1", 1, 0, 0);
}

static rk_err pgs_stats(store *st, store_stats *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	store_pg *pg = conn_of(st, err, errlen);
	if (!pg)
		return RK_EIO;
	const char *p[1] = {st->meta.room};
	PGresult *r = run(pg,
			  "SELECT min(seq), max(seq), count(*), max(ts),"
			  " (SELECT count(*) FROM rk_snapshots WHERE room = $1)"
			  " FROM rk_events WHERE room = $1",
			  1, p, "events", err, errlen);
	if (!r)
		return RK_EIO;
	out->min_seq = col64(r, 0, 0);
	out->max_seq = col64(r, 0, 1);
	out->events = col64(r, 0, 2);
	out->last_ts = col64(r, 0, 3);
	out->snapshots = col64(r, 0, 4);
	PQclear(r);
	return RK_OK;
}

static int64_t pgs_earliest_seq(store *st)
{
	return room_int(
	    st,
	    "SELECT least((SELECT min(seq) FROM rk_snapshots WHERE room = $1),"
	    " (SELECT min(seq) - 1 FROM rk_events WHERE room = $1))",
	    1, 0, 0);
}

static int64_t pgs_first_recent(store *st)
{
	return room_int(
	    st,
	    "SELECT coalesce((SELECT min(seq) FROM rk_events WHERE room = $1"
	    " AND ts >= (SELECT max(ts) FROM rk_events WHERE room = $1) - $2::bigint),"
	    " (SELECT coalesce(max(seq), 0) + 1 FROM rk_events WHERE room = $1))",
	    2, RK_IDEM_MS, 1);
}

static rk_err pgs_snapshot_at(store *st, int64_t upto, int64_t *seq, char **json,
			      size_t *len, char *err, size_t errlen)
{
	*seq = 0;
	*json = NULL;
	*len = 0;
	store_pg *pg = conn_of(st, err, errlen);
	if (!pg)
		return RK_EIO;
	char u[24];
	i64s(u, upto < 0 ? INT64_MAX : upto);
	const char *p[2] = {st->meta.room, u};
	PGresult *r = run(pg,
			  "SELECT seq, state FROM rk_snapshots WHERE room = $1"
			  " AND seq <= $2::bigint ORDER BY seq DESC LIMIT 1",
			  2, p, "snapshots", err, errlen);
	if (!r)
		return RK_EIO;
	rk_err rc = RK_OK;
	if (PQntuples(r) == 1) {
		size_t n = (size_t)PQgetlength(r, 0, 1);
		char *copy = malloc(n + 1);
		if (!copy) {
			snprintf(err, errlen, "out of memory");
			rc = RK_ENOMEM;
		} else {
			memcpy(copy, PQgetvalue(r, 0, 1), n + 1);
			*seq = col64(r, 0, 0);
			*json = copy;
			*len = n;
		}
	}
	PQclear(r);
	return rc;
}

static rk_err pgs_load(store *st, rk_state **stp, int64_t *seq, int64_t *snap_seq,
		       char *err, size_t errlen)
{
	pgs *s = PGS(st);
	rk_err rc = store_load_log(st, stp, seq, snap_seq, err, errlen);
	if (rc != RK_OK || !s->writable)
		return rc;
	if (*seq != s->seq && !s->staged) {
		snprintf(err, errlen,
			 "the log ends at seq %" PRId64 " but the room is at %" PRId64,
			 *seq, s->seq);
		rc = RK_ECORRUPT;
		goto fail;
	}
	/* The tail: the last events loaded. */
	tail_clear(s);
	if (s->tail_cap) {
		store_cursor *c;
		store_event ev;
		int r = 0;
		int64_t from = *seq - (int64_t)s->tail_cap;
		if ((rc = pgs_cursor_open(st, from > 0 ? from : 0, *seq, NULL, &c, err,
					  errlen)) != RK_OK)
			goto fail;
		while ((r = pgs_cursor_next(c, &ev, err, errlen)) == 1)
			pgs_tail_add(s, ev.seq, ev.ts, ev.session, ev.user, ev.op_id,
				     ev.op, ev.op_len);
		pgs_cursor_close(c);
		if (r < 0) {
			rc = RK_EIO;
			goto fail;
		}
	}
	return RK_OK;
fail:
	rk_state_free(*stp);
	*stp = NULL;
	*seq = *snap_seq = 0;
	return rc;
}

static rk_err pgs_load_opids(store *st, store_opid_fn add, void *arg, char *err,
			     size_t errlen)
{
	store_pg *pg = conn_of(st, err, errlen);
	if (!pg)
		return RK_EIO;
	/* Walk the window from the newest event down, a page at a time. */
	store_idem_walk w;
	store_idem_init(&w);
	char before[24], lim[24];
	i64s(lim, IDEM_PAGE);
	int64_t below = INT64_MAX;
	for (bool done = false; !done;) {
		i64s(before, below);
		const char *p[3] = {st->meta.room, before, lim};
		PGresult *r =
		    run(pg,
			"SELECT seq, ts FROM rk_events WHERE room = $1"
			" AND seq < $2::bigint ORDER BY seq DESC LIMIT $3::bigint",
			3, p, "load op ids", err, errlen);
		if (!r)
			return RK_EIO;
		int n = PQntuples(r);
		done = n < IDEM_PAGE;
		for (int i = 0; i < n; i++) {
			if (!store_idem_step(&w, col64(r, i, 0), col64(r, i, 1))) {
				done = true;
				break;
			}
		}
		if (n)
			below = col64(r, n - 1, 0);
		PQclear(r);
	}
	if (w.last < 0)
		return RK_OK;
	char from[24];
	i64s(from, w.from);
	const char *p[2] = {st->meta.room, from};
	PGresult *r = run(pg,
			  "SELECT seq, ts, \"user\", op_id FROM rk_events WHERE room = $1"
			  " AND seq >= $2::bigint AND session <> 'server' AND op_id <> ''"
			  " ORDER BY seq",
			  2, p, "load op ids", err, errlen);
	if (!r)
		return RK_EIO;
	rk_err rc = RK_OK;
	for (int i = 0; i < PQntuples(r) && rc == RK_OK; i++)
		rc = add(arg, PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), col64(r, i, 0),
			 col64(r, i, 1));
	PQclear(r);
	if (rc != RK_OK)
		snprintf(err, errlen, "%s",
			 rc == RK_ENOMEM ? "out of memory" : "load op ids: refused");
	return rc;
}

static rk_err pgs_snapshots(store *st,
			    bool (*cb)(void *arg, int64_t seq, int64_t ts,
				       const char *json, size_t len),
			    void *arg, char *err, size_t errlen)
{
	store_pg *pg = conn_of(st, err, errlen);
	if (!pg)
		return RK_EIO;
	const char *p[1] = {st->meta.room};
	PGresult *r = run(
	    pg, "SELECT seq, ts, state FROM rk_snapshots WHERE room = $1 ORDER BY seq", 1,
	    p, "snapshots", err, errlen);
	if (!r)
		return RK_EIO;
	for (int i = 0; i < PQntuples(r); i++)
		if (!cb(arg, col64(r, i, 0), col64(r, i, 1), PQgetvalue(r, i, 2),
			(size_t)PQgetlength(r, i, 2)))
			break;
	PQclear(r);
	return RK_OK;
}

/* cb(text of column 0, integer of column 1) for each row of sql on the room. */
static rk_err rows_text_int(store *st, const char *sql,
			    bool (*cb)(void *, const char *, int64_t), void *arg,
			    const char *what, char *err, size_t errlen)
{
	store_pg *pg = conn_of(st, err, errlen);
	if (!pg)
		return RK_EIO;
	const char *p[1] = {st->meta.room};
	PGresult *r = run(pg, sql, 1, p, what, err, errlen);
	if (!r)
		return RK_EIO;
	for (int i = 0; i < PQntuples(r); i++)
		if (!cb(arg, PQgetvalue(r, i, 0), col64(r, i, 1)))
			break;
	PQclear(r);
	return RK_OK;
}

static rk_err pgs_alarms(store *st, bool (*cb)(void *arg, const char *poll, int64_t at),
			 void *arg, char *err, size_t errlen)
{
	return rows_text_int(st,
			     "SELECT poll, at FROM rk_alarms WHERE room = $1"
			     " ORDER BY at, poll COLLATE \"C\"",
			     cb, arg, "alarms", err, errlen);
}

static rk_err pgs_users(store *st,
			bool (*cb)(void *arg, const char *user, int64_t events),
			void *arg, char *err, size_t errlen)
{
	return rows_text_int(
	    st,
	    "SELECT \"user\", count(*) FROM rk_events WHERE room = $1"
	    " GROUP BY \"user\" ORDER BY count(*) DESC, \"user\" COLLATE \"C\"",
	    cb, arg, "events", err, errlen);
}

/* ---- what does not apply ------------------------------------------------- */

static rk_err no_webhooks(store *st, int64_t a, const char *b, size_t c, char *err,
			  size_t errlen)
{
	(void)st, (void)a, (void)b, (void)c;
	snprintf(err, errlen, "webhooks are not supported with --pg");
	return RK_EIO;
}

static rk_err no_webhooks_trim(store *st, int64_t upto, char *err, size_t errlen)
{
	return no_webhooks(st, upto, NULL, 0, err, errlen);
}

static rk_err pgs_outbox_backlog(store *st, int64_t after, int64_t *n, int64_t *oldest_ms,
				 char *err, size_t errlen)
{
	(void)st, (void)after, (void)err, (void)errlen;
	*n = -1; /* no outbox */
	*oldest_ms = 0;
	return RK_OK;
}

static int pgs_wal_frames(const store *s)
{
	(void)s;
	return 0;
}

static rk_err pgs_settle(store *st, bool full, char *err, size_t errlen)
{
	(void)st, (void)full;
	snprintf(err, errlen, "not a file backend");
	return RK_EIO;
}

static const store_ops pg_ops = {
    .name = "pg",
    .close = pgs_close,
    .busy_timeout = pgs_busy_timeout,
    .trim_cache = pgs_trim_cache,
    .load = pgs_load,
    .load_opids = pgs_load_opids,
    .cursor_open = pgs_cursor_open,
    .cursor_next = pgs_cursor_next,
    .cursor_close = pgs_cursor_close,
    .min_seq = pgs_min_seq,
    .stats = pgs_stats,
    .earliest_seq = pgs_earliest_seq,
    .first_recent = pgs_first_recent,
    .snapshot_at = pgs_snapshot_at,
    .snapshots = pgs_snapshots,
    .alarms = pgs_alarms,
    .users = pgs_users,
    .begin = pgs_begin,
    .append = pgs_append,
    .put_snapshot = pgs_put_snapshot,
    .set_alarm = pgs_set_alarm,
    .del_alarm = pgs_del_alarm,
    .outbox_add = no_webhooks,
    .outbox_trim = no_webhooks_trim,
    .outbox_backlog = pgs_outbox_backlog,
    .cut = pgs_cut,
    .commit = pgs_commit,
    .rollback = pgs_rollback,
    .wal_frames = pgs_wal_frames,
    .settle = pgs_settle,
};
