/*
 * backend.h - the backend seam of libstore (private to libstore/).
 *
 * A backend is a file (sqlite.c today; pg.c for the cluster) that defines
 * a `store_ops` table and an open call returning a handle whose first
 * member is `struct store`, with `ops` pointing at its table. store.c's
 * public calls are one indirect call through that table each (no
 * allocation, no lookup), so the hot path (store_begin, store_append,
 * store_commit per batch) costs what the backend costs. Every operation
 * has the contract written in store.h for the public call of the same
 * name; a backend must keep it (atomic batches, dense seqs, the meta
 * check of store_meta_check, the error codes), or say in its own header
 * where it cannot (store_wal_frames is 0 where there is no WAL).
 */
#ifndef RK_STORE_BACKEND_H
#define RK_STORE_BACKEND_H

#include "store.h"

typedef struct store_ops {
	const char *name; /* "sqlite" */
	void (*close)(store *s);
	void (*busy_timeout)(store *s, int ms);
	void (*trim_cache)(store *s);
	rk_err (*load)(store *s, rk_state **st, int64_t *seq, int64_t *snap_seq,
		       char *err, size_t errlen);
	rk_err (*load_opids)(store *s, store_opid_fn add, void *arg, char *err,
			     size_t errlen);
	rk_err (*cursor_open)(store *s, int64_t since, int64_t upto, const char *user,
			      store_cursor **out, char *err, size_t errlen);
	int (*cursor_next)(store_cursor *c, store_event *ev, char *err, size_t errlen);
	void (*cursor_close)(store_cursor *c);
	int64_t (*min_seq)(store *s);
	rk_err (*stats)(store *s, store_stats *st, char *err, size_t errlen);
	int64_t (*earliest_seq)(store *s);
	int64_t (*first_recent)(store *s);
	rk_err (*snapshot_at)(store *s, int64_t upto, int64_t *seq, char **json,
			      size_t *len, char *err, size_t errlen);
	rk_err (*snapshots)(store *s,
			    bool (*cb)(void *arg, int64_t seq, int64_t ts,
				       const char *json, size_t len),
			    void *arg, char *err, size_t errlen);
	rk_err (*alarms)(store *s, bool (*cb)(void *arg, const char *poll, int64_t at),
			 void *arg, char *err, size_t errlen);
	rk_err (*users)(store *s, bool (*cb)(void *arg, const char *user, int64_t events),
			void *arg, char *err, size_t errlen);
	rk_err (*begin)(store *s, char *err, size_t errlen);
	rk_err (*append)(store *s, int64_t seq, int64_t ts, const char *session,
			 const char *user, const char *op_id, const char *op_json,
			 size_t op_len, char *err, size_t errlen);
	rk_err (*put_snapshot)(store *s, int64_t seq, int64_t ts, const char *json,
			       size_t len, char *err, size_t errlen);
	rk_err (*set_alarm)(store *s, const char *poll, int64_t at, char *err,
			    size_t errlen);
	rk_err (*del_alarm)(store *s, const char *poll, char *err, size_t errlen);
	rk_err (*outbox_add)(store *s, int64_t created_ms, const char *body, size_t len,
			     char *err, size_t errlen);
	rk_err (*outbox_trim)(store *s, int64_t upto, char *err, size_t errlen);
	rk_err (*outbox_backlog)(store *s, int64_t after, int64_t *n, int64_t *oldest_ms,
				 char *err, size_t errlen);
	rk_err (*cut)(store *s, int64_t cut, int64_t *events, int64_t *snaps, char *err,
		      size_t errlen);
	rk_err (*commit)(store *s, char *err, size_t errlen);
	void (*rollback)(store *s);
	int (*wal_frames)(const store *s);
	rk_err (*settle)(store *s, bool full, char *err, size_t errlen);
} store_ops;

/* The part of every handle the front (store.c) reads. */
struct store {
	const store_ops *ops;
	store_meta meta; /* checked (or written) at open */
};

/* The part of every cursor the front reads. */
struct store_cursor {
	store *s;
};

/*
 * The one meta check (store.h, FORMAT), for every backend: the meta values
 * as read (NULL: absent) into *m, checked: format a decimal number in
 * [STORE_FORMAT_MIN, STORE_FORMAT], room a valid room id (and want_room if
 * not NULL), epoch present. RK_OK or RK_ECORRUPT with the reason in err.
 */
rk_err store_meta_check(store_meta *m, const char *format, const char *room,
			const char *epoch, const char *created_ms, const char *want_room,
			char *err, size_t errlen);

/* A new random epoch (16 hex digits) into out (at least 17 bytes). */
void store_new_epoch(char *out);

/*
 * store_load for every backend (load.c), through s's snapshot_at and
 * cursor ops: the newest snapshot (or an empty state), then every event
 * after it applied in seq order (role owner). The contract of store_load:
 * RK_OK with *st, or RK_ECORRUPT naming the first bad row ("log gap: seq N
 * follows M", "event N does not apply: ...", "snapshot at seq N: ..."),
 * RK_EIO, RK_ENOMEM with *st NULL.
 */
rk_err store_load_log(store *s, rk_state **st, int64_t *seq, int64_t *snap_seq, char *err,
		      size_t errlen);

/*
 * The op-id memory's window (store_load_opids; libcommon/retain.h), walked
 * over (seq, ts) from the newest event down: store_idem_step returns false
 * at the first event outside the window (stop there); w->from is then the
 * lowest seq inside it (w->last < 0: no event seen). Can't fail.
 */
typedef struct store_idem_walk {
	int64_t last, last_ts; /* the newest event's seq (-1: none yet) and ts */
	int64_t from;	       /* the lowest seq inside the window so far */
} store_idem_walk;
void store_idem_init(store_idem_walk *w);
bool store_idem_step(store_idem_walk *w, int64_t seq, int64_t ts);

#endif
