/*
 * render.c - room state -> character grid (see render.h). Every primitive
 * clips to the viewport before it loops, so a shape a billion cells long
 * costs what its visible part costs.
 */
#include "render.h"
#include <stdlib.h>
#include <string.h>

rk_err tr_grid_init(tr_grid *g, int w, int h)
{
	g->w = w > 0 ? w : 0;
	g->h = h > 0 ? h : 0;
	g->cells = calloc((size_t)g->w * (size_t)g->h + 1, sizeof(*g->cells));
	if (!g->cells) {
		g->w = g->h = 0;
		return RK_ENOMEM;
	}
	tr_grid_clear(g);
	return RK_OK;
}

void tr_grid_free(tr_grid *g)
{
	RK_FREE(g->cells);
	g->w = g->h = 0;
}

void tr_grid_clear(tr_grid *g)
{
	for (size_t i = 0; i < (size_t)g->w * (size_t)g->h; i++)
		g->cells[i] = (tr_cell){' ', TR_COLOR_NONE, 0};
}

tr_cell *tr_at(tr_grid *g, int col, int row)
{
	if (col < 0 || row < 0 || col >= g->w || row >= g->h)
		return NULL;
	return &g->cells[(size_t)row * (size_t)g->w + (size_t)col];
}

/* Drawing context of one shape. */
typedef struct pen {
	tr_grid *g;
	int64_t vx, vy;
	unsigned char color, attr;
} pen;

static void plot(const pen *p, int64_t x, int64_t y, char ch)
{
	int64_t c = x - p->vx, r = y - p->vy;
	if (c < 0 || r < 0 || c >= p->g->w || r >= p->g->h)
		return;
	tr_cell *cell = tr_at(p->g, (int)c, (int)r);
	cell->ch = ch;
	cell->color = p->color;
	cell->attr = p->attr;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* n / d rounded to nearest (d > 0), exact in 128 bits. */
static int64_t div_round(__int128 n, __int128 d)
{
	if (n >= 0)
		return (int64_t)((n + d / 2) / d);
	return (int64_t)(-((-n + d / 2) / d));
}

/* A segment, stepping along its major axis over the visible range only. */
static void segment(const pen *p, rk_point a, rk_point b, char ch)
{
	int64_t dx = b.x - a.x, dy = b.y - a.y;
	int64_t adx = dx < 0 ? -dx : dx, ady = dy < 0 ? -dy : dy;
	if (adx == 0 && ady == 0) {
		plot(p, a.x, a.y, ch);
		return;
	}
	if (adx >= ady) {
		int64_t lo = max64(min64(a.x, b.x), p->vx);
		int64_t hi = min64(max64(a.x, b.x), p->vx + p->g->w - 1);
		for (int64_t x = lo; x <= hi; x++) {
			__int128 num = (__int128)(x - a.x) * dy;
			int64_t y =
			    a.y + (dx > 0 ? div_round(num, dx) : div_round(-num, -dx));
			plot(p, x, y, ch);
		}
	} else {
		int64_t lo = max64(min64(a.y, b.y), p->vy);
		int64_t hi = min64(max64(a.y, b.y), p->vy + p->g->h - 1);
		for (int64_t y = lo; y <= hi; y++) {
			__int128 num = (__int128)(y - a.y) * dx;
			int64_t x =
			    a.x + (dy > 0 ? div_round(num, dy) : div_round(-num, -dy));
			plot(p, x, y, ch);
		}
	}
}

static char slope_char(rk_point a, rk_point b)
{
	int64_t dx = b.x - a.x, dy = b.y - a.y;
	int64_t adx = dx < 0 ? -dx : dx, ady = dy < 0 ? -dy : dy;
	if (ady * 2 < adx || (adx == 0 && ady == 0))
		return '-';
	if (adx * 2 < ady)
		return '|';
	return (dx > 0) == (dy > 0) ? '\\' : '/';
}

static void rect(const pen *p, rk_point a, rk_point b)
{
	int64_t x0 = min64(a.x, b.x), x1 = max64(a.x, b.x);
	int64_t y0 = min64(a.y, b.y), y1 = max64(a.y, b.y);
	segment(p, (rk_point){x0, y0}, (rk_point){x1, y0}, '-');
	segment(p, (rk_point){x0, y1}, (rk_point){x1, y1}, '-');
	segment(p, (rk_point){x0, y0}, (rk_point){x0, y1}, '|');
	segment(p, (rk_point){x1, y0}, (rk_point){x1, y1}, '|');
	plot(p, x0, y0, '+');
	plot(p, x1, y0, '+');
	plot(p, x0, y1, '+');
	plot(p, x1, y1, '+');
}

static void text(const pen *p, rk_point at, const char *s)
{
	int64_t x = at.x, y = at.y;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '\n') {
			x = at.x;
			y++;
			continue;
		}
		if ((*c & 0xc0) == 0x80)
			continue; /* UTF-8 continuation: counted with its lead */
		char ch = *c >= 0x80 ? '?' : (*c < 0x20 || *c == 0x7f) ? ' ' : (char)*c;
		plot(p, x++, y, ch);
	}
}

