/*
 * tui.h - the roomtui application: the context struct shared by app.c (the
 * loop, the connection, message dispatch, sending) and ui.c (curses
 * drawing and keys). One instance, created by app_run and passed around;
 * no globals (except the crash-signal terminal restore in ui.c).
 */
#ifndef RT_TUI_H
#define RT_TUI_H

#include "model.h"
#include "net.h"
#include "render.h"
#include "wsurl.h"

#define TUI_PEERS_MAX 256
#define TUI_INPUT_MAX 512   /* bytes of an input line */
#define TUI_STROKE_MAX 4096 /* points of a pen stroke (RK_POINTS_MAX) */

/* Parsed command line. */
typedef struct tui_opts {
	rk_wsurl srv;	     /* --url: host, port, wss:// or not */
	const char *ca_file; /* --ca FILE (wss:// only), or NULL */
	const char *room;
	const char *name;     /* or NULL */
	const char *token;    /* or NULL */
	const char *log_path; /* --log FILE: stderr goes there, or NULL */
} tui_opts;

/* Parse argv. Returns RK_CLI_GO (cli.h) to run, RK_EXIT_OK after --help
 * (printed to stdout), RK_EXIT_USAGE on a usage error (one line without a
 * newline written to err, errlen bytes). o's strings point into argv. */
int tui_parse_args(int argc, char **argv, tui_opts *o, char *err, size_t errlen);
/* The --help text (also the key reference). */
void tui_print_help(void *file);
/* The key reference, one line each, NULL-terminated ('?' and --help). */
extern const char *const tui_help_lines[];

/* A peer in the room (presence) and its last cursor. */
typedef struct tui_peer {
	char session[RK_SESSION_MAX + 1];
	char user[RK_NAME_BYTES + 1];
	int color;
	bool has_cursor;
	int64_t x, y;
} tui_peer;

typedef enum tui_focus { F_BOARD = 0, F_CHAT, F_POLLS } tui_focus;

/* Board tools. VIEW pans with the arrows; the others move the pen. */
typedef enum tui_tool { T_VIEW = 0, T_STROKE, T_LINE, T_RECT, T_TEXT } tui_tool;

/* What the one-line prompt is collecting. */
typedef enum tui_prompt {
	P_NONE = 0,
	P_TEXT,	    /* text for a text shape at the pen */
	P_QUESTION, /* new poll: the question */
	P_OPTION,   /* new poll: the next option (empty line ends) */
} tui_prompt;

struct ui;

typedef struct tui_app {
	/* connection and model */
	tui_opts *opts;
	struct ev_loop *loop;
	tn_net *net;
	tui_model model;
	char client_id[24];
	char session[RK_SESSION_MAX + 1];
	tui_peer peers[TUI_PEERS_MAX];
	size_t npeers;
	int64_t rtt_ms;	      /* last ping round trip, -1 if none */
	int64_t ping_sent_us; /* outstanding ping, 0 if none */
	char drop_reason[128];
	bool quit;
	int exit_code;
	/* board */
	int64_t vx, vy; /* viewport top-left on the board */
	int64_t px, py; /* the pen */
	tui_tool tool;
	int color; /* 0..7 */
	bool pen_down;
	rk_point *stroke; /* points of the stroke being drawn */
	size_t nstroke;
	bool have_anchor; /* line/rect: first point set */
	rk_point anchor;
	char selected[RK_ID_MAX + 1]; /* selected shape id, or "" */
	bool mouse_pan;		      /* view tool: button 1 holds the board */
	int pan_x, pan_y;	      /* where it was grabbed (screen cells) */
	int64_t pan_vx, pan_vy;	      /* the viewport when it was grabbed */
	int64_t cursor_sent_us;	      /* last cursor message */
	bool cursor_due;	      /* a cursor move not yet sent */
	/* panels */
	tui_focus focus;
	char input[TUI_INPUT_MAX]; /* chat input or prompt input */
	size_t input_len;
	int chat_scroll; /* lines scrolled back from the end */
	size_t poll_sel; /* selected poll (index in the view) */
	tui_prompt prompt;
	char form_question[TUI_INPUT_MAX];
	char form_options[RK_OPTIONS_MAX][TUI_INPUT_MAX];
	size_t form_nopts;
	bool help;	  /* the help overlay is shown */
	char status[256]; /* the message line (reasons, hints) */
	bool status_error;
	bool dirty; /* redraw before the loop sleeps */
	struct ui *ui;
} tui_app;

/* Run the client until quit. Returns the exit code (0, or 1 on a runtime
 * error such as a terminal that cannot be set up). */
int app_run(tui_opts *o);

/* Called by ui.c. */
/* Submit a local op (ownership of *op moves): predicted at once, sent when
 * possible; a local refusal is shown in the status line. */
void app_submit(tui_app *a, rk_op *op);
/* The pen moved: send our cursor (rate-limited). */
void app_cursor_moved(tui_app *a);
/* Set the message line. */
void app_status(tui_app *a, bool error, const char *fmt, ...) RK_PRINTF(3, 4);
/* Color of a user (theirs from presence, ours from the welcome). */
int app_user_color(const tui_app *a, const char *user);

/* ui.c */
struct ui *ui_init(tui_app *a); /* NULL if the terminal cannot be used */
void ui_end(struct ui *u);	/* restore the terminal and free */
void ui_draw(tui_app *a);
void ui_input(tui_app *a); /* read every pending key */
/* After SIGWINCH or KEY_RESIZE: adopt the terminal's size; a no-op (no
 * repaint) when it has not changed. */
void ui_resize(tui_app *a);
/* The board grid size in cells. */
void ui_board_size(const struct ui *u, int *w, int *h);
void ui_help_scroll(struct ui *u, int delta);
/* Install crash-signal handlers that restore the terminal. */
void ui_install_crash_handlers(void);

#endif
