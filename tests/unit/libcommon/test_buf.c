/* test_buf.c - the growable buffer keeps its promises: content always
 * NUL-terminated, a cap that is never passed, a failure that sticks, JSON
 * string escaping that any JSON parser reads back unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "buf.h"

static void test_appends(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 0);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	rk_buf_put(&b, "ab", 2);
	rk_buf_puts(&b, "cd");
	rk_buf_putc(&b, 'e');
	rk_buf_put(&b, "zzz", 0);
	rk_buf_printf(&b, "%d-%s", 42, "x");
	rk_buf_put_i64(&b, -7);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	assert_int_equal(b.len, strlen("abcde42-x-7"));
	assert_string_equal(b.data, "abcde42-x-7");

	/* Growth across many reallocations keeps the content and the NUL. */
	rk_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	for (int i = 0; i < 10000; i++) {
		rk_buf_putc(&b, (char)('a' + i % 26));
		assert_int_equal(b.data[b.len], '\0');
	}
	assert_int_equal(b.len, 10000);
	assert_true(b.cap > b.len);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], 'a' + (int)(i % 26));

	/* A long printf (larger than the first allocation). */
	rk_buf_reset(&b);
	rk_buf_printf(&b, "%0500d|%s", 1, "end");
	assert_int_equal(b.len, 504);
	assert_string_equal(b.data + 500, "|end");
	rk_buf_printf(&b, "%s", "");
	assert_int_equal(b.len, 504);
	rk_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_embedded_nul(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_put(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	rk_buf_free(&b);
}

static void test_cap_sticky(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 10);
	rk_buf_puts(&b, "12345678");
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	/* Exactly up to the cap is fine. */
	rk_buf_puts(&b, "90");
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	assert_int_equal(b.len, 10);
	/* One byte more fails and appends nothing. */
	rk_buf_putc(&b, 'x');
	assert_true(b.failed);
	assert_int_equal(rk_buf_ok(&b), RK_ENOMEM);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "1234567890");

	/* Sticky: later appends that would fit are no-ops too. */
	rk_buf_reset(&b);
	rk_buf_puts(&b, "123");
	rk_buf_puts(&b, "too long for the rest");
	assert_int_equal(rk_buf_ok(&b), RK_ENOMEM);
	rk_buf_putc(&b, 'x');
	rk_buf_put_i64(&b, 1);
	rk_buf_printf(&b, "%s", "y");
	rk_buf_put_jstrz(&b, "z");
	assert_int_equal(rk_buf_reserve(&b, 1), RK_ENOMEM);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "123");

	/* A failed buffer cannot be stolen: its content is incomplete. */
	size_t len = 99;
	assert_null(rk_buf_steal(&b, &len));
	assert_int_equal(len, 0);

	/* Reset clears the failure; free keeps the cap. */
	rk_buf_reset(&b);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	rk_buf_free(&b);
	assert_int_equal(b.max, 10);
	rk_buf_puts(&b, "12345678901");
	assert_int_equal(rk_buf_ok(&b), RK_ENOMEM);
	assert_int_equal(b.len, 0);
	rk_buf_free(&b);
}

static void test_cap_printf_and_jstr(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 8);
	rk_buf_printf(&b, "%s", "123456789");
	assert_int_equal(rk_buf_ok(&b), RK_ENOMEM);
	assert_int_equal(b.len, 0);
	rk_buf_free(&b);

	rk_buf_init(&b, 8);
	rk_buf_put_jstrz(&b, "a\"b\"c\"d"); /* 13 bytes escaped */
	assert_int_equal(rk_buf_ok(&b), RK_ENOMEM);
	assert_true(b.len <= 8);
	rk_buf_free(&b);
}

static void test_reserve_huge(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_puts(&b, "abc");
	/* Sizes that would overflow len + n + 1 are refused, not wrapped. */
	assert_int_equal(rk_buf_reserve(&b, SIZE_MAX), RK_ENOMEM);
	assert_true(b.failed);
	/* The default cap (SIZE_MAX / 2) counts what is already there. */
	rk_buf_reset(&b);
	rk_buf_puts(&b, "abc");
	assert_int_equal(rk_buf_reserve(&b, SIZE_MAX / 2 - 2), RK_ENOMEM);
	rk_buf_reset(&b);
	assert_int_equal(rk_buf_reserve(&b, 100), RK_OK);
	assert_true(b.cap >= 100 + 1);
	assert_string_equal(b.data, "");
	rk_buf_free(&b);
}

