/*
 * test_op.c - op decode/encode (libcommon/op_codec.c): canonical round trips
 * of every op kind, every static rule of PROTOCOL.md section 3 with its
 * reject code and field name, limits at and past their boundary, integer
 * edge cases, and hostile text fed to rk_op_decode_text.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "roundtrip.h"

#include "buf.h"
#include "json.h"
#include "op.h"

/* ---- helpers ---------------------------------------------------------------- */

static char *encode(const rk_op *op)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_op_encode(op, &b);
	assert_int_equal(rk_buf_ok(&b), RK_OK);
	char *s = rk_buf_steal(&b, NULL);
	assert_non_null(s);
	return s;
}

static rk_reject decode_str(const char *json, rk_op *op, char *msg, size_t msglen)
{
	return rk_op_decode_text(json, strlen(json), op, msg, msglen);
}

static bool op_is_zero(const rk_op *op)
{
	static const rk_op zero;
	return memcmp(op, &zero, sizeof(zero)) == 0;
}

/* s repeated n times, as a new string. */
static char *rep(const char *s, size_t n)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		rk_buf_puts(&b, s);
	rk_buf_putc(&b, '\0'); /* so that n == 0 still gives a string */
	char *r = rk_buf_steal(&b, NULL);
	assert_non_null(r);
	return r;
}

/* n nested empty arrays: "[[...]]". */
static char *nest(size_t n)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		rk_buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++)
		rk_buf_putc(&b, ']');
	char *r = rk_buf_steal(&b, NULL);
	assert_non_null(r);
	return r;
}

/* tmpl with its one "%s" replaced by s, as a new string (not printf: the
 * templates are JSON and are not format-checked). */
static char *fmt(const char *tmpl, const char *s)
{
	const char *at = strstr(tmpl, "%s");
	assert_non_null(at);
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_put(&b, tmpl, (size_t)(at - tmpl));
	rk_buf_puts(&b, s);
	rk_buf_puts(&b, at + 2);
	char *r = rk_buf_steal(&b, NULL);
	assert_non_null(r);
	return r;
}

/* "[[0,0],[1,1],...]" with n points. */
static char *points_json(size_t n)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++)
		rk_buf_printf(&b, "%s[%zu,%lld]", i ? "," : "", i, -(long long)i);
	rk_buf_putc(&b, ']');
	char *s = rk_buf_steal(&b, NULL);
	assert_non_null(s);
	return s;
}

/* Decode must succeed; encoding must equal want; a second round must give the
 * same bytes (canonical form). */
static void expect_roundtrip(const char *in, const char *want)
{
	rk_op op, op2;
	RT_ROUNDTRIP(decode_str, rk_reject_name, encode, rk_op_free, in, want, &op, &op2);
	assert_true(op_is_zero(&op));
}

/* Decode must fail with code and a msg starting with field. */
static void expect_reject(const char *in, rk_reject code, const char *field)
{
	rk_op op;
	char msg[RK_MSG_MSG_MAX + 1] = "";
	memset(&op, 0xa5, sizeof(op)); /* decode must not trust its output */
	rk_reject r = decode_str(in, &op, msg, sizeof(msg));
	if (r != code)
		fail_msg("%s: got %s (%s), want %s", in, rk_reject_name(r), msg,
			 rk_reject_name(code));
	if (strncmp(msg, field, strlen(field)) != 0 || msg[strlen(field)] != ':')
		fail_msg("%s: msg \"%s\" does not name field %s", in, msg, field);
	assert_true(op_is_zero(&op));
}

/* ---- round trips ------------------------------------------------------------- */

struct rt_case {
	const char *in;
	const char *want; /* NULL: same as in */
};

