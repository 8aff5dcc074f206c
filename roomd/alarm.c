/* alarm.c - the poll alarm list and its one timer (see alarm.h). */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "alarm.h"
#include "clock.h"
#include "log.h"

static void alarm_cb(lws_sorted_usec_list_t *sul)
{
	alarms *a = container_of(sul, alarms, sul);
	a->fire(a->arg);
}

void alarm_arm(alarms *a)
{
	bool any = false;
	int64_t min = 0;
	for (size_t i = 0; i < a->n; i++) {
		/* An alarm of a loading room waits for the load's completion,
		 * which fires it: it must not keep the timer spinning. */
		if (a->v[i].waits)
			continue;
		if (!any || a->v[i].at < min)
			min = a->v[i].at;
		any = true;
	}
	if (!any) {
		if (a->lws)
			lws_sul_cancel(&a->sul);
		return;
	}
	int64_t delay_ms = min - rk_wall_ms();
	if (delay_ms < 0)
		delay_ms = 0;
	if (delay_ms > 3600000) /* re-check hourly: wall clock may jump */
		delay_ms = 3600000;
	if (a->lws)
		lws_sul_schedule(a->lws, 0, &a->sul, alarm_cb,
				 (lws_usec_t)delay_ms * 1000 + 1000);
}

rk_err alarm_add(alarms *a, const char *room, const char *poll, int64_t at)
{
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].room, room) == 0 && strcmp(a->v[i].poll, poll) == 0) {
			a->v[i].at = at;
			alarm_arm(a);
			return RK_OK;
		}
	}
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 16;
		void *p = ncap <= ALARMS_MAX ? realloc(a->v, ncap * sizeof(*a->v)) : NULL;
		if (!p) {
			rk_error("out of memory: alarm for poll %s in room %s not armed "
				 "until restart",
				 poll, room);
			return RK_ENOMEM;
		}
		a->v = p;
		a->cap = ncap;
	}
	alarm_entry *x = &a->v[a->n++];
	memset(x, 0, sizeof(*x));
	x->at = at;
	snprintf(x->room, sizeof(x->room), "%s", room);
	snprintf(x->poll, sizeof(x->poll), "%s", poll);
	alarm_arm(a);
	return RK_OK;
}

void alarm_remove(alarms *a, size_t i)
{
	a->v[i] = a->v[--a->n];
}

void alarm_drop_room(alarms *a, const char *room)
{
	for (size_t i = 0; i < a->n;) {
		if (strcmp(a->v[i].room, room) == 0)
			alarm_remove(a, i);
		else
			i++;
	}
	alarm_arm(a);
}

void alarm_fail_room(alarms *a, const char *room, const char *err)
{
	int64_t now = rk_wall_ms();
	for (size_t i = 0; i < a->n;) {
		alarm_entry *x = &a->v[i];
		if (x->at > now || strcmp(x->room, room) != 0) {
			i++;
			continue;
		}
		rk_error("alarm for poll %s in room %s cannot fire: %s", x->poll, x->room,
			 err);
		alarm_remove(a, i);
	}
	alarm_arm(a);
}

void alarm_free(alarms *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}
