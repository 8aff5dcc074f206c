/*
 * fastdec.c - the fast path of fastdec.h: a cursor over the frame that
 * expects roomd's exact encoding, literal by literal, and gives up (false)
 * at the first byte that differs.
 */
#include "fastdec.h"
#include "rk_common.h"
#include <string.h>

typedef struct cur {
	const char *p, *end;
} cur;

/* Consume literal lit if the input continues with it. */
static bool lit(cur *c, const char *l, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, l, n) != 0)
		return false;
	c->p += n;
	return true;
}
#define LIT(c, s) lit((c), (s), sizeof(s) - 1)

/* A JSON integer as rk_buf_put_i64 writes it: optional '-', no leading
 * zero, within [min, max] (both inside +-RK_INT_MAX). */
static bool num(cur *c, int64_t min, int64_t max, int64_t *out)
{
	bool neg = c->p < c->end && *c->p == '-';
	const char *d = c->p + neg;
	const char *q = d;
	int64_t v = 0;
	while (q < c->end && *q >= '0' && *q <= '9' && q - d < 17) {
		v = v * 10 + (*q - '0');
		q++;
	}
	if (q == d || (q < c->end && *q >= '0' && *q <= '9') ||
	    (*d == '0' && q - d > 1) || v > RK_INT_MAX)
		return false;
	if (neg)
		v = -v;
	if (v < min || v > max)
		return false;
	c->p = q;
	*out = v;
	return true;
}

/* The rest of a string whose opening quote was consumed: its bytes are
 * [*s, *s + *n) and the closing quote is consumed. Escapes and control
 * characters are left to the full decoder. At most max bytes. */
static bool str(cur *c, size_t max, const char **s, size_t *n)
{
	const char *q = c->p;
	while (q < c->end && *q != '"') {
		unsigned char ch = (unsigned char)*q;
		if (ch == '\\' || ch < 0x20 || ch == 0x7f)
			return false;
		q++;
	}
	if (q == c->end || (size_t)(q - c->p) > max)
		return false;
	*s = c->p;
	*n = (size_t)(q - c->p);
	c->p = q + 1;
	return true;
}

/* A non-empty string of at most max bytes that we do not need. */
static bool skip_str(cur *c, size_t max)
{
	const char *s;
	size_t n;
	return str(c, max, &s, &n) && n > 0;
}

/* The rest of the frame, with `open` containers (the message's own '{'
 * included) still open at c: skipped without validating its content beyond
 * balanced braces and brackets outside strings, and the '}' that closes the
 * message must be the frame's last byte. Catches a truncated or run-on
 * frame. */
static bool skip_to_end(cur *c, int open)
{
	const char *q = c->p;
	while (q < c->end && open > 0) {
		char ch = *q++;
		if (ch == '"') {
			/* A string: jump to its closing quote (memchr is much
			 * faster than a byte loop on chat text); a backslash
			 * before it means an escape, walked byte by byte. */
			const char *e = memchr(q, '"', (size_t)(c->end - q));
			if (!e)
				return false;
			if (memchr(q, '\\', (size_t)(e - q))) {
				while (q < c->end && *q != '"')
					q += *q == '\\' ? 2 : 1;
				if (q >= c->end)
					return false;
				e = q;
			}
			q = e + 1;
		} else if (ch == '{' || ch == '[') {
			open++;
		} else if (ch == '}' || ch == ']') {
			open--;
		}
	}
	if (open != 0 || q != c->end || q[-1] != '}')
		return false;
	c->p = c->end;
	return true;
}

static void take_id(const char *s, size_t n, rl_msg *m)
{
	m->ours = rl_parse_id(s, n, &m->cidx, &m->lseq);
}

bool rl_parse_id(const char *id, size_t n, uint32_t *cidx, uint32_t *lseq)
{
	const char *p = id, *end = id + n;
	uint64_t v[2] = {0, 0};
	if (p == end || *p++ != 'c')
		return false;
	for (int k = 0; k < 2; k++) {
		const char *d = p;
		while (p < end && *p >= '0' && *p <= '9' && p - d < 10)
			v[k] = v[k] * 10 + (uint64_t)(*p++ - '0');
		if (p == d || v[k] > UINT32_MAX)
			return false;
		if (k == 0 && (p == end || *p++ != '.'))
			return false;
	}
	if (p != end)
		return false;
	*cidx = (uint32_t)v[0];
	*lseq = (uint32_t)v[1];
	return true;
}

