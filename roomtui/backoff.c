/*
 * backoff.c - reconnect delays (see backoff.h).
 */
#include "backoff.h"

int64_t tb_delay_ms(unsigned attempt, uint64_t r)
{
	int64_t d = TB_BASE_MS;
	for (unsigned i = 0; i < attempt && d < TB_CAP_MS; i++)
		d *= 2;
	if (d > TB_CAP_MS)
		d = TB_CAP_MS;
	return d / 2 + (int64_t)(r % (uint64_t)(d / 2 + 1));
}

void tb_init(tb_backoff *b, uint64_t seed)
{
	b->attempt = 0;
	b->rng = seed ? seed : 1;
}

static uint64_t next_rand(tb_backoff *b)
{
	uint64_t x = b->rng; /* xorshift64* */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->rng = x;
	return x * UINT64_C(2685821657736338717);
}

int64_t tb_next(tb_backoff *b)
{
	int64_t ms = tb_delay_ms(b->attempt, next_rand(b));
	if (b->attempt < 64)
		b->attempt++;
	return ms;
}

void tb_reset(tb_backoff *b)
{
	b->attempt = 0;
}
