/*
 * state.c - the room state machine (see state.h, PROTOCOL.md sections 3, 5).
 *
 * Invariant: every state this file builds (apply, decode, clone) follows the
 * rules that rk_state_decode() checks, so encode -> decode always succeeds and
 * gives back the same bytes. That is why apply re-checks the static limits
 * that op_codec already enforces: a state that cannot be reloaded would lose
 * the room.
 *
 * Memory layout (private to this file; callers only read the fields):
 *  - rk_shape: one block holding the struct, id and by; points and text are
 *    separate allocations because shape.update replaces them.
 *  - rk_poll: one block holding the struct, tally, the options pointer array
 *    and every string; votes is an omap of its own.
 *  - rk_chat: user, id and text share one block, owned through user.
 * Apply allocates everything it needs before it changes anything, so a
 * failed allocation leaves the state untouched.
 */
#include "state.h"
#include "json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

#define REJECT(code, ...) return rk_jfail(msg, msglen, (code), __VA_ARGS__)

#define OOM() REJECT(RK_REJ_INVALID, "out of memory")

/* s is valid UTF-8 of min_chars..max_chars code points. */
static bool text_ok(const char *s, size_t min_chars, size_t max_chars)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	if (n > max_chars * 4 || !rk_utf8_valid(s, n))
		return false;
	size_t c = rk_utf8_len(s, n);
	return c >= min_chars && c <= max_chars;
}

/* An id: 1..RK_ID_MAX bytes of valid UTF-8. */
static bool id_ok(const char *s)
{
	if (!s)
		return false;
	size_t n = strnlen(s, RK_ID_MAX + 1);
	return n >= 1 && n <= RK_ID_MAX && rk_utf8_valid(s, n);
}

static bool user_ok(const char *s)
{
	return text_ok(s, 1, RK_NAME_MAX);
}

static bool int_ok(int64_t v)
{
	return v >= -RK_INT_MAX && v <= RK_INT_MAX;
}

static bool points_in_range(const rk_point *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!int_ok(p[i].x) || !int_ok(p[i].y))
			return false;
	return true;
}

/* The rules a shape of this type must keep; NULL if (npoints, text) is fine,
 * else why not. */
static const char *shape_rule(rk_shape_type type, size_t npoints, const char *text)
{
	switch (type) {
	case RK_SHAPE_STROKE:
		if (npoints < 1 || npoints > RK_POINTS_MAX)
			return "a stroke needs 1-4096 points";
		break;
	case RK_SHAPE_LINE:
	case RK_SHAPE_RECT:
		if (npoints != 2)
			return "a line or rect needs exactly 2 points";
		break;
	case RK_SHAPE_TEXT:
		if (npoints != 1)
			return "a text shape needs exactly 1 point";
		if (!text || !*text)
			return "a text shape needs a non-empty text";
		if (!text_ok(text, 1, RK_TEXT_MAX))
			return "text must be 1-2000 characters";
		return NULL;
	default:
		return "unknown shape type";
	}
	if (text)
		return "text is only allowed on text shapes";
	return NULL;
}

static bool dup_points(rk_point **out, const rk_point *p, size_t n)
{
	*out = NULL;
	if (n == 0)
		return true;
	*out = malloc(n * sizeof(**out));
	if (!*out)
		return false;
	memcpy(*out, p, n * sizeof(**out));
	return true;
}

static bool dup_text(char **out, const char *s)
{
	*out = NULL;
	if (!s)
		return true;
	*out = strdup(s);
	return *out != NULL;
}

/* ---- shapes ------------------------------------------------------------- */

/* A shape block with id and by copied, no points, no text. */
static rk_shape *shape_alloc(const char *id, const char *by)
{
	size_t il = strlen(id), bl = strlen(by);
	rk_shape *sh = malloc(sizeof(*sh) + il + 1 + bl + 1);
	if (!sh)
		return NULL;
	memset(sh, 0, sizeof(*sh));
	sh->id = (char *)(sh + 1);
	memcpy(sh->id, id, il + 1);
	sh->by = sh->id + il + 1;
	memcpy(sh->by, by, bl + 1);
	return sh;
}

static void shape_free(rk_shape *sh)
{
	if (!sh)
		return;
	free(sh->points);
	free(sh->text);
	free(sh);
}

/* A complete shape (copies of everything), or NULL if out of memory. */
static rk_shape *shape_make(const char *id, const char *by, rk_shape_type type, int color,
			    const rk_point *pts, size_t npts, const char *text)
{
	rk_shape *sh = shape_alloc(id, by);
	if (!sh)
		return NULL;
	sh->type = type;
	sh->color = color;
	if (!dup_points(&sh->points, pts, npts) || !dup_text(&sh->text, text)) {
		shape_free(sh);
		return NULL;
	}
	sh->npoints = npts;
	return sh;
}

/* ---- polls -------------------------------------------------------------- */

/* A poll block: struct, tally (zeroed), options, strings; votes empty. */
static rk_poll *poll_alloc(const char *id, const char *question, char *const *options,
			   size_t noptions, const char *by)
{
	size_t off_tally = (sizeof(rk_poll) + 7) & ~(size_t)7;
	size_t off_opts = off_tally + noptions * sizeof(int64_t);
	size_t off_str = off_opts + noptions * sizeof(char *);
	size_t il = strlen(id), ql = strlen(question), bl = strlen(by);
	size_t total = off_str + il + 1 + ql + 1 + bl + 1;
	for (size_t i = 0; i < noptions; i++)
		total += strlen(options[i]) + 1;
	char *base = malloc(total);
	if (!base)
		return NULL;
	rk_poll *p = (rk_poll *)(void *)base;
	memset(p, 0, sizeof(*p));
	rk_omap_init(&p->votes);
	p->tally = (int64_t *)(void *)(base + off_tally);
	memset(p->tally, 0, noptions * sizeof(int64_t));
	p->options = (char **)(void *)(base + off_opts);
	p->noptions = noptions;
	char *s = base + off_str;
	p->id = s;
	memcpy(s, id, il + 1);
	s += il + 1;
	p->question = s;
	memcpy(s, question, ql + 1);
	s += ql + 1;
	p->by = s;
	memcpy(s, by, bl + 1);
	s += bl + 1;
	for (size_t i = 0; i < noptions; i++) {
		size_t ol = strlen(options[i]);
		p->options[i] = s;
		memcpy(s, options[i], ol + 1);
		s += ol + 1;
	}
	return p;
}

