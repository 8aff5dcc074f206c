/*
 * op_codec.c - decode ops from JSON with every static rule of PROTOCOL.md
 * section 3, and encode them back to canonical JSON.
 *
 * The encoder appends straight into an rk_buf: it runs once per committed op
 * on the hot path, so it builds no cJSON tree.
 *
 * Decode messages always name the offending field ("shape.color: ...",
 * "poll.options[3]: ...", "set.points[7]: ...") and never quote client
 * content: they are sent back to the client and into logs, and a truncated
 * quote could split a UTF-8 sequence.
 */
#include "json.h"
#include "op.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Cap on the op text rk_op_decode_text accepts. The largest valid op we encode
 * (4096 points of two 17-character coordinates plus 2000 four-byte chars) is
 * about 170 KiB; the margin admits whitespace and \u escapes from other
 * writers of the events table while still bounding a corrupt row.
 */
#define OP_TEXT_MAX ((size_t)1 << 20)

/* Field-name prefixes used in messages. */
#define P_SHAPE "shape."
#define P_SET "set."
#define P_POLL "poll."
#define P_NONE ""

static rk_reject oom(char *msg, size_t msglen)
{
	return rk_jfail(msg, msglen, RK_REJ_INVALID, "out of memory");
}

static const cJSON *field(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* An object member that must be a JSON object. */
static rk_reject get_obj(const cJSON *obj, const char *prefix, const char *name,
			 const cJSON **out, char *msg, size_t msglen)
{
	const cJSON *node = field(obj, name);
	if (!node)
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "%s%s: missing", prefix,
				name);
	if (!cJSON_IsObject(node))
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "%s%s: must be an object",
				prefix, name);
	*out = node;
	return RK_REJ_NONE;
}

/*
 * An id: a string of 1..RK_ID_MAX bytes (bytes, not chars: ids key maps and
 * fixed-size fields). Too long is `invalid`, not `too_large`: the too_large
 * code is kept for payload sizes a client may legitimately hit.
 */
static rk_reject get_id(const cJSON *obj, const char *prefix, const char *name,
			char **out, char *msg, size_t msglen)
{
	const cJSON *node = field(obj, name);
	if (!node)
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "%s%s: missing", prefix,
				name);
	if (!cJSON_IsString(node) || !node->valuestring)
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "%s%s: must be a string",
				prefix, name);
	size_t n = strlen(node->valuestring);
	if (n == 0 || n > RK_ID_MAX || !rk_utf8_valid(node->valuestring, n))
		return rk_jfail(msg, msglen, RK_REJ_INVALID,
				"%s%s: must be a string of 1..%d bytes", prefix, name,
				RK_ID_MAX);
	*out = strdup(node->valuestring);
	return *out ? RK_REJ_NONE : oom(msg, msglen);
}

/*
 * A text of 1..max_chars code points. With optional, an absent field leaves
 * *out NULL. Over the limit is `too_large`; anything else `invalid`.
 */
static rk_reject get_text(const cJSON *obj, const char *prefix, const char *name,
			  size_t max_chars, bool optional, char **out, char *msg,
			  size_t msglen)
{
	const cJSON *node = field(obj, name);
	const char *s = NULL;
	char why[RK_MSG_MSG_MAX];

	*out = NULL;
	if (!node && optional)
		return RK_REJ_NONE;
	if (!rk_jget_str(obj, name, max_chars, false, &s, why, sizeof(why))) {
		bool big =
		    cJSON_IsString(node) && node->valuestring &&
		    rk_utf8_len(node->valuestring, strlen(node->valuestring)) > max_chars;
		return rk_jfail(msg, msglen, big ? RK_REJ_TOO_LARGE : RK_REJ_INVALID,
				"%s%s", prefix, why);
	}
	/* Trees built by code rather than rk_json_parse may hold any bytes; the
	 * encoder copies strings verbatim, so only valid UTF-8 gets through. */
	if (!rk_utf8_valid(s, strlen(s)))
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "%s%s: must be valid UTF-8",
				prefix, name);
	*out = strdup(s);
	return *out ? RK_REJ_NONE : oom(msg, msglen);
}

