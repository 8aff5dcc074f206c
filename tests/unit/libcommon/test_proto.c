/*
 * test_proto.c - message codec (libcommon/proto.c): canonical round trips of
 * every client and server message, the bad_json / bad_message /
 * unknown_type / reject classification of client frames, validation of
 * server frames, and hostile input (truncation, nesting, size, bad UTF-8,
 * NUL, odd numbers). The welcome with a full state is in
 * test_proto_welcome.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "roundtrip.h"

#include "buf.h"
#include "json.h"
#include "proto.h"

#define MAXLEN 65536

/* ---- helpers ---------------------------------------------------------------- */

static char *steal(rk_buf *b)
{
	assert_int_equal(rk_buf_ok(b), RK_OK);
	char *s = rk_buf_steal(b, NULL);
	assert_non_null(s);
	return s;
}

static rk_err cdec(const char *s, rk_cmsg *m, rk_reject *rej, char *msg, size_t msglen)
{
	return rk_cmsg_decode(s, strlen(s), MAXLEN, m, rej, msg, msglen);
}

static rk_err sdec(const char *s, rk_smsg *m, char *msg, size_t msglen)
{
	return rk_smsg_decode(s, strlen(s), false, m, msg, msglen);
}

static char *rep(const char *s, size_t n)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		rk_buf_puts(&b, s);
	rk_buf_putc(&b, '\0');
	return steal(&b);
}

/* tmpl with its one "%s" replaced by s (templates are JSON, not formats). */
static char *fmt(const char *tmpl, const char *s)
{
	const char *at = strstr(tmpl, "%s");
	assert_non_null(at);
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_put(&b, tmpl, (size_t)(at - tmpl));
	rk_buf_puts(&b, s);
	rk_buf_puts(&b, at + 2);
	return steal(&b);
}

/* Re-encode a decoded client message with the client encoders. */
static char *cenc(const rk_cmsg *m)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	switch (m->t) {
	case RK_C_OP:
		rk_enc_c_op(&b, m->id, &m->op);
		break;
	case RK_C_CURSOR:
		rk_enc_c_cursor(&b, m->x, m->y);
		break;
	case RK_C_SIGNAL:
		rk_enc_c_signal(&b, m->data, m->data_len);
		break;
	case RK_C_PING:
		if (!m->ping_id) {
			rk_enc_c_ping(&b, NULL);
		} else {
			/* rk_enc_c_ping takes a string id: unwrap the JSON */
			cJSON *id = cJSON_Parse(m->ping_id);
			assert_non_null(id);
			assert_true(cJSON_IsString(id));
			rk_enc_c_ping(&b, id->valuestring);
			cJSON_Delete(id);
		}
		break;
	default:
		fail_msg("no client type");
	}
	return steal(&b);
}

/* Re-encode a decoded server message with the server encoders. */
static char *senc(const rk_smsg *m)
{
	rk_buf b, op;
	rk_buf_init(&b, 0);
	switch (m->t) {
	case RK_S_WELCOME:
		rk_enc_welcome(&b, &m->welcome, m->state);
		break;
	case RK_S_EVENT:
		rk_buf_init(&op, 0);
		rk_op_encode(&m->op, &op);
		assert_int_equal(rk_buf_ok(&op), RK_OK);
		rk_enc_event(&b, m->seq, m->ts, m->session, m->user, m->id, op.data,
			     op.len);
		rk_buf_free(&op);
		break;
	case RK_S_ACK:
		rk_enc_ack(&b, m->id, m->seq, m->dup);
		break;
	case RK_S_REJECT:
		rk_enc_reject(&b, m->id, m->reject, m->msg);
		break;
	case RK_S_PRESENCE:
		if (m->join)
			rk_enc_presence_join(&b, &m->peer);
		else
			rk_enc_presence_leave(&b, m->session);
		break;
	case RK_S_CURSOR:
		rk_enc_cursor(&b, m->session, m->x, m->y);
		break;
	case RK_S_SIGNAL:
		rk_enc_signal(&b, m->session, m->user, m->data, m->data_len);
		break;
	case RK_S_PONG:
		rk_enc_pong(&b, m->data, m->seq);
		break;
	case RK_S_ERROR:
		rk_enc_error(&b, m->errcode, m->msg);
		break;
	default:
		fail_msg("no server type");
	}
	return steal(&b);
}

/* cdec without the reject code (RT_ROUNDTRIP's decoder shape). */
static rk_err cdec_msg(const char *s, rk_cmsg *m, char *msg, size_t msglen)
{
	rk_reject rej;
	return cdec(s, m, &rej, msg, msglen);
}

/* decode -> encode == want -> decode -> encode identical. */
static void c_roundtrip(const char *in, const char *want)
{
	rk_cmsg m, m2;
	RT_ROUNDTRIP(cdec_msg, rk_strerror, cenc, rk_cmsg_free, in, want, &m, &m2);
}

static void s_roundtrip(const char *in, const char *want)
{
	rk_smsg m, m2;
	RT_ROUNDTRIP(sdec, rk_strerror, senc, rk_smsg_free, in, want, &m, &m2);
}

static bool cmsg_is_zero(const rk_cmsg *m)
{
	static const rk_cmsg zero;
	return memcmp(m, &zero, sizeof(zero)) == 0;
}

static bool smsg_is_zero(const rk_smsg *m)
{
	static const rk_smsg zero;
	return memcmp(m, &zero, sizeof(zero)) == 0;
}

/* ---- names -------------------------------------------------------------------- */

static void test_errcode_names(void **state)
{
	assert_string_equal(rk_errcode_name(RK_ERRC_BAD_JSON), "bad_json");
	assert_string_equal(rk_errcode_name(RK_ERRC_BAD_MESSAGE), "bad_message");
	assert_string_equal(rk_errcode_name(RK_ERRC_UNKNOWN_TYPE), "unknown_type");
	assert_string_equal(rk_errcode_name(RK_ERRC_NONE), "?");
	assert_string_equal(rk_errcode_name((rk_errcode)99), "?");
	for (int c = RK_ERRC_BAD_JSON; c < RK_ERRC_COUNT; c++)
		assert_int_equal(rk_errcode_parse(rk_errcode_name((rk_errcode)c)), c);
	assert_int_equal(rk_errcode_parse("bad-json"), RK_ERRC_NONE);
	assert_int_equal(rk_errcode_parse(NULL), RK_ERRC_NONE);
}

/* ---- client messages: round trips ------------------------------------------------ */

struct rt_case {
	const char *in;
	const char *want; /* NULL: same as in */
};

