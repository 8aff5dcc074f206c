/*
 * keys.c - keys and mouse -> app actions: focus, board tools (pen, line,
 * rect, text, select, delete), chat input, poll voting and the poll form.
 * Ops are built here and handed to app_submit, which predicts and sends.
 */
#include "tui.h"
#include <curses.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define KEY_CTRL(c) ((c)&0x1f)
#define KEY_ESC 27

static const char viewer_msg[] = "read-only: you joined as a viewer, drawing and "
				 "voting are disabled";

static bool can_edit(tui_app *a)
{
	if (a->model.role == RK_ROLE_VIEWER) {
		app_status(a, true, "%s", viewer_msg);
		return false;
	}
	return true;
}

/* ---- ops ---------------------------------------------------------------- */

static void submit_shape(tui_app *a, rk_shape_type type, const rk_point *pts, size_t n,
			 const char *text)
{
	rk_op op;
	memset(&op, 0, sizeof(op));
	char id[RK_ID_MAX + 1];
	tm_new_object_id(&a->model, id, sizeof(id));
	op.k = RK_OP_SHAPE_ADD;
	op.type = type;
	op.color = a->color;
	op.id = strdup(id);
	op.points = malloc(n * sizeof(*pts));
	op.npoints = n;
	op.text = text ? strdup(text) : NULL;
	if (!op.id || !op.points || (text && !op.text)) {
		rk_op_free(&op);
		app_status(a, true, "out of memory");
		return;
	}
	memcpy(op.points, pts, n * sizeof(*pts));
	app_submit(a, &op);
}

static void submit_simple(tui_app *a, rk_op_kind k, const char *id, const char *text,
			  int choice)
{
	rk_op op;
	memset(&op, 0, sizeof(op));
	op.k = k;
	op.id = id ? strdup(id) : NULL;
	op.text = text ? strdup(text) : NULL;
	op.choice = choice;
	if ((id && !op.id) || (text && !op.text)) {
		rk_op_free(&op);
		app_status(a, true, "out of memory");
		return;
	}
	app_submit(a, &op);
}

static void submit_poll(tui_app *a)
{
	rk_op op;
	memset(&op, 0, sizeof(op));
	char id[RK_ID_MAX + 1];
	tm_new_object_id(&a->model, id, sizeof(id));
	op.k = RK_OP_POLL_CREATE;
	op.id = strdup(id);
	op.question = strdup(a->form_question);
	op.options = calloc(a->form_nopts, sizeof(char *));
	bool ok = op.id && op.question && op.options;
	if (op.options) {
		op.noptions = a->form_nopts;
		for (size_t i = 0; i < a->form_nopts; i++)
			ok = ok && (op.options[i] = strdup(a->form_options[i]));
	}
	if (!ok) {
		rk_op_free(&op);
		app_status(a, true, "out of memory");
		return;
	}
	app_submit(a, &op);
}

/* ---- line editing ----------------------------------------------------------- */

static void input_clear(tui_app *a)
{
	a->input[0] = '\0';
	a->input_len = 0;
}

static void input_add(tui_app *a, wint_t wc)
{
	char mb[MB_LEN_MAX];
	mbstate_t st;
	memset(&st, 0, sizeof(st));
	size_t n = wcrtomb(mb, (wchar_t)wc, &st);
	if (n == (size_t)-1 || a->input_len + n + 1 > sizeof(a->input))
		return;
	memcpy(a->input + a->input_len, mb, n);
	a->input_len += n;
	a->input[a->input_len] = '\0';
}

static void input_backspace(tui_app *a)
{
	while (a->input_len > 0) {
		unsigned char c = (unsigned char)a->input[--a->input_len];
		if ((c & 0xc0) != 0x80)
			break;
	}
	a->input[a->input_len] = '\0';
}

/* Common editing; true if the key was consumed. */
static bool edit_key(tui_app *a, bool fn, wint_t k)
{
	if ((fn && k == KEY_BACKSPACE) || (!fn && (k == 127 || k == 8))) {
		input_backspace(a);
		return true;
	}
	if (!fn && k == KEY_CTRL('u')) {
		input_clear(a);
		return true;
	}
	if (!fn && k >= 0x20 && k != 127) {
		input_add(a, k);
		return true;
	}
	return false;
}

static bool is_enter(bool fn, wint_t k)
{
	return (fn && k == KEY_ENTER) || (!fn && (k == '\r' || k == '\n'));
}

