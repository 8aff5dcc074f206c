/*
 * token.c - JWT HS256 room tokens.
 *
 * Verification follows one order so that nothing an attacker controls is
 * interpreted before the signature is known to be good: split the three
 * parts, decode the header, check its alg, compute the HMAC over
 * "header.payload" and compare in constant time, and only then decode and
 * check the claims. The crypto is OpenSSL's HMAC-SHA256; this file only does
 * the framing.
 */
#include <stdlib.h>
#include <stdio.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "json.h"
#include "roomid.h"
#include "token.h"

enum {
	TOK_MAX = 4096,			/* a longer token is malformed */
	TOK_PART_MAX = TOK_MAX / 4 * 3, /* decoded bytes of any part, at most */
	TOK_SIG_LEN = 32,		/* HMAC-SHA256 */
	TOK_JSON_DEPTH = 8,		/* header and claims are flat objects */
};

const char *rk_token_strerror(rk_token_err e)
{
	switch (e) {
	case RK_TOK_OK:
		return "valid token";
	case RK_TOK_MALFORMED:
		return "malformed token";
	case RK_TOK_BAD_ALG:
		return "token algorithm is not HS256";
	case RK_TOK_BAD_SIG:
		return "bad token signature";
	case RK_TOK_EXPIRED:
		return "token expired";
	}
	return "unknown token error";
}

/* ---- base64url (RFC 4648 section 5), no padding ---- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void rk_b64url_encode(const void *p, size_t n, rk_buf *b)
{
	const unsigned char *s = p;
	size_t i = 0;
	/* Reserve once; not for n == 0, where rk_buf_reserve would allocate
	 * without writing the terminating NUL. */
	if (n && rk_buf_reserve(b, (n + 2) / 3 * 4) != RK_OK)
		return;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		char q[4] = {b64url_alphabet[v >> 18], b64url_alphabet[(v >> 12) & 63],
			     b64url_alphabet[(v >> 6) & 63], b64url_alphabet[v & 63]};
		rk_buf_put(b, q, 4);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		char q[2] = {b64url_alphabet[v >> 18], b64url_alphabet[(v >> 12) & 63]};
		rk_buf_put(b, q, 2);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		char q[3] = {b64url_alphabet[v >> 18], b64url_alphabet[(v >> 12) & 63],
			     b64url_alphabet[(v >> 6) & 63]};
		rk_buf_put(b, q, 3);
	}
}

/* The 6-bit value of a base64url character, or -1. */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Strict decoding: only the 64 characters (no '=', no whitespace, no '+' or
 * '/'), no impossible length (4k+1), and the unused low bits of the last
 * character must be zero. The last rule makes the encoding canonical: each
 * byte string has exactly one accepted spelling, so a token cannot be altered
 * without the signature check seeing it.
 */
long rk_b64url_decode(const char *s, size_t n, void *out, size_t cap)
{
	unsigned char *o = out;
	size_t olen = 0;
	uint32_t acc = 0;
	int bits = 0;
	if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap || n > LONG_MAX / 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[olen++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* leftover bits must be zero */
		return -1;
	return (long)olen;
}

/* ---- claims ---- */

/* The rule for the room claim: a room id, or a prefix then '*', where the
 * prefix is empty ("*": every room) or the start of a valid id (<= 63 chars,
 * so that at least one character may follow). */
static bool room_claim_valid(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '*')
		return n - 1 == 0 ||
		       (n - 1 < RK_ROOM_ID_MAX && rk_roomid_valid(s, n - 1));
	return rk_roomid_valid(s, n);
}

static bool sub_valid(const char *s, size_t n)
{
	return n <= RK_NAME_BYTES && rk_text_printable(s, n, RK_NAME_MAX);
}

/* Length of a NUL-terminated field of a fixed-size array, or size if it is
 * not terminated (which no valid value is). */
#define FIELD_LEN(arr) strnlen((arr), sizeof(arr))

bool rk_token_covers(const rk_claims *c, const char *room)
{
	if (!c || !room)
		return false;
	size_t n = FIELD_LEN(c->room);
	if (n == 0 || n == sizeof(c->room))
		return false;
	if (strcmp(c->room, room) == 0)
		return true;
	if (c->room[n - 1] != '*')
		return false;
	/* A pattern only ever covers real room ids. */
	return rk_roomid_validz(room) && strncmp(room, c->room, n - 1) == 0;
}

/* ---- HMAC ---- */

static bool hmac_sha256(const void *key, size_t key_len, const char *msg, size_t n,
			unsigned char out[TOK_SIG_LEN])
{
	unsigned int len = 0;
	if (key_len > INT_MAX)
		return false;
	if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, n, out,
		  &len))
		return false;
	return len == TOK_SIG_LEN;
}

