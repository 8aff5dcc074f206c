/*
 * omap.h - an insertion-ordered hash map from string keys to pointers.
 *
 * Used by the room state for shapes (insertion order = z-order), polls and
 * votes, so iteration order is deterministic and survives a snapshot round
 * trip. The map copies keys; values are the caller's (the map never frees
 * them). Lookup, insert and delete are O(1) on average; iteration skips
 * deleted entries.
 */
#ifndef RK_OMAP_H
#define RK_OMAP_H

#include "rk_common.h"

typedef struct rk_omap_entry {
	char *key; /* owned copy; NULL for a deleted entry */
	size_t klen;
	void *val;
} rk_omap_entry;

typedef struct rk_omap {
	rk_omap_entry *ents; /* insertion order, with holes for deleted ones */
	size_t nents;	     /* entries used in ents (live + deleted) */
	size_t cap;	     /* entries allocated */
	size_t live;	     /* live entries */
	int32_t *index;	     /* open addressing: entry index, -1 empty, -2 deleted */
	size_t nindex;	     /* power of two */
	uint64_t seed;	     /* random per map: hash flooding resistance */
} rk_omap;

void rk_omap_init(rk_omap *m);
/* Frees keys and tables, not values. */
void rk_omap_free(rk_omap *m);
size_t rk_omap_count(const rk_omap *m);
/* The value for key, or NULL. */
void *rk_omap_get(const rk_omap *m, const char *key, size_t klen);
/* Insert or replace (a replaced key keeps its position). RK_OK or RK_ENOMEM. */
RK_WARN_UNUSED rk_err rk_omap_put(rk_omap *m, const char *key, size_t klen, void *val);
/* Remove key; returns its value (for the caller to free) or NULL. */
void *rk_omap_del(rk_omap *m, const char *key, size_t klen);
/* Remove everything (values are not freed). */
void rk_omap_clear(rk_omap *m);
/* Iterate: for (size_t i = 0; rk_omap_next(m, &i, &e);) ... in insertion order.
 * put and del may compact the entries: do not change the map while iterating
 * (replacing the value of an existing key with put is fine). */
bool rk_omap_next(const rk_omap *m, size_t *it, const rk_omap_entry **e);

#endif