static const struct rt_case c_rt_cases[] = {
    {"{\"t\":\"op\",\"id\":\"c1\",\"op\":{\"k\":\"shape.add\",\"shape\":{\"id\":\"a\","
     "\"type\":\"stroke\",\"color\":1,\"points\":[[0,0],[1,1]]}}}",
     NULL},
    {"{\"t\":\"op\",\"id\":\"c2\",\"op\":{\"k\":\"shape.update\",\"id\":\"a\","
     "\"set\":{\"color\":2,\"points\":[[5,5]],\"text\":\"t\"}}}",
     NULL},
    {"{\"t\":\"op\",\"id\":\"c3\",\"op\":{\"k\":\"shape.delete\",\"id\":\"a\"}}", NULL},
    {"{\"t\":\"op\",\"id\":\"c4\",\"op\":{\"k\":\"board.clear\"}}", NULL},
    {"{\"t\":\"op\",\"id\":\"c5\",\"op\":{\"k\":\"poll.create\",\"poll\":{\"id\":\"p\","
     "\"question\":\"q\",\"options\":[\"a\",\"b\"],\"closes_at\":123}}}",
     NULL},
    {"{\"t\":\"op\",\"id\":\"c6\",\"op\":{\"k\":\"poll.vote\",\"poll\":\"p\","
     "\"choice\":1}}",
     NULL},
    {"{\"t\":\"op\",\"id\":\"c7\",\"op\":{\"k\":\"poll.close\",\"poll\":\"p\"}}", NULL},
    {"{\"t\":\"op\",\"id\":\"c8\",\"op\":{\"k\":\"chat.post\",\"text\":\"hi\"}}", NULL},
    /* key order, whitespace and unknown fields are normalised */
    {" {\"op\" : {\"text\":\"hi\",\"k\":\"chat.post\"}, \"x\":[{}], \"id\":\"c9\","
     " \"t\":\"op\"} ",
     "{\"t\":\"op\",\"id\":\"c9\",\"op\":{\"k\":\"chat.post\",\"text\":\"hi\"}}"},
    {"{\"t\":\"cursor\",\"x\":-5,\"y\":9007199254740991}", NULL},
    {"{\"y\":-0,\"x\":1e3,\"t\":\"cursor\",\"z\":1}",
     "{\"t\":\"cursor\",\"x\":1000,\"y\":0}"},
    {"{\"t\":\"signal\",\"data\":{\"a\":[1,\"two\",true,null],\"b\":{}}}", NULL},
    {"{\"t\":\"signal\",\"data\": [ 1 , 2 ]}", "{\"t\":\"signal\",\"data\":[1,2]}"},
    {"{\"t\":\"signal\",\"data\":\"just a string \\u00e9\"}",
     "{\"t\":\"signal\",\"data\":\"just a string \xc3\xa9\"}"},
    {"{\"t\":\"signal\",\"data\":null}", NULL},
    {"{\"t\":\"signal\",\"data\":42}", NULL},
    {"{\"t\":\"ping\",\"id\":\"p-1\"}", NULL},
    {"{\"t\":\"ping\"}", NULL},
};

static void test_client_roundtrips(void **state)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(c_rt_cases); i++)
		c_roundtrip(c_rt_cases[i].in,
			    c_rt_cases[i].want ? c_rt_cases[i].want : c_rt_cases[i].in);
}

/* Decoded client fields land where proto.h says. */
static void test_client_fields(void **state)
{
	rk_cmsg m;
	rk_reject rej = RK_REJ_FORBIDDEN;
	assert_int_equal(cdec("{\"t\":\"op\",\"id\":\"x1\",\"op\":{\"k\":\"poll.vote\","
			      "\"poll\":\"p\",\"choice\":3}}",
			      &m, &rej, NULL, 0),
			 RK_OK);
	assert_int_equal(rej, RK_REJ_NONE);
	assert_int_equal(m.t, RK_C_OP);
	assert_string_equal(m.id, "x1");
	assert_int_equal(m.op.k, RK_OP_POLL_VOTE);
	assert_int_equal(m.op.choice, 3);
	rk_cmsg_free(&m);
	assert_true(cmsg_is_zero(&m));

	assert_int_equal(
	    cdec("{\"t\":\"cursor\",\"x\":-9007199254740991,\"y\":7}", &m, NULL, NULL, 0),
	    RK_OK);
	assert_int_equal(m.t, RK_C_CURSOR);
	assert_true(m.x == -RK_INT_MAX);
	assert_int_equal(m.y, 7);
	rk_cmsg_free(&m);
}

/* ping ids: any scalar, kept as compact JSON; absent is NULL. */
static void test_ping_ids(void **state)
{
	static const struct {
		const char *in;
		const char *want; /* NULL: absent */
	} cases[] = {
	    {"{\"t\":\"ping\",\"id\":\"abc\"}", "\"abc\""},
	    {"{\"t\":\"ping\",\"id\":17}", "17"},
	    {"{\"t\":\"ping\",\"id\":1.5}", "1.5"},
	    {"{\"t\":\"ping\",\"id\":true}", "true"},
	    {"{\"t\":\"ping\",\"id\":false}", "false"},
	    {"{\"t\":\"ping\",\"id\":null}", "null"},
	    {"{\"t\":\"ping\",\"id\":\"q\\\"\\n\"}", "\"q\\\"\\n\""},
	    {"{\"t\":\"ping\"}", NULL},
	};
	for (size_t i = 0; i < RK_ARRAY_LEN(cases); i++) {
		rk_cmsg m;
		assert_int_equal(cdec(cases[i].in, &m, NULL, NULL, 0), RK_OK);
		assert_int_equal(m.t, RK_C_PING);
		if (cases[i].want)
			assert_string_equal(m.ping_id, cases[i].want);
		else
			assert_null(m.ping_id);
		/* the pong carries it verbatim */
		rk_buf b;
		rk_buf_init(&b, 0);
		rk_enc_pong(&b, m.ping_id, 9);
		char *pong = steal(&b);
		char *want = fmt("{\"t\":\"pong\",\"id\":%s,\"seq\":9}",
				 cases[i].want ? cases[i].want : "null");
		assert_string_equal(pong, want);
		free(pong);
		free(want);
		rk_cmsg_free(&m);
	}
}

/* signal data: at most RK_SIGNAL_MAX bytes once compacted. */
static void test_signal_size(void **state)
{
	rk_cmsg m;
	char msg[RK_MSG_MSG_MAX + 1];
	/* "xxx...": quotes + n chars */
	char *s = rep("x", RK_SIGNAL_MAX - 2);
	char *in = fmt("{\"t\":\"signal\",\"data\":\"%s\"}", s);
	assert_int_equal(cdec(in, &m, NULL, msg, sizeof(msg)), RK_OK);
	assert_int_equal(m.data_len, RK_SIGNAL_MAX);
	assert_int_equal(strlen(m.data), RK_SIGNAL_MAX);
	rk_cmsg_free(&m);
	free(in);
	free(s);

	s = rep("x", RK_SIGNAL_MAX - 1);
	in = fmt("{\"t\":\"signal\",\"data\":\"%s\"}", s);
	assert_int_equal(cdec(in, &m, NULL, msg, sizeof(msg)), RK_EBADMSG);
	assert_memory_equal(msg, "data:", 5);
	assert_true(cmsg_is_zero(&m));
	free(in);
	free(s);

	/* whitespace does not count: the compact encoding is measured */
	s = rep("1,     ", 1000);
	in = fmt("{\"t\":\"signal\",\"data\":[%s1]}", s);
	assert_true(strlen(in) > RK_SIGNAL_MAX);
	assert_int_equal(cdec(in, &m, NULL, msg, sizeof(msg)), RK_OK);
	assert_int_equal(m.data_len, 2003);
	rk_cmsg_free(&m);
	free(in);
	free(s);
}

/* ---- client messages: classification ----------------------------------------- */

struct c_case {
	const char *in;
	rk_err err;
	rk_reject rej;	   /* for RK_EREJECT */
	const char *field; /* msg starts with "<field>:" (NULL: not checked) */
};

