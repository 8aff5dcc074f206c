/* pg_int.h - what the PostgreSQL backend's two files share (pg.c: the
 * connection, schema, ownership and reads; pg_commit.c: the batches and
 * the group commit); private to libstore. */
#ifndef RK_STORE_PG_INT_H
#define RK_STORE_PG_INT_H

#include <libpq-fe.h>
#include "backend.h"
#include "pg.h"

struct store_pg {
	PGconn *conn;
	int timeout_ms; /* statement timeout (0: none); bounds waits on the socket */
	int lease_ms;	/* for store_pg_rooms' owner_alive (store_pg_set_lease) */
	bool broken;	/* a pipeline was cut off mid-way: the connection is unusable */
};

/* One write of a batch, with its strings in one allocation (buf). */
typedef enum pgw_kind {
	PGW_EVENT,
	PGW_SNAP,
	PGW_ALARM_SET,
	PGW_ALARM_DEL,
	PGW_CUT
} pgw_kind;
typedef struct pgw {
	pgw_kind k;
	int64_t seq; /* EVENT, SNAP: its seq; ALARM_SET: the alarm's time; CUT: the cut */
	int64_t ts;  /* EVENT, SNAP */
	const char
	    *s[4];  /* EVENT: session, user, op_id, op; SNAP: state; ALARM_*: poll */
	size_t len; /* EVENT: op bytes; SNAP: state bytes */
	char *buf;
} pgw;

struct store_pg_batch {
	char room[RK_ROOM_ID_MAX + 1];
	int64_t token;
	int64_t prev;	 /* the room's seq before the batch (the fence's "apply" case) */
	int64_t last;	 /* after it (= prev without events) */
	int64_t last_ts; /* the last event's ts (0: none): rk_rooms.last_active_ms */
	bool has_events;
	pgw *w; /* the writes, in order */
	size_t n, cap;
};

/* A room handle of the pg backend (its first member is the front's). */
typedef struct pgs {
	store base;
	store_pg *pg;		/* reads run here; NULL once detached */
	bool writable;		/* from store_pg_acquire (not store_pg_open_ro) */
	int64_t token;		/* the fencing token acquired with */
	int64_t seq;		/* the last seq staged (at acquire: the room's seq) */
	store_pg_batch *open;	/* the batch between store_begin and store_commit */
	store_pg_batch *staged; /* committed batches not yet taken, merged */
	/* the tail: the last events loaded or staged, oldest first, in a ring */
	store_event **ring;
	size_t tail_cap, head, n;
} pgs;

/* Add a copy of an event to the handle's tail (dropping the oldest when
 * full; nothing if the tail is 0 or memory is short). pg.c. */
void pgs_tail_add(pgs *s, int64_t seq, int64_t ts, const char *session, const char *user,
		  const char *op_id, const char *op, size_t op_len);

/* Prepare the group commit's statements on a new connection (pg_commit.c).
 * RK_OK or RK_EIO with the reason in err. */
rk_err pg_prepare_commit(store_pg *pg, char *err, size_t errlen);

/* libpq's message for conn on one line, after "what: ", into err. */
void pg_errmsg(PGconn *conn, const char *msg, const char *what, char *err, size_t errlen);

/* The write side of the handle's ops (pg_commit.c). */
void pgs_batch_drop(pgs *s);
rk_err pgs_begin(store *s, char *err, size_t errlen);
rk_err pgs_append(store *s, int64_t seq, int64_t ts, const char *session,
		  const char *user, const char *op_id, const char *op_json, size_t op_len,
		  char *err, size_t errlen);
rk_err pgs_put_snapshot(store *s, int64_t seq, int64_t ts, const char *json, size_t len,
			char *err, size_t errlen);
rk_err pgs_set_alarm(store *s, const char *poll, int64_t at, char *err, size_t errlen);
rk_err pgs_del_alarm(store *s, const char *poll, char *err, size_t errlen);
rk_err pgs_cut(store *s, int64_t cut, int64_t *events, int64_t *snaps, char *err,
	       size_t errlen);
rk_err pgs_commit(store *s, char *err, size_t errlen);
void pgs_rollback(store *s);

#endif
