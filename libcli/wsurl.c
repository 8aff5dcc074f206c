/* wsurl.c - ws:// and wss:// URLs of roomd (see wsurl.h). */
#include "wsurl.h"

#include <string.h>

static bool host_byte_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("/?#@[]\\:", c);
}

static bool v6_byte_ok(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/* The inside of "[...]": hex, ':' and '.', then an optional "%zone" of host
 * bytes. */
static bool v6_ok(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && v6_byte_ok((unsigned char)p[i]))
		i++;
	if (i == 0)
		return false;
	if (i < n && p[i] == '%')
		for (i++; i < n && host_byte_ok((unsigned char)p[i]);)
			i++;
	return i == n;
}

/* 1 to 5 digits of 1..65535 at *p; advances *p past them. */
static bool parse_port(const char **p, int *port)
{
	const char *s = *p;
	int v = 0, n = 0;
	while (s[n] >= '0' && s[n] <= '9' && n < 6)
		v = v * 10 + (s[n++] - '0');
	if (n == 0 || n > 5 || v < 1 || v > 65535)
		return false;
	*port = v;
	*p = s + n;
	return true;
}

bool rk_wsurl_parse(const char *s, rk_wsurl *u)
{
	memset(u, 0, sizeof(*u));
	rk_wsurl r = {.tls = false, .port = 80};
	if (strncmp(s, "ws://", 5) == 0) {
		s += 5;
	} else if (strncmp(s, "wss://", 6) == 0) {
		s += 6;
		r.tls = true;
		r.port = 443;
	} else {
		return false;
	}
	const char *host = s;
	size_t hl;
	if (*s == '[') {
		const char *close = strchr(++host, ']');
		if (!close)
			return false;
		hl = (size_t)(close - host);
		if (!v6_ok(host, hl))
			return false;
		s = close + 1;
	} else {
		while (host_byte_ok((unsigned char)*s))
			s++;
		hl = (size_t)(s - host);
	}
	if (hl == 0 || hl > RK_WSURL_HOST_MAX)
		return false;
	if (*s == ':' && (s++, !parse_port(&s, &r.port)))
		return false;
	if (*s == '/')
		s++;
	if (*s)
		return false;
	memcpy(r.host, host, hl);
	*u = r;
	return true;
}
