/*
 * room.h - the room actor. Owns a room's state (libcommon state.c), its
 * storage handle (store.h) and flock, its members and ghosts (presence
 * grace), its load queue (what waits while it loads), its pending batch
 * and output gate (acks, events and gated replies leave only once their
 * batch is committed, and with --fsync once it is durable), cursor
 * coalescing, and the webhook rows of its commits.
 *
 * The struct is opaque: other files use these functions. room.c calls
 * down only (conn_out.h, msg.h, store.h, loader.h, syncer.h, ckpt.h,
 * alarm.h, webhook.h), never server.c or the input side; the server's
 * registry (server.h) finds rooms, flushes them at the end of each turn and
 * delivers the loader's and syncer's results to them.
 *
 * Every function runs on the loop thread. "c" is a WebSocket conn, or an
 * httpop's sender (roomd.h conn_sink) for room_submit / room_reply.
 */
#ifndef ROOMD_ROOM_H
#define ROOMD_ROOM_H

#include "roomd.h"

/* Caps of a room's growable arrays (each grows by doubling up to it):
 * past ROOM_PEND_MAX pending entries an op is refused (out of memory,
 * the room is unloaded as on any allocation failure) and a reply is sent
 * ungated; past ROOM_ND_MAX entries waiting for a sync the room fails as
 * on a failed sync; ROOM_LQ_MAX items wait for a load (past it: 1011). */
#define ROOM_PEND_MAX (1u << 20)
#define ROOM_ND_MAX (1u << 22)
#define ROOM_LQ_MAX (1u << 20)

/* ---- life ---------------------------------------------------------- */

/* A new room id (valid) of s, hibernated, unregistered (server.c puts it
 * in s->rooms). NULL if out of memory or the path is too long. */
room *room_new(server *s, const char *id) RK_WARN_UNUSED;
/* Shutdown: drop everything r holds (pending output is not sent), ask for
 * a TRUNCATE checkpoint if it was loaded, release its flock, free r. */
void room_free(room *r);
/* Startup scan: read r's seq, last activity and alarms from its file
 * without loading it (store_peek). RK_OK (info filled, info->alarms the
 * caller's to free), or an error with err (r refused when used). */
rk_err room_peek(room *r, store_info *info, char *err, size_t errlen) RK_WARN_UNUSED;

/* ---- what others may read ---------------------------------------------- */

/* These cannot fail. The id (lives as long as r). */
const char *room_id(const room *r);
/* Its state is in memory. */
bool room_is_loaded(const room *r);
/* A load is on the loader thread. */
bool room_is_loading(const room *r);
/* Its files' removal is on the loader thread: it does not exist for GET. */
bool room_is_deleting(const room *r);
/* What the HTTP API shows (PROTOCOL.md 8: "every room with a file or a
 * connection"): not being deleted, and it has a file, or members or joins
 * (a new room nobody committed to has no file, and once its last member
 * left it does not exist: 404, not listed). */
bool room_exists(const room *r);
/* Members plus joins waiting for the load (--max-room-conns counts both). */
uint32_t room_members(const room *r);
/* Last durable seq (welcome, pong, resume, /v1). */
int64_t room_committed_seq(const room *r);
/* Ops applied but not committed, or committed output waiting for a sync. */
bool room_has_unsynced(const room *r);

/* ---- load --------------------------------------------------------------- */

/* Load r now, on the loop (the admin HTTP path and startup only: it waits
 * for a load in flight first). RK_OK, or the store's error with err; on
 * error nothing changed. Room files only: in cluster mode it refuses
 * (RK_EIO), the loop never waits for PostgreSQL (server_admin_may_wait). */
rk_err room_load(room *r, char *err, size_t errlen) RK_WARN_UNUSED;
/* Hand r to the loader unless it is there already. false if out of memory
 * or the loader is stopped (shutdown); then nothing changed. */
bool room_start_load(room *r) RK_WARN_UNUSED;
/* The loader's result for r's load (res->kind LOADER_LOAD): install the
 * state (r takes res->st, state, ids, lock_fd, setting them NULL / -1) or
 * refuse what waits (1011), then run r's load queue in arrival order. */
void room_loaded(room *r, load_result *res);
/* The loader removed (or failed to) r's files. true: nobody came back
 * meanwhile, the caller unregisters r and frees it with room_free. */
bool room_deleted(room *r, const load_result *res) RK_WARN_UNUSED;

/* ---- cluster mode (--pg) -------------------------------------------------- */

/* The group commit's report for r's batch up to seq under token: durable
 * (room_synced), or fenced (another node holds r: r is dropped, see
 * room_lost). A stale report (another token) does nothing. */
