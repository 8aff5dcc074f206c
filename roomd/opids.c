/*
 * opids.c - a room's memory of committed op ids (see opids.h).
 *
 * Layout: a FIFO ring of entries in seq order (so the oldest is evicted
 * first) and an open-addressing index (linear probing, at most half full)
 * whose slots name ring entries by their absolute insertion number + 1
 * (0 = empty), truncated to 32 bits: the live window is far smaller than
 * 2^32, so the offset from the ring's head recovers the entry. Eviction
 * deletes the slot with backward shifting, so no tombstones accumulate.
 */
#include "opids.h"
#include <stdlib.h>
#include <string.h>

typedef struct opids_entry entry;

/* ---- hashing ------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = mix64(h ^ w);
		p += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	return mix64(h ^ w ^ ((uint64_t)n << 56));
}

/* Hash user, a separator no user name contains, and id, with seed. */
static uint64_t key_hash(uint64_t seed, const char *user, const char *id)
{
	size_t ul = strlen(user), il = strlen(id);
	uint64_t h = hash_bytes(seed, user, ul);
	h = mix64(h ^ 0xff00ff00ff00ff00ULL ^ ul);
	return hash_bytes(h, id, il);
}

#define SEED1 0x243f6a8885a308d3ULL
#define SEED2 0x13198a2e03707344ULL

/* ---- ring and index ----------------------------------------------------- */

opids *opids_new(void)
{
	return calloc(1, sizeof(opids));
}

void opids_free(opids *o)
{
	if (!o)
		return;
	free(o->ring);
	free(o->slots);
	free(o);
}

/* The entry a non-empty slot names. */
static const entry *slot_entry(const opids *o, uint32_t v)
{
	uint32_t off = (v - 1) - o->head_abs;
	return &o->ring[(o->head + off) & (o->cap - 1)];
}

int64_t opids_find(const opids *o, const char *user, const char *id)
{
	if (!o || !o->count)
		return 0;
	uint64_t h1 = key_hash(SEED1, user, id), h2 = key_hash(SEED2, user, id);
	size_t mask = o->nslots - 1;
	for (size_t i = h1 & mask; o->slots[i]; i = (i + 1) & mask) {
		const entry *e = slot_entry(o, o->slots[i]);
		if (e->h1 == h1 && e->h2 == h2)
			return e->seq;
	}
	return 0;
}

/* Put slot value v (its entry's h1 decides the home) into slots. */
static void slot_put(uint32_t *slots, size_t nslots, uint32_t v, uint64_t h1)
{
	size_t mask = nslots - 1, i = h1 & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = v;
}

static bool grow_slots(opids *o)
{
	size_t n = o->nslots ? o->nslots * 2 : 32;
	uint32_t *s = calloc(n, sizeof(*s));
	if (!s)
		return false;
	for (size_t i = 0; i < o->nslots; i++)
		if (o->slots[i])
			slot_put(s, n, o->slots[i], slot_entry(o, o->slots[i])->h1);
	free(o->slots);
	o->slots = s;
	o->nslots = n;
	return true;
}

static bool grow_ring(opids *o)
{
	size_t n = o->cap ? o->cap * 2 : 16;
	entry *r = malloc(n * sizeof(*r));
	if (!r)
		return false;
	for (size_t i = 0; i < o->count; i++)
		r[i] = o->ring[(o->head + i) & (o->cap - 1)];
	free(o->ring);
	o->ring = r;
	o->cap = n;
	o->head = 0;
	return true;
}

/* Forget the oldest entry: delete its slot (backward shift), pop the ring. */
static void pop_front(opids *o)
{
	const entry *e = &o->ring[o->head];
	uint32_t v = o->head_abs + 1;
	size_t mask = o->nslots - 1, i = e->h1 & mask;
	while (o->slots[i] != v)
		i = (i + 1) & mask;
	o->slots[i] = 0;
	for (size_t j = (i + 1) & mask; o->slots[j]; j = (j + 1) & mask) {
		size_t home = slot_entry(o, o->slots[j])->h1 & mask;
		/* Move j back into the hole unless its home lies cyclically in
		 * (i, j]: then it would be placed before its home. */
		bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			o->slots[i] = o->slots[j];
			o->slots[j] = 0;
			i = j;
		}
	}
	o->head = (o->head + 1) & (o->cap - 1);
	o->head_abs++;
	o->count--;
}

/* Slot value 0 means empty, so before the insertion number wraps to it
 * (after 2^32 - 1 inserts) number the live entries from 0 again. */
static void renumber(opids *o)
{
	memset(o->slots, 0, o->nslots * sizeof(*o->slots));
	o->head_abs = 0;
	for (size_t i = 0; i < o->count; i++)
		slot_put(o->slots, o->nslots, (uint32_t)i + 1,
			 o->ring[(o->head + i) & (o->cap - 1)].h1);
}

rk_err opids_add(opids *o, const char *user, const char *id, int64_t seq, int64_t ts)
{
	while (o->count) {
		const entry *f = &o->ring[o->head];
		if (f->seq > seq - OPIDS_KEEP_OPS || f->ts >= ts - OPIDS_KEEP_MS)
			break;
		pop_front(o);
	}
	if (o->count == o->cap && !grow_ring(o))
		return RK_ENOMEM;
	if ((o->count + 1) * 2 > o->nslots && !grow_slots(o))
		return RK_ENOMEM;
	if ((uint32_t)(o->head_abs + (uint32_t)o->count + 1) == 0)
		renumber(o);
	entry *e = &o->ring[(o->head + o->count) & (o->cap - 1)];
	e->h1 = key_hash(SEED1, user, id);
	e->h2 = key_hash(SEED2, user, id);
	e->seq = seq;
	e->ts = ts;
	uint32_t v = o->head_abs + (uint32_t)o->count + 1;
	o->count++;
	slot_put(o->slots, o->nslots, v, e->h1);
	return RK_OK;
}

size_t opids_count(const opids *o)
{
	return o ? o->count : 0;
}

size_t opids_bytes(const opids *o)
{
	return o ? sizeof(*o) + o->cap * sizeof(entry) + o->nslots * sizeof(uint32_t) : 0;
}

rk_err opids_add_row(void *o, const char *user, const char *id, int64_t seq, int64_t ts)
{
	return opids_add(o, user, id, seq, ts);
}
