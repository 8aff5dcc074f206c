/* test_json.c - the bounded JSON front door refuses what cJSON alone would
 * accept (too big, too deep, bad UTF-8, trailing data, NUL bytes), and the
 * typed getters and UTF-8 helpers draw their lines exactly at the limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "json.h"

static cJSON *parse(const char *s, size_t n, size_t max_len, int depth)
{
	char err[128];
	err[0] = '\0';
	cJSON *j = rk_json_parse(s, n, max_len, depth, err, sizeof(err));
	if (!j)
		assert_true(err[0] != '\0'); /* every refusal says why */
	return j;
}

static cJSON *parsez(const char *s)
{
	return parse(s, strlen(s), 1 << 20, RK_JSON_DEPTH_MAX);
}

/* ---- UTF-8 ---- */

struct utf8_case {
	const char *s;
	size_t n;
	bool valid;
	const char *what;
};

#define U(lit, ok, what)                                                                 \
	{                                                                                \
		lit, sizeof(lit) - 1, ok, what                                           \
	}

static const struct utf8_case utf8_cases[] = {
    U("", true, "empty"),
    U("ascii ~\x7f", true, "ASCII incl. DEL"),
    U("\x00", true, "NUL is valid UTF-8"),
    U("\xc2\x80", true, "U+0080, smallest 2-byte"),
    U("\xdf\xbf", true, "U+07FF, largest 2-byte"),
    U("\xe0\xa0\x80", true, "U+0800, smallest 3-byte"),
    U("\xed\x9f\xbf", true, "U+D7FF, below the surrogates"),
    U("\xee\x80\x80", true, "U+E000, above the surrogates"),
    U("\xef\xbf\xbf", true, "U+FFFF"),
    U("\xef\xbb\xbf", true, "BOM"),
    U("\xf0\x90\x80\x80", true, "U+10000, smallest 4-byte"),
    U("\xf0\x9f\x98\x80", true, "emoji"),
    U("\xf4\x8f\xbf\xbf", true, "U+10FFFF, largest"),
    U("caf\xc3\xa9 \xe2\x82\xac", true, "mixed"),
    U("\x80", false, "lone continuation"),
    U("\xbf", false, "lone continuation"),
    U("a\x80z", false, "continuation inside ASCII"),
    U("\xc0\x80", false, "overlong NUL (2-byte)"),
    U("\xc0\xaf", false, "overlong '/'"),
    U("\xc1\xbf", false, "overlong 2-byte"),
    U("\xe0\x80\x80", false, "overlong NUL (3-byte)"),
    U("\xe0\x80\xaf", false, "overlong '/' (3-byte)"),
    U("\xe0\x9f\xbf", false, "overlong U+07FF (3-byte)"),
    U("\xf0\x80\x80\x80", false, "overlong NUL (4-byte)"),
    U("\xf0\x8f\xbf\xbf", false, "overlong U+FFFF (4-byte)"),
    U("\xed\xa0\x80", false, "U+D800, high surrogate"),
    U("\xed\xaf\xbf", false, "U+DBFF"),
    U("\xed\xb0\x80", false, "U+DC00, low surrogate"),
    U("\xed\xbf\xbf", false, "U+DFFF"),
    U("\xed\xa0\xbd\xed\xb8\x80", false, "CESU-8 surrogate pair"),
    U("\xf4\x90\x80\x80", false, "U+110000, past the end"),
    U("\xf5\x80\x80\x80", false, "lead 0xF5"),
    U("\xf7\xbf\xbf\xbf", false, "lead 0xF7"),
    U("\xf8\x88\x80\x80\x80", false, "5-byte form"),
    U("\xfc\x84\x80\x80\x80\x80", false, "6-byte form"),
    U("\xfe", false, "0xFE"),
    U("\xff", false, "0xFF"),
    U("\xc3", false, "truncated 2-byte"),
    U("\xe2\x82", false, "truncated 3-byte"),
    U("\xf0\x9f\x98", false, "truncated 4-byte"),
    U("\xc3z", false, "2-byte with ASCII continuation"),
    U("\xe2\x28\xa1", false, "3-byte with bad second byte"),
    U("\xe2\x82\x28", false, "3-byte with bad third byte"),
    U("\xf0\x9f\x28\x80", false, "4-byte with bad third byte"),
    U("\xf0\x9f\x98\x28", false, "4-byte with bad fourth byte"),
    U("\xc3\xa9\xc3", false, "valid then truncated"),
};

