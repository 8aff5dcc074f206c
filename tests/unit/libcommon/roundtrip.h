/*
 * roundtrip.h - the canonical-form check of the libcommon codec tests
 * (test_op.c: ops; test_proto.c: client and server messages): decode `in`
 * (it must succeed), encode it to exactly `want`, then decode and encode
 * that again to the same bytes.
 *
 * A macro because every codec has its own types: DEC(text, m, msg, msglen)
 * returns 0 on success, else a code NAME() names; ENC(m) returns a malloc'd
 * string; FREE(m) frees a decoded m. m and m2 point to the caller's two
 * structs of the codec's type (m is freed, not zeroed by the macro: the
 * caller may check it afterwards). Needs cmocka.h and string.h.
 */
#ifndef RK_TEST_ROUNDTRIP_H
#define RK_TEST_ROUNDTRIP_H

#include "rk_common.h"
#include <stdlib.h>
#include <string.h>

#define RT_ROUNDTRIP(DEC, NAME, ENC, FREE, in, want, m, m2)                              \
	do {                                                                             \
		char msg_[RK_MSG_MSG_MAX + 1] = "";                                      \
		int err_ = (int)DEC((in), (m), msg_, sizeof(msg_));                      \
		if (err_ != 0)                                                           \
			fail_msg("decode of %s failed: %s (%s)", (in), NAME(err_),       \
				 msg_);                                                  \
		char *e1_ = ENC(m);                                                      \
		if (strcmp(e1_, (want)) != 0)                                            \
			fail_msg("encode of %s\n got  %s\n want %s", (in), e1_, (want)); \
		assert_int_equal(DEC(e1_, (m2), msg_, sizeof(msg_)), 0);                 \
		char *e2_ = ENC(m2);                                                     \
		assert_string_equal(e1_, e2_);                                           \
		free(e1_);                                                               \
		free(e2_);                                                               \
		FREE(m);                                                                 \
		FREE(m2);                                                                \
	} while (0)

#endif
