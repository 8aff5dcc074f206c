/*
 * net.h - roomtui's one WebSocket connection to roomd, on a libev loop:
 * connect, a bounded outbound queue written one frame per WRITEABLE,
 * reassembly of fragmented messages, and reconnection with exponential
 * backoff and jitter after any drop (backoff.h). Knows nothing about the
 * protocol's content: the app decodes messages and decides what to resend;
 * on each connect it is asked for the resume parameters (since, epoch).
 *
 * Never frees itself in a callback: the struct lives until tn_free.
 */
#ifndef RT_NET_H
#define RT_NET_H

#include "rk_common.h"

struct ev_loop;

typedef enum tn_state {
	TN_IDLE = 0,   /* before tn_start */
	TN_CONNECTING, /* TCP + upgrade in progress */
	TN_OPEN,       /* upgraded: frames flow */
	TN_WAITING,    /* dropped; a reconnect is scheduled (tn_retry_ms) */
	TN_STOPPED,    /* tn_stop: terminal */
} tn_state;

typedef struct tn_config {
	const char *host;
	int port;
	bool tls;
	const char *ca_file; /* extra trust anchors (PEM) for tls, or NULL */
	const char *room;
	const char *name;      /* or NULL */
	const char *token;     /* or NULL */
	const char *client_id; /* kept across reconnects */
} tn_config;

typedef struct tn_handlers {
	/* One complete text message (not NUL-terminated past n; n bytes). */
	void (*message)(void *ud, const char *s, size_t n);
	/* The state changed (also on every drop: why in reason, may be ""). */
	void (*state)(void *ud, tn_state st, const char *reason);
	/* Before each connect: the resume point, or false for a fresh join. */
	bool (*resume)(void *ud, int64_t *since, char *epoch, size_t n);
} tn_handlers;

typedef struct tn_net tn_net;

/* A connection manager (not yet connecting), or NULL (reason on stderr)
 * if the lws context cannot be created. cfg strings must outlive it. */
tn_net *tn_new(struct ev_loop *loop, const tn_config *cfg, const tn_handlers *h,
	       void *ud);
/* Connect now (TN_IDLE or TN_WAITING only). */
void tn_start(tn_net *n);
/* Queue one text frame; false (nothing queued) unless TN_OPEN or when the
 * queue is full (256 frames). Frames queued when the connection drops are
 * discarded. */
bool tn_send(tn_net *n, const char *s, size_t len);
/* Close the connection (if any) and reconnect after the backoff: for a
 * heartbeat timeout or a resume that cannot work. */
void tn_drop(tn_net *n, const char *reason);
/* A welcome arrived: the next drop starts the backoff from the beginning. */
void tn_reset_backoff(tn_net *n);
/* Close for good (sends close 1000 if open). */
void tn_stop(tn_net *n);
tn_state tn_get_state(const tn_net *n);
/* Milliseconds until the scheduled reconnect (TN_WAITING), else 0. */
int64_t tn_retry_ms(const tn_net *n);
void tn_free(tn_net *n);

#endif