static void test_utf8_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
		const struct utf8_case *c = &utf8_cases[i];
		if (rk_utf8_valid(c->s, c->n) != c->valid)
			fail_msg("%s: expected %s", c->what,
				 c->valid ? "valid" : "invalid");
	}
}

/* Every valid string above also parses inside a JSON string, every invalid
 * one makes the message refused. */
static void test_utf8_in_json(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
		const struct utf8_case *c = &utf8_cases[i];
		if (memchr(c->s, '\0', c->n))
			continue; /* covered by test_nul_bytes */
		char msg[64];
		memcpy(msg, "{\"s\":\"", 6);
		memcpy(msg + 6, c->s, c->n);
		memcpy(msg + 6 + c->n, "\"}", 2);
		cJSON *j = parse(msg, c->n + 8, 1024, 4);
		if ((j != NULL) != c->valid)
			fail_msg("%s in JSON: expected %s", c->what,
				 c->valid ? "accepted" : "refused");
		if (j)
			assert_memory_equal(cJSON_GetObjectItem(j, "s")->valuestring,
					    c->s, c->n);
		cJSON_Delete(j);
	}
}

static void test_utf8_len(void **state)
{
	(void)state;
	assert_int_equal(rk_utf8_len("", 0), 0);
	assert_int_equal(rk_utf8_len("abc", 3), 3);
	assert_int_equal(rk_utf8_len("caf\xc3\xa9", 5), 4);
	assert_int_equal(rk_utf8_len("\xe2\x82\xac\xf0\x9f\x98\x80", 7), 2);
}

/* ---- rk_json_parse limits ---- */

static void test_size_limit(void **state)
{
	(void)state;
	const char *s = "{\"a\":\"0123456789\"}"; /* 18 bytes */
	size_t n = strlen(s);
	cJSON *j = parse(s, n, n, 4);
	assert_non_null(j);
	cJSON_Delete(j);
	assert_null(parse(s, n, n - 1, 4));
	assert_null(parse(s, n, 0, 4));
}

/* n nested arrays: "[[[...]]]" */
static char *nested(int n, char open, char close)
{
	char *s = malloc((size_t)n * 2 + 1);
	for (int i = 0; i < n; i++) {
		s[i] = open;
		s[2 * n - 1 - i] = close;
	}
	s[2 * n] = '\0';
	return s;
}

static void test_depth_limit(void **state)
{
	(void)state;
	for (int max = 1; max <= RK_JSON_DEPTH_MAX; max += RK_JSON_DEPTH_MAX - 1) {
		char *ok = nested(max, '[', ']');
		char *deep = nested(max + 1, '[', ']');
		cJSON *j = parse(ok, strlen(ok), 1 << 20, max);
		assert_non_null(j);
		cJSON_Delete(j);
		assert_null(parse(deep, strlen(deep), 1 << 20, max));
		free(ok);
		free(deep);
	}
	/* Objects count as well as arrays. */
	const char *obj3 = "{\"a\":{\"b\":[1]}}";
	cJSON *j = parse(obj3, strlen(obj3), 100, 3);
	assert_non_null(j);
	cJSON_Delete(j);
	assert_null(parse(obj3, strlen(obj3), 100, 2));
	/* Width is not depth. */
	const char *wide = "[[],[],[],[],[],[],[],[]]";
	j = parse(wide, strlen(wide), 100, 2);
	assert_non_null(j);
	cJSON_Delete(j);
	/* A scalar has depth 0. */
	j = parse("1", 1, 100, 0);
	assert_non_null(j);
	cJSON_Delete(j);
	/* Brackets inside strings (with escaped quotes) are not nesting. */
	const char *str = "{\"a\":\"[[[[\\\"{{{{\\\\\",\"b\":[\"]]]]\"]}";
	j = parse(str, strlen(str), 100, 2);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "a")->valuestring, "[[[[\"{{{{\\");
	cJSON_Delete(j);
	/* A million brackets are refused by the pre-scan, not by recursion. */
	char *huge = nested(1000000, '[', ']');
	assert_null(parse(huge, strlen(huge), (size_t)1 << 22, RK_JSON_DEPTH_MAX));
	free(huge);
	huge = nested(100000, '{', '}');
	assert_null(parse(huge, strlen(huge), (size_t)1 << 22, RK_JSON_DEPTH_MAX));
	free(huge);
}