static void poll_free(rk_poll *p)
{
	if (!p)
		return;
	rk_omap_free(&p->votes);
	free(p);
}

static int vote_choice(const void *val)
{
	return (int)((intptr_t)val - 1);
}

static void *vote_val(int choice)
{
	return (void *)(intptr_t)(choice + 1);
}

/* ---- chat --------------------------------------------------------------- */

/* Fill c with a copy of user, id and text in one block; false if out of
 * memory. */
static bool chat_fill(rk_chat *c, int64_t seq, int64_t ts, const char *user,
		      const char *id, const char *text)
{
	size_t ul = strlen(user), il = strlen(id), tl = strlen(text);
	char *blk = malloc(ul + 1 + il + 1 + tl + 1);
	if (!blk)
		return false;
	memcpy(blk, user, ul + 1);
	memcpy(blk + ul + 1, id, il + 1);
	memcpy(blk + ul + 1 + il + 1, text, tl + 1);
	c->seq = seq;
	c->ts = ts;
	c->user = blk;
	c->id = blk + ul + 1;
	c->text = blk + ul + 1 + il + 1;
	return true;
}

static void chat_clear(rk_chat *c)
{
	free(c->user); /* text lives in the same block */
	memset(c, 0, sizeof(*c));
}

/* Append a filled post to the ring (taking c's block), dropping the oldest
 * when full. false if out of memory allocating the ring: then c's block is
 * freed and st is unchanged. */
static bool chat_push(rk_state *st, rk_chat *c)
{
	if (!st->chat && !(st->chat = calloc(RK_CHAT_KEEP, sizeof(*st->chat)))) {
		chat_clear(c);
		return false;
	}
	if (st->chat_len < RK_CHAT_KEEP) {
		st->chat[(st->chat_head + st->chat_len) % RK_CHAT_KEEP] = *c;
		st->chat_len++;
		return true;
	}
	chat_clear(&st->chat[st->chat_head]);
	st->chat[st->chat_head] = *c;
	st->chat_head = (st->chat_head + 1) % RK_CHAT_KEEP;
	return true;
}

const rk_chat *rk_state_chat_at(const rk_state *st, size_t i)
{
	if (!st || i >= st->chat_len)
		return NULL;
	return &st->chat[(st->chat_head + i) % RK_CHAT_KEEP];
}

/* ---- lifecycle ---------------------------------------------------------- */

rk_state *rk_state_new(void)
{
	rk_state *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	rk_omap_init(&st->shapes);
	rk_omap_init(&st->polls);
	return st;
}

static void free_shapes(rk_omap *shapes)
{
	const rk_omap_entry *e;
	for (size_t i = 0; rk_omap_next(shapes, &i, &e);)
		shape_free(e->val);
	rk_omap_clear(shapes);
}

void rk_state_free(rk_state *st)
{
	if (!st)
		return;
	free_shapes(&st->shapes);
	const rk_omap_entry *e;
	for (size_t i = 0; rk_omap_next(&st->polls, &i, &e);)
		poll_free(e->val);
	rk_omap_free(&st->polls);
	for (size_t i = 0; st->chat && i < RK_CHAT_KEEP; i++)
		free(st->chat[i].user);
	free(st->chat);
	free(st);
}

/* ---- apply -------------------------------------------------------------- */

static rk_reject apply_shape_add(rk_state *st, const rk_op *op, const rk_actor *a,
				 char *msg, size_t msglen)
{
	if (!id_ok(op->id))
		REJECT(RK_REJ_INVALID, "shape.id: must be 1-%d bytes", RK_ID_MAX);
	if (op->color < 0 || op->color >= RK_COLORS)
		REJECT(RK_REJ_INVALID, "shape.color: must be 0-%d", RK_COLORS - 1);
	if (op->npoints && !op->points)
		REJECT(RK_REJ_INVALID, "shape.points: missing");
	const char *why = shape_rule(op->type, op->npoints, op->text);
	if (why)
		REJECT(RK_REJ_INVALID, "shape: %s", why);
	if (!points_in_range(op->points, op->npoints))
		REJECT(RK_REJ_INVALID, "shape.points: coordinate out of range");
	size_t il = strlen(op->id);
	if (rk_omap_get(&st->shapes, op->id, il))
		REJECT(RK_REJ_CONFLICT, "shape %s already exists", op->id);

	rk_shape *sh = shape_make(op->id, a->user, op->type, op->color, op->points,
				  op->npoints, op->text);
	if (!sh)
		OOM();
	if (rk_omap_put(&st->shapes, op->id, il, sh) != RK_OK) {
		shape_free(sh);
		OOM();
	}
	return RK_REJ_NONE;
}

