/* test_token.c - room tokens: what a holder of the secret signs verifies,
 * and nothing else does (forged, altered, truncated, expired, wrong alg, bad
 * claims), with the exact error each case gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "token.h"

#define SECRET "k3y-for-tests"
#define NOW INT64_C(1700000000)

/* A reference token made with Python's hmac + base64 for these claims. */
#define REF_TOKEN                                                                        \
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                          \
	"eyJzdWIiOiJhbGljZSIsInJvb20iOiJ0ZWFtLTEiLCJyb2xlIjoiZWRpdG9yIiwiZXhwIjoy"       \
	"MDAwMDAwMDAwfQ.k6PPizYHqc51_Gi5omes3bXuF0ViIq_l-zzEpg72hNk"

static rk_claims claims(const char *sub, const char *room, rk_role role, int64_t exp)
{
	rk_claims c;
	memset(&c, 0, sizeof(c));
	strncpy(c.sub, sub, sizeof(c.sub) - 1);
	strncpy(c.room, room, sizeof(c.room) - 1);
	c.role = role;
	c.exp = exp;
	return c;
}

/* Sign claims with SECRET; the caller frees the token. */
static char *sign(const rk_claims *c)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	assert_int_equal(rk_token_sign(SECRET, strlen(SECRET), c, &b), RK_OK);
	return rk_buf_steal(&b, NULL);
}

static rk_token_err verify(const char *tok, rk_claims *out)
{
	return rk_token_verify(SECRET, strlen(SECRET), tok, strlen(tok), NOW, out);
}

/* Build a token by hand from raw header and payload text (encoded as given,
 * NOT validated), signed correctly with secret over "h.p" - so a test can
 * prove the verifier refuses a header or claims even with a good signature.
 * extra_h / extra_p are appended to the encoded parts before signing
 * (e.g. "=" padding). */
static char *forge_ex(const char *secret, const char *header, const char *payload,
		      const char *extra_h, const char *extra_p)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_b64url_encode(header, strlen(header), &b);
	rk_buf_puts(&b, extra_h);
	rk_buf_putc(&b, '.');
	rk_b64url_encode(payload, strlen(payload), &b);
	rk_buf_puts(&b, extra_p);
	unsigned char mac[32];
	unsigned int len = 0;
	assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret),
			     (const unsigned char *)b.data, b.len, mac, &len));
	assert_int_equal(len, 32);
	rk_buf_putc(&b, '.');
	rk_b64url_encode(mac, sizeof(mac), &b);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	return rk_buf_steal(&b, NULL);
}

static char *forge(const char *header, const char *payload)
{
	return forge_ex(SECRET, header, payload, "", "");
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define GOOD_CLAIMS                                                                      \
	"{\"sub\":\"bob\",\"room\":\"r1\",\"role\":\"owner\",\"exp\":1800000000}"

static rk_token_err verify_forged(const char *header, const char *payload)
{
	char *t = forge(header, payload);
	rk_claims c;
	rk_token_err e = verify(t, &c);
	free(t);
	return e;
}

/* ---- base64url ---- */

static void test_b64url_vectors(void **state)
{
	(void)state;
	/* RFC 4648 section 10, without padding. */
	static const char *const vec[][2] = {
	    {"", ""},
	    {"f", "Zg"},
	    {"fo", "Zm8"},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg"},
	    {"fooba", "Zm9vYmE"},
	    {"foobar", "Zm9vYmFy"},
	    {"\xfb\xff", "-_8"},
	    {"\xff\xff\xff", "____"},
	};
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		rk_buf b;
		rk_buf_init(&b, 0);
		rk_b64url_encode(vec[i][0], strlen(vec[i][0]), &b);
		assert_string_equal(b.data ? b.data : "", vec[i][1]);
		rk_buf_free(&b);
		char out[16];
		long n = rk_b64url_decode(vec[i][1], strlen(vec[i][1]), out, sizeof(out));
		assert_int_equal(n, (long)strlen(vec[i][0]));
		assert_memory_equal(out, vec[i][0], (size_t)n);
	}
}

