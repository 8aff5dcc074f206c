/* pg_commit.c - the PostgreSQL backend's write side (pg.h, "the group
 * commit"): a handle records its batches in memory (store_begin ..
 * store_commit stage them, no I/O), store_pg_take hands them over, and
 * store_pg_commit_group writes many rooms' batches in one transaction and
 * one round trip (libpq pipeline mode), each behind the fencing check
 * rk_fence (pg.c creates it with the schema). */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pg_int.h"

/* The fencing check opens each batch: it locks the room's row, refuses
 * (SQLSTATE RKF01) a token that is not the room's or a log that is neither
 * at the batch's prev (apply: the room's seq and activity move on) nor at
 * or past its last (a repeat of a commit whose outcome was lost), and sets
 * rk.apply, which every write of the batch tests, so a repeat writes
 * nothing. */
static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"rk_fence", "SELECT rk_fence($1, $2::bigint, $3::bigint, $4::bigint, $5::bigint)",
     5},
    {"rk_ev",
     "INSERT INTO rk_events(room, seq, ts, session, \"user\", op_id, op)"
     " SELECT $1, $2::bigint, $3::bigint, $4, $5, $6, $7"
     " WHERE current_setting('rk.apply', true) = 'on'",
     7},
    /* a run of events of a batch in one statement (arrays, one per column) */
    {"rk_evs",
     "INSERT INTO rk_events(room, seq, ts, session, \"user\", op_id, op)"
     " SELECT $1, u.seq, u.ts, u.session, u.usr, u.op_id, u.op"
     " FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],"
     " $7::text[]) AS u(seq, ts, session, usr, op_id, op)"
     " WHERE current_setting('rk.apply', true) = 'on'",
     7},
    {"rk_snap",
     "INSERT INTO rk_snapshots(room, seq, ts, state)"
     " SELECT $1, $2::bigint, $3::bigint, $4 WHERE current_setting('rk.apply', true) = "
     "'on'"
     " ON CONFLICT (room, seq) DO UPDATE SET ts = excluded.ts, state = excluded.state",
     4},
    {"rk_aset",
     "INSERT INTO rk_alarms(room, poll, at)"
     " SELECT $1, $2, $3::bigint WHERE current_setting('rk.apply', true) = 'on'"
     " ON CONFLICT (room, poll) DO UPDATE SET at = excluded.at",
     3},
    {"rk_adel",
     "DELETE FROM rk_alarms WHERE room = $1 AND poll = $2"
     " AND current_setting('rk.apply', true) = 'on'",
     2},
    {"rk_cut",
     "WITH e AS (DELETE FROM rk_events WHERE room = $1 AND seq <= $2::bigint"
     " AND current_setting('rk.apply', true) = 'on')"
     " DELETE FROM rk_snapshots WHERE room = $1 AND seq < $2::bigint"
     " AND current_setting('rk.apply', true) = 'on'",
     2},
};
enum { ST_FENCE, ST_EV, ST_EVS, ST_SNAP, ST_ASET, ST_ADEL, ST_CUT };

/* Flush the pipeline every this many statements, reading what came back
 * meanwhile, so neither side's socket buffer fills up. */
enum { PUMP_EVERY = 64 };

rk_err pg_prepare_commit(store_pg *pg, char *err, size_t errlen)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(stmts); i++) {
		PGresult *r = PQprepare(pg->conn, stmts[i].name, stmts[i].sql,
					stmts[i].nparams, NULL);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok) {
			pg_errmsg(pg->conn, NULL, "prepare", err, errlen);
			return RK_EIO;
		}
	}
	return RK_OK;
}

/* ---- batches -------------------------------------------------------------- */

static store_pg_batch *batch_new(const pgs *s)
{
	store_pg_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	memcpy(b->room, s->base.meta.room, sizeof(b->room));
	b->token = s->token;
	b->prev = b->last = s->seq;
	return b;
}

void store_pg_batch_free(store_pg_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->w[i].buf);
	free(b->w);
	free(b);
}

const char *store_pg_batch_room(const store_pg_batch *b)
{
	return b->room;
}

int64_t store_pg_batch_seq(const store_pg_batch *b)
{
	return b->has_events ? b->last : 0;
}

