/*
 * room_stubs.c - small stand-ins for the room actor's neighbours (in the
 * style of mosquitto's *_stubs.c), so that room.c is unit-tested on its
 * own: the output side records what each conn was sent or closed with, the
 * store keeps nothing but counts its transactions, the loader and syncer
 * record their jobs (the test delivers their results by hand), and the
 * lws timers are no-ops. Used by test_room.c only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conn_out.h"
#include "room_stubs.h"

stub_log stubs;

void stubs_reset(void)
{
	for (size_t i = 0; i < stubs.nsent; i++)
		free(stubs.sent[i].text);
	memset(&stubs, 0, sizeof(stubs));
}

/* ---- conn_out.h ---- */

void conn_push(conn *c, rk_msg *m)
{
	if (stubs.nsent < STUB_MAX) {
		stub_sent *x = &stubs.sent[stubs.nsent++];
		x->c = c;
		x->text = strndup((const char *)msg_payload(m), m->len);
	}
	msg_unref(m);
}

void conn_close(conn *c, roomd_close code, const char *reason)
{
	(void)reason;
	if (c->sink) {
		c->sink->close(c, (int)code, reason);
		return;
	}
	if (c->state != CONN_OPEN)
		return;
	c->state = CONN_CLOSING;
	c->close_code = (uint16_t)code;
	stubs.closes++;
}

/* ---- store.h ---- */

struct store {
	int unused;
};
static store the_store;

/* A room's file exists (/dev/null stands for it), unless stubs.fileless:
 * then it is missing, so room_load finds a new room (no file yet). */
bool store_path(const char *data_dir, const char *room_id, char *out, size_t cap)
{
	if (!stubs.fileless)
		return (size_t)snprintf(out, cap, "/dev/null") < cap;
	return (size_t)snprintf(out, cap, "%s/rooms/%s.db", data_dir, room_id) < cap;
}
void store_fresh_meta(const char *room_id, store_meta *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->room, sizeof(out->room), "%s", room_id);
	snprintf(out->epoch, sizeof(out->epoch), "F1");
	out->created_ms = 7;
}
rk_err store_create(const char *path, const store_meta *meta, store **out, char *err,
		    size_t errlen)
{
	(void)path, (void)err, (void)errlen;
	snprintf(stubs.created_epoch, sizeof(stubs.created_epoch), "%s", meta->epoch);
	*out = &the_store;
	return RK_OK;
}
int store_lock(const char *path, bool create, char *err, size_t errlen)
{
	(void)path, (void)create, (void)err, (void)errlen;
	return -1;
}
void store_unlock(int fd)
{
	(void)fd;
}
rk_err store_open(const char *path, const char *room_id, int busy_ms, store **out,
		  char *err, size_t errlen)
{
	(void)path, (void)room_id, (void)busy_ms, (void)err, (void)errlen;
	*out = &the_store;
	return RK_OK;
}
void store_close(store *s)
{
	if (s)
		stubs.store_closes++;
}
const char *store_epoch(const store *s)
{
	(void)s;
	return "E1";
}
int64_t store_created_ms(const store *s)
{
	(void)s;
	return 1;
}
rk_err store_load(store *s, rk_state **st, int64_t *seq, int64_t *snap_seq, char *err,
		  size_t errlen)
{
	(void)s, (void)err, (void)errlen;
	*st = rk_state_new();
	*seq = *snap_seq = 0;
	return *st ? RK_OK : RK_ENOMEM;
}
rk_err store_load_opids(store *s, store_opid_fn add, void *arg, char *err, size_t errlen)
{
	(void)s, (void)add, (void)arg, (void)err, (void)errlen;
	return RK_OK; /* an empty log: nothing to remember */
}
rk_err store_begin(store *s, char *err, size_t errlen)
{
	(void)s, (void)err, (void)errlen;
	stubs.begins++;
	return RK_OK;
}
rk_err store_append(store *s, int64_t seq, int64_t ts, const char *session,
		    const char *user, const char *op_id, const char *op_json,
		    size_t op_len, char *err, size_t errlen)
{
	(void)s, (void)ts, (void)session, (void)user, (void)op_id, (void)op_json,
	    (void)op_len;
	if (stubs.fail_append) {
		snprintf(err, errlen, "disk on fire");
		return RK_EIO;
	}
	stubs.appended = seq;
	return RK_OK;
}
rk_err store_put_snapshot(store *s, int64_t seq, int64_t ts, const char *json, size_t len,
			  char *err, size_t errlen)
{
	(void)s, (void)seq, (void)ts, (void)json, (void)len, (void)err, (void)errlen;
	return RK_OK;
}
rk_err store_set_alarm(store *s, const char *poll, int64_t at, char *err, size_t errlen)
{
	(void)s, (void)poll, (void)at, (void)err, (void)errlen;
	return RK_OK;
}
rk_err store_del_alarm(store *s, const char *poll, char *err, size_t errlen)
{
	(void)s, (void)poll, (void)err, (void)errlen;
	return RK_OK;
}
rk_err store_outbox_add(store *s, int64_t created_ms, const char *body, size_t len,
			char *err, size_t errlen)
{
	(void)s, (void)created_ms, (void)body, (void)len, (void)err, (void)errlen;
	return RK_OK;
}
rk_err store_outbox_trim(store *s, int64_t upto, char *err, size_t errlen)
{
	(void)s, (void)upto, (void)err, (void)errlen;
	return RK_OK;
}
rk_err store_commit(store *s, char *err, size_t errlen)
{
	(void)s, (void)err, (void)errlen;
	stubs.commits++;
	return RK_OK;
}
void store_rollback(store *s)
{
	(void)s;
	stubs.rollbacks++;
}
int store_wal_frames(const store *s)
{
	(void)s;
	return 0;
}
int64_t store_min_seq(store *s)
{
	(void)s;
	return 0;
}
rk_err store_events(store *s, int64_t since, int64_t upto,
		    bool (*cb)(void *arg, const store_event *ev), void *arg)
{
	(void)s, (void)since, (void)upto, (void)cb, (void)arg;
	return RK_OK;
}
rk_err store_peek(const char *path, store_info *info, char *err, size_t errlen)
{
	(void)path, (void)err, (void)errlen;
	memset(info, 0, sizeof(*info));
	return RK_OK;
}