/* The prompt line (text shape, poll form). */
static void prompt_key(tui_app *a, bool fn, wint_t k)
{
	if (!fn && k == KEY_ESC) {
		a->prompt = P_NONE;
		input_clear(a);
		app_status(a, false, "cancelled");
		return;
	}
	if (is_enter(fn, k)) {
		switch (a->prompt) {
		case P_TEXT:
			if (a->input_len) {
				rk_point pt = {a->px, a->py};
				submit_shape(a, RK_SHAPE_TEXT, &pt, 1, a->input);
			}
			a->prompt = P_NONE;
			break;
		case P_QUESTION:
			if (!a->input_len)
				return;
			snprintf(a->form_question, sizeof(a->form_question), "%s",
				 a->input);
			a->form_nopts = 0;
			a->prompt = P_OPTION;
			break;
		case P_OPTION:
			if (a->input_len && a->form_nopts < RK_OPTIONS_MAX) {
				snprintf(a->form_options[a->form_nopts],
					 sizeof(a->form_options[0]), "%s", a->input);
				a->form_nopts++;
				if (a->form_nopts < RK_OPTIONS_MAX)
					break;
			}
			if (a->form_nopts < RK_OPTIONS_MIN) {
				app_status(a, true, "a poll needs at least two options");
				break;
			}
			submit_poll(a);
			a->prompt = P_NONE;
			break;
		case P_NONE:
			break;
		}
		input_clear(a);
		return;
	}
	edit_key(a, fn, k);
}

/* ---- board -------------------------------------------------------------------- */

static void stroke_add(tui_app *a)
{
	if (a->nstroke && a->stroke[a->nstroke - 1].x == a->px &&
	    a->stroke[a->nstroke - 1].y == a->py)
		return;
	if (!a->stroke) {
		a->stroke = malloc(TUI_STROKE_MAX * sizeof(*a->stroke));
		if (!a->stroke)
			return;
	}
	a->stroke[a->nstroke++] = (rk_point){a->px, a->py};
	if (a->nstroke == TUI_STROKE_MAX) { /* full: commit and go on */
		submit_shape(a, RK_SHAPE_STROKE, a->stroke, a->nstroke, NULL);
		a->stroke[0] = a->stroke[a->nstroke - 1];
		a->nstroke = 1;
	}
}

static void pen_up(tui_app *a)
{
	if (a->pen_down && a->nstroke)
		submit_shape(a, RK_SHAPE_STROKE, a->stroke, a->nstroke, NULL);
	a->pen_down = false;
	a->nstroke = 0;
}

/* Keep the pen inside the viewport by panning. */
static void follow_pen(tui_app *a)
{
	int w, h;
	ui_board_size(a->ui, &w, &h);
	if (w <= 0 || h <= 0)
		return;
	if (a->px < a->vx)
		a->vx = a->px;
	if (a->px >= a->vx + w)
		a->vx = a->px - w + 1;
	if (a->py < a->vy)
		a->vy = a->py;
	if (a->py >= a->vy + h)
		a->vy = a->py - h + 1;
}

static void move_pen(tui_app *a, int dx, int dy)
{
	a->px += dx;
	a->py += dy;
	follow_pen(a);
	if (a->pen_down)
		stroke_add(a);
	app_cursor_moved(a);
}

static void set_tool(tui_app *a, tui_tool t)
{
	pen_up(a);
	a->have_anchor = false;
	if (t != T_VIEW && !can_edit(a))
		return;
	a->tool = t;
	static const char *const hints[] = {
	    "view: arrows pan; p l r t pick a tool",
	    "pen: move with arrows/hjkl, Space puts the pen down / up",
	    "line: Space marks the first point, then the second",
	    "rect: Space marks one corner, then the opposite one",
	    "text: Space or Enter writes text at the pen",
	};
	app_status(a, false, "%s", hints[t]);
}

/* Shapes whose bounding box meets the viewport, in z-order. */
static bool shape_visible(const rk_shape *s, int64_t vx, int64_t vy, int w, int h)
{
	if (!s->npoints)
		return false;
	int64_t x0 = s->points[0].x, x1 = x0, y0 = s->points[0].y, y1 = y0;
	for (size_t i = 1; i < s->npoints; i++) {
		x0 = s->points[i].x < x0 ? s->points[i].x : x0;
		x1 = s->points[i].x > x1 ? s->points[i].x : x1;
		y0 = s->points[i].y < y0 ? s->points[i].y : y0;
		y1 = s->points[i].y > y1 ? s->points[i].y : y1;
	}
	if (s->type == RK_SHAPE_TEXT && s->text)
		x1 += (int64_t)strlen(s->text);
	return x1 >= vx && x0 < vx + w && y1 >= vy && y0 < vy + h;
}