static rk_reject get_int(const cJSON *obj, const char *prefix, const char *name,
			 int64_t min, int64_t max, int64_t *out, char *msg, size_t msglen)
{
	char why[RK_MSG_MSG_MAX];
	if (!rk_jget_int(obj, name, min, max, out, why, sizeof(why)))
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "%s%s", prefix, why);
	return RK_REJ_NONE;
}

/* `points`: 1..RK_POINTS_MAX [x, y] pairs of integers within +-RK_INT_MAX.
 * `name` is the full field name for messages ("shape.points"). */
static rk_reject get_points(const cJSON *node, const char *name, rk_point **out,
			    size_t *nout, char *msg, size_t msglen)
{
	if (!cJSON_IsArray(node))
		return rk_jfail(msg, msglen, RK_REJ_INVALID,
				"%s: must be an array of [x, y] pairs", name);
	size_t n = 0;
	for (const cJSON *c = node->child; c; c = c->next)
		n++;
	if (n == 0)
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "%s: must not be empty",
				name);
	if (n > RK_POINTS_MAX)
		return rk_jfail(msg, msglen, RK_REJ_TOO_LARGE, "%s: more than %d points",
				name, RK_POINTS_MAX);
	rk_point *pts = malloc(n * sizeof(*pts));
	if (!pts)
		return oom(msg, msglen);
	size_t i = 0;
	for (const cJSON *c = node->child; c; c = c->next, i++) {
		const cJSON *x = cJSON_IsArray(c) ? c->child : NULL;
		const cJSON *y = x ? x->next : NULL;
		if (!y || y->next || !rk_jint(x, -RK_INT_MAX, RK_INT_MAX, &pts[i].x) ||
		    !rk_jint(y, -RK_INT_MAX, RK_INT_MAX, &pts[i].y)) {
			free(pts);
			return rk_jfail(msg, msglen, RK_REJ_INVALID,
					"%s[%zu]: must be an [x, y] pair of integers "
					"within +-2^53",
					name, i);
		}
	}
	*out = pts;
	*nout = n;
	return RK_REJ_NONE;
}

static rk_reject dec_shape_add(const cJSON *obj, rk_op *op, char *msg, size_t msglen)
{
	const cJSON *shape = NULL;
	rk_reject r = get_obj(obj, P_NONE, "shape", &shape, msg, msglen);
	if (!r)
		r = get_id(shape, P_SHAPE, "id", &op->id, msg, msglen);
	if (r)
		return r;

	const cJSON *type = field(shape, "type");
	if (!type)
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "shape.type: missing");
	for (int t = RK_SHAPE_STROKE; t <= RK_SHAPE_TEXT && cJSON_IsString(type); t++)
		if (strcmp(type->valuestring, rk_shape_type_name((rk_shape_type)t)) == 0)
			op->type = (rk_shape_type)t;
	if (op->type == RK_SHAPE_NONE)
		return rk_jfail(msg, msglen, RK_REJ_INVALID,
				"shape.type: must be one of stroke, line, rect, text");

	int64_t color = 0;
	r = get_int(shape, P_SHAPE, "color", 0, RK_COLORS - 1, &color, msg, msglen);
	if (r)
		return r;
	op->color = (int)color;

	const cJSON *points = field(shape, "points");
	if (points) {
		r = get_points(points, "shape.points", &op->points, &op->npoints, msg,
			       msglen);
		if (r)
			return r;
	}
	r = get_text(shape, P_SHAPE, "text", RK_TEXT_MAX, true, &op->text, msg, msglen);
	if (r)
		return r;

	/* Type rules (our choice; the protocol is silent): a stroke is a
	 * polyline, line and rect are two corners, a text is an anchor + text. */
	switch (op->type) {
	case RK_SHAPE_STROKE:
		if (op->npoints < 1)
			return rk_jfail(msg, msglen, RK_REJ_INVALID,
					"shape.points: a stroke needs at least 1 point");
		break;
	case RK_SHAPE_LINE:
	case RK_SHAPE_RECT:
		if (op->npoints != 2)
			return rk_jfail(msg, msglen, RK_REJ_INVALID,
					"shape.points: a %s needs exactly 2 points",
					rk_shape_type_name(op->type));
		break;
	case RK_SHAPE_TEXT:
		if (op->npoints != 1)
			return rk_jfail(msg, msglen, RK_REJ_INVALID,
					"shape.points: a text needs exactly 1 point");
		if (!op->text)
			return rk_jfail(msg, msglen, RK_REJ_INVALID,
					"shape.text: missing (a text shape needs one)");
		break;
	case RK_SHAPE_NONE:
		break;
	}
	if (op->type != RK_SHAPE_TEXT && op->text)
		return rk_jfail(msg, msglen, RK_REJ_INVALID,
				"shape.text: only a text shape may carry a text");
	return RK_REJ_NONE;
}