static void test_b64url_decode_strict(void **state)
{
	(void)state;
	char out[16];
	static const char *const bad[] = {
	    "Z",      /* 4k+1 characters cannot be a byte string */
	    "Zm9vY",  /* idem */
	    "Zg==",   /* padding */
	    "Zm8=",   /* padding */
	    "Zm+v",   /* '+' is standard base64, not base64url */
	    "Zm/v",   /* '/' idem */
	    "Zm9 v",  /* whitespace */
	    "Zm9v\n", /* newline */
	    "Zh",     /* non-zero unused bits: a second spelling of "f" */
	    "Zm9",    /* idem for "fo" */
	    "Zm.v",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (rk_b64url_decode(bad[i], strlen(bad[i]), out, sizeof(out)) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(rk_b64url_decode("Zm\0v", 4, out, sizeof(out)), -1);
	/* Too small an output buffer is refused, not overrun. */
	assert_int_equal(rk_b64url_decode("Zm9vYmFy", 8, out, 5), -1);
	assert_int_equal(rk_b64url_decode("Zm9vYmFy", 8, out, 6), 6);
}

/* ---- sign and verify ---- */

static void test_round_trip(void **state)
{
	(void)state;
	rk_claims in = claims("alice", "team-1", RK_ROLE_EDITOR, NOW + 60);
	char *t = sign(&in);
	rk_claims out;
	assert_int_equal(verify(t, &out), RK_TOK_OK);
	assert_string_equal(out.sub, "alice");
	assert_string_equal(out.room, "team-1");
	assert_int_equal(out.role, RK_ROLE_EDITOR);
	assert_int_equal(out.exp, NOW + 60);
	assert_true(rk_token_covers(&out, "team-1"));
	free(t);

	/* Every role, a pattern room, a name with non-ASCII characters and
	 * characters that need escaping in JSON. */
	static const char *const subs[] = {"\xc3\xa9ve", "quo\"te\\back", "a b", "x"};
	static const char *const rooms[] = {"*", "team-*", "r.1", "R_2"};
	for (int r = RK_ROLE_VIEWER; r <= RK_ROLE_OWNER; r++) {
		for (size_t i = 0; i < 4; i++) {
			in = claims(subs[i], rooms[i], (rk_role)r, NOW + 1);
			t = sign(&in);
			assert_int_equal(verify(t, &out), RK_TOK_OK);
			assert_string_equal(out.sub, subs[i]);
			assert_string_equal(out.room, rooms[i]);
			assert_int_equal(out.role, r);
			free(t);
		}
	}
}

/* The same bytes as an independent JWT implementation: tokens interoperate. */
static void test_reference_token(void **state)
{
	(void)state;
	rk_claims in = claims("alice", "team-1", RK_ROLE_EDITOR, 2000000000);
	char *t = sign(&in);
	assert_string_equal(t, REF_TOKEN);
	free(t);
	rk_claims out;
	assert_int_equal(verify(REF_TOKEN, &out), RK_TOK_OK);

	/* The jwt.io example: the signature is good, the claims are not ours. */
	static const char jwtio[] =
	    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6"
	    "IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_"
	    "adQssw5c";
	const char *key = "your-256-bit-secret";
	assert_int_equal(
	    rk_token_verify(key, strlen(key), jwtio, strlen(jwtio), NOW, &out),
	    RK_TOK_MALFORMED);
	assert_int_equal(verify(jwtio, &out), RK_TOK_BAD_SIG);
}

static void test_expired(void **state)
{
	(void)state;
	rk_claims out;
	static const int64_t deltas[] = {-100000, -1, 0};
	for (size_t i = 0; i < 3; i++) {
		rk_claims in = claims("alice", "r", RK_ROLE_VIEWER, NOW + deltas[i]);
		char *t = sign(&in);
		assert_int_equal(verify(t, &out), RK_TOK_EXPIRED);
		assert_string_equal(out.sub, ""); /* nothing leaks on failure */
		free(t);
	}
	rk_claims in = claims("alice", "r", RK_ROLE_VIEWER, NOW + 1);
	char *t = sign(&in);
	assert_int_equal(verify(t, &out), RK_TOK_OK);
	free(t);
	/* Negative and zero exp are valid numbers, just long expired. */
	assert_int_equal(verify_forged(HS256,
				       "{\"sub\":\"a\",\"room\":\"r\",\"role\":\"owner\","
				       "\"exp\":-5}"),
			 RK_TOK_EXPIRED);
}

static void test_bad_signature(void **state)
{
	(void)state;
	rk_claims in = claims("alice", "r", RK_ROLE_OWNER, NOW + 60);
	char *t = sign(&in);
	char *sig = strrchr(t, '.') + 1;
	rk_claims out;
	/* Flip the first character (its 6 bits are all significant). */
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	assert_int_equal(verify(t, &out), RK_TOK_BAD_SIG);
	free(t);

	/* A changed payload under the old signature. */
	t = sign(&in);
	char *p = strchr(t, '.') + 1;
	p[2] = p[2] == 'A' ? 'B' : 'A';
	assert_int_not_equal(verify(t, &out), RK_TOK_OK);
	free(t);

	/* Signature of another token. */
	char *t1 = sign(&in);
	rk_claims in2 = claims("alice", "r", RK_ROLE_VIEWER, NOW + 60);
	char *t2 = sign(&in2);
	char *s1 = strrchr(t1, '.') + 1, *s2 = strrchr(t2, '.') + 1;
	assert_int_equal(strlen(s1), 43);
	memcpy(s2, s1, 43);
	assert_int_equal(verify(t2, &out), RK_TOK_BAD_SIG);
	free(t1);
	free(t2);
}

static void test_wrong_secret(void **state)
{
	(void)state;
	rk_claims in = claims("alice", "r", RK_ROLE_OWNER, NOW + 60);
	char *t = sign(&in);
	rk_claims out;
	const char *other = "k3y-for-testS";
	assert_int_equal(rk_token_verify(other, strlen(other), t, strlen(t), NOW, &out),
			 RK_TOK_BAD_SIG);
	/* A prefix of the secret, and an empty secret, are not the secret. */
	assert_int_equal(
	    rk_token_verify(SECRET, strlen(SECRET) - 1, t, strlen(t), NOW, &out),
	    RK_TOK_BAD_SIG);
	assert_int_equal(rk_token_verify("", 0, t, strlen(t), NOW, &out), RK_TOK_BAD_SIG);
	assert_int_equal(rk_token_verify(NULL, 0, t, strlen(t), NOW, &out),
			 RK_TOK_BAD_SIG);
	free(t);
	/* Nobody signs with an empty secret either. */
	rk_buf b;
	rk_buf_init(&b, 0);
	assert_int_equal(rk_token_sign("", 0, &in, &b), RK_EBADMSG);
	assert_int_equal(b.len, 0);
	rk_buf_free(&b);
}

static void test_covers(void **state)
{
	(void)state;
	rk_claims c = claims("a", "team-1", RK_ROLE_OWNER, 0);
	assert_true(rk_token_covers(&c, "team-1"));
	assert_false(rk_token_covers(&c, "team-2"));
	assert_false(rk_token_covers(&c, "team-10"));
	assert_false(rk_token_covers(&c, "team-"));
	assert_false(rk_token_covers(&c, "*"));
	assert_false(rk_token_covers(&c, ""));
	assert_false(rk_token_covers(&c, NULL));
	assert_false(rk_token_covers(NULL, "team-1"));

	c = claims("a", "team-*", RK_ROLE_OWNER, 0);
	assert_true(rk_token_covers(&c, "team-1"));
	assert_true(rk_token_covers(&c, "team-abc.d"));
	assert_true(rk_token_covers(&c, "team-"));
	assert_false(rk_token_covers(&c, "teamx"));
	assert_false(rk_token_covers(&c, "team"));
	assert_false(rk_token_covers(&c, "xteam-1"));
	assert_false(rk_token_covers(&c, "*"));
	assert_false(rk_token_covers(&c, "team-/../x"));
	assert_false(rk_token_covers(&c, "team-1/x"));

	c = claims("a", "*", RK_ROLE_OWNER, 0);
	assert_true(rk_token_covers(&c, "*")); /* the room list */
	assert_true(rk_token_covers(&c, "anything"));
	assert_true(rk_token_covers(&c, "a.b"));
	assert_false(rk_token_covers(&c, ""));
	assert_false(rk_token_covers(&c, ".."));
	assert_false(rk_token_covers(&c, "a/b"));

	c = claims("a", "", RK_ROLE_OWNER, 0);
	assert_false(rk_token_covers(&c, ""));
	assert_false(rk_token_covers(&c, "a"));
}

/* A token for another room verifies (it is genuine) but does not cover. */
static void test_wrong_room(void **state)
{
	(void)state;
	rk_claims in = claims("alice", "room-a", RK_ROLE_OWNER, NOW + 60);
	char *t = sign(&in);
	rk_claims out;
	assert_int_equal(verify(t, &out), RK_TOK_OK);
	assert_false(rk_token_covers(&out, "room-b"));
	assert_false(rk_token_covers(&out, "*"));
	free(t);
}

static void test_alg_none(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 0);
	const char *h = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
	rk_b64url_encode(h, strlen(h), &b);
	rk_buf_putc(&b, '.');
	rk_b64url_encode(GOOD_CLAIMS, strlen(GOOD_CLAIMS), &b);
	rk_buf_putc(&b, '.');
	rk_claims out;
	assert_int_equal(verify(b.data, &out), RK_TOK_BAD_ALG);
	/* "none" with a signature that is valid for HS256 is still refused. */
	rk_buf_free(&b);
	assert_int_equal(verify_forged(h, GOOD_CLAIMS), RK_TOK_BAD_ALG);
}

static void test_bad_alg(void **state)
{
	(void)state;
	static const char *const headers[] = {
	    "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
	    "{\"alg\":\"HS384\"}",
	    "{\"alg\":\"RS256\"}",
	    "{\"alg\":\"hs256\"}",
	    "{\"alg\":\"HS256 \"}",
	    "{\"alg\":\"NONE\"}",
	    "{\"alg\":\"\"}",
	    "{\"alg\":null}",
	    "{\"alg\":256}",
	    "{\"alg\":[\"HS256\"]}",
	    "{\"ALG\":\"HS256\"}",
	    "{\"typ\":\"JWT\"}",
	    "{}",
	};
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
		if (verify_forged(headers[i], GOOD_CLAIMS) != RK_TOK_BAD_ALG)
			fail_msg("header %s not refused as BAD_ALG", headers[i]);
	/* A header with no typ is fine. */
	assert_int_equal(verify_forged("{\"alg\":\"HS256\"}", GOOD_CLAIMS), RK_TOK_OK);
	assert_int_equal(
	    verify_forged("{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"1\"}",
			  GOOD_CLAIMS),
	    RK_TOK_OK);
}

static void test_bad_header(void **state)
{
	(void)state;
	static const char *const headers[] = {
	    "{\"alg\":\"HS256\",\"typ\":\"JWS\"}",
	    "{\"alg\":\"HS256\",\"typ\":null}",
	    "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
	    "{\"alg\":\"HS256\",\"alg\":\"none\"}", /* duplicate key */
	    "[\"HS256\"]",
	    "\"HS256\"",
	    "{\"alg\":\"HS256\"",
	    "{\"alg\":\"HS256\"} x",
	    "not json",
	    "",
	    "{\"alg\":\"HS256\",\"x\":\"\xc3\x28\"}",	      /* bad UTF-8 */
	    "{\"alg\":\"HS256\",\"x\":[[[[[[[[[[]]]]]]]]]]}", /* too deep */
	};
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
		if (verify_forged(headers[i], GOOD_CLAIMS) != RK_TOK_MALFORMED)
			fail_msg("header %s not refused as MALFORMED", headers[i]);
}

/* Every strict prefix of a good token is refused. */
static void test_truncated(void **state)
{
	(void)state;
	rk_claims in = claims("alice", "r", RK_ROLE_OWNER, NOW + 60);
	char *t = sign(&in);
	size_t n = strlen(t);
	rk_claims out;
	for (size_t k = 0; k < n; k++) {
		rk_token_err e = rk_token_verify(SECRET, strlen(SECRET), t, k, NOW, &out);
		if (e != RK_TOK_MALFORMED)
			fail_msg("prefix of %zu bytes: %s", k, rk_token_strerror(e));
	}
	assert_int_equal(rk_token_verify(SECRET, strlen(SECRET), t, n, NOW, &out),
			 RK_TOK_OK);
	assert_int_equal(rk_token_verify(SECRET, strlen(SECRET), NULL, 0, NOW, &out),
			 RK_TOK_MALFORMED);
	free(t);
}

static void test_extra_parts(void **state)
{
	(void)state;
	rk_claims in = claims("alice", "r", RK_ROLE_OWNER, NOW + 60);
	char *t = sign(&in);
	size_t n = strlen(t);
	char *x = malloc(n + 8);
	rk_claims out;
	static const char *const suffixes[] = {".", ".x", "..", " ", "\n", "A", "\0"};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		memcpy(x, t, n);
		size_t sl = suffixes[i][0] ? strlen(suffixes[i]) : 1;
		memcpy(x + n, suffixes[i], sl);
		rk_token_err e =
		    rk_token_verify(SECRET, strlen(SECRET), x, n + sl, NOW, &out);
		if (e != RK_TOK_MALFORMED)
			fail_msg("suffix %zu: %s", i, rk_token_strerror(e));
	}
	/* A leading dot, and dots only. */
	x[0] = '.';
	memcpy(x + 1, t, n + 1);
	assert_int_equal(verify(x, &out), RK_TOK_MALFORMED);
	assert_int_equal(verify("..", &out), RK_TOK_MALFORMED);
	assert_int_equal(verify("...", &out), RK_TOK_MALFORMED);
	assert_int_equal(verify("a.b.c.d", &out), RK_TOK_MALFORMED);
	free(x);
	free(t);
}

