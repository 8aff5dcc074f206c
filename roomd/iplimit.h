/*
 * iplimit.h - process-wide limits per client address, checked at the
 * upgrade gate before any room is touched: a connection rate per IP (a
 * token bucket: `rate` upgrades per second, up to `burst` at once) and,
 * optionally, a cap on the open WebSocket connections of one IP.
 *
 * The table is keyed by the address as text, bounded (IPL_MAX_ENTRIES), and
 * swept of idle entries (no open connection, bucket full again). If it is
 * full of live entries the new address is admitted unlimited (and counted):
 * an attacker with that many addresses is not stopped by per-IP limits
 * anyway, and failing closed would lock out every newcomer.
 *
 * Loopback addresses (127.0.0.0/8, ::1) are exempt unless limit_loopback:
 * behind a reverse proxy on the same host every client is 127.0.0.1, and
 * load tests (roomload) open thousands of connections from it.
 *
 * Loop thread only; no lws, no I/O.
 */
#ifndef ROOMD_IPLIMIT_H
#define ROOMD_IPLIMIT_H

#include <stdint.h>
#include "omap.h"

#define IPL_MAX_ENTRIES 65536
#define IPL_ADDR_MAX 64 /* longest address text kept */

typedef enum ipl_verdict {
	IPL_OK = 0,
	IPL_RATE,  /* too many upgrades per second: 429 */
	IPL_CONNS, /* too many open connections: 429 */
} ipl_verdict;

typedef struct iplimit {
	/* settings (read-only after iplimit_init) */
	double rate;	    /* upgrades per second per address; 0: off */
	double burst;	    /* bucket size */
	uint32_t max_conns; /* open connections per address; 0: off */
	bool limit_loopback;
	/* state */
	rk_omap map;	     /* address -> struct ipl_entry * */
	uint64_t table_full; /* admissions unlimited because the table was full */
	int64_t last_sweep_us;
} iplimit;

/* Zero l and set its limits (rate, burst: upgrades per second per address
 * and bucket size, 0 rate: off; max_conns per address, 0: off). Allocates
 * nothing (the table grows on use, bounded). Cannot fail. */
void iplimit_init(iplimit *l, double rate, double burst, uint32_t max_conns,
		  bool limit_loopback);
/* Free the table. l may be initialized again. */
void iplimit_free(iplimit *l);

/* Whether a new upgrade from addr may go on at now_us; IPL_OK takes one
 * token. On a refusal *retry_after_s is when to try again (>= 1 s). This
 * function can't fail (out of memory admits, as a full table does). */
ipl_verdict iplimit_admit(iplimit *l, const char *addr, int64_t now_us,
			  int *retry_after_s);

/* Count an open WebSocket connection of addr, and its end (a closed
 * without an opened is ignored). Cannot fail: out of memory, or a full
 * table, leaves addr uncounted. */
void iplimit_opened(iplimit *l, const char *addr);
void iplimit_closed(iplimit *l, const char *addr);

/* Drop the entries that carry no information any more (called from the
 * housekeeping tick; does the work at most once a second). */
void iplimit_sweep(iplimit *l, int64_t now_us);

/* True for a loopback address (127.0.0.0/8, ::1) as lws_get_peer_simple
 * writes it. This function can't fail. */
bool iplimit_is_loopback(const char *addr);

#endif
