/*
 * room.c - the room actor (room.h): load/hibernate, join/leave with
 * presence and grace, op submission into the pending batch, the commit of
 * a dirty room (one transaction, then the output gate opens), cursor
 * coalescing, its webhook rows.
 *
 * Loading runs on the loader thread (loader.h): what needs the state while
 * a room loads (joins, ops, replies gated behind those ops) waits in the
 * room's load queue and runs, in arrival order, when the load completes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clock.h"
#include "json.h"
#include "log.h"
#include "conn.h"
#include "conn_out.h"
#include "room.h"

#define CURSOR_INTERVAL_US 30000
/* A loaded room's WAL is checkpointed (PASSIVE) past this many frames:
 * ~4 MB at 4 KiB pages; STORE_WAL_LIMIT truncates it back when it restarts. */
#define CKPT_FRAMES 1000
#define CKPT_CATCHUP_FRAMES 256 /* a catch-up this short holds the room's commits */
#define CKPT_PAUSE_US 250000	/* longest a room's commits wait for a catch-up */
/* A loaded room (file mode) with no op for this long closes its SQLite
 * handle (~23 KB of heap and its 32 KiB -shm mapping) and keeps its state:
 * it "dozes". Its next op, resume or snapshot reopens the handle on the
 * loader thread (room_wake); meanwhile ops apply to the state and their
 * output waits behind the commit as always, and joins wait in the load
 * queue. Long enough that a room in use keeps its handle between ops. */
#define ROOM_DOZE_US 1500000

/* One op applied to the in-memory state but not yet committed; or a reply
 * that must wait behind such ops (output gate). */
typedef struct pending {
	int64_t seq; /* 0 for a gated reply (reject) */
	int64_t ts;
	conn *sender;		/* NULL if the sender left, or a server op */
	rk_msg *event;		/* framed event for everyone but the sender */
	rk_msg *reply;		/* reject to the sender (seq == 0) */
	size_t op_off, op_len;	/* the op JSON inside event's payload */
	char id[RK_ID_MAX + 1]; /* client op id */
	char session[RK_SESSION_MAX + 1];
	char user[RK_NAME_BYTES + 1];
	char alarm_poll[RK_ID_MAX + 1]; /* poll whose alarm to set / clear */
	int64_t alarm_at;		/* > 0 set, 0 none, -1 clear */
	int64_t gate_seq;		/* --fsync: released once this seq is durable */
} pending;

/* A peer that dropped without a clean close, kept present for the grace
 * period so that a reconnect with the same ?client= does not flap. */
typedef struct ghost {
	struct ghost *next;
	char client[RK_ID_MAX + 1];
	rk_peer peer;
	int64_t expires_us;
} ghost;

struct room {
	char id[RK_ROOM_ID_MAX + 1];
	int64_t seq;		/* last applied (== committed unless dirty) */
	int64_t committed_seq;	/* last durable: welcome, pong, resume, /v1 */
	int64_t last_active_ms; /* wall time of the last op */
	uint32_t nconns;
	bool loaded;   /* state in memory */
	bool loading;  /* a load (or, loaded, a reopen) is on the loader thread */
	bool deleting; /* its files' removal is on the loader thread */
	bool moving;   /* cluster: its last load found it held by a live node */
	/* File mode: a new room nobody has committed to has no file, lock or
	 * handle (st NULL while loaded); its epoch and created_ms live here
	 * until its first commit creates the file with them (room_wake). */
	bool fileless;
	int64_t created_ms;
	server *srv;
	char *path;	 /* its .db (store_path), owned */
	int lock_fd;	 /* flock held while the room has conns or state */
	store *st;	 /* open while loaded, unless dozing (ROOM_DOZE_US) */
	int64_t token;	 /* cluster: the fencing token st holds (0: none) */
	rk_state *state; /* NULL while hibernated */
	opids *ids;	 /* committed op ids; with state, NULL while hibernated */
	char epoch[RK_EPOCH_MAX + 1];
	int64_t snap_seq;     /* seq of the newest snapshot */
	int64_t last_ts;      /* ts of the last op: ts never goes backwards */
	int64_t last_op_us;   /* monotonic, for hibernation */
	int64_t ckpt_wait_us; /* commits wait for a catch-up since (room_flush) */
	conn *conns;	      /* doubly linked through conn->rnext/rprev */
	ghost *ghosts;	      /* at most --max-room-conns */
	uint32_t nghosts;
	/* While loading: joins, ops and gated replies that wait for the state,
	 * in arrival order; applied before anything else once loaded. At most
	 * ROOM_LQ_MAX. */
	struct lq_item *lq_head, *lq_tail;
	uint32_t nlq;
	uint32_t nwaiting; /* joins among them (count toward room full) */
	pending *pend;	   /* pending batch (at most ROOM_PEND_MAX) */
	size_t npend, cappend;
	/* --fsync: committed batches whose WAL frames the syncer has not made
	 * durable yet, in production order (events, acks, gated replies); the
	 * gate opens for nd[nd_head..nd_len) as their gate_seq is synced. At
	 * most ROOM_ND_MAX. */
	pending *nd;
	size_t nd_head, nd_len, nd_cap;
	room *dirty_next; /* s->dirty list */
	bool dirty;
	bool cursor_armed;
	bool rx_paused;	     /* members' sockets not read (room_rx) */
	uint8_t colors_used; /* bitmask of colors of present peers */
	lws_sorted_usec_list_t cursor_sul;
	/* Webhooks: presence bodies waiting for the next flush to be written
	 * to the outbox (at most WH_PRES_MAX), and the outbox id trimmed up to. */
	struct wh_pres *wh_pres;
	size_t wh_npres, wh_cappres;
	int64_t wh_trimmed;
};

/* ---- life and accessors ------------------------------------------------ */

room *room_new(server *s, const char *id)
{
	room *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->srv = s;
	r->lock_fd = -1;
	char path[1200];
	if (!store_path(s->cfg.data_dir, id, path, sizeof(path)) ||
	    !(r->path = strdup(path))) {
		free(r);
		return NULL;
	}
	return r;
}

const char *room_id(const room *r)
{
	return r->id;
}

bool room_is_loaded(const room *r)
{
	return r->loaded;
}

bool room_is_loading(const room *r)
{
	return r->loading;
}

bool room_is_deleting(const room *r)
{
	return r->deleting;
}

bool room_exists(const room *r)
{
	return !r->deleting && (!r->fileless || r->nconns || r->lq_head || r->loading);
}

uint32_t room_members(const room *r)
{
	return r->nconns + r->nwaiting;
}

int64_t room_committed_seq(const room *r)
{
	return r->committed_seq;
}

rk_err room_peek(room *r, store_info *info, char *err, size_t errlen)
{
	rk_err rc = store_peek(r->path, info, err, errlen);
	if (rc != RK_OK)
		return rc;
	r->seq = r->committed_seq = info->seq;
	r->last_active_ms = info->last_active_ms;
	return RK_OK;
}

/* ---- load queue ------------------------------------------------------- */

typedef enum { LQ_JOIN, LQ_OP, LQ_REPLY } lq_kind;

/* Something that needs the room's state, waiting for its load. */
typedef struct lq_item {
	struct lq_item *next;
	lq_kind kind;
	conn *c;
	char *since, *epoch; /* LQ_JOIN: resume arguments (copies) or NULL */
	rk_cmsg m;	     /* LQ_OP: the decoded op, owned */
	rk_msg *reply;	     /* LQ_REPLY: the reference */
} lq_item;

static void lq_free(lq_item *it)
{
	free(it->since);
	free(it->epoch);
	rk_cmsg_free(&it->m);
	msg_unref(it->reply);
	free(it);
}

/* Append it; false (it stays the caller's) if r's queue is at its cap. */
static bool lq_push(room *r, lq_item *it)
{
	if (r->nlq >= ROOM_LQ_MAX)
		return false;
	r->nlq++;
	it->next = NULL;
	if (r->lq_tail)
		r->lq_tail->next = it;
	else
		r->lq_head = it;
	r->lq_tail = it;
	if (it->kind == LQ_JOIN)
		r->nwaiting++;
	return true;
}

/* Drop what c queued (c is going away). */
static void lq_drop_conn(room *r, conn *c)
{
	r->lq_tail = NULL;
	for (lq_item **pp = &r->lq_head; *pp;) {
		lq_item *it = *pp;
		if (it->c != c) {
			r->lq_tail = it;
			pp = &it->next;
			continue;
		}
		if (it->kind == LQ_JOIN)
			r->nwaiting--;
		r->nlq--;
		*pp = it->next;
		lq_free(it);
	}
}

/* Cluster mode (--pg): the log is in PostgreSQL (pg.h), the commit of a
 * batch is the pgcommit round's, and there are no files, locks or WAL
 * checkpoints. */
static bool cluster(const server *s)
{
	return s->cfg.pg_url != NULL;
}

/* Output waits for a durability report after the commit: --fsync's
 * fdatasync, or cluster mode's PostgreSQL commit. */