static void test_padding_and_bad_chars(void **state)
{
	(void)state;
	rk_claims out;
	/* Padding in the header or payload, even when it is what was signed. */
	char *t = forge_ex(SECRET, "{\"alg\":\"HS256\"}", GOOD_CLAIMS, "=", "");
	assert_int_equal(verify(t, &out), RK_TOK_MALFORMED);
	free(t);
	t = forge_ex(SECRET, HS256, GOOD_CLAIMS, "", "==");
	assert_int_equal(verify(t, &out), RK_TOK_MALFORMED);
	free(t);

	rk_claims in = claims("alice", "r", RK_ROLE_OWNER, NOW + 60);
	t = sign(&in);
	size_t n = strlen(t);
	char *x = malloc(n + 2);
	/* Padding after the signature. */
	memcpy(x, t, n);
	memcpy(x + n, "=", 2);
	assert_int_equal(verify(x, &out), RK_TOK_MALFORMED);
	/* A character outside the alphabet anywhere in the signature. */
	char *sig = strrchr(t, '.') + 1;
	static const char bad[] = {'+', '/', '=', ' ', '*', '\x80'};
	for (size_t i = 0; i < sizeof(bad); i++) {
		memcpy(x, t, n + 1);
		x[(size_t)(sig - t) + 5] = bad[i];
		assert_int_equal(verify(x, &out), RK_TOK_MALFORMED);
	}
	/* A second spelling of the same signature (unused low bits set). */
	memcpy(x, t, n + 1);
	char *last = x + n - 1;
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t v = (size_t)(strchr(alpha, *last) - alpha);
	*last = alpha[v | 1];
	if (v != (v | 1))
		assert_int_equal(verify(x, &out), RK_TOK_MALFORMED);
	*last = alpha[v | 2];
	if (v != (v | 2))
		assert_int_equal(verify(x, &out), RK_TOK_MALFORMED);
	free(x);
	free(t);
}

