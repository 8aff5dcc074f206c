/* buf.c - growable, capped byte buffer with a sticky error. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"

void rk_buf_init(rk_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SIZE_MAX / 2;
	b->failed = false;
}

void rk_buf_free(rk_buf *b)
{
	size_t max = b->max;
	free(b->data);
	rk_buf_init(b, max);
}

void rk_buf_reset(rk_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

rk_err rk_buf_reserve(rk_buf *b, size_t n)
{
	if (b->failed)
		return RK_ENOMEM;
	if (n > b->max - b->len) {
		b->failed = true;
		return RK_ENOMEM;
	}
	size_t need = b->len + n + 1; /* + NUL */
	if (need <= b->cap)
		return RK_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return RK_ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	b->data[b->len] = '\0';
	return RK_OK;
}

void rk_buf_put(rk_buf *b, const void *p, size_t n)
{
	if (rk_buf_reserve(b, n) != RK_OK)
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void rk_buf_puts(rk_buf *b, const char *s)
{
	rk_buf_put(b, s, strlen(s));
}

void rk_buf_putc(rk_buf *b, char c)
{
	if (rk_buf_reserve(b, 1) != RK_OK)
		return;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void rk_buf_put_i64(rk_buf *b, int64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	rk_buf_put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void rk_buf_printf(rk_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		va_end(ap2);
		return;
	}
	if (rk_buf_reserve(b, (size_t)n) == RK_OK) {
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
		b->len += (size_t)n;
	}
	va_end(ap2);
}

void rk_buf_put_jstr(rk_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	/* Worst case every byte becomes \u00XX. Reserve the common case first. */
	rk_buf_putc(b, '"');
	size_t run = 0; /* start of a run of bytes that need no escaping */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		rk_buf_put(b, s + run, i - run);
		run = i + 1;
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t elen = 2;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		rk_buf_put(b, esc, elen);
	}
	rk_buf_put(b, s + run, n - run);
	rk_buf_putc(b, '"');
}

void rk_buf_put_jstrz(rk_buf *b, const char *s)
{
	rk_buf_put_jstr(b, s, strlen(s));
}

char *rk_buf_steal(rk_buf *b, size_t *len)
{
	if (b->failed || !b->data) {
		if (len)
			*len = 0;
		return NULL;
	}
	char *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
