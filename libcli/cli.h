/*
 * cli.h - what every roomkit command line shares (roomd, roomctl, roomload,
 * roomtui): the exit-code table of PROTOCOL.md section 10, numbers read from
 * option values with the option named in the error, and the secret file
 * read with its error printed.
 *
 * Part of libcli (rkcli), which the four binaries link and libcommon does
 * not: libcommon is the protocol (every fuzzer and test links it), this is
 * the command line around it. libcli may use libcommon, never the reverse.
 * Nothing here keeps state between calls.
 */
#ifndef RK_CLI_H
#define RK_CLI_H

#include <stdio.h>

#include "rk_common.h"

/* The exit status of every roomkit binary (PROTOCOL.md section 10). */
typedef enum rk_exit {
	RK_EXIT_OK = 0,	   /* success (also: --help was printed) */
	RK_EXIT_FAIL = 1,  /* a runtime error or a failed check */
	RK_EXIT_USAGE = 2, /* a bad command line; a one-line hint was printed */
} rk_exit;

/* A command-line parser's "go on" result: any other result is an rk_exit
 * to leave with (RK_EXIT_OK after printing --help). */
#define RK_CLI_GO (-1)

/*
 * The value s of option opt (its name as the user wrote it: "--rooms") as a
 * whole decimal integer within [min, max]. On success stores it in *out and
 * returns true. On failure (empty, not a number, trailing text, out of
 * range) returns false, leaves *out alone and writes one line without a
 * newline into err (errlen bytes): "bad number for OPT: 'S' (want MIN..MAX)".
 * This function can't fail otherwise.
 */
bool rk_cli_int(const char *opt, const char *s, long long min, long long max,
		long long *out, char *err, size_t errlen) RK_WARN_UNUSED;
/* The same for a finite decimal number within [min, max] (no inf, no nan). */
bool rk_cli_double(const char *opt, const char *s, double min, double max, double *out,
		   char *err, size_t errlen) RK_WARN_UNUSED;

/*
 * Read the secret file at path (libcommon's rk_secret_load: the whole file
 * minus trailing newlines) into *secret / *len, freeing what *secret held
 * first (a repeated option does not leak). Returns RK_EXIT_OK, or
 * RK_EXIT_FAIL with "Error: <reason>" printed on one line to err and
 * *secret NULL, *len 0. The caller frees *secret.
 */
rk_exit rk_cli_secret(FILE *err, const char *path, unsigned char **secret,
		      size_t *len) RK_WARN_UNUSED;

#endif
