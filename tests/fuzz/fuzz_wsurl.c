/*
 * fuzz_wsurl.c - the --url of roomload and roomtui (libcli's
 * rk_wsurl_parse), on any bytes.
 *
 * Invariants: a refused input leaves the result zeroed; an accepted one has
 * a host of 1..255 printable bytes without '/', '?', '#', '@' or brackets,
 * a port 1..65535, and is the input's own host: printing the result back as
 * a URL and parsing that gives the same result.
 */
#include "fuzz.h"
#include "wsurl.h"
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	rk_wsurl u;
	if (!rk_wsurl_parse(s, &u)) {
		FUZZ_CHECK(!u.tls && u.port == 0 && u.host[0] == '\0');
		free(s);
		return 0;
	}
	size_t hl = strlen(u.host);
	FUZZ_CHECK(hl >= 1 && hl <= RK_WSURL_HOST_MAX);
	FUZZ_CHECK(strcspn(u.host, "/?#@[] ") == hl);
	for (size_t i = 0; i < hl; i++)
		FUZZ_CHECK(u.host[i] > 0x20 && u.host[i] < 0x7f);
	FUZZ_CHECK(u.port >= 1 && u.port <= 65535);
	FUZZ_CHECK(strstr(s, u.host) != NULL);

	char again[RK_WSURL_HOST_MAX + 32];
	bool v6 = strchr(u.host, ':') != NULL;
	snprintf(again, sizeof(again), "%s://%s%s%s:%d/", u.tls ? "wss" : "ws",
		 v6 ? "[" : "", u.host, v6 ? "]" : "", u.port);
	rk_wsurl w;
	FUZZ_CHECK(rk_wsurl_parse(again, &w));
	FUZZ_CHECK(w.tls == u.tls && w.port == u.port && strcmp(w.host, u.host) == 0);
	free(s);
	return 0;
}