static const struct rt_case rt_cases[] = {
    /* shape.add, every type */
    {"{\"k\":\"shape.add\",\"shape\":{\"id\":\"a\",\"type\":\"stroke\",\"color\":1,"
     "\"points\":[[0,0],[1,1]]}}",
     NULL},
    {"{\"k\":\"shape.add\",\"shape\":{\"id\":\"l\",\"type\":\"line\",\"color\":0,"
     "\"points\":[[-9007199254740991,9007199254740991],[3,-4]]}}",
     NULL},
    {"{\"k\":\"shape.add\",\"shape\":{\"id\":\"r\",\"type\":\"rect\",\"color\":7,"
     "\"points\":[[10,20],[30,40]]}}",
     NULL},
    {"{\"k\":\"shape.add\",\"shape\":{\"id\":\"t\",\"type\":\"text\",\"color\":3,"
     "\"points\":[[5,5]],\"text\":\"hello\"}}",
     NULL},
    /* key order, whitespace, extra fields, -0, 1.0 and 1e1 are normalised */
    {" { \"zz\" : [1, {\"a\":null}], \"shape\" : { \"points\" : [ [ -0 , 1.0 ] ] ,"
     " \"color\" : 1e0, \"extra\": true, \"type\" : \"stroke\", \"id\" : \"s1\" } ,"
     " \"k\" : \"shape.add\" }\n",
     "{\"k\":\"shape.add\",\"shape\":{\"id\":\"s1\",\"type\":\"stroke\",\"color\":1,"
     "\"points\":[[0,1]]}}"},
    /* escapes and non-ASCII: decoded, re-encoded minimally */
    {"{\"k\":\"shape.add\",\"shape\":{\"id\":\"\\u00e9\\/x\",\"type\":\"text\","
     "\"color\":2,\"points\":[[1e1,0]],\"text\":\"q\\\"\\\\\\n\\t\\u0001\\u007f"
     "\\ud83d\\ude00\xc3\xa9\"}}",
     "{\"k\":\"shape.add\",\"shape\":{\"id\":\"\xc3\xa9/x\",\"type\":\"text\","
     "\"color\":2,\"points\":[[10,0]],\"text\":\"q\\\"\\\\\\n\\t\\u0001\\u007f"
     "\xf0\x9f\x98\x80\xc3\xa9\"}}"},
    /* shape.update: each field alone, all together (in canonical order) */
    {"{\"k\":\"shape.update\",\"id\":\"a\",\"set\":{\"color\":2}}", NULL},
    {"{\"k\":\"shape.update\",\"id\":\"a\",\"set\":{\"points\":[[1,2],[3,4],[5,6]]}}",
     NULL},
    {"{\"k\":\"shape.update\",\"id\":\"a\",\"set\":{\"text\":\"new\"}}", NULL},
    {"{\"set\":{\"text\":\"x\",\"points\":[[1,1]],\"color\":0},\"id\":\"a\","
     "\"k\":\"shape.update\"}",
     "{\"k\":\"shape.update\",\"id\":\"a\",\"set\":{\"color\":0,\"points\":[[1,1]],"
     "\"text\":\"x\"}}"},
    {"{\"k\":\"shape.delete\",\"id\":\"a\"}", NULL},
    {"{\"k\":\"board.clear\",\"id\":\"ignored\"}", "{\"k\":\"board.clear\"}"},
    {"{\"k\":\"poll.create\",\"poll\":{\"id\":\"p\",\"question\":\"q?\","
     "\"options\":[\"a\",\"b\"]}}",
     NULL},
    {"{\"k\":\"poll.create\",\"poll\":{\"id\":\"p\",\"question\":\"q?\","
     "\"options\":[\"a\",\"b\",\"c\"],\"closes_at\":1700000000000}}",
     NULL},
    {"{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1}", NULL},
    /* tally in input (an op from the log) is accepted and ignored */
    {"{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":0,\"tally\":[3,1]}",
     "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":0}"},
    {"{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":0,\"tally\":\"junk\"}",
     "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":0}"},
    {"{\"k\":\"poll.close\",\"poll\":\"p\"}", NULL},
    {"{\"k\":\"chat.post\",\"text\":\"hi \xe2\x9c\x93\"}", NULL},
};

static void test_roundtrip_table(void **state)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(rt_cases); i++)
		expect_roundtrip(rt_cases[i].in,
				 rt_cases[i].want ? rt_cases[i].want : rt_cases[i].in);
}

/* Every kind is covered by the table above. */
static void test_roundtrip_covers_every_kind(void **state)
{
	bool seen[RK_OP_KIND_COUNT] = {false};
	for (size_t i = 0; i < RK_ARRAY_LEN(rt_cases); i++) {
		rk_op op;
		assert_int_equal(decode_str(rt_cases[i].in, &op, NULL, 0), RK_REJ_NONE);
		seen[op.k] = true;
		rk_op_free(&op);
	}
	for (int k = RK_OP_SHAPE_ADD; k < RK_OP_KIND_COUNT; k++)
		assert_true(seen[k]);
}

/* Decoded fields land in the documented struct members. */
static void test_decode_fields(void **state)
{
	rk_op op;
	assert_int_equal(decode_str("{\"k\":\"shape.add\",\"shape\":{\"id\":\"t1\","
				    "\"type\":\"text\",\"color\":5,\"points\":[[-3,4]],"
				    "\"text\":\"hey\"}}",
				    &op, NULL, 0),
			 RK_REJ_NONE);
	assert_int_equal(op.k, RK_OP_SHAPE_ADD);
	assert_string_equal(op.id, "t1");
	assert_int_equal(op.type, RK_SHAPE_TEXT);
	assert_int_equal(op.color, 5);
	assert_int_equal(op.npoints, 1);
	assert_int_equal(op.points[0].x, -3);
	assert_int_equal(op.points[0].y, 4);
	assert_string_equal(op.text, "hey");
	rk_op_free(&op);

	assert_int_equal(decode_str("{\"k\":\"shape.update\",\"id\":\"s\",\"set\":"
				    "{\"points\":[[1,2]],\"text\":\"t\"}}",
				    &op, NULL, 0),
			 RK_REJ_NONE);
	assert_int_equal(op.set, RK_SET_POINTS | RK_SET_TEXT);
	assert_string_equal(op.id, "s");
	rk_op_free(&op);

	assert_int_equal(decode_str("{\"k\":\"poll.create\",\"poll\":{\"id\":\"p9\","
				    "\"question\":\"Q\",\"options\":[\"x\",\"y\",\"z\"],"
				    "\"closes_at\":42}}",
				    &op, NULL, 0),
			 RK_REJ_NONE);
	assert_string_equal(op.id, "p9");
	assert_string_equal(op.question, "Q");
	assert_int_equal(op.noptions, 3);
	assert_string_equal(op.options[2], "z");
	assert_int_equal(op.closes_at, 42);
	rk_op_free(&op);

	assert_int_equal(decode_str("{\"k\":\"poll.vote\",\"poll\":\"p9\",\"choice\":2,"
				    "\"tally\":[1,2,3]}",
				    &op, NULL, 0),
			 RK_REJ_NONE);
	assert_string_equal(op.id, "p9");
	assert_int_equal(op.choice, 2);
	assert_null(op.tally);
	rk_op_free(&op);
}

