/*
 * pg.h - the PostgreSQL backend of libstore (cluster mode, issue 13): room
 * logs of many roomd nodes in one PostgreSQL database, one writer per room
 * enforced by a fencing token checked inside every commit.
 *
 * SCHEMA (created by store_pg_connect if missing; all names prefixed rk_):
 *   rk_nodes(name PK, beat timestamptz)            node liveness (heartbeat)
 *   rk_rooms(room PK, epoch, created_ms, format,   a room's meta (written once,
 *            owner, token, seq, wanted_by,         as in the SQLite backend),
 *            last_active_ms)                       its owner and fencing token,
 *                                                  its last committed seq
 *   rk_events(room, seq, ts, session, user, op_id, op)   PK (room, seq)
 *   rk_snapshots(room, seq, ts, state)                   PK (room, seq)
 *   rk_alarms(room, poll, at)                            PK (room, poll)
 * Times of liveness are PostgreSQL's now(): nodes' clocks never compare.
 *
 * OWNERSHIP. A node heartbeats (store_pg_heartbeat) every lease/3 or so. A
 * node may acquire a room (store_pg_acquire) when it has no owner, when it
 * owns it already, or when the owner's last beat is older than the lease;
 * acquiring bumps the room's token (the fencing token) in the same
 * statement. Every commit checks, inside its transaction, that the room's
 * token is still the one the handle acquired with: a node that was paused
 * past its lease and lost the room to another node commits nothing more
 * (STORE_PG_FENCED). A live owner is asked to hand a room over
 * (wanted_by, store_pg_handover_wanted) and releases it (store_pg_release)
 * once its pending batches are committed.
 *
 * THREADS AND I/O. A `store_pg` is one libpq connection, blocking, used by
 * one thread at a time (roomd: the loader thread, the committer thread and
 * the heartbeat each have their own). A room handle (`store`, backend "pg")
 * from store_pg_acquire uses the connection it was acquired on for its
 * reads (store_load, store_load_opids, cursors, stats ...) until
 * store_pg_detach; after that it never does I/O:
 *   - store_begin .. store_commit only record the batch in memory (strings
 *     copied) and store_commit moves it to the handle's staged list,
 *     RK_OK, in order; store_pg_take hands the staged batches to the caller
 *     (the committer thread commits them with store_pg_commit_group);
 *   - store_events / store_min_seq / cursors answer from the handle's tail:
 *     the last `tail` events loaded plus every event staged since (older
 *     ones dropped as new ones come), so a resume of up to `tail` events
 *     never goes to the network. store_min_seq is the tail's lowest seq
 *     (0 if empty: no resume from it);
 *   - store_wal_frames is 0; store_settle and the store_file_* calls do
 *     not apply (RK_EIO "not a file backend").
 * DURABILITY: a batch is durable when store_pg_commit_group reports it
 * committed (PostgreSQL's COMMIT returned: durable as PostgreSQL's
 * synchronous_commit makes it). roomd's output gate waits for that, as it
 * waits for fdatasync with --fsync.
 */
#ifndef RK_STORE_PG_H
#define RK_STORE_PG_H

#include "store.h"

typedef struct store_pg store_pg;

/* Longest node name (--node): [A-Za-z0-9._-]{1,63}. */
#define STORE_PG_NODE_MAX 63

/* True if name is a valid node name. Can't fail. */
bool store_pg_node_valid(const char *name);

/*
 * Connect to url (a libpq connection string or postgres:// URL), create
 * the schema if missing (concurrent first connects are safe: one
 * transaction under an advisory lock), set a statement timeout of
 * timeout_ms (0: none). RK_OK and *out (free with store_pg_close), or
 * RK_EIO with libpq's message (one line) in err.
 */
RK_WARN_UNUSED rk_err store_pg_connect(const char *url, int timeout_ms, store_pg **out,
				       char *err, size_t errlen);
/* Close (NULL is fine). Handles acquired on it must be detached first. */
void store_pg_close(store_pg *pg);
/* False once the connection is broken (the caller closes it and connects
 * again). Can't fail. */
