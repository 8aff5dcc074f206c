/*
 * model.c - confirmed state + pending ops + view (see model.h).
 */
#include "model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rk_err tm_init(tui_model *m, const char *id_prefix)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->prefix, sizeof(m->prefix), "%s", id_prefix);
	m->confirmed = rk_state_new();
	if (!m->confirmed)
		return RK_ENOMEM;
	m->dirty = true;
	return RK_OK;
}

static void pending_clear(tui_model *m)
{
	for (size_t i = 0; i < m->npend; i++)
		rk_op_free(&m->pend[i].op);
	m->npend = 0;
}

void tm_free(tui_model *m)
{
	pending_clear(m);
	RK_FREE(m->pend);
	rk_state_free(m->confirmed);
	rk_state_free(m->view);
	memset(m, 0, sizeof(*m));
}

static tm_pending *pending_find(tui_model *m, const char *id, size_t *idx)
{
	for (size_t i = 0; i < m->npend; i++) {
		if (strcmp(m->pend[i].id, id) == 0) {
			if (idx)
				*idx = i;
			return &m->pend[i];
		}
	}
	return NULL;
}

/* Remove pending op i (its op is moved to *out if out, else freed). */
static void pending_remove(tui_model *m, size_t i, rk_op *out)
{
	if (out)
		*out = m->pend[i].op;
	else
		rk_op_free(&m->pend[i].op);
	memmove(&m->pend[i], &m->pend[i + 1], (m->npend - i - 1) * sizeof(*m->pend));
	m->npend--;
	m->dirty = true;
}

/* Apply a copy of op to st as user (role owner: what we apply was committed
 * or is a prediction the server will judge). */
static rk_reject apply_copy(rk_state *st, const rk_op *op, const char *user, rk_role role,
			    int64_t seq, int64_t ts, char *msg, size_t msglen)
{
	rk_op c;
	if (rk_op_copy(&c, op) != RK_OK) {
		snprintf(msg, msglen, "out of memory");
		return RK_REJ_INVALID;
	}
	rk_actor a = {.user = user, .role = role, .seq = seq, .ts = ts};
	rk_reject r = rk_state_apply(st, &c, &a, msg, msglen);
	rk_op_free(&c);
	return r;
}

/* Rebuild the view; with drop, pending ops that do not apply are removed,
 * and those never sent before are counted (see model.h). */
static size_t rebuild(tui_model *m, bool drop)
{
	size_t dropped = 0;
	rk_state_free(m->view);
	m->view = rk_state_clone(m->confirmed);
	if (!m->view)
		return 0;
	char msg[RK_MSG_MSG_MAX + 1];
	for (size_t i = 0; i < m->npend;) {
		/* Predicted ops carry a provisional seq/ts past the confirmed
		 * ones; only chat posts keep them. */
		rk_reject r =
		    apply_copy(m->view, &m->pend[i].op, m->user[0] ? m->user : "me",
			       m->role ? m->role : RK_ROLE_EDITOR,
			       m->seq + 1 + (int64_t)i, 0, msg, sizeof(msg));
		if (r != RK_REJ_NONE && drop) {
			if (!m->pend[i].tried)
				dropped++;
			pending_remove(m, i, NULL);
			continue;
		}
		i++;
	}
	m->dirty = false;
	return dropped;
}

/* True if the confirmed state holds the object a shape.add / poll.create
 * creates (then it was ours and is committed). */
static bool object_committed(const tui_model *m, const rk_op *op)
{
	if (!op->id)
		return false;
	if (op->k == RK_OP_SHAPE_ADD)
		return rk_omap_get(&m->confirmed->shapes, op->id, strlen(op->id)) != NULL;
	if (op->k == RK_OP_POLL_CREATE)
		return rk_omap_get(&m->confirmed->polls, op->id, strlen(op->id)) != NULL;
	return false;
}

/* After a full state: settle the pending ops it shows committed; drop the
 * chat posts it cannot tell about. Returns how many were dropped. */
static void settle_from_state(tui_model *m, bool same_history)
{
	const rk_state *st = m->confirmed;
	for (size_t i = 0; i < m->npend;) {
		const rk_op *op = &m->pend[i].op;
		if (object_committed(m, op)) {
			pending_remove(m, i, NULL);
			continue;
		}
		if (op->k != RK_OP_CHAT_POST || !m->pend[i].tried || !same_history) {
			i++;
			continue;
		}
		/* A kept post carries its op id: ours is there or it is not. */
		size_t k = 0;
		while (k < st->chat_len &&
		       (strcmp(rk_state_chat_at(st, k)->id, m->pend[i].id) != 0 ||
			strcmp(rk_state_chat_at(st, k)->user, m->user) != 0))
			k++;
		if (k < st->chat_len)
			pending_remove(m, i, NULL);
		else
			i++; /* resent: if it was committed, the server acks it as a dup
			      */
	}
}

const rk_state *tm_view(tui_model *m)
{
	if (m->dirty || !m->view)
		rebuild(m, false);
	return m->view;
}