/* Ops built in C (as rk_state_apply leaves them) encode with the fixed key
 * order; tally only when set. */
static void test_encode_from_struct(void **state)
{
	int64_t tally[] = {3, 1};
	rk_op op = {.k = RK_OP_POLL_VOTE, .id = (char *)"p", .choice = 1};
	char *s = encode(&op);
	assert_string_equal(s, "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1}");
	free(s);
	op.tally = tally;
	op.ntally = 2;
	s = encode(&op);
	assert_string_equal(s, "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":1,"
			       "\"tally\":[3,1]}");
	free(s);

	char *opts[] = {(char *)"a", (char *)"b"};
	rk_op pc = {.k = RK_OP_POLL_CREATE,
		    .id = (char *)"p",
		    .question = (char *)"q",
		    .options = opts,
		    .noptions = 2,
		    .closes_at = 123};
	s = encode(&pc);
	assert_string_equal(s, "{\"k\":\"poll.create\",\"poll\":{\"id\":\"p\","
			       "\"question\":\"q\",\"options\":[\"a\",\"b\"],"
			       "\"closes_at\":123}}");
	free(s);

	rk_point pts[] = {{0, 0}, {1, 1}};
	rk_op sa = {.k = RK_OP_SHAPE_ADD,
		    .id = (char *)"a",
		    .type = RK_SHAPE_STROKE,
		    .color = 1,
		    .points = pts,
		    .npoints = 2};
	s = encode(&sa);
	assert_string_equal(s,
			    "{\"k\":\"shape.add\",\"shape\":{\"id\":\"a\","
			    "\"type\":\"stroke\",\"color\":1,\"points\":[[0,0],[1,1]]}}");
	free(s);

	rk_op cl = {.k = RK_OP_BOARD_CLEAR};
	s = encode(&cl);
	assert_string_equal(s, "{\"k\":\"board.clear\"}");
	free(s);
}

/* Encoding a non-op, or past the buffer's cap, fails through rk_buf_ok. */
static void test_encode_failures(void **state)
{
	rk_buf b;
	rk_op none = {.k = RK_OP_NONE};
	rk_buf_init(&b, 0);
	rk_op_encode(&none, &b);
	assert_int_equal(rk_buf_ok(&b), RK_ENOMEM);
	rk_buf_free(&b);

	rk_op chat = {.k = RK_OP_CHAT_POST, .text = (char *)"0123456789"};
	rk_buf_init(&b, 16);
	rk_op_encode(&chat, &b);
	assert_int_equal(rk_buf_ok(&b), RK_ENOMEM);
	rk_buf_free(&b);
}

static void test_copy_encodes_identically(void **state)
{
	rk_op op, cp;
	const char *in =
	    "{\"k\":\"poll.create\",\"poll\":{\"id\":\"p\",\"question\":\"q\","
	    "\"options\":[\"a\",\"b\"],\"closes_at\":9}}";
	assert_int_equal(decode_str(in, &op, NULL, 0), RK_REJ_NONE);
	assert_int_equal(rk_op_copy(&cp, &op), RK_OK);
	rk_op_free(&op);
	char *s = encode(&cp);
	assert_string_equal(s, in);
	free(s);
	rk_op_free(&cp);
}

/* ---- static rules -------------------------------------------------------------- */

struct rej_case {
	const char *in;
	rk_reject code;
	const char *field; /* the msg must start with "<field>:" */
};

#define INV RK_REJ_INVALID
#define BIG RK_REJ_TOO_LARGE
#define SA(shape) "{\"k\":\"shape.add\",\"shape\":" shape "}"
#define SA_OK_BUT(rest) SA("{\"id\":\"a\",\"type\":\"stroke\",\"color\":1" rest "}")
#define UPD(set) "{\"k\":\"shape.update\",\"id\":\"a\",\"set\":" set "}"
#define PC(poll) "{\"k\":\"poll.create\",\"poll\":" poll "}"
#define PC_OPTS(opts) PC("{\"id\":\"p\",\"question\":\"q\",\"options\":" opts "}")
#define VOTE(choice) "{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":" choice "}"

