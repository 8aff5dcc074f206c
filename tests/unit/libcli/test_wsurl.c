/* test_wsurl.c - the one parser of --url (roomload, roomtui): these tables
 * pin what is a roomd address, what each part comes out as, and that
 * anything a client would silently drop (a path, a query, user info) or
 * misread (a bad port, an open bracket) is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "wsurl.h"

#define H255                                                                             \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaa"                                                                         \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaa"                                                                         \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaa"

static const struct {
	const char *url;
	bool tls;
	const char *host;
	int port;
} good[] = {
    {"ws://127.0.0.1:8080", false, "127.0.0.1", 8080},
    {"ws://127.0.0.1:8080/", false, "127.0.0.1", 8080},
    {"wss://rooms.example.com", true, "rooms.example.com", 443},
    {"wss://rooms.example.com/", true, "rooms.example.com", 443},
    {"ws://localhost", false, "localhost", 80},
    {"ws://h:1", false, "h", 1},
    {"wss://h:65535", true, "h", 65535},
    {"ws://h:080", false, "h", 80},
    {"ws://[::1]:9000", false, "::1", 9000},
    {"wss://[::1]", true, "::1", 443},
    {"ws://[fe80::1%eth0]:1/", false, "fe80::1%eth0", 1},
    {"ws://[::ffff:127.0.0.1]:2", false, "::ffff:127.0.0.1", 2},
    {"ws://" H255 ":5", false, H255, 5},
};

static const char *const bad[] = {
    "",
    "ws:",
    "ws://",
    "wss://",
    "ws:///",
    "ws://:80",
    "http://h:80",
    "WS://h:80",
    "ws:/h",
    "wss//h",
    " ws://h",
    "ws://h:",
    "ws://h:0",
    "ws://h:65536",
    "ws://h:123456",
    "ws://h:+80",
    "ws://h:-1",
    "ws://h: 80",
    "ws://h:80x",
    "ws://h:80//",
    "ws://h/ws/room",
    "ws://h:80/ws",
    "ws://h?x=1",
    "ws://h:80/?x",
    "ws://h#f",
    "ws://u@h",
    "ws://u:p@h:1",
    "ws://h h",
    "ws://h\t",
    "ws://[::1",
    "ws://[]",
    "ws://[::1]x",
    "ws://[::1]:",
    "ws://[g::1]",
    "ws://[::1]]",
    "ws://a]b",
    "ws://a[b",
    "ws://a\\b",
    "ws://\x7f",
    "ws://h\xc3\xa9",
    "ws://" H255 "a",
    "ws://[::1%]x",
};

static void test_good_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		rk_wsurl u;
		if (!rk_wsurl_parse(good[i].url, &u))
			fail_msg("refused: \"%s\"", good[i].url);
		if (u.tls != good[i].tls || strcmp(u.host, good[i].host) != 0 ||
		    u.port != good[i].port)
			fail_msg("\"%s\": tls %d host \"%s\" port %d", good[i].url, u.tls,
				 u.host, u.port);
	}
}

static void test_bad_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rk_wsurl u;
		memset(&u, 0x5a, sizeof(u));
		if (rk_wsurl_parse(bad[i], &u))
			fail_msg("accepted: \"%s\" (host \"%s\" port %d)", bad[i], u.host,
				 u.port);
		/* Nothing half-parsed is left behind. */
		assert_false(u.tls);
		assert_int_equal(u.port, 0);
		assert_string_equal(u.host, "");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_table),
	    cmocka_unit_test(test_bad_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
