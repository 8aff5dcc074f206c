/*
 * buf.h - a growable byte buffer with a size cap and a sticky error.
 *
 * Owns its bytes. Every append is a no-op once the buffer has failed (out of
 * memory or past its cap), so an encoder can append freely and check
 * rk_buf_ok() once at the end. The bytes are always NUL-terminated (the NUL is
 * not counted in len) so the content can be used as a C string when it is
 * text.
 */
#ifndef RK_BUF_H
#define RK_BUF_H

#include "rk_common.h"

typedef struct rk_buf {
	char *data;  /* the bytes; NULL until the first append */
	size_t len;  /* bytes used, excluding the trailing NUL */
	size_t cap;  /* bytes allocated */
	size_t max;  /* cap on len; 0 means SIZE_MAX / 2 */
	bool failed; /* sticky: an append failed, content is incomplete */
} rk_buf;

/* Initialise an empty buffer that refuses to grow beyond max bytes
 * (0 = practically unbounded). Allocates nothing. This function can't fail. */
void rk_buf_init(rk_buf *b, size_t max);

/* Release the bytes and reset to the empty state (the cap is kept). */
void rk_buf_free(rk_buf *b);

/* Forget the content but keep the allocation; clears the failed flag. */
void rk_buf_reset(rk_buf *b);

/* Make room for n more bytes. Returns RK_OK or RK_ENOMEM (and sets failed). */
RK_WARN_UNUSED rk_err rk_buf_reserve(rk_buf *b, size_t n);

/* Append helpers; on failure they set b->failed and append nothing. */
void rk_buf_put(rk_buf *b, const void *p, size_t n);
void rk_buf_puts(rk_buf *b, const char *s);
void rk_buf_putc(rk_buf *b, char c);
void rk_buf_put_i64(rk_buf *b, int64_t v);
void rk_buf_printf(rk_buf *b, const char *fmt, ...) RK_PRINTF(2, 3);

/* Append s (n bytes, assumed valid UTF-8) as a JSON string literal with
 * quotes, escaping ", \ and control characters. */
void rk_buf_put_jstr(rk_buf *b, const char *s, size_t n);
/* Same for a NUL-terminated string. */
void rk_buf_put_jstrz(rk_buf *b, const char *s);

/* RK_OK if no append has failed, else RK_ENOMEM. */
static inline rk_err rk_buf_ok(const rk_buf *b)
{
	return b->failed ? RK_ENOMEM : RK_OK;
}

/* Take ownership of the bytes (caller frees); the buffer becomes empty.
 * Returns NULL if the buffer is empty or failed. */
char *rk_buf_steal(rk_buf *b, size_t *len);

#endif
