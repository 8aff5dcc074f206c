/* cluster.c - roomctl's commands on a cluster's PostgreSQL (roomd --pg,
 * libstore/pg.h): pull (a room's log as a standard room file, so every
 * offline command applies) and rooms --pg (the rooms with their owner
 * node). Both only read the rooms (connecting creates the empty schema in
 * a database that has none, as a node's first connect does). */
#include <string.h>

#include "pg.h"
#include "roomctl.h"
#include "roomfiles.h"
#include "roomid.h"

enum { PG_TIMEOUT_MS = 60000 }; /* one statement of a pull, at most */

static int connect_pg(ctl_ctx *c, const char *url, store_pg **pg)
{
	char err[600];
	if (store_pg_connect(url, PG_TIMEOUT_MS, pg, err, sizeof(err)) != RK_OK)
		return ctl_fail(c, "%s", err);
	return RK_EXIT_OK;
}

/* ---- pull --------------------------------------------------------------- */

static const ctl_opt pull_opts[] = {
    {"--pg", true, false},
    {"-o", true, false},
    {"--output", true, false},
    {NULL, false, false},
};

typedef struct puller {
	store *dst;
	int64_t events, snaps, alarms;
	rk_err rc;
	char err[600];
} puller;

static bool pull_snapshot(void *arg, int64_t seq, int64_t ts, const char *json,
			  size_t len)
{
	puller *p = arg;
	p->rc = store_put_snapshot(p->dst, seq, ts, json, len, p->err, sizeof(p->err));
	p->snaps++;
	return p->rc == RK_OK;
}

static bool pull_alarm(void *arg, const char *poll, int64_t at)
{
	puller *p = arg;
	p->rc = store_set_alarm(p->dst, poll, at, p->err, sizeof(p->err));
	p->alarms++;
	return p->rc == RK_OK;
}

/* Copy src's events, snapshots and alarms into dst in one batch. */
static bool pull_rows(store *src, puller *p)
{
	char why[600];
	if (store_begin(p->dst, p->err, sizeof(p->err)) != RK_OK)
		return false;
	store_cursor *cur;
	if (store_cursor_open(src, 0, -1, NULL, &cur, why, sizeof(why)) != RK_OK) {
		snprintf(p->err, sizeof(p->err), "%s", why);
		return false;
	}
	store_event ev;
	int r;
	while ((r = store_cursor_next(cur, &ev, why, sizeof(why))) == 1) {
		if (store_append(p->dst, ev.seq, ev.ts, ev.session, ev.user, ev.op_id,
				 ev.op, ev.op_len, p->err, sizeof(p->err)) != RK_OK) {
			store_cursor_close(cur);
			return false;
		}
		p->events++;
	}
	store_cursor_close(cur);
	if (r < 0) {
		snprintf(p->err, sizeof(p->err), "%s", why);
		return false;
	}
	rk_err rc = store_snapshots(src, pull_snapshot, p, why, sizeof(why));
	if (rc == RK_OK && p->rc == RK_OK)
		rc = store_alarms(src, pull_alarm, p, why, sizeof(why));
	if (rc != RK_OK)
		snprintf(p->err, sizeof(p->err), "%s", why);
	if (rc != RK_OK || p->rc != RK_OK)
		return false;
	return store_commit(p->dst, p->err, sizeof(p->err)) == RK_OK &&
	       store_settle(p->dst, false, p->err, sizeof(p->err)) == RK_OK;
}

