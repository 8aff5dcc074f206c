/*
 * ui.c - the curses side of roomtui: layout, drawing every panel from the
 * app state, and turning keys (and mouse drags) into app actions.
 *
 * Drawing: each panel is its own window, erased and redrawn from the state,
 * then wnoutrefresh'd; one doupdate per frame sends only the changed cells,
 * so nothing flickers. Layout (rows from the top):
 *   board | people + polls     (the rest)
 *   chat scrollback + input    (max(6, H/4) rows)
 *   message line               (1 row: hints, rejects, prompts)
 *   status bar                 (1 row)
 *
 * Terminal restore: on exit ui_end (endwin); on a crash signal (SEGV, BUS,
 * FPE, ILL, ABRT) a handler puts back the saved termios and leaves the
 * alternate screen with async-signal-safe calls, then re-raises.
 */
#include "tui.h"
#include "clock.h"
#include "json.h"
#include <curses.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

/* The terminal settings from before curses, for the crash handler: the one
 * file-scope mutable state, because a signal handler has no other way to
 * reach it. Written once in ui_init before the handlers are installed. */
static struct termios saved_tty;
static volatile sig_atomic_t have_saved_tty;

struct ui {
	SCREEN *scr;
	WINDOW *board, *side, *chat, *msg, *status, *help;
	int h, w;	      /* terminal size */
	int board_w, board_h; /* board grid (below its title row) */
	tr_grid grid;
	int help_top; /* first help line shown */
	bool colors;
};

static const short palette[RK_COLORS] = {
    -1,		COLOR_RED,     COLOR_GREEN, COLOR_YELLOW,
    COLOR_BLUE, COLOR_MAGENTA, COLOR_CYAN,  COLOR_WHITE,
};

static attr_t color_attr(const struct ui *u, int color)
{
	if (!u->colors || color < 0 || color >= RK_COLORS)
		return A_NORMAL;
	return COLOR_PAIR(color + 1);
}

/* ---- layout --------------------------------------------------------------- */

static void destroy_windows(struct ui *u)
{
	WINDOW **ws[] = {&u->board, &u->side, &u->chat, &u->msg, &u->status, &u->help};
	for (size_t i = 0; i < RK_ARRAY_LEN(ws); i++) {
		if (*ws[i])
			delwin(*ws[i]);
		*ws[i] = NULL;
	}
}

static int chat_rows(int h)
{
	int c = h / 4;
	return c < 6 ? 6 : c;
}

static void layout(struct ui *u)
{
	destroy_windows(u);
	getmaxyx(stdscr, u->h, u->w);
	int h = u->h < 10 ? 10 : u->h, w = u->w < 40 ? 40 : u->w;
	int ch = chat_rows(h);
	int top = h - 2 - ch;
	int side = w >= 100 ? 32 : 26;
	u->board_w = w - side;
	u->board_h = top - 1;
	u->board = newwin(top, w - side, 0, 0);
	u->side = newwin(top, side, 0, w - side);
	u->chat = newwin(ch, w, top, 0);
	u->msg = newwin(1, w, h - 2, 0);
	u->status = newwin(1, w, h - 1, 0);
	u->help = newwin(h, w, 0, 0);
	tr_grid_free(&u->grid);
	if (tr_grid_init(&u->grid, u->board_w, u->board_h) != RK_OK)
		u->board_w = u->board_h = 0;
}

/* ---- crash handling -------------------------------------------------------- */

static void crash_handler(int sig)
{
	static const char reset[] = "\033[?1000l\033[?1002l\033[?1003l\033[?1006l\033[0m"
				    "\033[?25h\033[?1049l\r\n";
	if (have_saved_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	ssize_t r = write(STDOUT_FILENO, reset, sizeof(reset) - 1);
	(void)r;
	/* SA_RESETHAND restored the default action: die of the same signal. */
	raise(sig);
}

void ui_install_crash_handlers(void)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = crash_handler;
	sa.sa_flags = (int)SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < RK_ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

struct ui *ui_init(tui_app *a)
{
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return NULL;
	struct ui *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	if (tcgetattr(STDIN_FILENO, &saved_tty) == 0)
		have_saved_tty = 1;
	ui_install_crash_handlers();
	setlocale(LC_ALL, "");
	u->scr = newterm(NULL, stdout, stdin);
	if (!u->scr) {
		free(u);
		return NULL;
	}
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		for (int i = 0; i < RK_COLORS; i++)
			init_pair((short)(i + 1), palette[i], -1);
		u->colors = true;
	}
	/* With REPORT_MOUSE_POSITION ncurses turns on any-motion tracking
	 * (xterm 1003, SGR 1006 where terminfo says so): drags arrive as
	 * motion events between press and release. */
	mousemask(BUTTON1_PRESSED | BUTTON1_RELEASED | BUTTON4_PRESSED | BUTTON5_PRESSED |
		      REPORT_MOUSE_POSITION,
		  NULL);
	mouseinterval(0);
	a->ui = u;
	layout(u);
	a->px = u->board_w / 2;
	a->py = u->board_h / 2;
	a->dirty = true;
	return u;
}

