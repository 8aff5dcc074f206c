/*
 * proto.h - every message of PROTOCOL.md sections 2 and 3: decode from JSON
 * text into C structs, encode back to JSON text.
 *
 * Decoding is total: any byte string gives a message or an error (never a
 * crash, never memory beyond the size cap). Encoders append to an rk_buf and
 * report failure through rk_buf_ok(); key order is fixed.
 */
#ifndef RK_PROTO_H
#define RK_PROTO_H

#include "rk_common.h"
#include "buf.h"
#include "op.h"
#include "state.h"

#define RK_PROTO_VERSION 1
#define RK_SUBPROTOCOL "room.v1"

/* `error`.code values. */
typedef enum rk_errcode {
	RK_ERRC_NONE = 0,
	RK_ERRC_BAD_JSON,
	RK_ERRC_BAD_MESSAGE,
	RK_ERRC_UNKNOWN_TYPE,
	RK_ERRC_COUNT
} rk_errcode;

const char *rk_errcode_name(rk_errcode c); /* "bad_json", ... */
rk_errcode rk_errcode_parse(const char *s);

/* ---- client -> server ---------------------------------------------------- */

typedef enum rk_ctype {
	RK_C_NONE = 0,
	RK_C_OP,
	RK_C_CURSOR,
	RK_C_SIGNAL,
	RK_C_PING,
} rk_ctype;

typedef struct rk_cmsg {
	rk_ctype t;
	char id[RK_ID_MAX + 1]; /* op: the client op id. ping: see ping_id */
	rk_op op;		/* op: the decoded op */
	int64_t x, y;		/* cursor */
	char *data;		/* signal: compact JSON of `data`, owned */
	size_t data_len;
	char
	    *ping_id; /* ping: compact JSON of `id` (any scalar), owned; NULL if absent */
} rk_cmsg;

/*
 * Decode one client frame (n bytes, max_len cap). Result:
 *  RK_OK       - *m is a message (free with rk_cmsg_free).
 *  RK_EBADJSON - not JSON / bad UTF-8 / too deep / too big: reply error bad_json.
 *  RK_EBADMSG  - not an object, no string `t`, or a field of a non-op message
 *                is missing or wrong (cursor x/y, signal data > 4 KiB, op
 *                message without a valid `id`): reply error bad_message.
 *  RK_EUNKNOWN - unknown `t`: reply error unknown_type.
 *  RK_EREJECT  - an op message with a valid id whose op fails a static rule:
 *                m->t == RK_C_OP, m->id set, *rej holds the code: reply reject.
 * In every non-OK case msg holds a human-readable reason naming the field,
 * and *m owns nothing that needs freeing (rk_cmsg_free is still safe).
 */
rk_err rk_cmsg_decode(const char *s, size_t n, size_t max_len, rk_cmsg *m, rk_reject *rej,
		      char *msg, size_t msglen);
/*
 * Decode the body of POST /v1/rooms/<room>/ops, `{"id": ..., "op": {...}}`,
 * through the same code as an `op` frame (a `t` field is ignored): the same
 * results as rk_cmsg_decode for an op message, m->t == RK_C_OP on RK_OK.
 */
rk_err rk_cmsg_decode_op_body(const char *s, size_t n, size_t max_len, rk_cmsg *m,
			      rk_reject *rej, char *msg, size_t msglen);
void rk_cmsg_free(rk_cmsg *m);

/* Client encoders (used by roomtui, roomload, tests). */
void rk_enc_c_op(rk_buf *b, const char *id, const rk_op *op);
void rk_enc_c_cursor(rk_buf *b, int64_t x, int64_t y);
void rk_enc_c_signal(rk_buf *b, const char *data_json, size_t n);
void rk_enc_c_ping(rk_buf *b, const char *id);

/* ---- server -> client ---------------------------------------------------- */