static void select_step(tui_app *a, int dir)
{
	const rk_state *v = tm_view(&a->model);
	if (!v)
		return;
	int w, h;
	ui_board_size(a->ui, &w, &h);
	const rk_shape *vis[512];
	size_t n = 0, cur = SIZE_MAX;
	const rk_omap_entry *e;
	for (size_t it = 0; rk_omap_next(&v->shapes, &it, &e) && n < RK_ARRAY_LEN(vis);) {
		const rk_shape *s = e->val;
		if (!shape_visible(s, a->vx, a->vy, w, h))
			continue;
		if (strcmp(s->id, a->selected) == 0)
			cur = n;
		vis[n++] = s;
	}
	if (!n) {
		a->selected[0] = '\0';
		app_status(a, false, "no shape in view");
		return;
	}
	size_t next =
	    cur == SIZE_MAX ? (dir > 0 ? 0 : n - 1) : (cur + n + (size_t)dir) % n;
	snprintf(a->selected, sizeof(a->selected), "%s", vis[next]->id);
	app_status(a, false, "selected %s by %s (x deletes)",
		   rk_shape_type_name(vis[next]->type), vis[next]->by);
}

static void board_key(tui_app *a, bool fn, wint_t k)
{
	int step = 1;
	int dx = 0, dy = 0;
	if (fn) {
		switch (k) {
		case KEY_LEFT:
			dx = -1;
			break;
		case KEY_RIGHT:
			dx = 1;
			break;
		case KEY_UP:
			dy = -1;
			break;
		case KEY_DOWN:
			dy = 1;
			break;
		case KEY_SLEFT:
			dx = -8;
			break;
		case KEY_SRIGHT:
			dx = 8;
			break;
		case KEY_PPAGE:
			dy = -8;
			break;
		case KEY_NPAGE:
			dy = 8;
			break;
		case KEY_DC:
			goto delete;
		default:
			return;
		}
		if (a->tool == T_VIEW) {
			a->vx += dx;
			a->vy += dy;
		} else {
			move_pen(a, dx, dy);
		}
		return;
	}
	if (a->tool != T_VIEW) {
		switch (k) {
		case 'h':
			dx = -step;
			break;
		case 'l':
			dx = step;
			break;
		case 'k':
			dy = -step;
			break;
		case 'j':
			dy = step;
			break;
		case 'H':
			dx = -8;
			break;
		case 'L':
			dx = 8;
			break;
		case 'K':
			dy = -8;
			break;
		case 'J':
			dy = 8;
			break;
		default:
			break;
		}
		if (dx || dy) {
			move_pen(a, dx, dy);
			return;
		}
	} else {
		switch (k) {
		case 'H':
			a->vx -= 8;
			return;
		case 'L':
			a->vx += 8;
			return;
		case 'K':
			a->vy -= 8;
			return;
		case 'J':
			a->vy += 8;
			return;
		default:
			break;
		}
	}
	switch (k) {
	case 'p':
		set_tool(a, T_STROKE);
		return;
	case 'l':
		set_tool(a, T_LINE);
		return;
	case 'r':
		set_tool(a, T_RECT);
		return;
	case 't':
		set_tool(a, T_TEXT);
		return;
	case 'v':
		set_tool(a, T_VIEW);
		return;
	case 'g':
		a->vx = a->vy = 0;
		return;
	case 'n':
		select_step(a, 1);
		return;
	case 'N':
		select_step(a, -1);
		return;
	case 's': {
		const rk_state *v = tm_view(&a->model);
		const rk_shape *s = v ? tr_shape_at(v, a->px, a->py) : NULL;
		snprintf(a->selected, sizeof(a->selected), "%s", s ? s->id : "");
		if (s)
			app_status(a, false, "selected %s by %s (x deletes)",
				   rk_shape_type_name(s->type), s->by);
		else
			app_status(a, false, "nothing under the pen");
		return;
	}
	case 'x':
		goto delete;
	case ' ':
	case '\r':
	case '\n':
		break;
	default:
		if (k >= '0' && k <= '7') {
			a->color = (int)(k - '0');
			app_status(a, false, "color %d", a->color);
		}
		return;
	}
	/* Space / Enter: the tool's action at the pen. */
	if (!can_edit(a))
		return;
	switch (a->tool) {
	case T_VIEW:
		app_status(a, false, "pick a tool first: p pen, l line, r rect, t text");
		break;
	case T_STROKE:
		if (a->pen_down) {
			pen_up(a);
		} else {
			a->pen_down = true;
			a->nstroke = 0;
			stroke_add(a);
		}
		break;
	case T_LINE:
	case T_RECT:
		if (!a->have_anchor) {
			a->anchor = (rk_point){a->px, a->py};
			a->have_anchor = true;
		} else {
			rk_point pts[2] = {a->anchor, {a->px, a->py}};
			submit_shape(a, a->tool == T_LINE ? RK_SHAPE_LINE : RK_SHAPE_RECT,
				     pts, 2, NULL);
			a->have_anchor = false;
		}
		break;
	case T_TEXT:
		a->prompt = P_TEXT;
		input_clear(a);
		break;
	}
	return;
	delete : if (!can_edit(a)) return;
	if (!a->selected[0]) {
		app_status(a, false, "select a shape first (n, N or s)");
		return;
	}
	submit_simple(a, RK_OP_SHAPE_DELETE, a->selected, NULL, 0);
	a->selected[0] = '\0';
}