/* ---- sign ---- */

rk_err rk_token_sign(const void *secret, size_t secret_len, const rk_claims *c, rk_buf *b)
{
	/* An empty key would let anyone forge tokens. */
	if (!secret || secret_len == 0 || !c)
		return RK_EBADMSG;
	size_t sub_len = FIELD_LEN(c->sub), room_len = FIELD_LEN(c->room);
	if (sub_len == sizeof(c->sub) || !sub_valid(c->sub, sub_len) ||
	    room_len == sizeof(c->room) || !room_claim_valid(c->room, room_len) ||
	    c->role < RK_ROLE_VIEWER || c->role > RK_ROLE_OWNER || c->exp < -RK_INT_MAX ||
	    c->exp > RK_INT_MAX)
		return RK_EBADMSG;

	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	rk_buf payload, tok;
	rk_buf_init(&payload, TOK_MAX);
	rk_buf_init(&tok, TOK_MAX);
	rk_buf_puts(&payload, "{\"sub\":");
	rk_buf_put_jstr(&payload, c->sub, sub_len);
	rk_buf_puts(&payload, ",\"room\":");
	rk_buf_put_jstr(&payload, c->room, room_len);
	rk_buf_puts(&payload, ",\"role\":");
	rk_buf_put_jstrz(&payload, rk_role_name(c->role));
	rk_buf_puts(&payload, ",\"exp\":");
	rk_buf_put_i64(&payload, c->exp);
	rk_buf_putc(&payload, '}');

	rk_b64url_encode(header, sizeof(header) - 1, &tok);
	rk_buf_putc(&tok, '.');
	rk_b64url_encode(payload.data, payload.len, &tok);

	rk_err err = rk_buf_ok(&payload);
	if (err == RK_OK)
		err = rk_buf_ok(&tok);
	unsigned char sig[TOK_SIG_LEN];
	if (err == RK_OK && !hmac_sha256(secret, secret_len, tok.data, tok.len, sig))
		err = RK_ENOMEM; /* OpenSSL failures are allocation failures here */
	if (err == RK_OK) {
		rk_buf_putc(&tok, '.');
		rk_b64url_encode(sig, sizeof(sig), &tok);
		err = rk_buf_ok(&tok);
	}
	if (err == RK_OK) {
		/* Append whole or not at all. */
		rk_buf_put(b, tok.data, tok.len);
		err = rk_buf_ok(b);
	}
	OPENSSL_cleanse(sig, sizeof(sig));
	rk_buf_free(&payload);
	rk_buf_free(&tok);
	return err;
}

/* ---- verify ---- */

/*
 * True if the JSON text contains the escape \u0000. cJSON decodes it into an
 * embedded NUL, so a C string read from the tree would silently stop there
 * ("alice\u0000x" would read as "alice"). No valid token needs it.
 */
static bool has_escaped_nul(const char *s, size_t n)
{
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		if (!in_str) {
			in_str = s[i] == '"';
			continue;
		}
		if (s[i] == '"') {
			in_str = false;
		} else if (s[i] == '\\' && i + 1 < n) {
			if (s[i + 1] == 'u' && n - i >= 6 &&
			    memcmp(s + i + 2, "0000", 4) == 0)
				return true;
			i++; /* skip the escaped character */
		}
	}
	return false;
}

/* True if two members of the object share a name: which one a reader would
 * take differs between JSON libraries, so such an object is refused. */
static bool has_duplicate_keys(const cJSON *obj)
{
	for (const cJSON *a = obj->child; a; a = a->next)
		for (const cJSON *d = a->next; d; d = d->next)
			if (a->string && d->string && strcmp(a->string, d->string) == 0)
				return true;
	return false;
}

/* Decode one base64url part and parse it as a JSON object. NULL if any step
 * fails. The caller frees the tree. */
static cJSON *decode_json_part(const char *s, size_t n)
{
	char raw[TOK_PART_MAX];
	char err[80];
	long len = rk_b64url_decode(s, n, raw, sizeof(raw));
	if (len <= 0 || has_escaped_nul(raw, (size_t)len))
		return NULL;
	cJSON *root = rk_json_parse(raw, (size_t)len, sizeof(raw), TOK_JSON_DEPTH, err,
				    sizeof(err));
	if (root && (!cJSON_IsObject(root) || has_duplicate_keys(root))) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* The header check: alg must be exactly "HS256"; typ, if present, "JWT";
 * "crit" (extensions the reader must understand) is refused since we
 * understand none. */
static rk_token_err check_header(const cJSON *h)
{
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0)
		return RK_TOK_BAD_ALG;
	const cJSON *typ = cJSON_GetObjectItemCaseSensitive(h, "typ");
	if (typ && (!cJSON_IsString(typ) || strcmp(typ->valuestring, "JWT") != 0))
		return RK_TOK_MALFORMED;
	if (cJSON_GetObjectItemCaseSensitive(h, "crit"))
		return RK_TOK_MALFORMED;
	return RK_TOK_OK;
}