static const struct rej_case rej_cases[] = {
    /* the op object and its kind */
    {"[]", INV, "op"},
    {"\"shape.add\"", INV, "op"},
    {"null", INV, "op"},
    {"{}", INV, "k"},
    {"{\"k\":1}", INV, "k"},
    {"{\"k\":null}", INV, "k"},
    {"{\"k\":\"shape.move\"}", INV, "k"},
    {"{\"k\":\"Shape.Add\"}", INV, "k"},
    {"{\"K\":\"board.clear\"}", INV, "k"},
    /* shape.add: the shape object */
    {"{\"k\":\"shape.add\"}", INV, "shape"},
    {SA("[]"), INV, "shape"},
    {SA("\"a\""), INV, "shape"},
    /* shape.id */
    {SA("{\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]]}"), INV, "shape.id"},
    {SA("{\"id\":\"\",\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]]}"), INV,
     "shape.id"},
    {SA("{\"id\":7,\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]]}"), INV,
     "shape.id"},
    {SA("{\"id\":null,\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]]}"), INV,
     "shape.id"},
    /* shape.type */
    {SA("{\"id\":\"a\",\"color\":1,\"points\":[[0,0]]}"), INV, "shape.type"},
    {SA("{\"id\":\"a\",\"type\":\"circle\",\"color\":1,\"points\":[[0,0]]}"), INV,
     "shape.type"},
    {SA("{\"id\":\"a\",\"type\":2,\"color\":1,\"points\":[[0,0]]}"), INV, "shape.type"},
    {SA("{\"id\":\"a\",\"type\":\"\",\"color\":1,\"points\":[[0,0]]}"), INV,
     "shape.type"},
    /* shape.color */
    {SA("{\"id\":\"a\",\"type\":\"stroke\",\"points\":[[0,0]]}"), INV, "shape.color"},
    {SA("{\"id\":\"a\",\"type\":\"stroke\",\"color\":8,\"points\":[[0,0]]}"), INV,
     "shape.color"},
    {SA("{\"id\":\"a\",\"type\":\"stroke\",\"color\":-1,\"points\":[[0,0]]}"), INV,
     "shape.color"},
    {SA("{\"id\":\"a\",\"type\":\"stroke\",\"color\":1.5,\"points\":[[0,0]]}"), INV,
     "shape.color"},
    {SA("{\"id\":\"a\",\"type\":\"stroke\",\"color\":\"1\",\"points\":[[0,0]]}"), INV,
     "shape.color"},
    {SA("{\"id\":\"a\",\"type\":\"stroke\",\"color\":true,\"points\":[[0,0]]}"), INV,
     "shape.color"},
    {SA("{\"id\":\"a\",\"type\":\"stroke\",\"color\":1e400,\"points\":[[0,0]]}"), INV,
     "shape.color"},
    /* shape.points: shape of the list */
    {SA_OK_BUT(""), INV, "shape.points"},
    {SA_OK_BUT(",\"points\":[]"), INV, "shape.points"},
    {SA_OK_BUT(",\"points\":{}"), INV, "shape.points"},
    {SA_OK_BUT(",\"points\":null"), INV, "shape.points"},
    {SA_OK_BUT(",\"points\":[1,2]"), INV, "shape.points[0]"},
    {SA_OK_BUT(",\"points\":[[1]]"), INV, "shape.points[0]"},
    {SA_OK_BUT(",\"points\":[[]]"), INV, "shape.points[0]"},
    {SA_OK_BUT(",\"points\":[[0,0],[1,2,3]]"), INV, "shape.points[1]"},
    {SA_OK_BUT(",\"points\":[[0,0],{\"x\":1,\"y\":2}]"), INV, "shape.points[1]"},
    {SA_OK_BUT(",\"points\":[[1,\"2\"]]"), INV, "shape.points[0]"},
    {SA_OK_BUT(",\"points\":[[1,null]]"), INV, "shape.points[0]"},
    /* shape.points: integer edge cases */
    {SA_OK_BUT(",\"points\":[[1,1.5]]"), INV, "shape.points[0]"},
    {SA_OK_BUT(",\"points\":[[1e400,0]]"), INV, "shape.points[0]"},
    {SA_OK_BUT(",\"points\":[[0,-1e400]]"), INV, "shape.points[0]"},
    {SA_OK_BUT(",\"points\":[[9007199254740992,0]]"), INV, "shape.points[0]"},
    {SA_OK_BUT(",\"points\":[[9007199254740993,0]]"), INV, "shape.points[0]"},
    {SA_OK_BUT(",\"points\":[[0,-9007199254740993]]"), INV, "shape.points[0]"},
    {SA_OK_BUT(",\"points\":[[0,0],[0,0],[1e20,0]]"), INV, "shape.points[2]"},
    /* type rules (ours) */
    {SA("{\"id\":\"a\",\"type\":\"line\",\"color\":1,\"points\":[[0,0]]}"), INV,
     "shape.points"},
    {SA("{\"id\":\"a\",\"type\":\"line\",\"color\":1,\"points\":[[0,0],[1,1],[2,2]]}"),
     INV, "shape.points"},
    {SA("{\"id\":\"a\",\"type\":\"line\",\"color\":1}"), INV, "shape.points"},
    {SA("{\"id\":\"a\",\"type\":\"rect\",\"color\":1,\"points\":[[0,0]]}"), INV,
     "shape.points"},
    {SA("{\"id\":\"a\",\"type\":\"text\",\"color\":1,\"points\":[[0,0],[1,1]],"
	"\"text\":\"x\"}"),
     INV, "shape.points"},
    {SA("{\"id\":\"a\",\"type\":\"text\",\"color\":1,\"text\":\"x\"}"), INV,
     "shape.points"},
    {SA("{\"id\":\"a\",\"type\":\"text\",\"color\":1,\"points\":[[0,0]]}"), INV,
     "shape.text"},
    {SA("{\"id\":\"a\",\"type\":\"text\",\"color\":1,\"points\":[[0,0]],"
	"\"text\":\"\"}"),
     INV, "shape.text"},
    {SA("{\"id\":\"a\",\"type\":\"text\",\"color\":1,\"points\":[[0,0]],"
	"\"text\":5}"),
     INV, "shape.text"},
    {SA_OK_BUT(",\"points\":[[0,0]],\"text\":\"x\""), INV, "shape.text"},
    {SA("{\"id\":\"a\",\"type\":\"rect\",\"color\":1,\"points\":[[0,0],[1,1]],"
	"\"text\":\"x\"}"),
     INV, "shape.text"},
    {SA_OK_BUT(",\"points\":[[0,0]],\"text\":null"), INV, "shape.text"},
    /* shape.update */
    {"{\"k\":\"shape.update\",\"set\":{\"color\":1}}", INV, "id"},
    {"{\"k\":\"shape.update\",\"id\":1,\"set\":{\"color\":1}}", INV, "id"},
    {"{\"k\":\"shape.update\",\"id\":\"a\"}", INV, "set"},
    {"{\"k\":\"shape.update\",\"id\":\"a\",\"set\":[]}", INV, "set"},
    {UPD("{}"), INV, "set"},
    {UPD("{\"colour\":1}"), INV, "set"},
    {UPD("{\"color\":8}"), INV, "set.color"},
    {UPD("{\"color\":null}"), INV, "set.color"},
    {UPD("{\"color\":0.5}"), INV, "set.color"},
    {UPD("{\"points\":[]}"), INV, "set.points"},
    {UPD("{\"points\":\"x\"}"), INV, "set.points"},
    {UPD("{\"points\":[[0,0],[1]]}"), INV, "set.points[1]"},
    {UPD("{\"text\":\"\"}"), INV, "set.text"},
    {UPD("{\"text\":7}"), INV, "set.text"},
    {UPD("{\"color\":1,\"text\":false}"), INV, "set.text"},
    /* shape.delete */
    {"{\"k\":\"shape.delete\"}", INV, "id"},
    {"{\"k\":\"shape.delete\",\"id\":\"\"}", INV, "id"},
    {"{\"k\":\"shape.delete\",\"id\":[\"a\"]}", INV, "id"},
    {"{\"k\":\"shape.delete\",\"id\":\"0123456789012345678901234567890123456789"
     "01234567890123456789012345\"}",
     INV, "id"},
    /* poll.create */
    {"{\"k\":\"poll.create\"}", INV, "poll"},
    {"{\"k\":\"poll.create\",\"poll\":\"p\"}", INV, "poll"},
    {PC("{\"question\":\"q\",\"options\":[\"a\",\"b\"]}"), INV, "poll.id"},
    {PC("{\"id\":\"p\",\"options\":[\"a\",\"b\"]}"), INV, "poll.question"},
    {PC("{\"id\":\"p\",\"question\":\"\",\"options\":[\"a\",\"b\"]}"), INV,
     "poll.question"},
    {PC("{\"id\":\"p\",\"question\":[],\"options\":[\"a\",\"b\"]}"), INV,
     "poll.question"},
    {PC("{\"id\":\"p\",\"question\":\"q\"}"), INV, "poll.options"},
    {PC_OPTS("\"a,b\""), INV, "poll.options"},
    {PC_OPTS("[]"), INV, "poll.options"},
    {PC_OPTS("[\"a\"]"), INV, "poll.options"},
    {PC_OPTS("[\"a\",\"\"]"), INV, "poll.options[1]"},
    {PC_OPTS("[\"a\",2]"), INV, "poll.options[1]"},
    {PC_OPTS("[null,\"b\"]"), INV, "poll.options[0]"},
    {PC_OPTS("[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\"]"),
     BIG, "poll.options"},
    {PC("{\"id\":\"p\",\"question\":\"q\",\"options\":[\"a\",\"b\"],"
	"\"closes_at\":0}"),
     INV, "poll.closes_at"},
    {PC("{\"id\":\"p\",\"question\":\"q\",\"options\":[\"a\",\"b\"],"
	"\"closes_at\":-5}"),
     INV, "poll.closes_at"},
    {PC("{\"id\":\"p\",\"question\":\"q\",\"options\":[\"a\",\"b\"],"
	"\"closes_at\":1.5}"),
     INV, "poll.closes_at"},
    {PC("{\"id\":\"p\",\"question\":\"q\",\"options\":[\"a\",\"b\"],"
	"\"closes_at\":\"1700000000000\"}"),
     INV, "poll.closes_at"},
    {PC("{\"id\":\"p\",\"question\":\"q\",\"options\":[\"a\",\"b\"],"
	"\"closes_at\":null}"),
     INV, "poll.closes_at"},
    {PC("{\"id\":\"p\",\"question\":\"q\",\"options\":[\"a\",\"b\"],"
	"\"closes_at\":9007199254740993}"),
     INV, "poll.closes_at"},
    /* poll.vote */
    {"{\"k\":\"poll.vote\",\"choice\":0}", INV, "poll"},
    {"{\"k\":\"poll.vote\",\"poll\":{\"id\":\"p\"},\"choice\":0}", INV, "poll"},
    {"{\"k\":\"poll.vote\",\"poll\":\"p\"}", INV, "choice"},
    {VOTE("-1"), INV, "choice"},
    {VOTE("1.5"), INV, "choice"},
    {VOTE("1e400"), INV, "choice"},
    {VOTE("\"0\""), INV, "choice"},
    {VOTE("null"), INV, "choice"},
    {VOTE("2147483648"), INV, "choice"},
    {VOTE("9007199254740993"), INV, "choice"},
    /* poll.close */
    {"{\"k\":\"poll.close\"}", INV, "poll"},
    {"{\"k\":\"poll.close\",\"poll\":true}", INV, "poll"},
    /* chat.post */
    {"{\"k\":\"chat.post\"}", INV, "text"},
    {"{\"k\":\"chat.post\",\"text\":\"\"}", INV, "text"},
    {"{\"k\":\"chat.post\",\"text\":12}", INV, "text"},
    {"{\"k\":\"chat.post\",\"text\":[\"hi\"]}", INV, "text"},
};