static bool gated_later(const server *s)
{
	return s->syncer || s->pgc;
}

/* Entries of r committed but not yet durable (--fsync). */
static size_t nd_count(const room *r)
{
	return r->nd_len - r->nd_head;
}

bool room_has_unsynced(const room *r)
{
	return r->dirty || nd_count(r);
}

/* --fsync: a welcome carries the durable state, so a join to a room with
 * uncommitted or not yet durable ops waits in the room's queue until the
 * sync completes; so does anything queued behind such a join. */
static bool room_must_wait(const room *r)
{
	return r->lq_head || nd_count(r) || (gated_later(r->srv) && r->dirty) ||
	       r->loading;
}

/* r is loaded and dozing (no handle): reopen its handle on the loader
 * thread (r->loading until room_loaded), or here if the loader cannot take
 * it (stopping, out of memory). false if neither worked (logged). */
static bool room_wake(room *r)
{
	server *s = r->srv;
	char err[256];
	if (r->loading || r->st)
		return true;
	store_meta meta;
	if (r->fileless) {
		memset(&meta, 0, sizeof(meta));
		snprintf(meta.room, sizeof(meta.room), "%s", r->id);
		snprintf(meta.epoch, sizeof(meta.epoch), "%s", r->epoch);
		meta.created_ms = r->created_ms;
	}
	if (s->loader &&
	    (r->fileless ? loader_submit_create(s->loader, r->id, r->path, &meta)
			 : loader_submit_reopen(s->loader, r->id, r->path)) == RK_OK) {
		r->loading = true;
		return true;
	}
	ckpt_quiesce(s->ckpt, r->path);
	if (r->fileless) {
		int fd = store_lock(r->path, true, err, sizeof(err));
		if (fd >= 0 &&
		    store_create(r->path, &meta, &r->st, err, sizeof(err)) == RK_OK) {
			r->lock_fd = fd;
			r->fileless = false;
			return true;
		}
		store_unlock(fd);
	} else if (store_open(r->path, r->id, 0, &r->st, err, sizeof(err)) == RK_OK) {
		s->m.room_wakes++;
		return true;
	}
	rk_error("room %s: cannot %s its file: %s", r->id,
		 r->fileless ? "create" : "reopen", err);
	return false;
}

bool room_start_load(room *r)
{
	server *s = r->srv;
	if (r->loading)
		return true;
	/* The worker takes the flock only if the room does not hold it (a
	 * hibernated room with members keeps it); while loading, nothing but
	 * the completion changes lock_fd. */
	if (!s->loader || loader_submit(s->loader, r->id, r->path,
					!cluster(s) && r->lock_fd < 0) != RK_OK)
		return false;
	r->loading = true;
	return true;
}

/* ---- load / hibernate ------------------------------------------------- */

/* r's load found no file: it is new and empty (state and ids set by the
 * caller). A room that was fileless before in this process keeps the
 * epoch its clients were given. */
static void room_set_fresh(room *r, const store_meta *meta)
{
	server *s = r->srv;
	if (!r->fileless || !r->epoch[0]) {
		snprintf(r->epoch, sizeof(r->epoch), "%s", meta->epoch);
		r->created_ms = meta->created_ms;
	}
	r->fileless = true;
	r->seq = r->committed_seq = r->snap_seq = 0;
	r->loaded = true;
	r->last_op_us = rk_mono_us();
	if (!r->last_active_ms)
		r->last_active_ms = r->created_ms;
	s->m.room_loads++;
	rk_info("room %s loaded: new (its file is created by its first op)", r->id);
}

rk_err room_load(room *r, char *err, size_t errlen)
{
	server *s = r->srv;
	/* Never two loads of one room: the one in flight completes first (this
	 * admin path may block; its completion runs the room's queue). */
	if (r->loading && s->loader)
		loader_wait(s->loader, r->id);
	if (r->loaded)
		return RK_OK;
	if (cluster(s)) {
		/* The loop never waits for PostgreSQL: the admin paths start
		 * the load and answer 503 (server_admin_may_wait). */
		snprintf(err, errlen, "cluster mode loads on the loader thread only");
		return RK_EIO;
	}
	if (r->lock_fd < 0 && access(r->path, F_OK) != 0 && errno == ENOENT) {
		/* A new room (as the loader's fresh load): no file until its
		 * first commit. */
		store_meta meta;
		store_fresh_meta(r->id, &meta);
		if (!(r->state = rk_state_new()) || !(r->ids = opids_new())) {
			rk_state_free(r->state);
			r->state = NULL;
			snprintf(err, errlen, "out of memory");
			return RK_ENOMEM;
		}
		room_set_fresh(r, &meta);
		return RK_OK;
	}
	if (r->lock_fd < 0) {
		r->lock_fd = store_lock(r->path, true, err, errlen);
		if (r->lock_fd < 0)
			return RK_EIO;
	}
	int64_t t0 = rk_mono_us();
	ckpt_quiesce(s->ckpt, r->path); /* no TRUNCATE may run under a writer */
	rk_err rc = store_open(r->path, r->id, 0, &r->st, err, errlen);
	if (rc == RK_OK)
		rc = store_load(r->st, &r->state, &r->seq, &r->snap_seq, err, errlen);
	if (rc == RK_OK)
		rc = (r->ids = opids_new())
			 ? store_load_opids(r->st, opids_add_row, r->ids, err, errlen)
			 : (snprintf(err, errlen, "out of memory"), RK_ENOMEM);
	if (rc != RK_OK) {
		opids_free(r->ids);
		r->ids = NULL;
		rk_state_free(r->state);
		r->state = NULL;
		store_close(r->st);
		r->st = NULL;
		if (!r->conns) {
			store_unlock(r->lock_fd);
			r->lock_fd = -1;
		}
		return rc;
	}
	snprintf(r->epoch, sizeof(r->epoch), "%s", store_epoch(r->st));
	r->fileless = false;
	r->committed_seq = r->seq;
	r->loaded = true;
	r->last_op_us = rk_mono_us();
	if (!r->last_active_ms)
		r->last_active_ms = store_created_ms(r->st);
	s->m.room_loads++;
	rk_info("room %s loaded: seq %lld (snapshot %lld) in %lld us", r->id,
		(long long)r->seq, (long long)r->snap_seq,
		(long long)(rk_mono_us() - t0));
	return RK_OK;
}

/* Drop the state without writing anything (after a failed commit, the
 * in-memory state is ahead of the disk). */
static void room_unload(room *r)
{
	rk_state_free(r->state);
	r->state = NULL;
	opids_free(r->ids);
	r->ids = NULL;
	store_close(r->st);
	r->st = NULL;
	r->token = 0; /* results of its commits still in flight are stale */
	r->loaded = false;
	if (!r->conns && !r->ghosts) {
		store_unlock(r->lock_fd);
		r->lock_fd = -1;
	}
}

static rk_err write_snapshot(room *r, char *err, size_t errlen)
{
	server *s = r->srv;
	rk_buf_reset(&s->scratch);
	rk_state_encode(r->state, &s->scratch);
	if (rk_buf_ok(&s->scratch) != RK_OK) {
		snprintf(err, errlen, "out of memory encoding snapshot");
		return RK_ENOMEM;
	}
	rk_err rc =
	    store_put_snapshot(r->st, r->seq, r->last_ts ? r->last_ts : rk_wall_ms(),
			       s->scratch.data, s->scratch.len, err, errlen);
	if (rc == RK_OK)
		r->snap_seq = r->seq;
	return rc;
}

/* Cluster mode: hand r's staged batches to the group commit (their
 * output waits for its report, server_room_committed). false if out of
 * memory: then the batches are dropped, not committed. */
static bool pg_submit(room *r)
{
	store_pg_batch *b = store_pg_take(r->st);
	if (!b)
		return true;
	if (pgcommit_submit(r->srv->pgc, b, r->token) != RK_OK) {
		store_pg_batch_free(b);
		return false;
	}
	return true;
}

static void room_hibernate(room *r)
{
	char err[256];
	if (r->st && r->seq > r->snap_seq) {
		if (store_begin(r->st, err, sizeof(err)) != RK_OK ||
		    write_snapshot(r, err, sizeof(err)) != RK_OK ||
		    store_commit(r->st, err, sizeof(err)) != RK_OK) {
			store_rollback(r->st);
			rk_warn("room %s: snapshot before hibernation failed: %s", r->id,
				err);
		} else if (cluster(r->srv)) {
			pg_submit(r);
		}
	}
	room_unload(r);
	/* Nobody writes the file now (a reload first waits for this job,
	 * ckpt_quiesce): copy the WAL into the database and truncate it. */
	if (!cluster(r->srv) && !r->fileless)
		ckpt_request(r->srv->ckpt, r->path, true);
	r->srv->m.room_hibernations++;
	rk_info("room %s hibernated at seq %lld (%u connections stay)", r->id,
		(long long)r->seq, r->nconns);
}

/* ---- output ----------------------------------------------------------- */

