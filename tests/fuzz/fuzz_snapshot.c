/*
 * fuzz_snapshot.c - rk_state_decode_text, the snapshot decoder roomd and
 * roomctl run on every stored `snapshots.state` (and clients on a welcome's
 * state).
 *
 * Invariants: decoding never crashes or leaks; a decoded state encodes to
 * bytes that decode again to the same bytes (encode(decode(encode(s))) ==
 * encode(s)), and its deep clone encodes to the same bytes.
 */
#include <string.h>
#include "buf.h"
#include "fuzz.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	rk_state *st = NULL;
	rk_err e = rk_state_decode_text((const char *)data, size, &st, err, sizeof(err));
	FUZZ_CHECK((e == RK_OK) == (st != NULL));
	if (e != RK_OK)
		return 0;
	rk_buf a, b, c;
	rk_buf_init(&a, 0);
	rk_buf_init(&b, 0);
	rk_buf_init(&c, 0);
	rk_state_encode(st, &a);
	FUZZ_CHECK(rk_buf_ok(&a) == RK_OK);
	rk_state *back = NULL;
	FUZZ_CHECK(rk_state_decode_text(a.data, a.len, &back, err, sizeof(err)) == RK_OK);
	rk_state_encode(back, &b);
	FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	rk_state *clone = rk_state_clone(st);
	FUZZ_CHECK(clone != NULL);
	rk_state_encode(clone, &c);
	FUZZ_CHECK(a.len == c.len && memcmp(a.data, c.data, a.len) == 0);
	rk_state_free(clone);
	rk_state_free(back);
	rk_state_free(st);
	rk_buf_free(&a);
	rk_buf_free(&b);
	rk_buf_free(&c);
	return 0;
}