#define COP(op) "{\"t\":\"op\",\"id\":\"c1\",\"op\":" op "}"

static const struct c_case c_cases[] = {
    /* not JSON */
    {"", RK_EBADJSON, 0, NULL},
    {"{", RK_EBADJSON, 0, NULL},
    {"{\"t\":\"ping\"", RK_EBADJSON, 0, NULL},
    {"{\"t\":\"ping\"}}", RK_EBADJSON, 0, NULL},
    {"{t:\"ping\"}", RK_EBADJSON, 0, NULL},
    {"{\"t\":\"ping\",}", RK_EBADJSON, 0, NULL},
    {"{\"t\":'ping'}", RK_EBADJSON, 0, NULL},
    {"{\"t\":\"ping\",\"id\":\"\xff\"}", RK_EBADJSON, 0, NULL},
    {"{\"t\":\"ping\",\"id\":NaN}", RK_EBADJSON, 0, NULL},
    /* JSON, not a message */
    {"[]", RK_EBADMSG, 0, "message"},
    {"\"ping\"", RK_EBADMSG, 0, "message"},
    {"null", RK_EBADMSG, 0, "message"},
    {"42", RK_EBADMSG, 0, "message"},
    {"{}", RK_EBADMSG, 0, "t"},
    {"{\"type\":\"ping\"}", RK_EBADMSG, 0, "t"},
    {"{\"t\":1}", RK_EBADMSG, 0, "t"},
    {"{\"t\":null}", RK_EBADMSG, 0, "t"},
    {"{\"t\":[\"ping\"]}", RK_EBADMSG, 0, "t"},
    /* unknown type */
    {"{\"t\":\"hello\"}", RK_EUNKNOWN, 0, "t"},
    {"{\"t\":\"\"}", RK_EUNKNOWN, 0, "t"},
    {"{\"t\":\"Ping\"}", RK_EUNKNOWN, 0, "t"},
    {"{\"t\":\"welcome\"}", RK_EUNKNOWN, 0, "t"},
    /* op: the id decides between error and reject */
    {"{\"t\":\"op\",\"op\":{\"k\":\"board.clear\"}}", RK_EBADMSG, 0, "id"},
    {"{\"t\":\"op\",\"id\":\"\",\"op\":{\"k\":\"board.clear\"}}", RK_EBADMSG, 0, "id"},
    {"{\"t\":\"op\",\"id\":7,\"op\":{\"k\":\"board.clear\"}}", RK_EBADMSG, 0, "id"},
    {"{\"t\":\"op\",\"id\":null,\"op\":{\"k\":\"board.clear\"}}", RK_EBADMSG, 0, "id"},
    {"{\"t\":\"op\",\"id\":\"01234567890123456789012345678901234567890123456789"
     "012345678901234\",\"op\":{\"k\":\"board.clear\"}}",
     RK_EBADMSG, 0, "id"},
    {"{\"t\":\"op\",\"id\":\"c1\"}", RK_EREJECT, RK_REJ_INVALID, "op"},
    {COP("[]"), RK_EREJECT, RK_REJ_INVALID, "op"},
    {COP("\"board.clear\""), RK_EREJECT, RK_REJ_INVALID, "op"},
    {COP("{}"), RK_EREJECT, RK_REJ_INVALID, "k"},
    {COP("{\"k\":\"shape.rotate\"}"), RK_EREJECT, RK_REJ_INVALID, "k"},
    {COP("{\"k\":\"chat.post\",\"text\":\"\"}"), RK_EREJECT, RK_REJ_INVALID, "text"},
    {COP("{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1.5}"), RK_EREJECT,
     RK_REJ_INVALID, "choice"},
    {COP("{\"k\":\"shape.add\",\"shape\":{\"id\":\"a\",\"type\":\"stroke\","
	 "\"color\":8,\"points\":[[0,0]]}}"),
     RK_EREJECT, RK_REJ_INVALID, "shape.color"},
    {COP("{\"k\":\"poll.create\",\"poll\":{\"id\":\"p\",\"question\":\"q\","
	 "\"options\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\","
	 "\"11\"]}}"),
     RK_EREJECT, RK_REJ_TOO_LARGE, "poll.options"},
    /* cursor */
    {"{\"t\":\"cursor\",\"y\":1}", RK_EBADMSG, 0, "x"},
    {"{\"t\":\"cursor\",\"x\":1}", RK_EBADMSG, 0, "y"},
    {"{\"t\":\"cursor\",\"x\":1.5,\"y\":1}", RK_EBADMSG, 0, "x"},
    {"{\"t\":\"cursor\",\"x\":1e400,\"y\":1}", RK_EBADMSG, 0, "x"},
    {"{\"t\":\"cursor\",\"x\":-1e400,\"y\":1}", RK_EBADMSG, 0, "x"},
    {"{\"t\":\"cursor\",\"x\":1,\"y\":9007199254740993}", RK_EBADMSG, 0, "y"},
    {"{\"t\":\"cursor\",\"x\":1,\"y\":9007199254740992}", RK_EBADMSG, 0, "y"},
    {"{\"t\":\"cursor\",\"x\":\"1\",\"y\":1}", RK_EBADMSG, 0, "x"},
    {"{\"t\":\"cursor\",\"x\":null,\"y\":1}", RK_EBADMSG, 0, "x"},
    {"{\"t\":\"cursor\",\"x\":[1],\"y\":1}", RK_EBADMSG, 0, "x"},
    /* signal */
    {"{\"t\":\"signal\"}", RK_EBADMSG, 0, "data"},
    /* ping */
    {"{\"t\":\"ping\",\"id\":{}}", RK_EBADMSG, 0, "id"},
    {"{\"t\":\"ping\",\"id\":[1]}", RK_EBADMSG, 0, "id"},
    {"{\"t\":\"ping\",\"id\":\"01234567890123456789012345678901234567890123456789"
     "012345678901234\"}",
     RK_EBADMSG, 0, "id"},
};

static void test_client_classification(void **state)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(c_cases); i++) {
		const struct c_case *c = &c_cases[i];
		rk_cmsg m;
		rk_reject rej = RK_REJ_ROOM_FULL; /* must be overwritten */
		char msg[RK_MSG_MSG_MAX + 1] = "";
		rk_err err = cdec(c->in, &m, &rej, msg, sizeof(msg));
		if (err != c->err)
			fail_msg("%s: got %s (%s), want %s", c->in, rk_strerror(err), msg,
				 rk_strerror(c->err));
		if (msg[0] == '\0')
			fail_msg("%s: no message", c->in);
		if (c->field && (strncmp(msg, c->field, strlen(c->field)) != 0 ||
				 msg[strlen(c->field)] != ':'))
			fail_msg("%s: msg \"%s\" does not name %s", c->in, msg, c->field);
		if (err == RK_EREJECT) {
			if (rej != c->rej)
				fail_msg("%s: reject %s, want %s", c->in,
					 rk_reject_name(rej), rk_reject_name(c->rej));
			/* enough to send the reject: t and id, nothing owned */
			assert_int_equal(m.t, RK_C_OP);
			assert_string_equal(m.id, "c1");
			assert_null(m.op.id);
			assert_null(m.op.points);
			assert_null(m.op.options);
			assert_null(m.data);
			assert_null(m.ping_id);
		} else {
			assert_int_equal(rej, RK_REJ_NONE);
			assert_true(cmsg_is_zero(&m));
		}
		rk_cmsg_free(&m);
	}
}

