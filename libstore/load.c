/* load.c - what loading a room means, for every backend (backend.h): the
 * state is the newest snapshot with the events after it replayed in order
 * (store_load_log), and the op-id memory's window is walked from the newest
 * event down (store_idem_step). The backends only read rows. */
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "retain.h"

rk_err store_load_log(store *s, rk_state **stp, int64_t *seq, int64_t *snap_seq,
		      char *err, size_t errlen)
{
	*stp = NULL;
	*seq = 0;
	*snap_seq = 0;
	rk_state *state = NULL;
	char *json;
	size_t len;
	rk_err rc = s->ops->snapshot_at(s, -1, snap_seq, &json, &len, err, errlen);
	if (rc != RK_OK)
		return rc;
	if (json) {
		char derr[160];
		rc = rk_state_decode_text(json, len, &state, derr, sizeof(derr));
		free(json);
		if (rc != RK_OK) {
			snprintf(err, errlen, "snapshot at seq %lld: %s",
				 (long long)*snap_seq, derr);
			return rc == RK_ENOMEM ? RK_ENOMEM : RK_ECORRUPT;
		}
	} else if (!(state = rk_state_new())) {
		snprintf(err, errlen, "out of memory");
		return RK_ENOMEM;
	}
	*seq = *snap_seq;
	store_cursor *c = NULL;
	char why[200];
	rc = s->ops->cursor_open(s, *snap_seq, -1, NULL, &c, why, sizeof(why));
	if (rc != RK_OK) {
		snprintf(err, errlen, "load events: %s", why);
		goto fail;
	}
	store_event ev;
	int r;
	while ((r = s->ops->cursor_next(c, &ev, why, sizeof(why))) == 1) {
		if (ev.seq != *seq + 1) {
			snprintf(err, errlen, "log gap: seq %lld follows %lld",
				 (long long)ev.seq, (long long)*seq);
			rc = RK_ECORRUPT;
			goto fail;
		}
		rk_op op;
		char msg[RK_MSG_MSG_MAX + 1];
		rk_reject rej =
		    rk_op_decode_text(ev.op, ev.op_len, &op, msg, sizeof(msg));
		if (rej == RK_REJ_NONE) {
			/* Logged ops were applied once; the role check passed then. */
			rk_actor actor = {.user = ev.user,
					  .role = RK_ROLE_OWNER,
					  .seq = ev.seq,
					  .ts = ev.ts,
					  .id = ev.op_id};
			rej = rk_state_apply(state, &op, &actor, msg, sizeof(msg));
			rk_op_free(&op);
		}
		if (rej != RK_REJ_NONE) {
			snprintf(err, errlen, "event %lld does not apply: %s: %s",
				 (long long)ev.seq, rk_reject_name(rej), msg);
			rc = RK_ECORRUPT;
			goto fail;
		}
		*seq = ev.seq;
	}
	if (r < 0) {
		snprintf(err, errlen, "load events: %s", why);
		rc = RK_EIO;
		goto fail;
	}
	s->ops->cursor_close(c);
	*stp = state;
	return RK_OK;
fail:
	if (c)
		s->ops->cursor_close(c);
	rk_state_free(state);
	*seq = *snap_seq = 0;
	return rc;
}

void store_idem_init(store_idem_walk *w)
{
	w->last = -1;
	w->last_ts = 0;
	w->from = 0;
}

bool store_idem_step(store_idem_walk *w, int64_t seq, int64_t ts)
{
	if (w->last < 0) {
		w->last = seq;
		w->last_ts = ts;
	}
	if (seq <= w->last - RK_IDEM_EVENTS && ts < w->last_ts - RK_IDEM_MS)
		return false;
	w->from = seq;
	return true;
}