static rk_reject dec_shape_update(const cJSON *obj, rk_op *op, char *msg, size_t msglen)
{
	const cJSON *set = NULL;
	rk_reject r = get_id(obj, P_NONE, "id", &op->id, msg, msglen);
	if (!r)
		r = get_obj(obj, P_NONE, "set", &set, msg, msglen);
	if (r)
		return r;
	if (field(set, "color")) {
		int64_t color = 0;
		r = get_int(set, P_SET, "color", 0, RK_COLORS - 1, &color, msg, msglen);
		if (r)
			return r;
		op->color = (int)color;
		op->set |= RK_SET_COLOR;
	}
	const cJSON *points = field(set, "points");
	if (points) {
		r = get_points(points, "set.points", &op->points, &op->npoints, msg,
			       msglen);
		if (r)
			return r;
		op->set |= RK_SET_POINTS;
	}
	/* Empty text is refused here: a text shape needs 1..2000 chars and the
	 * other types may carry none, so "" is wrong for every type. */
	r = get_text(set, P_SET, "text", RK_TEXT_MAX, true, &op->text, msg, msglen);
	if (r)
		return r;
	if (op->text)
		op->set |= RK_SET_TEXT;
	if (!op->set)
		return rk_jfail(msg, msglen, RK_REJ_INVALID,
				"set: must contain color, points or text");
	return RK_REJ_NONE;
}

static rk_reject dec_poll_create(const cJSON *obj, rk_op *op, char *msg, size_t msglen)
{
	const cJSON *poll = NULL;
	rk_reject r = get_obj(obj, P_NONE, "poll", &poll, msg, msglen);
	if (!r)
		r = get_id(poll, P_POLL, "id", &op->id, msg, msglen);
	if (!r)
		r = get_text(poll, P_POLL, "question", RK_QUESTION_MAX, false,
			     &op->question, msg, msglen);
	if (r)
		return r;

	const cJSON *opts = field(poll, "options");
	if (!opts)
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "poll.options: missing");
	if (!cJSON_IsArray(opts))
		return rk_jfail(msg, msglen, RK_REJ_INVALID,
				"poll.options: must be an array of strings");
	size_t n = 0;
	for (const cJSON *c = opts->child; c; c = c->next)
		n++;
	if (n > RK_OPTIONS_MAX)
		return rk_jfail(msg, msglen, RK_REJ_TOO_LARGE,
				"poll.options: more than %d options", RK_OPTIONS_MAX);
	if (n < RK_OPTIONS_MIN)
		return rk_jfail(msg, msglen, RK_REJ_INVALID,
				"poll.options: needs at least %d options",
				RK_OPTIONS_MIN);
	op->options = calloc(n, sizeof(char *));
	if (!op->options)
		return oom(msg, msglen);
	const cJSON *c = opts->child;
	for (size_t i = 0; i < n; i++, c = c->next) {
		const char *s = cJSON_IsString(c) ? c->valuestring : NULL;
		size_t len = s ? strlen(s) : 0;
		if (!s || len == 0 || !rk_utf8_valid(s, len))
			return rk_jfail(msg, msglen, RK_REJ_INVALID,
					"poll.options[%zu]: must be a non-empty string",
					i);
		if (rk_utf8_len(s, len) > RK_OPTION_MAX)
			return rk_jfail(msg, msglen, RK_REJ_TOO_LARGE,
					"poll.options[%zu]: longer than %d characters", i,
					RK_OPTION_MAX);
		op->options[i] = strdup(s);
		op->noptions = i + 1; /* so rk_op_free releases what we have */
		if (!op->options[i])
			return oom(msg, msglen);
	}

	/* closes_at 0 means "no alarm" in rk_op, so 0 cannot be accepted as a
	 * time; any past time is refused later by the state (needs the ts). */
	if (field(poll, "closes_at")) {
		r = get_int(poll, P_POLL, "closes_at", 1, RK_INT_MAX, &op->closes_at, msg,
			    msglen);
		if (r)
			return r;
	}
	return RK_REJ_NONE;
}