static void test_trailing_and_empty(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",		" ",	   "\n",     "{} x",	   "{}{}",   "{},",
	    "1 2",	"[] ]",	   "{}\x01", "\"a\"b",	   "{",	     "}",
	    "{\"a\":}", "{'a':1}", "[1,]",   "{\"a\":1,}", "nul",    "NaN",
	    "Infinity", "0x10",	   "{a:1}",  "// c\n{}",   "{}/**/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *j = parsez(bad[i]);
		if (j) {
			cJSON_Delete(j);
			fail_msg("accepted \"%s\"", bad[i]);
		}
	}
	static const char *const good[] = {
	    "{}",	" {} ", "{}\n",
	    "\t[]\r\n", "1",	"\"s\"",
	    "null",	"true", "{\"a\":[1,2,{\"b\":null}]}",
	    "-0.5e3",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cJSON *j = parsez(good[i]);
		if (!j)
			fail_msg("refused \"%s\"", good[i]);
		cJSON_Delete(j);
	}
}

static void test_nul_bytes(void **state)
{
	(void)state;
	/* A NUL anywhere in the counted bytes: after the value, inside a
	 * string, between tokens. */
	assert_null(parse("{\"a\":1}\0", 8, 100, 4));
	assert_null(parse("{\"a\":\"x\0y\"}", 11, 100, 4));
	assert_null(parse("{\"a\":\0 1}", 9, 100, 4));
	assert_null(parse("\0", 1, 100, 4));
	/* The bytes after n are not read: a value cut short is refused even if
	 * the rest of the buffer would complete it. */
	assert_null(parse("{\"a\":1}", 6, 100, 4));
	cJSON *j = parse("{\"a\":1}garbage", 7, 100, 4);
	assert_non_null(j);
	cJSON_Delete(j);
}

/* The escape \u0000 would be cut off silently by cJSON: it is refused, while
 * an escaped backslash followed by the text u0000 is an ordinary string. */
static void test_nul_escape(void **state)
{
	(void)state;
	const char *bad = "{\"a\":\"x\\u0000y\"}";
	assert_null(parse(bad, strlen(bad), 100, 4));
	const char *ok = "{\"a\":\"x\\\\u0000y\"}";
	cJSON *j = parse(ok, strlen(ok), 100, 4);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "a")->valuestring, "x\\u0000y");
	cJSON_Delete(j);
}

/* ---- typed getters ---- */

static void test_jget_int(void **state)
{
	(void)state;
	cJSON *j =
	    parsez("{\"i\":42,\"neg\":-3,\"f\":1.5,\"s\":\"1\",\"b\":true,\"n\":null,"
		   "\"big\":9007199254740991,\"nbig\":-9007199254740991,"
		   "\"over\":9007199254740992,\"e\":1e3,\"inf\":1e400}");
	assert_non_null(j);
	char err[64];
	int64_t v = 0;
	assert_true(rk_jget_int(j, "i", 0, 100, &v, err, sizeof(err)));
	assert_int_equal(v, 42);
	assert_true(rk_jget_int(j, "i", 42, 42, &v, err, sizeof(err)));
	assert_true(rk_jget_int(j, "neg", -3, 0, &v, err, sizeof(err)));
	assert_int_equal(v, -3);
	assert_true(rk_jget_int(j, "e", 0, 1000, &v, err, sizeof(err)));
	assert_int_equal(v, 1000);
	assert_true(rk_jget_int(j, "big", 0, INT64_MAX, &v, err, sizeof(err)));
	assert_int_equal(v, RK_INT_MAX);
	assert_true(rk_jget_int(j, "nbig", INT64_MIN, 0, &v, err, sizeof(err)));
	assert_int_equal(v, -RK_INT_MAX);

	static const struct {
		const char *field;
		int64_t min, max;
	} bad[] = {
	    {"i", 0, 41},	{"i", 43, 100},		{"neg", 0, 10},
	    {"f", 0, 10},	{"s", 0, 10},		{"b", 0, 10},
	    {"n", 0, 10},	{"over", 0, INT64_MAX}, {"inf", 0, INT64_MAX},
	    {"missing", 0, 10},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 77;
		err[0] = '\0';
		if (rk_jget_int(j, bad[i].field, bad[i].min, bad[i].max, &v, err,
				sizeof(err)))
			fail_msg("%s accepted", bad[i].field);
		assert_int_equal(v, 77); /* untouched on failure */
		/* The message names the field. */
		assert_memory_equal(err, bad[i].field, strlen(bad[i].field));
	}
	assert_false(rk_jget_int(j, "missing", 0, 1, &v, err, sizeof(err)));
	assert_string_equal(err, "missing: missing");
	assert_false(rk_jint(NULL, 0, 10, &v));
	assert_false(rk_jint(cJSON_GetObjectItem(j, "s"), 0, 10, &v));
	cJSON_Delete(j);
}

