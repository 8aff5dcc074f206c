/*
 * backoff.h - roomtui's reconnect delays: exponential (250 ms doubling up
 * to an 8 s cap) with jitter (each delay drawn uniformly from [d/2, d], so
 * clients dropped together by a restart do not come back together), reset
 * once a connection is live again (a welcome arrived).
 *
 * Pure: no clock and no I/O; the random source is a seeded xorshift, so
 * tests can replay a sequence.
 */
#ifndef RT_BACKOFF_H
#define RT_BACKOFF_H

#include "rk_common.h"

#define TB_BASE_MS 250
#define TB_CAP_MS 8000

typedef struct tb_backoff {
	unsigned attempt; /* delays handed out since the last reset */
	uint64_t rng;	  /* xorshift64* state, never 0 */
} tb_backoff;

/* Start at attempt 0 with a seed (0 is replaced by 1). Can't fail. */
void tb_init(tb_backoff *b, uint64_t seed);
/* The delay before the next reconnect, in ms; advances the attempt. */
int64_t tb_next(tb_backoff *b);
/* A connection went live: the next drop starts from the base again. */
void tb_reset(tb_backoff *b);
/* The delay for attempt (0-based) given a random value r: d = min(base *
 * 2^attempt, cap), then d/2 + r mod (d/2 + 1). */
int64_t tb_delay_ms(unsigned attempt, uint64_t r);

#endif
