/*
 * log.h - leveled logging to stderr, one line per call.
 *
 * The level is the one process-wide setting in libcommon (set once at start
 * by main); RK_LOG checks it before evaluating its arguments.
 * Line format: "2026-11-27T10:00:00.123Z LEVEL message", or with
 * RK_LOG_JSON one JSON object per line:
 * {"ts":"2026-11-27T10:00:00.123Z","level":"info","msg":"message"}.
 *
 * Lines a flood could multiply (one per connection, one per refused
 * request) go through an rk_log_limit: a token bucket per kind of line, so
 * ten thousand connects write a bounded number of lines and one summary a
 * second of how many were left out.
 */
#ifndef RK_LOG_H
#define RK_LOG_H

#include "rk_common.h"

typedef enum rk_log_level {
	RK_LOG_ERROR = 0,
	RK_LOG_WARN = 1,
	RK_LOG_INFO = 2,
	RK_LOG_DEBUG = 3,
} rk_log_level;

extern rk_log_level rk_log_threshold;

typedef enum rk_log_format {
	RK_LOG_TEXT = 0, /* "TS LEVEL message" */
	RK_LOG_JSON,	 /* {"ts","level","msg"} per line, for log shippers */
} rk_log_format;

/* Parse "text" or "json". Returns false if unknown. */
bool rk_log_parse_format(const char *s, rk_log_format *out);
/* Set once at start, like the level. */
void rk_log_set_format(rk_log_format f);

/* Parse "error", "warn", "info", "debug". Returns false if unknown. */
bool rk_log_parse_level(const char *s, rk_log_level *out);
void rk_log_set_level(rk_log_level lvl);
void rk_log_write(rk_log_level lvl, const char *fmt, ...) RK_PRINTF(2, 3);

#define RK_LOG(lvl, ...)                                                                 \
	do {                                                                             \
		if ((lvl) <= rk_log_threshold)                                           \
			rk_log_write((lvl), __VA_ARGS__);                                \
	} while (0)
#define rk_error(...) RK_LOG(RK_LOG_ERROR, __VA_ARGS__)
#define rk_warn(...) RK_LOG(RK_LOG_WARN, __VA_ARGS__)
#define rk_info(...) RK_LOG(RK_LOG_INFO, __VA_ARGS__)
#define rk_debug(...) RK_LOG(RK_LOG_DEBUG, __VA_ARGS__)

/* Rate of the limited lines: RK_LOG_LIMIT_RATE a second on average, at most
 * RK_LOG_LIMIT_BURST at once. */
enum { RK_LOG_LIMIT_RATE = 20, RK_LOG_LIMIT_BURST = 50 };

/* A log-line limiter; owned by its user (one per server), not thread-safe.
 * Zero-initialised it is full (rk_log_limit_take sets it up). */
typedef struct rk_log_limit {
	double tokens;	     /* lines that may be written now */
	int64_t last_us;     /* when tokens was last refilled; 0: never */
	uint64_t suppressed; /* lines left out since the last summary */
	int64_t since_us;    /* start of the current summary period */
} rk_log_limit;

/* May one more limited line be written at now_us (a monotonic clock)? If
 * not it is counted for the next summary. This function can't fail. */
bool rk_log_limit_take(rk_log_limit *l, int64_t now_us);

/* Write the summary "log: N lines suppressed in the last S s" (level warn)
 * if lines were left out and a second has passed since the period began;
 * call it from a timer. This function can't fail. */
void rk_log_limit_flush(rk_log_limit *l, int64_t now_us);

/* A line through limiter l: the level is checked first, so lines below the
 * threshold cost nothing and take no token. */
#define rk_log_limited(l, lvl, now_us, ...)                                              \
	do {                                                                             \
		if ((lvl) <= rk_log_threshold && rk_log_limit_take((l), (now_us)))       \
			rk_log_write((lvl), __VA_ARGS__);                                \
	} while (0)

#endif
