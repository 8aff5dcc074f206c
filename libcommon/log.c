/* log.c - leveled logging to stderr, text or JSON lines, and the limiter
 * for lines a flood could multiply. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "json.h"
#include "buf.h"
#include "log.h"

/* The one process-wide setting of libcommon: written once by main(). */
rk_log_level rk_log_threshold = RK_LOG_INFO;
/* Likewise written once by main(). */
static rk_log_format log_format = RK_LOG_TEXT;

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

bool rk_log_parse_format(const char *s, rk_log_format *out)
{
	if (strcmp(s, "text") == 0 || strcmp(s, "json") == 0) {
		*out = strcmp(s, "json") == 0 ? RK_LOG_JSON : RK_LOG_TEXT;
		return true;
	}
	return false;
}

void rk_log_set_format(rk_log_format f)
{
	log_format = f;
}

/* The message as one JSON object (JSON-escaped by the buffer's encoder). */
static void write_json(const char *ts, const char *level, const char *msg)
{
	rk_buf b;
	rk_buf_init(&b, 8192);
	rk_buf_puts(&b, "{\"ts\":");
	rk_buf_put_jstrz(&b, ts);
	rk_buf_puts(&b, ",\"level\":");
	rk_buf_put_jstrz(&b, level);
	rk_buf_puts(&b, ",\"msg\":");
	/* A message cut at the buffer's end may end inside a UTF-8 sequence;
	 * drop the broken tail so the line stays valid JSON text. */
	size_t n = strlen(msg);
	while (n && !rk_utf8_valid(msg, n))
		n--;
	rk_buf_put_jstr(&b, msg, n);
	rk_buf_puts(&b, "}\n");
	/* One fputs of a complete line, so concurrent writers do not interleave. */
	fputs(rk_buf_ok(&b) == RK_OK
		  ? b.data
		  : "{\"level\":\"error\",\"msg\":\"log: out of memory\"}\n",
	      stderr);
	rk_buf_free(&b);
}

void rk_log_write(rk_log_level lvl, const char *fmt, ...)
{
	char line[1024], ts_s[96];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(ts_s, sizeof(ts_s), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, ts.tv_nsec / 1000000);
	const char *level = level_names[lvl <= RK_LOG_DEBUG ? lvl : RK_LOG_DEBUG];
	int n = log_format == RK_LOG_JSON
		    ? 0
		    : snprintf(line, sizeof(line), "%s %-5s ", ts_s, level);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (log_format == RK_LOG_JSON) {
		write_json(ts_s, level, line);
		return;
	}
	/* One fputs of a complete line, so concurrent writers do not interleave. */
	size_t len = strnlen(line, sizeof(line) - 2);
	line[len] = '\n';
	line[len + 1] = '\0';
	fputs(line, stderr);
}

bool rk_log_limit_take(rk_log_limit *l, int64_t now_us)
{
	if (!l->last_us) {
		l->tokens = RK_LOG_LIMIT_BURST;
		l->last_us = l->since_us = now_us;
	}
	l->tokens += (double)(now_us - l->last_us) * RK_LOG_LIMIT_RATE / 1e6;
	if (l->tokens > RK_LOG_LIMIT_BURST)
		l->tokens = RK_LOG_LIMIT_BURST;
	l->last_us = now_us;
	if (l->tokens >= 1) {
		l->tokens -= 1;
		return true;
	}
	if (!l->suppressed)
		l->since_us = now_us;
	l->suppressed++;
	return false;
}

void rk_log_limit_flush(rk_log_limit *l, int64_t now_us)
{
	if (!l->suppressed || now_us - l->since_us < 1000000)
		return;
	rk_warn("log: %llu lines suppressed in the last %.1f s (more than %d a second)",
		(unsigned long long)l->suppressed, (double)(now_us - l->since_us) / 1e6,
		RK_LOG_LIMIT_RATE);
	l->suppressed = 0;
	l->since_us = now_us;
}