void ui_end(struct ui *u)
{
	if (!u)
		return;
	destroy_windows(u);
	tr_grid_free(&u->grid);
	endwin();
	delscreen(u->scr);
	free(u);
}

void ui_resize(tui_app *a)
{
	struct ui *u = a->ui;
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col &&
	    is_term_resized(ws.ws_row, ws.ws_col))
		resizeterm(ws.ws_row, ws.ws_col); /* queues a KEY_RESIZE: ends here */
	if (u->h == LINES && u->w == COLS)
		return;
	/* The terminal reflowed what was on it: repaint everything. */
	clear();
	wnoutrefresh(stdscr);
	layout(u);
	a->dirty = true;
}

/* ---- drawing ---------------------------------------------------------------- */

static size_t utf8_len_z(const char *s)
{
	return rk_utf8_len(s, strlen(s));
}

/* Write at most n display cells of UTF-8 s (control chars as '?'). */
static void put_clipped(WINDOW *w, const char *s, int n)
{
	int used = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && used < n;) {
		if (*p < 0x80) {
			waddch(w, *p < 0x20 || *p == 0x7f ? '?' : *p);
			p++;
			used++;
			continue;
		}
		int len = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;
		int i = 1;
		while (i < len && p[i] && (p[i] & 0xc0) == 0x80)
			i++;
		waddnstr(w, (const char *)p, i);
		p += i;
		used++;
	}
}

static const char *tool_name(tui_tool t)
{
	static const char *const names[] = {"view", "pen", "line", "rect", "text"};
	return names[t];
}

static bool pending_pred(const void *ctx, const char *id)
{
	return tm_shape_pending(ctx, id);
}

static void draw_board(tui_app *a, const rk_state *v)
{
	struct ui *u = a->ui;
	WINDOW *w = u->board;
	werase(w);
	wattron(w, A_BOLD | (a->focus == F_BOARD ? A_REVERSE : 0));
	mvwprintw(w, 0, 0, " Board ");
	wattroff(w, A_BOLD | A_REVERSE);
	wprintw(w, " tool:%s", tool_name(a->tool));
	wattron(w, color_attr(u, a->color) | A_BOLD);
	wprintw(w, " color:%d", a->color);
	wattroff(w, color_attr(u, a->color) | A_BOLD);
	wprintw(w, " pen:%lld,%lld%s view:%lld,%lld", (long long)a->px, (long long)a->py,
		a->pen_down ? " DOWN" : "", (long long)a->vx, (long long)a->vy);
	if (!u->board_w || !u->board_h)
		return;
	tr_grid_clear(&u->grid);
	tr_board_opts bo = {a->selected[0] ? a->selected : NULL, pending_pred, &a->model};
	tr_board(&u->grid, v, a->vx, a->vy, &bo);
	if (a->pen_down && a->nstroke)
		tr_preview(&u->grid, a->vx, a->vy, RK_SHAPE_STROKE, a->stroke, a->nstroke,
			   a->color);
	if (a->have_anchor) {
		rk_point pts[2] = {a->anchor, {a->px, a->py}};
		tr_preview(&u->grid, a->vx, a->vy,
			   a->tool == T_RECT ? RK_SHAPE_RECT : RK_SHAPE_LINE, pts, 2,
			   a->color);
	}
	for (size_t i = 0; i < a->npeers; i++) {
		const tui_peer *p = &a->peers[i];
		if (p->has_cursor)
			tr_marker(&u->grid, a->vx, a->vy, p->x, p->y, '@', p->user,
				  p->color);
	}
	if (a->tool != T_VIEW)
		tr_marker(&u->grid, a->vx, a->vy, a->px, a->py, '+', NULL, a->color);
	for (int r = 0; r < u->grid.h; r++) {
		wmove(w, r + 1, 0);
		for (int c = 0; c < u->grid.w; c++) {
			const tr_cell *cell = tr_at(&u->grid, c, r);
			chtype at = 0;
			if (cell->color != TR_COLOR_NONE)
				at |= color_attr(u, cell->color);
			if (cell->attr & TR_ATTR_PENDING)
				at |= A_DIM;
			if (cell->attr & TR_ATTR_SELECTED)
				at |= A_REVERSE;
			if (cell->attr & TR_ATTR_MARKER)
				at |= A_BOLD;
			waddch(w, (chtype)(unsigned char)cell->ch | at);
		}
	}
	if (a->tool != T_VIEW) {
		int64_t c = a->px - a->vx, r = a->py - a->vy;
		if (c >= 0 && r >= 0 && c < u->grid.w && r < u->grid.h)
			mvwchgat(w, (int)r + 1, (int)c, 1, A_REVERSE | A_BOLD,
				 (short)(u->colors ? a->color + 1 : 0), NULL);
	}
	wnoutrefresh(w);
}

