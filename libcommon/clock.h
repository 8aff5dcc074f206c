/*
 * clock.h - the two clocks: wall time (for event `ts`, token `exp`, alarms)
 * and monotonic time (for timeouts, rates and latency). These can't fail.
 */
#ifndef RK_CLOCK_H
#define RK_CLOCK_H

#include "rk_common.h"

/* Milliseconds since the Unix epoch, wall clock. */
int64_t rk_wall_ms(void);
/* Microseconds from an arbitrary fixed point, monotonic. */
int64_t rk_mono_us(void);
/* Nanoseconds, monotonic (for latency histograms). */
int64_t rk_mono_ns(void);

#endif
