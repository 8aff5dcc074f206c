/*
 * load.h - roomload's run: the context struct (one per process, no
 * globals), the per-client and per-room structs, the run's phases and
 * counters, and the functions each module exports to the others.
 *
 *   main.c     thin main: parse, run, report, exit status
 *   run.c      the lws context, the control tick (ramp, phases, progress)
 *   client.c   one connection: lws callback, open-loop sending, receiving,
 *              latency and checks
 *   scenario.c what a client sends next (encodes one message)
 *   report.c   progress lines, the final report (text and --json), checks
 *   hist.c     latency histograms          checker.c  ordering checks
 *   acked.c    --acked-file: the ops the server reported committed
 */
#ifndef ROOMLOAD_LOAD_H
#define ROOMLOAD_LOAD_H

#include <libwebsockets.h>
#include <sys/resource.h>
#include "buf.h"
#include "checker.h"
#include "config.h"
#include "hist.h"
#include "op.h"
#include "proto.h"
#include "theap.h"

#define RX_MAX (16u << 20) /* largest message reassembled (a welcome with state) */

typedef struct load load;
struct ev_loop;

/* A client's connection state. DONE is terminal: once there, it sticks. */
typedef enum cstate {
	CS_NEW = 0,    /* not connected yet */
	CS_CONNECTING, /* connect issued, no welcome yet */
	CS_READY,      /* welcomed: receiving, and sending in the run phase */
	CS_CLOSING,    /* we asked to close (clean close 1000 at next writable) */
	CS_BACKOFF,    /* --reconnect: dropped by the server; the next attempt
			* is due at retry_sul */
	CS_DONE,       /* closed or failed */
} cstate;

typedef struct client {
	load *ld;	      /* the run this client belongs to */
	struct lws *wsi;      /* the connection; NULL when not connected */
	uint32_t idx;	      /* global index (room * clients + i); op ids cIDX.SEQ */
	uint32_t room;	      /* index of its room in load.rooms */
	uint32_t in_room;     /* position within the room (0 creates the poll) */
	cstate state;	      /* see cstate; set only through client_set_state */
	bool viewer;	      /* only watches: sends no ops */
	bool failed;	      /* never got its welcome (connect error/refusal) */
	bool setup_due;	      /* a setup op (poll.create) is waiting to be written */
	int close_code;	      /* close code the server sent, 0 if none */
	int64_t connect_ns;   /* when the connect was issued (monotonic) */
	int64_t period_ns;    /* 1e9 / rate; 0 = never sends */
	int64_t next_send_ns; /* scheduled time of the next message (open loop) */
	uint32_t due;	      /* messages scheduled but not yet written */
	uint32_t lseq;	      /* local sequence of the last message written */
	uint32_t unanswered;  /* ops written and neither acked nor rejected */
	rl_timer send_t;      /* in load.sendq at next_send_ns while sending */
	lws_sorted_usec_list_t churn_sul; /* churn: fires at the next reconnect */
	bool reconnecting;		  /* churn: closing to reconnect, not to stop;
					   * --reconnect: dropped, not welcomed again yet */
	lws_sorted_usec_list_t retry_sul; /* --reconnect: the next connect attempt */
	int64_t down_ns;		  /* --reconnect: when it was dropped; 0 = not */
	bool resync;			  /* --reconnect: welcomed again, new ops wait
					   * until the replay reaches catchup_seq and
					   * the unanswered ops are resent */
	int64_t catchup_seq;		  /* the reconnect welcome's seq */
	uint32_t resend_next;		  /* next lseq to look at for a resend */
	uint32_t resend_last;		  /* last lseq to resend; next > last: none */
	char epoch[RK_EPOCH_MAX + 1];	  /* from the last welcome, for resume */
	chk_stream stream;		  /* seqs seen on this connection */
	chk_ops ops;			  /* recent ops: send time, ack/event seqs */
	rk_buf rx;			  /* reassembly of a fragmented message */
} client;

typedef struct room_info {
	char name[RK_ROOM_ID_MAX + 1]; /* PREFIX + index */
	chk_room chk;		       /* seq -> op agreement */
} room_info;

typedef enum phase {
	PH_CONNECT = 0, /* opening connections */
	PH_RUN,		/* sending for --duration */
	PH_DRAIN,	/* no new sends; waiting for answers and agreement */
	PH_CLOSE,	/* closing every connection */
	PH_END,		/* leave the loop */
} phase;

#define CLOSE_CODES_MAX 16