static void test_bad_claims(void **state)
{
	(void)state;
#define P(sub, room, role, exp)                                                          \
	"{\"sub\":" sub ",\"room\":" room ",\"role\":" role ",\"exp\":" exp "}"
	static const char *const payloads[] = {
	    /* role */
	    P("\"a\"", "\"r\"", "\"admin\"", "1800000000"),
	    P("\"a\"", "\"r\"", "\"Owner\"", "1800000000"),
	    P("\"a\"", "\"r\"", "\"\"", "1800000000"),
	    P("\"a\"", "\"r\"", "1", "1800000000"),
	    P("\"a\"", "\"r\"", "null", "1800000000"),
	    /* exp */
	    "{\"sub\":\"a\",\"room\":\"r\",\"role\":\"owner\"}",
	    P("\"a\"", "\"r\"", "\"owner\"", "\"1800000000\""),
	    P("\"a\"", "\"r\"", "\"owner\"", "1800000000.5"),
	    P("\"a\"", "\"r\"", "\"owner\"", "1e300"),
	    P("\"a\"", "\"r\"", "\"owner\"", "9007199254740993"),
	    P("\"a\"", "\"r\"", "\"owner\"", "null"),
	    P("\"a\"", "\"r\"", "\"owner\"", "true"),
	    /* sub */
	    "{\"room\":\"r\",\"role\":\"owner\",\"exp\":1800000000}",
	    P("\"\"", "\"r\"", "\"owner\"", "1800000000"),
	    P("\"a\\nb\"", "\"r\"", "\"owner\"", "1800000000"),
	    P("\"a\\u007fb\"", "\"r\"", "\"owner\"", "1800000000"),
	    P("\"ab\\u0000cd\"", "\"r\"", "\"owner\"", "1800000000"),
	    P("\"abcdefghijklmnopqrstuvwxyz0123456\"", "\"r\"", "\"owner\"",
	      "1800000000"),
	    P("7", "\"r\"", "\"owner\"", "1800000000"),
	    P("[\"a\"]", "\"r\"", "\"owner\"", "1800000000"),
	    /* room */
	    "{\"sub\":\"a\",\"role\":\"owner\",\"exp\":1800000000}",
	    P("\"a\"", "\"\"", "\"owner\"", "1800000000"),
	    P("\"a\"", "\"..\"", "\"owner\"", "1800000000"),
	    P("\"a\"", "\"../x\"", "\"owner\"", "1800000000"),
	    P("\"a\"", "\"a/b\"", "\"owner\"", "1800000000"),
	    P("\"a\"", "\"**\"", "\"owner\"", "1800000000"),
	    P("\"a\"", "\"a*b\"", "\"owner\"", "1800000000"),
	    P("\"a\"", "\".x*\"", "\"owner\"", "1800000000"),
	    P("\"a\"", "\"r\\u0000x\"", "\"owner\"", "1800000000"),
	    P("\"a\"", "\"r1\"", "\"owner\"", "1800000000") "x",
	    /* 65 characters, and a 64-character prefix with '*' */
	    P("\"a\"",
	      "\"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-x\"",
	      "\"owner\"", "1800000000"),
	    P("\"a\"",
	      "\"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-*\"",
	      "\"owner\"", "1800000000"),
	    /* structure */
	    "{\"sub\":\"a\",\"sub\":\"b\",\"room\":\"r\",\"role\":\"owner\",\"exp\":"
	    "1800000000}",
	    "{\"sub\":\"a\",\"room\":\"*\",\"room\":\"r\",\"role\":\"owner\",\"exp\":"
	    "1800000000}",
	    "[]",
	    "null",
	    "",
	    "{\"sub\":\"a\",\"room\":\"r\",\"role\":\"owner\",\"exp\":1800000000",
	};
	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		rk_token_err e = verify_forged(HS256, payloads[i]);
		if (e != RK_TOK_MALFORMED)
			fail_msg("claims %s: %s", payloads[i], rk_token_strerror(e));
	}
	/* The boundaries that are accepted. */
	static const char *const ok[] = {
	    P("\"abcdefghijklmnopqrstuvwxyz012345\"", "\"r\"", "\"viewer\"",
	      "1800000000"),
	    P("\"a\"",
	      "\"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-\"",
	      "\"owner\"", "1800000000"),
	    P("\"a\"",
	      "\"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_*\"",
	      "\"owner\"", "1800000000"),
	    P("\"a\"", "\"*\"", "\"editor\"", "9007199254740991"),
	    P("\"a\"", "\"r\"", "\"owner\"", "1.8e9"),
	    P("\"\\u00e9\"", "\"r\"", "\"owner\"", "1800000000"),
	    "{\"exp\":1800000000,\"role\":\"owner\",\"room\":\"r\",\"sub\":\"a\",\"iat\":"
	    "1}",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		rk_token_err e = verify_forged(HS256, ok[i]);
		if (e != RK_TOK_OK)
			fail_msg("claims %s: %s", ok[i], rk_token_strerror(e));
	}
