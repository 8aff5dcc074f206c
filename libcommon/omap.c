/*
 * omap.c - insertion-ordered hash map (see omap.h).
 *
 * Two tables: `ents` holds the entries in insertion order (a deleted entry
 * leaves a hole, key == NULL) and `index` is an open-addressing table with
 * linear probing whose slots hold an index into `ents` (-1 empty, -2 deleted).
 *
 * Invariants:
 *  - every non-empty index slot (live or tombstone) corresponds to a distinct
 *    entry of ents[0..nents), live or hole, so occupied slots <= nents;
 *  - nents <= nindex / 2 (load factor <= 0.5), so probing always ends;
 *  - holes (nents - live) are compacted away, with a rebuild of the index,
 *    as soon as they exceed half of nents. Compaction costs O(nents + nindex)
 *    and needs at least nents / 2 deletions since the previous one, so every
 *    operation stays O(1) amortized; the index shrinks with it so a map that
 *    was once large does not pay for its old size.
 *
 * Nothing here allocates after the map has been changed: put() allocates the
 * key copy and any larger table first, so RK_ENOMEM leaves the map as it was.
 */
#include "omap.h"
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

enum {
	SLOT_EMPTY = -1,
	SLOT_DELETED = -2,
	INDEX_MIN = 8,
};

/* Entries are addressed by int32 slots: keep nents below this. */
#define OMAP_ENTS_MAX ((size_t)INT32_MAX / 2)

/*
 * FNV-1a, 64-bit, started from a per-map random seed and finished with the
 * murmur3 mixer: keys come from clients (shape and poll ids, user names), and
 * without a secret seed anyone could precompute ids that all land in one
 * slot chain. Iteration order is insertion order, so the seed never shows.
 */
static uint64_t omap_hash(const rk_omap *m, const char *key, size_t klen)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325) ^ m->seed;
	for (size_t i = 0; i < klen; i++) {
		h ^= (unsigned char)key[i];
		h *= UINT64_C(0x100000001b3);
	}
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

void rk_omap_init(rk_omap *m)
{
	memset(m, 0, sizeof(*m));
	if (getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(m->seed))
		m->seed = (uint64_t)(uintptr_t)m * UINT64_C(0x9e3779b97f4a7c15) ^
			  (uint64_t)clock();
}

void rk_omap_free(rk_omap *m)
{
	for (size_t i = 0; i < m->nents; i++)
		free(m->ents[i].key);
	free(m->ents);
	free(m->index);
	rk_omap_init(m);
}

void rk_omap_clear(rk_omap *m)
{
	rk_omap_free(m);
}

size_t rk_omap_count(const rk_omap *m)
{
	return m->live;
}

/* The index slot holding key, or -1 if the key is absent. */
static ptrdiff_t omap_find(const rk_omap *m, const char *key, size_t klen, uint64_t h)
{
	if (m->nindex == 0)
		return -1;
	size_t mask = m->nindex - 1;
	for (size_t s = (size_t)h & mask;; s = (s + 1) & mask) {
		int32_t ix = m->index[s];
		if (ix == SLOT_EMPTY)
			return -1;
		if (ix == SLOT_DELETED)
			continue;
		const rk_omap_entry *e = &m->ents[ix];
		if (e->klen == klen && memcmp(e->key, key, klen) == 0)
			return (ptrdiff_t)s;
	}
}

/* Place entry ix in the first free slot of its probe sequence. */
static void omap_index_insert(int32_t *index, size_t nindex, uint64_t h, int32_t ix)
{
	size_t mask = nindex - 1;
	size_t s = (size_t)h & mask;
	while (index[s] >= 0)
		s = (s + 1) & mask;
	index[s] = ix;
}

/* Fill index (nindex slots) from the live entries of m. */
static void omap_reindex(const rk_omap *m, int32_t *index, size_t nindex)
{
	for (size_t s = 0; s < nindex; s++)
		index[s] = SLOT_EMPTY;
	for (size_t i = 0; i < m->nents; i++) {
		const rk_omap_entry *e = &m->ents[i];
		if (e->key)
			omap_index_insert(index, nindex, omap_hash(m, e->key, e->klen),
					  (int32_t)i);
	}
}

/* Smallest power of two index for n entries at load factor <= 0.5. */
static size_t omap_index_size(size_t n)
{
	size_t sz = INDEX_MIN;
	while (sz / 2 < n)
		sz *= 2;
	return sz;
}