/* Fill *out from the claims object. False if any claim is missing or bad. */
static bool parse_claims(const cJSON *p, rk_claims *out)
{
	const cJSON *sub = cJSON_GetObjectItemCaseSensitive(p, "sub");
	const cJSON *room = cJSON_GetObjectItemCaseSensitive(p, "room");
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(p, "role");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(p, "exp");
	if (!cJSON_IsString(sub) || !cJSON_IsString(room) || !cJSON_IsString(role))
		return false;
	size_t sub_len = strlen(sub->valuestring);
	size_t room_len = strlen(room->valuestring);
	if (!sub_valid(sub->valuestring, sub_len) ||
	    !room_claim_valid(room->valuestring, room_len))
		return false;
	rk_role r = rk_role_parse(role->valuestring);
	int64_t e;
	if (r == RK_ROLE_NONE || !rk_jint(exp, -RK_INT_MAX, RK_INT_MAX, &e))
		return false;
	memcpy(out->sub, sub->valuestring, sub_len + 1);
	memcpy(out->room, room->valuestring, room_len + 1);
	out->role = r;
	out->exp = e;
	return true;
}

rk_token_err rk_token_verify(const void *secret, size_t secret_len, const char *tok,
			     size_t n, int64_t now_s, rk_claims *c)
{
	if (c)
		memset(c, 0, sizeof(*c));
	if (!tok || n == 0 || n > TOK_MAX || !c)
		return RK_TOK_MALFORMED;

	/* 1. Exactly three parts. */
	const char *dot1 = memchr(tok, '.', n);
	if (!dot1)
		return RK_TOK_MALFORMED;
	const char *rest = dot1 + 1;
	const char *dot2 = memchr(rest, '.', n - (size_t)(rest - tok));
	if (!dot2)
		return RK_TOK_MALFORMED;
	const char *sig_s = dot2 + 1;
	size_t sig_n = n - (size_t)(sig_s - tok);
	if (memchr(sig_s, '.', sig_n))
		return RK_TOK_MALFORMED;

	/* 2. Header, 3. alg. */
	cJSON *header = decode_json_part(tok, (size_t)(dot1 - tok));
	if (!header)
		return RK_TOK_MALFORMED;
	rk_token_err te = check_header(header);
	cJSON_Delete(header);
	if (te != RK_TOK_OK)
		return te;

	/* 4. Signature over "header.payload", before the claims are read. */
	unsigned char want[TOK_SIG_LEN], got[TOK_SIG_LEN + 3];
	if (rk_b64url_decode(sig_s, sig_n, got, sizeof(got)) != TOK_SIG_LEN)
		return RK_TOK_MALFORMED;
	if (!secret || secret_len == 0 ||
	    !hmac_sha256(secret, secret_len, tok, (size_t)(dot2 - tok), want))
		return RK_TOK_BAD_SIG;
	bool sig_ok = CRYPTO_memcmp(want, got, TOK_SIG_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	if (!sig_ok)
		return RK_TOK_BAD_SIG;

	/* 5. Claims, 6. expiry. */
	cJSON *payload = decode_json_part(rest, (size_t)(dot2 - rest));
	rk_claims tmp;
	memset(&tmp, 0, sizeof(tmp));
	bool ok = payload && parse_claims(payload, &tmp);
	cJSON_Delete(payload);
	if (!ok)
		return RK_TOK_MALFORMED;
	if (tmp.exp <= now_s)
		return RK_TOK_EXPIRED;
	*c = tmp;
	return RK_TOK_OK;
}

rk_err rk_secret_load(const char *path, unsigned char **out, size_t *len, char *err,
		      size_t errlen)
{
	*out = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot read secret file %s: %s", path,
			 strerror(errno));
		return RK_EIO;
	}
	unsigned char buf[RK_SECRET_MAX];
	size_t n = fread(buf, 1, sizeof(buf), f);
	bool more = fgetc(f) != EOF;
	fclose(f);
	if (more) {
		snprintf(err, errlen, "secret file %s is larger than %d bytes", path,
			 RK_SECRET_MAX);
		return RK_EIO;
	}
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 0) {
		snprintf(err, errlen, "secret file %s is empty", path);
		return RK_EIO;
	}
	*out = malloc(n);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	memcpy(*out, buf, n);
	*len = n;
	OPENSSL_cleanse(buf, sizeof(buf));
	return RK_OK;
}
