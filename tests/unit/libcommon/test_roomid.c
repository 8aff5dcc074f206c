/* test_roomid.c - room id validation is the only gate between a URL and a
 * file name: these tables prove that nothing path-like gets through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "roomid.h"

#define ID64 "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-"
#define ID65 ID64 "x"

static const char *const valid_ids[] = {
    "a",   "Z",	   "0",	 "_",	    "-",  "room",	"team-1",
    "a.b", "a..b", "a.", "_hidden", "-x", "Room_42.v2", ID64,
};

static const char *const invalid_ids[] = {
    ".",      "..",    ".hidden",  "...",	  "a/b", "/a", "a/",
    "a\\b",   ID65,    "\xc3\xa9", "caf\xc3\xa9", "a b", " a", "a ",
    "%2e%2e", "a%2fb", "a?b",	   "a#b",	  "a*",	 "*",  "a:b",
    "a\tb",   "a\nb",  "a~b",	   "a+b",
};

static void test_valid_table(void **state)
{
	(void)state;
	assert_int_equal(strlen(ID64), 64);
	for (size_t i = 0; i < sizeof(valid_ids) / sizeof(valid_ids[0]); i++) {
		const char *s = valid_ids[i];
		if (!rk_roomid_validz(s) || !rk_roomid_valid(s, strlen(s)))
			fail_msg("expected valid: \"%s\"", s);
	}
}

static void test_invalid_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(invalid_ids) / sizeof(invalid_ids[0]); i++) {
		const char *s = invalid_ids[i];
		if (rk_roomid_validz(s) || rk_roomid_valid(s, strlen(s)))
			fail_msg("expected invalid: \"%s\"", s);
	}
}

static void test_empty_null_nul(void **state)
{
	(void)state;
	assert_false(rk_roomid_validz(""));
	assert_false(rk_roomid_valid("", 0));
	assert_false(rk_roomid_validz(NULL));
	assert_false(rk_roomid_valid(NULL, 0));
	assert_false(rk_roomid_valid(NULL, 3));
	/* A NUL inside the counted bytes is not a room id character. */
	assert_false(rk_roomid_valid("ab\0cd", 5));
	assert_false(rk_roomid_valid("\0", 1));
	/* Every byte value outside the allowed set is refused in any position. */
	for (int c = 0; c < 256; c++) {
		char s[3] = {'a', (char)c, 'a'};
		bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
		assert_int_equal(rk_roomid_valid(s, 3), allowed);
		assert_int_equal(rk_roomid_valid(s + 1, 2), allowed && c != '.');
	}
}

static void test_length_bound(void **state)
{
	(void)state;
	char s[200];
	memset(s, 'a', sizeof(s));
	assert_true(rk_roomid_valid(s, 64));
	assert_false(rk_roomid_valid(s, 65));
	assert_false(rk_roomid_valid(s, sizeof(s)));
	s[64] = '\0';
	assert_true(rk_roomid_validz(s));
	s[64] = 'a';
	s[199] = '\0';
	assert_false(rk_roomid_validz(s));
}

struct path_case {
	const char *path;
	const char *prefix;
	const char *want; /* NULL: must be refused */
};

static const struct path_case path_cases[] = {
    {"/ws/room", "/ws/", "room"},
    {"/ws/team-1?token=abc&since=3", "/ws/", "team-1"},
    {"/ws/a.b?", "/ws/", "a.b"},
    {"/ws/" ID64, "/ws/", ID64},
    {"/ws/" ID64 "?x=/../", "/ws/", ID64},
    {"/v1/rooms/r1", "/v1/rooms/", "r1"},
    {"/v1/rooms/r1?x=1", "/v1/rooms/", "r1"},
    {"/ws/", "/ws/", NULL},
    {"/ws/?token=x", "/ws/", NULL},
    {"/ws", "/ws/", NULL},
    {"/ws/room/", "/ws/", NULL},
    {"/ws/room/x", "/ws/", NULL},
    {"/ws//room", "/ws/", NULL},
    {"/ws/..", "/ws/", NULL},
    {"/ws/.", "/ws/", NULL},
    {"/ws/../etc", "/ws/", NULL},
    {"/ws/%2e%2e", "/ws/", NULL},
    {"/ws/%2E%2E", "/ws/", NULL},
    {"/ws/a%2fb", "/ws/", NULL},
    {"/ws/.hidden", "/ws/", NULL},
    {"/ws/" ID65, "/ws/", NULL},
    {"/ws/" ID65 "?q", "/ws/", NULL},
    {"/ws/room#frag", "/ws/", NULL},
    {"/ws/caf\xc3\xa9", "/ws/", NULL},
    {"/ws/a b", "/ws/", NULL},
    {"/WS/room", "/ws/", NULL},
    {"/x/ws/room", "/ws/", NULL},
    {"ws/room", "/ws/", NULL},
    {"/v1/rooms/", "/v1/rooms/", NULL},
    {"/v1/rooms", "/v1/rooms/", NULL},
    {"/v1/rooms/r1/", "/v1/rooms/", NULL},
    {"/ws/r1", "/v1/rooms/", NULL},
    {"", "/ws/", NULL},
};

static void test_from_path(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *pc = &path_cases[i];
		char out[RK_ROOM_ID_MAX + 1];
		memset(out, 'X', sizeof(out));
		bool ok = rk_roomid_from_path(pc->path, pc->prefix, out);
		if (pc->want) {
			if (!ok || strcmp(out, pc->want) != 0)
				fail_msg("\"%s\": want \"%s\"", pc->path, pc->want);
		} else {
			if (ok || out[0] != '\0')
				fail_msg("\"%s\": must be refused", pc->path);
		}
	}
}

static void test_from_path_null(void **state)
{
	(void)state;
	char out[RK_ROOM_ID_MAX + 1] = "X";
	assert_false(rk_roomid_from_path(NULL, "/ws/", out));
	assert_string_equal(out, "");
	out[0] = 'X';
	assert_false(rk_roomid_from_path("/ws/a", NULL, out));
	assert_string_equal(out, "");
	assert_false(rk_roomid_from_path("/ws/a", "/ws/", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_table),	   cmocka_unit_test(test_invalid_table),
	    cmocka_unit_test(test_empty_null_nul), cmocka_unit_test(test_length_bound),
	    cmocka_unit_test(test_from_path),	   cmocka_unit_test(test_from_path_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