/* The id is exactly 64 bytes at most; 64 is fine. */
static void test_client_id_limit(void **state)
{
	char *id = rep("i", RK_ID_MAX);
	char *in = fmt("{\"t\":\"op\",\"id\":\"%s\",\"op\":{\"k\":\"board.clear\"}}", id);
	c_roundtrip(in, in);
	free(in);
	in = fmt("{\"t\":\"ping\",\"id\":\"%s\"}", id);
	c_roundtrip(in, in);
	free(in);
	free(id);
}

/* ---- client messages: hostile input --------------------------------------------- */

/* The POST /v1/rooms/<room>/ops body decodes like an op frame without `t`:
 * same op, same reject for a bad op, same errors for a bad id or bad JSON. */
static void test_op_body(void **state)
{
	(void)state;
	rk_cmsg m, f;
	rk_reject rej;
	char msg[256];
	const char *body = "{\"id\":\"b1\",\"op\":{\"k\":\"chat.post\",\"text\":\"hi\"}}";
	assert_int_equal(rk_cmsg_decode_op_body(body, strlen(body), MAXLEN, &m, &rej, msg,
						sizeof(msg)),
			 RK_OK);
	assert_int_equal(cdec("{\"t\":\"op\",\"id\":\"b1\",\"op\":{\"k\":\"chat.post\","
			      "\"text\":\"hi\"}}",
			      &f, &rej, msg, sizeof(msg)),
			 RK_OK);
	assert_int_equal(m.t, RK_C_OP);
	assert_string_equal(m.id, "b1");
	assert_int_equal(m.op.k, f.op.k);
	assert_string_equal(m.op.text, f.op.text);
	rk_cmsg_free(&m);
	rk_cmsg_free(&f);
	/* a `t` is ignored, whatever it says */
	body = "{\"t\":\"ping\",\"id\":\"b2\",\"op\":{\"k\":\"board.clear\"}}";
	assert_int_equal(rk_cmsg_decode_op_body(body, strlen(body), MAXLEN, &m, &rej, msg,
						sizeof(msg)),
			 RK_OK);
	assert_int_equal(m.op.k, RK_OP_BOARD_CLEAR);
	rk_cmsg_free(&m);
	body = "{\"id\":\"b3\",\"op\":{\"k\":\"chat.post\",\"text\":\"\"}}";
	assert_int_equal(rk_cmsg_decode_op_body(body, strlen(body), MAXLEN, &m, &rej, msg,
						sizeof(msg)),
			 RK_EREJECT);
	assert_int_equal(rej, RK_REJ_INVALID);
	assert_string_equal(m.id, "b3");
	rk_cmsg_free(&m);
	body = "{\"op\":{\"k\":\"board.clear\"}}";
	assert_int_equal(rk_cmsg_decode_op_body(body, strlen(body), MAXLEN, &m, &rej, msg,
						sizeof(msg)),
			 RK_EBADMSG);
	assert_non_null(strstr(msg, "id"));
	body = "{\"id\":\"b4\",";
	assert_int_equal(rk_cmsg_decode_op_body(body, strlen(body), MAXLEN, &m, &rej, msg,
						sizeof(msg)),
			 RK_EBADJSON);
	body = "[1]";
	assert_int_equal(rk_cmsg_decode_op_body(body, strlen(body), MAXLEN, &m, &rej, msg,
						sizeof(msg)),
			 RK_EBADMSG);
	body = "{\"id\":\"b5\",\"op\":{\"k\":\"chat.post\",\"text\":\"x\"}}";
	assert_int_equal(
	    rk_cmsg_decode_op_body(body, strlen(body), 10, &m, &rej, msg, sizeof(msg)),
	    RK_EBADJSON);
}

static void test_client_prefixes(void **state)
{
	const char *full = "{\"t\":\"op\",\"id\":\"c1\",\"op\":{\"k\":\"shape.add\","
			   "\"shape\":{\"id\":\"a\",\"type\":\"text\",\"color\":3,"
			   "\"points\":[[-1,2]],\"text\":\"h\xc3\xa9\\u00e9\"}}}";
	size_t n = strlen(full);
	for (size_t i = 0; i < n; i++) {
		char *p = malloc(i ? i : 1); /* exact size: ASan catches over-reads */
		assert_non_null(p);
		memcpy(p, full, i);
		rk_cmsg m;
		rk_reject rej;
		char msg[RK_MSG_MSG_MAX + 1] = "";
		rk_err err = rk_cmsg_decode(p, i, MAXLEN, &m, &rej, msg, sizeof(msg));
		free(p);
		if (err != RK_EBADJSON)
			fail_msg("prefix %zu: %s", i, rk_strerror(err));
		assert_true(msg[0] != '\0');
		assert_true(cmsg_is_zero(&m));
	}
	rk_cmsg m;
	assert_int_equal(rk_cmsg_decode(full, n, MAXLEN, &m, NULL, NULL, 0), RK_OK);
	rk_cmsg_free(&m);
}

static void test_client_limits(void **state)
{
	const char *ping = "{\"t\":\"ping\",\"id\":1}";
	size_t n = strlen(ping);
	rk_cmsg m;
	char msg[RK_MSG_MSG_MAX + 1];
	/* max_len is inclusive */
	assert_int_equal(rk_cmsg_decode(ping, n, n, &m, NULL, msg, sizeof(msg)), RK_OK);
	rk_cmsg_free(&m);
	assert_int_equal(rk_cmsg_decode(ping, n, n - 1, &m, NULL, msg, sizeof(msg)),
			 RK_EBADJSON);
	assert_non_null(strstr(msg, "exceeds"));

	/* huge: 1 MiB against the 64 KiB cap */
	char *pad = rep(" ", 1 << 20);
	char *in = fmt("{\"t\":\"ping\"%s}", pad);
	assert_int_equal(cdec(in, &m, NULL, msg, sizeof(msg)), RK_EBADJSON);
	free(in);
	free(pad);

	/* deep */
	char *deep = rep("[", 10000);
	assert_int_equal(cdec(deep, &m, NULL, msg, sizeof(msg)), RK_EBADJSON);
	assert_non_null(strstr(msg, "deeper"));
	free(deep);
	deep = rep("{\"a\":", 5000);
	in = fmt("{\"t\":\"signal\",\"data\":%s}", deep);
	assert_int_equal(cdec(in, &m, NULL, msg, sizeof(msg)), RK_EBADJSON);
	free(in);
	free(deep);

	/* NUL inside and after */
	static const char nul1[] = "{\"t\":\"ping\",\"id\":\"a\0b\"}";
	assert_int_equal(
	    rk_cmsg_decode(nul1, sizeof(nul1) - 1, MAXLEN, &m, NULL, msg, sizeof(msg)),
	    RK_EBADJSON);
	assert_non_null(strstr(msg, "NUL"));
	static const char nul2[] = "{\"t\":\"ping\"}\0";
	assert_int_equal(
	    rk_cmsg_decode(nul2, sizeof(nul2) - 1, MAXLEN, &m, NULL, msg, sizeof(msg)),
	    RK_EBADJSON);

	/* bad UTF-8 of several kinds */
	static const char *const bad[] = {
	    "{\"t\":\"ping\",\"id\":\"\x80\"}",
	    "{\"t\":\"ping\",\"id\":\"\xc3\"}",
	    "{\"t\":\"ping\",\"id\":\"\xe0\x80\xaf\"}",
	    "{\"t\":\"ping\",\"id\":\"\xed\xbf\xbf\"}",
	    "{\"t\":\"ping\",\"id\":\"\xf8\x88\x80\x80\x80\"}",
	    "{\"t\":\"p\xffng\"}",
	};
	for (size_t i = 0; i < RK_ARRAY_LEN(bad); i++) {
		assert_int_equal(cdec(bad[i], &m, NULL, msg, sizeof(msg)), RK_EBADJSON);
		assert_non_null(strstr(msg, "UTF-8"));
	}

	/* NULL input, NULL message buffer */
	assert_int_equal(rk_cmsg_decode(NULL, 0, MAXLEN, &m, NULL, NULL, 0), RK_EBADJSON);
	assert_int_equal(cdec("{\"t\":\"x\"}", &m, NULL, NULL, 0), RK_EUNKNOWN);
}