/* Encode the scratch buffer into a shared message; NULL if out of memory. */
static rk_msg *scratch_msg(server *s, bool droppable)
{
	if (rk_buf_ok(&s->scratch) != RK_OK)
		return NULL;
	return msg_new(s->scratch.data, s->scratch.len, droppable);
}

/* Queue m on every joined conn of r except skip. Drops the caller's ref. */
static void fanout(room *r, rk_msg *m, conn *skip, bool is_event)
{
	if (!m)
		return;
	for (conn *c = r->conns; c; c = c->rnext) {
		if (c == skip || !c->joined)
			continue;
		conn_push(c, msg_ref(m));
		if (is_event)
			r->srv->m.events_delivered++;
	}
	msg_unref(m);
}

static void presence_join(room *r, conn *c)
{
	rk_buf_reset(&r->srv->scratch);
	rk_peer p;
	conn_peer(c, &p);
	rk_enc_presence_join(&r->srv->scratch, &p);
	fanout(r, scratch_msg(r->srv, false), c, false);
}

static void presence_leave(room *r, const char *session)
{
	rk_buf_reset(&r->srv->scratch);
	rk_enc_presence_leave(&r->srv->scratch, session);
	fanout(r, scratch_msg(r->srv, false), NULL, false);
}

/* ---- webhooks (webhook.h) --------------------------------------------- */

#define WH_PRES_MAX 1024 /* presence webhooks waiting for a room's flush */

/* A presence webhook's body, and where it goes among the batch's ops: the
 * room had `at` pending entries when it happened, so its row is written
 * after theirs and before the rest (the outbox keeps the room's order). */
struct wh_pres {
	char *body;
	size_t at;
};

static void room_mark_dirty(room *r);

/* A presence webhook: its body waits in r->wh_pres for the next flush,
 * which writes it to the outbox with that turn's ops. A room that is not
 * loaded is loaded for it (its completion marks the room dirty). */
static void wh_presence(room *r, bool join, const char *session, const char *user)
{
	server *s = r->srv;
	if (!s->wh || !(s->cfg.webhook_types & WH_TYPE_PRESENCE))
		return;
	if (r->wh_npres >= WH_PRES_MAX) {
		rk_warn(
		    "room %s: %zu presence webhooks wait for a flush; %s of %s dropped",
		    r->id, r->wh_npres, join ? "join" : "leave", session);
		return;
	}
	rk_buf_reset(&s->wh_scratch);
	webhook_enc_presence(&s->wh_scratch, r->id, rk_wall_ms(), join, session, user);
	if (r->wh_npres == r->wh_cappres) {
		size_t ncap = r->wh_cappres ? r->wh_cappres * 2 : 4;
		struct wh_pres *list = realloc(r->wh_pres, ncap * sizeof(*list));
		if (list) {
			r->wh_pres = list;
			r->wh_cappres = ncap;
		}
	}
	char *body = rk_buf_ok(&s->wh_scratch) == RK_OK && r->wh_npres < r->wh_cappres
			 ? strndup(s->wh_scratch.data, s->wh_scratch.len)
			 : NULL;
	if (!body) {
		rk_warn("room %s: out of memory recording a presence webhook", r->id);
		return;
	}
	r->wh_pres[r->wh_npres++] = (struct wh_pres){body, r->npend};
	if (r->loaded)
		room_mark_dirty(r);
	else if (s->running && !room_start_load(r))
		rk_warn("room %s: cannot start its load for a presence webhook", r->id);
}

static rk_err wh_add(room *r, char *err, size_t errlen)
{
	rk_buf *b = &r->srv->wh_scratch;
	if (rk_buf_ok(b) != RK_OK) {
		snprintf(err, errlen, "out of memory encoding a webhook");
		return RK_ENOMEM;
	}
	return store_outbox_add(r->st, rk_wall_ms(), b->data, b->len, err, errlen);
}

/* The webhooks of one committed op, in its transaction. */
static rk_err wh_op_rows(room *r, pending *p, char *err, size_t errlen)
{
	server *s = r->srv;
	unsigned types = s->cfg.webhook_types;
	rk_err rc = RK_OK;
	if (types & WH_TYPE_OP) {
		rk_buf_reset(&s->wh_scratch);
		webhook_enc_op(
		    &s->wh_scratch, r->id, r->epoch, p->seq, p->ts, p->session, p->user,
		    p->id, (const char *)msg_payload(p->event) + p->op_off, p->op_len);
		rc = wh_add(r, err, errlen);
	}
	if (rc == RK_OK && (types & WH_TYPE_POLL_CLOSED) && p->alarm_at < 0) {
		const rk_poll *poll =
		    rk_omap_get(&r->state->polls, p->alarm_poll, strlen(p->alarm_poll));
		if (poll && poll->closed) {
			rk_buf_reset(&s->wh_scratch);
			webhook_enc_poll_closed(&s->wh_scratch, r->id, r->epoch, p->seq,
						p->ts, p->user, poll);
			rc = wh_add(r, err, errlen);
		}
	}
	return rc;
}

/* The presence rows from *next on that happened before pending entry
 * `before` (SIZE_MAX: all of them); *next moves past them. */
static rk_err wh_pres_rows(room *r, size_t before, size_t *next, char *err, size_t errlen)
{
	for (; *next < r->wh_npres && r->wh_pres[*next].at <= before; (*next)++) {
		const char *b = r->wh_pres[*next].body;
		rk_err rc =
		    store_outbox_add(r->st, rk_wall_ms(), b, strlen(b), err, errlen);
		if (rc != RK_OK)
			return rc;
	}
	return RK_OK;
}

/* The presence rows still waiting (from next on), and the trim of what the
 * worker delivered. */
static rk_err wh_flush_rows(room *r, size_t next, int64_t *trimmed, char *err,
			    size_t errlen)
{
	rk_err rc = wh_pres_rows(r, SIZE_MAX, &next, err, errlen);
	if (rc != RK_OK)
		return rc;
	int64_t upto = webhook_delivered(r->srv->wh, r->id, r->epoch);
	*trimmed = r->wh_trimmed;
	if (upto > r->wh_trimmed) {
		rc = store_outbox_trim(r->st, upto, err, errlen);
		if (rc != RK_OK)
			return rc;
		*trimmed = upto;
	}
	return RK_OK;
}

static void wh_pres_clear(room *r)
{
	for (size_t i = 0; i < r->wh_npres; i++)
		free(r->wh_pres[i].body);
	r->wh_npres = 0;
}

/* ---- join / leave ----------------------------------------------------- */

static int pick_color(room *r)
{
	for (int i = 0; i < RK_COLORS; i++)
		if (!(r->colors_used & (1u << i)))
			return i;
	return (int)(r->srv->session_seq % RK_COLORS);
}

typedef struct replay_ctx {
	conn *c;
	server *s;
	bool ok;
} replay_ctx;

static bool replay_one(void *arg, const store_event *ev)
{
	replay_ctx *x = arg;
	rk_buf_reset(&x->s->scratch);
	rk_enc_event(&x->s->scratch, ev->seq, ev->ts, ev->session, ev->user, ev->op_id,
		     ev->op, ev->op_len);
	rk_msg *m = scratch_msg(x->s, false);
	if (!m) {
		x->ok = false;
		return false;
	}
	conn_push(x->c, m);
	return true;
}

static bool can_resume(room *r, const char *since_s, const char *epoch, int64_t *since)
{
	if (!since_s || !epoch || strcmp(epoch, r->epoch) != 0)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(since_s, &end, 10);
	if (errno || end == since_s || *end || v < 0 || v > r->committed_seq)
		return false;
	if (r->committed_seq - v > r->srv->cfg.resume_max)
		return false;
	if (v < r->committed_seq) {
		int64_t min = store_min_seq(r->st);
		if (min == 0 || min > v + 1)
			return false;
	}
	*since = v;
	return true;
}

static void send_welcome(room *r, conn *c, bool resumed)
{
	server *s = r->srv;
	size_t npeers = 0, cap = r->nconns + 1;
	for (ghost *g = r->ghosts; g; g = g->next)
		cap++;
	rk_peer *peers = calloc(cap, sizeof(*peers));
	if (peers) {
		for (conn *o = r->conns; o; o = o->rnext)
			if (o != c && o->joined)
				conn_peer(o, &peers[npeers++]);
		/* Peers in their grace period are still present for everyone. */
		for (ghost *g = r->ghosts; g; g = g->next)
			peers[npeers++] = g->peer;
	}
	rk_welcome w = {0};
	snprintf(w.room, sizeof(w.room), "%s", r->id);
	snprintf(w.session, sizeof(w.session), "%s", conn_session(c));
	snprintf(w.user, sizeof(w.user), "%s", conn_user(c));
	w.role = c->role;
	w.seq = r->committed_seq;
	snprintf(w.epoch, sizeof(w.epoch), "%s", r->epoch);
	w.resumed = resumed;
	w.peers = peers;
	w.npeers = npeers;
	w.max_frame = (int64_t)s->cfg.max_frame;
	w.ops_per_sec = s->cfg.ops_per_sec;
	rk_buf_reset(&s->scratch);
	rk_enc_welcome(&s->scratch, &w, resumed ? NULL : r->state);
	free(peers);
	rk_msg *m = scratch_msg(s, false);
	if (!m) {
		conn_close(c, CLOSE_INTERNAL, "out of memory");
		return;
	}
	conn_push(c, m);
}

