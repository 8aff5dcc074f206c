/*
 * roomd.h - the server's core objects and how they point at each other.
 *
 *   server ──rooms (omap id→room)──> room ──conns (list)──> conn
 *     │                               │ state (libcommon), store (SQLite)
 *     └─ dirty list of rooms with uncommitted ops (flushed once per loop turn)
 *
 * Data flows one way: net.c (lws callbacks) → conn.c (decode, limits) →
 * room.c (apply, pending batch) → flush: store.c (one transaction per room)
 * → output gate opens → msg.c queues the shared encoded event on every
 * recipient → conn.c writes when the socket is writable.
 *
 * Everything runs on one libuv loop (lws on it as a foreign loop, so the
 * kernel's epoll scales with connections) except the checkpointer (ckpt.h),
 * which only ever sees file paths, the room loader (loader.h), which
 * opens and loads a room's file and hands store + state back to the loop,
 * and the syncer (syncer.h, --fsync), which fdatasyncs WALs by path.
 */
#ifndef ROOMD_H
#define ROOMD_H

#include <libwebsockets.h>
#include <uv.h>
#include "ckpt.h"
#include "config.h"
#include "iplimit.h"
#include "loader.h"
#include "metrics.h"
#include "msg.h"
#include "omap.h"
#include "opids.h"
#include "proto.h"
#include "state.h"
#include "store.h"
#include "syncer.h"
#include "webhook.h"

/* Bytes of frames coalesced into one write (conn.c), and the most lws may
 * hand to send()/SSL_write() at once (the protocol's tx_packet_size: left
 * at 0, lws would cut every write to rx_buffer_size bytes and send the rest
 * one such piece per POLLOUT turn, one TLS record each). */
#define WBUF_SIZE (64 * 1024)

typedef struct server server;
typedef struct room room;
typedef struct conn conn;

/* One op applied to the in-memory state but not yet committed; or a reply
 * that must wait behind such ops (output gate). */
typedef struct pending {
	int64_t seq;              /* 0 for a gated reply (reject) */
	int64_t ts;
	conn *sender;             /* NULL if the sender left, or a server op */
	rk_msg *event;            /* framed event for everyone but the sender */
	rk_msg *reply;            /* reject to the sender (seq == 0) */
	size_t op_off, op_len;    /* the op JSON inside event's payload */
	char id[RK_ID_MAX + 1];   /* client op id */
	char session[RK_SESSION_MAX + 1];
	char user[RK_NAME_BYTES + 1];
	char alarm_poll[RK_ID_MAX + 1]; /* poll whose alarm to set / clear */
	int64_t alarm_at;         /* > 0 set, 0 none, -1 clear */
	int64_t gate_seq;         /* --fsync: released once this seq is durable */
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
	/* public, read-only outside room.c */
	char id[RK_ROOM_ID_MAX + 1];
	int64_t seq;              /* last applied (== committed unless dirty) */
	int64_t committed_seq;    /* last durable: welcome, pong, resume, /v1 */
	int64_t last_active_ms;   /* wall time of the last op */
	uint32_t nconns;
	bool loaded;              /* state in memory */
	bool loading;             /* a load is on the loader thread */
	bool deleting;            /* its files' removal is on the loader thread */
	/* private */
	server *srv;
	char path[1200];
	int lock_fd;              /* flock held while the room has conns or state */
	store *st;                /* open while loaded */
	rk_state *state;          /* NULL while hibernated */
	opids *ids;               /* committed op ids; with state, NULL while hibernated */
	char epoch[RK_EPOCH_MAX + 1];
	int64_t snap_seq;         /* seq of the newest snapshot */
	int64_t last_ts;          /* ts of the last op: ts never goes backwards */
	int64_t last_op_us;       /* monotonic, for hibernation */
	int64_t ckpt_wait_us;     /* commits wait for a catch-up since (room.c) */
	conn *conns;              /* doubly linked through conn->rnext/rprev */
	ghost *ghosts;
	/* While loading: joins, ops and gated replies that wait for the state,
	 * in arrival order (room.c); applied before anything else once loaded. */
	struct lq_item *lq_head, *lq_tail;
	uint32_t nwaiting;        /* joins among them (count toward room full) */
	pending *pend;            /* pending batch */
	size_t npend, cappend;
	/* --fsync: committed batches whose WAL frames the syncer has not made
	 * durable yet, in production order (events, acks, gated replies); the
	 * gate opens for nd[nd_head..nd_len) as their gate_seq is synced. */
	pending *nd;
	size_t nd_head, nd_len, nd_cap;
	room *dirty_next;
	bool dirty;
	bool cursor_armed;
	bool rx_paused;           /* members' sockets not read (room.c room_rx) */
	uint8_t colors_used;      /* bitmask of colors of present peers */
	lws_sorted_usec_list_t cursor_sul;
	/* Webhooks (room.c): presence bodies waiting for the next flush to be
	 * written to the outbox, and the outbox id trimmed up to. */
	char **wh_pres;
	size_t wh_npres, wh_cappres;
	int64_t wh_trimmed;
};