#undef P
}

static void test_sign_refuses_bad_claims(void **state)
{
	(void)state;
	const rk_claims bad[] = {
	    claims("", "r", RK_ROLE_OWNER, NOW),
	    claims("a\nb", "r", RK_ROLE_OWNER, NOW),
	    claims("abcdefghijklmnopqrstuvwxyz0123456", "r", RK_ROLE_OWNER, NOW),
	    claims("\xc3\x28", "r", RK_ROLE_OWNER, NOW),
	    claims("a", "", RK_ROLE_OWNER, NOW),
	    claims("a", "..", RK_ROLE_OWNER, NOW),
	    claims("a", "a/b", RK_ROLE_OWNER, NOW),
	    claims("a", "**", RK_ROLE_OWNER, NOW),
	    claims("a", "r", RK_ROLE_NONE, NOW),
	    claims("a", "r", (rk_role)7, NOW),
	    claims("a", "r", RK_ROLE_OWNER, RK_INT_MAX + 1),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rk_buf b;
		rk_buf_init(&b, 0);
		if (rk_token_sign(SECRET, strlen(SECRET), &bad[i], &b) != RK_EBADMSG)
			fail_msg("case %zu signed", i);
		assert_int_equal(b.len, 0);
		rk_buf_free(&b);
	}
	/* Unterminated fields are refused, not over-read. */
	rk_claims c = claims("a", "r", RK_ROLE_OWNER, NOW);
	memset(c.sub, 'a', sizeof(c.sub));
	rk_buf b;
	rk_buf_init(&b, 0);
	assert_int_equal(rk_token_sign(SECRET, strlen(SECRET), &c, &b), RK_EBADMSG);
	c = claims("a", "r", RK_ROLE_OWNER, NOW);
	memset(c.room, 'a', sizeof(c.room));
	assert_int_equal(rk_token_sign(SECRET, strlen(SECRET), &c, &b), RK_EBADMSG);
	assert_false(rk_token_covers(&c, "aaaa"));
	rk_buf_free(&b);
}