static bool room_flush(room *r, bool defer_ok);

/* Commit r's pending batch now, out of turn: r leaves the dirty list. */
static void commit_now(room *r)
{
	if (!r->dirty)
		return;
	for (room **pp = &r->srv->dirty; *pp; pp = &(*pp)->dirty_next) {
		if (*pp == r) {
			*pp = r->dirty_next;
			break;
		}
	}
	r->dirty_next = NULL;
	r->dirty = false;
	(void)room_flush(r, false); /* never defers without defer_ok */
}

/* Join c to r, which is loaded. */
static void join_loaded(room *r, conn *c, const char *since_s, const char *epoch)
{
	server *s = r->srv;
	/* Welcome carries the committed state: commit what r has pending
	 * first. Only r's batch: the welcome shows nothing of other rooms, and
	 * their batches wait for the end of the turn as usual. */
	commit_now(r);
	if (!r->loaded) { /* the commit failed and unloaded the room */
		conn_close(c, CLOSE_INTERNAL, "room unavailable");
		return;
	}

	/* A reconnect within the grace period keeps session and color. */
	bool takeover = false;
	if (conn_client(c)[0]) {
		for (ghost **gp = &r->ghosts; *gp; gp = &(*gp)->next) {
			ghost *g = *gp;
			if (strcmp(g->client, conn_client(c)) == 0 &&
			    strcmp(g->peer.user, conn_user(c)) == 0) {
				if (!conn_set_session(c, g->peer.session)) {
					conn_close(c, CLOSE_INTERNAL, "out of memory");
					return;
				}
				c->color = (uint8_t)g->peer.color;
				*gp = g->next;
				r->nghosts--;
				free(g);
				takeover = true;
				break;
			}
		}
	}
	if (!takeover)
		c->color = (uint8_t)pick_color(r);
	r->colors_used |= (uint8_t)(1u << c->color);

	int64_t since = 0;
	bool resumed = can_resume(r, since_s, epoch, &since);
	send_welcome(r, c, resumed);
	if (resumed && since < r->committed_seq) {
		replay_ctx x = {.c = c, .s = s, .ok = true};
		if (store_events(r->st, since, r->committed_seq, replay_one, &x) !=
			RK_OK ||
		    !x.ok) {
			conn_close(c, CLOSE_INTERNAL, "resume failed");
			return;
		}
	}
	c->rnext = r->conns;
	c->rprev = NULL;
	if (r->conns)
		r->conns->rprev = c;
	r->conns = c;
	r->nconns++;
	c->joined = true;
	c->room = r;
	/* The connection's one info line (the others are debug). */
	rk_log_limited(&r->srv->loglim, RK_LOG_INFO, rk_mono_us(),
		       "conn %s from %s joined room %s as %s (%s)%s%s", conn_session(c),
		       conn_ip(c), r->id, conn_user(c), rk_role_name(c->role),
		       resumed ? ", resumed" : "",
		       takeover ? ", reconnected within grace" : "");
	if (!takeover) {
		presence_join(r, c);
		wh_presence(r, true, conn_session(c), conn_user(c));
	}
}

void room_join(room *r, conn *c, const char *since_s, const char *epoch)
{
	/* A resume reads the log: a dozing room reopens its file first. */
	if (r->loaded && !r->st && !r->fileless && since_s && !room_wake(r)) {
		conn_close(c, CLOSE_INTERNAL, "room unavailable");
		return;
	}
	if (r->loaded && !room_must_wait(r)) {
		join_loaded(r, c, since_s, epoch);
		return;
	}
	/* Opening (maybe creating) the file and replaying the log is blocking
	 * I/O: it runs on the loader thread and c waits for its welcome. With
	 * --fsync a loaded room's join waits the same way for the sync of what
	 * is committed (room_run_queue runs it). */
	lq_item *it = calloc(1, sizeof(*it));
	if (it && ((since_s && !(it->since = strdup(since_s))) ||
		   (epoch && !(it->epoch = strdup(epoch))))) {
		lq_free(it);
		it = NULL;
	}
	if (!it || (!r->loaded && !room_start_load(r))) {
		if (it)
			lq_free(it);
		rk_error(
		    "room %s refused: cannot start its load (out of memory or stopping)",
		    r->id);
		conn_close(c, CLOSE_INTERNAL, "room unavailable");
		return;
	}
	it->kind = LQ_JOIN;
	it->c = c;
	if (!lq_push(r, it)) {
		lq_free(it);
		rk_error("room %s refused: %u items wait for its load", r->id, r->nlq);
		conn_close(c, CLOSE_INTERNAL, "room unavailable");
		return;
	}
	c->room = r; /* not joined: room_leave drops what it queued */
}

void room_leave(room *r, conn *c)
{
	server *s = r->srv;
	/* The sender of pending ops is gone: its acks go nowhere. */
	for (size_t i = 0; i < r->npend; i++)
		if (r->pend[i].sender == c)
			r->pend[i].sender = NULL;
	for (size_t i = r->nd_head; i < r->nd_len; i++)
		if (r->nd[i].sender == c)
			r->nd[i].sender = NULL;
	if (c->joined) {
		if (c->rprev)
			c->rprev->rnext = c->rnext;
		else
			r->conns = c->rnext;
		if (c->rnext)
			c->rnext->rprev = c->rprev;
		r->nconns--;
		c->joined = false;
		/* Ghosts are capped like members: past the cap a drop is a
		 * leave at once. */
		bool graced = conn_client(c)[0] && !c->clean_close &&
			      s->cfg.grace_ms > 0 && !s->draining &&
			      r->nghosts < (uint32_t)s->cfg.max_room_conns;
		ghost *g = graced ? calloc(1, sizeof(*g)) : NULL;
		if (g) {
			snprintf(g->client, sizeof(g->client), "%s", conn_client(c));
			conn_peer(c, &g->peer);
			g->expires_us = rk_mono_us() + (int64_t)s->cfg.grace_ms * 1000;
			g->next = r->ghosts;
			r->ghosts = g;
			r->nghosts++;
		} else {
			r->colors_used &= (uint8_t) ~(1u << c->color);
			presence_leave(r, conn_session(c));
			wh_presence(r, false, conn_session(c), conn_user(c));
		}
	}
	lq_drop_conn(r, c);
	c->room = NULL;
	/* While loading, the worker relies on the lock the room holds. */
	if (!r->conns && !r->ghosts && !r->loaded && !r->loading && r->lock_fd >= 0) {
		store_unlock(r->lock_fd);
		r->lock_fd = -1;
	}
}

/* ---- ops -------------------------------------------------------------- */

static void room_mark_dirty(room *r)
{
	if (r->loaded && !r->st)
		(void)room_wake(r); /* else its flush fails the batch */
	if (!r->dirty) {
		r->dirty = true;
		r->dirty_next = r->srv->dirty;
		r->srv->dirty = r;
	}
}

static pending *pend_add(room *r)
{
	if (r->npend == r->cappend) {
		size_t ncap = r->cappend ? r->cappend * 2 : 16;
		if (ncap > ROOM_PEND_MAX)
			return NULL;
		pending *p = realloc(r->pend, ncap * sizeof(*p));
		if (!p)
			return NULL;
		r->pend = p;
		r->cappend = ncap;
	}
	pending *p = &r->pend[r->npend++];
	memset(p, 0, sizeof(*p));
	room_mark_dirty(r);
	return p;
}

/* One more entry at the tail of r's not-yet-durable FIFO (zeroed). */
static pending *nd_push(room *r)
{
	if (r->nd_len == r->nd_cap) {
		if (r->nd_head) { /* reuse the released front first */
			memmove(r->nd, r->nd + r->nd_head, nd_count(r) * sizeof(*r->nd));
			r->nd_len -= r->nd_head;
			r->nd_head = 0;
		} else {
			size_t ncap = r->nd_cap ? r->nd_cap * 2 : 16;
			if (ncap > ROOM_ND_MAX)
				return NULL;
			pending *p = realloc(r->nd, ncap * sizeof(*p));
			if (!p)
				return NULL;
			r->nd = p;
			r->nd_cap = ncap;
		}
	}
	pending *p = &r->nd[r->nd_len++];
	memset(p, 0, sizeof(*p));
	return p;
}

/*
 * Apply op as (session, user, role) and queue the event for commit. Returns
 * RK_REJ_NONE or the reject code with msg filled. The server's own ops (the
 * poll alarm) come through here with c == NULL.
 */