static rk_reject apply_shape_update(rk_state *st, const rk_op *op, char *msg,
				    size_t msglen)
{
	if (!id_ok(op->id))
		REJECT(RK_REJ_INVALID, "id: must be 1-%d bytes", RK_ID_MAX);
	rk_shape *sh = rk_omap_get(&st->shapes, op->id, strlen(op->id));
	if (!sh)
		REJECT(RK_REJ_NOT_FOUND, "no shape %s", op->id);
	unsigned set = op->set;
	if (set == 0 || (set & ~(unsigned)(RK_SET_COLOR | RK_SET_POINTS | RK_SET_TEXT)))
		REJECT(RK_REJ_INVALID, "set: must change color, points or text");

	int color = sh->color;
	const rk_point *pts = sh->points;
	size_t npts = sh->npoints;
	const char *text = sh->text;
	if (set & RK_SET_COLOR) {
		if (op->color < 0 || op->color >= RK_COLORS)
			REJECT(RK_REJ_INVALID, "set.color: must be 0-%d", RK_COLORS - 1);
		color = op->color;
	}
	if (set & RK_SET_POINTS) {
		if (op->npoints && !op->points)
			REJECT(RK_REJ_INVALID, "set.points: missing");
		if (!points_in_range(op->points, op->npoints))
			REJECT(RK_REJ_INVALID, "set.points: coordinate out of range");
		pts = op->points;
		npts = op->npoints;
	}
	if (set & RK_SET_TEXT) {
		if (!op->text)
			REJECT(RK_REJ_INVALID, "set.text: missing");
		if (sh->type != RK_SHAPE_TEXT)
			REJECT(RK_REJ_INVALID,
			       "set.text: text is only allowed on text shapes");
		text = op->text;
	}
	const char *why = shape_rule(sh->type, npts, text);
	if (why)
		REJECT(RK_REJ_INVALID, "set: %s", why);

	rk_point *npoints = NULL;
	char *ntext = NULL;
	if ((set & RK_SET_POINTS) && !dup_points(&npoints, pts, npts))
		OOM();
	if ((set & RK_SET_TEXT) && !dup_text(&ntext, text)) {
		free(npoints);
		OOM();
	}
	/* Nothing can fail from here on. */
	sh->color = color;
	if (set & RK_SET_POINTS) {
		free(sh->points);
		sh->points = npoints;
		sh->npoints = npts;
	}
	if (set & RK_SET_TEXT) {
		free(sh->text);
		sh->text = ntext;
	}
	return RK_REJ_NONE;
}

static rk_reject apply_shape_delete(rk_state *st, const rk_op *op, char *msg,
				    size_t msglen)
{
	if (!id_ok(op->id))
		REJECT(RK_REJ_INVALID, "id: must be 1-%d bytes", RK_ID_MAX);
	rk_shape *sh = rk_omap_del(&st->shapes, op->id, strlen(op->id));
	if (!sh)
		REJECT(RK_REJ_NOT_FOUND, "no shape %s", op->id);
	shape_free(sh);
	return RK_REJ_NONE;
}

static rk_reject apply_board_clear(rk_state *st, const rk_actor *a, char *msg,
				   size_t msglen)
{
	if (a->role != RK_ROLE_OWNER)
		REJECT(RK_REJ_FORBIDDEN, "board.clear: owner only");
	free_shapes(&st->shapes);
	return RK_REJ_NONE;
}

static rk_reject apply_poll_create(rk_state *st, const rk_op *op, const rk_actor *a,
				   char *msg, size_t msglen)
{
	if (!id_ok(op->id))
		REJECT(RK_REJ_INVALID, "poll.id: must be 1-%d bytes", RK_ID_MAX);
	if (!text_ok(op->question, 1, RK_QUESTION_MAX))
		REJECT(RK_REJ_INVALID, "poll.question: must be 1-%d characters",
		       RK_QUESTION_MAX);
	if (op->noptions < RK_OPTIONS_MIN || op->noptions > RK_OPTIONS_MAX ||
	    !op->options)
		REJECT(RK_REJ_INVALID, "poll.options: must have %d-%d options",
		       RK_OPTIONS_MIN, RK_OPTIONS_MAX);
	for (size_t i = 0; i < op->noptions; i++)
		if (!text_ok(op->options[i], 1, RK_OPTION_MAX))
			REJECT(RK_REJ_INVALID,
			       "poll.options[%zu]: must be 1-%d characters", i,
			       RK_OPTION_MAX);
	if (op->closes_at < 0 || op->closes_at > RK_INT_MAX)
		REJECT(RK_REJ_INVALID, "poll.closes_at: out of range");
	size_t il = strlen(op->id);
	if (rk_omap_get(&st->polls, op->id, il))
		REJECT(RK_REJ_CONFLICT, "poll %s already exists", op->id);
	if (op->closes_at != 0 && op->closes_at <= a->ts)
		REJECT(RK_REJ_INVALID, "poll.closes_at: must be in the future");

	rk_poll *p = poll_alloc(op->id, op->question, op->options, op->noptions, a->user);
	if (!p)
		OOM();
	p->closes_at = op->closes_at;
	if (rk_omap_put(&st->polls, op->id, il, p) != RK_OK) {
		poll_free(p);
		OOM();
	}
	return RK_REJ_NONE;
}

static rk_reject apply_poll_vote(rk_state *st, rk_op *op, const rk_actor *a, char *msg,
				 size_t msglen)
{
	if (!id_ok(op->id))
		REJECT(RK_REJ_INVALID, "poll: must be 1-%d bytes", RK_ID_MAX);
	rk_poll *p = rk_omap_get(&st->polls, op->id, strlen(op->id));
	if (!p)
		REJECT(RK_REJ_NOT_FOUND, "no poll %s", op->id);
	if (p->closed || (p->closes_at != 0 && a->ts >= p->closes_at))
		REJECT(RK_REJ_FORBIDDEN, "poll %s is closed", op->id);
	if (op->choice < 0 || (size_t)op->choice >= p->noptions)
		REJECT(RK_REJ_INVALID, "choice: must be 0-%zu", p->noptions - 1);

	/* The op's tally buffer: reuse one of the right size, else allocate. */
	int64_t *tally = op->tally;
	if (!tally || op->ntally != p->noptions) {
		tally = malloc(p->noptions * sizeof(*tally));
		if (!tally)
			OOM();
	}
	size_t ul = strlen(a->user);
	void *prev = rk_omap_get(&p->votes, a->user, ul);
	/* Replacing an existing key never allocates, so cannot fail. */
	if (rk_omap_put(&p->votes, a->user, ul, vote_val(op->choice)) != RK_OK) {
		if (tally != op->tally)
			free(tally);
		OOM();
	}
	if (prev)
		p->tally[vote_choice(prev)]--;
	p->tally[op->choice]++;

	memcpy(tally, p->tally, p->noptions * sizeof(*tally));
	if (tally != op->tally)
		free(op->tally);
	op->tally = tally;
	op->ntally = p->noptions;
	return RK_REJ_NONE;
}

