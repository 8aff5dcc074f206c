/*
 * hist.c - the log-linear histogram of hist.h: bucket arithmetic,
 * recording, merging and percentile queries.
 */
#include "hist.h"
#include <math.h>
#include <string.h>

void rk_hist_init(rk_hist *h)
{
	memset(h, 0, sizeof(*h));
}

int rk_hist_index(int64_t us)
{
	if (us < 0)
		us = 0;
	if (us > RK_HIST_MAX_US)
		us = RK_HIST_MAX_US;
	if (us < RK_HIST_SUB)
		return (int)us;
	int p = 63 - __builtin_clzll((unsigned long long)us); /* >= SUB_BITS */
	int shift = p - RK_HIST_SUB_BITS;
	int sub = (int)(us >> shift) - RK_HIST_SUB; /* 0..SUB-1 */
	return RK_HIST_SUB + (p - RK_HIST_SUB_BITS) * RK_HIST_SUB + sub;
}

void rk_hist_bucket_range(int idx, int64_t *lo, int64_t *hi)
{
	if (idx < RK_HIST_SUB) {
		*lo = *hi = idx;
		return;
	}
	int p = (idx - RK_HIST_SUB) / RK_HIST_SUB + RK_HIST_SUB_BITS;
	int sub = (idx - RK_HIST_SUB) % RK_HIST_SUB;
	int shift = p - RK_HIST_SUB_BITS;
	*lo = (int64_t)(RK_HIST_SUB + sub) << shift;
	*hi = *lo + ((int64_t)1 << shift) - 1;
}

void rk_hist_record(rk_hist *h, int64_t us)
{
	if (us < 0)
		us = 0;
	if (us > RK_HIST_MAX_US)
		h->overflow++;
	h->counts[rk_hist_index(us)]++;
	if (h->n == 0 || us < h->min)
		h->min = us;
	if (h->n == 0 || us > h->max)
		h->max = us;
	h->n++;
	h->sum += (double)us;
}

void rk_hist_merge(rk_hist *dst, const rk_hist *src)
{
	if (src->n == 0)
		return;
	for (int i = 0; i < RK_HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	if (dst->n == 0 || src->min < dst->min)
		dst->min = src->min;
	if (dst->n == 0 || src->max > dst->max)
		dst->max = src->max;
	dst->n += src->n;
	dst->overflow += src->overflow;
	dst->sum += src->sum;
}

int64_t rk_hist_pct(const rk_hist *h, double q)
{
	if (h->n == 0)
		return 0;
	if (q >= 100.0)
		return h->max;
	if (q < 0)
		q = 0;
	uint64_t rank = (uint64_t)ceil(q / 100.0 * (double)h->n);
	if (rank == 0)
		rank = 1;
	uint64_t cum = 0;
	for (int i = 0; i < RK_HIST_BUCKETS; i++) {
		cum += h->counts[i];
		if (cum >= rank) {
			int64_t lo, hi;
			rk_hist_bucket_range(i, &lo, &hi);
			int64_t v = lo + (hi - lo) / 2;
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	return h->max;
}

double rk_hist_mean(const rk_hist *h)
{
	return h->n ? h->sum / (double)h->n : 0.0;
}