/* The i-th poll of the view, or NULL. */
static const rk_poll *poll_at(const rk_state *v, size_t idx)
{
	const rk_omap_entry *e;
	size_t i = 0;
	for (size_t it = 0; rk_omap_next(&v->polls, &it, &e); i++)
		if (i == idx)
			return e->val;
	return NULL;
}

static void draw_side(tui_app *a, const rk_state *v)
{
	struct ui *u = a->ui;
	WINDOW *w = u->side;
	int h, wd;
	getmaxyx(w, h, wd);
	werase(w);
	for (int r = 0; r < h; r++)
		mvwaddch(w, r, 0, ACS_VLINE);
	int row = 0;
	wattron(w, A_BOLD);
	mvwprintw(w, row++, 2, "People (%zu)", a->npeers + (a->model.joined ? 1 : 0));
	wattroff(w, A_BOLD);
	int people_max = h / 3 < 2 ? 2 : h / 3;
	if (a->model.joined) {
		wmove(w, row++, 2);
		waddstr(w, "* ");
		put_clipped(w, a->model.user, wd - 12);
		waddstr(w, " (you)");
	}
	for (size_t i = 0; i < a->npeers && row < people_max + 1; i++) {
		wmove(w, row++, 2);
		wattron(w, color_attr(u, a->peers[i].color) | A_BOLD);
		waddstr(w, "* ");
		put_clipped(w, a->peers[i].user, wd - 5);
		wattroff(w, color_attr(u, a->peers[i].color) | A_BOLD);
	}
	row++;
	size_t npolls = rk_omap_count(&v->polls);
	if (a->poll_sel >= npolls)
		a->poll_sel = npolls ? npolls - 1 : 0;
	wattron(w, A_BOLD | (a->focus == F_POLLS ? A_REVERSE : 0));
	mvwprintw(w, row++, 2, " Polls (%zu) ", npolls);
	wattroff(w, A_BOLD | A_REVERSE);
	if (!npolls && row < h)
		mvwaddstr(w, row++, 2, a->focus == F_POLLS ? "c: create a poll" : "none");
	/* From the selected poll on when they do not all fit. */
	size_t need = 0;
	for (size_t i = 0; i < npolls; i++)
		need += 1 + poll_at(v, i)->noptions;
	size_t start = row + (int)need <= h ? 0 : a->poll_sel;
	for (size_t i = start; i < npolls && row < h; i++) {
		const rk_poll *p = poll_at(v, i);
		bool sel = i == a->poll_sel;
		wmove(w, row++, 1);
		if (sel)
			wattron(w, A_BOLD);
		waddstr(w, sel ? ">" : " ");
		put_clipped(w, p->question, wd - 12);
		if (p->closed)
			waddstr(w, " [closed]");
		wattroff(w, A_BOLD);
		int64_t max = 0, mine = -1;
		for (size_t k = 0; k < p->noptions; k++)
			if (p->tally[k] > max)
				max = p->tally[k];
		intptr_t vote = (intptr_t)rk_omap_get(&p->votes, a->model.user,
						      strlen(a->model.user));
		mine = vote ? vote - 1 : -1;
		int label_w = (wd - 4) / 2 - 2, bar_w = wd - 4 - label_w - 2 - 4;
		if (bar_w < 1)
			bar_w = 1;
		for (size_t k = 0; k < p->noptions && row < h; k++) {
			char bar[128];
			tr_bar(bar, bar_w > 120 ? 120 : bar_w, p->tally[k], max);
			wmove(w, row++, 2);
			wprintw(w, "%c%zu ", (int64_t)k == mine ? '*' : ' ',
				(k + 1) % 10);
			int y, x;
			getyx(w, y, x);
			put_clipped(w, p->options[k], label_w);
			wmove(w, y, x + label_w + 1);
			wattron(w, color_attr(u, (int)(k % 7) + 1));
			waddstr(w, bar);
			wattroff(w, color_attr(u, (int)(k % 7) + 1));
			wprintw(w, " %lld", (long long)p->tally[k]);
		}
	}
	wnoutrefresh(w);
}

