/* theap.c - the binary min-heap of theap.h (sift up / sift down). */
#include "theap.h"
#include <stdlib.h>

bool rl_theap_init(rl_theap *q, uint32_t cap)
{
	q->n = 0;
	q->cap = cap;
	q->h = calloc(cap ? cap : 1, sizeof(*q->h));
	return q->h != NULL;
}

void rl_theap_free(rl_theap *q)
{
	free(q->h);
	q->h = NULL;
	q->n = q->cap = 0;
}

static void place(rl_theap *q, uint32_t i, rl_timer *t)
{
	q->h[i] = t;
	t->pos = i + 1;
}

static void sift_up(rl_theap *q, uint32_t i)
{
	rl_timer *t = q->h[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (q->h[parent]->at <= t->at)
			break;
		place(q, i, q->h[parent]);
		i = parent;
	}
	place(q, i, t);
}

static void sift_down(rl_theap *q, uint32_t i)
{
	rl_timer *t = q->h[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && q->h[c + 1]->at < q->h[c]->at)
			c++;
		if (t->at <= q->h[c]->at)
			break;
		place(q, i, q->h[c]);
		i = c;
	}
	place(q, i, t);
}

void rl_theap_set(rl_theap *q, rl_timer *t, int64_t at)
{
	if (!t->pos) {
		if (q->n == q->cap)
			return; /* cannot happen: one slot per owner */
		t->at = at;
		place(q, q->n++, t);
		sift_up(q, q->n - 1);
		return;
	}
	int64_t old = t->at;
	t->at = at;
	if (at < old)
		sift_up(q, t->pos - 1);
	else
		sift_down(q, t->pos - 1);
}

void rl_theap_del(rl_theap *q, rl_timer *t)
{
	if (!t->pos)
		return;
	uint32_t i = t->pos - 1;
	t->pos = 0;
	if (--q->n == i)
		return;
	rl_timer *last = q->h[q->n];
	place(q, i, last);
	sift_up(q, i);
	sift_down(q, last->pos - 1);
}

rl_timer *rl_theap_due(const rl_theap *q, int64_t now)
{
	return q->n && q->h[0]->at <= now ? q->h[0] : NULL;
}

int64_t rl_theap_next(const rl_theap *q)
{
	return q->n ? q->h[0]->at : INT64_MAX;
}