static void shape(const pen *p, const rk_shape *s)
{
	switch (s->type) {
	case RK_SHAPE_STROKE:
		for (size_t i = 0; i + 1 < s->npoints; i++)
			segment(p, s->points[i], s->points[i + 1], '*');
		if (s->npoints == 1)
			plot(p, s->points[0].x, s->points[0].y, '*');
		break;
	case RK_SHAPE_LINE:
		if (s->npoints == 2)
			segment(p, s->points[0], s->points[1],
				slope_char(s->points[0], s->points[1]));
		break;
	case RK_SHAPE_RECT:
		if (s->npoints == 2)
			rect(p, s->points[0], s->points[1]);
		break;
	case RK_SHAPE_TEXT:
		if (s->npoints >= 1 && s->text)
			text(p, s->points[0], s->text);
		break;
	default:
		break;
	}
}

void tr_board(tr_grid *g, const rk_state *st, int64_t vx, int64_t vy,
	      const tr_board_opts *opts)
{
	const rk_omap_entry *e;
	for (size_t it = 0; rk_omap_next(&st->shapes, &it, &e);) {
		const rk_shape *s = e->val;
		pen p = {g, vx, vy, (unsigned char)(s->color & 7), 0};
		if (opts && opts->selected && strcmp(opts->selected, s->id) == 0)
			p.attr |= TR_ATTR_SELECTED;
		if (opts && opts->pending && opts->pending(opts->ctx, s->id))
			p.attr |= TR_ATTR_PENDING;
		shape(&p, s);
	}
}

void tr_preview(tr_grid *g, int64_t vx, int64_t vy, rk_shape_type type,
		const rk_point *pts, size_t n, int color)
{
	rk_shape s = {
	    .type = type, .color = color, .points = (rk_point *)pts, .npoints = n};
	pen p = {g, vx, vy, (unsigned char)(color & 7), TR_ATTR_PENDING};
	shape(&p, &s);
}

void tr_marker(tr_grid *g, int64_t vx, int64_t vy, int64_t x, int64_t y, char ch,
	       const char *label, int color)
{
	pen p = {g, vx, vy, (unsigned char)(color & 7), TR_ATTR_MARKER};
	plot(&p, x, y, ch);
	if (label)
		text(&p, (rk_point){x + 1, y}, label);
}

void tr_grid_text(const tr_grid *g, rk_buf *b)
{
	for (int r = 0; r < g->h; r++) {
		for (int c = 0; c < g->w; c++)
			rk_buf_putc(b, g->cells[(size_t)r * (size_t)g->w + (size_t)c].ch);
		rk_buf_putc(b, '\n');
	}
}

void tr_bar(char *out, int w, int64_t count, int64_t max)
{
	if (w < 0)
		w = 0;
	int64_t n = 0;
	if (max > 0 && count > 0) {
		n = (count * w * 2 + max) / (max * 2);
		if (n < 1)
			n = 1;
		if (n > w)
			n = w;
	}
	for (int i = 0; i < w; i++)
		out[i] = i < n ? '#' : '.';
	out[w] = '\0';
}

const rk_shape *tr_shape_at(const rk_state *st, int64_t x, int64_t y)
{
	tr_cell cell;
	tr_grid g = {1, 1, &cell};
	const rk_shape *hit = NULL;
	const rk_omap_entry *e;
	for (size_t it = 0; rk_omap_next(&st->shapes, &it, &e);) {
		const rk_shape *s = e->val;
		cell = (tr_cell){' ', TR_COLOR_NONE, 0};
		pen p = {&g, x, y, 0, 0};
		shape(&p, s);
		if (cell.ch != ' ')
			hit = s;
	}
	return hit;
}