static void test_jget_str(void **state)
{
	(void)state;
	cJSON *j = parsez("{\"s\":\"abc\",\"e\":\"\",\"u\":\"\xc3\xa9\xc3\xa9\xc3\xa9\","
			  "\"n\":1,\"z\":null,\"a\":[\"x\"]}");
	assert_non_null(j);
	char err[64];
	const char *out = NULL;
	assert_true(rk_jget_str(j, "s", 3, false, &out, err, sizeof(err)));
	assert_string_equal(out, "abc");
	assert_false(rk_jget_str(j, "s", 2, false, &out, err, sizeof(err)));
	assert_non_null(strstr(err, "s: "));
	/* max_chars counts code points, not bytes: 3 chars in 6 bytes. */
	assert_true(rk_jget_str(j, "u", 3, false, &out, err, sizeof(err)));
	assert_false(rk_jget_str(j, "u", 2, false, &out, err, sizeof(err)));
	/* Empty strings only when allowed. */
	assert_false(rk_jget_str(j, "e", 10, false, &out, err, sizeof(err)));
	out = NULL;
	assert_true(rk_jget_str(j, "e", 10, true, &out, err, sizeof(err)));
	assert_string_equal(out, "");
	static const char *const bad[] = {"n", "z", "a", "missing"};
	for (size_t i = 0; i < 4; i++) {
		out = "untouched";
		err[0] = '\0';
		assert_false(rk_jget_str(j, bad[i], 10, true, &out, err, sizeof(err)));
		assert_string_equal(out, "untouched");
		assert_memory_equal(err, bad[i], strlen(bad[i]));
	}
	/* Field names are case-sensitive. */
	assert_false(rk_jget_str(j, "S", 10, true, &out, err, sizeof(err)));
	/* A tiny error buffer is truncated, not overrun. */
	char tiny[4];
	assert_false(rk_jget_str(j, "missing", 10, true, &out, tiny, sizeof(tiny)));
	assert_string_equal(tiny, "mis");
	cJSON_Delete(j);
}

/* ---- rk_text_printable ---- */

static void test_text_printable(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t max;
		bool ok;
	} cases[] = {
	    {"alice", 32, true},
	    {"Alice Smith", 32, true},
	    {"a", 1, true},
	    {"ab", 1, false},
	    {"", 32, false},
	    {"\xc3\xa9\xc3\xa9", 2, true}, /* 2 chars, 4 bytes */
	    {"\xc3\xa9\xc3\xa9\xc3\xa9", 2, false},
	    {"\xf0\x9f\x98\x80", 1, true},
	    {"a\tb", 32, false},
	    {"a\nb", 32, false},
	    {"a\rb", 32, false},
	    {"\x1b[31m", 32, false},
	    {"a\x7f", 32, false},
	    {"\x1f", 32, false},
	    {"\xc3", 32, false},
	    {"\xc0\xaf", 32, false},
	    {"\xed\xa0\x80", 32, false},
	    {" ", 32, true},
	    {"~!@#$%^&*()", 32, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (rk_text_printable(cases[i].s, strlen(cases[i].s), cases[i].max) !=
		    cases[i].ok)
			fail_msg("case %zu: expected %s", i,
				 cases[i].ok ? "ok" : "refused");
	/* NUL within the counted bytes is a control character. */
	assert_false(rk_text_printable("a\0b", 3, 32));
	/* Exactly 32 and 33 characters. */
	char name[34];
	memset(name, 'n', sizeof(name));
	assert_true(rk_text_printable(name, 32, RK_NAME_MAX));
	assert_false(rk_text_printable(name, 33, RK_NAME_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_table),
	    cmocka_unit_test(test_utf8_in_json),
	    cmocka_unit_test(test_utf8_len),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_trailing_and_empty),
	    cmocka_unit_test(test_nul_bytes),
	    cmocka_unit_test(test_nul_escape),
	    cmocka_unit_test(test_jget_int),
	    cmocka_unit_test(test_jget_str),
	    cmocka_unit_test(test_text_printable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