bool store_pg_alive(store_pg *pg);
/* A thread's own connection, kept: if *pg is NULL or broken, close it and
 * connect to url again (store_pg_connect). true with *pg alive; false with
 * libpq's message in err and *pg NULL (try again later). */
bool store_pg_ensure(store_pg **pg, const char *url, int timeout_ms, char *err,
		     size_t errlen);

/* The lease store_pg_rooms judges owners by (owner_alive: a beat within
 * it) when the caller does not say (store_pg_set_lease). */
#define STORE_PG_LEASE_MS 10000
/* Set that lease for pg (<= 0: STORE_PG_LEASE_MS). Can't fail. */
void store_pg_set_lease(store_pg *pg, int lease_ms);

/* ---- liveness and ownership --------------------------------------------- */

/* Record that node is alive now (upsert its beat). RK_OK, RK_EIO. */
RK_WARN_UNUSED rk_err store_pg_heartbeat(store_pg *pg, const char *node, char *err,
					 size_t errlen);

/* What store_pg_acquire found. */
typedef enum store_pg_acq {
	STORE_PG_ACQUIRED,   /* *out is a handle holding the room (new token) */
	STORE_PG_OWNED,	     /* a live node (owner) holds it: it was asked to
			      * hand it over (wanted_by = node); try again later */
	STORE_PG_TAKEN_OVER, /* acquired from a node whose lease had expired */
} store_pg_acq;

/*
 * Acquire room (a valid room id) for node: create its meta (random epoch,
 * created_ms now, STORE_FORMAT) if it does not exist, then take ownership
 * as described above, in one transaction. On RK_OK, *acq says what
 * happened; with ACQUIRED / TAKEN_OVER *out is a writable handle (free with
 * store_close) whose reads run on pg until store_pg_detach, keeping the
 * last `tail` events in memory (see above); with OWNED, owner (cap bytes)
 * names the live owner and *out is NULL. The meta is checked as in
 * store_open (a newer format: RK_ECORRUPT, nothing changed). RK_EIO on a
 * database error (nothing changed), RK_ENOMEM.
 */
RK_WARN_UNUSED rk_err store_pg_acquire(store_pg *pg, const char *room, const char *node,
				       int lease_ms, int tail, store_pg_acq *acq,
				       store **out, char *owner, size_t cap, char *err,
				       size_t errlen);
/* The token the handle holds (> 0). Can't fail. */
int64_t store_pg_token(const store *s);
/* From now on s does no I/O (see above). Can't fail. */
void store_pg_detach(store *s);

/* Release rooms node owns whose token is still the given one (a drain, a
 * handover, or a room hibernating is NOT a release: the owner keeps it).
 * Releasing a room another node took over since does nothing. */
RK_WARN_UNUSED rk_err store_pg_release(store_pg *pg, const char *room, const char *node,
				       int64_t token, char *err, size_t errlen);
/* Release every room node owns (a drain at shutdown, after its last
 * commit) and delete its rk_nodes row. RK_OK, RK_EIO. */
RK_WARN_UNUSED rk_err store_pg_leave(store_pg *pg, const char *node, char *err,
				     size_t errlen);
/* Call cb for each room node owns that another node asked for (wanted_by
 * not NULL), with the token it is owned under. RK_OK, RK_EIO. */
RK_WARN_UNUSED rk_err store_pg_handover_wanted(store_pg *pg, const char *node,
					       void (*cb)(void *arg, const char *room,
							  int64_t token),
					       void *arg, char *err, size_t errlen);
/* Call cb for each room node owns, with its token (to find rooms lost
 * while this node was paused: a loaded room whose token differs, or that
 * is missing, belongs to another node now). RK_OK, RK_EIO. */
RK_WARN_UNUSED rk_err store_pg_owned(store_pg *pg, const char *node,
				     void (*cb)(void *arg, const char *room,
						int64_t token),
				     void *arg, char *err, size_t errlen);