/* Counters; monotonic over the run. */
typedef struct counters {
	uint64_t connects_issued;  /* connect calls */
	uint64_t established;	   /* welcomes received */
	uint64_t connect_failed;   /* refused / errored before the welcome */
	uint64_t closed_by_server; /* closed after the welcome, not by us */
	uint64_t sent;		   /* load ops written (setup ops excluded) */
	uint64_t acked;		   /* acks for load ops */
	uint64_t rejected;	   /* rejects for load ops */
	uint64_t events;	   /* events of load ops delivered to other clients */
	uint64_t setup_ops;	   /* setup ops written (poll.create) */
	uint64_t setup_msgs;	   /* acks, rejects and events of setup ops */
	uint64_t foreign_events;   /* events whose id is not one of ours */
	uint64_t cursors_sent;	   /* cursor messages written */
	uint64_t cursors_recv;	   /* cursor messages received */
	uint64_t presence;	   /* presence messages received */
	uint64_t server_errors;	   /* `error` messages received */
	uint64_t decode_errors;	   /* frames we could not decode */
	uint64_t msgs_recv;	   /* every message received */
	uint64_t reconnects;	   /* churn: reconnections welcomed */
	uint64_t resumed;	   /* churn: of those, resumed (events replayed) */
	uint64_t own_replayed;	   /* churn: own ops whose ack was lost to the
				    * reconnect and came back as a replayed event */
	uint64_t drops;		   /* --reconnect: connections the server closed
				    * (or reset) with a code that reconnects */
	uint64_t recovered;	   /* --reconnect: drops welcomed again */
	uint64_t reconnect_failed; /* --reconnect: attempts refused or failed */
	uint64_t full_state;	   /* reconnects welcomed with a full state */
	uint64_t resent;	   /* --reconnect: unanswered ops sent again */
	uint64_t ack_dups;	   /* acks with dup: true */
	uint64_t unrecovered;	   /* --reconnect: still reconnecting at the end */
	uint64_t unanswered_end;   /* ops with no answer when the run ended */
	uint64_t acked_lines;	   /* --acked-file lines written */
	uint64_t rejects[RK_REJ_COUNT]; /* by code, load and setup ops */
	struct {
		int code;
		uint64_t n;
	} closes[CLOSE_CODES_MAX]; /* close codes received from the server */
	int ncloses;
	int64_t max_outage_us; /* longest drop -> welcome again (merged as a max) */
} counters;

struct load {
	load_config cfg;	 /* the command line */
	struct lws_context *lws; /* the one client event loop */
	struct ev_loop *evloop;	 /* libev loop lws runs on (epoll); NULL = lws's poll() */
	client *clients;	 /* rooms * clients, room-major */
	uint32_t nclients;
	room_info *rooms;	       /* cfg.rooms */
	phase ph;		       /* current phase */
	int64_t t0_ns;		       /* start of the connect phase */
	int64_t run_start_ns;	       /* start of the run phase (0 before) */
	int64_t run_end_ns;	       /* end of sending */
	int64_t phase_deadline_ns;     /* when the current phase gives up */
	uint32_t next_connect;	       /* next client index to connect */
	uint32_t next_close;	       /* close phase: next client index to close */
	uint32_t closing;	       /* clients in CS_CLOSING */
	uint32_t connecting;	       /* handshakes in flight */
	uint32_t live;		       /* connections not DONE (issued ones) */
	uint64_t rng;		       /* xorshift state for offsets */
	counters c;		       /* everything counted */
	counters c_prev;	       /* at the last progress line */
	rk_hist h_ack;		       /* send -> ack, load ops */
	rk_hist h_delivery;	       /* send -> event at each other client */
	rk_hist h_cursor;	       /* send -> cursor relay at each other client */
	rk_hist h_connect;	       /* connect call -> welcome */
	rk_hist h_lag;		       /* scheduled send time -> actual write: roomload's
					* own delay (it is part of every latency) */
	rk_hist h_win;		       /* deliveries (or acks) of the last second */
	checker chk;		       /* ordering violations */
	char first_connect_error[160]; /* detail of the first failed connect */
	char run[8];		       /* this run's tag (load_begin): users are
					* c<idx>-<run>, so that two runs against one
					* room never share a (user, op id): roomd
					* acks a repeated one as a duplicate */
	int64_t last_progress_ns;      /* last progress line */
	int64_t connect_done_ns;       /* when the last connection got its welcome */
	struct rusage ru0;	       /* at start, for CPU per event */
	rk_buf enc;		       /* encoder scratch, reused */
	char *text;		       /* chat text of cfg.size characters */
	rk_point *points;	       /* stroke points for the draw scenario */
	size_t npoints;
	lws_sorted_usec_list_t tick_sul;  /* the control tick */
	rl_theap sendq;			  /* clients by next send time (theap.h) */
	lws_sorted_usec_list_t sendq_sul; /* fires when the earliest is due */
	int64_t sendq_armed_ns;		  /* when sendq_sul fires; 0 = not armed */
	int exit_code;			  /* decided by report_checks */
	FILE *csv;			  /* --csv: per-second rows; NULL = none */
	/* --procs (procs.c). In a worker: */
	bool worker;	     /* this process runs a share of the rooms */
	uint32_t room_base;  /* global index of rooms[0] (room names) */
	uint32_t idx_base;   /* global index of clients[0] (names, op ids) */
	int to_parent;	     /* worker: pipe of records to the parent */
	int from_parent;     /* worker: the parent's "go" byte */
	bool connected_sent; /* worker: told the parent it is connected */
	/* In the parent of workers (the merged figures): */
	double cpu_extra_s; /* the workers' CPU seconds */
	long rss_extra_kb;  /* the sum of the workers' peak RSS */
};

