/* timescale.c - RK_TIMEOUT_SCALE (see timescale.h). */
#include <limits.h>
#include <stdlib.h>
#include "timescale.h"

int rt_timeout_scale(void)
{
	/* Read each time: cheap, and no state shared between test threads. */
	const char *s = getenv("RK_TIMEOUT_SCALE");
	if (!s || !*s)
		return 1;
	char *end;
	long v = strtol(s, &end, 10);
	return *end || v < 1 || v > 100 ? 1 : (int)v;
}

int rt_scaled_ms(int ms)
{
	if (ms <= 0)
		return ms;
	long long v = (long long)ms * rt_timeout_scale();
	return v > INT_MAX ? INT_MAX : (int)v;
}

bool rt_under_valgrind(void)
{
	const char *s = getenv("RK_UNDER_VALGRIND");
	return s && *s && *s != '0';
}