static rk_reject apply_poll_close(rk_state *st, const rk_op *op, const rk_actor *a,
				  char *msg, size_t msglen)
{
	if (!id_ok(op->id))
		REJECT(RK_REJ_INVALID, "poll: must be 1-%d bytes", RK_ID_MAX);
	rk_poll *p = rk_omap_get(&st->polls, op->id, strlen(op->id));
	if (!p)
		REJECT(RK_REJ_NOT_FOUND, "no poll %s", op->id);
	if (a->role != RK_ROLE_OWNER && strcmp(p->by, a->user) != 0)
		REJECT(RK_REJ_FORBIDDEN, "poll.close: creator or owner only");
	if (p->closed)
		REJECT(RK_REJ_CONFLICT, "poll %s is already closed", op->id);
	p->closed = true;
	return RK_REJ_NONE;
}

static rk_reject apply_chat_post(rk_state *st, const rk_op *op, const rk_actor *a,
				 char *msg, size_t msglen)
{
	if (!text_ok(op->text, 1, RK_TEXT_MAX))
		REJECT(RK_REJ_INVALID, "text: must be 1-%d characters", RK_TEXT_MAX);
	if (a->seq < 0 || a->seq > RK_INT_MAX || a->ts < 0 || a->ts > RK_INT_MAX)
		REJECT(RK_REJ_INVALID, "chat.post: event seq or ts out of range");
	rk_chat c;
	if (!chat_fill(&c, a->seq, a->ts, a->user, a->id ? a->id : "", op->text))
		OOM();
	if (!chat_push(st, &c))
		OOM();
	return RK_REJ_NONE;
}

rk_reject rk_state_apply(rk_state *st, rk_op *op, const rk_actor *actor, char *msg,
			 size_t msglen)
{
	if (!st || !op || !actor)
		REJECT(RK_REJ_INVALID, "no op");
	if (actor->role < RK_ROLE_EDITOR)
		REJECT(RK_REJ_FORBIDDEN, "%s may not change the room",
		       actor->role == RK_ROLE_VIEWER ? "a viewer"
						     : "a user without a role");
	if (!user_ok(actor->user))
		REJECT(RK_REJ_INVALID, "user: must be 1-%d characters", RK_NAME_MAX);
	if (actor->id && actor->id[0] && !id_ok(actor->id))
		REJECT(RK_REJ_INVALID, "op id: must be 1-%d bytes of UTF-8", RK_ID_MAX);
	switch (op->k) {
	case RK_OP_SHAPE_ADD:
		return apply_shape_add(st, op, actor, msg, msglen);
	case RK_OP_SHAPE_UPDATE:
		return apply_shape_update(st, op, msg, msglen);
	case RK_OP_SHAPE_DELETE:
		return apply_shape_delete(st, op, msg, msglen);
	case RK_OP_BOARD_CLEAR:
		return apply_board_clear(st, actor, msg, msglen);
	case RK_OP_POLL_CREATE:
		return apply_poll_create(st, op, actor, msg, msglen);
	case RK_OP_POLL_VOTE:
		return apply_poll_vote(st, op, actor, msg, msglen);
	case RK_OP_POLL_CLOSE:
		return apply_poll_close(st, op, actor, msg, msglen);
	case RK_OP_CHAT_POST:
		return apply_chat_post(st, op, actor, msg, msglen);
	default:
		REJECT(RK_REJ_INVALID, "unknown op kind");
	}
}

/* ---- encode ------------------------------------------------------------- */

static void encode_shape(const rk_shape *sh, rk_buf *b)
{
	rk_buf_puts(b, "{\"id\":");
	rk_buf_put_jstrz(b, sh->id);
	rk_buf_puts(b, ",\"type\":");
	rk_buf_put_jstrz(b, rk_shape_type_name(sh->type));
	rk_buf_puts(b, ",\"color\":");
	rk_buf_put_i64(b, sh->color);
	if (sh->npoints) {
		rk_buf_puts(b, ",\"points\":[");
		for (size_t i = 0; i < sh->npoints; i++) {
			rk_buf_puts(b, i ? ",[" : "[");
			rk_buf_put_i64(b, sh->points[i].x);
			rk_buf_putc(b, ',');
			rk_buf_put_i64(b, sh->points[i].y);
			rk_buf_putc(b, ']');
		}
		rk_buf_putc(b, ']');
	}
	if (sh->text) {
		rk_buf_puts(b, ",\"text\":");
		rk_buf_put_jstrz(b, sh->text);
	}
	rk_buf_puts(b, ",\"by\":");
	rk_buf_put_jstrz(b, sh->by);
	rk_buf_putc(b, '}');
}

