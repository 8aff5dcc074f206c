/*
 * hist.h - a log-linear latency histogram (HdrHistogram-style), in
 * microseconds from 0 up to RK_HIST_MAX_US (60 s).
 *
 * Owns nothing but its fixed-size count table (no allocation, so it can be
 * embedded, copied and merged freely). Values below 2^RK_HIST_SUB_BITS are
 * counted exactly; above, every power of two is cut into 2^RK_HIST_SUB_BITS
 * equal sub-buckets, so a reported percentile is within 1/256 (0.4 %) of a
 * recorded value (the bucket midpoint is reported; min and max are exact).
 * Values above the range are counted in the top bucket and in `overflow`.
 */
#ifndef RK_HIST_H
#define RK_HIST_H

#include <stdint.h>

#define RK_HIST_SUB_BITS 7
#define RK_HIST_SUB (1 << RK_HIST_SUB_BITS) /* 128 sub-buckets */
#define RK_HIST_MAX_US INT64_C(60000000)    /* 60 s */
#define RK_HIST_TOP_BIT 25		    /* 2^25 <= 60e6 < 2^26 */
#define RK_HIST_BUCKETS                                                                  \
	(RK_HIST_SUB + (RK_HIST_TOP_BIT - RK_HIST_SUB_BITS + 1) * RK_HIST_SUB)

typedef struct rk_hist {
	uint64_t counts[RK_HIST_BUCKETS]; /* per bucket */
	uint64_t n;			  /* values recorded */
	uint64_t overflow;		  /* values above RK_HIST_MAX_US (clamped) */
	int64_t min, max;		  /* exact extremes (min valid when n > 0) */
	double sum;			  /* for the mean */
} rk_hist;

/* Reset to empty. This function can't fail. */
void rk_hist_init(rk_hist *h);
/* Record one value in microseconds; negatives count as 0, values above the
 * range are clamped into the top bucket (max stays exact). Can't fail. */
void rk_hist_record(rk_hist *h, int64_t us);
/* Add every count of src into dst. Can't fail. */
void rk_hist_merge(rk_hist *dst, const rk_hist *src);
/* The value at percentile q (0..100): the smallest recorded bucket whose
 * cumulative count reaches ceil(q% of n), reported as the bucket midpoint
 * clamped to [min, max]. q >= 100 gives max exactly. 0 if empty. */
int64_t rk_hist_pct(const rk_hist *h, double q);
/* Mean in microseconds (0 if empty). */
double rk_hist_mean(const rk_hist *h);

/* Bucket index of a value and the bucket's [lo, hi] range (exposed for the
 * unit tests). */
int rk_hist_index(int64_t us);
void rk_hist_bucket_range(int idx, int64_t *lo, int64_t *hi);

#endif
