/* json.c - bounded JSON parsing, typed getters and UTF-8 helpers. */
#include "json.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool rk_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned char c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false; /* continuation byte, overlong lead, > U+10FFFF */
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

size_t rk_utf8_len(const char *s, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}

bool rk_text_printable(const char *s, size_t n, size_t max_chars)
{
	if (n == 0 || !rk_utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return rk_utf8_len(s, n) <= max_chars;
}

/* Maximum nesting of arrays/objects, scanning outside strings. Linear, no
 * allocation: run before cJSON so a deep input never reaches its recursion.
 * Also sets *nul_escape if a string holds the escape \u0000, which cJSON
 * would silently cut the string at. */
static int json_depth(const char *s, size_t n, int limit, bool *nul_escape)
{
	int depth = 0, max = 0;
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\') {
				if (i + 5 < n && s[i + 1] == 'u' &&
				    memcmp(s + i + 2, "0000", 4) == 0)
					*nul_escape = true;
				i++;
			} else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max) {
				max = depth;
				if (max > limit)
					return max;
			}
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return max;
}

cJSON *rk_json_parse(const char *s, size_t n, size_t max_len, int max_depth, char *err,
		     size_t errlen)
{
	if (n > max_len) {
		snprintf(err, errlen, "message of %zu bytes exceeds %zu", n, max_len);
		return NULL;
	}
	if (!rk_utf8_valid(s, n)) {
		snprintf(err, errlen, "message is not valid UTF-8");
		return NULL;
	}
	if (memchr(s, '\0', n)) {
		snprintf(err, errlen, "message contains a NUL byte");
		return NULL;
	}
	bool nul_escape = false;
	if (json_depth(s, n, max_depth, &nul_escape) > max_depth) {
		snprintf(err, errlen, "JSON nested deeper than %d", max_depth);
		return NULL;
	}
	if (nul_escape) {
		snprintf(err, errlen, "JSON string contains \\u0000");
		return NULL;
	}
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, false);
	if (!root) {
		size_t off = end && end >= s ? (size_t)(end - s) : 0;
		snprintf(err, errlen, "malformed JSON near byte %zu", off);
		return NULL;
	}
	/* cJSON stops after one value: only whitespace may follow. */
	for (const char *p = end; p && p < s + n; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			snprintf(err, errlen,
				 "trailing data after JSON value at byte %zu",
				 (size_t)(p - s));
			cJSON_Delete(root);
			return NULL;
		}
	}
	return root;
}

bool rk_jint(const cJSON *node, int64_t min, int64_t max, int64_t *out)
{
	if (!cJSON_IsNumber(node))
		return false;
	double d = node->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < -(double)RK_INT_MAX ||
	    d > (double)RK_INT_MAX)
		return false;
	int64_t v = (int64_t)d;
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool rk_jget_int(const cJSON *obj, const char *field, int64_t min, int64_t max,
		 int64_t *out, char *err, size_t errlen)
{
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(obj, field);
	if (!node) {
		snprintf(err, errlen, "%s: missing", field);
		return false;
	}
	if (!rk_jint(node, min, max, out)) {
		snprintf(err, errlen, "%s: must be an integer in [%lld, %lld]", field,
			 (long long)min, (long long)max);
		return false;
	}
	return true;
}

bool rk_jget_str(const cJSON *obj, const char *field, size_t max_chars, bool allow_empty,
		 const char **out, char *err, size_t errlen)
{
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(obj, field);
	if (!node) {
		snprintf(err, errlen, "%s: missing", field);
		return false;
	}
	if (!cJSON_IsString(node) || !node->valuestring) {
		snprintf(err, errlen, "%s: must be a string", field);
		return false;
	}
	const char *s = node->valuestring;
	size_t n = strlen(s);
	if (n == 0 && !allow_empty) {
		snprintf(err, errlen, "%s: must not be empty", field);
		return false;
	}
	if (rk_utf8_len(s, n) > max_chars) {
		snprintf(err, errlen, "%s: longer than %zu characters", field, max_chars);
		return false;
	}
	*out = s;
	return true;
}

int rk_jfail(char *msg, size_t msglen, int code, const char *fmt, ...)
{
	if (msg && msglen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return code;
}
