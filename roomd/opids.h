/*
 * opids.h - a room's memory of committed op ids (PROTOCOL.md section 3,
 * idempotent ops): (user, op id) -> the seq it was committed at.
 *
 * An op whose (user, id) is here is acked again with the remembered seq and
 * `dup: true` instead of being applied. The memory covers at least the last
 * OPIDS_KEEP_OPS ops and every op of the last OPIDS_KEEP_MS: an entry is
 * forgotten only once it is both that many ops behind the newest one and
 * that much older (in event ts) than it.
 *
 * Where it lives: in memory, next to the room's state, and nowhere else.
 * The events table already holds (seq, ts, user, op_id) of every op, so the
 * memory is rebuilt from the tail of the log when a room loads
 * (libstore's store_load_opids reads it and calls opids_add_row) and the hot path writes
 * nothing extra: the check is one hash lookup, the insert one slot. Compaction and
 * retention therefore keep every event inside the window (store.h, roomctl compact).
 *
 * Keys are not stored: each (user, id) is kept as two independent 64-bit
 * hashes (128 bits), so an entry costs 40 bytes whatever the strings' length
 * (about 400 KiB for 10,000 ops) and a false "duplicate" needs a 128-bit
 * collision. Pure: no lws, no sqlite, no clock (ts comes with each add).
 */
#ifndef ROOMD_OPIDS_H
#define ROOMD_OPIDS_H

#include <stddef.h>
#include <stdint.h>
#include "retain.h"
#include "rk_common.h"

/* The window (libcommon/retain.h owns the numbers: retention and compaction
 * keep exactly the events this memory is rebuilt from). */
#define OPIDS_KEEP_OPS RK_IDEM_EVENTS
#define OPIDS_KEEP_MS RK_IDEM_MS

typedef struct opids opids;

/* Private: the layout (opids.c's top comment), here only so that the
 * white-box test (tests/unit/roomd/test_opids.c) can start the insertion
 * numbers near their wrap. Nothing else reads these fields. */
struct opids_entry {
	uint64_t h1, h2; /* two independent hashes of (user, id) */
	int64_t seq, ts;
};
struct opids {
	struct opids_entry *ring; /* cap entries, live ones at head .. head+count */
	size_t cap, head, count;
	uint32_t head_abs; /* insertion number of ring[head], mod 2^32 */
	uint32_t *slots;   /* nslots, each 0 or (insertion number + 1) */
	size_t nslots;
};

/* An empty memory, or NULL if out of memory. */
opids *opids_new(void) RK_WARN_UNUSED;
/* Free o and everything it holds; NULL is fine. */
void opids_free(opids *o);

/* The seq at which user committed an op with this id, or 0 if none is
 * remembered. user and id are NUL-terminated; this function can't fail. */
int64_t opids_find(const opids *o, const char *user, const char *id);

/* Remember that user's op id was committed at seq, with event time ts.
 * Adds must come in increasing seq order (they do: the room applies in seq
 * order); entries that fell out of the window are forgotten. Returns RK_OK,
 * or RK_ENOMEM and o is unchanged (the op is then simply not remembered: the
 * caller decides whether that is fatal). */
RK_WARN_UNUSED rk_err opids_add(opids *o, const char *user, const char *id, int64_t seq,
				int64_t ts);

/* opids_add as a libstore store_opid_fn (arg is the opids): the loader's
 * and room.c's rebuild of the memory from the log's tail. */
RK_WARN_UNUSED rk_err opids_add_row(void *o, const char *user, const char *id,
				    int64_t seq, int64_t ts);

/* Entries held, and bytes allocated for them (for /metrics and logs).
 * Cannot fail. */
size_t opids_count(const opids *o);
size_t opids_bytes(const opids *o);

#endif
