/*
 * server.h - the server: its registries (every room by id, every WebSocket
 * connection), the end-of-turn flush (commit every dirty room, then write
 * out), the completions of the loader and the syncer routed to their room,
 * the poll alarms' firing, deletion, and the once-a-second housekeeping.
 *
 * server.c is the top of roomd's call graph under net.c and main.c: it
 * calls the room actor (room.h), the output side (conn_out.h) and the
 * alarm list (alarm.h); nothing below calls it (the loader, syncer and
 * alarm timer reach it through the callbacks main.c registers).
 */
#ifndef ROOMD_SERVER_H
#define ROOMD_SERVER_H

#include "roomd.h"

/* ---- connections ------------------------------------------------------- */

/* LWS_CALLBACK_ESTABLISHED: c (lws's per-session memory) becomes an open
 * WebSocket of s, in s->conns. Cannot fail. */
void server_conn_open(server *s, conn *c, struct lws *wsi);
/* LWS_CALLBACK_CLOSED: c leaves its room and every list, its queue and
 * buffers are freed; c is CONN_CLOSED. A no-op for a conn that is not an
 * open or closing WebSocket. */
void server_conn_gone(conn *c);

/* ---- rooms ------------------------------------------------------------- */

/* Startup: register every room file in the rooms directory (reading its
 * seq and alarms), finish interrupted removals. 0, or -1 if the directory
 * cannot be read. */
int server_scan_rooms(server *s) RK_WARN_UNUSED;
/* The room id, or NULL if unknown and !create, or (create) if out of
 * memory or id is not a valid room id. */
room *server_room_get(server *s, const char *id, bool create) RK_WARN_UNUSED;
/* Loaded rooms, for /metrics. */
size_t server_rooms_loaded(server *s);
/*
 * DELETE /v1/rooms/<room> (PROTOCOL-NOTES "Deleting a room"): a load in
 * flight completes and pending ops are committed (with --fsync, synced)
 * first; then room_delete. From then on the room does not exist: GET
 * answers 404, and a join waits for the removal and gets a new room (new
 * epoch, seq from 1). Returns 0 (the old epoch copied into epoch,
 * RK_EPOCH_MAX + 1 bytes, and the number of connections closed in
 * *closed), 404 if there is no such room (or it is being deleted), 503 if
 * the loader is stopped or out of memory (nothing changed).
 */
int server_room_delete(server *s, const char *id, char *epoch,
		       uint32_t *closed) RK_WARN_UNUSED;
/*
 * May an admin path (GET /v1/rooms/<room>, DELETE) wait on the loop for r's
 * load and its pending commits? Always with SQLite (local disk, as
 * --fsync's fdatasync). In cluster mode only when that needs no network
 * round trip that could stall the loop: false while PostgreSQL is failing,
 * or while r is not loaded (its load is started, so a retry finds it
 * ready): the caller answers 503 then.
 */
bool server_admin_may_wait(server *s, room *r);
/* The loader's completion callback (arg is the server), on the loop: the
 * room's load (then its alarms that waited fire, or fail) or removal. */
void server_room_loaded(void *arg, load_result *res);
/* The syncer's completion callback (arg is the server), on the loop: seq is
 * durable for room (err == 0) and its gated output leaves, or the room is
 * failed (its conns closed with 1011, the room unloaded). */
void server_room_synced(void *arg, const char *room, int64_t seq, int err);

/* Cluster mode: the group commit's completion callback (pgcommit.h; arg
 * is the server), routed to room_committed. */
void server_room_committed(void *arg, const char *room, int64_t token, int64_t seq,
			   bool fenced);
/* Cluster mode: a heartbeat's report (lease.h; arg is the server): rooms
 * lost (every loaded one if the lease was lost; after a gap, those not
 * owned under their token any more) are dropped with 1001, rooms another
 * node asked for are handed over, orphaned rooms with alarms are loaded. */
void server_lease_report(void *arg, const lease_report *rep);

/* ---- the end of a turn --------------------------------------------------- */

/* Commit every dirty room now (room_flush_dirty without deferral). */
void server_flush(server *s);
/* The end-of-turn flush: as server_flush, except that a room whose WAL is
 * past its checkpoint threshold while its checkpoint runs keeps its batch
 * for a later turn (a 1 ms timer retries, then writes out). */
void server_flush_turn(server *s);
/* Admin paths and shutdown (--fsync): commit, wait for every sync and
 * release its output, until nothing is left to commit. May block. */
void server_flush_durable(server *s);

/* ---- alarms, housekeeping, shutdown ---------------------------------------- */

/* Fire every due alarm (the alarm list's fire callback; at startup before
 * the loop runs, loading rooms inline), commit, re-arm. */
void server_alarms(server *s);
/* Once a second: idle timeouts (4408) and pings, ghosts' expiry,
 * hibernation of idle rooms. */
void server_tick(server *s);
/* Cancel every lws timer of the server and its rooms (before the lws
 * context goes). */
void server_cancel_timers(server *s);
/* Free every room and the alarm list (after the loop stopped). */
void server_free_rooms(server *s);

#endif
