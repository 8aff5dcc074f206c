/* roomid.c - room id validation and extraction from a request path. */
#include <string.h>
#include "roomid.h"

/* [A-Za-z0-9_-]: the characters allowed anywhere in an id. Written out
 * rather than with <ctype.h>, whose answers depend on the locale. */
static bool id_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool rk_roomid_valid(const char *s, size_t n)
{
	if (!s || n == 0 || n > RK_ROOM_ID_MAX)
		return false;
	/* The first character may not be '.', so "." and ".." and hidden file
	 * names are impossible; '.' is allowed after it. */
	if (!id_char((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!id_char(c) && c != '.')
			return false;
	}
	return true;
}

bool rk_roomid_validz(const char *s)
{
	if (!s)
		return false;
	/* Look at one byte past the maximum, so an over-long string is refused
	 * without scanning all of it. */
	return rk_roomid_valid(s, strnlen(s, RK_ROOM_ID_MAX + 1));
}

bool rk_roomid_from_path(const char *path, const char *prefix, char *out)
{
	if (out)
		out[0] = '\0';
	if (!path || !prefix || !out)
		return false;
	size_t plen = strlen(prefix);
	if (strncmp(path, prefix, plen) != 0)
		return false;
	const char *id = path + plen;
	/* The id runs to the query string or the end; anything else in it (a
	 * '/', '%', '#') makes it invalid below. */
	size_t n = strcspn(id, "?");
	if (!rk_roomid_valid(id, n))
		return false;
	memcpy(out, id, n);
	out[n] = '\0';
	return true;
}
