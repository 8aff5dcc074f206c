/*
 * token.h - room tokens (PROTOCOL.md section 6): JWT HS256, signed and
 * verified with OpenSSL's HMAC; signatures compared in constant time.
 *
 * Claims: sub (user, a display name), room (a room id, or a prefix ending in
 * '*'; "*" alone covers every room), role, exp (seconds since the epoch).
 * The header must be {"alg":"HS256"} (with optional "typ":"JWT"); any other
 * alg, "none" included, is refused.
 */
#ifndef RK_TOKEN_H
#define RK_TOKEN_H

#include "rk_common.h"
#include "buf.h"

typedef struct rk_claims {
	char sub[RK_NAME_BYTES + 1];
	char room[RK_ROOM_ID_MAX + 2]; /* id, or prefix + '*' */
	rk_role role;
	int64_t exp; /* seconds since the epoch */
} rk_claims;

typedef enum rk_token_err {
	RK_TOK_OK = 0,
	RK_TOK_MALFORMED, /* not three base64url parts of JSON, bad claims */
	RK_TOK_BAD_ALG,	  /* alg other than HS256 (none included) */
	RK_TOK_BAD_SIG,	  /* signature does not match */
	RK_TOK_EXPIRED,	  /* exp <= now */
} rk_token_err;

const char *rk_token_strerror(rk_token_err e);

/* Sign claims with the secret; appends the token to b. RK_OK, or RK_EBADMSG
 * if the claims are invalid (bad sub/room/role), RK_ENOMEM. */
RK_WARN_UNUSED rk_err rk_token_sign(const void *secret, size_t secret_len,
				    const rk_claims *c, rk_buf *b);

/* Verify a token (n bytes) at time now_s (seconds). Fills *c on success. The
 * signature is checked before the claims are parsed. */
rk_token_err rk_token_verify(const void *secret, size_t secret_len, const char *tok,
			     size_t n, int64_t now_s, rk_claims *c);

/* True if the claims' room covers room (exact, or prefix match for "p*"). */
bool rk_token_covers(const rk_claims *c, const char *room);

/* Largest secret file accepted, bytes. */
#define RK_SECRET_MAX 4096

/*
 * Read a secret file the one way every binary does: the whole file, minus
 * trailing newlines (so `echo secret > f` works). On success returns RK_OK
 * and a malloc'd copy in *out (caller frees) of *len > 0 bytes. On failure
 * returns RK_EIO (unreadable, empty, larger than RK_SECRET_MAX) or RK_ENOMEM
 * with a one-line reason in err, and *out is NULL.
 */
rk_err rk_secret_load(const char *path, unsigned char **out, size_t *len, char *err,
		      size_t errlen);

/* base64url without padding; helpers also used by tests. */
void rk_b64url_encode(const void *p, size_t n, rk_buf *b);
/* Decodes into out (cap bytes); returns decoded length or -1 if invalid. */
long rk_b64url_decode(const char *s, size_t n, void *out, size_t cap);

#endif
