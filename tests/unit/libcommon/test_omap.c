/*
 * test_omap.c - the insertion-ordered hash map: lookups, replacement in
 * place, deletion holes and their compaction, order under churn, checked
 * against a simple reference model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "omap.h"

#define V(i) ((void *)(intptr_t)(i))

static void put_ok(rk_omap *m, const char *k, intptr_t v)
{
	assert_int_equal(rk_omap_put(m, k, strlen(k), V(v)), RK_OK);
}

static void *get(const rk_omap *m, const char *k)
{
	return rk_omap_get(m, k, strlen(k));
}

/* The live keys in iteration order, joined with ','. */
static void order(const rk_omap *m, char *out, size_t n)
{
	const rk_omap_entry *e;
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; rk_omap_next(m, &i, &e);)
		len +=
		    (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "", e->key);
}

/* Holes never exceed half the used entries and the load factor is <= 0.5. */
static void check_invariants(const rk_omap *m)
{
	assert_true(m->live <= m->nents);
	assert_true((m->nents - m->live) * 2 <= m->nents || m->nents == 0);
	assert_true(m->nents * 2 <= m->nindex || m->nindex == 0);
	assert_true(m->nents <= m->cap);
}

static void test_empty(void **state)
{
	(void)state;
	rk_omap m;
	rk_omap_init(&m);
	const rk_omap_entry *e;
	size_t it = 0;
	assert_int_equal(rk_omap_count(&m), 0);
	assert_null(get(&m, "a"));
	assert_null(rk_omap_del(&m, "a", 1));
	assert_false(rk_omap_next(&m, &it, &e));
	rk_omap_free(&m);
	rk_omap_free(&m); /* free of a freed map is harmless */
}

static void test_insert_get(void **state)
{
	(void)state;
	rk_omap m;
	rk_omap_init(&m);
	put_ok(&m, "alpha", 1);
	put_ok(&m, "beta", 2);
	put_ok(&m, "", 3); /* the empty key is a key like any other */
	assert_int_equal(rk_omap_count(&m), 3);
	assert_ptr_equal(get(&m, "alpha"), V(1));
	assert_ptr_equal(get(&m, "beta"), V(2));
	assert_ptr_equal(get(&m, ""), V(3));
	assert_null(get(&m, "alph"));
	assert_null(get(&m, "alphax"));
	/* klen counts, the bytes after it do not. */
	assert_ptr_equal(rk_omap_get(&m, "alphabet", 5), V(1));
	assert_null(rk_omap_get(&m, "alphabet", 6));
	rk_omap_free(&m);
}

static void test_key_is_copied(void **state)
{
	(void)state;
	rk_omap m;
	rk_omap_init(&m);
	char key[8] = "k1";
	put_ok(&m, key, 7);
	key[1] = '2';
	assert_null(get(&m, "k2"));
	assert_ptr_equal(get(&m, "k1"), V(7));
	const rk_omap_entry *e;
	size_t it = 0;
	assert_true(rk_omap_next(&m, &it, &e));
	assert_string_equal(e->key, "k1");
	assert_int_equal(e->klen, 2);
	rk_omap_free(&m);
}

static void test_replace_keeps_position(void **state)
{
	(void)state;
	rk_omap m;
	char buf[256];
	rk_omap_init(&m);
	put_ok(&m, "a", 1);
	put_ok(&m, "b", 2);
	put_ok(&m, "c", 3);
	put_ok(&m, "b", 20);
	assert_int_equal(rk_omap_count(&m), 3);
	assert_ptr_equal(get(&m, "b"), V(20));
	order(&m, buf, sizeof(buf));
	assert_string_equal(buf, "a,b,c");
	rk_omap_free(&m);
}