typedef enum rk_stype {
	RK_S_NONE = 0,
	RK_S_WELCOME,
	RK_S_EVENT,
	RK_S_ACK,
	RK_S_REJECT,
	RK_S_PRESENCE,
	RK_S_CURSOR,
	RK_S_SIGNAL,
	RK_S_PONG,
	RK_S_ERROR,
} rk_stype;

typedef struct rk_peer {
	char session[RK_SESSION_MAX + 1];
	char user[RK_NAME_BYTES + 1];
	int color;
} rk_peer;

typedef struct rk_welcome {
	char room[RK_ROOM_ID_MAX + 1];
	char session[RK_SESSION_MAX + 1];
	char user[RK_NAME_BYTES + 1];
	rk_role role;
	int64_t seq;
	char epoch[RK_EPOCH_MAX + 1];
	bool resumed;
	rk_peer *peers; /* decode: owned array; encode: caller's */
	size_t npeers;
	int64_t max_frame;
	int64_t ops_per_sec;
} rk_welcome;

typedef struct rk_smsg {
	rk_stype t;
	rk_welcome welcome; /* welcome (v is checked to be 1) */
	rk_state *state;    /* welcome: the snapshot, owned; NULL when resumed */
	int64_t seq;	    /* event, ack, pong */
	int64_t ts;	    /* event */
	char session[RK_SESSION_MAX + 1]; /* event, cursor, signal, presence leave */
	char user[RK_NAME_BYTES + 1];	  /* event, signal */
	char id[RK_ID_MAX + 1];		  /* event, ack, reject */
	bool dup;			  /* ack: a duplicate of an op committed at seq */
	rk_op op;			  /* event: the op as applied */
	rk_reject reject;		  /* reject */
	rk_errcode errcode;		  /* error */
	char msg[RK_MSG_MSG_MAX + 1];	  /* reject, error */
	bool join;    /* presence: true = join (peer), false = leave (session) */
	rk_peer peer; /* presence join */
	int64_t x, y; /* cursor */
	char *data;   /* signal data / pong id as compact JSON, owned */
	size_t data_len;
} rk_smsg;

/*
 * Decode one server frame. RK_OK and *m filled (free with rk_smsg_free), or
 * RK_EBADJSON / RK_EBADMSG / RK_EUNKNOWN / RK_ECORRUPT (bad snapshot) /
 * RK_ENOMEM with a message in err. With want_state false a welcome's state is
 * skipped (not decoded), which is what a load generator wants.
 */
rk_err rk_smsg_decode(const char *s, size_t n, bool want_state, rk_smsg *m, char *err,
		      size_t errlen);
void rk_smsg_free(rk_smsg *m);

/* Server encoders. `op_json` is the op already encoded by rk_op_encode (so an
 * event is encoded once and stored as-is). */
void rk_enc_welcome(rk_buf *b, const rk_welcome *w, const rk_state *st);
void rk_enc_event(rk_buf *b, int64_t seq, int64_t ts, const char *session,
		  const char *user, const char *id, const char *op_json, size_t op_len);
/* dup: the op had been committed before (idempotent ops): seq is that
 * earlier commit's and "dup":true is added. */
void rk_enc_ack(rk_buf *b, const char *id, int64_t seq, bool dup);
void rk_enc_reject(rk_buf *b, const char *id, rk_reject code, const char *msg);
void rk_enc_presence_join(rk_buf *b, const rk_peer *p);
void rk_enc_presence_leave(rk_buf *b, const char *session);
void rk_enc_cursor(rk_buf *b, const char *session, int64_t x, int64_t y);
void rk_enc_signal(rk_buf *b, const char *session, const char *user,
		   const char *data_json, size_t n);
/* ping_id_json: the compact JSON of the ping's id, or NULL for null. */
void rk_enc_pong(rk_buf *b, const char *ping_id_json, int64_t seq);
void rk_enc_error(rk_buf *b, rk_errcode code, const char *msg);

#endif