/* The token is appended whole, or not at all when the buffer is capped. */
static void test_sign_appends(void **state)
{
	(void)state;
	rk_claims in = claims("alice", "team-1", RK_ROLE_EDITOR, 2000000000);
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_puts(&b, "Bearer ");
	assert_int_equal(rk_token_sign(SECRET, strlen(SECRET), &in, &b), RK_OK);
	assert_string_equal(b.data, "Bearer " REF_TOKEN);
	rk_buf_free(&b);

	rk_buf_init(&b, 20);
	rk_buf_puts(&b, "x");
	assert_int_equal(rk_token_sign(SECRET, strlen(SECRET), &in, &b), RK_ENOMEM);
	assert_int_equal(b.len, 1);
	rk_buf_free(&b);
}

static void test_huge_token(void **state)
{
	(void)state;
	rk_claims out;
	/* A genuine token padded with an unknown claim: accepted up to 4096
	 * bytes, refused past it, before any decoding. */
	rk_buf p;
	size_t lens[2] = {0, 0};
	for (size_t fill = 2700; fill < 3100; fill++) {
		rk_buf_init(&p, 0);
		rk_buf_puts(
		    &p,
		    "{\"sub\":\"a\",\"room\":\"r\",\"role\":\"owner\",\"exp\":1800000000,"
		    "\"pad\":\"");
		for (size_t i = 0; i < fill; i++)
			rk_buf_putc(&p, 'x');
		rk_buf_puts(&p, "\"}");
		char *t = forge(HS256, p.data);
		size_t n = strlen(t);
		rk_token_err e = verify(t, &out);
		if (n <= 4096) {
			assert_int_equal(e, RK_TOK_OK);
			lens[0] = n;
		} else {
			assert_int_equal(e, RK_TOK_MALFORMED);
			lens[1] = n;
		}
		free(t);
		rk_buf_free(&p);
	}
	assert_true(lens[0] > 4090); /* both sides of the bound were exercised */
	assert_true(lens[1] > 4096);

	/* A megabyte of base64 is refused without reading it as a token. */
	size_t big = 1 << 20;
	char *h = malloc(big + 1);
	memset(h, 'A', big);
	h[big] = '\0';
	h[10] = '.';
	h[20] = '.';
	assert_int_equal(rk_token_verify(SECRET, strlen(SECRET), h, big, NOW, &out),
			 RK_TOK_MALFORMED);
	free(h);
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = RK_TOK_OK; e <= RK_TOK_EXPIRED; e++)
		assert_non_null(strstr(rk_token_strerror((rk_token_err)e), "token"));
	assert_non_null(rk_token_strerror((rk_token_err)99));
}

