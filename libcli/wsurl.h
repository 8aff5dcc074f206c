/*
 * wsurl.h - the roomd address a client is given: "ws://HOST[:PORT][/]" or
 * "wss://HOST[:PORT][/]", parsed the one way roomload and roomtui (and any
 * later client) read --url. The client adds "/ws/<room>" itself, so a path
 * or a query in the URL is refused rather than silently dropped.
 *
 * Part of libcli (see cli.h). Pure: no I/O, no allocation; fuzzed by
 * tests/fuzz/fuzz_wsurl.c.
 */
#ifndef RK_WSURL_H
#define RK_WSURL_H

#include <stdbool.h>

enum { RK_WSURL_HOST_MAX = 255 }; /* bytes of a host name (DNS's limit) */

typedef struct rk_wsurl {
	bool tls;			  /* wss:// */
	char host[RK_WSURL_HOST_MAX + 1]; /* a name, IPv4, or IPv6 without its [] */
	int port;			  /* 1..65535; 80 (ws) / 443 (wss) if not given */
} rk_wsurl;

/*
 * Parse s. The scheme is "ws" or "wss" (lower case). HOST is 1..255 bytes of
 * printable ASCII without any of "/?#@[]\\:" and space, or "[IPV6]" whose
 * inside is 1..255 bytes of hex digits, ':' and '.' (a zone "%..." is
 * allowed after them). PORT is 1 to 5 decimal digits of a value 1..65535.
 * After the authority only nothing or a single "/" may follow.
 * Returns true and fills *u; returns false on anything else and leaves *u
 * zeroed. This function can't fail otherwise.
 */
bool rk_wsurl_parse(const char *s, rk_wsurl *u);

#endif