static void test_i64_extremes(void **state)
{
	(void)state;
	static const struct {
		int64_t v;
		const char *s;
	} cases[] = {
	    {0, "0"},
	    {1, "1"},
	    {-1, "-1"},
	    {9, "9"},
	    {10, "10"},
	    {-10, "-10"},
	    {INT64_MAX, "9223372036854775807"},
	    {INT64_MIN, "-9223372036854775808"},
	    {INT64_MIN + 1, "-9223372036854775807"},
	    {INT64_C(9007199254740991), "9007199254740991"},
	    {INT64_C(-9007199254740991), "-9007199254740991"},
	    {INT64_C(1700000000000), "1700000000000"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rk_buf b;
		rk_buf_init(&b, 0);
		rk_buf_put_i64(&b, cases[i].v);
		assert_string_equal(b.data, cases[i].s);
		rk_buf_free(&b);
	}
}

static void test_jstr_escaping(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
	    {"", 0, "\"\""},
	    {"plain", 5, "\"plain\""},
	    {"a\"b", 3, "\"a\\\"b\""},
	    {"a\\b", 3, "\"a\\\\b\""},
	    {"/", 1, "\"/\""},
	    {"\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""},
	    {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
	    {"\x7f", 1, "\"\\u007f\""},
	    {"a\0b", 3, "\"a\\u0000b\""},
	    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
	     "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
	    {"\x1b[31mred", 8, "\"\\u001b[31mred\""},
	    {"</script>", 9, "\"</script>\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rk_buf b;
		rk_buf_init(&b, 0);
		rk_buf_put_jstr(&b, cases[i].in, cases[i].n);
		assert_int_equal(rk_buf_ok(&b), RK_OK);
		assert_string_equal(b.data, cases[i].out);
		rk_buf_free(&b);
	}
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_puts(&b, "x=");
	rk_buf_put_jstrz(&b, "q\"");
	assert_string_equal(b.data, "x=\"q\\\"\"");
	rk_buf_free(&b);
}

/* Every byte 1..127 (and a run of all of them) survives a round trip
 * through a real JSON parser. */
static void test_jstr_round_trip(void **state)
{
	(void)state;
	char all[127];
	for (int c = 1; c < 128; c++) {
		char s[3] = {'<', (char)c, '>'};
		all[c - 1] = (char)c;
		rk_buf b;
		rk_buf_init(&b, 0);
		rk_buf_put_jstr(&b, s, 3);
		cJSON *j = cJSON_ParseWithLength(b.data, b.len);
		assert_non_null(j);
		assert_true(cJSON_IsString(j));
		assert_memory_equal(j->valuestring, s, 3);
		assert_int_equal(strlen(j->valuestring), 3);
		cJSON_Delete(j);
		rk_buf_free(&b);
	}
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_put_jstr(&b, all, sizeof(all));
	cJSON *j = cJSON_ParseWithLength(b.data, b.len);
	assert_non_null(j);
	assert_int_equal(strlen(j->valuestring), sizeof(all));
	assert_memory_equal(j->valuestring, all, sizeof(all));
	cJSON_Delete(j);
	rk_buf_free(&b);
}

static void test_steal(void **state)
{
	(void)state;
	rk_buf b;
	rk_buf_init(&b, 100);
	size_t len = 99;
	/* Nothing to steal yet. */
	assert_null(rk_buf_steal(&b, &len));
	assert_int_equal(len, 0);

	rk_buf_puts(&b, "hello");
	char *p = rk_buf_steal(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 5);
	assert_string_equal(p, "hello");
	/* The buffer is empty and usable again, with the same cap. */
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 100);
	rk_buf_puts(&b, "again");
	char *q = rk_buf_steal(&b, NULL);
	assert_string_equal(q, "again");
	assert_ptr_not_equal(p, q);
	free(p);
	free(q);
	rk_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_appends),
	    cmocka_unit_test(test_embedded_nul),
	    cmocka_unit_test(test_cap_sticky),
	    cmocka_unit_test(test_cap_printf_and_jstr),
	    cmocka_unit_test(test_reserve_huge),
	    cmocka_unit_test(test_i64_extremes),
	    cmocka_unit_test(test_jstr_escaping),
	    cmocka_unit_test(test_jstr_round_trip),
	    cmocka_unit_test(test_steal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
