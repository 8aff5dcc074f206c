/*
 * render.h - the pure part of drawing: a room state and a viewport become a
 * grid of character cells (ASCII, one color each), and small text helpers
 * (poll bars, truncation). No curses: the UI copies a grid to a window, and
 * tests compare grids with golden text.
 *
 * Board coordinates map one to one onto cells: board (x, y) is at column
 * x - vx, row y - vy of a viewport whose top-left corner is (vx, vy).
 * Shapes are drawn in z-order (insertion order), later ones on top.
 */
#ifndef RT_RENDER_H
#define RT_RENDER_H

#include "state.h"

enum {
	TR_COLOR_NONE = 0xff, /* an empty cell's color */
	TR_ATTR_SELECTED = 1, /* the selected shape */
	TR_ATTR_PENDING = 2,  /* a shape not yet committed */
	TR_ATTR_MARKER = 4,   /* a cursor marker or its label */
};

typedef struct tr_cell {
	char ch;	     /* ' ' when empty */
	unsigned char color; /* 0..7, or TR_COLOR_NONE */
	unsigned char attr;  /* TR_ATTR_* */
} tr_cell;

typedef struct tr_grid {
	int w, h;	/* columns, rows */
	tr_cell *cells; /* w * h, row-major, owned */
} tr_grid;

/* Allocate a blank w x h grid (w, h >= 0). RK_OK or RK_ENOMEM. */
RK_WARN_UNUSED rk_err tr_grid_init(tr_grid *g, int w, int h);
void tr_grid_free(tr_grid *g);
/* Blank every cell. */
void tr_grid_clear(tr_grid *g);
/* The cell at (col, row), or NULL outside. */
tr_cell *tr_at(tr_grid *g, int col, int row);

/* Which shape is special: selected id (or NULL), and a predicate for
 * pending shapes (or NULL). */
typedef struct tr_board_opts {
	const char *selected;
	bool (*pending)(const void *ctx, const char *shape_id);
	const void *ctx;
} tr_board_opts;

/* Draw every shape of st visible through the viewport at (vx, vy) into g.
 * Strokes: '*' at each point, joined by '*'; lines: '-', '|', '/', '\\' by
 * slope; rects: '+' corners, '-' and '|' edges; text: its characters from
 * the anchor (non-ASCII bytes as '?'). opts may be NULL. */
void tr_board(tr_grid *g, const rk_state *st, int64_t vx, int64_t vy,
	      const tr_board_opts *opts);

/* Draw a shape that is not in a state (a stroke being drawn, a line or
 * rect being placed) with attr TR_ATTR_PENDING. */
void tr_preview(tr_grid *g, int64_t vx, int64_t vy, rk_shape_type type,
		const rk_point *pts, size_t n, int color);

/* Put a marker ch at board (x, y) with a label after it (a peer's cursor,
 * or the pen): clipped to the grid. */
void tr_marker(tr_grid *g, int64_t vx, int64_t vy, int64_t x, int64_t y, char ch,
	       const char *label, int color);

/* The grid as text: h lines of w characters, each ending in '\n'. Appends
 * to b. */
void tr_grid_text(const tr_grid *g, rk_buf *b);

/* A bar of width w (>= 0) for count out of max: '#' filled proportionally
 * (rounded; at least one '#' when count > 0), '.' for the rest. out needs
 * w + 1 bytes. */
void tr_bar(char *out, int w, int64_t count, int64_t max);

/* The shape of st whose cells include board (x, y) (topmost), or NULL. */
const rk_shape *tr_shape_at(const rk_state *st, int64_t x, int64_t y);

#endif