/* Room for one more write in b; false if out of memory. */
static bool batch_grow(store_pg_batch *b, size_t more)
{
	if (b->n + more <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 8;
	while (cap < b->n + more)
		cap *= 2;
	pgw *w = realloc(b->w, cap * sizeof(*w));
	if (!w)
		return false;
	b->w = w;
	b->cap = cap;
	return true;
}

/* Append a write with up to four strings (lens[i] bytes each, copied and
 * NUL-terminated) to the open batch. RK_OK, RK_EIO (no batch open: err),
 * RK_ENOMEM. */
static rk_err add_write(pgs *s, pgw_kind k, int64_t seq, int64_t ts, int ns,
			const char *const *str, const size_t *lens, char *err,
			size_t errlen)
{
	if (!s->writable) {
		snprintf(err, errlen, "the room was opened read-only");
		return RK_EIO;
	}
	if (!s->open) {
		snprintf(err, errlen, "no batch open (store_begin)");
		return RK_EIO;
	}
	size_t total = 0;
	for (int i = 0; i < ns; i++)
		total += lens[i] + 1;
	pgw w = {.k = k, .seq = seq, .ts = ts, .len = ns ? lens[ns - 1] : 0};
	if (!batch_grow(s->open, 1) || !(w.buf = malloc(total ? total : 1))) {
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	char *p = w.buf;
	for (int i = 0; i < ns; i++) {
		memcpy(p, str[i], lens[i]);
		p[lens[i]] = '\0';
		w.s[i] = p;
		p += lens[i] + 1;
	}
	s->open->w[s->open->n++] = w;
	return RK_OK;
}

void pgs_batch_drop(pgs *s)
{
	store_pg_batch_free(s->open);
	s->open = NULL;
}

rk_err pgs_begin(store *st, char *err, size_t errlen)
{
	pgs *s = (pgs *)st;
	if (!s->writable) {
		snprintf(err, errlen, "the room was opened read-only");
		return RK_EIO;
	}
	if (s->open) {
		snprintf(err, errlen, "a batch is already open");
		return RK_EIO;
	}
	if (!(s->open = batch_new(s))) {
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	return RK_OK;
}

rk_err pgs_append(store *st, int64_t seq, int64_t ts, const char *session,
		  const char *user, const char *op_id, const char *op_json, size_t op_len,
		  char *err, size_t errlen)
{
	pgs *s = (pgs *)st;
	if (s->open && seq != s->open->last + 1) {
		snprintf(err, errlen,
			 "append event %" PRId64 ": the next seq is %" PRId64, seq,
			 s->open->last + 1);
		return RK_EIO;
	}
	const char *str[4] = {session, user, op_id ? op_id : "", op_json};
	size_t lens[4] = {strlen(session), strlen(user), strlen(str[2]), op_len};
	rk_err rc = add_write(s, PGW_EVENT, seq, ts, 4, str, lens, err, errlen);
	if (rc == RK_OK) {
		s->open->last = seq;
		s->open->last_ts = ts;
		s->open->has_events = true;
	}
	return rc;
}

rk_err pgs_put_snapshot(store *st, int64_t seq, int64_t ts, const char *json, size_t len,
			char *err, size_t errlen)
{
	return add_write((pgs *)st, PGW_SNAP, seq, ts, 1, &json, &len, err, errlen);
}

rk_err pgs_set_alarm(store *st, const char *poll, int64_t at, char *err, size_t errlen)
{
	size_t len = strlen(poll);
	return add_write((pgs *)st, PGW_ALARM_SET, at, 0, 1, &poll, &len, err, errlen);
}

rk_err pgs_del_alarm(store *st, const char *poll, char *err, size_t errlen)
{
	size_t len = strlen(poll);
	return add_write((pgs *)st, PGW_ALARM_DEL, 0, 0, 1, &poll, &len, err, errlen);
}

rk_err pgs_cut(store *st, int64_t cut, int64_t *events, int64_t *snaps, char *err,
	       size_t errlen)
{
	/* The rows are deleted at the commit: how many is not known now. */
	*events = *snaps = 0;
	return add_write((pgs *)st, PGW_CUT, cut, 0, 0, NULL, NULL, err, errlen);
}

void pgs_rollback(store *st)
{
	pgs_batch_drop((pgs *)st);
}

rk_err pgs_commit(store *st, char *err, size_t errlen)
{
	pgs *s = (pgs *)st;
	store_pg_batch *o = s->open;
	if (!o) {
		snprintf(err, errlen, "no batch open (store_begin)");
		return RK_EIO;
	}
	if (o->n == 0) { /* nothing to write */
		pgs_batch_drop(s);
		return RK_OK;
	}
	for (size_t i = 0; i < o->n; i++) {
		const pgw *w = &o->w[i];
		if (w->k == PGW_EVENT)
			pgs_tail_add(s, w->seq, w->ts, w->s[0], w->s[1], w->s[2], w->s[3],
				     w->len);
	}
	s->seq = o->last;
	if (!s->staged) {
		s->staged = o;
		s->open = NULL;
		return RK_OK;
	}
	store_pg_batch *g = s->staged;
	if (!batch_grow(g, o->n)) {
		snprintf(err, errlen, "out of memory");
		pgs_batch_drop(s);
		return RK_ENOMEM;
	}
	memcpy(g->w + g->n, o->w, o->n * sizeof(*o->w));
	g->n += o->n;
	o->n = 0; /* the strings moved with the writes */
	g->last = o->last;
	if (o->has_events) {
		g->last_ts = o->last_ts;
		g->has_events = true;
	}
	pgs_batch_drop(s);
	return RK_OK;
}

store_pg_batch *store_pg_take(store *st)
{
	pgs *s = (pgs *)st;
	store_pg_batch *b = s->staged;
	s->staged = NULL;
	return b;
}

/* ---- the group commit ----------------------------------------------------- */

/* Send what libpq holds, reading what the server answered meanwhile, until
 * everything is out. 0, or -1 if the connection failed or stalled. */
static int pump(store_pg *pg)
{
	int wait_ms = pg->timeout_ms > 0 ? 2 * pg->timeout_ms : 60000;
	for (;;) {
		int f = PQflush(pg->conn);
		if (f <= 0)
			return f;
		struct pollfd p = {.fd = PQsocket(pg->conn), .events = POLLIN | POLLOUT};
		if (poll(&p, 1, wait_ms) <= 0)
			return -1;
		if ((p.revents & POLLIN) && !PQconsumeInput(pg->conn))
			return -1;
	}
}

static void i64s(char *out, int64_t v)
{
	snprintf(out, 24, "%" PRId64, v);
}

/* Append s to a PostgreSQL array literal as a quoted element. */
static void arr_text(rk_buf *b, const char *s, bool first)
{
	rk_buf_puts(b, first ? "\"" : ",\"");
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			rk_buf_putc(b, '\\');
		rk_buf_putc(b, *p);
	}
	rk_buf_putc(b, '"');
}

/* Queue events w[0..n) as one statement: six array parameters. */
static bool send_events(PGconn *c, const char *room, const pgw *w, size_t n)
{
	rk_buf a[6];
	for (int k = 0; k < 6; k++) {
		rk_buf_init(&a[k], 0);
		rk_buf_putc(&a[k], '{');
	}
	for (size_t i = 0; i < n; i++) {
		rk_buf_printf(&a[0], "%s%" PRId64, i ? "," : "", w[i].seq);
		rk_buf_printf(&a[1], "%s%" PRId64, i ? "," : "", w[i].ts);
		for (int k = 0; k < 4; k++)
			arr_text(&a[2 + k], w[i].s[k], i == 0);
	}
	bool ok = true;
	const char *p[7] = {room};
	for (int k = 0; k < 6; k++) {
		rk_buf_puts(&a[k], "}");
		ok = ok && rk_buf_ok(&a[k]) == RK_OK;
		p[1 + k] = a[k].data;
	}
	ok = ok && PQsendQueryPrepared(c, stmts[ST_EVS].name, 7, p, NULL, NULL, 0);
	for (int k = 0; k < 6; k++)
		rk_buf_free(&a[k]);
	return ok;
}

/* Queue the statements of one batch; the number queued into *nq. */
static bool send_batch(store_pg *pg, const store_pg_batch *b, size_t *nq)
{
	PGconn *c = pg->conn;
	char n1[24], n2[24], n3[24], n4[24];
	i64s(n1, b->token);
	i64s(n2, b->prev);
	i64s(n3, b->last);
	i64s(n4, b->last_ts);
	const char *fp[5] = {b->room, n1, n2, n3, n4};
	if (!PQsendQueryPrepared(c, stmts[ST_FENCE].name, 5, fp, NULL, NULL, 0))
		return false;
	(*nq)++;
	for (size_t i = 0; i < b->n;) {
		const pgw *w = &b->w[i];
		/* A run of events goes in one statement. */
		size_t run = 0;
		while (i + run < b->n && b->w[i + run].k == PGW_EVENT)
			run++;
		if (run > 1) {
			if (!send_events(c, b->room, w, run))
				return false;
			i += run;
			if (++*nq % PUMP_EVERY == 0 && pump(pg) < 0)
				return false;
			continue;
		}
		const char *p[7] = {b->room};
		int st;
		i64s(n1, w->seq);
		i64s(n2, w->ts);
		switch (w->k) {
		case PGW_EVENT:
			st = ST_EV;
			p[1] = n1, p[2] = n2, p[3] = w->s[0], p[4] = w->s[1],
			p[5] = w->s[2], p[6] = w->s[3];
			break;
		case PGW_SNAP:
			st = ST_SNAP;
			p[1] = n1, p[2] = n2, p[3] = w->s[0];
			break;
		case PGW_ALARM_SET:
			st = ST_ASET;
			p[1] = w->s[0], p[2] = n1;
			break;
		case PGW_ALARM_DEL:
			st = ST_ADEL;
			p[1] = w->s[0];
			break;
		default:
			st = ST_CUT;
			p[1] = n1;
			break;
		}
		i++;
		if (!PQsendQueryPrepared(c, stmts[st].name, stmts[st].nparams, p, NULL,
					 NULL, 0))
			return false;
		if (++*nq % PUMP_EVERY == 0 && pump(pg) < 0)
			return false;
	}
	return true;
}

/* The outcome of one pipeline. */
typedef enum run_res { RUN_COMMITTED, RUN_FENCED, RUN_FAILED } run_res;

/*
 * One transaction (the pipeline's implicit one, committed at its sync, rolled
 * back by the first error) of the batches not skipped. RUN_FENCED: the
 * first error was a fencing check's, of batch *bad; RUN_FAILED: err says
 * why (the connection may be gone).
 */
static run_res run_group(store_pg *pg, store_pg_batch **b, size_t n, const bool *skip,
			 size_t *bad, char *err, size_t errlen)
{
	PGconn *c = pg->conn;
	size_t *owner = malloc((n + 1) * sizeof(*owner)); /* query -> batch, by range */
	size_t *first = malloc((n + 1) * sizeof(*first));
	if (!owner || !first) {
		free(owner);
		free(first);
		snprintf(err, errlen, "out of memory");
		return RUN_FAILED;
	}
	size_t nq = 0, nb = 0;
	bool sent = PQenterPipelineMode(c) == 1 && PQsetnonblocking(c, 1) == 0;
	for (size_t i = 0; sent && i < n; i++) {
		if (skip[i])
			continue;
		owner[nb] = i;
		first[nb++] = nq;
		sent = send_batch(pg, b[i], &nq);
	}
	sent = sent && PQpipelineSync(c) == 1 && pump(pg) == 0;
	PQsetnonblocking(c, 0);
	if (!sent) {
		pg_errmsg(c, NULL, "commit", err, errlen);
		pg->broken = true; /* a half-sent pipeline cannot be resumed */
		free(owner);
		free(first);
		return RUN_FAILED;
	}
	/* Read every statement's result up to the sync. */
	run_res out = RUN_COMMITTED;
	bool have_err = false;
	size_t q = 0;
	int nulls = 0;
	for (;;) {
		PGresult *r = PQgetResult(c);
		if (!r) {
			if (PQstatus(c) == CONNECTION_BAD || ++nulls > 1)
				break; /* no sync will come */
			continue;
		}
		nulls = 0;
		ExecStatusType t = PQresultStatus(r);
		if (t == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (t == PGRES_FATAL_ERROR && !have_err) {
			have_err = true;
			const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			size_t k = 0;
			while (k + 1 < nb && first[k + 1] <= q)
				k++;
			if (code && strcmp(code, "RKF01") == 0 && q == first[k]) {
				*bad = owner[k];
				out = RUN_FENCED;
			} else {
				out = RUN_FAILED;
			}
			pg_errmsg(c, PQresultErrorMessage(r), "commit", err, errlen);
		}
		q++;
		PQclear(r);
	}
	if (q < nq && out == RUN_COMMITTED) {
		pg_errmsg(c, NULL, "commit", err, errlen);
		out = RUN_FAILED;
	}
	if (PQexitPipelineMode(c) != 1)
		pg->broken = true;
	free(owner);
	free(first);
	return out;
}

rk_err store_pg_commit_group(store_pg *pg, store_pg_batch **b, size_t n,
			     store_pg_res *res, char *err, size_t errlen)
{
	bool *skip = calloc(n + 1, sizeof(*skip));
	for (size_t i = 0; i < n; i++)
		res[i] = STORE_PG_FAILED;
	if (!skip) {
		snprintf(err, errlen, "out of memory");
		return RK_EIO;
	}
	if (!store_pg_alive(pg)) {
		snprintf(err, errlen, "commit: the connection is broken");
		free(skip);
		return RK_EIO;
	}
	size_t left = n;
	rk_err rc = RK_OK;
	/* Each round commits, or finds one more fenced room (then left out,
	 * with its other batches in the group: they hold the same token). */
	while (left > 0) {
		size_t bad = 0;
		run_res r = run_group(pg, b, n, skip, &bad, err, errlen);
		if (r == RUN_COMMITTED) {
			for (size_t i = 0; i < n; i++)
				if (!skip[i])
					res[i] = STORE_PG_COMMITTED;
			break;
		}
		if (r == RUN_FAILED) {
			for (size_t i = 0; i < n; i++)
				res[i] = STORE_PG_FAILED;
			rc = RK_EIO;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (!skip[i] && strcmp(b[i]->room, b[bad]->room) == 0 &&
			    b[i]->token == b[bad]->token) {
				skip[i] = true;
				res[i] = STORE_PG_FENCED;
				left--;
			}
		}
	}
	free(skip);
	return rc;
}
