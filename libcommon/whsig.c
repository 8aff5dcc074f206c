/* whsig.c - webhook signatures (see whsig.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "whsig.h"

#define MAC_LEN 32

/* HMAC-SHA256 over "<t>.<body>" into mac. */
static bool mac_of(const void *secret, size_t secret_len, int64_t t_s, const char *body,
		   size_t len, unsigned char *mac)
{
	char ts[24];
	int tn = snprintf(ts, sizeof(ts), "%lld.", (long long)t_s);
	bool ok = false;
	EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string("digest", digest, 0),
	    OSSL_PARAM_construct_end(),
	};
	size_t out = 0;
	static const unsigned char empty[1];
	if (ctx && EVP_MAC_init(ctx, secret_len ? secret : empty, secret_len, params) &&
	    EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)tn) &&
	    EVP_MAC_update(ctx, (const unsigned char *)body, len) &&
	    EVP_MAC_final(ctx, mac, &out, MAC_LEN) && out == MAC_LEN)
		ok = true;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(alg);
	return ok;
}

bool rk_whsig_sign(const void *secret, size_t secret_len, int64_t t_s, const char *body,
		   size_t len, char *out)
{
	unsigned char mac[MAC_LEN];
	if (!mac_of(secret, secret_len, t_s, body, len, mac))
		return false;
	int n = snprintf(out, RK_WHSIG_MAX, "t=%lld,v1=", (long long)t_s);
	for (int i = 0; i < MAC_LEN; i++)
		snprintf(out + n + 2 * i, 3, "%02x", mac[i]);
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

rk_whsig_result rk_whsig_verify(const void *secret, size_t secret_len, const char *header,
				const char *body, size_t len, int64_t now_s,
				int64_t tolerance_s)
{
	if (!header)
		return RK_WHSIG_MALFORMED;
	/* Pass 1: the timestamp; pass 2: every v1. */
	bool have_t = false;
	long long t = 0;
	size_t nv1 = 0;
	for (const char *p = header; *p;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, ",");
		if (n > 2 && strncmp(p, "t=", 2) == 0) {
			char *end;
			t = strtoll(p + 2, &end, 10);
			if (end != p + n || have_t || t < 0)
				return RK_WHSIG_MALFORMED;
			have_t = true;
		} else if (n == 3 + 2 * MAC_LEN && strncmp(p, "v1=", 3) == 0) {
			nv1++;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (!have_t || !nv1)
		return RK_WHSIG_MALFORMED;
	unsigned char want[MAC_LEN];
	if (!mac_of(secret, secret_len, t, body, len, want))
		return RK_WHSIG_MISMATCH;
	bool match = false;
	for (const char *p = header; *p;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, ",");
		if (n == 3 + 2 * MAC_LEN && strncmp(p, "v1=", 3) == 0) {
			unsigned char got[MAC_LEN];
			bool hex = true;
			for (int i = 0; i < MAC_LEN; i++) {
				int hi = hexval(p[3 + 2 * i]), lo = hexval(p[4 + 2 * i]);
				hex = hex && hi >= 0 && lo >= 0;
				got[i] = (unsigned char)((hi & 15) << 4 | (lo & 15));
			}
			if (hex && CRYPTO_memcmp(want, got, MAC_LEN) == 0)
				match = true;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (!match)
		return RK_WHSIG_MISMATCH;
	if (tolerance_s >= 0 && (t > now_s + tolerance_s || t < now_s - tolerance_s))
		return RK_WHSIG_STALE;
	return RK_WHSIG_OK;
}

const char *rk_whsig_strerror(rk_whsig_result r)
{
	switch (r) {
	case RK_WHSIG_OK:
		return "signature valid";
	case RK_WHSIG_MALFORMED:
		return "malformed signature header: want t=<unix seconds>,v1=<64 hex "
		       "digits>";
	case RK_WHSIG_MISMATCH:
		return "signature does not match the body and secret";
	case RK_WHSIG_STALE:
		return "signature timestamp outside the tolerance";
	}
	return "?";
}