/* {"t":"event","seq":N,"ts":N,"session":"S","user":"U","id":"I","op":{...}} */
static bool event(cur *c, rl_msg *m)
{
	int64_t ts;
	const char *id;
	size_t idn;
	if (!LIT(c, "\"seq\":") || !num(c, 1, RK_INT_MAX, &m->seq) ||
	    !LIT(c, ",\"ts\":") || !num(c, 0, RK_INT_MAX, &ts) ||
	    !LIT(c, ",\"session\":\"") || !skip_str(c, RK_SESSION_MAX) ||
	    !LIT(c, ",\"user\":\"") || !skip_str(c, RK_NAME_BYTES) ||
	    !LIT(c, ",\"id\":\"") || !str(c, RK_ID_MAX, &id, &idn) ||
	    !LIT(c, ",\"op\":{"))
		return false;
	if (!skip_to_end(c, 2))
		return false;
	m->t = RK_S_EVENT;
	take_id(id, idn, m);
	return true;
}

/* {"t":"ack","id":"I","seq":N} or {...,"seq":N,"dup":true} */
static bool ack(cur *c, rl_msg *m)
{
	const char *id;
	size_t idn;
	if (!LIT(c, "\"id\":\"") || !str(c, RK_ID_MAX, &id, &idn) || idn == 0 ||
	    !LIT(c, ",\"seq\":") || !num(c, 1, RK_INT_MAX, &m->seq))
		return false;
	m->dup = LIT(c, ",\"dup\":true"); /* a duplicate: acked like the op */
	if (!LIT(c, "}") || c->p != c->end)
		return false;
	m->t = RK_S_ACK;
	take_id(id, idn, m);
	return true;
}

/* {"t":"cursor","session":"S","x":N,"y":N} */
static bool cursor(cur *c, rl_msg *m)
{
	if (!LIT(c, "\"session\":\"") || !skip_str(c, RK_SESSION_MAX) ||
	    !LIT(c, ",\"x\":") || !num(c, -RK_INT_MAX, RK_INT_MAX, &m->x) ||
	    !LIT(c, ",\"y\":") || !num(c, -RK_INT_MAX, RK_INT_MAX, &m->y) ||
	    !LIT(c, "}") || c->p != c->end)
		return false;
	m->t = RK_S_CURSOR;
	return true;
}

/* {"t":"presence","leave":"S"} or {"t":"presence","join":{...}} */
static bool presence(cur *c, rl_msg *m)
{
	if (LIT(c, "\"leave\":\"")) {
		if (!skip_str(c, RK_SESSION_MAX) || !LIT(c, "}") || c->p != c->end)
			return false;
	} else if (LIT(c, "\"join\":{")) {
		if (!skip_to_end(c, 2))
			return false;
	} else {
		return false;
	}
	m->t = RK_S_PRESENCE;
	return true;
}

/* {"t":"welcome","v":1,"room":"R","session":"S","user":"U","role":"X",
 *  "seq":N,"epoch":"E","resumed":B, then state, peers and limits} */
static bool welcome(cur *c, rl_msg *m)
{
	const char *e;
	size_t en;
	if (!LIT(c, "\"v\":1,\"room\":\"") || !skip_str(c, RK_ROOM_ID_MAX) ||
	    !LIT(c, ",\"session\":\"") || !skip_str(c, RK_SESSION_MAX) ||
	    !LIT(c, ",\"user\":\"") || !skip_str(c, RK_NAME_BYTES) ||
	    !LIT(c, ",\"role\":\"") || !skip_str(c, 16) || !LIT(c, ",\"seq\":") ||
	    !num(c, 0, RK_INT_MAX, &m->seq) || !LIT(c, ",\"epoch\":\"") ||
	    !str(c, RK_EPOCH_MAX, &e, &en) || en == 0 || !LIT(c, ",\"resumed\":"))
		return false;
	if (LIT(c, "true"))
		m->resumed = true;
	else if (!LIT(c, "false"))
		return false;
	/* The rest of the object: ,"state":{...},"peers":[...],"limits":{...}} */
	if (!LIT(c, ",") || !skip_to_end(c, 1))
		return false;
	memcpy(m->epoch, e, en);
	m->epoch[en] = '\0';
	m->t = RK_S_WELCOME;
	return true;
}

bool rl_fast_decode(const char *s, size_t n, rl_msg *m)
{
	cur c = {s, s + n};
	memset(m, 0, sizeof(*m));
	if (!LIT(&c, "{\"t\":\""))
		return false;
	if (LIT(&c, "event\","))
		return event(&c, m);
	if (LIT(&c, "ack\","))
		return ack(&c, m);
	if (LIT(&c, "cursor\","))
		return cursor(&c, m);
	if (LIT(&c, "presence\","))
		return presence(&c, m);
	if (LIT(&c, "welcome\","))
		return welcome(&c, m);
	return false;
}
