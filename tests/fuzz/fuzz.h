/*
 * fuzz.h - what every fuzz target shares.
 *
 * Each tests/fuzz/fuzz_<target>.c defines LLVMFuzzerTestOneInput. Built with
 * clang -fsanitize=fuzzer (RK_FUZZ=ON, make fuzz) it is a libFuzzer binary;
 * built with replay.c in the normal and sanitizer builds it is
 * fuzz_<target>_replay, a ctest test that runs every file of the target's
 * seed corpus and crash regressions (tests/fuzz/{corpus,regressions}/<target>).
 *
 * An invariant that does not hold calls FUZZ_CHECK, which aborts with the
 * condition and location: libFuzzer saves the input as a crash, and the
 * replay test fails.
 */
#ifndef RK_FUZZ_H
#define RK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                 \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,       \
				__LINE__, #cond);                                        \
			abort();                                                         \
		}                                                                        \
	} while (0)

/* The secret the token and HTTP targets verify with (corpus tokens are
 * signed with it: printf fuzz-secret > f; roomctl token --secret-file f). */
#define FUZZ_SECRET "fuzz-secret"
/* "now" for token checks: 2023-11-14T22:13:20Z, before the corpus tokens'
 * exp. */
#define FUZZ_NOW_S INT64_C(1700000000)

/* A NUL-terminated malloc'd copy of the input (most decoders take strings),
 * or abort: running out of memory is not a finding. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	FUZZ_CHECK(s != NULL);
	for (size_t i = 0; i < size; i++)
		s[i] = (char)data[i];
	s[size] = '\0';
	return s;
}

#endif
