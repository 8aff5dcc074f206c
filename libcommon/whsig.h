/*
 * whsig.h - the webhook signature of PROTOCOL.md section 11:
 *   Roomkit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 * computed by roomd for every delivery and checked by `roomctl webhook
 * verify` (and by the receiver snippets of docs/WEBHOOKS.md). OpenSSL's
 * HMAC; pure functions, no I/O.
 */
#ifndef RK_WHSIG_H
#define RK_WHSIG_H

#include "rk_common.h"

/* Room for a header value: "t=" 20 digits ",v1=" 64 hex digits, NUL. */
#define RK_WHSIG_MAX 96

/* Sign body at time t_s: the header value into out (RK_WHSIG_MAX bytes).
 * false only if OpenSSL fails. */
bool rk_whsig_sign(const void *secret, size_t secret_len, int64_t t_s, const char *body,
		   size_t len, char *out);

typedef enum rk_whsig_result {
	RK_WHSIG_OK = 0,
	RK_WHSIG_MALFORMED, /* not "t=<digits>,v1=<64 hex>" (in any order) */
	RK_WHSIG_MISMATCH,  /* no v1 matches the body and secret */
	RK_WHSIG_STALE,	    /* t is more than tolerance_s away from now_s */
} rk_whsig_result;

/* Check a header value against body; tolerance_s < 0 skips the time check.
 * Several v1= entries are allowed (any may match); comparison is in
 * constant time. */
rk_whsig_result rk_whsig_verify(const void *secret, size_t secret_len, const char *header,
				const char *body, size_t len, int64_t now_s,
				int64_t tolerance_s);
const char *rk_whsig_strerror(rk_whsig_result r);

#endif
