/* render.c - draw a room state as ASCII art: the board rasterized into a
 * character grid (strokes and lines '*', rect borders '#', text as its
 * characters), a legend, polls as bar charts and the last chat lines. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "roomctl.h"

enum {
	GRID_W_MAX = 120, /* board columns at most */
	GRID_H_MAX = 40,  /* board rows at most */
	CELL = 5,	  /* one UTF-8 character + NUL */
	BAR_W = 20,	  /* poll bar width */
	CHAT_LINES = 10,  /* chat lines shown */
};

typedef struct grid {
	int64_t minx, miny, sx, sy; /* board -> grid: (x - minx) / sx */
	int w, h;
	char *cells; /* w * h cells of CELL bytes */
} grid;

static void put(grid *g, int64_t col, int64_t row, const char *ch, size_t n)
{
	if (col < 0 || row < 0 || col >= g->w || row >= g->h || n >= CELL)
		return;
	char *c = g->cells + ((size_t)row * (size_t)g->w + (size_t)col) * CELL;
	memcpy(c, ch, n);
	c[n] = '\0';
}

static int64_t gx(const grid *g, int64_t x)
{
	return (x - g->minx) / g->sx;
}

static int64_t gy(const grid *g, int64_t y)
{
	return (y - g->miny) / g->sy;
}

/* Bresenham between two grid cells. */
static void line(grid *g, int64_t x0, int64_t y0, int64_t x1, int64_t y1, char ch)
{
	int64_t dx = x1 > x0 ? x1 - x0 : x0 - x1, sx = x0 < x1 ? 1 : -1;
	int64_t dy = y1 > y0 ? y0 - y1 : y1 - y0, sy = y0 < y1 ? 1 : -1;
	int64_t err = dx + dy;
	for (;;) {
		put(g, x0, y0, &ch, 1);
		if (x0 == x1 && y0 == y1)
			break;
		int64_t e2 = 2 * err;
		if (e2 >= dy) {
			err += dy;
			x0 += sx;
		}
		if (e2 <= dx) {
			err += dx;
			y0 += sy;
		}
	}
}

static void draw_shape(grid *g, const rk_shape *s)
{
	const rk_point *p = s->points;
	switch (s->type) {
	case RK_SHAPE_STROKE:
	case RK_SHAPE_LINE:
		for (size_t i = 0; i < s->npoints; i++) {
			size_t j = i + 1 < s->npoints ? i + 1 : i;
			line(g, gx(g, p[i].x), gy(g, p[i].y), gx(g, p[j].x),
			     gy(g, p[j].y), '*');
		}
		break;
	case RK_SHAPE_RECT: {
		if (s->npoints < 2)
			break;
		int64_t x0 = gx(g, p[0].x), y0 = gy(g, p[0].y);
		int64_t x1 = gx(g, p[1].x), y1 = gy(g, p[1].y);
		line(g, x0, y0, x1, y0, '#');
		line(g, x1, y0, x1, y1, '#');
		line(g, x1, y1, x0, y1, '#');
		line(g, x0, y1, x0, y0, '#');
		break;
	}
	case RK_SHAPE_TEXT: {
		if (!s->npoints || !s->text)
			break;
		int64_t col = gx(g, p[0].x), row = gy(g, p[0].y);
		const unsigned char *t = (const unsigned char *)s->text;
		while (*t && *t != '\n') {
			size_t n = *t < 0x80 ? 1 : *t < 0xe0 ? 2 : *t < 0xf0 ? 3 : 4;
			put(g, col++, row, (const char *)t, n);
			for (size_t i = 0; i < n && *t; i++)
				t++;
		}
		break;
	}
	default:
		break;
	}
}