static void encode_poll(const rk_poll *p, rk_buf *b)
{
	rk_buf_puts(b, "{\"id\":");
	rk_buf_put_jstrz(b, p->id);
	rk_buf_puts(b, ",\"question\":");
	rk_buf_put_jstrz(b, p->question);
	rk_buf_puts(b, ",\"options\":[");
	for (size_t i = 0; i < p->noptions; i++) {
		if (i)
			rk_buf_putc(b, ',');
		rk_buf_put_jstrz(b, p->options[i]);
	}
	rk_buf_puts(b, "],\"tally\":[");
	for (size_t i = 0; i < p->noptions; i++) {
		if (i)
			rk_buf_putc(b, ',');
		rk_buf_put_i64(b, p->tally[i]);
	}
	rk_buf_puts(b, "],\"votes\":{");
	const rk_omap_entry *e;
	bool first = true;
	for (size_t i = 0; rk_omap_next(&p->votes, &i, &e); first = false) {
		if (!first)
			rk_buf_putc(b, ',');
		rk_buf_put_jstr(b, e->key, e->klen);
		rk_buf_putc(b, ':');
		rk_buf_put_i64(b, vote_choice(e->val));
	}
	rk_buf_puts(b, p->closed ? "},\"closed\":true" : "},\"closed\":false");
	if (p->closes_at) {
		rk_buf_puts(b, ",\"closes_at\":");
		rk_buf_put_i64(b, p->closes_at);
	}
	rk_buf_puts(b, ",\"by\":");
	rk_buf_put_jstrz(b, p->by);
	rk_buf_putc(b, '}');
}

void rk_state_encode_poll(const rk_poll *p, rk_buf *b)
{
	encode_poll(p, b);
}

static void encode_state(const rk_state *st, rk_buf *b, bool chat_ids)
{
	const rk_omap_entry *e;
	bool first = true;
	rk_buf_puts(b, "{\"shapes\":{");
	for (size_t i = 0; rk_omap_next(&st->shapes, &i, &e); first = false) {
		if (!first)
			rk_buf_putc(b, ',');
		rk_buf_put_jstr(b, e->key, e->klen);
		rk_buf_putc(b, ':');
		encode_shape(e->val, b);
	}
	rk_buf_puts(b, "},\"polls\":{");
	first = true;
	for (size_t i = 0; rk_omap_next(&st->polls, &i, &e); first = false) {
		if (!first)
			rk_buf_putc(b, ',');
		rk_buf_put_jstr(b, e->key, e->klen);
		rk_buf_putc(b, ':');
		encode_poll(e->val, b);
	}
	rk_buf_puts(b, "},\"chat\":[");
	for (size_t i = 0; i < st->chat_len; i++) {
		const rk_chat *c = rk_state_chat_at(st, i);
		rk_buf_puts(b, i ? ",{\"seq\":" : "{\"seq\":");
		rk_buf_put_i64(b, c->seq);
		rk_buf_puts(b, ",\"ts\":");
		rk_buf_put_i64(b, c->ts);
		rk_buf_puts(b, ",\"user\":");
		rk_buf_put_jstrz(b, c->user);
		if (chat_ids && c->id[0]) {
			rk_buf_puts(b, ",\"id\":");
			rk_buf_put_jstrz(b, c->id);
		}
		rk_buf_puts(b, ",\"text\":");
		rk_buf_put_jstrz(b, c->text);
		rk_buf_putc(b, '}');
	}
	rk_buf_puts(b, "]}");
}

void rk_state_encode(const rk_state *st, rk_buf *b)
{
	encode_state(st, b, true);
}

void rk_state_encode_legacy(const rk_state *st, rk_buf *b)
{
	encode_state(st, b, false);
}

/* ---- decode ------------------------------------------------------------- */

/*
 * Every check writes "<field>: <reason>" into why; the caller prefixes the
 * path ("shape \"s1\": color: ...") into err.
 */
typedef struct dctx {
	char why[RK_MSG_MSG_MAX];
} dctx;

#define FAIL(d, ...)                                                                     \
	do {                                                                             \
		snprintf((d)->why, sizeof((d)->why), __VA_ARGS__);                       \
		return false;                                                            \
	} while (0)

/* Every member of obj is one of names[0..n), each at most once. */
static bool keys_ok(dctx *d, const cJSON *obj, const char *const *names, size_t n)
{
	unsigned seen = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		size_t k = 0;
		while (k < n && (!it->string || strcmp(it->string, names[k]) != 0))
			k++;
		if (k == n)
			FAIL(d, "unknown field \"%.40s\"", it->string ? it->string : "");
		if (seen & (1u << k))
			FAIL(d, "%s: duplicate field", names[k]);
		seen |= 1u << k;
	}
	return true;
}

/* A string member of min..max code points of valid UTF-8. */
static bool get_str(dctx *d, const cJSON *obj, const char *field, size_t minc,
		    size_t maxc, const char **out)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, field);
	if (!n)
		FAIL(d, "%s: missing", field);
	if (!cJSON_IsString(n) || !n->valuestring)
		FAIL(d, "%s: must be a string", field);
	if (!text_ok(n->valuestring, minc, maxc))
		FAIL(d, "%s: must be %zu-%zu characters of UTF-8", field, minc, maxc);
	*out = n->valuestring;
	return true;
}

static bool get_int(dctx *d, const cJSON *obj, const char *field, int64_t min,
		    int64_t max, int64_t *out)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, field);
	if (!n)
		FAIL(d, "%s: missing", field);
	if (!rk_jint(n, min, max, out))
		FAIL(d, "%s: must be an integer in [%lld, %lld]", field, (long long)min,
		     (long long)max);
	return true;
}

/* The id member, which must equal the map key. */
static bool get_id(dctx *d, const cJSON *obj, const char *key, const char **out)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, "id");
	if (!n)
		FAIL(d, "id: missing");
	if (!cJSON_IsString(n) || !n->valuestring || !id_ok(n->valuestring))
		FAIL(d, "id: must be a string of 1-%d bytes", RK_ID_MAX);
	if (strcmp(n->valuestring, key) != 0)
		FAIL(d, "id: does not match its key");
	*out = n->valuestring;
	return true;
}

