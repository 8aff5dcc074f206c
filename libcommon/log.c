/* log.c - leveled logging to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "log.h"

/* The one process-wide setting of libcommon: written once by main(). */
rk_log_level rk_log_threshold = RK_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

bool rk_log_parse_level(const char *s, rk_log_level *out)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (rk_log_level)i;
			return true;
		}
	}
	return false;
}

void rk_log_set_level(rk_log_level lvl)
{
	rk_log_threshold = lvl;
}

void rk_log_write(rk_log_level lvl, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 level_names[lvl <= RK_LOG_DEBUG ? lvl : RK_LOG_DEBUG]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs of a complete line, so concurrent writers do not interleave. */
	size_t len = strnlen(line, sizeof(line) - 2);
	line[len] = '\n';
	line[len + 1] = '\0';
	fputs(line, stderr);
}
