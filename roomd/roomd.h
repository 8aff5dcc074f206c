/*
 * roomd.h - the server's core objects and how they point at each other.
 * The room is opaque (room.h: only room.c sees its fields); the server and
 * the conn are shared, each field saying which file writes it.
 *
 *   server ──rooms (omap id→room)──> room ──conns (list)──> conn
 *     │                               │ state (libcommon), store (SQLite)
 *     └─ dirty list of rooms with uncommitted ops (flushed once per loop turn)
 *
 * Data flows one way (docs/ARCHITECTURE.md, scripts/roomd-deps.sh checks
 * that no two files call each other): net.c (lws callbacks) → conn_in.c
 * (reassembly, limits, decode) → room.c (apply, pending batch) → at the
 * end of the turn server.c flushes: room.c commits through store.c, its
 * output gate opens → conn_out.c queues the shared encoded message (msg.c)
 * on every recipient and writes it out.
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
#include "alarm.h"
#include "ckpt.h"
#include "config.h"
#include "iplimit.h"
#include "log.h"
#include "loader.h"
#include "metrics.h"
#include "msg.h"
#include "omap.h"
#include "opids.h"
#include "proto.h"
#include "state.h"
#include "store.h"
#include "syncer.h"
#include "pgcommit.h"
#include "lease.h"
#include "webhook.h"

/* Bytes of frames coalesced into one write (conn_out.c), and the most lws may
 * hand to send()/SSL_write() at once (the protocol's tx_packet_size: left
 * at 0, lws would cut every write to rx_buffer_size bytes and send the rest
 * one such piece per POLLOUT turn, one TLS record each). */
#define WBUF_SIZE (64 * 1024)

typedef struct server server;
typedef struct room room;
typedef struct conn conn;

/*
 * A connection's lifecycle (conn.h: conn_set_state is the one setter).
 * Zeroed, a conn is CONN_HTTP: the user data of an HTTP request, or an
 * httpop's sender (no socket). Membership of a room (room, joined) is the
 * room actor's and orthogonal: a closing conn stays a member until lws
 * reports it closed, and while roomd drains (1001) it still gets output.
 */
typedef enum conn_state {
	CONN_HTTP = 0, /* not a WebSocket */
	CONN_OPEN,     /* a WebSocket: reads, writes */
	CONN_CLOSING, /* close_code chosen: nothing read, the queue drains, then the close
			 frame */
	CONN_CLOSED,  /* terminal: lws closed it, it is in no list */
} conn_state;

/* Where the output of a conn without a socket goes (an httpop's sender):
 * conn_push and conn_close call these instead of queueing. */
typedef struct conn_sink {
	void (*push)(conn *c, rk_msg *m); /* takes the reference */
	void (*close)(conn *c, int code, const char *reason);
} conn_sink;

/* An HTTP response body on its way out (net.c): taken over, freed when
 * sent or at close. */
typedef struct http_out {
	char *body;
	size_t len, off;
} http_out;

/* One connection: lws's per-session user space, for HTTP requests and
 * WebSockets alike. Every idle WebSocket holds one, so its size counts
 * (docs/BENCHMARKS.md, idle memory): what only some connections need
 * (a response body, the strings) lives behind a pointer. */
struct conn {
	struct lws *wsi;
	server *srv;
	room *room;
	conn *rnext, *rprev; /* room's list */
	conn *anext, *aprev; /* server's list of all WebSocket conns */
	conn *out_next;	     /* server->out (out_listed) */
	msgq q;		     /* outbound messages */
	rk_buf *rx;	     /* reassembly of long messages, or NULL (conn_in.h) */
	/* Session, user, ?client= and peer address, NUL-separated in one
	 * allocation sized to them (conn.h: conn_set_ids and the accessors);
	 * NULL until set. */
	char *ids;
	int64_t last_rx_us;
	int64_t last_ping_us;
	int64_t bucket_us; /* token bucket: time the bucket was last full-adjusted */
	double tokens;
	int64_t abuse_window_us;  /* start of the current 10 s abuse window */
	const char *close_reason; /* CONN_CLOSING: a static string (conn_close) */
	int64_t cx, cy;		  /* latest cursor, pending coalesced relay */
	http_out *http;		  /* HTTP response in progress (net.c), or NULL */
	/* POST /v1/rooms/<room>/ops (httpop.h): on an HTTP connection the
	 * request in progress; on an httpop's sender conn its own httpop. */
	struct httpop *hop;
	const conn_sink *sink; /* an httpop's sender: no socket, output goes here */
	conn_state state;      /* conn_set_state only */
	rk_role role;
	uint16_t close_code; /* CONN_CLOSING: close with it (1000-4999) once the queue
				drained */
	uint32_t bad_msgs;   /* malformed messages in the window */
	uint32_t rate_hits;  /* rate-limited ops in the window */
	uint16_t user_at, client_at, ip_at; /* offsets into ids */
	uint8_t color;			    /* presence color */
	/* Flags as bits: every idle connection holds them. */
	bool corked : 1; /* the 101 waits for the first frame (conn_out.c) */
	bool cursor_dirty : 1;
	bool need_ping : 1;
	bool joined : 1;	/* in the room's conns and welcomed (room.c) */
	bool clean_close : 1;	/* peer sent a close frame */
	bool out_listed : 1;	/* in server->out: has output to write this turn */
	bool close_written : 1; /* CONN_CLOSING: our close frame went to lws */
	bool lingering : 1;	/* ... and the kernel; write side shut, input
				 * dropped until EOF or 1 s (conn_writable) */
};

struct server {
	roomd_config cfg;
	struct lws_context *lws;
	struct lws_vhost *vhost;
	metrics m;
	iplimit ipl;	     /* per-IP upgrade rate and connections */
	rk_log_limit loglim; /* per-connection and refusal log lines (log.h) */
	rk_omap rooms;	     /* id -> room*, every known room (server.c) */
	room *dirty;	     /* rooms with uncommitted ops (room.c links them) */
	conn *conns;	     /* all WebSocket connections (server.c) */
	conn *out;	     /* conns with new output this turn (conn_out.c) */
	uint64_t nconns;
	uint64_t session_seq;
	char session_prefix[8];
	char rooms_dir[1100];
	bool draining;
	bool running;		/* the loop runs: rooms load on the loader thread */
	uv_loop_t loop;		/* the one event loop (lws runs on it) */
	uv_check_t flush_check; /* end of every loop turn: server_end_turn */
	uv_signal_t sigterm, sigint;
	uv_timer_t drain_timer;
	ckpt *ckpt;
	loader *loader;	     /* NULL once stopped */
	syncer *syncer;	     /* --fsync only; NULL once stopped */
	pgcommit *pgc;	     /* --pg only: the group commit (pgcommit.h) */
	lease *lease;	     /* --pg only: the heartbeat (lease.h) */
	webhook *wh;	     /* --webhook-url only */
	rk_buf wh_scratch;   /* one webhook body while it is written */
	rk_buf scratch;	     /* encoder scratch, reused */
	rk_buf op_scratch;   /* one op's JSON while its event is built */
	unsigned char *wbuf; /* LWS_PRE + WBUF_SIZE: coalesced frames (conn_out.c) */
	lws_sorted_usec_list_t tick_sul;
	lws_sorted_usec_list_t defer_sul; /* wakes the loop for deferred commits */
	alarms alarms;			  /* poll alarms (alarm.h) */
};

#endif
