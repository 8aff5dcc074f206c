/*
 * theap.h - a binary min-heap of timers keyed by a monotonic time, for the
 * per-client send schedule. lws 4.1 keeps its timers (lws_sul) in one
 * sorted linked list whose insert walks the list: with a timer per client,
 * each reschedule cost O(clients) (measured: 11 % of roomload's CPU at 1,000
 * clients sending). Here a reschedule is O(log clients) and lws sees one
 * timer for the whole heap.
 *
 * The heap owns its array of pointers, never the timers: a timer is embedded
 * in its owner's struct (container_of gives the owner back).
 */
#ifndef ROOMLOAD_THEAP_H
#define ROOMLOAD_THEAP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rl_timer {
	int64_t at;   /* when it is due (monotonic ns) */
	uint32_t pos; /* 1 + index in the heap; 0 = not scheduled */
} rl_timer;

typedef struct rl_theap {
	rl_timer **h; /* h[0] is the earliest; owned */
	uint32_t n, cap;
} rl_theap;

/* Reserve room for cap timers (the heap never grows past that). false when
 * out of memory (nothing allocated). rl_theap_free is safe on zeroed. */
bool rl_theap_init(rl_theap *q, uint32_t cap);
void rl_theap_free(rl_theap *q);
/* Schedule t at `at`, or move it there if already scheduled. Can't fail
 * (the heap holds at most cap timers; each timer is in it at most once). */
void rl_theap_set(rl_theap *q, rl_timer *t, int64_t at);
/* Unschedule t; a no-op if it is not scheduled. */
void rl_theap_del(rl_theap *q, rl_timer *t);
/* The earliest timer if it is due at or before now (it stays scheduled:
 * set or delete it), else NULL. */
rl_timer *rl_theap_due(const rl_theap *q, int64_t now);
/* When the earliest timer is due; INT64_MAX when empty. */
int64_t rl_theap_next(const rl_theap *q);

#endif