/* ---- server messages: encoders ------------------------------------------------ */

static void test_server_encoders(void **state)
{
	rk_buf b;
	char *s;
	rk_peer p = {.session = "s1", .user = "alice", .color = 3};

	rk_buf_init(&b, 0);
	rk_enc_ack(&b, "c1", 42, false);
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"ack\",\"id\":\"c1\",\"seq\":42}");
	free(s);

	rk_enc_ack(&b, "c1", 7, true);
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"ack\",\"id\":\"c1\",\"seq\":7,\"dup\":true}");
	rk_smsg d;
	char err[128];
	assert_int_equal(rk_smsg_decode(s, strlen(s), false, &d, err, sizeof(err)),
			 RK_OK);
	assert_true(d.dup);
	assert_int_equal(d.seq, 7);
	rk_smsg_free(&d);
	free(s);
	const char *bad_dup = "{\"t\":\"ack\",\"id\":\"c1\",\"seq\":7,\"dup\":1}";
	assert_int_equal(
	    rk_smsg_decode(bad_dup, strlen(bad_dup), false, &d, err, sizeof(err)),
	    RK_EBADMSG);
	rk_smsg_free(&d);

	rk_enc_reject(&b, "c2", RK_REJ_NOT_FOUND, "id: no such shape");
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"reject\",\"id\":\"c2\",\"code\":\"not_found\","
			       "\"msg\":\"id: no such shape\"}");
	free(s);

	rk_enc_presence_join(&b, &p);
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"presence\",\"join\":{\"session\":\"s1\","
			       "\"user\":\"alice\",\"color\":3}}");
	free(s);

	rk_enc_presence_leave(&b, "s1");
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"presence\",\"leave\":\"s1\"}");
	free(s);

	rk_enc_cursor(&b, "s1", -4, 5);
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"cursor\",\"session\":\"s1\",\"x\":-4,\"y\":5}");
	free(s);

	rk_enc_signal(&b, "s1", "alice", "{\"a\":1}", 7);
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"signal\",\"session\":\"s1\",\"user\":\"alice\","
			       "\"data\":{\"a\":1}}");
	free(s);

	rk_enc_pong(&b, "\"p\"", 7);
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"pong\",\"id\":\"p\",\"seq\":7}");
	free(s);

	rk_enc_pong(&b, NULL, 0);
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"pong\",\"id\":null,\"seq\":0}");
	free(s);

	rk_enc_error(&b, RK_ERRC_UNKNOWN_TYPE, "t: unknown message type");
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"error\",\"code\":\"unknown_type\","
			       "\"msg\":\"t: unknown message type\"}");
	free(s);

	const char *op =
	    "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1,\"tally\":[3,1]}";
	rk_enc_event(&b, 12, 1700000000000, "s1", "alice", "c3", op, strlen(op));
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"event\",\"seq\":12,\"ts\":1700000000000,"
			       "\"session\":\"s1\",\"user\":\"alice\",\"id\":\"c3\","
			       "\"op\":{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1,"
			       "\"tally\":[3,1]}}");
	free(s);

	rk_peer peers[] = {p, {.session = "s2", .user = "bob", .color = 0}};
	rk_welcome w = {.room = "r1",
			.session = "s9",
			.user = "carol",
			.role = RK_ROLE_OWNER,
			.seq = 77,
			.epoch = "e1",
			.resumed = true,
			.peers = peers,
			.npeers = 2,
			.max_frame = 262144,
			.ops_per_sec = 50};
	rk_enc_welcome(&b, &w, NULL);
	s = steal(&b);
	assert_string_equal(
	    s, "{\"t\":\"welcome\",\"v\":1,\"room\":\"r1\",\"session\":\"s9\","
	       "\"user\":\"carol\",\"role\":\"owner\",\"seq\":77,"
	       "\"epoch\":\"e1\",\"resumed\":true,\"peers\":["
	       "{\"session\":\"s1\",\"user\":\"alice\",\"color\":3},"
	       "{\"session\":\"s2\",\"user\":\"bob\",\"color\":0}],"
	       "\"limits\":{\"max_frame\":262144,\"ops_per_sec\":50}}");
	free(s);

	/* not resumed and no state at hand: the empty snapshot */
	w.resumed = false;
	w.npeers = 0;
	w.role = RK_ROLE_VIEWER;
	rk_enc_welcome(&b, &w, NULL);
	s = steal(&b);
	assert_string_equal(
	    s, "{\"t\":\"welcome\",\"v\":1,\"room\":\"r1\",\"session\":\"s9\","
	       "\"user\":\"carol\",\"role\":\"viewer\",\"seq\":77,"
	       "\"epoch\":\"e1\",\"resumed\":false,\"state\":{\"shapes\":{},"
	       "\"polls\":{},\"chat\":[]},\"peers\":[],"
	       "\"limits\":{\"max_frame\":262144,\"ops_per_sec\":50}}");
	free(s);
	rk_buf_free(&b);
}

/* A reject/error msg is cut to RK_MSG_MSG_MAX bytes without splitting UTF-8,
 * and strings with quotes and control characters are escaped. */
static void test_server_msg_truncation(void **state)
{
	char *long_msg = rep("\xe2\x82\xac", 100); /* 300 bytes of euro signs */
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_enc_reject(&b, "c1", RK_REJ_INVALID, long_msg);
	char *s = steal(&b);
	assert_true(rk_utf8_valid(s, strlen(s)));
	rk_smsg m;
	assert_int_equal(sdec(s, &m, NULL, 0), RK_OK);
	assert_int_equal(strlen(m.msg), 159); /* 53 whole chars of 3 bytes */
	assert_memory_equal(m.msg, long_msg, 159);
	rk_smsg_free(&m);
	free(s);

	rk_enc_error(&b, RK_ERRC_BAD_JSON, "a \"quoted\"\n\x01 msg");
	s = steal(&b);
	assert_string_equal(s, "{\"t\":\"error\",\"code\":\"bad_json\","
			       "\"msg\":\"a \\\"quoted\\\"\\n\\u0001 msg\"}");
	assert_int_equal(sdec(s, &m, NULL, 0), RK_OK);
	assert_string_equal(m.msg, "a \"quoted\"\n\x01 msg");
	rk_smsg_free(&m);
	free(s);

	/* the decoder, too, cuts a long incoming msg on a boundary */
	char *in =
	    fmt("{\"t\":\"error\",\"code\":\"bad_json\",\"msg\":\"%s\"}", long_msg);
	assert_int_equal(sdec(in, &m, NULL, 0), RK_OK);
	assert_int_equal(strlen(m.msg), 159);
	rk_smsg_free(&m);
	free(in);
	free(long_msg);
}

