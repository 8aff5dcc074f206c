/*
 * msg.h - outbound messages, encoded once and shared by reference, and the
 * bounded per-connection queue of them.
 *
 * An event for a room of 500 is one rk_msg with 500 references, not 500
 * encodings. The payload sits behind LWS_PRE bytes of headroom, so lws_write
 * can put the frame header in front of it without a copy (server frames are
 * unmasked, so the same bytes serve every recipient).
 */
#ifndef ROOMD_MSG_H
#define ROOMD_MSG_H

#include <libwebsockets.h>
#include "rk_common.h"

typedef struct rk_msg {
	uint32_t refs;
	uint32_t len;	      /* payload bytes */
	bool droppable;	      /* cursor: may be dropped for a slow consumer */
	unsigned char data[]; /* LWS_PRE headroom, then the payload, then NUL */
} rk_msg;

/* The payload's first byte (LWS_PRE bytes of headroom before it). */
static inline unsigned char *msg_payload(rk_msg *m)
{
	return m->data + LWS_PRE;
}

/* A message holding a copy of payload, with one reference. NULL if out of
 * memory. */
rk_msg *msg_new(const char *payload, size_t len, bool droppable) RK_WARN_UNUSED;
/* One more reference to m (returned for chaining); the caller owns it and
 * hands it on (conn_push) or drops it (msg_unref). */
static inline rk_msg *msg_ref(rk_msg *m)
{
	m->refs++;
	return m;
}
/* Drop one reference; the last one frees m. NULL is a no-op. */
void msg_unref(rk_msg *m);

/* A FIFO of message references with a byte count. */
typedef struct msgq {
	rk_msg **ring;		 /* NULL until the first push */
	uint32_t head, len, cap; /* cap is a power of two */
	size_t bytes;		 /* payload bytes queued */
} msgq;

/* Append (taking over one reference). Returns false if out of memory, in
 * which case the reference is dropped. */
bool msgq_push(msgq *q, rk_msg *m) RK_WARN_UNUSED;
/* The oldest message (still queued), or NULL. */
static inline rk_msg *msgq_peek(const msgq *q)
{
	return q->len ? q->ring[q->head] : NULL;
}
/* Remove the oldest and drop its reference. */
void msgq_pop(msgq *q);
/* Drop every droppable message; returns how many were dropped. */
uint32_t msgq_drop_droppable(msgq *q);
/* Free the ring if nothing is queued (an idle connection keeps none; the
 * next push allocates it again). */
void msgq_trim(msgq *q);
/* Drop everything and free the ring. */
void msgq_clear(msgq *q);

#endif
