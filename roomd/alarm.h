/*
 * alarm.h - the poll alarms (closes_at of PROTOCOL.md section 4): which
 * room's poll closes when, and the one lws timer that wakes the loop for
 * the earliest. It does not fire them: when one is due it calls the fire
 * callback (server.c: server_alarms), which loads the room if needed and
 * commits poll.close through the room actor. So this file calls nothing
 * of roomd's; room.c adds alarms as ops commit, server.c fires them.
 *
 * Bounded: at most ALARMS_MAX alarms (one per open poll with a closes_at);
 * past it alarm_add refuses and says so in the log (the alarm row stays in
 * the room's file and is armed again at the next start).
 */
#ifndef ROOMD_ALARM_H
#define ROOMD_ALARM_H

#include <libwebsockets.h>
#include "rk_common.h"

#define ALARMS_MAX (1u << 20)

typedef struct alarm {
	int64_t at; /* wall ms */
	char room[RK_ROOM_ID_MAX + 1];
	char poll[RK_ID_MAX + 1];
	bool waits; /* its room loads: the load's end fires it */
} alarm_entry;

typedef struct alarms {
	alarm_entry *v; /* unordered */
	size_t n, cap;
	struct lws_context *lws; /* NULL until the loop runs: nothing armed */
	lws_sorted_usec_list_t sul;
	void (*fire)(void *arg); /* a due alarm: run the due ones */
	void *arg;
} alarms;

/* Zeroed, a is empty; set fire and arg before lws, and lws once it runs. */

/* Add (or move) room's alarm for poll to at and re-arm. Out of memory or
 * past ALARMS_MAX: logged, not armed until restart; returns RK_ENOMEM. */
rk_err alarm_add(alarms *a, const char *room, const char *poll, int64_t at);
/* Remove entry i (order is not kept: the last one takes its place). */
void alarm_remove(alarms *a, size_t i);
/* Remove every alarm of room (deleted) and re-arm. */
void alarm_drop_room(alarms *a, const char *room);
/* room's load failed: drop its due alarms (logged with err; their rows
 * stay in the file for the next start) and re-arm. */
void alarm_fail_room(alarms *a, const char *room, const char *err);
/* (Re)arm the timer for the earliest alarm that does not wait for a load;
 * cancel it if there is none. A no-op before lws runs (a->lws NULL). */
void alarm_arm(alarms *a);
/* Free the list (shutdown, after the lws context is gone: its timers
 * went with it). */
void alarm_free(alarms *a);

#endif