/* ---- server messages: round trips and fields -----------------------------------------
 */

static const struct rt_case s_rt_cases[] = {
    {"{\"t\":\"welcome\",\"v\":1,\"room\":\"r1\",\"session\":\"s9\",\"user\":\"carol\","
     "\"role\":\"editor\",\"seq\":0,\"epoch\":\"e1\",\"resumed\":true,\"peers\":[],"
     "\"limits\":{\"max_frame\":1,\"ops_per_sec\":2}}",
     NULL},
    {"{\"t\":\"welcome\",\"v\":1,\"room\":\"r1\",\"session\":\"s9\",\"user\":\"carol\","
     "\"role\":\"owner\",\"seq\":5,\"epoch\":\"e1\",\"resumed\":true,\"peers\":["
     "{\"session\":\"s1\",\"user\":\"\xc3\xa9ve\",\"color\":7}],"
     "\"limits\":{\"max_frame\":65536,\"ops_per_sec\":50,\"future\":1}}",
     "{\"t\":\"welcome\",\"v\":1,\"room\":\"r1\",\"session\":\"s9\",\"user\":\"carol\","
     "\"role\":\"owner\",\"seq\":5,\"epoch\":\"e1\",\"resumed\":true,\"peers\":["
     "{\"session\":\"s1\",\"user\":\"\xc3\xa9ve\",\"color\":7}],"
     "\"limits\":{\"max_frame\":65536,\"ops_per_sec\":50}}"},
    /* event of every op kind; tally is dropped by the op decoder */
    {"{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\",\"id\":\"i\","
     "\"op\":{\"k\":\"shape.add\",\"shape\":{\"id\":\"a\",\"type\":\"rect\",\"color\":1,"
     "\"points\":[[0,0],[2,2]]}}}",
     NULL},
    {"{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\",\"id\":\"i\","
     "\"op\":{\"k\":\"shape.update\",\"id\":\"a\",\"set\":{\"text\":\"x\"}}}",
     NULL},
    {"{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\",\"id\":\"i\","
     "\"op\":{\"k\":\"shape.delete\",\"id\":\"a\"}}",
     NULL},
    {"{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\",\"id\":\"i\","
     "\"op\":{\"k\":\"board.clear\"}}",
     NULL},
    {"{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\",\"id\":\"i\","
     "\"op\":{\"k\":\"poll.create\",\"poll\":{\"id\":\"p\",\"question\":\"q\","
     "\"options\":[\"a\",\"b\"]}}}",
     NULL},
    {"{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\",\"id\":\"i\","
     "\"op\":{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1,\"tally\":[0,1]}}",
     "{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\",\"id\":\"i\","
     "\"op\":{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1}}"},
    {"{\"t\":\"event\",\"seq\":9007199254740991,\"ts\":0,\"session\":\"server\","
     "\"user\":\"roomd\",\"id\":\"\",\"op\":{\"k\":\"poll.close\",\"poll\":\"p\"}}",
     NULL},
    {"{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\",\"id\":\"i\","
     "\"op\":{\"k\":\"chat.post\",\"text\":\"hello\"}}",
     NULL},
    {"{\"t\":\"ack\",\"id\":\"c1\",\"seq\":3}", NULL},
    {"{\"seq\":3.0,\"id\":\"c1\",\"t\":\"ack\"}",
     "{\"t\":\"ack\",\"id\":\"c1\",\"seq\":3}"},
    {"{\"t\":\"reject\",\"id\":\"c1\",\"code\":\"forbidden\",\"msg\":\"viewer\"}", NULL},
    {"{\"t\":\"reject\",\"id\":\"c1\",\"code\":\"room_full\",\"msg\":\"\"}", NULL},
    {"{\"t\":\"presence\",\"join\":{\"session\":\"s1\",\"user\":\"a\",\"color\":0}}",
     NULL},
    {"{\"t\":\"presence\",\"leave\":\"s1\"}", NULL},
    {"{\"t\":\"cursor\",\"session\":\"s1\",\"x\":-9007199254740991,\"y\":0}", NULL},
    {"{\"t\":\"signal\",\"session\":\"s1\",\"user\":\"a\",\"data\":{\"k\":[1,{}]}}",
     NULL},
    {"{\"t\":\"pong\",\"id\":\"x\",\"seq\":4}", NULL},
    {"{\"t\":\"pong\",\"id\":12,\"seq\":4}", NULL},
    {"{\"t\":\"pong\",\"id\":null,\"seq\":4}", NULL},
    {"{\"t\":\"pong\",\"seq\":4}", "{\"t\":\"pong\",\"id\":null,\"seq\":4}"},
    {"{\"t\":\"error\",\"code\":\"bad_message\",\"msg\":\"x: missing\"}", NULL},
};

static void test_server_roundtrips(void **state)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(s_rt_cases); i++)
		s_roundtrip(s_rt_cases[i].in,
			    s_rt_cases[i].want ? s_rt_cases[i].want : s_rt_cases[i].in);
	/* every server type is covered */
	bool seen[RK_S_ERROR + 1] = {false};
	for (size_t i = 0; i < RK_ARRAY_LEN(s_rt_cases); i++) {
		rk_smsg m;
		assert_int_equal(sdec(s_rt_cases[i].in, &m, NULL, 0), RK_OK);
		seen[m.t] = true;
		rk_smsg_free(&m);
	}
	for (int t = RK_S_WELCOME; t <= RK_S_ERROR; t++)
		assert_true(seen[t]);
}