/* ---- chat and polls -------------------------------------------------------------- */

static void chat_key(tui_app *a, bool fn, wint_t k)
{
	if (fn && k == KEY_PPAGE) {
		a->chat_scroll += 3;
		return;
	}
	if (fn && k == KEY_NPAGE) {
		a->chat_scroll = a->chat_scroll > 3 ? a->chat_scroll - 3 : 0;
		return;
	}
	if (is_enter(fn, k)) {
		if (!a->input_len || !can_edit(a))
			return;
		submit_simple(a, RK_OP_CHAT_POST, NULL, a->input, 0);
		input_clear(a);
		a->chat_scroll = 0;
		return;
	}
	edit_key(a, fn, k);
}

static const rk_poll *selected_poll(tui_app *a)
{
	const rk_state *v = tm_view(&a->model);
	if (!v)
		return NULL;
	const rk_omap_entry *e;
	size_t i = 0;
	for (size_t it = 0; rk_omap_next(&v->polls, &it, &e); i++)
		if (i == a->poll_sel)
			return e->val;
	return NULL;
}

static void polls_key(tui_app *a, bool fn, wint_t k)
{
	if (fn && k == KEY_UP) {
		if (a->poll_sel)
			a->poll_sel--;
		return;
	}
	if (fn && k == KEY_DOWN) {
		a->poll_sel++; /* clamped when drawn */
		return;
	}
	if (fn)
		return;
	if (k == 'c') {
		if (!can_edit(a))
			return;
		a->prompt = P_QUESTION;
		a->form_nopts = 0;
		input_clear(a);
		return;
	}
	const rk_poll *p = selected_poll(a);
	if (k == 'x') {
		if (!p) {
			app_status(a, false, "no poll selected");
			return;
		}
		if (can_edit(a)) {
			char id[RK_ID_MAX + 1];
			snprintf(id, sizeof(id), "%s", p->id);
			submit_simple(a, RK_OP_POLL_CLOSE, id, NULL, 0);
		}
		return;
	}
	if (k >= '0' && k <= '9') {
		if (!p) {
			app_status(a, false, "no poll to vote on (c creates one)");
			return;
		}
		int choice = k == '0' ? 9 : (int)(k - '1');
		if ((size_t)choice >= p->noptions) {
			app_status(a, true, "this poll has %zu options", p->noptions);
			return;
		}
		if (can_edit(a)) {
			char id[RK_ID_MAX + 1];
			snprintf(id, sizeof(id), "%s", p->id);
			submit_simple(a, RK_OP_POLL_VOTE, id, NULL, choice);
		}
	}
}

/* ---- mouse --------------------------------------------------------------------- */

#define WHEEL_ROWS 3

/* The mouse on the board. By tool: view drags the board (grab and pan);
 * pen draws a stroke while button 1 is held; line and rect take the press
 * and the release as their two points; text asks for the text where
 * clicked. Every tool follows the pointer with the pen (our cursor for the
 * others), and the wheel pans up and down. */
