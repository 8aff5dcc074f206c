/*
 * rk_common.h - the few definitions every libcommon module shares:
 * the library-wide error enum, attribute macros, the free-and-NULL macro and
 * container_of.
 *
 * libcommon is pure: no libwebsockets, no sqlite, no roomd structs. It may
 * use cJSON and OpenSSL (HMAC only) and libc. Every binary, test and fuzzer
 * links it.
 */
#ifndef RK_COMMON_H
#define RK_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define RK_WARN_UNUSED __attribute__((warn_unused_result))
#define RK_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Free a pointer and set it to NULL, so a second free is harmless. */
#define RK_FREE(p)                                                                       \
	do {                                                                             \
		free(p);                                                                 \
		(p) = NULL;                                                              \
	} while (0)

#define RK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The struct of type that holds ptr as its member (an embedded list node,
 * timer or lws_sorted_usec_list_t back to its owner). */
#define container_of(ptr, type, member)                                                  \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Library-wide result codes. Functions say in their header which they return. */
typedef enum rk_err {
	RK_OK = 0,
	RK_ENOMEM,   /* allocation failed or a buffer cap was reached */
	RK_EBADJSON, /* not JSON: syntax, bad UTF-8, too deep, too big */
	RK_EBADMSG,  /* JSON, but not a well-formed message (missing/mistyped field) */
	RK_EUNKNOWN, /* a message whose `t` we do not know */
	RK_EREJECT,  /* a well-formed op message whose op is refused; see rk_reject */
	RK_ETOKEN,   /* token malformed, bad signature, expired, bad claims */
	RK_EIO,	     /* an OS or storage error */
	RK_ECORRUPT, /* stored data (snapshot, log row) does not decode */
} rk_err;

/* A static English description of an rk_err. This function can't fail. */
const char *rk_strerror(rk_err err);

/*
 * Limits of the protocol (PROTOCOL.md sections 1 and 3), in one table.
 * "chars" are Unicode code points of valid UTF-8.
 */
enum {
	RK_ROOM_ID_MAX = 64,	/* room id length, bytes (ASCII only) */
	RK_ID_MAX = 64,		/* op id, shape id, poll id, client id: bytes */
	RK_NAME_MAX = 32,	/* display name / token sub: chars */
	RK_NAME_BYTES = 32 * 4, /* worst-case UTF-8 bytes of a name */
	RK_SESSION_MAX = 64,	/* session id, bytes */
	RK_EPOCH_MAX = 64,	/* epoch string, bytes */
	RK_POINTS_MAX = 4096,	/* points per shape */
	RK_TEXT_MAX = 2000,	/* shape text, chat text: chars */
	RK_QUESTION_MAX = 200,	/* poll question: chars */
	RK_OPTION_MAX = 80,	/* poll option: chars */
	RK_OPTIONS_MIN = 2,
	RK_OPTIONS_MAX = 10,
	RK_COLORS = 8,		/* colors are 0..7 */
	RK_SIGNAL_MAX = 4096,	/* signal data, encoded bytes */
	RK_CHAT_KEEP = 200,	/* chat posts kept in the state */
	RK_JSON_DEPTH_MAX = 32, /* nesting accepted by the decoder */
	RK_MSG_MSG_MAX = 160,	/* human-readable msg in reject/error, bytes */
};

/* Roles of PROTOCOL.md section 6, ordered by power. */
typedef enum rk_role {
	RK_ROLE_NONE = 0,
	RK_ROLE_VIEWER,
	RK_ROLE_EDITOR,
	RK_ROLE_OWNER,
} rk_role;

/* "viewer", "editor", "owner" ("?" otherwise), and the inverse
 * (RK_ROLE_NONE if unknown). */
const char *rk_role_name(rk_role r);
rk_role rk_role_parse(const char *s);

/* Largest integer a JSON number may carry exactly (2^53 - 1): coordinates,
 * seqs, timestamps and choices must lie within +-RK_INT_MAX. */
#define RK_INT_MAX INT64_C(9007199254740991)

#endif
