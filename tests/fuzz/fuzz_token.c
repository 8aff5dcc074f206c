/*
 * fuzz_token.c - rk_token_verify (roomd's gate for every upgrade and /v1
 * request) and rk_token_sign (roomctl token), with the secret FUZZ_SECRET.
 *
 * The first input byte picks a mode (mod 3), the rest is its input:
 *  0: the bytes are a token: verify it.
 *  1: "<header JSON>\n<claims JSON>": the harness base64url-encodes both and
 *     signs them with the secret, so the fuzzer reaches the header and
 *     claims checks that a bad signature hides in mode 0.
 *  2: claims made from the bytes (sub, room, role, exp): sign them.
 * Invariants: verify never crashes; a token that verifies has claims that
 * rk_token_sign accepts and that verify back to the same claims; a token
 * signed by rk_token_sign verifies to its claims before exp, is expired at
 * exp and fails with a bad signature under another secret or with a
 * changed signature.
 */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "buf.h"
#include "fuzz.h"
#include "token.h"

static const char SECRET[] = FUZZ_SECRET;
#define SECRET_LEN (sizeof(SECRET) - 1)

static bool same_claims(const rk_claims *a, const rk_claims *b)
{
	return strcmp(a->sub, b->sub) == 0 && strcmp(a->room, b->room) == 0 &&
	       a->role == b->role && a->exp == b->exp;
}

/* c was signed into tok: check every verify outcome we can predict. */
static void check_signed(const rk_claims *c, const rk_buf *tok)
{
	rk_claims out;
	if (c->exp > FUZZ_NOW_S) {
		FUZZ_CHECK(rk_token_verify(SECRET, SECRET_LEN, tok->data, tok->len,
					   FUZZ_NOW_S, &out) == RK_TOK_OK);
		FUZZ_CHECK(same_claims(c, &out));
	}
	if (c->exp > INT64_MIN)
		FUZZ_CHECK(rk_token_verify(SECRET, SECRET_LEN, tok->data, tok->len,
					   c->exp, &out) == RK_TOK_EXPIRED);
	FUZZ_CHECK(rk_token_verify("other", 5, tok->data, tok->len, FUZZ_NOW_S, &out) ==
		   RK_TOK_BAD_SIG);
	/* Flip a bit of the signature's first character (always a data bit). */
	char *t = fuzz_strndup((const uint8_t *)tok->data, tok->len);
	char *dot = strrchr(t, '.');
	FUZZ_CHECK(dot && dot[1]);
	dot[1] = dot[1] == 'A' ? 'B' : 'A';
	FUZZ_CHECK(rk_token_verify(SECRET, SECRET_LEN, t, tok->len, FUZZ_NOW_S, &out) !=
		   RK_TOK_OK);
	free(t);
}

/* A verified token's claims re-sign and verify to themselves. */
static void check_verified(const rk_claims *c)
{
	rk_buf tok;
	rk_buf_init(&tok, 0);
	FUZZ_CHECK(rk_token_sign(SECRET, SECRET_LEN, c, &tok) == RK_OK);
	check_signed(c, &tok);
	rk_buf_free(&tok);
}

static void verify(const char *tok, size_t n)
{
	rk_claims c;
	if (rk_token_verify(SECRET, SECRET_LEN, tok, n, FUZZ_NOW_S, &c) == RK_TOK_OK) {
		FUZZ_CHECK(c.exp > FUZZ_NOW_S);
		check_verified(&c);
	}
}

static void sign_json(const char *s, size_t n)
{
	const char *nl = memchr(s, '\n', n);
	if (!nl)
		return;
	rk_buf tok;
	rk_buf_init(&tok, 0);
	rk_b64url_encode(s, (size_t)(nl - s), &tok);
	rk_buf_putc(&tok, '.');
	rk_b64url_encode(nl + 1, n - (size_t)(nl + 1 - s), &tok);
	unsigned char sig[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	FUZZ_CHECK(rk_buf_ok(&tok) == RK_OK);
	FUZZ_CHECK(HMAC(EVP_sha256(), SECRET, (int)SECRET_LEN,
			(const unsigned char *)tok.data, tok.len, sig, &len));
	rk_buf_putc(&tok, '.');
	rk_b64url_encode(sig, len, &tok);
	FUZZ_CHECK(rk_buf_ok(&tok) == RK_OK);
	verify(tok.data, tok.len);
	rk_buf_free(&tok);
}

/* Copy the next '\n'-terminated field of at most cap - 1 bytes. */
static void next_field(const char **p, const char *end, char *out, size_t cap)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	size_t k = n < cap - 1 ? n : cap - 1;
	memcpy(out, *p, k);
	out[k] = '\0';
	*p += n + (nl ? 1 : 0);
}

static void sign_claims(const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	rk_claims c;
	memset(&c, 0, sizeof(c));
	next_field(&p, end, c.sub, sizeof(c.sub));
	next_field(&p, end, c.room, sizeof(c.room));
	char rest[32];
	next_field(&p, end, rest, sizeof(rest));
	c.role = (rk_role)(rest[0] & 7);
	int64_t exp = 0;
	memcpy(&exp, rest + 1, strnlen(rest + 1, 8));
	c.exp = exp;
	rk_buf tok;
	rk_buf_init(&tok, 0);
	if (rk_token_sign(SECRET, SECRET_LEN, &c, &tok) == RK_OK)
		check_signed(&c, &tok);
	rk_buf_free(&tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *s = fuzz_strndup(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		verify(s, size - 1);
		break;
	case 1:
		sign_json(s, size - 1);
		break;
	default:
		sign_claims(s, size - 1);
		break;
	}
	free(s);
	return 0;
}