static void test_server_fields(void **state)
{
	rk_smsg m;
	assert_int_equal(
	    sdec("{\"t\":\"welcome\",\"v\":1,\"room\":\"r1\",\"session\":\"s9\","
		 "\"user\":\"carol\",\"role\":\"viewer\",\"seq\":5,"
		 "\"epoch\":\"e1\",\"resumed\":false,\"state\":{\"junk\":1},"
		 "\"peers\":[{\"session\":\"s1\",\"user\":\"a\",\"color\":2}],"
		 "\"limits\":{\"max_frame\":100,\"ops_per_sec\":3}}",
		 &m, NULL, 0),
	    RK_OK);
	assert_int_equal(m.t, RK_S_WELCOME);
	assert_string_equal(m.welcome.room, "r1");
	assert_string_equal(m.welcome.session, "s9");
	assert_string_equal(m.welcome.user, "carol");
	assert_int_equal(m.welcome.role, RK_ROLE_VIEWER);
	assert_int_equal(m.welcome.seq, 5);
	assert_string_equal(m.welcome.epoch, "e1");
	assert_false(m.welcome.resumed);
	assert_null(m.state); /* want_state false: not decoded */
	assert_int_equal(m.welcome.npeers, 1);
	assert_string_equal(m.welcome.peers[0].session, "s1");
	assert_int_equal(m.welcome.peers[0].color, 2);
	assert_int_equal(m.welcome.max_frame, 100);
	assert_int_equal(m.welcome.ops_per_sec, 3);
	rk_smsg_free(&m);
	assert_true(smsg_is_zero(&m));

	assert_int_equal(sdec("{\"t\":\"event\",\"seq\":8,\"ts\":9,\"session\":\"s\","
			      "\"user\":\"u\",\"id\":\"i\",\"op\":{\"k\":\"chat.post\","
			      "\"text\":\"yo\"}}",
			      &m, NULL, 0),
			 RK_OK);
	assert_int_equal(m.t, RK_S_EVENT);
	assert_int_equal(m.seq, 8);
	assert_int_equal(m.ts, 9);
	assert_string_equal(m.session, "s");
	assert_string_equal(m.user, "u");
	assert_string_equal(m.id, "i");
	assert_int_equal(m.op.k, RK_OP_CHAT_POST);
	assert_string_equal(m.op.text, "yo");
	rk_smsg_free(&m);

	assert_int_equal(sdec("{\"t\":\"reject\",\"id\":\"c\",\"code\":\"too_large\","
			      "\"msg\":\"text: too long\"}",
			      &m, NULL, 0),
			 RK_OK);
	assert_int_equal(m.reject, RK_REJ_TOO_LARGE);
	assert_string_equal(m.msg, "text: too long");
	rk_smsg_free(&m);

	assert_int_equal(sdec("{\"t\":\"presence\",\"join\":{\"session\":\"s1\","
			      "\"user\":\"a\",\"color\":6}}",
			      &m, NULL, 0),
			 RK_OK);
	assert_true(m.join);
	assert_string_equal(m.peer.session, "s1");
	assert_int_equal(m.peer.color, 6);
	rk_smsg_free(&m);

	assert_int_equal(sdec("{\"t\":\"presence\",\"leave\":\"s1\"}", &m, NULL, 0),
			 RK_OK);
	assert_false(m.join);
	assert_string_equal(m.session, "s1");
	rk_smsg_free(&m);

	assert_int_equal(sdec("{\"t\":\"pong\",\"id\":\"abc\",\"seq\":4}", &m, NULL, 0),
			 RK_OK);
	assert_string_equal(m.data, "\"abc\"");
	assert_int_equal(m.data_len, 5);
	assert_int_equal(m.seq, 4);
	rk_smsg_free(&m);

	assert_int_equal(
	    sdec("{\"t\":\"error\",\"code\":\"bad_json\",\"msg\":\"m\"}", &m, NULL, 0),
	    RK_OK);
	assert_int_equal(m.errcode, RK_ERRC_BAD_JSON);
	rk_smsg_free(&m);
}

/* ---- server messages: validation ------------------------------------------------ */

struct s_case {
	const char *in;
	rk_err err;
	const char *field;
};

#define WEL(body)                                                                        \
	"{\"t\":\"welcome\",\"room\":\"r1\",\"session\":\"s9\",\"user\":\"c\","          \
	"\"epoch\":\"e1\",\"seq\":1," body "}"
#define WEL_OK_BUT(rest)                                                                 \
	WEL("\"v\":1,\"role\":\"editor\",\"resumed\":true,\"peers\":[],"                 \
	    "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}" rest)
#define EV(rest)                                                                         \
	"{\"t\":\"event\",\"seq\":1,\"ts\":2,\"session\":\"s\",\"user\":\"u\"," rest "}"

static const struct s_case s_cases[] = {
    {"", RK_EBADJSON, NULL},
    {"{\"t\":\"ack\"", RK_EBADJSON, NULL},
    {"[1]", RK_EBADMSG, "message"},
    {"{}", RK_EBADMSG, "t"},
    {"{\"t\":5}", RK_EBADMSG, "t"},
    {"{\"t\":\"op\"}", RK_EUNKNOWN, "t"},
    {"{\"t\":\"goodbye\"}", RK_EUNKNOWN, "t"},
    /* welcome */
    {WEL("\"role\":\"editor\",\"resumed\":true,\"peers\":[],"
	 "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}"),
     RK_EBADMSG, "v"},
    {WEL("\"v\":2,\"role\":\"editor\",\"resumed\":true,\"peers\":[],"
	 "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}"),
     RK_EBADMSG, "v"},
    {WEL("\"v\":1,\"role\":\"admin\",\"resumed\":true,\"peers\":[],"
	 "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}"),
     RK_EBADMSG, "role"},
    {WEL("\"v\":1,\"role\":\"editor\",\"resumed\":1,\"peers\":[],"
	 "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}"),
     RK_EBADMSG, "resumed"},
    {WEL("\"v\":1,\"role\":\"editor\",\"resumed\":true,\"peers\":{},"
	 "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}"),
     RK_EBADMSG, "peers"},
    {WEL("\"v\":1,\"role\":\"editor\",\"resumed\":true,\"peers\":[1],"
	 "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}"),
     RK_EBADMSG, "peers[]"},
    {WEL("\"v\":1,\"role\":\"editor\",\"resumed\":true,"
	 "\"peers\":[{\"session\":\"s\",\"user\":\"u\",\"color\":8}],"
	 "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}"),
     RK_EBADMSG, "color"},
    {WEL("\"v\":1,\"role\":\"editor\",\"resumed\":true,\"peers\":[]"), RK_EBADMSG,
     "limits"},
    {WEL("\"v\":1,\"role\":\"editor\",\"resumed\":true,\"peers\":[],"
	 "\"limits\":{\"max_frame\":1}"),
     RK_EBADMSG, "ops_per_sec"},
    {WEL("\"v\":1,\"role\":\"editor\",\"resumed\":false,\"peers\":[],"
	 "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}"),
     RK_EBADMSG, "state"},
    {WEL("\"v\":1,\"role\":\"editor\",\"resumed\":false,\"state\":[],\"peers\":[],"
	 "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}"),
     RK_EBADMSG, "state"},
    {"{\"t\":\"welcome\",\"v\":1,\"session\":\"s9\",\"user\":\"c\",\"epoch\":\"e\","
     "\"seq\":1,\"role\":\"editor\",\"resumed\":true,\"peers\":[],"
     "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}}",
     RK_EBADMSG, "room"},
    {"{\"t\":\"welcome\",\"v\":1,\"room\":\"r\",\"session\":\"s9\",\"user\":\"c\","
     "\"epoch\":\"e\",\"seq\":-1,\"role\":\"editor\",\"resumed\":true,\"peers\":[],"
     "\"limits\":{\"max_frame\":1,\"ops_per_sec\":1}}",
     RK_EBADMSG, "seq"},
    /* event */
    {EV("\"id\":\"i\""), RK_EBADMSG, "op"},
    {EV("\"id\":\"i\",\"op\":[]"), RK_EBADMSG, "op"},
    {EV("\"id\":\"i\",\"op\":{\"k\":\"chat.post\"}"), RK_EBADMSG, "op.text"},
    {EV("\"id\":\"i\",\"op\":{\"k\":\"shape.add\",\"shape\":{\"id\":\"a\","
	"\"type\":\"line\",\"color\":1,\"points\":[[0,0]]}}"),
     RK_EBADMSG, "op.shape.points"},
    {EV("\"op\":{\"k\":\"board.clear\"}"), RK_EBADMSG, "id"},
    {"{\"t\":\"event\",\"seq\":0,\"ts\":2,\"session\":\"s\",\"user\":\"u\",\"id\":\"i\","
     "\"op\":{\"k\":\"board.clear\"}}",
     RK_EBADMSG, "seq"},
    {"{\"t\":\"event\",\"seq\":1,\"ts\":1.5,\"session\":\"s\",\"user\":\"u\",\"id\":"
     "\"i\","
     "\"op\":{\"k\":\"board.clear\"}}",
     RK_EBADMSG, "ts"},
    {"{\"t\":\"event\",\"seq\":1e400,\"ts\":1,\"session\":\"s\",\"user\":\"u\","
     "\"id\":\"i\",\"op\":{\"k\":\"board.clear\"}}",
     RK_EBADMSG, "seq"},
    {"{\"t\":\"event\",\"seq\":1,\"ts\":1,\"session\":\"\",\"user\":\"u\",\"id\":\"i\","
     "\"op\":{\"k\":\"board.clear\"}}",
     RK_EBADMSG, "session"},
    /* others */
    {"{\"t\":\"ack\",\"seq\":1}", RK_EBADMSG, "id"},
    {"{\"t\":\"ack\",\"id\":\"c\"}", RK_EBADMSG, "seq"},
    {"{\"t\":\"ack\",\"id\":\"c\",\"seq\":9007199254740993}", RK_EBADMSG, "seq"},
    {"{\"t\":\"reject\",\"id\":\"c\",\"code\":\"nope\",\"msg\":\"\"}", RK_EBADMSG,
     "code"},
    {"{\"t\":\"reject\",\"id\":\"c\",\"code\":\"invalid\"}", RK_EBADMSG, "msg"},
    {"{\"t\":\"reject\",\"code\":\"invalid\",\"msg\":\"m\"}", RK_EBADMSG, "id"},
    {"{\"t\":\"presence\"}", RK_EBADMSG, "presence"},
    {"{\"t\":\"presence\",\"leave\":\"s\",\"join\":{\"session\":\"s\",\"user\":\"u\","
     "\"color\":0}}",
     RK_EBADMSG, "presence"},
    {"{\"t\":\"presence\",\"leave\":3}", RK_EBADMSG, "leave"},
    {"{\"t\":\"presence\",\"join\":{\"session\":\"s\",\"color\":0}}", RK_EBADMSG, "user"},
    {"{\"t\":\"cursor\",\"session\":\"s\",\"x\":0.5,\"y\":0}", RK_EBADMSG, "x"},
    {"{\"t\":\"cursor\",\"x\":0,\"y\":0}", RK_EBADMSG, "session"},
    {"{\"t\":\"signal\",\"session\":\"s\",\"user\":\"u\"}", RK_EBADMSG, "data"},
    {"{\"t\":\"pong\",\"id\":1}", RK_EBADMSG, "seq"},
    {"{\"t\":\"pong\",\"id\":[1],\"seq\":1}", RK_EBADMSG, "id"},
    {"{\"t\":\"error\",\"code\":\"oops\",\"msg\":\"m\"}", RK_EBADMSG, "code"},
    {"{\"t\":\"error\",\"code\":\"bad_json\",\"msg\":1}", RK_EBADMSG, "msg"},
};

