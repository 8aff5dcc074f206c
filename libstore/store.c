/* store.c - the front of libstore: the public calls of store.h, each one
 * indirect call into the handle's backend (backend.h), and what every
 * backend shares: the meta check (the FORMAT rule) and new epochs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "backend.h"
#include "clock.h"
#include "roomid.h"

bool store_path(const char *data_dir, const char *room, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/rooms/%s.db", data_dir, room);
	return n > 0 && (size_t)n < cap;
}

void store_new_epoch(char *out)
{
	unsigned char r[8];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* getrandom on Linux >= 3.17 does not fail for 8 bytes; be safe. */
		int64_t t = rk_mono_ns() ^ rk_wall_ms();
		memcpy(r, &t, sizeof(r));
	}
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

void store_fresh_meta(const char *room, store_meta *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->room, sizeof(out->room), "%s", room);
	store_new_epoch(out->epoch);
	out->created_ms = rk_wall_ms();
	out->format = STORE_FORMAT;
}

/* Only "1", "2", ...: a number as this build writes it (no sign, spaces or
 * leading zeros), so two readers can never disagree on what it says. */
static long parse_format(const char *v)
{
	if (!v || v[0] < '1' || v[0] > '9' || strlen(v) > 9)
		return -1;
	long n = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (*p - '0');
	}
	return n;
}

rk_err store_meta_check(store_meta *m, const char *format, const char *room,
			const char *epoch, const char *created_ms, const char *want_room,
			char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (!format) {
		snprintf(err, errlen, "not a room file: meta has no 'format'");
		return RK_ECORRUPT;
	}
	long f = parse_format(format);
	if (f < STORE_FORMAT_MIN) {
		snprintf(err, errlen,
			 "not a room file: meta 'format' is '%.40s', not a format number",
			 format);
		return RK_ECORRUPT;
	}
	if (f > STORE_FORMAT) {
		snprintf(err, errlen,
			 "room file format %ld is newer than this %s reads (%d)", f,
			 program_invocation_short_name, STORE_FORMAT);
		return RK_ECORRUPT;
	}
	m->format = (int)f;
	if (!room) {
		snprintf(err, errlen, "not a room file: meta has no 'room'");
		return RK_ECORRUPT;
	}
	if (!rk_roomid_validz(room)) {
		snprintf(err, errlen, "meta 'room' is not a valid room id");
		return RK_ECORRUPT;
	}
	if (want_room && strcmp(room, want_room) != 0) {
		snprintf(err, errlen, "room file belongs to room '%s', not '%s'", room,
			 want_room);
		return RK_ECORRUPT;
	}
	snprintf(m->room, sizeof(m->room), "%s", room);
	if (!epoch || !epoch[0] || strlen(epoch) > RK_EPOCH_MAX) {
		snprintf(err, errlen, "meta has no 'epoch'");
		return RK_ECORRUPT;
	}
	snprintf(m->epoch, sizeof(m->epoch), "%s", epoch);
	m->created_ms = created_ms ? strtoll(created_ms, NULL, 10) : 0;
	return RK_OK;
}

void store_busy_timeout(store *s, int ms)
{
	s->ops->busy_timeout(s, ms);
}

void store_trim_cache(store *s)
{
	s->ops->trim_cache(s);
}

void store_close(store *s)
{
	if (s)
		s->ops->close(s);
}

const store_meta *store_get_meta(const store *s)
{
	return &s->meta;
}

const char *store_epoch(const store *s)
{
	return s->meta.epoch;
}

int64_t store_created_ms(const store *s)
{
	return s->meta.created_ms;
}

rk_err store_load(store *s, rk_state **st, int64_t *seq, int64_t *snap_seq, char *err,
		  size_t errlen)
{
	return s->ops->load(s, st, seq, snap_seq, err, errlen);
}

rk_err store_load_opids(store *s, store_opid_fn add, void *arg, char *err, size_t errlen)
{
	return s->ops->load_opids(s, add, arg, err, errlen);
}

rk_err store_cursor_open(store *s, int64_t since, int64_t upto, const char *user,
			 store_cursor **out, char *err, size_t errlen)
{
	return s->ops->cursor_open(s, since, upto, user, out, err, errlen);
}

int store_cursor_next(store_cursor *c, store_event *ev, char *err, size_t errlen)
{
	return c->s->ops->cursor_next(c, ev, err, errlen);
}

void store_cursor_close(store_cursor *c)
{
	if (c)
		c->s->ops->cursor_close(c);
}