rk_err tm_welcome(tui_model *m, rk_smsg *msg, size_t *dropped)
{
	const rk_welcome *w = &msg->welcome;
	if (dropped)
		*dropped = 0;
	bool same_history = m->epoch[0] && strcmp(m->epoch, w->epoch) == 0;
	if (w->resumed) {
		if (strcmp(w->epoch, m->epoch) != 0 || w->seq < m->seq)
			return RK_ECORRUPT;
	} else {
		if (!msg->state)
			return RK_ECORRUPT;
		rk_state_free(m->confirmed);
		m->confirmed = msg->state;
		msg->state = NULL;
		m->seq = w->seq;
	}
	snprintf(m->epoch, sizeof(m->epoch), "%s", w->epoch);
	snprintf(m->user, sizeof(m->user), "%s", w->user);
	m->role = w->role;
	m->resume_until = w->seq;
	m->joined = true;
	for (size_t i = 0; i < m->npend; i++) {
		m->pend[i].tried = m->pend[i].tried || m->pend[i].sent;
		m->pend[i].sent = false;
	}
	m->dirty = true;
	if (!w->resumed) {
		settle_from_state(m, same_history);
		size_t n = rebuild(m, true);
		if (dropped)
			*dropped = n;
	}
	return RK_OK;
}

void tm_disconnected(tui_model *m)
{
	m->joined = false;
	for (size_t i = 0; i < m->npend; i++) {
		m->pend[i].tried = m->pend[i].tried || m->pend[i].sent;
		m->pend[i].sent = false;
	}
}

bool tm_event(tui_model *m, rk_smsg *msg)
{
	if (msg->seq <= m->seq)
		return false;
	size_t idx;
	if (strcmp(msg->user, m->user) == 0 && pending_find(m, msg->id, &idx))
		pending_remove(m, idx, NULL);
	char err[RK_MSG_MSG_MAX + 1];
	rk_actor a = {.user = msg->user,
		      .role = RK_ROLE_OWNER,
		      .seq = msg->seq,
		      .ts = msg->ts,
		      .id = msg->id};
	rk_reject r = rk_state_apply(m->confirmed, &msg->op, &a, err, sizeof(err));
	m->seq = msg->seq;
	m->dirty = true;
	return r == RK_REJ_NONE;
}

bool tm_ack(tui_model *m, const char *id, int64_t seq, int64_t ts)
{
	size_t idx;
	if (!pending_find(m, id, &idx))
		return false;
	rk_op op;
	pending_remove(m, idx, &op);
	if (seq > m->seq) {
		char err[RK_MSG_MSG_MAX + 1];
		rk_actor a = {.user = m->user,
			      .role = RK_ROLE_OWNER,
			      .seq = seq,
			      .ts = ts,
			      .id = id};
		rk_state_apply(m->confirmed, &op, &a, err, sizeof(err));
		m->seq = seq;
	}
	rk_op_free(&op);
	return true;
}

bool tm_reject(tui_model *m, const char *id, rk_op_kind *kind)
{
	size_t idx;
	tm_pending *p = pending_find(m, id, &idx);
	if (!p)
		return false;
	if (kind)
		*kind = p->op.k;
	pending_remove(m, idx, NULL);
	return true;
}

rk_reject tm_local_op(tui_model *m, rk_op *op, char *id_out, char *msg, size_t msglen)
{
	if (m->role == RK_ROLE_VIEWER) {
		snprintf(msg, msglen, "read-only: viewers cannot change the room");
		rk_op_free(op);
		return RK_REJ_FORBIDDEN;
	}
	if (!tm_view(m)) {
		snprintf(msg, msglen, "out of memory");
		rk_op_free(op);
		return RK_REJ_INVALID;
	}
	rk_reject r = apply_copy(m->view, op, m->user[0] ? m->user : "me",
				 m->role ? m->role : RK_ROLE_EDITOR,
				 m->seq + 1 + (int64_t)m->npend, 0, msg, msglen);
	if (r != RK_REJ_NONE) {
		rk_op_free(op);
		m->dirty = true; /* apply left the view unchanged; be safe */
		return r;
	}
	if (m->npend == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		tm_pending *np = realloc(m->pend, ncap * sizeof(*np));
		if (!np) {
			snprintf(msg, msglen, "out of memory");
			rk_op_free(op);
			m->dirty = true;
			return RK_REJ_INVALID;
		}
		m->pend = np;
		m->cap = ncap;
	}
	tm_pending *p = &m->pend[m->npend++];
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s.%llu", m->prefix,
		 (unsigned long long)++m->next_id);
	p->op = *op;
	memset(op, 0, sizeof(*op));
	snprintf(id_out, RK_ID_MAX + 1, "%s", p->id);
	return RK_REJ_NONE;
}

bool tm_resend_ready(const tui_model *m)
{
	return m->joined && m->seq >= m->resume_until;
}

bool tm_shape_pending(const tui_model *m, const char *shape_id)
{
	if (rk_omap_get(&m->confirmed->shapes, shape_id, strlen(shape_id)))
		return false;
	for (size_t i = 0; i < m->npend; i++) {
		const rk_op *op = &m->pend[i].op;
		if (op->k == RK_OP_SHAPE_ADD && op->id && strcmp(op->id, shape_id) == 0)
			return true;
	}
	return false;
}

void tm_new_object_id(tui_model *m, char *out, size_t n)
{
	snprintf(out, n, "%s-s%llu", m->prefix, (unsigned long long)++m->next_id);
}