/* Decode one shape (map key `key`); *out is NULL on failure. */
static rk_err decode_shape(dctx *d, const cJSON *v, const char *key, rk_shape **out)
{
	static const char *const fields[] = {"id",     "type", "color",
					     "points", "text", "by"};
	*out = NULL;
	const char *id, *tname, *by, *text = NULL;
	int64_t color;
	if (!cJSON_IsObject(v)) {
		snprintf(d->why, sizeof(d->why), "must be an object");
		return RK_ECORRUPT;
	}
	if (!keys_ok(d, v, fields, RK_ARRAY_LEN(fields)) || !get_id(d, v, key, &id) ||
	    !get_str(d, v, "type", 1, 16, &tname) ||
	    !get_int(d, v, "color", 0, RK_COLORS - 1, &color) ||
	    !get_str(d, v, "by", 1, RK_NAME_MAX, &by))
		return RK_ECORRUPT;
	rk_shape_type type = RK_SHAPE_NONE;
	for (int t = RK_SHAPE_STROKE; t <= RK_SHAPE_TEXT; t++)
		if (strcmp(tname, rk_shape_type_name((rk_shape_type)t)) == 0)
			type = (rk_shape_type)t;
	if (type == RK_SHAPE_NONE) {
		snprintf(d->why, sizeof(d->why), "type: unknown shape type");
		return RK_ECORRUPT;
	}
	const cJSON *tn = cJSON_GetObjectItemCaseSensitive(v, "text");
	if (tn) {
		if (!cJSON_IsString(tn) || !tn->valuestring) {
			snprintf(d->why, sizeof(d->why), "text: must be a string");
			return RK_ECORRUPT;
		}
		text = tn->valuestring;
	}
	const cJSON *pn = cJSON_GetObjectItemCaseSensitive(v, "points");
	size_t npts = 0;
	if (pn) {
		if (!cJSON_IsArray(pn)) {
			snprintf(d->why, sizeof(d->why), "points: must be an array");
			return RK_ECORRUPT;
		}
		const cJSON *it;
		cJSON_ArrayForEach(it, pn)
		{
			if (++npts > RK_POINTS_MAX)
				break;
		}
		if (npts == 0 || npts > RK_POINTS_MAX) {
			snprintf(d->why, sizeof(d->why), "points: must hold 1-%d points",
				 RK_POINTS_MAX);
			return RK_ECORRUPT;
		}
	}
	const char *rule = shape_rule(type, npts, text);
	if (rule) {
		snprintf(d->why, sizeof(d->why), "%s", rule);
		return RK_ECORRUPT;
	}
	rk_shape *sh = shape_alloc(id, by);
	if (!sh)
		return RK_ENOMEM;
	sh->type = type;
	sh->color = (int)color;
	if (npts) {
		sh->points = malloc(npts * sizeof(*sh->points));
		if (!sh->points) {
			shape_free(sh);
			return RK_ENOMEM;
		}
		size_t i = 0;
		const cJSON *it;
		cJSON_ArrayForEach(it, pn)
		{
			/* Exactly two children, walked directly (no index lookups). */
			const cJSON *x = cJSON_IsArray(it) ? it->child : NULL;
			const cJSON *y = x ? x->next : NULL;
			if (!y || y->next ||
			    !rk_jint(x, -RK_INT_MAX, RK_INT_MAX, &sh->points[i].x) ||
			    !rk_jint(y, -RK_INT_MAX, RK_INT_MAX, &sh->points[i].y)) {
				snprintf(d->why, sizeof(d->why),
					 "points[%zu]: must be [x,y] integers", i);
				shape_free(sh);
				return RK_ECORRUPT;
			}
			i++;
		}
		sh->npoints = npts;
	}
	if (text && !dup_text(&sh->text, text)) {
		shape_free(sh);
		return RK_ENOMEM;
	}
	*out = sh;
	return RK_OK;
}