rk_err store_events(store *s, int64_t since, int64_t upto,
		    bool (*cb)(void *arg, const store_event *ev), void *arg)
{
	store_cursor *c;
	char err[8];
	if (store_cursor_open(s, since, upto, NULL, &c, err, sizeof(err)) != RK_OK)
		return RK_EIO;
	store_event ev;
	int r;
	while ((r = store_cursor_next(c, &ev, err, sizeof(err))) == 1 && cb(arg, &ev))
		;
	store_cursor_close(c);
	return r < 0 ? RK_EIO : RK_OK;
}

int64_t store_min_seq(store *s)
{
	return s->ops->min_seq(s);
}

rk_err store_get_stats(store *s, store_stats *st, char *err, size_t errlen)
{
	return s->ops->stats(s, st, err, errlen);
}

rk_err store_seq_range(store *s, int64_t *min, int64_t *max, int64_t *count, char *err,
		       size_t errlen)
{
	store_stats st;
	rk_err rc = store_get_stats(s, &st, err, errlen);
	*min = st.min_seq;
	*max = st.max_seq;
	*count = st.events;
	return rc;
}

int64_t store_first_recent(store *s)
{
	return s->ops->first_recent(s);
}

int64_t store_earliest_seq(store *s)
{
	return s->ops->earliest_seq(s);
}

rk_err store_snapshot_at(store *s, int64_t upto, int64_t *seq, char **json, size_t *len,
			 char *err, size_t errlen)
{
	return s->ops->snapshot_at(s, upto, seq, json, len, err, errlen);
}

rk_err store_snapshots(store *s,
		       bool (*cb)(void *arg, int64_t seq, int64_t ts, const char *json,
				  size_t len),
		       void *arg, char *err, size_t errlen)
{
	return s->ops->snapshots(s, cb, arg, err, errlen);
}

rk_err store_alarms(store *s, bool (*cb)(void *arg, const char *poll, int64_t at),
		    void *arg, char *err, size_t errlen)
{
	return s->ops->alarms(s, cb, arg, err, errlen);
}

rk_err store_users(store *s, bool (*cb)(void *arg, const char *user, int64_t events),
		   void *arg, char *err, size_t errlen)
{
	return s->ops->users(s, cb, arg, err, errlen);
}

rk_err store_begin(store *s, char *err, size_t errlen)
{
	return s->ops->begin(s, err, errlen);
}

rk_err store_append(store *s, int64_t seq, int64_t ts, const char *session,
		    const char *user, const char *op_id, const char *op_json,
		    size_t op_len, char *err, size_t errlen)
{
	return s->ops->append(s, seq, ts, session, user, op_id, op_json, op_len, err,
			      errlen);
}

rk_err store_put_snapshot(store *s, int64_t seq, int64_t ts, const char *json, size_t len,
			  char *err, size_t errlen)
{
	return s->ops->put_snapshot(s, seq, ts, json, len, err, errlen);
}

rk_err store_set_alarm(store *s, const char *poll, int64_t at, char *err, size_t errlen)
{
	return s->ops->set_alarm(s, poll, at, err, errlen);
}

rk_err store_del_alarm(store *s, const char *poll, char *err, size_t errlen)
{
	return s->ops->del_alarm(s, poll, err, errlen);
}

rk_err store_outbox_add(store *s, int64_t created_ms, const char *body, size_t len,
			char *err, size_t errlen)
{
	return s->ops->outbox_add(s, created_ms, body, len, err, errlen);
}

rk_err store_outbox_trim(store *s, int64_t upto, char *err, size_t errlen)
{
	return s->ops->outbox_trim(s, upto, err, errlen);
}

rk_err store_outbox_backlog(store *s, int64_t after, int64_t *n, int64_t *oldest_ms,
			    char *err, size_t errlen)
{
	return s->ops->outbox_backlog(s, after, n, oldest_ms, err, errlen);
}

rk_err store_cut(store *s, int64_t cut, int64_t *events, int64_t *snaps, char *err,
		 size_t errlen)
{
	return s->ops->cut(s, cut, events, snaps, err, errlen);
}

rk_err store_commit(store *s, char *err, size_t errlen)
{
	return s->ops->commit(s, err, errlen);
}

void store_rollback(store *s)
{
	s->ops->rollback(s);
}

int store_wal_frames(const store *s)
{
	return s->ops->wal_frames(s);
}

rk_err store_settle(store *s, bool full, char *err, size_t errlen)
{
	return s->ops->settle(s, full, err, errlen);
}