static void test_delete_and_reinsert(void **state)
{
	(void)state;
	rk_omap m;
	char buf[256];
	rk_omap_init(&m);
	put_ok(&m, "a", 1);
	put_ok(&m, "b", 2);
	put_ok(&m, "c", 3);
	put_ok(&m, "d", 4);
	assert_ptr_equal(rk_omap_del(&m, "b", 1), V(2));
	assert_null(rk_omap_del(&m, "b", 1));
	assert_null(get(&m, "b"));
	assert_int_equal(rk_omap_count(&m), 3);
	order(&m, buf, sizeof(buf));
	assert_string_equal(buf, "a,c,d");
	/* A deleted key that comes back goes to the end. */
	put_ok(&m, "b", 5);
	order(&m, buf, sizeof(buf));
	assert_string_equal(buf, "a,c,d,b");
	assert_ptr_equal(get(&m, "b"), V(5));
	check_invariants(&m);
	rk_omap_free(&m);
}

static void test_compaction_keeps_order(void **state)
{
	(void)state;
	rk_omap m;
	char buf[256];
	rk_omap_init(&m);
	const char *keys[] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"};
	for (size_t i = 0; i < 10; i++)
		put_ok(&m, keys[i], (intptr_t)i + 1);
	size_t before = m.nents;
	assert_int_equal(before, 10);
	/* Delete 6 of 10: the holes pass half, so the entries get compacted. */
	const int gone[] = {0, 2, 4, 6, 8, 1};
	for (size_t i = 0; i < 6; i++) {
		assert_ptr_equal(rk_omap_del(&m, keys[gone[i]], 2), V(gone[i] + 1));
		check_invariants(&m);
	}
	assert_true(m.nents < before);
	assert_int_equal(rk_omap_count(&m), 4);
	order(&m, buf, sizeof(buf));
	assert_string_equal(buf, "k3,k5,k7,k9");
	for (size_t i = 0; i < 10; i++) {
		void *v = get(&m, keys[i]);
		if (i == 3 || i == 5 || i == 7 || i == 9)
			assert_ptr_equal(v, V(i + 1));
		else
			assert_null(v);
	}
	/* Deleting everything leaves a usable empty map. */
	rk_omap_del(&m, "k3", 2);
	rk_omap_del(&m, "k5", 2);
	rk_omap_del(&m, "k7", 2);
	rk_omap_del(&m, "k9", 2);
	assert_int_equal(rk_omap_count(&m), 0);
	assert_int_equal(m.nents, 0);
	put_ok(&m, "z", 26);
	order(&m, buf, sizeof(buf));
	assert_string_equal(buf, "z");
	rk_omap_free(&m);
}

static void test_clear(void **state)
{
	(void)state;
	rk_omap m;
	char buf[64];
	rk_omap_init(&m);
	put_ok(&m, "a", 1);
	put_ok(&m, "b", 2);
	rk_omap_clear(&m);
	assert_int_equal(rk_omap_count(&m), 0);
	assert_null(get(&m, "a"));
	put_ok(&m, "b", 3);
	put_ok(&m, "a", 4);
	order(&m, buf, sizeof(buf));
	assert_string_equal(buf, "b,a");
	rk_omap_free(&m);
}

enum { BIG = 100000 };

static void key_of(char *buf, size_t n, size_t i)
{
	snprintf(buf, n, "key-%zu", i);
}