/* Rows of a chat post wrapped to width w. */
static int wrap_rows(size_t chars, int w)
{
	return chars == 0 ? 1 : (int)((chars + (size_t)w - 1) / (size_t)w);
}

/* Print row `r` of the wrapped text s (w cells per row). */
static void put_wrapped_row(WINDOW *win, const char *s, int w, int r)
{
	const unsigned char *p = (const unsigned char *)s;
	int skip = r * w;
	while (*p && skip > 0) {
		p++;
		while ((*p & 0xc0) == 0x80)
			p++;
		skip--;
	}
	put_clipped(win, (const char *)p, w);
}

static void draw_chat(tui_app *a, const rk_state *v)
{
	struct ui *u = a->ui;
	WINDOW *w = u->chat;
	int h, wd;
	getmaxyx(w, h, wd);
	werase(w);
	mvwhline(w, 0, 0, ACS_HLINE, wd);
	wattron(w, A_BOLD | (a->focus == F_CHAT ? A_REVERSE : 0));
	mvwprintw(w, 0, 2, " Chat ");
	wattroff(w, A_BOLD | A_REVERSE);
	if (a->chat_scroll)
		wprintw(w, " (scrolled back %d) ", a->chat_scroll);
	int rows = h - 2; /* title and input */
	/* Lines from the bottom: skip chat_scroll rows, fill `rows`. */
	int skip = a->chat_scroll, y = rows;
	for (size_t i = v->chat_len; i-- > 0 && y > 0;) {
		const rk_chat *c = rk_state_chat_at(v, i);
		size_t ul = utf8_len_z(c->user), tl = utf8_len_z(c->text);
		int nr = wrap_rows(ul + 2 + tl, wd);
		for (int r = nr - 1; r >= 0 && y > 0; r--) {
			if (skip > 0) {
				skip--;
				continue;
			}
			wmove(w, y--, 0);
			/* Row r of "user: text": the name is on row 0. */
			if (r == 0) {
				wattron(w, color_attr(u, app_user_color(a, c->user)) |
					       A_BOLD);
				put_clipped(w, c->user, wd);
				wattroff(w, color_attr(u, app_user_color(a, c->user)) |
						A_BOLD);
				waddstr(w, ": ");
				int rest = wd - (int)ul - 2;
				if (rest > 0)
					put_clipped(w, c->text, rest);
			} else {
				int first = wd - (int)ul - 2;
				const unsigned char *p = (const unsigned char *)c->text;
				for (int k = 0; k < first && *p; k++) {
					p++;
					while ((*p & 0xc0) == 0x80)
						p++;
				}
				put_wrapped_row(w, (const char *)p, wd, r - 1);
			}
		}
	}
	wmove(w, h - 1, 0);
	wattron(w, A_BOLD);
	waddstr(w, a->focus == F_CHAT ? "> " : "  ");
	wattroff(w, A_BOLD);
	if (a->focus == F_CHAT && a->prompt == P_NONE) {
		/* Show the end of a long input. */
		const char *s = a->input;
		size_t n = utf8_len_z(s);
		while (n > (size_t)(wd - 4) && *s) {
			s++;
			while ((*s & 0xc0) == 0x80)
				s++;
			n--;
		}
		put_clipped(w, s, wd - 3);
		waddch(w, '_' | A_BLINK);
	} else if (a->focus != F_CHAT) {
		wattron(w, A_DIM);
		waddstr(w, "Tab: type in chat");
		wattroff(w, A_DIM);
	}
	wnoutrefresh(w);
}