static void test_server_validation(void **state)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(s_cases); i++) {
		const struct s_case *c = &s_cases[i];
		rk_smsg m;
		char msg[RK_MSG_MSG_MAX + 1] = "";
		rk_err err = sdec(c->in, &m, msg, sizeof(msg));
		if (err != c->err)
			fail_msg("%s: got %s (%s), want %s", c->in, rk_strerror(err), msg,
				 rk_strerror(c->err));
		if (msg[0] == '\0')
			fail_msg("%s: no message", c->in);
		if (c->field && (strncmp(msg, c->field, strlen(c->field)) != 0 ||
				 msg[strlen(c->field)] != ':'))
			fail_msg("%s: msg \"%s\" does not name %s", c->in, msg, c->field);
		assert_true(smsg_is_zero(&m));
	}
	/* a good welcome for contrast: the table's template is right */
	rk_smsg m;
	assert_int_equal(sdec(WEL_OK_BUT(""), &m, NULL, 0), RK_OK);
	rk_smsg_free(&m);
}

static void test_server_prefixes(void **state)
{
	const char *frames[] = {
	    "{\"t\":\"event\",\"seq\":12,\"ts\":1700000000000,\"session\":\"s1\","
	    "\"user\":\"alice\",\"id\":\"c3\",\"op\":{\"k\":\"poll.vote\",\"poll\":\"p\","
	    "\"choice\":1,\"tally\":[3,1]}}",
	    WEL_OK_BUT(""),
	};
	for (size_t f = 0; f < RK_ARRAY_LEN(frames); f++) {
		size_t n = strlen(frames[f]);
		for (size_t i = 0; i < n; i++) {
			char *p = malloc(i ? i : 1);
			assert_non_null(p);
			memcpy(p, frames[f], i);
			rk_smsg m;
			char msg[RK_MSG_MSG_MAX + 1] = "";
			rk_err err = rk_smsg_decode(p, i, true, &m, msg, sizeof(msg));
			free(p);
			if (err != RK_EBADJSON)
				fail_msg("frame %zu prefix %zu: %s", f, i,
					 rk_strerror(err));
			assert_true(smsg_is_zero(&m));
		}
	}
}

static void test_server_hostile(void **state)
{
	rk_smsg m;
	char msg[RK_MSG_MSG_MAX + 1];
	char *deep = rep("[", 10000);
	assert_int_equal(sdec(deep, &m, msg, sizeof(msg)), RK_EBADJSON);
	free(deep);
	static const char nul[] = "{\"t\":\"ack\",\"id\":\"c\0\",\"seq\":1}";
	assert_int_equal(
	    rk_smsg_decode(nul, sizeof(nul) - 1, false, &m, msg, sizeof(msg)),
	    RK_EBADJSON);
	assert_int_equal(
	    sdec("{\"t\":\"ack\",\"id\":\"\xc0\x80\",\"seq\":1}", &m, msg, sizeof(msg)),
	    RK_EBADJSON);
	assert_int_equal(rk_smsg_decode(NULL, 0, false, &m, NULL, 0), RK_EBADJSON);
	/* -0 and 2.0 are integers; 1.5 and 1e400 are not */
	assert_int_equal(sdec("{\"t\":\"cursor\",\"session\":\"s\",\"x\":-0,\"y\":2.0}",
			      &m, msg, sizeof(msg)),
			 RK_OK);
	assert_int_equal(m.x, 0);
	assert_int_equal(m.y, 2);
	rk_smsg_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_errcode_names),
	    cmocka_unit_test(test_client_roundtrips),
	    cmocka_unit_test(test_op_body),
	    cmocka_unit_test(test_client_fields),
	    cmocka_unit_test(test_ping_ids),
	    cmocka_unit_test(test_signal_size),
	    cmocka_unit_test(test_client_classification),
	    cmocka_unit_test(test_client_id_limit),
	    cmocka_unit_test(test_client_prefixes),
	    cmocka_unit_test(test_client_limits),
	    cmocka_unit_test(test_server_encoders),
	    cmocka_unit_test(test_server_msg_truncation),
	    cmocka_unit_test(test_server_roundtrips),
	    cmocka_unit_test(test_server_fields),
	    cmocka_unit_test(test_server_validation),
	    cmocka_unit_test(test_server_prefixes),
	    cmocka_unit_test(test_server_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
