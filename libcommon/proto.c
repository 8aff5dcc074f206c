/*
 * proto.c - the messages of PROTOCOL.md sections 2 and 3: client and server
 * frames decoded into C structs and encoded back, key order fixed, "t" first.
 *
 * Decoders never quote the peer's content in their messages (a client sees
 * them in `error`/`reject`, and a truncated quote could split UTF-8); they
 * name the field instead.
 */
#include "proto.h"
#include "json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const errcode_names[RK_ERRC_COUNT] = {
    "?",
    "bad_json",
    "bad_message",
    "unknown_type",
};

const char *rk_errcode_name(rk_errcode c)
{
	return (unsigned)c < RK_ERRC_COUNT ? errcode_names[c] : "?";
}

rk_errcode rk_errcode_parse(const char *s)
{
	for (int i = 1; s && i < RK_ERRC_COUNT; i++)
		if (strcmp(s, errcode_names[i]) == 0)
			return (rk_errcode)i;
	return RK_ERRC_NONE;
}

/* ---- shared helpers ----------------------------------------------------------- */

static const cJSON *field(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/*
 * A string field of min..size-1 bytes copied into dst (size bytes). Fixed-size
 * fields hold ids, sessions and names, whose limits are in bytes.
 */
static rk_err get_fixed(const cJSON *obj, const char *name, size_t min, char *dst,
			size_t size, char *msg, size_t msglen)
{
	const cJSON *node = field(obj, name);
	if (!node)
		return rk_jfail(msg, msglen, RK_EBADMSG, "%s: missing", name);
	if (!cJSON_IsString(node) || !node->valuestring)
		return rk_jfail(msg, msglen, RK_EBADMSG, "%s: must be a string", name);
	size_t n = strlen(node->valuestring);
	if (n < min || n >= size || !rk_utf8_valid(node->valuestring, n))
		return rk_jfail(msg, msglen, RK_EBADMSG,
				"%s: must be a string of %zu..%zu bytes", name, min,
				size - 1);
	memcpy(dst, node->valuestring, n + 1);
	return RK_OK;
}

static rk_err get_int(const cJSON *obj, const char *name, int64_t min, int64_t max,
		      int64_t *out, char *msg, size_t msglen)
{
	if (!rk_jget_int(obj, name, min, max, out, msg, msglen))
		return RK_EBADMSG;
	return RK_OK;
}

/*
 * Copy src into dst (size bytes), cutting at a UTF-8 boundary if it does not
 * fit: a peer's over-long msg is kept, shortened, rather than refused.
 */
static void copy_trunc(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The compact JSON of node as a malloc'd string (freed with free()). */
static char *compact(const cJSON *node, size_t *len)
{
	char *p = cJSON_PrintUnformatted(node);
	if (!p)
		return NULL;
	char *s = strdup(p);
	cJSON_free(p);
	if (s && len)
		*len = strlen(s);
	return s;
}

static bool is_scalar(const cJSON *node)
{
	return cJSON_IsString(node) || cJSON_IsNumber(node) || cJSON_IsBool(node) ||
	       cJSON_IsNull(node);
}

/* ---- client -> server: decode ------------------------------------------------ */

static rk_err cmsg_op(const cJSON *root, rk_cmsg *m, rk_reject *rej, char *msg,
		      size_t msglen)
{
	rk_err err = get_fixed(root, "id", 1, m->id, sizeof(m->id), msg, msglen);
	if (err)
		return err;
	m->t = RK_C_OP;
	/* From here on the id is known, so the client gets a `reject` it can
	 * match to its pending op rather than an `error`. */
	const cJSON *op = field(root, "op");
	if (!cJSON_IsObject(op)) {
		*rej = RK_REJ_INVALID;
		return rk_jfail(msg, msglen, RK_EREJECT, "op: %s",
				op ? "must be an object" : "missing");
	}
	*rej = rk_op_decode(op, &m->op, msg, msglen);
	return *rej == RK_REJ_NONE ? RK_OK : RK_EREJECT;
}

static rk_err cmsg_cursor(const cJSON *root, rk_cmsg *m, char *msg, size_t msglen)
{
	m->t = RK_C_CURSOR;
	rk_err err = get_int(root, "x", -RK_INT_MAX, RK_INT_MAX, &m->x, msg, msglen);
	if (!err)
		err = get_int(root, "y", -RK_INT_MAX, RK_INT_MAX, &m->y, msg, msglen);
	return err;
}

static rk_err cmsg_signal(const cJSON *root, rk_cmsg *m, char *msg, size_t msglen)
{
	m->t = RK_C_SIGNAL;
	const cJSON *data = field(root, "data");
	if (!data)
		return rk_jfail(msg, msglen, RK_EBADMSG, "data: missing");
	m->data = compact(data, &m->data_len);
	if (!m->data)
		return rk_jfail(msg, msglen, RK_ENOMEM, "data: out of memory");
	if (m->data_len > RK_SIGNAL_MAX)
		return rk_jfail(msg, msglen, RK_EBADMSG,
				"data: encoded size over %d bytes", RK_SIGNAL_MAX);
	return RK_OK;
}

static rk_err cmsg_ping(const cJSON *root, rk_cmsg *m, char *msg, size_t msglen)
{
	m->t = RK_C_PING;
	const cJSON *id = field(root, "id");
	if (!id)
		return RK_OK;
	if (!is_scalar(id))
		return rk_jfail(msg, msglen, RK_EBADMSG,
				"id: must be a string, number, boolean or null");
	if (cJSON_IsString(id) && strlen(id->valuestring) > RK_ID_MAX)
		return rk_jfail(msg, msglen, RK_EBADMSG, "id: longer than %d bytes",
				RK_ID_MAX);
	m->ping_id = compact(id, NULL);
	if (!m->ping_id)
		return rk_jfail(msg, msglen, RK_ENOMEM, "id: out of memory");
	return RK_OK;
}

/* Decode a client frame, or with op_body an `op` message without its `t`
 * (the body of POST /v1/rooms/<room>/ops): one path for both. */
static rk_err cmsg_decode(const char *s, size_t n, size_t max_len, bool op_body,
			  rk_cmsg *m, rk_reject *rej, char *msg, size_t msglen)
{
	rk_reject rej_local = RK_REJ_NONE;
	rk_err err;

	if (!rej)
		rej = &rej_local;
	memset(m, 0, sizeof(*m));
	*rej = RK_REJ_NONE;
	if (msg && msglen)
		msg[0] = '\0';

	cJSON *root =
	    rk_json_parse(s ? s : "", s ? n : 0, max_len, RK_JSON_DEPTH_MAX, msg, msglen);
	if (!root)
		return RK_EBADJSON;
	const cJSON *t = field(root, "t");
	if (!cJSON_IsObject(root))
		err = rk_jfail(msg, msglen, RK_EBADMSG, "message: must be a JSON object");
	else if (op_body)
		err = cmsg_op(root, m, rej, msg, msglen);
	else if (!t)
		err = rk_jfail(msg, msglen, RK_EBADMSG, "t: missing");
	else if (!cJSON_IsString(t) || !t->valuestring)
		err = rk_jfail(msg, msglen, RK_EBADMSG, "t: must be a string");
	else if (strcmp(t->valuestring, "op") == 0)
		err = cmsg_op(root, m, rej, msg, msglen);
	else if (strcmp(t->valuestring, "cursor") == 0)
		err = cmsg_cursor(root, m, msg, msglen);
	else if (strcmp(t->valuestring, "signal") == 0)
		err = cmsg_signal(root, m, msg, msglen);
	else if (strcmp(t->valuestring, "ping") == 0)
		err = cmsg_ping(root, m, msg, msglen);
	else
		err = rk_jfail(msg, msglen, RK_EUNKNOWN, "t: unknown message type");
	cJSON_Delete(root);

	if (err == RK_EREJECT) {
		/* Keep t and id for the reply; the op is already freed. */
		rk_op_free(&m->op);
	} else if (err != RK_OK) {
		rk_cmsg_free(m);
	}
	return err;
}

rk_err rk_cmsg_decode(const char *s, size_t n, size_t max_len, rk_cmsg *m, rk_reject *rej,
		      char *msg, size_t msglen)
{
	return cmsg_decode(s, n, max_len, false, m, rej, msg, msglen);
}

rk_err rk_cmsg_decode_op_body(const char *s, size_t n, size_t max_len, rk_cmsg *m,
			      rk_reject *rej, char *msg, size_t msglen)
{
	return cmsg_decode(s, n, max_len, true, m, rej, msg, msglen);
}

void rk_cmsg_free(rk_cmsg *m)
{
	rk_op_free(&m->op);
	free(m->data);
	free(m->ping_id);
	memset(m, 0, sizeof(*m));
}

/* ---- client -> server: encode ------------------------------------------------ */

void rk_enc_c_op(rk_buf *b, const char *id, const rk_op *op)
{
	rk_buf_puts(b, "{\"t\":\"op\",\"id\":");
	rk_buf_put_jstrz(b, id);
	rk_buf_puts(b, ",\"op\":");
	rk_op_encode(op, b);
	rk_buf_putc(b, '}');
}

void rk_enc_c_cursor(rk_buf *b, int64_t x, int64_t y)
{
	rk_buf_puts(b, "{\"t\":\"cursor\",\"x\":");
	rk_buf_put_i64(b, x);
	rk_buf_puts(b, ",\"y\":");
	rk_buf_put_i64(b, y);
	rk_buf_putc(b, '}');
}

void rk_enc_c_signal(rk_buf *b, const char *data_json, size_t n)
{
	rk_buf_puts(b, "{\"t\":\"signal\",\"data\":");
	rk_buf_put(b, data_json, n);
	rk_buf_putc(b, '}');
}

void rk_enc_c_ping(rk_buf *b, const char *id)
{
	rk_buf_puts(b, "{\"t\":\"ping\"");
	if (id) {
		rk_buf_puts(b, ",\"id\":");
		rk_buf_put_jstrz(b, id);
	}
	rk_buf_putc(b, '}');
}

/* ---- server -> client: encode ------------------------------------------------ */

static void put_key(rk_buf *b, const char *key)
{
	rk_buf_putc(b, ',');
	rk_buf_put_jstrz(b, key);
	rk_buf_putc(b, ':');
}

static void put_kstr(rk_buf *b, const char *key, const char *val)
{
	put_key(b, key);
	rk_buf_put_jstrz(b, val ? val : "");
}

static void put_kint(rk_buf *b, const char *key, int64_t val)
{
	put_key(b, key);
	rk_buf_put_i64(b, val);
}

/* A reject/error msg, cut to RK_MSG_MSG_MAX bytes on a UTF-8 boundary so a
 * long reason never makes the frame invalid. */
static void put_kmsg(rk_buf *b, const char *key, const char *val)
{
	char tmp[RK_MSG_MSG_MAX + 1];
	copy_trunc(tmp, sizeof(tmp), val ? val : "");
	put_kstr(b, key, tmp);
}

static void put_peer(rk_buf *b, const rk_peer *p)
{
	rk_buf_puts(b, "{\"session\":");
	rk_buf_put_jstrz(b, p->session);
	put_kstr(b, "user", p->user);
	put_kint(b, "color", p->color);
	rk_buf_putc(b, '}');
}

void rk_enc_welcome(rk_buf *b, const rk_welcome *w, const rk_state *st)
{
	rk_buf_puts(b, "{\"t\":\"welcome\"");
	put_kint(b, "v", RK_PROTO_VERSION);
	put_kstr(b, "room", w->room);
	put_kstr(b, "session", w->session);
	put_kstr(b, "user", w->user);
	put_kstr(b, "role", rk_role_name(w->role));
	put_kint(b, "seq", w->seq);
	put_kstr(b, "epoch", w->epoch);
	put_key(b, "resumed");
	rk_buf_puts(b, w->resumed ? "true" : "false");
	if (!w->resumed) {
		put_key(b, "state");
		if (st)
			rk_state_encode(st, b);
		else /* no state yet: the empty snapshot of section 5 */
			rk_buf_puts(b, "{\"shapes\":{},\"polls\":{},\"chat\":[]}");
	}
	put_key(b, "peers");
	rk_buf_putc(b, '[');
	for (size_t i = 0; w->peers && i < w->npeers; i++) {
		if (i)
			rk_buf_putc(b, ',');
		put_peer(b, &w->peers[i]);
	}
	rk_buf_putc(b, ']');
	put_key(b, "limits");
	rk_buf_puts(b, "{\"max_frame\":");
	rk_buf_put_i64(b, w->max_frame);
	put_kint(b, "ops_per_sec", w->ops_per_sec);
	rk_buf_puts(b, "}}");
}

void rk_enc_event(rk_buf *b, int64_t seq, int64_t ts, const char *session,
		  const char *user, const char *id, const char *op_json, size_t op_len)
{
	rk_buf_puts(b, "{\"t\":\"event\"");
	put_kint(b, "seq", seq);
	put_kint(b, "ts", ts);
	put_kstr(b, "session", session);
	put_kstr(b, "user", user);
	put_kstr(b, "id", id);
	put_key(b, "op");
	rk_buf_put(b, op_json, op_len);
	rk_buf_putc(b, '}');
}

void rk_enc_ack(rk_buf *b, const char *id, int64_t seq, bool dup)
{
	rk_buf_puts(b, "{\"t\":\"ack\"");
	put_kstr(b, "id", id);
	put_kint(b, "seq", seq);
	if (dup)
		rk_buf_puts(b, ",\"dup\":true");
	rk_buf_putc(b, '}');
}

void rk_enc_reject(rk_buf *b, const char *id, rk_reject code, const char *msg)
{
	rk_buf_puts(b, "{\"t\":\"reject\"");
	put_kstr(b, "id", id);
	put_kstr(b, "code", rk_reject_name(code));
	put_kmsg(b, "msg", msg);
	rk_buf_putc(b, '}');
}

void rk_enc_presence_join(rk_buf *b, const rk_peer *p)
{
	rk_buf_puts(b, "{\"t\":\"presence\"");
	put_key(b, "join");
	put_peer(b, p);
	rk_buf_putc(b, '}');
}

void rk_enc_presence_leave(rk_buf *b, const char *session)
{
	rk_buf_puts(b, "{\"t\":\"presence\"");
	put_kstr(b, "leave", session);
	rk_buf_putc(b, '}');
}

void rk_enc_cursor(rk_buf *b, const char *session, int64_t x, int64_t y)
{
	rk_buf_puts(b, "{\"t\":\"cursor\"");
	put_kstr(b, "session", session);
	put_kint(b, "x", x);
	put_kint(b, "y", y);
	rk_buf_putc(b, '}');
}

void rk_enc_signal(rk_buf *b, const char *session, const char *user,
		   const char *data_json, size_t n)
{
	rk_buf_puts(b, "{\"t\":\"signal\"");
	put_kstr(b, "session", session);
	put_kstr(b, "user", user);
	put_key(b, "data");
	rk_buf_put(b, data_json, n);
	rk_buf_putc(b, '}');
}

void rk_enc_pong(rk_buf *b, const char *ping_id_json, int64_t seq)
{
	rk_buf_puts(b, "{\"t\":\"pong\"");
	put_key(b, "id");
	rk_buf_puts(b, ping_id_json ? ping_id_json : "null");
	put_kint(b, "seq", seq);
	rk_buf_putc(b, '}');
}

void rk_enc_error(rk_buf *b, rk_errcode code, const char *msg)
{
	rk_buf_puts(b, "{\"t\":\"error\"");
	put_kstr(b, "code", rk_errcode_name(code));
	put_kmsg(b, "msg", msg);
	rk_buf_putc(b, '}');
}

/* ---- server -> client: decode ------------------------------------------------ */

static rk_err get_peer(const cJSON *node, const char *name, rk_peer *p, char *msg,
		       size_t msglen)
{
	int64_t color = 0;
	if (!cJSON_IsObject(node))
		return rk_jfail(msg, msglen, RK_EBADMSG, "%s: must be an object", name);
	rk_err err =
	    get_fixed(node, "session", 1, p->session, sizeof(p->session), msg, msglen);
	if (!err)
		err = get_fixed(node, "user", 1, p->user, sizeof(p->user), msg, msglen);
	if (!err)
		err = get_int(node, "color", 0, RK_COLORS - 1, &color, msg, msglen);
	p->color = (int)color;
	return err;
}

static rk_err smsg_welcome(const cJSON *root, bool want_state, rk_smsg *m, char *msg,
			   size_t msglen)
{
	rk_welcome *w = &m->welcome;
	int64_t v = 0;
	const char *role = NULL;
	rk_err err;

	if (get_int(root, "v", RK_PROTO_VERSION, RK_PROTO_VERSION, &v, msg, msglen))
		return rk_jfail(msg, msglen, RK_EBADMSG,
				"v: unsupported protocol version");
	if ((err = get_fixed(root, "room", 1, w->room, sizeof(w->room), msg, msglen)) ||
	    (err = get_fixed(root, "session", 1, w->session, sizeof(w->session), msg,
			     msglen)) ||
	    (err = get_fixed(root, "user", 1, w->user, sizeof(w->user), msg, msglen)) ||
	    (err = get_int(root, "seq", 0, RK_INT_MAX, &w->seq, msg, msglen)) ||
	    (err = get_fixed(root, "epoch", 1, w->epoch, sizeof(w->epoch), msg, msglen)))
		return err;
	if (!rk_jget_str(root, "role", 16, false, &role, msg, msglen))
		return RK_EBADMSG;
	w->role = rk_role_parse(role);
	if (w->role == RK_ROLE_NONE)
		return rk_jfail(msg, msglen, RK_EBADMSG,
				"role: must be viewer, editor or owner");
	const cJSON *resumed = field(root, "resumed");
	if (!cJSON_IsBool(resumed))
		return rk_jfail(msg, msglen, RK_EBADMSG, "resumed: must be a boolean");
	w->resumed = cJSON_IsTrue(resumed);

	const cJSON *peers = field(root, "peers");
	if (!cJSON_IsArray(peers))
		return rk_jfail(msg, msglen, RK_EBADMSG, "peers: must be an array");
	size_t n = 0;
	for (const cJSON *c = peers->child; c; c = c->next)
		n++;
	if (n) {
		w->peers = calloc(n, sizeof(*w->peers));
		if (!w->peers)
			return rk_jfail(msg, msglen, RK_ENOMEM, "peers: out of memory");
		w->npeers = n;
	}
	size_t i = 0;
	for (const cJSON *c = peers->child; c; c = c->next, i++)
		if ((err = get_peer(c, "peers[]", &w->peers[i], msg, msglen)))
			return err;

	const cJSON *limits = field(root, "limits");
	if (!cJSON_IsObject(limits))
		return rk_jfail(msg, msglen, RK_EBADMSG, "limits: must be an object");
	if ((err = get_int(limits, "max_frame", 0, RK_INT_MAX, &w->max_frame, msg,
			   msglen)) ||
	    (err = get_int(limits, "ops_per_sec", 0, RK_INT_MAX, &w->ops_per_sec, msg,
			   msglen)))
		return err;

	/* The snapshot last: it is the expensive part, and a resumed welcome
	 * has none (one sent anyway is ignored). */
	if (w->resumed)
		return RK_OK;
	const cJSON *st = field(root, "state");
	if (!cJSON_IsObject(st))
		return rk_jfail(msg, msglen, RK_EBADMSG, "state: %s",
				st ? "must be an object" : "missing");
	if (!want_state)
		return RK_OK;
	return rk_state_decode(st, &m->state, msg, msglen);
}

static rk_err smsg_event(const cJSON *root, rk_smsg *m, char *msg, size_t msglen)
{
	rk_err err;
	/* id may be empty: ops the server commits itself (poll alarms) have no
	 * client op id. */
	if ((err = get_int(root, "seq", 1, RK_INT_MAX, &m->seq, msg, msglen)) ||
	    (err = get_int(root, "ts", 0, RK_INT_MAX, &m->ts, msg, msglen)) ||
	    (err = get_fixed(root, "session", 1, m->session, sizeof(m->session), msg,
			     msglen)) ||
	    (err = get_fixed(root, "user", 1, m->user, sizeof(m->user), msg, msglen)) ||
	    (err = get_fixed(root, "id", 0, m->id, sizeof(m->id), msg, msglen)))
		return err;
	const cJSON *op = field(root, "op");
	if (!cJSON_IsObject(op))
		return rk_jfail(msg, msglen, RK_EBADMSG, "op: %s",
				op ? "must be an object" : "missing");
	char why[RK_MSG_MSG_MAX];
	if (rk_op_decode(op, &m->op, why, sizeof(why)) != RK_REJ_NONE)
		return rk_jfail(msg, msglen, RK_EBADMSG, "op.%s", why);
	return RK_OK;
}

static rk_err smsg_reject(const cJSON *root, rk_smsg *m, char *msg, size_t msglen)
{
	const char *code = NULL, *text = NULL;
	rk_err err = get_fixed(root, "id", 1, m->id, sizeof(m->id), msg, msglen);
	if (err)
		return err;
	if (!rk_jget_str(root, "code", 32, false, &code, msg, msglen))
		return RK_EBADMSG;
	m->reject = rk_reject_parse(code);
	if (m->reject == RK_REJ_NONE)
		return rk_jfail(msg, msglen, RK_EBADMSG, "code: unknown reject code");
	if (!rk_jget_str(root, "msg", SIZE_MAX, true, &text, msg, msglen))
		return RK_EBADMSG;
	copy_trunc(m->msg, sizeof(m->msg), text);
	return RK_OK;
}

static rk_err smsg_error(const cJSON *root, rk_smsg *m, char *msg, size_t msglen)
{
	const char *code = NULL, *text = NULL;
	if (!rk_jget_str(root, "code", 32, false, &code, msg, msglen))
		return RK_EBADMSG;
	m->errcode = rk_errcode_parse(code);
	if (m->errcode == RK_ERRC_NONE)
		return rk_jfail(msg, msglen, RK_EBADMSG, "code: unknown error code");
	if (!rk_jget_str(root, "msg", SIZE_MAX, true, &text, msg, msglen))
		return RK_EBADMSG;
	copy_trunc(m->msg, sizeof(m->msg), text);
	return RK_OK;
}

static rk_err smsg_presence(const cJSON *root, rk_smsg *m, char *msg, size_t msglen)
{
	const cJSON *join = field(root, "join");
	const cJSON *leave = field(root, "leave");
	if (!join == !leave)
		return rk_jfail(msg, msglen, RK_EBADMSG,
				"presence: needs exactly one of join, leave");
	if (join) {
		m->join = true;
		return get_peer(join, "join", &m->peer, msg, msglen);
	}
	return get_fixed(root, "leave", 1, m->session, sizeof(m->session), msg, msglen);
}

static rk_err smsg_cursor(const cJSON *root, rk_smsg *m, char *msg, size_t msglen)
{
	rk_err err;
	if ((err = get_fixed(root, "session", 1, m->session, sizeof(m->session), msg,
			     msglen)) ||
	    (err = get_int(root, "x", -RK_INT_MAX, RK_INT_MAX, &m->x, msg, msglen)) ||
	    (err = get_int(root, "y", -RK_INT_MAX, RK_INT_MAX, &m->y, msg, msglen)))
		return err;
	return RK_OK;
}

static rk_err smsg_signal(const cJSON *root, rk_smsg *m, char *msg, size_t msglen)
{
	rk_err err;
	if ((err = get_fixed(root, "session", 1, m->session, sizeof(m->session), msg,
			     msglen)) ||
	    (err = get_fixed(root, "user", 1, m->user, sizeof(m->user), msg, msglen)))
		return err;
	const cJSON *data = field(root, "data");
	if (!data)
		return rk_jfail(msg, msglen, RK_EBADMSG, "data: missing");
	m->data = compact(data, &m->data_len);
	if (!m->data)
		return rk_jfail(msg, msglen, RK_ENOMEM, "data: out of memory");
	return RK_OK;
}

static rk_err smsg_pong(const cJSON *root, rk_smsg *m, char *msg, size_t msglen)
{
	const cJSON *id = field(root, "id");
	rk_err err = get_int(root, "seq", 0, RK_INT_MAX, &m->seq, msg, msglen);
	if (err)
		return err;
	/* Absent and null both mean "no id": data stays NULL. */
	if (!id || cJSON_IsNull(id))
		return RK_OK;
	if (!is_scalar(id))
		return rk_jfail(msg, msglen, RK_EBADMSG,
				"id: must be a string, number, boolean or null");
	m->data = compact(id, &m->data_len);
	if (!m->data)
		return rk_jfail(msg, msglen, RK_ENOMEM, "id: out of memory");
	return RK_OK;
}

rk_err rk_smsg_decode(const char *s, size_t n, bool want_state, rk_smsg *m, char *err,
		      size_t errlen)
{
	static const struct {
		const char *name;
		rk_stype t;
	} types[] = {
	    {"welcome", RK_S_WELCOME},	 {"event", RK_S_EVENT},
	    {"ack", RK_S_ACK},		 {"reject", RK_S_REJECT},
	    {"presence", RK_S_PRESENCE}, {"cursor", RK_S_CURSOR},
	    {"signal", RK_S_SIGNAL},	 {"pong", RK_S_PONG},
	    {"error", RK_S_ERROR},
	};
	rk_err rc;

	memset(m, 0, sizeof(*m));
	if (err && errlen)
		err[0] = '\0';
	/* No size cap of our own: a welcome carries the whole room, and the
	 * transport has already bounded the frame. */
	cJSON *root = rk_json_parse(s ? s : "", s ? n : 0, SIZE_MAX, RK_JSON_DEPTH_MAX,
				    err, errlen);
	if (!root)
		return RK_EBADJSON;
	const cJSON *t = field(root, "t");
	if (!cJSON_IsObject(root)) {
		rc = rk_jfail(err, errlen, RK_EBADMSG, "message: must be a JSON object");
		goto out;
	}
	if (!cJSON_IsString(t) || !t->valuestring) {
		rc = rk_jfail(err, errlen, RK_EBADMSG, "t: %s",
			      t ? "must be a string" : "missing");
		goto out;
	}
	for (size_t i = 0; i < RK_ARRAY_LEN(types); i++)
		if (strcmp(t->valuestring, types[i].name) == 0)
			m->t = types[i].t;

	switch (m->t) {
	case RK_S_WELCOME:
		rc = smsg_welcome(root, want_state, m, err, errlen);
		break;
	case RK_S_EVENT:
		rc = smsg_event(root, m, err, errlen);
		break;
	case RK_S_ACK:
		rc = get_fixed(root, "id", 1, m->id, sizeof(m->id), err, errlen);
		if (!rc)
			rc = get_int(root, "seq", 1, RK_INT_MAX, &m->seq, err, errlen);
		if (!rc) {
			const cJSON *dup = field(root, "dup");
			if (dup && !cJSON_IsBool(dup)) {
				snprintf(err, errlen, "dup: must be a boolean");
				rc = RK_EBADMSG;
			}
			m->dup = cJSON_IsTrue(dup);
		}
		break;
	case RK_S_REJECT:
		rc = smsg_reject(root, m, err, errlen);
		break;
	case RK_S_PRESENCE:
		rc = smsg_presence(root, m, err, errlen);
		break;
	case RK_S_CURSOR:
		rc = smsg_cursor(root, m, err, errlen);
		break;
	case RK_S_SIGNAL:
		rc = smsg_signal(root, m, err, errlen);
		break;
	case RK_S_PONG:
		rc = smsg_pong(root, m, err, errlen);
		break;
	case RK_S_ERROR:
		rc = smsg_error(root, m, err, errlen);
		break;
	default:
		rc = rk_jfail(err, errlen, RK_EUNKNOWN, "t: unknown message type");
		break;
	}
out:
	cJSON_Delete(root);
	if (rc != RK_OK)
		rk_smsg_free(m);
	return rc;
}

void rk_smsg_free(rk_smsg *m)
{
	free(m->welcome.peers);
	if (m->state)
		rk_state_free(m->state);
	rk_op_free(&m->op);
	free(m->data);
	memset(m, 0, sizeof(*m));
}