static rk_err decode_poll(dctx *d, const cJSON *v, const char *key, rk_poll **out)
{
	static const char *const fields[] = {"id",    "question", "options",   "tally",
					     "votes", "closed",	  "closes_at", "by"};
	*out = NULL;
	const char *id, *question, *by;
	if (!cJSON_IsObject(v)) {
		snprintf(d->why, sizeof(d->why), "must be an object");
		return RK_ECORRUPT;
	}
	if (!keys_ok(d, v, fields, RK_ARRAY_LEN(fields)) || !get_id(d, v, key, &id) ||
	    !get_str(d, v, "question", 1, RK_QUESTION_MAX, &question) ||
	    !get_str(d, v, "by", 1, RK_NAME_MAX, &by))
		return RK_ECORRUPT;

	const cJSON *on = cJSON_GetObjectItemCaseSensitive(v, "options");
	char *opts[RK_OPTIONS_MAX];
	size_t nopts = 0;
	if (!cJSON_IsArray(on)) {
		snprintf(d->why, sizeof(d->why), "options: must be an array");
		return RK_ECORRUPT;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, on)
	{
		if (nopts == RK_OPTIONS_MAX) {
			nopts++;
			break;
		}
		if (!cJSON_IsString(it) || !text_ok(it->valuestring, 1, RK_OPTION_MAX)) {
			snprintf(d->why, sizeof(d->why),
				 "options[%zu]: must be a string of 1-%d characters",
				 nopts, RK_OPTION_MAX);
			return RK_ECORRUPT;
		}
		opts[nopts++] = it->valuestring;
	}
	if (nopts < RK_OPTIONS_MIN || nopts > RK_OPTIONS_MAX) {
		snprintf(d->why, sizeof(d->why), "options: must hold %d-%d options",
			 RK_OPTIONS_MIN, RK_OPTIONS_MAX);
		return RK_ECORRUPT;
	}

	int64_t tally[RK_OPTIONS_MAX];
	size_t nt = 0;
	const cJSON *tn = cJSON_GetObjectItemCaseSensitive(v, "tally");
	if (!cJSON_IsArray(tn)) {
		snprintf(d->why, sizeof(d->why), "tally: must be an array");
		return RK_ECORRUPT;
	}
	cJSON_ArrayForEach(it, tn)
	{
		if (nt == nopts || !rk_jint(it, 0, RK_INT_MAX, &tally[nt])) {
			snprintf(d->why, sizeof(d->why),
				 "tally: must be %zu counts, one per option", nopts);
			return RK_ECORRUPT;
		}
		nt++;
	}
	if (nt != nopts) {
		snprintf(d->why, sizeof(d->why),
			 "tally: must be %zu counts, one per option", nopts);
		return RK_ECORRUPT;
	}

	const cJSON *cn = cJSON_GetObjectItemCaseSensitive(v, "closed");
	if (!cJSON_IsBool(cn)) {
		snprintf(d->why, sizeof(d->why), "closed: must be a boolean");
		return RK_ECORRUPT;
	}
	int64_t closes_at = 0;
	if (cJSON_GetObjectItemCaseSensitive(v, "closes_at") &&
	    !get_int(d, v, "closes_at", 1, RK_INT_MAX, &closes_at))
		return RK_ECORRUPT;

	const cJSON *vn = cJSON_GetObjectItemCaseSensitive(v, "votes");
	if (!cJSON_IsObject(vn)) {
		snprintf(d->why, sizeof(d->why), "votes: must be an object");
		return RK_ECORRUPT;
	}

	rk_poll *p = poll_alloc(id, question, opts, nopts, by);
	if (!p)
		return RK_ENOMEM;
	p->closed = cJSON_IsTrue(cn);
	p->closes_at = closes_at;
	cJSON_ArrayForEach(it, vn)
	{
		int64_t c;
		const char *u = it->string;
		if (!user_ok(u)) {
			snprintf(d->why, sizeof(d->why), "votes: bad user name");
			goto corrupt;
		}
		if (!rk_jint(it, 0, (int64_t)nopts - 1, &c)) {
			snprintf(d->why, sizeof(d->why), "votes.%.40s: must be 0-%zu", u,
				 nopts - 1);
			goto corrupt;
		}
		size_t ul = strlen(u);
		if (rk_omap_get(&p->votes, u, ul)) {
			snprintf(d->why, sizeof(d->why), "votes.%.40s: duplicate", u);
			goto corrupt;
		}
		if (rk_omap_put(&p->votes, u, ul, vote_val((int)c)) != RK_OK) {
			poll_free(p);
			return RK_ENOMEM;
		}
		p->tally[c]++;
	}
	if (memcmp(p->tally, tally, nopts * sizeof(*tally)) != 0) {
		snprintf(d->why, sizeof(d->why), "tally: does not match the votes");
		goto corrupt;
	}
	*out = p;
	return RK_OK;
corrupt:
	poll_free(p);
	return RK_ECORRUPT;
}

static rk_err decode_chat(dctx *d, const cJSON *v, rk_chat *c)
{
	static const char *const fields[] = {"seq", "ts", "user", "id", "text"};
	int64_t seq, ts;
	const char *user, *text, *id = "";
	if (!cJSON_IsObject(v)) {
		snprintf(d->why, sizeof(d->why), "must be an object");
		return RK_ECORRUPT;
	}
	if (!keys_ok(d, v, fields, RK_ARRAY_LEN(fields)) ||
	    !get_int(d, v, "seq", 0, RK_INT_MAX, &seq) ||
	    !get_int(d, v, "ts", 0, RK_INT_MAX, &ts) ||
	    !get_str(d, v, "user", 1, RK_NAME_MAX, &user) ||
	    !get_str(d, v, "text", 1, RK_TEXT_MAX, &text))
		return RK_ECORRUPT;
	/* Optional: snapshots written before revision 2 have no ids. */
	if (cJSON_GetObjectItemCaseSensitive(v, "id")) {
		if (!get_str(d, v, "id", 1, RK_ID_MAX, &id))
			return RK_ECORRUPT;
		if (!id_ok(id)) {
			snprintf(d->why, sizeof(d->why), "id: must be 1-%d bytes",
				 RK_ID_MAX);
			return RK_ECORRUPT;
		}
	}
	return chat_fill(c, seq, ts, user, id, text) ? RK_OK : RK_ENOMEM;
}

/* The members of a snapshot's "shapes" (polls false) or "polls" object
 * into map, each key once and each member decoded whole. Returns RK_OK, or
 * RK_ECORRUPT / RK_ENOMEM with "<shape|poll> \"<key>\": <why>" in err for
 * the first bad member (map keeps the members before it; the caller frees
 * the state). */
static rk_err decode_members(dctx *d, const cJSON *obj, bool polls, rk_omap *map,
			     char *err, size_t errlen)
{
	const char *what = polls ? "poll" : "shape";
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		const char *key = it->string ? it->string : "";
		size_t kl = strlen(key);
		if (rk_omap_get(map, key, kl))
			return rk_jfail(err, errlen, RK_ECORRUPT,
					"%s \"%.64s\": duplicate id", what, key);
		rk_shape *sh = NULL;
		rk_poll *p = NULL;
		rk_err rc =
		    polls ? decode_poll(d, it, key, &p) : decode_shape(d, it, key, &sh);
		if (rc != RK_OK)
			return rk_jfail(err, errlen, rc, "%s \"%.64s\": %s", what, key,
					rc == RK_ENOMEM ? "out of memory" : d->why);
		if (rk_omap_put(map, key, kl, polls ? (void *)p : (void *)sh) != RK_OK) {
			shape_free(sh);
			poll_free(p);
			return rk_jfail(err, errlen, RK_ENOMEM, "out of memory");
		}
	}
	return RK_OK;
}