/* Call cb for each room with a pending alarm whose owner is none or not
 * alive (lease_ms), earliest alarm first, at most limit rooms: a node
 * acquires and loads them so that their alarms fire (on the owner only).
 * RK_OK, RK_EIO. */
RK_WARN_UNUSED rk_err store_pg_orphan_alarms(store_pg *pg, int lease_ms, int limit,
					     void (*cb)(void *arg, const char *room,
							int64_t at),
					     void *arg, char *err, size_t errlen);

/* ---- the group commit --------------------------------------------------- */

/* A room's staged batches, taken from its handle (store_pg_take), in
 * commit order; opaque. */
typedef struct store_pg_batch store_pg_batch;

/* The staged batches of s (NULL if none), oldest first, as one unit the
 * caller owns (free with store_pg_batch_free after the commit). The handle
 * keeps the token and room it was acquired for; the batch carries them.
 * Can't fail. */
store_pg_batch *store_pg_take(store *s);
/* The room and the last seq a batch commits (0 if it has no events). */
const char *store_pg_batch_room(const store_pg_batch *b);
int64_t store_pg_batch_seq(const store_pg_batch *b);
void store_pg_batch_free(store_pg_batch *b);

/* Outcome of one batch in a group. */
typedef enum store_pg_res {
	STORE_PG_COMMITTED, /* durable */
	STORE_PG_FENCED,    /* the room's token changed: another node owns it;
			     * nothing of this batch was written */
	STORE_PG_FAILED,    /* database error: nothing of it was written, or
			     * (connection lost during COMMIT) maybe all of it;
			     * committing it again is safe (idempotent by token
			     * and seq) */
} store_pg_res;

/*
 * Commit n batches (of any rooms; a room's batches in order) in one
 * transaction and one round trip (libpq pipeline mode): for each, the
 * fencing check (the room's token is the batch's and its seq the batch's
 * first seq - 1, or already its last: a repeat of a commit whose outcome
 * was lost), then its rows. A fenced batch is left out and the rest
 * committed again without it, so one stale room never holds up the others.
 * res[i] receives each outcome. Returns RK_OK when every batch has an
 * outcome of COMMITTED or FENCED; RK_EIO (err says why, res[] all FAILED)
 * when the database failed: the caller commits the same batches again
 * later (on a new connection if !store_pg_alive).
 */
RK_WARN_UNUSED rk_err store_pg_commit_group(store_pg *pg, store_pg_batch **b, size_t n,
					    store_pg_res *res, char *err, size_t errlen);

/* ---- roomctl ------------------------------------------------------------ */

/* Open a room read-only (no ownership, no token): every read of store.h
 * runs on pg; writes are refused. RK_EIO with "no such room" if it does
 * not exist. */
RK_WARN_UNUSED rk_err store_pg_open_ro(store_pg *pg, const char *room, store **out,
				       char *err, size_t errlen);
/* From store_pg_read_begin to store_pg_read_end, every read on pg (of
 * any handle on it) sees one snapshot of the database (a REPEATABLE READ,
 * READ ONLY transaction): roomctl pull copies a live room consistently.
 * RK_OK, RK_EIO. store_pg_read_end can't fail. */
RK_WARN_UNUSED rk_err store_pg_read_begin(store_pg *pg, char *err, size_t errlen);
void store_pg_read_end(store_pg *pg);
/* Every room with its owner ("" if none), whether that owner is alive,
 * its seq and last activity, by room id. RK_OK, RK_EIO. */
typedef struct store_pg_room {
	const char *room, *owner;
	bool owner_alive;
	int64_t seq, last_active_ms, token;
} store_pg_room;
RK_WARN_UNUSED rk_err store_pg_rooms(store_pg *pg,
				     bool (*cb)(void *arg, const store_pg_room *r),
				     void *arg, char *err, size_t errlen);
/* Delete a room's rows (every table) if node owns it with token (roomd's
 * DELETE), or unconditionally with token 0 (tests, roomctl). RK_OK, RK_EIO. */
RK_WARN_UNUSED rk_err store_pg_delete(store_pg *pg, const char *room, const char *node,
				      int64_t token, char *err, size_t errlen);

#endif