static void draw_msg(tui_app *a)
{
	struct ui *u = a->ui;
	WINDOW *w = u->msg;
	werase(w);
	if (a->prompt != P_NONE) {
		wattron(w, A_BOLD);
		if (a->prompt == P_TEXT)
			waddstr(w, "Text: ");
		else if (a->prompt == P_QUESTION)
			waddstr(w, "Poll question: ");
		else
			wprintw(w, "Option %zu (empty line: done): ", a->form_nopts + 1);
		wattroff(w, A_BOLD);
		put_clipped(w, a->input, u->w - 40);
		waddch(w, '_' | A_BLINK);
	} else {
		if (a->status_error)
			wattron(w, color_attr(u, 1) | A_BOLD);
		put_clipped(w, a->status, u->w - 1);
		wattroff(w, color_attr(u, 1) | A_BOLD);
	}
	wnoutrefresh(w);
}

static void draw_status(tui_app *a)
{
	struct ui *u = a->ui;
	WINDOW *w = u->status;
	werase(w);
	wbkgd(w, A_REVERSE);
	char conn[96];
	switch (tn_get_state(a->net)) {
	case TN_IDLE:
	case TN_CONNECTING:
		snprintf(conn, sizeof(conn), "connecting");
		break;
	case TN_OPEN:
		if (!a->model.joined)
			snprintf(conn, sizeof(conn), "joining");
		else if (a->model.role == RK_ROLE_VIEWER)
			snprintf(conn, sizeof(conn), "live, read-only");
		else
			snprintf(conn, sizeof(conn), "live");
		break;
	case TN_WAITING:
		snprintf(conn, sizeof(conn), "reconnecting in %llds",
			 (long long)((tn_retry_ms(a->net) + 999) / 1000));
		break;
	case TN_STOPPED:
		snprintf(conn, sizeof(conn), "closed");
		break;
	}
	char rtt[32] = "-";
	if (a->rtt_ms >= 0)
		snprintf(rtt, sizeof(rtt), "%lldms", (long long)a->rtt_ms);
	char line[512];
	static const char *const focus[] = {"board", "chat", "polls"};
	snprintf(line, sizeof(line),
		 " %s | %s (%s) | seq %lld | rtt %s | %s | pending %zu | focus:%s ",
		 a->opts->room, a->model.user[0] ? a->model.user : "-",
		 a->model.role ? rk_role_name(a->model.role) : "-",
		 (long long)a->model.seq, rtt, conn, a->model.npend, focus[a->focus]);
	mvwaddnstr(w, 0, 0, line, u->w - 1);
	const char *hint = " ?:help ";
	if ((int)(strlen(line) + strlen(hint)) < u->w)
		mvwaddstr(w, 0, u->w - (int)strlen(hint) - 1, hint);
	wnoutrefresh(w);
}

static void draw_help(tui_app *a)
{
	struct ui *u = a->ui;
	WINDOW *w = u->help;
	int h, wd;
	getmaxyx(w, h, wd);
	werase(w);
	box(w, 0, 0);
	wattron(w, A_BOLD);
	mvwprintw(w, 0, 2, " roomtui keys (Up/Down scroll, any other key closes) ");
	wattroff(w, A_BOLD);
	int n = 0;
	while (tui_help_lines[n])
		n++;
	if (u->help_top > n - (h - 2))
		u->help_top = n - (h - 2);
	if (u->help_top < 0)
		u->help_top = 0;
	for (int r = 0; r < h - 2 && u->help_top + r < n; r++) {
		const char *l = tui_help_lines[u->help_top + r];
		if (l[0] != ' ')
			wattron(w, A_BOLD);
		mvwaddnstr(w, r + 1, 2, l, wd - 4);
		wattroff(w, A_BOLD);
	}
	wnoutrefresh(w);
}

void ui_draw(tui_app *a)
{
	struct ui *u = a->ui;
	if (!u)
		return;
	const rk_state *v = tm_view(&a->model);
	if (!v)
		return;
	if (a->help) {
		draw_help(a);
	} else {
		draw_board(a, v);
		draw_side(a, v);
		draw_chat(a, v);
		draw_msg(a);
		draw_status(a);
	}
	doupdate();
}

void ui_board_size(const struct ui *u, int *w, int *h)
{
	*w = u->board_w;
	*h = u->board_h;
}

void ui_help_scroll(struct ui *u, int delta)
{
	u->help_top += delta;
	if (u->help_top < 0)
		u->help_top = 0;
}