/* Squeeze the holes out of ents and rebuild the index, shrinking it when it
 * is much larger than needed. Cannot fail: a failed shrink keeps the old
 * table. */
static void omap_compact(rk_omap *m)
{
	size_t j = 0;
	for (size_t i = 0; i < m->nents; i++)
		if (m->ents[i].key)
			m->ents[j++] = m->ents[i];
	m->nents = j;
	size_t want = omap_index_size(m->live * 2);
	if (m->nindex > 2 * want) {
		int32_t *ni = malloc(want * sizeof(*ni));
		if (ni) {
			free(m->index);
			m->index = ni;
			m->nindex = want;
		}
	}
	if (m->cap > 4 * (m->live + INDEX_MIN)) {
		size_t ncap = 2 * (m->live + INDEX_MIN);
		rk_omap_entry *ne = realloc(m->ents, ncap * sizeof(*ne));
		if (ne) {
			m->ents = ne;
			m->cap = ncap;
		}
	}
	if (m->nents == 0 && m->live == 0) {
		/* Nothing left: release the tables altogether. */
		free(m->ents);
		free(m->index);
		rk_omap_init(m);
		return;
	}
	omap_reindex(m, m->index, m->nindex);
}

void *rk_omap_get(const rk_omap *m, const char *key, size_t klen)
{
	ptrdiff_t s = omap_find(m, key, klen, omap_hash(m, key, klen));
	return s < 0 ? NULL : m->ents[m->index[s]].val;
}

rk_err rk_omap_put(rk_omap *m, const char *key, size_t klen, void *val)
{
	uint64_t h = omap_hash(m, key, klen);
	ptrdiff_t s = omap_find(m, key, klen, h);
	if (s >= 0) {
		m->ents[m->index[s]].val = val;
		return RK_OK;
	}
	/* Holes over half: compact first (no allocation needed). */
	if ((m->nents - m->live) * 2 > m->nents)
		omap_compact(m);
	if (m->nents >= OMAP_ENTS_MAX)
		return RK_ENOMEM;

	char *kcopy = malloc(klen + 1);
	if (!kcopy)
		return RK_ENOMEM;
	memcpy(kcopy, key, klen);
	kcopy[klen] = '\0';

	if (m->nents == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : INDEX_MIN / 2;
		rk_omap_entry *ne = realloc(m->ents, ncap * sizeof(*ne));
		if (!ne) {
			free(kcopy);
			return RK_ENOMEM;
		}
		m->ents = ne;
		m->cap = ncap;
	}
	if ((m->nents + 1) * 2 > m->nindex) {
		size_t nsz = omap_index_size(m->nents + 1);
		int32_t *ni = malloc(nsz * sizeof(*ni));
		if (!ni) {
			free(kcopy);
			return RK_ENOMEM;
		}
		omap_reindex(m, ni, nsz);
		free(m->index);
		m->index = ni;
		m->nindex = nsz;
	}

	int32_t ix = (int32_t)m->nents;
	m->ents[ix] = (rk_omap_entry){.key = kcopy, .klen = klen, .val = val};
	m->nents++;
	m->live++;
	/* A tombstone may be reused: occupied slots still never exceed nents. */
	size_t mask = m->nindex - 1;
	size_t slot = (size_t)h & mask;
	while (m->index[slot] >= 0)
		slot = (slot + 1) & mask;
	m->index[slot] = ix;
	return RK_OK;
}

void *rk_omap_del(rk_omap *m, const char *key, size_t klen)
{
	ptrdiff_t s = omap_find(m, key, klen, omap_hash(m, key, klen));
	if (s < 0)
		return NULL;
	rk_omap_entry *e = &m->ents[m->index[s]];
	void *val = e->val;
	RK_FREE(e->key);
	e->klen = 0;
	e->val = NULL;
	m->index[s] = SLOT_DELETED;
	m->live--;
	if ((m->nents - m->live) * 2 > m->nents)
		omap_compact(m);
	return val;
}

bool rk_omap_next(const rk_omap *m, size_t *it, const rk_omap_entry **e)
{
	while (*it < m->nents) {
		const rk_omap_entry *cur = &m->ents[(*it)++];
		if (cur->key) {
			*e = cur;
			return true;
		}
	}
	return false;
}
