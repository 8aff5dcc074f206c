/*
 * server.c - the registries (rooms by id, WebSocket connections), the
 * end-of-turn flush, completions of the loader and syncer routed to their
 * room, alarm firing, deletion and housekeeping (see server.h).
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "conn.h"
#include "conn_in.h"
#include "conn_out.h"
#include "log.h"
#include "room.h"
#include "roomfiles.h"
#include "roomid.h"
#include "server.h"

/* ---- connections ------------------------------------------------------- */

void server_conn_open(server *s, conn *c, struct lws *wsi)
{
	memset(c, 0, sizeof(*c));
	c->wsi = wsi;
	c->srv = s;
	conn_set_state(c, CONN_OPEN);
	int64_t now = rk_mono_us();
	c->last_rx_us = now;
	c->last_ping_us = now;
	c->bucket_us = now;
	c->abuse_window_us = now;
	c->tokens = s->cfg.ops_burst;
	c->anext = s->conns;
	if (s->conns)
		s->conns->aprev = c;
	s->conns = c;
	s->nconns++;
}

void server_conn_gone(conn *c)
{
	server *s = c->srv;
	if (!conn_is_ws(c))
		return;
	if (c->room)
		room_leave(c->room, c);
	conn_out_forget(c);
	conn_rx_free(c);
	if (c->ids) /* ws_established counted its address */
		iplimit_closed(&s->ipl, conn_ip(c));
	if (c->aprev)
		c->aprev->anext = c->anext;
	else if (s->conns == c)
		s->conns = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	s->nconns--;
	conn_set_state(c, CONN_CLOSED);
	s->m.conns_closed++;
}

/* ---- rooms ------------------------------------------------------------- */

room *server_room_get(server *s, const char *id, bool create)
{
	room *r = rk_omap_get(&s->rooms, id, strlen(id));
	if (r || !create)
		return r;
	if (!rk_roomid_validz(id)) /* never reached with a bad id; belt and braces */
		return NULL;
	r = room_new(s, id);
	if (r && rk_omap_put(&s->rooms, room_id(r), strlen(room_id(r)), r) != RK_OK) {
		room_free(r);
		return NULL;
	}
	return r;
}

size_t server_rooms_loaded(server *s)
{
	size_t loaded = 0, it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&s->rooms, &it, &e))
		loaded += room_is_loaded(e->val);
	return loaded;
}

int server_scan_rooms(server *s)
{
	DIR *d = opendir(s->rooms_dir);
	if (!d) {
		rk_error("cannot read %s: %s", s->rooms_dir, strerror(errno));
		return -1;
	}
	struct dirent *de;
	size_t n = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len > 12 &&
		    strcmp(de->d_name + len - 12, ".db" RK_DELETING_SUFFIX) == 0) {
			/* A room removal that did not finish (crash): finish it. */
			char p[sizeof(s->rooms_dir) + 300], err[300];
			snprintf(p, sizeof(p), "%s/%s", s->rooms_dir, de->d_name);
			if (rk_room_files_finish(p, err, sizeof(err)) != 0)
				rk_warn("%s", err);
			else
				rk_info("finished removing %s", p);
			continue;
		}
		if (len < 4 || strcmp(de->d_name + len - 3, ".db") != 0)
			continue;
		char id[RK_ROOM_ID_MAX + 1];
		if (len - 3 > RK_ROOM_ID_MAX)
			continue;
		memcpy(id, de->d_name, len - 3);
		id[len - 3] = '\0';
		if (!rk_roomid_validz(id))
			continue;
		room *r = server_room_get(s, id, true);
		if (!r)
			continue;
		store_info info;
		char err[256];
		if (room_peek(r, &info, err, sizeof(err)) != RK_OK) {
			rk_warn("room %s: %s (it will be refused when used)", id, err);
			continue;
		}
		for (size_t i = 0; i < info.nalarms; i++)
			(void)alarm_add(&s->alarms, id, info.alarms[i].poll,
					info.alarms[i].at);
		free(info.alarms);
		n++;
	}
	closedir(d);
	rk_info("found %zu rooms in %s, %zu pending alarms", n, s->rooms_dir,
		s->alarms.n);
	return 0;
}

bool server_admin_may_wait(server *s, room *r)
{
	if (!s->pgc)
		return true;
	if (pgcommit_failing(s->pgc))
		return false;
	if (!room_is_loaded(r) && !room_is_loading(r)) {
		if (!room_start_load(r)) /* ready for the client's retry */
			rk_warn("room %s: cannot start its load", room_id(r));
		return false;
	}
	return !room_is_loading(r);
}