/* client.c */
extern const struct lws_protocols roomload_protocols[];
/* Issue the connection of client cl. Can't fail: a failure is counted. */
void client_connect(load *ld, client *cl);
/* Start the open-loop schedule of a welcomed client (run phase). */
void client_start_sending(load *ld, client *cl);
/* Stop scheduling new messages (already due ones are still written). */
void client_stop_sending(client *cl);
/* At the end of the run: stop every timer of the client (sends, churn,
 * reconnect attempts). */
void client_cancel(client *cl);
/* Ask a client to close cleanly (1000); a no-op unless connected. */
void client_close(client *cl);
void client_free(client *cl);
/* Stop the shared send timer (before the lws context goes). */
void client_sendq_cancel(load *ld);

/* scenario.c: encode the client's next message (local seq lseq) into b.
 * Returns true if it is an op (answered by ack/reject), false if ephemeral
 * (cursor). setup: the poll.create of the room's first client. The bytes
 * depend only on (cl, lseq, setup) and the run's seed: a resend
 * (--reconnect) is the same op under the same id. */
bool scenario_encode(load *ld, client *cl, uint32_t lseq, bool setup, rk_buf *b);
/* Does this scenario need a setup op from the room's first client? */
bool scenario_needs_setup(const load *ld);
/* Prepare shared payloads (chat text, points). false on out of memory. */
bool scenario_init(load *ld);
void scenario_free(load *ld);

/* run.c */
int run_load(load *ld);	   /* 0, or 1 on a runtime error (printed) */
void load_begin(load *ld); /* signals blocked, histograms + checker reset */
bool load_signalled(void); /* a pending SIGINT/SIGTERM, taken */
/* Release everything the run owns (the config included). */
void load_free(load *ld);

/* report.c */
/* Once a second: the progress line (unless -q) and the --csv row of the
 * interval since the last call; then the interval starts anew. */
void report_interval(load *ld, int64_t now_ns);
/* Open --csv and write its header. false (printed) if it cannot be opened. */
bool report_csv_open(load *ld);
void report_csv_close(load *ld);
/* Print the final report (text on stderr/stdout, or JSON on stdout) and
 * return the exit status: 0 if every check passed, else 1. */
int report_final(load *ld);

/* acked.c: --acked-file. Create (truncate) the file before the run:
 * false (printed) if it cannot be written. */
bool acked_file_reset(const load_config *cfg);
/* Append this process's lines ("ROOM SEQ OP_ID") in one write (so that
 * --procs workers never interleave within a line), counted in
 * ld->c.acked_lines. false (printed) on a write error. */
bool acked_file_write(load *ld);

/* procs.c: run --procs workers and merge their results into ld (the
 * parent's), ready for report_final. 0, or 1 on a runtime error such as a
 * worker that died (printed). */
int procs_run(load *ld);
/* In a worker: the connect phase is over; true once the parent says go. */
bool procs_worker_go(load *ld);
/* In a worker: send the interval's progress / the final results. */
void procs_worker_progress(load *ld);
void procs_worker_final(load *ld);

/* Small helpers shared by the modules. */
uint64_t load_rand(load *ld);
void load_count_close(load *ld, int code);
/* Add every counter of src into dst (close codes matched by code). */
void load_counters_add(counters *dst, const counters *src);

#endif