struct conn {
	struct lws *wsi;
	server *srv;
	room *room;
	conn *rnext, *rprev;      /* room's list */
	conn *anext, *aprev;      /* server's list of all WebSocket conns */
	msgq q;                   /* outbound messages */
	rk_buf rx;                /* reassembly of fragmented messages */
	rk_peer peer;             /* session, user, color */
	char client[RK_ID_MAX + 1];
	char ip[IPL_ADDR_MAX + 1];  /* peer address (iplimit, logs) */
	rk_role role;
	int64_t last_rx_us;
	int64_t last_ping_us;
	int64_t bucket_us;        /* token bucket: time the bucket was last full-adjusted */
	double tokens;
	int64_t abuse_window_us;  /* start of the current 10 s abuse window */
	uint32_t bad_msgs;        /* malformed messages in the window */
	uint32_t rate_hits;       /* rate-limited ops in the window */
	int close_code;           /* != 0: close with it at the next writable */
	char close_reason[64];
	int64_t cx, cy;           /* latest cursor, pending coalesced relay */
	bool cursor_dirty;
	bool need_ping;
	bool joined;              /* in room->conns and welcomed */
	bool clean_close;         /* peer sent a close frame */
	bool is_ws;
	bool out_listed;          /* in server->out: has output to write this turn */
	conn *out_next;
	/* HTTP response in progress */
	char *http_body;
	size_t http_len, http_off;
	/* POST /v1/rooms/<room>/ops (httpop.h): on an HTTP connection the
	 * request in progress; on an httpop's sender conn its own httpop. */
	struct httpop *hop;
	bool http_sender;         /* this conn is an httpop's sender, no socket */
};

struct server {
	roomd_config cfg;
	struct lws_context *lws;
	struct lws_vhost *vhost;
	metrics m;
	iplimit ipl;              /* per-IP upgrade rate and connections */
	rk_log_limit loglim;      /* per-connection and refusal log lines (log.h) */
	rk_omap rooms;            /* id -> room*, every known room */
	room *dirty;              /* rooms with uncommitted ops */
	conn *conns;              /* all WebSocket connections */
	conn *out;                /* conns with new output this turn (conn.c) */
	uint64_t nconns;
	uint64_t session_seq;
	char session_prefix[8];
	char rooms_dir[1100];
	bool draining;
	bool running;             /* the loop runs: rooms load on the loader thread */
	uv_loop_t loop;           /* the one event loop (lws runs on it) */
	uv_check_t flush_check;   /* end of every loop turn: server_flush */
	uv_signal_t sigterm, sigint;
	uv_timer_t drain_timer;
	ckpt *ckpt;
	loader *loader;           /* NULL once stopped */
	syncer *syncer;           /* --fsync only; NULL once stopped */
	webhook *wh;              /* --webhook-url only */
	rk_buf wh_scratch;        /* one webhook body while it is written */
	rk_buf scratch;           /* encoder scratch, reused */
	rk_buf op_scratch;        /* one op's JSON while its event is built */
	unsigned char *wbuf;      /* LWS_PRE + WBUF_SIZE: coalesced frames (conn.c) */
	lws_sorted_usec_list_t tick_sul;
	lws_sorted_usec_list_t defer_sul; /* wakes the loop for deferred commits */
	bool defer_ok;            /* server_flush_turn: commits may wait */
	lws_sorted_usec_list_t alarm_sul;
	struct alarm {
		int64_t at;
		char room[RK_ROOM_ID_MAX + 1];
		char poll[RK_ID_MAX + 1];
	} *alarms;
	size_t nalarms, capalarms;
};