static void test_reject_table(void **state)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(rej_cases); i++)
		expect_reject(rej_cases[i].in, rej_cases[i].code, rej_cases[i].field);
}

/* The example message of the contract, verbatim. */
static void test_reject_msg_text(void **state)
{
	rk_op op;
	char msg[RK_MSG_MSG_MAX + 1];
	assert_int_equal(decode_str(SA("{\"id\":\"a\",\"type\":\"stroke\",\"color\":9,"
				       "\"points\":[[0,0]]}"),
				    &op, msg, sizeof(msg)),
			 RK_REJ_INVALID);
	assert_string_equal(msg, "shape.color: must be an integer in [0, 7]");
}

/* ---- limits at and past their boundary --------------------------------------------- */

static void expect_text_limit(const char *tmpl_ok, const char *field, size_t max)
{
	/* max two-byte chars are fine (chars, not bytes, are counted)... */
	char *t = rep("\xc3\xa9", max);
	char *in = fmt(tmpl_ok, t);
	expect_roundtrip(in, in);
	free(t);
	free(in);
	/* ...and so are max four-byte chars written as surrogate escapes... */
	t = rep("\\ud83d\\ude00", max);
	in = fmt(tmpl_ok, t);
	rk_op op;
	assert_int_equal(decode_str(in, &op, NULL, 0), RK_REJ_NONE);
	rk_op_free(&op);
	free(t);
	free(in);
	/* ...one more is too large. */
	t = rep("a", max + 1);
	in = fmt(tmpl_ok, t);
	expect_reject(in, RK_REJ_TOO_LARGE, field);
	free(t);
	free(in);
}

