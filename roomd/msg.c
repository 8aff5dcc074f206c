/* msg.c - shared framed messages and the per-connection queue. */
#include <stdlib.h>
#include <string.h>
#include "msg.h"

rk_msg *msg_new(const char *payload, size_t len, bool droppable)
{
	if (len > UINT32_MAX)
		return NULL;
	rk_msg *m = malloc(sizeof(*m) + LWS_PRE + len + 1);
	if (!m)
		return NULL;
	m->refs = 1;
	m->len = (uint32_t)len;
	m->droppable = droppable;
	memcpy(m->data + LWS_PRE, payload, len);
	m->data[LWS_PRE + len] = '\0';
	return m;
}

void msg_unref(rk_msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

bool msgq_push(msgq *q, rk_msg *m)
{
	if (q->len == q->cap) {
		uint32_t ncap = q->cap ? q->cap * 2 : 8;
		rk_msg **ring = malloc(ncap * sizeof(*ring));
		if (!ring) {
			msg_unref(m);
			return false;
		}
		for (uint32_t i = 0; i < q->len; i++)
			ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
		free(q->ring);
		q->ring = ring;
		q->cap = ncap;
		q->head = 0;
	}
	q->ring[(q->head + q->len) & (q->cap - 1)] = m;
	q->len++;
	q->bytes += m->len;
	return true;
}

void msgq_trim(msgq *q)
{
	if (q->len)
		return;
	free(q->ring);
	q->ring = NULL;
	q->cap = 0;
	q->head = 0;
}

void msgq_pop(msgq *q)
{
	if (!q->len)
		return;
	rk_msg *m = q->ring[q->head];
	q->head = (q->head + 1) & (q->cap - 1);
	q->len--;
	q->bytes -= m->len;
	msg_unref(m);
	if (q->len == 0 && q->cap > 64) {
		/* A burst is over: give the big ring back, idle conns cost little. */
		free(q->ring);
		q->ring = NULL;
		q->cap = 0;
		q->head = 0;
	}
}

uint32_t msgq_drop_droppable(msgq *q)
{
	uint32_t kept = 0, dropped = 0;
	for (uint32_t i = 0; i < q->len; i++) {
		rk_msg *m = q->ring[(q->head + i) & (q->cap - 1)];
		if (m->droppable) {
			q->bytes -= m->len;
			msg_unref(m);
			dropped++;
		} else {
			q->ring[(q->head + kept) & (q->cap - 1)] = m;
			kept++;
		}
	}
	q->len = kept;
	return dropped;
}

void msgq_clear(msgq *q)
{
	while (q->len)
		msgq_pop(q);
	free(q->ring);
	memset(q, 0, sizeof(*q));
}
