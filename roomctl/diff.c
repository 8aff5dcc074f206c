/* diff.c - roomctl diff: what changed between two room states. */
#include <string.h>

#include "roomctl.h"

static const ctl_opt diff_opts[] = {{"--at", true, true}, {NULL, false, false}};

static bool points_equal(const rk_shape *a, const rk_shape *b)
{
	if (a->npoints != b->npoints)
		return false;
	for (size_t i = 0; i < a->npoints; i++)
		if (a->points[i].x != b->points[i].x || a->points[i].y != b->points[i].y)
			return false;
	return true;
}

static bool str_equal(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void shape_line(FILE *f, char sign, const rk_shape *s)
{
	fprintf(f, "%c shape %s (%s, color %d, %zu points", sign, s->id,
		rk_shape_type_name(s->type), s->color, s->npoints);
	if (s->text)
		fprintf(f, ", text \"%s\"", s->text);
	fprintf(f, ", by %s)\n", s->by);
}

static void tally_str(const rk_poll *p, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < p->noptions && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%lld", i ? "/" : "",
				      (long long)p->tally[i]);
}

/* Print the differences from a to b; returns how many lines. */
static size_t diff_states(FILE *f, const rk_state *a, const rk_state *b)
{
	size_t n = 0, it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&a->shapes, &it, &e)) {
		if (!rk_omap_get(&b->shapes, e->key, e->klen)) {
			shape_line(f, '-', e->val);
			n++;
		}
	}
	it = 0;
	while (rk_omap_next(&b->shapes, &it, &e)) {
		const rk_shape *sb = e->val;
		const rk_shape *sa = rk_omap_get(&a->shapes, e->key, e->klen);
		if (!sa) {
			shape_line(f, '+', sb);
			n++;
			continue;
		}
		bool color = sa->color != sb->color, pts = !points_equal(sa, sb),
		     text = !str_equal(sa->text, sb->text);
		if (!color && !pts && !text)
			continue;
		fprintf(f, "~ shape %s:", sb->id);
		if (color)
			fprintf(f, " color %d -> %d", sa->color, sb->color);
		if (pts)
			fprintf(f, "%s points changed (%zu -> %zu)", color ? "," : "",
				sa->npoints, sb->npoints);
		if (text)
			fprintf(f, "%s text \"%s\" -> \"%s\"", color || pts ? "," : "",
				sa->text ? sa->text : "", sb->text ? sb->text : "");
		fputc('\n', f);
		n++;
	}
	it = 0;
	while (rk_omap_next(&a->polls, &it, &e)) {
		if (!rk_omap_get(&b->polls, e->key, e->klen)) {
			fprintf(f, "- poll %s\n", ((const rk_poll *)e->val)->id);
			n++;
		}
	}
	it = 0;
	char t1[256], t2[256];
	while (rk_omap_next(&b->polls, &it, &e)) {
		const rk_poll *pb = e->val;
		const rk_poll *pa = rk_omap_get(&a->polls, e->key, e->klen);
		tally_str(pb, t2, sizeof(t2));
		if (!pa) {
			fprintf(f, "+ poll %s \"%s\" (%zu options, tally %s%s, by %s)\n",
				pb->id, pb->question, pb->noptions, t2,
				pb->closed ? ", closed" : "", pb->by);
			n++;
			continue;
		}
		tally_str(pa, t1, sizeof(t1));
		size_t va = rk_omap_count(&pa->votes), vb = rk_omap_count(&pb->votes);
		bool tally = strcmp(t1, t2) != 0, closed = pa->closed != pb->closed;
		bool votes = va != vb;
		if (!tally && !closed && !votes)
			continue;
		fprintf(f, "~ poll %s:", pb->id);
		if (votes)
			fprintf(f, " votes %zu -> %zu", va, vb);
		if (tally)
			fprintf(f, "%s tally %s -> %s", votes ? "," : "", t1, t2);
		if (closed)
			fprintf(f, "%s %s", votes || tally ? "," : "",
				pb->closed ? "closed" : "reopened");
		fputc('\n', f);
		n++;
	}
	const rk_chat *last_a = a->chat_len ? rk_state_chat_at(a, a->chat_len - 1) : NULL;
	for (size_t i = 0; i < b->chat_len; i++) {
		const rk_chat *m = rk_state_chat_at(b, i);
		if (last_a && m->seq <= last_a->seq)
			continue;
		fprintf(f, "+ chat [%lld] %s: %s\n", (long long)m->seq, m->user, m->text);
		n++;
	}
	return n;
}

static int load_state(ctl_ctx *c, const char *path, int64_t at, rk_state **st,
		      int64_t *reached)
{
	rdb d;
	char err[512];
	if (rdb_open(&d, path, false, err, sizeof(err)) != RK_EXIT_OK ||
	    rdb_replay(&d, at, false, st, reached, err, sizeof(err)) != RK_EXIT_OK) {
		rdb_close(&d);
		return ctl_fail(c, "%s", err);
	}
	rdb_close(&d);
	return RK_EXIT_OK;
}

int cmd_diff(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse(c, argc, argv, diff_opts, 2, &a);
	if (rc != RK_CLI_GO)
		return rc;
	int at_i = ctl_opt_index(diff_opts, "--at");
	int nat = a.opt[at_i].n;
	const char *pa, *pb;
	int64_t at_a = -1, at_b = -1;
	if (a.npos == 2 && nat == 0) {
		pa = a.pos[0];
		pb = a.pos[1];
	} else if (a.npos == 1 && nat == 2) {
		pa = pb = a.pos[0];
		if (ctl_int(c, "--at", a.opt[at_i].vals[0], 0, RK_INT_MAX, &at_a) ||
		    ctl_int(c, "--at", a.opt[at_i].vals[1], 0, RK_INT_MAX, &at_b))
			return RK_EXIT_USAGE;
	} else {
		return ctl_usage(c, "give two room files, or one with --at N --at M");
	}
	rk_state *sa = NULL, *sb = NULL;
	int64_t ra, rb;
	if (load_state(c, pa, at_a, &sa, &ra) || load_state(c, pb, at_b, &sb, &rb)) {
		rk_state_free(sa);
		return RK_EXIT_FAIL;
	}
	if (pa == pb)
		fprintf(c->out, "--- %s @ seq %lld\n+++ %s @ seq %lld\n", pa,
			(long long)ra, pb, (long long)rb);
	else
		fprintf(c->out, "--- %s (seq %lld)\n+++ %s (seq %lld)\n", pa,
			(long long)ra, pb, (long long)rb);
	if (diff_states(c->out, sa, sb) == 0)
		fputs("no differences\n", c->out);
	rk_state_free(sa);
	rk_state_free(sb);
	return RK_EXIT_OK;
}