static void test_text_limits(void **state)
{
	expect_text_limit("{\"k\":\"chat.post\",\"text\":\"%s\"}", "text", RK_TEXT_MAX);
	expect_text_limit(SA("{\"id\":\"a\",\"type\":\"text\",\"color\":1,"
			     "\"points\":[[0,0]],\"text\":\"%s\"}"),
			  "shape.text", RK_TEXT_MAX);
	expect_text_limit(UPD("{\"text\":\"%s\"}"), "set.text", RK_TEXT_MAX);
	expect_text_limit(
	    PC("{\"id\":\"p\",\"question\":\"%s\",\"options\":[\"a\",\"b\"]}"),
	    "poll.question", RK_QUESTION_MAX);
	expect_text_limit(PC_OPTS("[\"a\",\"%s\"]"), "poll.options[1]", RK_OPTION_MAX);
	/* a too-long text on a stroke: the size rule fires first */
	char *t = rep("a", RK_TEXT_MAX + 1);
	char *in = fmt(SA_OK_BUT(",\"points\":[[0,0]],\"text\":\"%s\"") "", t);
	expect_reject(in, RK_REJ_TOO_LARGE, "shape.text");
	free(t);
	free(in);
}

static void test_points_limit(void **state)
{
	char *p = points_json(RK_POINTS_MAX);
	char *in = fmt(SA_OK_BUT(",\"points\":%s"), p);
	expect_roundtrip(in, in);
	free(in);
	in = fmt(UPD("{\"points\":%s}"), p);
	expect_roundtrip(in, in);
	free(in);
	free(p);

	p = points_json(RK_POINTS_MAX + 1);
	in = fmt(SA_OK_BUT(",\"points\":%s"), p);
	expect_reject(in, RK_REJ_TOO_LARGE, "shape.points");
	free(in);
	in = fmt(UPD("{\"points\":%s}"), p);
	expect_reject(in, RK_REJ_TOO_LARGE, "set.points");
	free(in);
	/* too large beats the line's exactly-2 rule */
	in = fmt(SA("{\"id\":\"a\",\"type\":\"line\",\"color\":1,\"points\":%s}"), p);
	expect_reject(in, RK_REJ_TOO_LARGE, "shape.points");
	free(in);
	free(p);
}