int server_room_delete(server *s, const char *id, char *epoch, uint32_t *closed)
{
	room *r = server_room_get(s, id, false);
	*closed = 0;
	if (!r || !room_exists(r))
		return 404;
	if (!s->loader || !server_admin_may_wait(s, r))
		return 503;
	/* Admin path, may wait: a load in flight completes (its waiting joins
	 * are welcomed, then closed by room_delete), and what is pending is
	 * committed and, with --fsync, synced, so no commit or sync result of
	 * the old room can reach a new one of the same name. */
	if (room_is_loading(r))
		loader_wait(s->loader, room_id(r));
	if (room_has_unsynced(r))
		server_flush_durable(s);
	return room_delete(r, epoch, closed);
}

void server_room_loaded(void *arg, load_result *res)
{
	server *s = arg;
	room *r = server_room_get(s, res->room, false);
	if (!r)
		return; /* cannot happen: a room with a job stays registered */
	if (res->kind == LOADER_DELETE) {
		if (room_deleted(r, res)) {
			/* Nobody came back meanwhile: the room is forgotten. */
			rk_omap_del(&s->rooms, res->room, strlen(res->room));
			room_free(r);
		}
		return;
	}
	room_loaded(r, res);
	if (res->rc != RK_OK)
		alarm_fail_room(&s->alarms, res->room, res->err);
	else if (s->alarms.n)
		server_alarms(s); /* alarms that waited for this load fire now */
}

void server_room_synced(void *arg, const char *room_id, int64_t seq, int err)
{
	server *s = arg;
	room *r = server_room_get(s, room_id, false);
	if (r)
		room_synced(r, seq, err);
}

/* ---- the end of a turn --------------------------------------------------- */

/* Retry deferred commits; the loop may have nothing else to wake it, so
 * this flushes and writes the output itself (as the end of a turn does). */
static void defer_cb(lws_sorted_usec_list_t *sul)
{
	server *s = container_of(sul, server, defer_sul);
	server_flush_turn(s);
	conn_write_out(s);
}

static void flush(server *s, bool defer_ok)
{
	if (room_flush_dirty(s, defer_ok))
		lws_sul_schedule(s->lws, 0, &s->defer_sul, defer_cb, 1000);
}

void server_flush(server *s)
{
	flush(s, false);
}

void server_flush_turn(server *s)
{
	flush(s, true);
}

void server_flush_durable(server *s)
{
	do {
		server_flush(s);
		syncer_flush(s->syncer);
		pgcommit_flush(s->pgc);
	} while (s->dirty);
}

/* ---- cluster mode -------------------------------------------------------- */

void server_room_committed(void *arg, const char *room_id, int64_t token, int64_t seq,
			   bool fenced)
{
	server *s = arg;
	room *r = server_room_get(s, room_id, false);
	if (r)
		room_committed(r, token, seq, fenced);
}

static int cmp_lease_room(const void *a, const void *b)
{
	return strcmp(((const lease_room *)a)->room, ((const lease_room *)b)->room);
}

void server_lease_report(void *arg, const lease_report *rep)
{
	server *s = arg;
	/* Rooms whose ownership is in doubt go first: nothing of theirs may be
	 * served from this node's memory any more. */
	if (rep->lost || rep->checked) {
		lease_room *owned = NULL;
		if (rep->checked && rep->nowned) {
			owned = malloc(rep->nowned * sizeof(*owned));
			if (!owned)
				return; /* the next check after a gap looks again */
			memcpy(owned, rep->owned, rep->nowned * sizeof(*owned));
			qsort(owned, rep->nowned, sizeof(*owned), cmp_lease_room);
		}
		size_t lost = 0;
		size_t it = 0;
		const rk_omap_entry *e;
		while (rk_omap_next(&s->rooms, &it, &e)) {
			room *r = e->val;
			int64_t token = room_token(r);
			if (!token)
				continue;
			lease_room key;
			snprintf(key.room, sizeof(key.room), "%s", room_id(r));
			const lease_room *o =
			    owned ? bsearch(&key, owned, rep->nowned, sizeof(*owned),
					    cmp_lease_room)
				  : NULL;
			if (rep->lost) {
				room_lost(r, "this node lost its lease (no heartbeat)");
				lost++;
			} else if (!o || o->token != token) {
				room_lost(r, "another node took it over while this node "
					     "was paused or cut off");
				lost++;
			}
		}
		free(owned);
		if (lost)
			rk_warn("cluster: %zu rooms dropped after the heartbeat check",
				lost);
	}
	for (size_t i = 0; i < rep->nwanted; i++) {
		room *r = server_room_get(s, rep->wanted[i].room, true);
		if (r)
			room_handover(r, rep->wanted[i].token);
	}
	/* Rooms of dead nodes with alarms pending: load them here so that their
	 * alarms fire (the load registers them; server_room_loaded fires the
	 * due ones). */
	for (size_t i = 0; i < rep->norphans && s->running; i++) {
		room *r = server_room_get(s, rep->orphans[i].room, true);
		if (r && !room_is_loaded(r) && !room_is_loading(r) && !room_start_load(r))
			rk_warn("room %s: cannot start its load for its alarms",
				rep->orphans[i].room);
	}
	/* A hand-over committed its room's batch itself (commit_now); other
	 * dirty rooms wait for the end of this loop turn as always. */
}