static rk_reject room_apply(room *r, conn *c, const char *id, rk_op *op,
			    const char *session, const char *user, rk_role role,
			    char *msg, size_t msglen)
{
	server *s = r->srv;
	int64_t ts = rk_wall_ms();
	if (ts < r->last_ts)
		ts = r->last_ts; /* ts never goes backwards within a room */
	rk_actor actor = {
	    .user = user, .role = role, .seq = r->seq + 1, .ts = ts, .id = id};
	rk_reject rej = rk_state_apply(r->state, op, &actor, msg, msglen);
	if (rej != RK_REJ_NONE)
		return rej;

	/* Encode the op once; the event embeds it and the log stores it. */
	rk_buf_reset(&s->scratch);
	rk_buf *op_json = &s->op_scratch; /* reused: no allocation per op */
	rk_buf_reset(op_json);
	rk_op_encode(op, op_json);
	rk_enc_event(&s->scratch, actor.seq, ts, session, user, id,
		     op_json->data ? op_json->data : "{}", op_json->len);
	rk_msg *ev = rk_buf_ok(op_json) == RK_OK ? scratch_msg(s, false) : NULL;
	pending *p = ev ? pend_add(r) : NULL;
	if (!p) {
		/* The state moved but the event cannot be queued: the state is
		 * ahead of what will be logged, so drop it and reload later. */
		msg_unref(ev);
		rk_error("room %s: out of memory queueing seq %lld; unloading", r->id,
			 (long long)actor.seq);
		for (conn *o = r->conns; o; o = o->rnext)
			conn_close(o, CLOSE_INTERNAL, "server out of memory");
		if (!r->dirty)
			room_unload(r);
		snprintf(msg, msglen, "out of memory");
		return RK_REJ_INVALID;
	}
	/* Find the op inside the event: it is the payload's tail "...,\"op\":<op>}" */
	p->op_len = op_json->len;
	p->op_off = ev->len - 1 - op_json->len;
	p->seq = actor.seq;
	p->ts = ts;
	p->sender = c;
	p->event = ev;
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->session, sizeof(p->session), "%s", session);
	snprintf(p->user, sizeof(p->user), "%s", user);
	if (op->k == RK_OP_POLL_CREATE && op->closes_at > 0) {
		snprintf(p->alarm_poll, sizeof(p->alarm_poll), "%s", op->id);
		p->alarm_at = op->closes_at;
	} else if (op->k == RK_OP_POLL_CLOSE) {
		snprintf(p->alarm_poll, sizeof(p->alarm_poll), "%s", op->id);
		p->alarm_at = -1;
	}
	/* Remember the id for idempotent ops (the server's own ops are never
	 * resent). Without memory the op still commits: only a resend of it
	 * would then commit again. */
	if (strcmp(session, "server") != 0 &&
	    opids_add(r->ids, user, id, actor.seq, ts) != RK_OK)
		rk_warn("room %s: out of memory remembering op id of seq %lld", r->id,
			(long long)actor.seq);
	r->seq = actor.seq;
	r->last_ts = ts;
	r->last_active_ms = ts;
	r->last_op_us = rk_mono_us();
	return RK_REJ_NONE;
}

/* Apply an op from c to r, which is loaded. An op id that c's user already
 * committed is acked again with that seq and dup (PROTOCOL.md section 3);
 * the ack goes through room_reply, so it leaves only once that seq is
 * committed (and durable with --fsync) even if it is still in this batch. */
static void submit_loaded(room *r, conn *c, rk_cmsg *m)
{
	server *s = r->srv;
	int64_t dup = opids_find(r->ids, conn_user(c), m->id);
	if (dup) {
		s->m.ops_duplicate++;
		rk_buf_reset(&s->scratch);
		rk_enc_ack(&s->scratch, m->id, dup, true);
		room_reply(r, c, scratch_msg(s, false));
		return;
	}
	char msg[RK_MSG_MSG_MAX + 1];
	rk_reject rej = room_apply(r, c, m->id, &m->op, conn_session(c), conn_user(c),
				   c->role, msg, sizeof(msg));
	if (rej == RK_REJ_NONE)
		return;
	s->m.rejects[rej]++;
	rk_buf_reset(&s->scratch);
	rk_enc_reject(&s->scratch, m->id, rej, msg);
	room_reply(r, c, scratch_msg(s, false));
}

void room_submit(room *r, conn *c, rk_cmsg *m)
{
	if (c->role == RK_ROLE_VIEWER) {
		server *s = r->srv;
		rk_buf_reset(&s->scratch);
		rk_enc_reject(&s->scratch, m->id, RK_REJ_FORBIDDEN,
			      "viewers cannot send ops");
		room_reply(r, c, scratch_msg(s, false));
		return;
	}
	if (r->loaded && !r->lq_head) {
		submit_loaded(r, c, m);
		return;
	}
	/* Waking a hibernated room (or, with --fsync, behind a join waiting for
	 * a sync): the op waits, behind the ops that came before it (seq order
	 * is arrival order). It takes m. */
	lq_item *it = calloc(1, sizeof(*it));
	if (!it || (!r->loaded && !room_start_load(r))) {
		free(it);
		rk_error(
		    "room %s refused: cannot start its load (out of memory or stopping)",
		    r->id);
		conn_close(c, CLOSE_INTERNAL, "room unavailable");
		return;
	}
	it->kind = LQ_OP;
	it->c = c;
	it->m = *m;
	if (!lq_push(r, it)) {
		it->m = (rk_cmsg){0}; /* m stays the caller's */
		lq_free(it);
		rk_error("room %s refused: %u items wait for its load", r->id, r->nlq);
		conn_close(c, CLOSE_INTERNAL, "room unavailable");
		return;
	}
	memset(m, 0, sizeof(*m)); /* the caller's rk_cmsg_free is a no-op now */
}

void room_reply(room *r, conn *c, rk_msg *m)
{
	if (!m)
		return;
	if (r && r->lq_head) {
		/* Ops (or c's join) wait for the load: the reply goes behind them. */
		lq_item *it = calloc(1, sizeof(*it));
		if (!it) {
			conn_push(c, m);
			return;
		}
		it->kind = LQ_REPLY;
		it->c = c;
		it->reply = m;
		if (!lq_push(r, it)) {
			it->reply = NULL;
			lq_free(it);
			conn_push(c, m);
		}
		return;
	}
	/* npend without dirty: the batch waits for its handle (a dozing room's
	 * reopen, a new room's file), and the reply waits behind it. */
	if (!r || (!r->dirty && !r->npend && !nd_count(r))) {
		conn_push(c, m);
		return;
	}
	if (!r->dirty && !r->npend) {
		/* --fsync: behind the committed acks still waiting for their sync. */
		pending *q = nd_push(r);
		if (!q) {
			conn_push(c, m);
			return;
		}
		q->sender = c;
		q->reply = m;
		q->gate_seq = r->seq;
		return;
	}
	/* Keep the reply behind this conn's earlier, still uncommitted acks. */
	pending *p = pend_add(r);
	if (!p) {
		conn_push(c, m);
		return;
	}
	p->sender = c;
	p->reply = m;
}

/* ---- load completion ------------------------------------------------- */

/* Run what waits in r's queue, in arrival order: after a load, or (--fsync)
 * once the sync r's waiting join needs is done. With --fsync it stops at a
 * join while r has uncommitted or not yet durable ops (applied by the items
 * before it): the end of this loop turn commits them, and their sync's
 * completion runs the rest. */
static void room_run_queue(room *r)
{
	lq_item *q = r->lq_head;
	uint32_t nq = r->nlq;
	r->lq_head = r->lq_tail = NULL;
	r->nwaiting = 0;
	r->nlq = 0;
	/* The items run with the queue detached, so a reply they produce is
	 * not queued behind the items that follow them. */
	while (q) {
		lq_item *it = q;
		conn *c = it->c;
		if (r->loaded && it->kind == LQ_JOIN && gated_later(r->srv) &&
		    (r->dirty || nd_count(r))) {
			/* Put the rest back, in front of anything queued meanwhile. */
			lq_item *tail = q;
			uint32_t joins = 0;
			for (lq_item *x = q; x; x = x->next) {
				joins += x->kind == LQ_JOIN;
				tail = x;
			}
			tail->next = r->lq_head;
			if (!r->lq_head)
				r->lq_tail = tail;
			r->lq_head = q;
			r->nwaiting += joins;
			r->nlq += nq;
			return;
		}
		q = it->next;
		nq--;
		if (it->kind == LQ_JOIN)
			c->room = NULL; /* join_loaded sets it once c is a member */
		if (!r->loaded) {
			/* The load failed, or a commit while draining the queue
			 * dropped the room: as a synchronous load failure did. */
			if (it->kind != LQ_REPLY && r->moving)
				conn_close(c, CLOSE_RETRY, "room moving between nodes");
			else if (it->kind != LQ_REPLY)
				conn_close(c, CLOSE_INTERNAL, "room unavailable");
			lq_free(it);
			continue;
		}
		switch (it->kind) {
		case LQ_JOIN:
			join_loaded(r, c, it->since, it->epoch);
			break;
		case LQ_OP:
			submit_loaded(r, c, &it->m);
			break;
		case LQ_REPLY:
			room_reply(r, c, it->reply);
			it->reply = NULL;
			break;
		}
		lq_free(it);
	}
}