int cmd_pull(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse(c, argc, argv, pull_opts, 1, &a);
	if (rc != RK_CLI_GO)
		return rc;
	const char *url = ctl_get(pull_opts, &a, "--pg");
	const char *out = ctl_get(pull_opts, &a, "-o");
	if (!out)
		out = ctl_get(pull_opts, &a, "--output");
	if (!url)
		return ctl_usage(c, "which cluster? (--pg URL)");
	if (a.npos != 1)
		return ctl_usage(c,
				 "which room? (roomctl pull --pg URL ROOM -o ROOM.db)");
	if (!out)
		return ctl_usage(c, "which file to write? (-o ROOM.db)");
	const char *room = a.pos[0];
	if (!rk_roomid_validz(room))
		return ctl_usage(c, "'%s' is not a valid room id", room);
	store_pg *pg;
	if ((rc = connect_pg(c, url, &pg)) != RK_EXIT_OK)
		return rc;
	/* One snapshot of the database: a live room is copied as of one
	 * commit. The room is found before the file is created. */
	char err[600];
	store *src = NULL;
	if (store_pg_read_begin(pg, err, sizeof(err)) != RK_OK ||
	    store_pg_open_ro(pg, room, &src, err, sizeof(err)) != RK_OK) {
		store_pg_close(pg);
		if (strcmp(err, "no such room") == 0)
			return ctl_fail(c, "no such room '%s' in the cluster", room);
		return ctl_fail(c, "%s", err);
	}
	int fd = store_lock_new(out, err, sizeof(err));
	if (fd < 0) {
		store_close(src);
		store_pg_close(pg);
		if (fd == STORE_LOCK_HELD)
			return ctl_fail(c, "%s is locked by another process", out);
		return ctl_fail(
		    c, "%s%s", err,
		    fd == STORE_LOCK_EXISTS ? " (pull never overwrites a file)" : "");
	}
	/* The same meta (the epoch above all: clients resume across it). */
	puller p = {.rc = RK_OK};
	bool ok = store_create(out, store_get_meta(src), &p.dst, p.err, sizeof(p.err)) ==
		      RK_OK &&
		  pull_rows(src, &p);
	store_close(p.dst);
	char epoch[RK_EPOCH_MAX + 1];
	snprintf(epoch, sizeof(epoch), "%s", store_epoch(src));
	store_close(src);
	store_pg_read_end(pg);
	store_pg_close(pg);
	if (!ok) {
		/* Nothing half-pulled stays behind. */
		rk_room_files_remove(out, err, sizeof(err));
		store_unlock(fd);
		return ctl_fail(c, "%s: %s", out, p.err);
	}
	store_unlock(fd);
	fprintf(c->out,
		"pulled room %s (epoch %s): %lld events, %lld snapshots, %lld alarms "
		"into %s\n",
		room, epoch, (long long)p.events, (long long)p.snaps, (long long)p.alarms,
		out);
	return RK_EXIT_OK;
}

/* ---- rooms --pg ---------------------------------------------------------- */

static const ctl_opt rooms_pg_opts[] = {
    {"--pg", true, false},
    {"--json", false, false},
    {"--lease", true, false},
    {NULL, false, false},
};

typedef struct lister {
	ctl_ctx *c;
	bool json;
	int n;
} lister;

static bool list_room(void *arg, const store_pg_room *r)
{
	lister *l = arg;
	if (l->json) {
		rk_buf b;
		rk_buf_init(&b, 0);
		rk_buf_puts(&b, "{\"room\":");
		rk_buf_put_jstrz(&b, r->room);
		rk_buf_puts(&b, ",\"owner\":");
		rk_buf_put_jstrz(&b, r->owner);
		rk_buf_printf(&b,
			      ",\"owner_alive\":%s,\"seq\":%lld,\"last_active_ms\":%lld,"
			      "\"token\":%lld}\n",
			      r->owner_alive ? "true" : "false", (long long)r->seq,
			      (long long)r->last_active_ms, (long long)r->token);
		if (rk_buf_ok(&b) == RK_OK)
			fputs(b.data, l->c->out);
		rk_buf_free(&b);
	} else {
		char t[40];
		ctl_fmt_ms(r->last_active_ms, t, sizeof(t));
		fprintf(l->c->out, "%-24s %-20s %-5s %10lld  %s\n", r->room,
			r->owner[0] ? r->owner : "-",
			!r->owner[0]	 ? "-"
			: r->owner_alive ? "yes"
					 : "no",
			(long long)r->seq, t);
	}
	l->n++;
	return true;
}

int ctl_rooms_pg(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse(c, argc, argv, rooms_pg_opts, 0, &a);
	if (rc != RK_CLI_GO)
		return rc;
	int64_t lease = STORE_PG_LEASE_MS;
	const char *ls = ctl_get(rooms_pg_opts, &a, "--lease");
	if (ls && (rc = ctl_int(c, "--lease", ls, 1, 3600000, &lease)) != RK_EXIT_OK)
		return rc;
	store_pg *pg;
	if ((rc = connect_pg(c, ctl_get(rooms_pg_opts, &a, "--pg"), &pg)) != RK_EXIT_OK)
		return rc;
	store_pg_set_lease(pg, (int)lease);
	lister l = {.c = c, .json = ctl_flag(rooms_pg_opts, &a, "--json")};
	if (!l.json)
		fprintf(c->out, "%-24s %-20s %-5s %10s  %s\n", "ROOM", "OWNER", "ALIVE",
			"SEQ", "LAST ACTIVE");
	char err[600];
	rk_err r = store_pg_rooms(pg, list_room, &l, err, sizeof(err));
	store_pg_close(pg);
	if (r != RK_OK)
		return ctl_fail(c, "%s", err);
	if (!l.json)
		fprintf(c->out, "%d room%s\n", l.n, l.n == 1 ? "" : "s");
	return RK_EXIT_OK;
}