void room_committed(room *r, int64_t token, int64_t seq, bool fenced);
/* The fencing token r is loaded under (0: not loaded). */
int64_t room_token(const room *r);
/* r may be another node's now (this node lost its lease, or r is not among
 * the rooms it owns): what is not acknowledged is dropped, its members are
 * closed with 1001 (they reconnect through the router), its state goes. A
 * room not loaded: nothing. */
void room_lost(room *r, const char *why);
/* Another node asked for r, which this node owns under token: its pending
 * batch is committed, then released (in that order, by the group commit),
 * and its members are closed with 1001. Loading, or loaded under another
 * token: nothing (the next heartbeat asks again). */
void room_handover(room *r, int64_t token);

/* ---- members ---------------------------------------------------------- */

/* Join c to r. If r is loaded (and, with --fsync, nothing waits for a
 * sync) c is welcomed now: r's own pending batch is committed first so
 * the welcome carries the committed state. Else c waits in the load queue
 * (c->room set, not joined) and is welcomed, or closed with 1011, later.
 * Out of memory or the loader stopped: c is closed with 1011. */
void room_join(room *r, conn *c, const char *since, const char *epoch);
/* c leaves (it is going away): out of the members (a ghost for the grace
 * period if it dropped without a close), its queued load-queue items freed,
 * its pending acks sent nowhere. c->room is NULL afterwards. */
void room_leave(room *r, conn *c);

/* ---- input ------------------------------------------------------------ */

/* Submit op message m from c. Ownership of m's contents: the caller
 * always calls rk_cmsg_free(m) afterwards. If the op has to wait (the room
 * loads, or a join ahead waits for a sync) it is moved into the load queue
 * and *m is zeroed, making the caller's free a no-op; on every other path
 * (applied, rejected, refused) m is left as it was. A viewer's op is
 * rejected; a duplicate op id is acked with dup; a refusal to load closes
 * c with 1011. */
void room_submit(room *r, conn *c, rk_cmsg *m);
/* Send reply m to c in production order: behind c's uncommitted acks when
 * r has a pending batch or output waiting for a sync, behind the load queue
 * while r loads, at once otherwise (r NULL: at once). Takes the caller's
 * reference on every path; m NULL (the encode ran out of memory) is a
 * no-op. */
void room_reply(room *r, conn *c, rk_msg *m);
/* c's cursor moved: relayed, coalesced, at most every 30 ms. */
void room_cursor(room *r, conn *c, int64_t x, int64_t y);
/* c's signal (data, len: its encoded JSON value) to every other member now. */
void room_signal(room *r, conn *c, const char *data, size_t len);
/* A poll alarm of r came due: commit poll.close as session "server", user
 * "roomd" unless the poll is gone, closed or moved (then nothing). r must
 * be loaded. Refusals are logged. */
void room_alarm_fire(room *r, const char *poll, int64_t at);

/* ---- commit and output gate ------------------------------------------- */

/* Commit every dirty room of s (the dirty list: s->dirty, linked by
 * room.c as ops arrive) and open their output gates (or hand them to the
 * syncer). With defer_ok, a room whose WAL needs its checkpoint's catch-up
 * keeps its batch (docs/ARCHITECTURE.md "Bounded WAL"). Returns true if a
 * room kept its batch (it stays on the list: the caller retries soon). A
 * failed commit fails only its room (1011, unloaded). */
bool room_flush_dirty(server *s, bool defer_ok) RK_WARN_UNUSED;
/* The syncer made r durable up to seq (err 0: its gated output leaves, in
 * order, and waiting joins run) or failed (err: errno; r fails, 1011). */
void room_synced(room *r, int64_t seq, int err);

/* ---- admin, housekeeping ---------------------------------------------- */

/* DELETE (server.c has waited for r's load and committed and synced its
 * batch): close every member and waiting join with 4404, drop its state,
 * alarms and handle, and hand its files' removal to the loader. 0 (old
 * epoch into epoch, RK_EPOCH_MAX + 1 bytes; *closed counted), or 503 if r
 * still loads or is dirty (the loader stopped meanwhile) or the loader
 * refuses the job (nothing changed). */
int room_delete(room *r, char *epoch, uint32_t *closed) RK_WARN_UNUSED;
/* At every housekeeping tick: expire ghosts (presence leave), hibernate r
 * if idle for hib_us and nothing waits (a dozing room behind its snapshot
 * reopens its handle first and hibernates at a later tick), else close
 * its handle if it had no op for ROOM_DOZE_US (room.c: it dozes), release
 * the flock of an unloaded room nobody uses. Returns true if r hibernated
 * or dozed (memory was freed: the caller may trim the heap). */
bool room_tick(room *r, int64_t now_us, int64_t hib_us);
/* Cancel r's lws timers (before the lws context goes). */
void room_cancel_timers(room *r);
/* Append r's /v1 JSON entry to b (with peers and state when detail). */
void room_describe(room *r, rk_buf *b, bool detail);

#endif