static void test_options_limit(void **state)
{
	char *in = fmt(PC_OPTS("%s"), "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\","
				      "\"9\",\"10\"]");
	expect_roundtrip(in, in);
	free(in);
	in = fmt(PC_OPTS("%s"), "[\"a\",\"b\"]");
	expect_roundtrip(in, in);
	free(in);
}

static void test_id_limit(void **state)
{
	char *id = rep("x", RK_ID_MAX);
	char *in = fmt("{\"k\":\"shape.delete\",\"id\":\"%s\"}", id);
	expect_roundtrip(in, in);
	free(in);
	in = fmt("{\"k\":\"poll.close\",\"poll\":\"%s\"}", id);
	expect_roundtrip(in, in);
	free(in);
	free(id);
	/* ids count bytes: 33 two-byte chars are 66 bytes */
	id = rep("\xc3\xa9", 33);
	in = fmt(SA("{\"id\":\"%s\",\"type\":\"stroke\",\"color\":1,\"points\":[[0,0]]}"),
		 id);
	expect_reject(in, RK_REJ_INVALID, "shape.id");
	free(in);
	free(id);
	id = rep("x", RK_ID_MAX + 1);
	in = fmt("{\"k\":\"poll.vote\",\"poll\":\"%s\",\"choice\":0}", id);
	expect_reject(in, RK_REJ_INVALID, "poll");
	free(in);
	in = fmt(PC("{\"id\":\"%s\",\"question\":\"q\",\"options\":[\"a\",\"b\"]}"), id);
	expect_reject(in, RK_REJ_INVALID, "poll.id");
	free(in);
	free(id);
}

/* Integers exactly at +-RK_INT_MAX and spelled unusually are accepted. */
static void test_integer_edges_accepted(void **state)
{
	expect_roundtrip(SA_OK_BUT(",\"points\":[[9007199254740991,-9007199254740991]]"),
			 SA_OK_BUT(",\"points\":[[9007199254740991,-9007199254740991]]"));
	expect_roundtrip(SA_OK_BUT(",\"points\":[[-0,1E2]]"),
			 SA_OK_BUT(",\"points\":[[0,100]]"));
	expect_roundtrip(VOTE("-0"), VOTE("0"));
	expect_roundtrip(VOTE("3.0"), VOTE("3"));
	expect_roundtrip(PC("{\"id\":\"p\",\"question\":\"q\",\"options\":[\"a\",\"b\"],"
			    "\"closes_at\":9007199254740991}"),
			 PC("{\"id\":\"p\",\"question\":\"q\",\"options\":[\"a\",\"b\"],"
			    "\"closes_at\":9007199254740991}"));
}

/* ---- hostile text ----------------------------------------------------------------- */

/* Every proper prefix of a valid op is refused cleanly. */
static void test_truncated_prefixes(void **state)
{
	const char *full =
	    "{\"k\":\"shape.add\",\"shape\":{\"id\":\"t\",\"type\":\"text\","
	    "\"color\":3,\"points\":[[5,-5]],\"text\":\"h\xc3\xa9\\n\"}}";
	size_t n = strlen(full);
	for (size_t i = 0; i < n; i++) {
		rk_op op;
		char msg[RK_MSG_MSG_MAX + 1] = "";
		/* a heap copy of exactly i bytes, so ASan sees any over-read */
		char *p = malloc(i ? i : 1);
		assert_non_null(p);
		memcpy(p, full, i);
		rk_reject r = rk_op_decode_text(p, i, &op, msg, sizeof(msg));
		free(p);
		if (r != RK_REJ_INVALID)
			fail_msg("prefix of %zu bytes: got %s", i, rk_reject_name(r));
		assert_true(op_is_zero(&op));
		assert_true(msg[0] != '\0');
	}
	rk_op op;
	assert_int_equal(rk_op_decode_text(full, n, &op, NULL, 0), RK_REJ_NONE);
	rk_op_free(&op);
}

struct hostile_case {
	const char *in;
	size_t n;	    /* 0: strlen */
	const char *needle; /* expected in msg */
};

static const struct hostile_case hostile_cases[] = {
    {"", 0, "op:"},
    {"   ", 0, "op:"},
    {"{\"k\":\"chat.post\",\"text\":\"\xff\"}", 0, "UTF-8"},
    {"{\"k\":\"chat.post\",\"text\":\"\xc0\xaf\"}", 0, "UTF-8"},     /* overlong */
    {"{\"k\":\"chat.post\",\"text\":\"\xed\xa0\x80\"}", 0, "UTF-8"}, /* surrogate */
    {"{\"k\":\"chat.post\",\"text\":\"\xf4\x90\x80\x80\"}", 0, "UTF-8"},
    {"{\"k\":\"chat.post\",\"text\":\"a\0b\"}", 30, "NUL"},
    {"{\"k\":\"chat.post\"}\0", 18, "NUL"},
    {"{\"k\":\"chat.post\",\"text\":\"\\ud800\"}", 0, "op:"},
    {"{\"k\":\"chat.post\",\"text\":\"hi\"} x", 0, "trailing"},
    {"{\"k\":\"chat.post\",\"text\":\"hi\"}{}", 0, "trailing"},
    {"{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":NaN}", 0, "op:"},
    {"{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":Infinity}", 0, "op:"},
    {"{\"k\":\"poll.vote\",\"poll\":\"p\",\"choice\":+1}", 0, "op:"},
    {"{'k':'board.clear'}", 0, "op:"},
};

