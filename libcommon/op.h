/*
 * op.h - the ops of PROTOCOL.md section 3: their C form, decode from JSON
 * (with every static rule: types, lengths, ranges) and encode to JSON.
 *
 * Rules that need the room state (existence, roles, open polls) are not
 * checked here; see state.h. An rk_op owns all its memory; rk_op_free()
 * releases it.
 */
#ifndef RK_OP_H
#define RK_OP_H

#include <cjson/cJSON.h>
#include "rk_common.h"
#include "buf.h"

typedef enum rk_op_kind {
	RK_OP_NONE = 0,
	RK_OP_SHAPE_ADD,
	RK_OP_SHAPE_UPDATE,
	RK_OP_SHAPE_DELETE,
	RK_OP_BOARD_CLEAR,
	RK_OP_POLL_CREATE,
	RK_OP_POLL_VOTE,
	RK_OP_POLL_CLOSE,
	RK_OP_CHAT_POST,
	RK_OP_KIND_COUNT
} rk_op_kind;

/* Reject codes of PROTOCOL.md section 2 (`reject`.code). */
typedef enum rk_reject {
	RK_REJ_NONE = 0,
	RK_REJ_INVALID,
	RK_REJ_FORBIDDEN,
	RK_REJ_CONFLICT,
	RK_REJ_NOT_FOUND,
	RK_REJ_RATE_LIMITED,
	RK_REJ_TOO_LARGE,
	RK_REJ_ROOM_FULL,
	RK_REJ_COUNT
} rk_reject;

typedef enum rk_shape_type {
	RK_SHAPE_NONE = 0,
	RK_SHAPE_STROKE,
	RK_SHAPE_LINE,
	RK_SHAPE_RECT,
	RK_SHAPE_TEXT,
} rk_shape_type;

typedef struct rk_point {
	int64_t x, y;
} rk_point;

/* Which fields of shape.update's `set` are present. */
enum {
	RK_SET_COLOR = 1u << 0,
	RK_SET_POINTS = 1u << 1,
	RK_SET_TEXT = 1u << 2,
};

typedef struct rk_op {
	rk_op_kind k;
	/* shape.add: the shape. shape.update/delete: id = target shape. */
	char *id;	    /* shape id, or poll id for poll.* ops */
	rk_shape_type type; /* shape.add */
	int color;	    /* shape.add; shape.update when RK_SET_COLOR */
	rk_point *points;   /* shape.add (may be NULL); update when RK_SET_POINTS */
	size_t npoints;
	char *text;   /* shape.add/update (NULL: absent); chat.post */
	unsigned set; /* shape.update: RK_SET_* mask, never 0 */
	/* poll.create */
	char *question;
	char **options;
	size_t noptions;
	int64_t closes_at; /* ms since epoch; 0 = no alarm */
	/* poll.vote */
	int choice;
	/* Filled by rk_state_apply for poll.vote ("as applied"), encoded when set. */
	int64_t *tally;
	size_t ntally;
} rk_op;

/* Wire names: "shape.add", ... and "invalid", ... Static strings; never NULL
 * ("?" for out-of-range values). */
const char *rk_op_kind_name(rk_op_kind k);
const char *rk_reject_name(rk_reject r);
const char *rk_shape_type_name(rk_shape_type t);
/* Inverse of rk_op_kind_name; RK_OP_NONE if unknown. */
rk_op_kind rk_op_kind_parse(const char *s);
rk_reject rk_reject_parse(const char *s);

/*
 * Decode the `op` object of an op message. On success returns RK_REJ_NONE and
 * fills *op (caller must rk_op_free it). On failure returns the reject code
 * (RK_REJ_INVALID for a bad type/missing field/unknown kind, RK_REJ_TOO_LARGE
 * for a text, point list or option list over its limit), leaves *op freed
 * and zeroed, and writes a message naming the field into msg.
 * A `tally` field present in the input (an op as applied, from the log) is
 * accepted and ignored.
 */
rk_reject rk_op_decode(const cJSON *obj, rk_op *op, char *msg, size_t msglen);

/* Decode op JSON text (as stored in the events table). Same contract; the
 * text is parsed with the standard limits. */
rk_reject rk_op_decode_text(const char *s, size_t n, rk_op *op, char *msg, size_t msglen);

/*
 * Append the op as a JSON object to b. Key order is fixed per kind so the
 * encoding is deterministic: k first, then the kind's fields in the order of
 * PROTOCOL.md section 3 (shape.add: {"k","shape":{"id","type","color",
 * "points","text"}}), then "tally" if set. Errors surface via rk_buf_ok(b).
 */
void rk_op_encode(const rk_op *op, rk_buf *b);

/* Release everything the op owns and zero it. Safe on a zeroed op. */
void rk_op_free(rk_op *op);

/* Deep copy; returns RK_OK or RK_ENOMEM (dst zeroed on failure). */
RK_WARN_UNUSED rk_err rk_op_copy(rk_op *dst, const rk_op *src);

#endif