static void test_100k_keys(void **state)
{
	(void)state;
	rk_omap m;
	char k[32];
	rk_omap_init(&m);
	for (size_t i = 0; i < BIG; i++) {
		key_of(k, sizeof(k), i);
		put_ok(&m, k, (intptr_t)i + 1);
	}
	check_invariants(&m);
	assert_int_equal(rk_omap_count(&m), BIG);
	for (size_t i = 0; i < BIG; i++) {
		key_of(k, sizeof(k), i);
		assert_ptr_equal(get(&m, k), V(i + 1));
	}
	/* Iteration is insertion order. */
	const rk_omap_entry *e;
	size_t n = 0;
	for (size_t it = 0; rk_omap_next(&m, &it, &e); n++) {
		key_of(k, sizeof(k), n);
		assert_string_equal(e->key, k);
	}
	assert_int_equal(n, BIG);

	/* Delete the even keys (and, every third, replace an odd one). */
	for (size_t i = 0; i < BIG; i += 2) {
		key_of(k, sizeof(k), i);
		assert_ptr_equal(rk_omap_del(&m, k, strlen(k)), V(i + 1));
		check_invariants(&m);
	}
	for (size_t i = 1; i < BIG; i += 6) {
		key_of(k, sizeof(k), i);
		put_ok(&m, k, -(intptr_t)i);
	}
	assert_int_equal(rk_omap_count(&m), BIG / 2);
	n = 0;
	for (size_t it = 0; rk_omap_next(&m, &it, &e); n++) {
		size_t want = 2 * n + 1;
		key_of(k, sizeof(k), want);
		assert_string_equal(e->key, k);
		intptr_t v = (want - 1) % 6 == 0 ? -(intptr_t)want : (intptr_t)want + 1;
		assert_ptr_equal(e->val, V(v));
	}
	assert_int_equal(n, BIG / 2);
	for (size_t i = 0; i < BIG; i += 2) {
		key_of(k, sizeof(k), i);
		assert_null(get(&m, k));
	}
	/* Delete the rest: the tables shrink back. */
	for (size_t i = 1; i < BIG; i += 2) {
		key_of(k, sizeof(k), i);
		assert_non_null(rk_omap_del(&m, k, strlen(k)));
	}
	assert_int_equal(rk_omap_count(&m), 0);
	assert_true(m.nindex <= 64);
	rk_omap_free(&m);
}

/* Random put/replace/delete churn against a reference model; full order
 * checks along the way. */
enum { NKEYS = 3000, NOPS = 200000 };

typedef struct model {
	int32_t pos[NKEYS];    /* position in ord, -1 if absent */
	int32_t ord[NOPS + 1]; /* key ids in insertion order, -1 for holes */
	intptr_t val[NKEYS];
	size_t nord;
	size_t live;
} model;

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_random_churn_matches_model(void **state)
{
	(void)state;
	model *md = calloc(1, sizeof(*md));
	assert_non_null(md);
	for (size_t i = 0; i < NKEYS; i++)
		md->pos[i] = -1;
	rk_omap m;
	rk_omap_init(&m);
	uint64_t seed = 0x9e3779b97f4a7c15u;
	char k[32];
	for (size_t op = 0; op < NOPS; op++) {
		size_t id = (size_t)(rng_next(&seed) % NKEYS);
		key_of(k, sizeof(k), id);
		bool del = rng_next(&seed) % 5 < 2;
		if (del) {
			void *v = rk_omap_del(&m, k, strlen(k));
			if (md->pos[id] < 0) {
				assert_null(v);
			} else {
				assert_ptr_equal(v, V(md->val[id]));
				md->ord[md->pos[id]] = -1;
				md->pos[id] = -1;
				md->live--;
			}
		} else {
			intptr_t v = (intptr_t)op + 1;
			put_ok(&m, k, v);
			if (md->pos[id] < 0) {
				md->pos[id] = (int32_t)md->nord;
				md->ord[md->nord++] = (int32_t)id;
				md->live++;
			}
			md->val[id] = v;
		}
		assert_int_equal(rk_omap_count(&m), md->live);
		if (op % 20000 == 0 || op == NOPS - 1) {
			check_invariants(&m);
			const rk_omap_entry *e;
			size_t it = 0;
			for (size_t j = 0; j < md->nord; j++) {
				if (md->ord[j] < 0)
					continue;
				assert_true(rk_omap_next(&m, &it, &e));
				key_of(k, sizeof(k), (size_t)md->ord[j]);
				assert_string_equal(e->key, k);
				assert_ptr_equal(e->val, V(md->val[md->ord[j]]));
			}
			assert_false(rk_omap_next(&m, &it, &e));
		}
	}
	rk_omap_free(&m);
	free(md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_insert_get),
	    cmocka_unit_test(test_key_is_copied),
	    cmocka_unit_test(test_replace_keeps_position),
	    cmocka_unit_test(test_delete_and_reinsert),
	    cmocka_unit_test(test_compaction_keeps_order),
	    cmocka_unit_test(test_clear),
	    cmocka_unit_test(test_100k_keys),
	    cmocka_unit_test(test_random_churn_matches_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