static rk_reject dec_poll_vote(const cJSON *obj, rk_op *op, char *msg, size_t msglen)
{
	int64_t choice = 0;
	rk_reject r = get_id(obj, P_NONE, "poll", &op->id, msg, msglen);
	/* The upper bound depends on the poll: checked by the state. */
	if (!r)
		r = get_int(obj, P_NONE, "choice", 0, INT_MAX, &choice, msg, msglen);
	op->choice = (int)choice;
	return r;
}

rk_reject rk_op_decode(const cJSON *obj, rk_op *op, char *msg, size_t msglen)
{
	rk_reject r = RK_REJ_NONE;

	memset(op, 0, sizeof(*op));
	if (msg && msglen)
		msg[0] = '\0';
	if (!cJSON_IsObject(obj))
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "op: must be an object");
	const cJSON *k = field(obj, "k");
	if (!k)
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "k: missing");
	if (!cJSON_IsString(k) || !k->valuestring)
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "k: must be a string");
	op->k = rk_op_kind_parse(k->valuestring);

	switch (op->k) {
	case RK_OP_SHAPE_ADD:
		r = dec_shape_add(obj, op, msg, msglen);
		break;
	case RK_OP_SHAPE_UPDATE:
		r = dec_shape_update(obj, op, msg, msglen);
		break;
	case RK_OP_SHAPE_DELETE:
		r = get_id(obj, P_NONE, "id", &op->id, msg, msglen);
		break;
	case RK_OP_BOARD_CLEAR:
		break;
	case RK_OP_POLL_CREATE:
		r = dec_poll_create(obj, op, msg, msglen);
		break;
	case RK_OP_POLL_VOTE:
		r = dec_poll_vote(obj, op, msg, msglen);
		break;
	case RK_OP_POLL_CLOSE:
		r = get_id(obj, P_NONE, "poll", &op->id, msg, msglen);
		break;
	case RK_OP_CHAT_POST:
		r = get_text(obj, P_NONE, "text", RK_TEXT_MAX, false, &op->text, msg,
			     msglen);
		break;
	default:
		r = rk_jfail(msg, msglen, RK_REJ_INVALID, "k: unknown op kind");
		break;
	}
	if (r != RK_REJ_NONE)
		rk_op_free(op);
	return r;
}

rk_reject rk_op_decode_text(const char *s, size_t n, rk_op *op, char *msg, size_t msglen)
{
	char why[RK_MSG_MSG_MAX];

	memset(op, 0, sizeof(*op));
	cJSON *root = rk_json_parse(s ? s : "", s ? n : 0, OP_TEXT_MAX, RK_JSON_DEPTH_MAX,
				    why, sizeof(why));
	if (!root)
		return rk_jfail(msg, msglen, RK_REJ_INVALID, "op: %s", why);
	rk_reject r = rk_op_decode(root, op, msg, msglen);
	cJSON_Delete(root);
	return r;
}

/* ---- encode ---------------------------------------------------------------- */

/* A NULL string (only in an op that never went through the decoder) is
 * written as "" so the output stays JSON. */
static void put_str(rk_buf *b, const char *s)
{
	rk_buf_put_jstrz(b, s ? s : "");
}

