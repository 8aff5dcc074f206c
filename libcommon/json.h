/*
 * json.h - the bounded JSON front door shared by every decoder.
 *
 * Wraps cJSON with the checks cJSON does not make: a size cap, a nesting cap
 * (checked by a linear pre-scan before any allocation), strict UTF-8, no
 * trailing garbage. Also small typed getters that name the offending field in
 * an error message, and UTF-8 helpers.
 */
#ifndef RK_JSON_H
#define RK_JSON_H

#include <cjson/cJSON.h>
#include "rk_common.h"

/*
 * Parse n bytes of JSON text. Returns the tree (caller frees with
 * cJSON_Delete) or NULL with RK_EBADJSON and a message in err (errlen bytes)
 * if the text is larger than max_len, nested deeper than max_depth, not valid
 * UTF-8, or not exactly one JSON value.
 */
cJSON *rk_json_parse(const char *s, size_t n, size_t max_len, int max_depth, char *err,
		     size_t errlen);

/* True if the n bytes at s are valid UTF-8 (no overlongs, no surrogates). */
bool rk_utf8_valid(const char *s, size_t n);
/* Number of code points in valid UTF-8 s of n bytes. */
size_t rk_utf8_len(const char *s, size_t n);
/* True if s is valid UTF-8 with 1..max_chars code points and no control
 * characters (< 0x20 or 0x7f): the rule for display names. */
bool rk_text_printable(const char *s, size_t n, size_t max_chars);

/*
 * Typed field getters. Each returns true and stores the value on success.
 * On failure each returns false and writes "<field>: <reason>" into err.
 * Strings are not copied: the pointer is into the cJSON tree.
 *  - rk_jget_int: the field is a number with an integer value within
 *    [min, max] (and within +-RK_INT_MAX).
 *  - rk_jget_str: a string of 1..max_chars code points (min 0 if allow_empty).
 */
bool rk_jget_int(const cJSON *obj, const char *field, int64_t min, int64_t max,
		 int64_t *out, char *err, size_t errlen);
bool rk_jget_str(const cJSON *obj, const char *field, size_t max_chars, bool allow_empty,
		 const char **out, char *err, size_t errlen);
/*
 * The one writer of every decoder's error message (json.c, op_codec.c,
 * proto.c, state.c): printf fmt into msg (msglen bytes, truncated; nothing
 * is written if msg is NULL or msglen is 0), then return code, so a
 * decoder says `return rk_jfail(msg, msglen, RK_EBADMSG, "%s: missing", f)`.
 * code is the caller's own enum (rk_err, rk_reject). This function can't
 * fail.
 */
int rk_jfail(char *msg, size_t msglen, int code, const char *fmt, ...) RK_PRINTF(4, 5);
/* The integer value of a number node within [min,max]; false otherwise. */
bool rk_jint(const cJSON *node, int64_t min, int64_t max, int64_t *out);

#endif