/* ---- deletion --------------------------------------------------------- */

static void pend_drop(pending *p, size_t n);
static void nd_drop(room *r);
static void room_fail_batch(room *r, const char *err);

/* Close c with 4404 and forget that it was in (or waiting for) a room. */
static void close_deleted(conn *c)
{
	c->room = NULL;
	c->joined = false;
	c->rnext = c->rprev = NULL;
	conn_close(c, CLOSE_DELETED, "room deleted");
}

int room_delete(room *r, char *epoch, uint32_t *closed)
{
	server *s = r->srv;
	*closed = 0;
	if (!s->loader || r->loading || r->dirty)
		return 503; /* the loader stopped meanwhile (shutdown) */
	if (loader_submit_delete(s->loader, r->id, r->path, r->lock_fd) != RK_OK)
		return 503;
	r->lock_fd = -1; /* the job closes it once the files are gone */
	r->deleting = true;
	snprintf(epoch, RK_EPOCH_MAX + 1, "%s", r->epoch);
	for (conn *c = r->conns, *next; c; c = next) {
		next = c->rnext;
		close_deleted(c);
		(*closed)++;
	}
	r->conns = NULL;
	r->nconns = 0;
	while (r->lq_head) {
		lq_item *it = r->lq_head;
		r->lq_head = it->next;
		if (it->c->room == r) {
			close_deleted(it->c);
			(*closed)++;
		}
		lq_free(it);
	}
	r->lq_tail = NULL;
	r->nwaiting = 0;
	r->nlq = 0;
	while (r->ghosts) {
		ghost *g = r->ghosts;
		r->ghosts = g->next;
		free(g);
	}
	r->nghosts = 0;
	pend_drop(r->pend, r->npend);
	r->npend = 0;
	nd_drop(r);
	lws_sul_cancel(&r->cursor_sul);
	r->cursor_armed = false;
	alarm_drop_room(&s->alarms, r->id);
	rk_state_free(r->state);
	r->state = NULL;
	opids_free(r->ids); /* a new room of this name shares no op id with it */
	r->ids = NULL;
	store_close(r->st);
	r->st = NULL;
	r->loaded = false;
	/* What a new room of this name starts from. */
	r->seq = r->committed_seq = r->snap_seq = 0;
	r->last_ts = r->last_active_ms = 0;
	r->epoch[0] = '\0';
	r->fileless = false;
	r->colors_used = 0;
	s->m.rooms_deleted++;
	rk_info("room %s deleted (epoch %s): %u connections closed with 4404", r->id,
		epoch, *closed);
	return 0;
}

bool room_deleted(room *r, const load_result *res)
{
	server *s = r->srv;
	if (!r->deleting)
		return false; /* cannot happen: one deletion per room at a time */
	r->deleting = false;
	if (res->rc != RK_OK) {
		s->m.room_delete_failures++;
		rk_error("room %s: removing its files failed: %s", r->id, res->err);
	} else {
		rk_info("room %s: files removed in %lld us", r->id,
			(long long)res->took_us);
	}
	/* Nobody came back meanwhile: the room is forgotten. A join that did
	 * waits for the load queued behind the removal (a new room). */
	return !r->loading && !r->loaded && !r->conns && !r->lq_head && !r->ghosts &&
	       r->lock_fd < 0;
}

/* The loader finished r's load: install what room_load would have, then
 * run what waited for it, in arrival order, before anything else. */
void room_loaded(room *r, load_result *res)
{
	server *s = r->srv;
	if (!r->loading)
		return; /* cannot happen: one job per loading room */
	r->loading = false;
	if (res->kind == LOADER_REOPEN || res->kind == LOADER_CREATE) {
		if (res->rc == RK_OK && r->loaded && !r->st) {
			r->st = res->st;
			res->st = NULL;
			if (res->kind == LOADER_CREATE) {
				r->lock_fd = res->lock_fd;
				res->lock_fd = -1;
				r->fileless = false;
				s->m.room_files_created++;
			} else {
				s->m.room_wakes++;
			}
			if (r->npend || r->wh_npres)
				room_mark_dirty(r); /* the batch waited for it */
		} else if (res->rc != RK_OK && r->loaded) {
			room_fail_batch(r, res->err);
		}
		/* Unloaded meanwhile (out of memory): what waits needs a load. */
		if (!r->loaded && r->lq_head && room_start_load(r))
			return;
		room_run_queue(r);
		return;
	}
	if (res->rc == RK_OK && res->fresh) {
		r->state = res->state;
		res->state = NULL;
		r->ids = res->ids;
		res->ids = NULL;
		room_set_fresh(r, &res->meta);
	} else if (res->rc == RK_OK) {
		if (res->lock_fd >= 0) {
			r->lock_fd = res->lock_fd;
			res->lock_fd = -1;
		}
		r->st = res->st;
		res->st = NULL;
		r->state = res->state;
		res->state = NULL;
		r->ids = res->ids;
		res->ids = NULL;
		r->seq = r->committed_seq = res->seq;
		r->snap_seq = res->snap_seq;
		snprintf(r->epoch, sizeof(r->epoch), "%s", store_epoch(r->st));
		r->fileless = false;
		r->loaded = true;
		r->token = res->token;
		for (size_t i = 0; i < res->nalarms; i++)
			(void)alarm_add(&s->alarms, r->id, res->alarms[i].poll,
					res->alarms[i].at);
		if (res->taken_over) {
			s->m.cluster_takeovers++;
			rk_info("room %s taken over (its node's lease expired): seq "
				"%lld, token %lld",
				r->id, (long long)res->seq, (long long)res->token);
		}
		r->last_op_us = rk_mono_us();
		if (!r->last_active_ms)
			r->last_active_ms = store_created_ms(r->st);
		s->m.room_loads++;
		rk_info(
		    "room %s loaded: seq %lld (snapshot %lld) in %lld us (loader thread)",
		    r->id, (long long)r->seq, (long long)r->snap_seq,
		    (long long)res->took_us);
	} else if (res->moving) {
		/* Clients retry until the owner lets go: one line per retry
		 * would flood the log. */
		rk_log_limited(&s->loglim, RK_LOG_INFO, rk_mono_us(),
			       "room %s: %s; its joins are told to try again (1013)",
			       r->id, res->err);
	} else {
		rk_error("room %s refused: %s", r->id, res->err);
	}
	r->moving = res->moving;
	if (r->loaded && r->wh_npres)
		room_mark_dirty(r); /* presence webhooks waited for the load */
	room_run_queue(r);
}

/* ---- flush: commit, then open the output gate ------------------------- */

static void pend_drop(pending *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* An HTTP sender waits for this answer: it is refused (httpop.h). */
		if (p[i].sender && p[i].sender->sink)
			conn_close(p[i].sender, CLOSE_INTERNAL, "storage error");
		msg_unref(p[i].event);
		msg_unref(p[i].reply);
	}
}

/* Drop what waits for a sync (the room is failing: its conns are closed). */
static void nd_drop(room *r)
{
	pend_drop(r->nd + r->nd_head, nd_count(r));
	r->nd_head = r->nd_len = 0;
}

/* The one way a loaded room gives up what it has not made durable (a
 * failed commit or sync, or cluster mode: the room is another node's now):
 * its pending batch and its entries waiting for a sync are dropped, never
 * acknowledged (clients resend them: ops are idempotent by id), its members
 * are closed with code, its state goes, and what waits in its queue is
 * refused (1013 if r->moving, else 1011). Clients resume from the last
 * durable seq when they reconnect. The caller logs why. */
static void room_drop_unacked(room *r, roomd_close code, const char *reason)
{
	pend_drop(r->pend, r->npend);
	r->npend = 0; /* a dirty room's flush then finds nothing */
	nd_drop(r);
	for (conn *c = r->conns; c; c = c->rnext)
		conn_close(c, code, reason);
	r->seq = r->committed_seq;
	if (r->loaded)
		room_unload(r);
	room_run_queue(r); /* not loaded: what waits is refused */
}

static void room_fail_batch(room *r, const char *err)
{
	rk_error("room %s: commit failed, %zu ops not acknowledged: %s", r->id, r->npend,
		 err);
	room_drop_unacked(r, CLOSE_INTERNAL, "storage error");
}

/* The output gate opens for one durable entry (events in seq order). */
static void gate_open(room *r, pending *p)
{
	server *s = r->srv;
	if (p->event) {
		s->m.ops_committed++;
		if (p->alarm_at > 0)
			alarm_add(&s->alarms, r->id, p->alarm_poll, p->alarm_at);
		fanout(r, p->event, p->sender, true);
		if (p->sender) {
			rk_buf_reset(&s->scratch);
			rk_enc_ack(&s->scratch, p->id, p->seq, false);
			rk_msg *ack = scratch_msg(s, false);
			if (ack)
				conn_push(p->sender, ack);
		}
	} else if (p->reply) {
		if (p->sender)
			conn_push(p->sender, p->reply);
		else
			msg_unref(p->reply);
	}
}