/* Write n bytes to a new temp file; returns its path (static buffer). */
static const char *temp_with(const void *data, size_t n)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/rk-secret-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
	return path;
}

/* Secret files: trailing newlines dropped, inner bytes kept; empty, missing
 * and oversized files refused with a reason. */
static void test_secret_load(void **state)
{
	(void)state;
	unsigned char *sec = NULL;
	size_t len = 0;
	char err[256];
	const char *p = temp_with("s3cr\net\r\n\n", 10);
	assert_int_equal(rk_secret_load(p, &sec, &len, err, sizeof(err)), RK_OK);
	assert_int_equal(len, 7);
	assert_memory_equal(sec, "s3cr\net", 7);
	free(sec);
	unlink(p);

	p = temp_with("\n\n", 2);
	assert_int_equal(rk_secret_load(p, &sec, &len, err, sizeof(err)), RK_EIO);
	assert_null(sec);
	assert_non_null(strstr(err, "empty"));
	unlink(p);

	static unsigned char big[RK_SECRET_MAX + 1];
	memset(big, 'x', sizeof(big));
	p = temp_with(big, sizeof(big));
	assert_int_equal(rk_secret_load(p, &sec, &len, err, sizeof(err)), RK_EIO);
	assert_non_null(strstr(err, "larger"));
	unlink(p);
	p = temp_with(big, RK_SECRET_MAX);
	assert_int_equal(rk_secret_load(p, &sec, &len, err, sizeof(err)), RK_OK);
	assert_int_equal(len, RK_SECRET_MAX);
	free(sec);
	unlink(p);

	assert_int_equal(
	    rk_secret_load("/nonexistent/secret", &sec, &len, err, sizeof(err)), RK_EIO);
	assert_non_null(strstr(err, "cannot read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64url_vectors),
	    cmocka_unit_test(test_b64url_decode_strict),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_reference_token),
	    cmocka_unit_test(test_expired),
	    cmocka_unit_test(test_bad_signature),
	    cmocka_unit_test(test_wrong_secret),
	    cmocka_unit_test(test_covers),
	    cmocka_unit_test(test_wrong_room),
	    cmocka_unit_test(test_alg_none),
	    cmocka_unit_test(test_bad_alg),
	    cmocka_unit_test(test_bad_header),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_extra_parts),
	    cmocka_unit_test(test_padding_and_bad_chars),
	    cmocka_unit_test(test_bad_claims),
	    cmocka_unit_test(test_sign_refuses_bad_claims),
	    cmocka_unit_test(test_sign_appends),
	    cmocka_unit_test(test_huge_token),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test(test_secret_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
