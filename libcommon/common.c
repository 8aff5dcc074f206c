/* common.c - rk_strerror and role names. */
#include <string.h>
#include "rk_common.h"

const char *rk_strerror(rk_err err)
{
	switch (err) {
	case RK_OK:
		return "success";
	case RK_ENOMEM:
		return "out of memory or over a size limit";
	case RK_EBADJSON:
		return "malformed JSON";
	case RK_EBADMSG:
		return "malformed message";
	case RK_EUNKNOWN:
		return "unknown message type";
	case RK_EREJECT:
		return "op rejected";
	case RK_ETOKEN:
		return "bad token";
	case RK_EIO:
		return "I/O error";
	case RK_ECORRUPT:
		return "corrupt stored data";
	}
	return "unknown error";
}

static const char *const role_names[] = {"?", "viewer", "editor", "owner"};

const char *rk_role_name(rk_role r)
{
	if ((unsigned)r >= RK_ARRAY_LEN(role_names))
		return "?";
	return role_names[r];
}

rk_role rk_role_parse(const char *s)
{
	if (!s)
		return RK_ROLE_NONE;
	for (size_t i = 1; i < RK_ARRAY_LEN(role_names); i++)
		if (strcmp(s, role_names[i]) == 0)
			return (rk_role)i;
	return RK_ROLE_NONE;
}