static void test_hostile_table(void **state)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(hostile_cases); i++) {
		const struct hostile_case *c = &hostile_cases[i];
		rk_op op;
		char msg[RK_MSG_MSG_MAX + 1] = "";
		size_t n = c->n ? c->n : strlen(c->in);
		rk_reject r = rk_op_decode_text(c->in, n, &op, msg, sizeof(msg));
		if (r != RK_REJ_INVALID || !strstr(msg, c->needle))
			fail_msg("case %zu: got %s \"%s\", want invalid with \"%s\"", i,
				 rk_reject_name(r), msg, c->needle);
		assert_true(op_is_zero(&op));
	}
}

static void test_deep_nesting(void **state)
{
	char *deep = rep("[", 10000);
	rk_op op;
	char msg[RK_MSG_MSG_MAX + 1] = "";
	assert_int_equal(rk_op_decode_text(deep, strlen(deep), &op, msg, sizeof(msg)),
			 RK_REJ_INVALID);
	assert_non_null(strstr(msg, "deeper"));
	free(deep);

	/* deep but balanced, inside an ignored field */
	char *arr = nest(10000);
	char *in = fmt("{\"k\":\"board.clear\",\"x\":%s}", arr);
	assert_int_equal(decode_str(in, &op, msg, sizeof(msg)), RK_REJ_INVALID);
	assert_non_null(strstr(msg, "deeper"));
	free(arr);
	free(in);

	/* nesting within the limit in an ignored field is fine */
	arr = nest(RK_JSON_DEPTH_MAX - 1);
	in = fmt("{\"k\":\"board.clear\",\"x\":%s}", arr);
	assert_int_equal(decode_str(in, &op, msg, sizeof(msg)), RK_REJ_NONE);
	rk_op_free(&op);
	free(arr);
	free(in);
}

static void test_huge_input(void **state)
{
	/* 2 MiB of valid JSON: refused on size before parsing */
	char *pad = rep("    ", 512 * 1024);
	char *in = fmt("{\"k\":\"board.clear\"%s}", pad);
	rk_op op;
	char msg[RK_MSG_MSG_MAX + 1] = "";
	assert_int_equal(decode_str(in, &op, msg, sizeof(msg)), RK_REJ_INVALID);
	assert_non_null(strstr(msg, "exceeds"));
	free(pad);
	free(in);
}

/* Tiny or absent message buffers are honoured. */
static void test_small_msg_buffer(void **state)
{
	rk_op op;
	char msg[8];
	memset(msg, 'z', sizeof(msg));
	assert_int_equal(decode_str("{\"k\":\"nope\"}", &op, msg, sizeof(msg)),
			 RK_REJ_INVALID);
	assert_int_equal(strlen(msg), sizeof(msg) - 1);
	assert_int_equal(decode_str("{\"k\":\"nope\"}", &op, NULL, 0), RK_REJ_INVALID);
	assert_int_equal(rk_op_decode_text(NULL, 0, &op, NULL, 0), RK_REJ_INVALID);
	assert_int_equal(rk_op_decode(NULL, &op, NULL, 0), RK_REJ_INVALID);
}

/* A cJSON tree built by code (not rk_json_parse) with bad UTF-8 is refused,
 * so the encoder never copies invalid bytes into a frame. */
static void test_tree_with_bad_utf8(void **state)
{
	cJSON *o = cJSON_CreateObject();
	assert_non_null(o);
	cJSON_AddStringToObject(o, "k", "chat.post");
	cJSON_AddStringToObject(o, "text", "bad \xff byte");
	rk_op op;
	char msg[RK_MSG_MSG_MAX + 1] = "";
	assert_int_equal(rk_op_decode(o, &op, msg, sizeof(msg)), RK_REJ_INVALID);
	assert_non_null(strstr(msg, "text:"));
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_table),
	    cmocka_unit_test(test_roundtrip_covers_every_kind),
	    cmocka_unit_test(test_decode_fields),
	    cmocka_unit_test(test_encode_from_struct),
	    cmocka_unit_test(test_encode_failures),
	    cmocka_unit_test(test_copy_encodes_identically),
	    cmocka_unit_test(test_reject_table),
	    cmocka_unit_test(test_reject_msg_text),
	    cmocka_unit_test(test_text_limits),
	    cmocka_unit_test(test_points_limit),
	    cmocka_unit_test(test_options_limit),
	    cmocka_unit_test(test_id_limit),
	    cmocka_unit_test(test_integer_edges_accepted),
	    cmocka_unit_test(test_truncated_prefixes),
	    cmocka_unit_test(test_hostile_table),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_huge_input),
	    cmocka_unit_test(test_small_msg_buffer),
	    cmocka_unit_test(test_tree_with_bad_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