static void mouse_event(tui_app *a)
{
	MEVENT me;
	if (getmouse(&me) != OK)
		return;
	int w, h;
	ui_board_size(a->ui, &w, &h);
	bool inside = me.x >= 0 && me.x < w && me.y >= 1 && me.y <= h;
	if (me.bstate & (BUTTON4_PRESSED | BUTTON5_PRESSED)) {
		if (inside)
			a->vy += me.bstate & BUTTON4_PRESSED ? -WHEEL_ROWS : WHEEL_ROWS;
		return;
	}
	if (a->mouse_pan) {
		/* Keep the grabbed board point under the pointer. */
		a->vx = a->pan_vx - (me.x - a->pan_x);
		a->vy = a->pan_vy - (me.y - a->pan_y);
		if (me.bstate & BUTTON1_RELEASED)
			a->mouse_pan = false;
		return;
	}
	if (!inside) {
		if (me.bstate & BUTTON1_RELEASED)
			pen_up(a);
		return;
	}
	a->px = a->vx + me.x;
	a->py = a->vy + me.y - 1;
	if (me.bstate & BUTTON1_PRESSED) {
		a->focus = F_BOARD;
		switch (a->tool) {
		case T_VIEW:
			a->mouse_pan = true;
			a->pan_x = me.x;
			a->pan_y = me.y;
			a->pan_vx = a->vx;
			a->pan_vy = a->vy;
			break;
		case T_STROKE:
			if (can_edit(a)) {
				a->pen_down = true;
				a->nstroke = 0;
				stroke_add(a);
			}
			break;
		case T_LINE:
		case T_RECT:
			if (can_edit(a)) {
				a->anchor = (rk_point){a->px, a->py};
				a->have_anchor = true;
			}
			break;
		case T_TEXT:
			if (can_edit(a)) {
				a->prompt = P_TEXT;
				input_clear(a);
			}
			break;
		}
	} else if (me.bstate & BUTTON1_RELEASED) {
		if (a->pen_down)
			stroke_add(a);
		pen_up(a);
		if (a->have_anchor && (a->tool == T_LINE || a->tool == T_RECT)) {
			rk_point pts[2] = {a->anchor, {a->px, a->py}};
			submit_shape(a, a->tool == T_LINE ? RK_SHAPE_LINE : RK_SHAPE_RECT,
				     pts, 2, NULL);
			a->have_anchor = false;
		}
	} else if (a->pen_down) {
		stroke_add(a);
	}
	app_cursor_moved(a);
}

/* ---- dispatch ------------------------------------------------------------------- */

static void key(tui_app *a, bool fn, wint_t k)
{
	if (a->help) {
		if (fn && (k == KEY_DOWN || k == KEY_NPAGE))
			ui_help_scroll(a->ui, k == KEY_DOWN ? 1 : 10);
		else if (fn && (k == KEY_UP || k == KEY_PPAGE))
			ui_help_scroll(a->ui, k == KEY_UP ? -1 : -10);
		else
			a->help = false;
		return;
	}
	if (fn && k == KEY_RESIZE) {
		ui_resize(a);
		return;
	}
	if (fn && k == KEY_MOUSE) {
		mouse_event(a);
		return;
	}
	if (!fn && k == KEY_CTRL('c')) {
		a->quit = true;
		return;
	}
	if (a->prompt != P_NONE) {
		prompt_key(a, fn, k);
		return;
	}
	bool typing = a->focus == F_CHAT;
	if ((fn && k == KEY_F(1)) || (!fn && k == '?' && !typing)) {
		a->help = true;
		return;
	}
	if (!fn && k == '\t') {
		a->focus = (tui_focus)((a->focus + 1) % 3);
		return;
	}
	if (fn && k == KEY_BTAB) {
		a->focus = (tui_focus)((a->focus + 2) % 3);
		return;
	}
	if (!fn && k == KEY_ESC) {
		pen_up(a);
		a->have_anchor = false;
		a->selected[0] = '\0';
		a->tool = T_VIEW;
		a->focus = F_BOARD;
		return;
	}
	if (!fn && k == 'q' && !typing) {
		a->quit = true;
		return;
	}
	switch (a->focus) {
	case F_BOARD:
		board_key(a, fn, k);
		break;
	case F_CHAT:
		chat_key(a, fn, k);
		break;
	case F_POLLS:
		polls_key(a, fn, k);
		break;
	}
}

void ui_input(tui_app *a)
{
	wint_t wc;
	int r;
	while ((r = get_wch(&wc)) != ERR) {
		key(a, r == KEY_CODE_YES, wc);
		a->dirty = true;
	}
}