static void put_points(rk_buf *b, const rk_point *pts, size_t n)
{
	rk_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		rk_buf_puts(b, i ? ",[" : "[");
		rk_buf_put_i64(b, pts[i].x);
		rk_buf_putc(b, ',');
		rk_buf_put_i64(b, pts[i].y);
		rk_buf_putc(b, ']');
	}
	rk_buf_putc(b, ']');
}

void rk_op_encode(const rk_op *op, rk_buf *b)
{
	rk_buf_puts(b, "{\"k\":");
	rk_buf_put_jstrz(b, rk_op_kind_name(op->k));
	switch (op->k) {
	case RK_OP_SHAPE_ADD:
		rk_buf_puts(b, ",\"shape\":{\"id\":");
		put_str(b, op->id);
		rk_buf_puts(b, ",\"type\":");
		rk_buf_put_jstrz(b, rk_shape_type_name(op->type));
		rk_buf_puts(b, ",\"color\":");
		rk_buf_put_i64(b, op->color);
		if (op->points && op->npoints) {
			rk_buf_puts(b, ",\"points\":");
			put_points(b, op->points, op->npoints);
		}
		if (op->text) {
			rk_buf_puts(b, ",\"text\":");
			put_str(b, op->text);
		}
		rk_buf_putc(b, '}');
		break;
	case RK_OP_SHAPE_UPDATE: {
		const char *sep = "";
		rk_buf_puts(b, ",\"id\":");
		put_str(b, op->id);
		rk_buf_puts(b, ",\"set\":{");
		if (op->set & RK_SET_COLOR) {
			rk_buf_puts(b, "\"color\":");
			rk_buf_put_i64(b, op->color);
			sep = ",";
		}
		if (op->set & RK_SET_POINTS) {
			rk_buf_puts(b, sep);
			rk_buf_puts(b, "\"points\":");
			put_points(b, op->points, op->points ? op->npoints : 0);
			sep = ",";
		}
		if (op->set & RK_SET_TEXT) {
			rk_buf_puts(b, sep);
			rk_buf_puts(b, "\"text\":");
			put_str(b, op->text);
		}
		rk_buf_putc(b, '}');
		break;
	}
	case RK_OP_SHAPE_DELETE:
		rk_buf_puts(b, ",\"id\":");
		put_str(b, op->id);
		break;
	case RK_OP_BOARD_CLEAR:
		break;
	case RK_OP_POLL_CREATE:
		rk_buf_puts(b, ",\"poll\":{\"id\":");
		put_str(b, op->id);
		rk_buf_puts(b, ",\"question\":");
		put_str(b, op->question);
		rk_buf_puts(b, ",\"options\":[");
		for (size_t i = 0; op->options && i < op->noptions; i++) {
			if (i)
				rk_buf_putc(b, ',');
			put_str(b, op->options[i]);
		}
		rk_buf_putc(b, ']');
		if (op->closes_at) {
			rk_buf_puts(b, ",\"closes_at\":");
			rk_buf_put_i64(b, op->closes_at);
		}
		rk_buf_putc(b, '}');
		break;
	case RK_OP_POLL_VOTE:
		rk_buf_puts(b, ",\"poll\":");
		put_str(b, op->id);
		rk_buf_puts(b, ",\"choice\":");
		rk_buf_put_i64(b, op->choice);
		break;
	case RK_OP_POLL_CLOSE:
		rk_buf_puts(b, ",\"poll\":");
		put_str(b, op->id);
		break;
	case RK_OP_CHAT_POST:
		rk_buf_puts(b, ",\"text\":");
		put_str(b, op->text);
		break;
	default:
		/* Not an op: refuse rather than emit something undecodable. */
		b->failed = true;
		return;
	}
	if (op->tally) {
		rk_buf_puts(b, ",\"tally\":[");
		for (size_t i = 0; i < op->ntally; i++) {
			if (i)
				rk_buf_putc(b, ',');
			rk_buf_put_i64(b, op->tally[i]);
		}
		rk_buf_putc(b, ']');
	}
	rk_buf_putc(b, '}');
}
