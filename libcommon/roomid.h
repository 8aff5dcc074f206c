/*
 * roomid.h - room id validation (PROTOCOL.md section 1): the only gate
 * between a URL and a file name.
 *
 * A valid id matches ^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$, so it can never
 * contain '/', start with '.', be "." or "..", or contain non-ASCII bytes.
 */
#ifndef RK_ROOMID_H
#define RK_ROOMID_H

#include "rk_common.h"

/* True if the n bytes at s form a valid room id. This function can't fail. */
bool rk_roomid_valid(const char *s, size_t n);
/* Same for a NUL-terminated string (NULL is invalid). */
bool rk_roomid_validz(const char *s);

/*
 * Extract the room id from a WebSocket request path "/ws/<room>" (an optional
 * query string "?..." is ignored). Copies the id, NUL-terminated, into out
 * (at least RK_ROOM_ID_MAX + 1 bytes). Returns false, leaving out empty, if the
 * path has another shape or the id is invalid. No percent-decoding is done:
 * an encoded byte is simply not a valid room id character.
 */
bool rk_roomid_from_path(const char *path, const char *prefix, char *out);

#endif