/* room.c */
int server_scan_rooms(server *s);
room *room_get(server *s, const char *id, bool create);
/* Load r now, on the loop (the admin HTTP path only: it waits for a load in
 * flight first). Everything else loads through the loader thread. */
rk_err room_load(room *r, char *err, size_t errlen);
/*
 * DELETE /v1/rooms/<room> (PROTOCOL-NOTES "Deleting a room"): a load in
 * flight completes and pending ops are committed (with --fsync, synced)
 * first; then every connection of the room, joined or waiting, is closed
 * with 4404, its alarms are dropped, its state and handle freed, and the
 * removal of its files goes to the loader thread (the loop does no file
 * I/O). From then on the room does not exist: GET answers 404, and a join
 * waits for the removal and gets a new room (new epoch, seq from 1).
 * Returns 0 (the old epoch copied into epoch, RK_EPOCH_MAX + 1 bytes, and
 * the number of connections closed in *closed), 404 if there is no such
 * room (or it is being deleted), 503 if the loader is stopped or out of
 * memory (nothing changed).
 */
int room_delete(server *s, const char *id, char *epoch, uint32_t *closed);
/* The loader's completion callback (arg is the server), on the loop. */
void server_room_loaded(void *arg, load_result *res);
/* The syncer's completion callback (arg is the server), on the loop: seq is
 * durable for room (err == 0) and its gated output leaves, or the room is
 * failed (its conns closed with 1011, the room unloaded). */
void server_room_synced(void *arg, const char *room, int64_t seq, int err);
/* Shutdown (--fsync): commit, wait for every sync and release its output,
 * until nothing is left to commit. */
void server_flush_durable(server *s);
/* Join c to r; if r is not loaded, c waits (c->room set, not joined) and is
 * welcomed, or closed with 1011, when the load completes. */
void room_join(room *r, conn *c, const char *since, const char *epoch);
void room_leave(room *r, conn *c);
void room_submit(room *r, conn *c, rk_cmsg *m);
/* Send a reply to c in production order: behind c's uncommitted acks when
 * the room has a pending batch, at once otherwise. Takes the reference. */
void room_reply(room *r, conn *c, rk_msg *m);
void room_cursor(room *r, conn *c, int64_t x, int64_t y);
void room_signal(room *r, conn *c, const char *data, size_t len);
void server_flush(server *s);
/* The end-of-turn flush: as server_flush, except that a room whose WAL is
 * past its checkpoint threshold while its checkpoint runs keeps its batch
 * for a later turn (the WAL can only restart between two commits once the
 * checkpoint has copied everything; see room.c). */
void server_flush_turn(server *s);
void server_tick(server *s);
void server_alarms(server *s);
void server_free_rooms(server *s);
/* Cancel every room's lws timers (before the lws context goes). */
void server_cancel_timers(server *s);
/* Encode the room's /v1 JSON entry (with peers and state when detail). */
void room_describe(room *r, rk_buf *b, bool detail);

/* conn.c */
void conn_init(conn *c, server *s, struct lws *wsi);
void conn_rx(conn *c, const char *in, size_t len);
int conn_writable(conn *c);
void conn_push(conn *c, rk_msg *m);
void conn_close(conn *c, int code, const char *reason);
void conn_destroy(conn *c);
/* End of a loop turn: write what every conn got this turn, directly. */
void server_write_out(server *s);
void conn_send_error(conn *c, rk_errcode code, const char *msg);
void conn_send_reject(conn *c, const char *id, rk_reject code, const char *msg);

/* net.c */
/* With --tls-cert/--tls-key: read both files and check that they are a PEM
 * certificate and the unencrypted PEM key that matches it, so that a bad
 * file is a one-line error at start instead of a failed lws context.
 * Returns 0 (also without TLS), or -1 with the reason in err. */
int net_tls_check(const roomd_config *cfg, char *err, size_t errlen);
int net_start(server *s);
/* Answer the HTTP request on wsi (c its conn) with status and a JSON body
 * (taken, freed when written): headers now, the body as the socket takes
 * it; cors_origin (may be NULL) and retry_after_s (> 0) add those headers.
 * 0, or -1 to close the connection. */
int net_http_json(struct lws *wsi, conn *c, unsigned status, char *body, size_t len,
		  const char *cors_origin, int retry_after_s);
int net_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		 void *in, size_t len);

#endif