/* --fsync: the committed batch joins the not-yet-durable FIFO (its output
 * leaves when the syncer reports its seq durable); false if out of memory. */
static bool nd_take_batch(room *r)
{
	for (size_t i = 0; i < r->npend; i++)
		r->pend[i].gate_seq = r->seq;
	if (!nd_count(r)) {
		/* The usual case: swap the arrays, nothing is copied. */
		pending *nd = r->nd;
		size_t cap = r->nd_cap;
		r->nd = r->pend;
		r->nd_cap = r->cappend;
		r->nd_head = 0;
		r->nd_len = r->npend;
		r->pend = nd;
		r->cappend = cap;
		r->npend = 0;
		return true;
	}
	for (size_t i = 0; i < r->npend; i++) {
		pending *q = nd_push(r);
		if (!q) {
			/* What was moved already is in the FIFO; the rest dies here. */
			pend_drop(r->pend + i, r->npend - i);
			r->npend = 0;
			return false;
		}
		*q = r->pend[i];
	}
	r->npend = 0;
	return true;
}

/* --fsync: r could not be made durable (fdatasync failed, or out of memory
 * queueing it): like a failed commit, its unacknowledged ops are not
 * acknowledged, its conns are closed and its state is dropped. */
static void room_fail_sync(room *r, const char *why)
{
	rk_error("room %s: %s; %zu committed entries not made durable, %zu pending "
		 "dropped, closing its connections",
		 r->id, why, nd_count(r), r->npend);
	room_drop_unacked(r, CLOSE_INTERNAL, "storage error");
}

/* Stop (on false) or resume reading r's members' sockets. */
static void room_rx(room *r, bool on)
{
	if (r->rx_paused == !on)
		return;
	r->rx_paused = !on;
	for (conn *c = r->conns; c; c = c->rnext)
		lws_rx_flow_control(c->wsi, (on ? LWS_RXFLOW_REASON_APPLIES_ENABLE
						: LWS_RXFLOW_REASON_APPLIES_DISABLE) |
						LWS_RXFLOW_REASON_FLAG_PROCESS_NOW |
						(1 << 1));
}

/* Commit r's batch and open its output gate (or hand it to the syncer).
 * Returns false, doing nothing, when the batch should wait (only with
 * defer_ok: see room_flush_dirty). */
static bool room_flush(room *r, bool defer_ok)
{
	server *s = r->srv;
	char err[256];
	if (!r->loaded) { /* failed meanwhile (room_fail_sync) */
		pend_drop(r->pend, r->npend);
		r->npend = 0;
		return true;
	}
	if (!r->st) { /* dozing: the batch waits for the reopen (room_loaded) */
		if (r->loading || room_wake(r))
			return r->st ? room_flush(r, defer_ok) : true;
		room_fail_batch(r, "cannot reopen its file");
		return true;
	}
	/* Back-to-back commits never leave the checkpointer a moment with
	 * nothing new in the WAL, so it never copies all of it and the WAL
	 * grows without bound. While a short catch-up pass runs (at most
	 * CKPT_CATCHUP_FRAMES written during the first pass: a small copy and
	 * an fsync), the batch waits and the members' sockets are not read (so
	 * the output that follows is one turn's worth, not a burst that closes
	 * readers as slow consumers); the commit after the pass restarts the
	 * WAL from the start. A longer catch-up runs without holding anything
	 * (the next pair of passes has less to copy), unless the WAL is past
	 * 2 * CKPT_FRAMES: then any pass holds the room, so the WAL stays below
	 * about that. CKPT_PAUSE_US is a safety valve for a disk that stalls:
	 * past it the room commits and its WAL grows meanwhile. */
	int frames = store_wal_frames(r->st), copied = 0;
	ckpt_phase ph =
	    frames > CKPT_FRAMES ? ckpt_state(s->ckpt, r->path, &copied) : CKPT_IDLE;
	if (!((ph == CKPT_CATCHUP && frames - copied <= CKPT_CATCHUP_FRAMES) ||
	      (ph != CKPT_IDLE && frames > 2 * CKPT_FRAMES))) {
		r->ckpt_wait_us = 0;
	} else if (defer_ok) {
		int64_t now = rk_mono_us();
		if (!r->ckpt_wait_us)
			r->ckpt_wait_us = now;
		if (now - r->ckpt_wait_us < CKPT_PAUSE_US) {
			/* Meanwhile its members' ops stay in their sockets: the
			 * batch, and the burst of output when it commits, stay
			 * one turn's worth. */
			room_rx(r, false);
			return false;
		}
	}
	room_rx(r, true);
	int64_t t0 = rk_mono_us();
	bool have_events = false;
	for (size_t i = 0; i < r->npend && !have_events; i++)
		have_events = r->pend[i].event != NULL;
	bool wh_rows = s->wh && (have_events || r->wh_npres);
	if (have_events || wh_rows) {
		rk_err rc = store_begin(r->st, err, sizeof(err));
		size_t wp = 0; /* presence rows go in between, in order */
		for (size_t i = 0; rc == RK_OK && i < r->npend; i++) {
			pending *p = &r->pend[i];
			if (wh_rows)
				rc = wh_pres_rows(r, i, &wp, err, sizeof(err));
			if (rc != RK_OK || !p->event)
				continue;
			rc =
			    store_append(r->st, p->seq, p->ts, p->session, p->user, p->id,
					 (const char *)msg_payload(p->event) + p->op_off,
					 p->op_len, err, sizeof(err));
			if (rc == RK_OK && p->alarm_at > 0)
				rc = store_set_alarm(r->st, p->alarm_poll, p->alarm_at,
						     err, sizeof(err));
			else if (rc == RK_OK && p->alarm_at < 0)
				rc = store_del_alarm(r->st, p->alarm_poll, err,
						     sizeof(err));
			if (rc == RK_OK && s->wh)
				rc = wh_op_rows(r, p, err, sizeof(err));
		}
		int64_t trimmed = 0;
		if (rc == RK_OK && wh_rows)
			rc = wh_flush_rows(r, wp, &trimmed, err, sizeof(err));
		if (rc == RK_OK && r->seq - r->snap_seq >= s->cfg.snapshot_every)
			rc = write_snapshot(r, err, sizeof(err));
		if (rc == RK_OK)
			rc = store_commit(r->st, err, sizeof(err));
		if (rc != RK_OK) {
			store_rollback(r->st);
			room_fail_batch(r, err);
			return true;
		}
		/* Cluster mode: this only staged the batch in memory; its
		 * commit is the group commit's (roomd_pg_commit_seconds). */
		if (!s->pgc)
			metrics_observe_commit(&s->m, rk_mono_us() - t0);
		if (wh_rows) {
			wh_pres_clear(r);
			r->wh_trimmed = trimmed;
			webhook_notify(s->wh, r->id);
		}
		if (store_wal_frames(r->st) > CKPT_FRAMES)
			ckpt_request(s->ckpt, r->path, false);
	}
	if (gated_later(s) && (have_events || nd_count(r))) {
		/* Committed to the WAL, not durable: the output waits for the
		 * syncer (replies too, behind earlier acks: production order). */
		if (!nd_take_batch(r)) {
			room_fail_sync(r, "out of memory queueing output for its sync");
			return true;
		}
		if (have_events && s->pgc) {
			if (!pg_submit(r))
				room_fail_sync(r, "out of memory queueing its commit");
		} else if (have_events) {
			char wal[1200 + 8];
			snprintf(wal, sizeof(wal), "%s-wal", r->path);
			if (syncer_submit(s->syncer, r->id, wal, r->seq) != RK_OK)
				room_fail_sync(r, "out of memory queueing its sync");
		}
		return true;
	}
	/* Durable: the output gate opens, in seq order. */
	for (size_t i = 0; i < r->npend; i++)
		gate_open(r, &r->pend[i]);
	r->npend = 0;
	r->committed_seq = r->seq;
	if (r->cappend > 1024) { /* a burst is over: give the memory back */
		free(r->pend);
		r->pend = NULL;
		r->cappend = 0;
	}
	return true;
}

void room_synced(room *r, int64_t seq, int err)
{
	if (err) {
		if (!r->loaded)
			return; /* failed already; a reload starts from the file */
		char why[128];
		snprintf(why, sizeof(why),
			 "fdatasync of its WAL up to seq %lld failed: %s", (long long)seq,
			 strerror(err));
		room_fail_sync(r, why);
		return;
	}
	while (nd_count(r) && r->nd[r->nd_head].gate_seq <= seq)
		gate_open(r, &r->nd[r->nd_head++]);
	if (!nd_count(r)) {
		r->nd_head = r->nd_len = 0;
		if (r->nd_cap > 1024) { /* a burst is over: give the memory back */
			free(r->nd);
			r->nd = NULL;
			r->nd_cap = 0;
		}
	}
	/* A stale result (the room failed and was reloaded since) moves nothing. */
	if (r->loaded && seq > r->committed_seq && seq <= r->seq)
		r->committed_seq = seq;
	if (r->lq_head && r->loaded)
		room_run_queue(r);
}

