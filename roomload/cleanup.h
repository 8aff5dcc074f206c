/*
 * cleanup.h - roomload --cleanup: delete the run's rooms when it ends.
 */
#ifndef ROOMLOAD_CLEANUP_H
#define ROOMLOAD_CLEANUP_H

#include <stdio.h>
#include "config.h"

/*
 * DELETE /v1/rooms/PREFIXi for i in 0..rooms-1 on the server of --url
 * (http:// or https:// with --ca), with an owner token for "PREFIX*" signed
 * with --secret-file if given. 202 counts as deleted, 404 as not there.
 * Prints one summary line to log (may be NULL). Returns 0, or 1 at the
 * first other answer or failed request (one "Error:" line on stderr).
 */
int cleanup_rooms(const load_config *cfg, FILE *log);

#endif
