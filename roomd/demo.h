/*
 * demo.h - the demo page of PROTOCOL.md section 8 and the JS client's
 * browser build, embedded in roomd at build time (the build generates
 * demo_assets.c from clients/js: cmake/embed.cmake). Nothing is read from
 * disk at run time.
 */
#ifndef ROOMD_DEMO_H
#define ROOMD_DEMO_H

#include <stddef.h>
#include "route.h"

typedef struct demo_asset {
	const unsigned char *data; /* the file's bytes (static) */
	size_t len;
	const char *ctype; /* its Content-Type */
} demo_asset;

/* The embedded file a demo route serves, or NULL for any other route.
 * Static data; this function can't fail. */
const demo_asset *demo_asset_for(rk_route route);

/* The Content-Security-Policy every demo file is sent with: scripts and
 * styles from this server only (no inline script), WebSockets to it. */
#define DEMO_CSP                                                                         \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' "       \
	"data:; "                                                                        \
	"connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; "             \
	"frame-ancestors 'none'"

#endif
