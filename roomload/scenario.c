/*
 * scenario.c - what a client sends: one message per call, encoded with the
 * libcommon client encoders. Op ids are "cIDX.SEQ" (client index, local
 * sequence) so that any receiver can find the sender and its send time.
 */
#include "load.h"
#include "proto.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_ID "p"
#define POLL_OPTIONS 4

bool scenario_init(load *ld)
{
	int size = ld->cfg.size;
	ld->text = malloc((size_t)size + 1);
	if (!ld->text)
		return false;
	static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing ";
	for (int i = 0; i < size; i++)
		ld->text[i] = words[i % (sizeof(words) - 1)];
	ld->text[0] = 'L';
	ld->text[size - 1] = '.';
	ld->text[size] = '\0';
	/* A point encodes as about 10 bytes: "[123,456],". */
	ld->npoints = (size_t)(size / 10 > 0 ? size / 10 : 1);
	if (ld->npoints > RK_POINTS_MAX)
		ld->npoints = RK_POINTS_MAX;
	ld->points = calloc(ld->npoints, sizeof(*ld->points));
	if (!ld->points)
		return false;
	for (size_t i = 0; i < ld->npoints; i++) {
		ld->points[i].x = (int64_t)(i * 7 % 1000);
		ld->points[i].y = (int64_t)(i * 13 % 1000);
	}
	return true;
}

void scenario_free(load *ld)
{
	RK_FREE(ld->text);
	RK_FREE(ld->points);
}

bool scenario_needs_setup(const load *ld)
{
	return ld->cfg.sc == SC_POLL || ld->cfg.sc == SC_MIXED;
}

/* A random number that depends only on (run seed, client, lseq): an op
 * resent after a reconnect (--reconnect) is encoded exactly as the first
 * time. splitmix64. */
static uint64_t op_rand(const load *ld, const client *cl, uint32_t lseq)
{
	uint64_t z = ld->cfg.seed ^ ((uint64_t)cl->idx << 32 | lseq);
	z += UINT64_C(0x9E3779B97F4A7C15);
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void enc_op(rk_buf *b, uint32_t idx, uint32_t lseq, const rk_op *op)
{
	char id[RK_ID_MAX + 1];
	snprintf(id, sizeof(id), "c%u.%u", idx, lseq);
	rk_enc_c_op(b, id, op);
}

static void enc_chat(load *ld, client *cl, uint32_t lseq, rk_buf *b)
{
	rk_op op;
	memset(&op, 0, sizeof(op));
	op.k = RK_OP_CHAT_POST;
	op.text = ld->text;
	enc_op(b, cl->idx, lseq, &op);
}

static void enc_vote(load *ld, client *cl, uint32_t lseq, rk_buf *b)
{
	rk_op op;
	memset(&op, 0, sizeof(op));
	op.k = RK_OP_POLL_VOTE;
	op.id = (char *)POLL_ID;
	op.choice = (int)((op_rand(ld, cl, lseq) >> 32) % POLL_OPTIONS);
	enc_op(b, cl->idx, lseq, &op);
}

/* The stroke of (client, n) is "sIDX.N"; draw cycles add, update, delete. */
static void enc_draw(load *ld, client *cl, uint32_t lseq, rk_buf *b, int step)
{
	char sid[RK_ID_MAX + 1];
	rk_op op;
	memset(&op, 0, sizeof(op));
	op.id = sid;
	switch (step) {
	case 0:
		snprintf(sid, sizeof(sid), "s%u.%u", cl->idx, lseq);
		op.k = RK_OP_SHAPE_ADD;
		op.type = RK_SHAPE_STROKE;
		op.color = (int)(lseq % RK_COLORS);
		op.points = ld->points;
		op.npoints = ld->npoints;
		break;
	case 1:
		snprintf(sid, sizeof(sid), "s%u.%u", cl->idx, lseq - 1);
		op.k = RK_OP_SHAPE_UPDATE;
		op.set = RK_SET_COLOR | RK_SET_POINTS;
		op.color = (int)((lseq + 3) % RK_COLORS);
		op.points = ld->points;
		op.npoints = ld->npoints;
		break;
	default:
		snprintf(sid, sizeof(sid), "s%u.%u", cl->idx, lseq - 2);
		op.k = RK_OP_SHAPE_DELETE;
		break;
	}
	enc_op(b, cl->idx, lseq, &op);
}

static void enc_poll_create(client *cl, uint32_t lseq, rk_buf *b)
{
	static const char *const opts[POLL_OPTIONS] = {"red", "green", "blue", "none"};
	rk_op op;
	memset(&op, 0, sizeof(op));
	op.k = RK_OP_POLL_CREATE;
	op.id = (char *)POLL_ID;
	op.question = (char *)"Which color?";
	op.options = (char **)opts;
	op.noptions = POLL_OPTIONS;
	enc_op(b, cl->idx, lseq, &op);
}

bool scenario_encode(load *ld, client *cl, uint32_t lseq, bool setup, rk_buf *b)
{
	if (setup) {
		enc_poll_create(cl, lseq, b);
		return true;
	}
	switch (ld->cfg.sc) {
	case SC_CHAT:
	case SC_CHURN:
		enc_chat(ld, cl, lseq, b);
		return true;
	case SC_DRAW: {
		/* Steps follow the client's own op count so add/update/delete of one
		 * stroke are consecutive local seqs (a setup op shifts nothing: the
		 * draw scenario has none). */
		enc_draw(ld, cl, lseq, b, (int)((lseq - 1) % 3));
		return true;
	}
	case SC_POLL:
		enc_vote(ld, cl, lseq, b);
		return true;
	case SC_CURSOR:
		rk_enc_c_cursor(b, cl->idx, lseq);
		return false;
	case SC_MIXED: {
		uint64_t r = op_rand(ld, cl, lseq) % 10;
		if (r < 6)
			enc_chat(ld, cl, lseq, b);
		else if (r < 9)
			enc_draw(ld, cl, lseq, b, 0);
		else
			enc_vote(ld, cl, lseq, b);
		return true;
	}
	case SC_IDLE:
	default:
		rk_enc_c_cursor(b, cl->idx, lseq);
		return false;
	}
}