/* ---- cluster mode: ownership ------------------------------------------ */

/* r is not this node's any more (or may not be): what is not acknowledged
 * is dropped (the clients resend it to the new owner: ops are idempotent by
 * id), its members are closed with 1001 so that they reconnect through the
 * router, and its state goes. Joins waiting for it are told to try again. */
static void room_drop_owned(room *r, const char *why)
{
	rk_warn("room %s: %s: %zu ops not acknowledged, closing its %u connections "
		"with 1001",
		r->id, why, nd_count(r) + r->npend, r->nconns);
	r->moving = true; /* its waiting joins: 1013, try again */
	room_drop_unacked(r, CLOSE_SHUTDOWN, "room moved to another node");
}

void room_committed(room *r, int64_t token, int64_t seq, bool fenced)
{
	if (!r->loaded || token != r->token)
		return; /* the room was dropped or loaded again since */
	if (fenced) {
		room_drop_owned(r, "another node holds it now (commit fenced)");
		return;
	}
	room_synced(r, seq, 0);
}

int64_t room_token(const room *r)
{
	return r->loaded ? r->token : 0;
}

void room_lost(room *r, const char *why)
{
	if (!r->loaded)
		return;
	r->srv->m.cluster_lost++;
	room_drop_owned(r, why);
}

void room_handover(room *r, int64_t token)
{
	server *s = r->srv;
	if (r->loading || (r->loaded && r->token != token))
		return; /* loading, or loaded again since: the next beat asks again */
	if (r->loaded) {
		commit_now(r); /* its last batch goes first, then the release */
		if (r->loaded)
			room_drop_owned(r, "handed over to the node that asked for it");
	}
	if (pgcommit_release(s->pgc, r->id, token) != RK_OK)
		rk_error("room %s: out of memory queueing its release", r->id);
	else
		s->m.cluster_handovers++;
}

bool room_flush_dirty(server *s, bool defer_ok)
{
	room *later = NULL;
	while (s->dirty) {
		room *r = s->dirty;
		s->dirty = r->dirty_next;
		r->dirty_next = NULL;
		r->dirty = false;
		if (!room_flush(r, defer_ok)) {
			r->dirty = true;
			r->dirty_next = later;
			later = r;
		}
	}
	s->dirty = later;
	return later != NULL;
}

/* ---- ephemeral: cursor, signal ---------------------------------------- */

static void cursor_flush_cb(lws_sorted_usec_list_t *sul)
{
	room *r = container_of(sul, room, cursor_sul);
	server *s = r->srv;
	r->cursor_armed = false;
	for (conn *c = r->conns; c; c = c->rnext) {
		if (!c->cursor_dirty)
			continue;
		c->cursor_dirty = false;
		rk_buf_reset(&s->scratch);
		rk_enc_cursor(&s->scratch, conn_session(c), c->cx, c->cy);
		fanout(r, scratch_msg(s, true), c, false);
	}
}

void room_cursor(room *r, conn *c, int64_t x, int64_t y)
{
	c->cx = x;
	c->cy = y;
	c->cursor_dirty = true;
	if (!r->cursor_armed) {
		r->cursor_armed = true;
		lws_sul_schedule(r->srv->lws, 0, &r->cursor_sul, cursor_flush_cb,
				 CURSOR_INTERVAL_US);
	}
}

void room_signal(room *r, conn *c, const char *data, size_t len)
{
	rk_buf_reset(&r->srv->scratch);
	rk_enc_signal(&r->srv->scratch, conn_session(c), conn_user(c), data, len);
	fanout(r, scratch_msg(r->srv, false), c, false);
}

/* ---- alarms ---------------------------------------------------------- */

void room_alarm_fire(room *r, const char *poll_id, int64_t at)
{
	server *s = r->srv;
	const rk_poll *p = rk_omap_get(&r->state->polls, poll_id, strlen(poll_id));
	if (!p || p->closed || p->closes_at != at) {
		/* Closed by hand already (its alarm row went with it), or moved. */
		return;
	}
	rk_op op = {.k = RK_OP_POLL_CLOSE, .id = strdup(poll_id)};
	char msg[RK_MSG_MSG_MAX + 1];
	rk_reject rej = op.id ? room_apply(r, NULL, "alarm", &op, "server", "roomd",
					   RK_ROLE_OWNER, msg, sizeof(msg))
			      : RK_REJ_INVALID;
	rk_op_free(&op);
	if (rej != RK_REJ_NONE)
		rk_warn("alarm for poll %s in room %s: %s", poll_id, r->id,
			rk_reject_name(rej));
	else
		s->m.alarms_fired++;
}

/* ---- housekeeping ----------------------------------------------------- */

bool room_tick(room *r, int64_t now, int64_t hib_us)
{
	for (ghost **gp = &r->ghosts; *gp;) {
		ghost *g = *gp;
		if (g->expires_us > now) {
			gp = &g->next;
			continue;
		}
		*gp = g->next;
		r->nghosts--;
		r->colors_used &= (uint8_t) ~(1u << g->peer.color);
		presence_leave(r, g->peer.session);
		wh_presence(r, false, g->peer.session, g->peer.user);
		free(g);
	}
	/* Not while output waits for a sync, nor while joins wait. */
	if (r->loaded && !r->dirty && !nd_count(r) && !r->lq_head && !r->loading &&
	    now - r->last_op_us > hib_us) {
		/* A dozing room's snapshot needs its handle: reopened first. */
		if (!r->st && r->seq > r->snap_seq && room_wake(r) && !r->st)
			return false;
		room_hibernate(r);
		return true;
	}
	if (r->loaded && r->st && !cluster(r->srv) && !r->dirty && !nd_count(r) &&
	    !r->lq_head && !r->loading && now - r->last_op_us > ROOM_DOZE_US) {
		store_close(r->st);
		r->st = NULL;
		r->srv->m.room_dozes++;
		return true; /* its heap goes back to the system (server_tick) */
	}
	if (!r->loaded && !r->loading && !r->conns && !r->ghosts && r->lock_fd >= 0) {
		store_unlock(r->lock_fd);
		r->lock_fd = -1;
	}
	return false;
}

/* ---- description for the HTTP API ------------------------------------- */

void room_describe(room *r, rk_buf *b, bool detail)
{
	rk_buf_puts(b, "{\"room\":");
	rk_buf_put_jstrz(b, r->id);
	rk_buf_printf(b,
		      ",\"connections\":%u,\"seq\":%lld,\"loaded\":%s,"
		      "\"last_active_ms\":%lld",
		      r->nconns, (long long)r->committed_seq,
		      r->loaded ? "true" : "false", (long long)r->last_active_ms);
	if (detail) {
		rk_buf_puts(b, ",\"epoch\":");
		rk_buf_put_jstrz(b, r->epoch);
		rk_buf_puts(b, ",\"peers\":[");
		bool first = true;
		for (conn *c = r->conns; c; c = c->rnext) {
			if (!c->joined)
				continue;
			rk_buf_printf(b, "%s{\"session\":", first ? "" : ",");
			rk_buf_put_jstrz(b, conn_session(c));
			rk_buf_puts(b, ",\"user\":");
			rk_buf_put_jstrz(b, conn_user(c));
			rk_buf_printf(b, ",\"color\":%d,\"role\":\"%s\"}", c->color,
				      rk_role_name(c->role));
			first = false;
		}
		rk_buf_puts(b, "],\"state\":");
		if (r->state)
			rk_state_encode(r->state, b);
		else
			rk_buf_puts(b, "null");
	}
	rk_buf_putc(b, '}');
}

void room_cancel_timers(room *r)
{
	lws_sul_cancel(&r->cursor_sul);
}

void room_free(room *r)
{
	server *s = r->srv;
	pend_drop(r->pend, r->npend);
	free(r->pend);
	nd_drop(r);
	free(r->nd);
	while (r->lq_head) { /* normally emptied as the conns closed */
		lq_item *q = r->lq_head;
		r->lq_head = q->next;
		lq_free(q);
	}
	while (r->ghosts) {
		ghost *g = r->ghosts;
		r->ghosts = g->next;
		free(g);
	}
	wh_pres_clear(r);
	free(r->wh_pres);
	rk_state_free(r->state);
	opids_free(r->ids);
	/* Shutdown: the WAL of a room that was loaded goes into its database
	 * (ckpt_stop runs the queued jobs after this). */
	if ((r->st || r->loaded) && !cluster(s) && !r->fileless)
		ckpt_request(s->ckpt, r->path, true);
	store_close(r->st);
	store_unlock(r->lock_fd);
	free(r->path);
	free(r);
}