/* ---- alarms ------------------------------------------------------------ */

/* Fire every due alarm: the room commits poll.close as session "server",
 * user "roomd". An alarm of a hibernated room stays in the list (waiting)
 * while the room loads; the load's completion calls here again. */
void server_alarms(server *s)
{
	alarms *al = &s->alarms;
	int64_t now = rk_wall_ms();
	for (size_t i = 0; i < al->n; i++)
		al->v[i].waits = false;
	for (size_t i = 0; i < al->n;) {
		alarm_entry a = al->v[i];
		if (a.at > now) {
			i++;
			continue;
		}
		room *r = server_room_get(s, a.room, false);
		if (r && !room_is_loaded(r) && s->running && room_start_load(r)) {
			al->v[i].waits = true;
			i++;
			continue;
		}
		alarm_remove(al, i);
		char err[256];
		snprintf(err, sizeof(err), "%s",
			 r ? "cannot start its load" : "room unknown");
		/* Before the loop runs (the alarms that came due while roomd was
		 * down) nothing waits on it: load at once, as the startup scan
		 * reads, so they are committed before roomd reports ready. */
		if (!r || (!room_is_loaded(r) &&
			   (s->running || room_load(r, err, sizeof(err)) != RK_OK))) {
			rk_error("alarm for poll %s in room %s cannot fire: %s", a.poll,
				 a.room, err);
			continue;
		}
		room_alarm_fire(r, a.poll, a.at);
	}
	server_flush(s);
	alarm_arm(al);
}

/* ---- housekeeping ------------------------------------------------------ */

void server_tick(server *s)
{
	int64_t now = rk_mono_us();
	int64_t idle_us = (int64_t)s->cfg.idle_timeout_ms * 1000;
	int64_t ping_us = (int64_t)s->cfg.ping_interval_ms * 1000;
	for (conn *c = s->conns; c; c = c->anext) {
		msgq_trim(&c->q); /* idle: its ring goes (~80 B a connection) */
		conn_rx_trim(c);  /* ... and its reassembly buffer */
		if (c->state != CONN_OPEN)
			continue;
		if (now - c->last_rx_us > idle_us) {
			conn_close(c, CLOSE_IDLE, "idle timeout");
		} else if (now - c->last_ping_us > ping_us) {
			c->last_ping_us = now;
			c->need_ping = true;
			lws_callback_on_writable(c->wsi);
		}
	}
	int64_t hib_us = s->cfg.hibernate_after_ms * 1000;
	bool hibernated = false;
	size_t it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&s->rooms, &it, &e))
		hibernated |= room_tick(e->val, now, hib_us);
#ifdef __GLIBC__
	/* Hibernated rooms freed their state and SQLite handles (dozing ones
	 * their handles); without a trim glibc keeps the freed pages, and an
	 * idle server would never shrink. */
	if (hibernated)
		malloc_trim(0);
#else
	(void)hibernated;
#endif
}

void server_cancel_timers(server *s)
{
	lws_sul_cancel(&s->defer_sul);
	size_t it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&s->rooms, &it, &e))
		room_cancel_timers(e->val);
}

void server_free_rooms(server *s)
{
	size_t it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&s->rooms, &it, &e))
		room_free(e->val);
	rk_omap_free(&s->rooms);
	alarm_free(&s->alarms);
}