static void render_board(FILE *f, const rk_state *st)
{
	size_t it = 0;
	const rk_omap_entry *e;
	bool any = false;
	int64_t minx = 0, miny = 0, maxx = 0, maxy = 0;
	while (rk_omap_next(&st->shapes, &it, &e)) {
		const rk_shape *s = e->val;
		for (size_t i = 0; i < s->npoints; i++) {
			const rk_point *p = &s->points[i];
			if (!any || p->x < minx)
				minx = p->x;
			if (!any || p->x > maxx)
				maxx = p->x;
			if (!any || p->y < miny)
				miny = p->y;
			if (!any || p->y > maxy)
				maxy = p->y;
			any = true;
		}
	}
	if (!any) {
		fputs("board: empty\n", f);
		return;
	}
	grid g = {.minx = minx, .miny = miny};
	int64_t w = maxx - minx + 1, h = maxy - miny + 1;
	g.sx = (w + GRID_W_MAX - 1) / GRID_W_MAX;
	g.sy = (h + GRID_H_MAX - 1) / GRID_H_MAX;
	int64_t gw = (w + g.sx - 1) / g.sx;
	/* Text is not scaled: widen the grid (up to the cap) to show it. */
	it = 0;
	while (rk_omap_next(&st->shapes, &it, &e)) {
		const rk_shape *s = e->val;
		if (s->type == RK_SHAPE_TEXT && s->text && s->npoints) {
			int64_t end = gx(&g, s->points[0].x) +
				      (int64_t)rk_utf8_len(s->text, strlen(s->text));
			if (end > gw)
				gw = end;
		}
	}
	g.w = (int)(gw < GRID_W_MAX ? gw : GRID_W_MAX);
	g.h = (int)((h + g.sy - 1) / g.sy);
	g.cells = calloc((size_t)g.w * (size_t)g.h, CELL);
	if (!g.cells) {
		fputs("board: (out of memory)\n", f);
		return;
	}
	for (size_t i = 0; i < (size_t)g.w * (size_t)g.h; i++)
		g.cells[i * CELL] = ' ';
	it = 0;
	while (rk_omap_next(&st->shapes, &it, &e))
		draw_shape(&g, e->val);
	fprintf(f, "board: %zu shapes, x %lld..%lld, y %lld..%lld",
		rk_omap_count(&st->shapes), (long long)minx, (long long)maxx,
		(long long)miny, (long long)maxy);
	if (g.sx > 1 || g.sy > 1)
		fprintf(f, ", 1 cell = %lldx%lld units", (long long)g.sx,
			(long long)g.sy);
	fputc('\n', f);
	fputc('+', f);
	for (int x = 0; x < g.w; x++)
		fputc('-', f);
	fputs("+\n", f);
	for (int y = 0; y < g.h; y++) {
		fputc('|', f);
		for (int x = 0; x < g.w; x++)
			fputs(g.cells + ((size_t)y * (size_t)g.w + (size_t)x) * CELL, f);
		fputs("|\n", f);
	}
	fputc('+', f);
	for (int x = 0; x < g.w; x++)
		fputc('-', f);
	fputs("+\n", f);
	free(g.cells);
	fputs("legend (z-order, bottom first; colors 0-7):\n", f);
	it = 0;
	while (rk_omap_next(&st->shapes, &it, &e)) {
		const rk_shape *s = e->val;
		char glyph = s->type == RK_SHAPE_RECT	? '#'
			     : s->type == RK_SHAPE_TEXT ? 'T'
							: '*';
		fprintf(f, "  %c %-6s %-10s color %d  by %s\n", glyph,
			rk_shape_type_name(s->type), s->id, s->color, s->by);
	}
}

static void render_polls(FILE *f, const rk_state *st)
{
	size_t it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&st->polls, &it, &e)) {
		const rk_poll *p = e->val;
		char when[40] = "";
		if (p->closes_at > 0 && !p->closed)
			ctl_fmt_ms(p->closes_at, when, sizeof(when));
		fprintf(f, "poll %s: %s  [%s%s%s, by %s]\n", p->id, p->question,
			p->closed ? "closed" : "open", when[0] ? ", closes " : "", when,
			p->by);
		int64_t max = 0;
		size_t wopt = 0;
		for (size_t i = 0; i < p->noptions; i++) {
			if (p->tally[i] > max)
				max = p->tally[i];
			size_t l = rk_utf8_len(p->options[i], strlen(p->options[i]));
			if (l > wopt)
				wopt = l;
		}
		for (size_t i = 0; i < p->noptions; i++) {
			int64_t bar = max ? p->tally[i] * BAR_W / max : 0;
			size_t l = rk_utf8_len(p->options[i], strlen(p->options[i]));
			fprintf(f, "  %s%*s |", p->options[i], (int)(wopt - l), "");
			for (int64_t k = 0; k < BAR_W; k++)
				fputc(k < bar ? '#' : ' ', f);
			fprintf(f, "| %lld\n", (long long)p->tally[i]);
		}
	}
}

static void render_chat(FILE *f, const rk_state *st)
{
	if (!st->chat_len)
		return;
	size_t from = st->chat_len > CHAT_LINES ? st->chat_len - CHAT_LINES : 0;
	fprintf(f, "chat (last %zu of %zu kept):\n", st->chat_len - from, st->chat_len);
	for (size_t i = from; i < st->chat_len; i++) {
		const rk_chat *m = rk_state_chat_at(st, i);
		fprintf(f, "  [%lld] %s: %s\n", (long long)m->seq, m->user, m->text);
	}
}

void ctl_render(FILE *f, const rk_state *st)
{
	render_board(f, st);
	render_polls(f, st);
	render_chat(f, st);
}