rk_err rk_state_decode(const cJSON *obj, rk_state **out, char *err, size_t errlen)
{
	static const char *const fields[] = {"shapes", "polls", "chat"};
	dctx d = {{0}};
	*out = NULL;
	if (!cJSON_IsObject(obj))
		return rk_jfail(err, errlen, RK_ECORRUPT, "state: must be an object");
	if (!keys_ok(&d, obj, fields, RK_ARRAY_LEN(fields)))
		return rk_jfail(err, errlen, RK_ECORRUPT, "state: %s", d.why);
	const cJSON *shapes = cJSON_GetObjectItemCaseSensitive(obj, "shapes");
	const cJSON *polls = cJSON_GetObjectItemCaseSensitive(obj, "polls");
	const cJSON *chat = cJSON_GetObjectItemCaseSensitive(obj, "chat");
	if (!cJSON_IsObject(shapes) || !cJSON_IsObject(polls) || !cJSON_IsArray(chat))
		return rk_jfail(
		    err, errlen, RK_ECORRUPT,
		    "state: needs objects \"shapes\" and \"polls\" and array \"chat\"");
	rk_state *st = rk_state_new();
	if (!st)
		return rk_jfail(err, errlen, RK_ENOMEM, "out of memory");
	rk_err rc = decode_members(&d, shapes, false, &st->shapes, err, errlen);
	if (rc == RK_OK)
		rc = decode_members(&d, polls, true, &st->polls, err, errlen);
	if (rc != RK_OK)
		goto fail;
	const cJSON *it;
	size_t i = 0;
	cJSON_ArrayForEach(it, chat)
	{
		if (i == RK_CHAT_KEEP) {
			rc = rk_jfail(err, errlen, RK_ECORRUPT,
				      "chat: more than %d posts", RK_CHAT_KEEP);
			goto fail;
		}
		rk_chat c;
		rc = decode_chat(&d, it, &c);
		if (rc != RK_OK) {
			rc = rk_jfail(err, errlen, rc, "chat[%zu]: %s", i,
				      rc == RK_ENOMEM ? "out of memory" : d.why);
			goto fail;
		}
		if (!chat_push(st, &c)) {
			rc = rk_jfail(err, errlen, RK_ENOMEM, "chat[%zu]: out of memory",
				      i);
			goto fail;
		}
		i++;
	}
	*out = st;
	return RK_OK;
fail:
	rk_state_free(st);
	return rc;
}

rk_err rk_state_decode_text(const char *s, size_t n, rk_state **out, char *err,
			    size_t errlen)
{
	char jerr[RK_MSG_MSG_MAX];
	*out = NULL;
	if (!s)
		return rk_jfail(err, errlen, RK_ECORRUPT, "state: no text");
	cJSON *root =
	    rk_json_parse(s, n, SIZE_MAX / 2, RK_JSON_DEPTH_MAX, jerr, sizeof(jerr));
	if (!root) {
		/* Stored text that does not parse is a corrupt snapshot. */
		return rk_jfail(err, errlen, RK_ECORRUPT, "state: %s", jerr);
	}
	rk_err rc = rk_state_decode(root, out, err, errlen);
	cJSON_Delete(root);
	return rc;
}

/* ---- clone, alarm ------------------------------------------------------- */

static rk_poll *poll_copy(const rk_poll *src)
{
	rk_poll *p =
	    poll_alloc(src->id, src->question, src->options, src->noptions, src->by);
	if (!p)
		return NULL;
	memcpy(p->tally, src->tally, src->noptions * sizeof(*p->tally));
	p->closed = src->closed;
	p->closes_at = src->closes_at;
	const rk_omap_entry *e;
	for (size_t i = 0; rk_omap_next(&src->votes, &i, &e);) {
		if (rk_omap_put(&p->votes, e->key, e->klen, e->val) != RK_OK) {
			poll_free(p);
			return NULL;
		}
	}
	return p;
}

rk_state *rk_state_clone(const rk_state *st)
{
	rk_state *c = rk_state_new();
	if (!c)
		return NULL;
	const rk_omap_entry *e;
	for (size_t i = 0; rk_omap_next(&st->shapes, &i, &e);) {
		const rk_shape *s = e->val;
		rk_shape *sh = shape_make(s->id, s->by, s->type, s->color, s->points,
					  s->npoints, s->text);
		if (!sh)
			goto fail;
		if (rk_omap_put(&c->shapes, e->key, e->klen, sh) != RK_OK) {
			shape_free(sh);
			goto fail;
		}
	}
	for (size_t i = 0; rk_omap_next(&st->polls, &i, &e);) {
		rk_poll *p = poll_copy(e->val);
		if (!p)
			goto fail;
		if (rk_omap_put(&c->polls, e->key, e->klen, p) != RK_OK) {
			poll_free(p);
			goto fail;
		}
	}
	for (size_t i = 0; i < st->chat_len; i++) {
		const rk_chat *src = rk_state_chat_at(st, i);
		rk_chat ch;
		if (!chat_fill(&ch, src->seq, src->ts, src->user, src->id, src->text))
			goto fail;
		if (!chat_push(c, &ch))
			goto fail;
	}
	return c;
fail:
	rk_state_free(c);
	return NULL;
}

bool rk_state_next_alarm(const rk_state *st, const rk_poll **poll)
{
	const rk_poll *best = NULL;
	const rk_omap_entry *e;
	for (size_t i = 0; rk_omap_next(&st->polls, &i, &e);) {
		const rk_poll *p = e->val;
		if (p->closed || p->closes_at == 0)
			continue;
		if (!best || p->closes_at < best->closes_at)
			best = p;
	}
	if (poll)
		*poll = best;
	return best != NULL;
}
