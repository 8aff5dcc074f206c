/*
 * log.h - leveled logging to stderr, one line per call.
 *
 * The level is the one process-wide setting in libcommon (set once at start
 * by main); RK_LOG checks it before evaluating its arguments.
 * Line format: "2026-11-27T10:00:00.123Z LEVEL message".
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

/* Parse "error", "warn", "info", "debug". Returns false if unknown. */
bool rk_log_parse_level(const char *s, rk_log_level *out);
void rk_log_set_level(rk_log_level lvl);
void rk_log_write(rk_log_level lvl, const char *fmt, ...) RK_PRINTF(2, 3);

#define RK_LOG(lvl, ...)                                                       \
	do {                                                                   \
		if ((lvl) <= rk_log_threshold)                                 \
			rk_log_write((lvl), __VA_ARGS__);                      \
	} while (0)
#define rk_error(...) RK_LOG(RK_LOG_ERROR, __VA_ARGS__)
#define rk_warn(...) RK_LOG(RK_LOG_WARN, __VA_ARGS__)
#define rk_info(...) RK_LOG(RK_LOG_INFO, __VA_ARGS__)
#define rk_debug(...) RK_LOG(RK_LOG_DEBUG, __VA_ARGS__)

#endif
