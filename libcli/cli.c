/* cli.c - option numbers, the secret file (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "token.h"

bool rk_cli_int(const char *opt, const char *s, long long min, long long max,
		long long *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		snprintf(err, errlen, "bad number for %s: '%s' (want %lld..%lld)", opt, s,
			 min, max);
		return false;
	}
	*out = v;
	return true;
}

bool rk_cli_double(const char *opt, const char *s, double min, double max, double *out,
		   char *err, size_t errlen)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
		snprintf(err, errlen, "bad number for %s: '%s' (want %g..%g)", opt, s,
			 min, max);
		return false;
	}
	*out = v;
	return true;
}

rk_exit rk_cli_secret(FILE *err, const char *path, unsigned char **secret, size_t *len)
{
	char why[256];
	free(*secret);
	if (rk_secret_load(path, secret, len, why, sizeof(why)) != RK_OK) {
		fprintf(err, "Error: %s\n", why);
		return RK_EXIT_FAIL;
	}
	return RK_EXIT_OK;
}
