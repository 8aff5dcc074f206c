/* op.c - op names, free and copy. Encode/decode live in op_codec.c. */
#include <stdlib.h>
#include <string.h>
#include "op.h"

static const char *const kind_names[RK_OP_KIND_COUNT] = {
    "?",	   "shape.add", "shape.update", "shape.delete", "board.clear",
    "poll.create", "poll.vote", "poll.close",	"chat.post",
};

static const char *const reject_names[RK_REJ_COUNT] = {
    "?",	 "invalid",	 "forbidden", "conflict",
    "not_found", "rate_limited", "too_large", "room_full",
};

static const char *const shape_names[] = {"?", "stroke", "line", "rect", "text"};

const char *rk_op_kind_name(rk_op_kind k)
{
	return (unsigned)k < RK_OP_KIND_COUNT ? kind_names[k] : "?";
}

const char *rk_reject_name(rk_reject r)
{
	return (unsigned)r < RK_REJ_COUNT ? reject_names[r] : "?";
}

const char *rk_shape_type_name(rk_shape_type t)
{
	return (unsigned)t < RK_ARRAY_LEN(shape_names) ? shape_names[t] : "?";
}

rk_op_kind rk_op_kind_parse(const char *s)
{
	for (int i = 1; s && i < RK_OP_KIND_COUNT; i++)
		if (strcmp(s, kind_names[i]) == 0)
			return (rk_op_kind)i;
	return RK_OP_NONE;
}

rk_reject rk_reject_parse(const char *s)
{
	for (int i = 1; s && i < RK_REJ_COUNT; i++)
		if (strcmp(s, reject_names[i]) == 0)
			return (rk_reject)i;
	return RK_REJ_NONE;
}

void rk_op_free(rk_op *op)
{
	free(op->id);
	free(op->points);
	free(op->text);
	free(op->question);
	for (size_t i = 0; i < op->noptions; i++)
		free(op->options ? op->options[i] : NULL);
	free(op->options);
	free(op->tally);
	memset(op, 0, sizeof(*op));
}

static bool dup_str(char **dst, const char *src)
{
	if (!src) {
		*dst = NULL;
		return true;
	}
	*dst = strdup(src);
	return *dst != NULL;
}

static bool dup_mem(void **dst, const void *src, size_t n)
{
	if (!src || n == 0) {
		*dst = NULL;
		return true;
	}
	*dst = malloc(n);
	if (!*dst)
		return false;
	memcpy(*dst, src, n);
	return true;
}

rk_err rk_op_copy(rk_op *dst, const rk_op *src)
{
	*dst = *src;
	dst->id = dst->text = dst->question = NULL;
	dst->points = NULL;
	dst->options = NULL;
	dst->tally = NULL;
	dst->noptions = 0;
	bool ok =
	    dup_str(&dst->id, src->id) && dup_str(&dst->text, src->text) &&
	    dup_str(&dst->question, src->question) &&
	    dup_mem((void **)&dst->points, src->points,
		    src->npoints * sizeof(rk_point)) &&
	    dup_mem((void **)&dst->tally, src->tally, src->ntally * sizeof(int64_t));
	if (ok && src->noptions) {
		dst->options = calloc(src->noptions, sizeof(char *));
		ok = dst->options != NULL;
		for (size_t i = 0; ok && i < src->noptions; i++) {
			ok = dup_str(&dst->options[i], src->options[i]);
			dst->noptions = i + 1;
		}
	}
	if (!ok) {
		rk_op_free(dst);
		return RK_ENOMEM;
	}
	return RK_OK;
}