/* ---- loader.h, syncer.h, ckpt.h ---- */

rk_err loader_submit(loader *l, const char *room_id, const char *path, bool take_lock)
{
	(void)l, (void)room_id, (void)path, (void)take_lock;
	stubs.loads++;
	return RK_OK;
}
rk_err loader_submit_reopen(loader *l, const char *room_id, const char *path)
{
	(void)l, (void)room_id, (void)path;
	stubs.reopens++;
	return RK_OK;
}
rk_err loader_submit_create(loader *l, const char *room_id, const char *path,
			    const store_meta *meta)
{
	(void)l, (void)room_id, (void)path;
	snprintf(stubs.created_epoch, sizeof(stubs.created_epoch), "%s", meta->epoch);
	stubs.creates++;
	return RK_OK;
}
rk_err loader_submit_delete(loader *l, const char *room_id, const char *path, int lock_fd)
{
	(void)l, (void)room_id, (void)path, (void)lock_fd;
	return RK_OK;
}
void loader_wait(loader *l, const char *room_id)
{
	(void)l, (void)room_id;
}
rk_err syncer_submit(syncer *y, const char *room_id, const char *wal_path, int64_t seq)
{
	(void)y, (void)room_id, (void)wal_path;
	stubs.syncs++;
	stubs.sync_seq = seq;
	return RK_OK;
}
/* Cluster mode is not exercised here (s->pgc is NULL): never called. */
store_pg_batch *store_pg_take(store *s)
{
	(void)s;
	return NULL;
}
void store_pg_batch_free(store_pg_batch *b)
{
	(void)b;
}
rk_err pgcommit_submit(pgcommit *p, store_pg_batch *b, int64_t token)
{
	(void)p, (void)b, (void)token;
	return RK_ENOMEM;
}
rk_err pgcommit_release(pgcommit *p, const char *room_id, int64_t token)
{
	(void)p, (void)room_id, (void)token;
	return RK_ENOMEM;
}
void ckpt_request(ckpt *c, const char *path, bool truncate)
{
	(void)c, (void)path, (void)truncate;
}
void ckpt_quiesce(ckpt *c, const char *path)
{
	(void)c, (void)path;
}
ckpt_phase ckpt_state(ckpt *c, const char *path, int *copied)
{
	(void)c, (void)path;
	*copied = 0;
	return CKPT_IDLE;
}

/* ---- alarm.h, webhook.h ---- */

rk_err alarm_add(alarms *a, const char *room_id, const char *poll, int64_t at)
{
	(void)a, (void)room_id, (void)poll, (void)at;
	return RK_OK;
}
void alarm_drop_room(alarms *a, const char *room_id)
{
	(void)a, (void)room_id;
}
void webhook_notify(webhook *w, const char *room_id)
{
	(void)w, (void)room_id;
}
int64_t webhook_delivered(webhook *w, const char *room_id, const char *epoch)
{
	(void)w, (void)room_id, (void)epoch;
	return 0;
}
void webhook_enc_op(rk_buf *b, const char *room_id, const char *epoch, int64_t seq,
		    int64_t ts, const char *session, const char *user, const char *op_id,
		    const char *op, size_t op_len)
{
	(void)b, (void)room_id, (void)epoch, (void)seq, (void)ts, (void)session,
	    (void)user;
	(void)op_id, (void)op, (void)op_len;
}
void webhook_enc_poll_closed(rk_buf *b, const char *room_id, const char *epoch,
			     int64_t seq, int64_t ts, const char *user,
			     const rk_poll *poll)
{
	(void)b, (void)room_id, (void)epoch, (void)seq, (void)ts, (void)user, (void)poll;
}
void webhook_enc_presence(rk_buf *b, const char *room_id, int64_t ts, bool join,
			  const char *session, const char *user)
{
	(void)b, (void)room_id, (void)ts, (void)join, (void)session, (void)user;
}

/* ---- lws timers and flow control ---- */

void lws_sul_schedule(struct lws_context *ctx, int tsi, lws_sorted_usec_list_t *sul,
		      sul_cb_t _cb, lws_usec_t _us)
{
	(void)ctx, (void)tsi, (void)sul, (void)_cb, (void)_us;
}
void lws_sul_cancel(lws_sorted_usec_list_t *sul)
{
	(void)sul;
}
int lws_rx_flow_control(struct lws *wsi, int enable)
{
	(void)wsi, (void)enable;
	return 0;
}
