/* iplimit.c - per-address connection rate and count (see iplimit.h). */
#include <stdlib.h>
#include <string.h>
#include "iplimit.h"

typedef struct ipl_entry {
	double tokens; /* as of t_us */
	int64_t t_us;
	uint32_t conns; /* open WebSocket connections */
} ipl_entry;

void iplimit_init(iplimit *l, double rate, double burst, uint32_t max_conns,
		  bool limit_loopback)
{
	memset(l, 0, sizeof(*l));
	l->rate = rate;
	l->burst = burst < 1 ? 1 : burst;
	l->max_conns = max_conns;
	l->limit_loopback = limit_loopback;
	rk_omap_init(&l->map);
}

void iplimit_free(iplimit *l)
{
	size_t it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&l->map, &it, &e))
		free(e->val);
	rk_omap_free(&l->map);
}

bool iplimit_is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strncmp(addr, "::ffff:127.", 11) == 0;
}

static bool exempt(const iplimit *l, const char *addr)
{
	return (l->rate <= 0 && !l->max_conns) ||
	       (!l->limit_loopback && iplimit_is_loopback(addr)) ||
	       strlen(addr) > IPL_ADDR_MAX;
}

/* Refill e's bucket up to now. */
static void refill(const iplimit *l, ipl_entry *e, int64_t now_us)
{
	e->tokens += (double)(now_us - e->t_us) * l->rate / 1e6;
	if (e->tokens > l->burst)
		e->tokens = l->burst;
	e->t_us = now_us;
}

/* addr's entry, created (bucket full) if there is room; NULL otherwise. */
static ipl_entry *entry(iplimit *l, const char *addr, int64_t now_us)
{
	size_t n = strlen(addr);
	ipl_entry *e = rk_omap_get(&l->map, addr, n);
	if (e)
		return e;
	/* Full: no sweep here (a spray of new addresses would make every
	 * upgrade a full scan); the tick's sweep makes room within a second. */
	if (rk_omap_count(&l->map) >= IPL_MAX_ENTRIES)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->tokens = l->burst;
	e->t_us = now_us;
	if (rk_omap_put(&l->map, addr, n, e) != RK_OK) {
		free(e);
		return NULL;
	}
	return e;
}

ipl_verdict iplimit_admit(iplimit *l, const char *addr, int64_t now_us,
			  int *retry_after_s)
{
	*retry_after_s = 1;
	if (exempt(l, addr))
		return IPL_OK;
	ipl_entry *e = entry(l, addr, now_us);
	if (!e) {
		l->table_full++;
		return IPL_OK;
	}
	if (l->max_conns && e->conns >= l->max_conns)
		return IPL_CONNS;
	if (l->rate <= 0)
		return IPL_OK;
	refill(l, e, now_us);
	if (e->tokens < 1.0) {
		double wait_s = (1.0 - e->tokens) / l->rate;
		*retry_after_s = wait_s < 1.0 ? 1 : (int)(wait_s + 0.999);
		return IPL_RATE;
	}
	e->tokens -= 1.0;
	return IPL_OK;
}

void iplimit_opened(iplimit *l, const char *addr)
{
	if (!l->max_conns || exempt(l, addr))
		return;
	ipl_entry *e = rk_omap_get(&l->map, addr, strlen(addr));
	if (e)
		e->conns++;
}

void iplimit_closed(iplimit *l, const char *addr)
{
	if (!l->max_conns || exempt(l, addr))
		return;
	ipl_entry *e = rk_omap_get(&l->map, addr, strlen(addr));
	if (e && e->conns)
		e->conns--;
}

void iplimit_sweep(iplimit *l, int64_t now_us)
{
	if (now_us - l->last_sweep_us < 1000000 || !rk_omap_count(&l->map))
		return;
	l->last_sweep_us = now_us;
	/* Collect first: the map must not change while it is iterated. */
	size_t cap = rk_omap_count(&l->map), n = 0, it = 0;
	char(*dead)[IPL_ADDR_MAX + 1] = malloc(cap * sizeof(*dead));
	if (!dead)
		return;
	const rk_omap_entry *me;
	while (rk_omap_next(&l->map, &it, &me) && n < cap) {
		ipl_entry *e = me->val;
		if (e->conns)
			continue;
		if (l->rate > 0)
			refill(l, e, now_us);
		if (l->rate <= 0 || e->tokens >= l->burst)
			memcpy(dead[n++], me->key,
			       me->klen + 1); /* klen <= IPL_ADDR_MAX */
	}
	for (size_t i = 0; i < n; i++)
		free(rk_omap_del(&l->map, dead[i], strlen(dead[i])));
	free(dead);
}
