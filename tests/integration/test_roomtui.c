/*
 * test_roomtui.c - the real roomtui, driven through tmux against a real
 * roomd, proves the client end to end: a chat line typed in the TUI reaches
 * a WebSocket peer; a shape a peer adds appears on the TUI's screen; a vote
 * from the TUI changes the tally the peer sees; after roomd goes down the
 * status bar says "reconnecting", and once roomd is back the TUI is live
 * again with the board intact and new events arriving. Mouse drags (raw
 * SGR mouse sequences typed into the pane) draw strokes, lines and rects
 * that arrive at the peer with the expected points, and pan the board; a
 * viewer's drawing keys say why they are off and send nothing; at 80x24
 * every panel and the status bar are on screen, and resizes redraw cleanly;
 * an op roomd rejects is rolled back on screen with the reason shown;
 * after Ctrl-C (exit 0) and after a crash signal the terminal is restored.
 *
 * The screen is read with `tmux capture-pane -p`, polled with a deadline
 * (never a fixed sleep). tmux runs on its own socket (-L), and the teardown
 * kills that server and roomd even when an assertion failed.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "clock.h"
#include "json.h"
#include "roomtest.h"

#define SCREEN_TIMEOUT_MS 10000
#define ROOM "tuiroom"

typedef struct ctx {
	rd_proc *rd;
	char sock[64]; /* tmux -L socket name */
	struct ws *peer;
	char screen[16384];  /* the last capture */
	char exit_path[128]; /* roomtui's exit code is written here */
	char err_path[128];  /* and its stderr (sanitizer reports) */
} ctx;

static int tmux(ctx *c, const char *fmt, ...) RK_PRINTF(2, 3);
static int tmux(ctx *c, const char *fmt, ...)
{
	char args[2048], cmd[2200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "tmux -f /dev/null -L %s %s", c->sock, args);
	return system(cmd);
}

static void capture(ctx *c)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "tmux -f /dev/null -L %s capture-pane -p -t tui 2>/dev/null", c->sock);
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	if (f) {
		n = fread(c->screen, 1, sizeof(c->screen) - 1, f);
		pclose(f);
	}
	c->screen[n] = '\0';
}

/* Wait until the screen shows s; fail with the last screen if it does not. */
static void screen_wait(ctx *c, const char *s)
{
	int64_t deadline = rk_mono_us() + SCREEN_TIMEOUT_MS * 1000;
	for (;;) {
		capture(c);
		if (strstr(c->screen, s))
			return;
		if (rk_mono_us() > deadline) {
			fprintf(stderr, "last screen:\n%s", c->screen);
			fail_msg("screen never showed \"%s\"", s);
		}
		struct timespec ts = {0, 30 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* Wait for an event whose op has kind k (others skipped); caller frees. */
static cJSON *expect_op(struct ws *w, const char *k)
{
	int64_t deadline = rk_mono_us() + SCREEN_TIMEOUT_MS * 1000;
	while (rk_mono_us() < deadline) {
		cJSON *ev = rt_expect(w, "event");
		const cJSON *op = cJSON_GetObjectItem(ev, "op");
		if (strcmp(rt_str(op, "k"), k) == 0)
			return ev;
		cJSON_Delete(ev);
	}
	fail_msg("no %s event", k);
	return NULL;
}

/* The n-th line (0-based) of the last capture, into out. */
static void screen_line(const ctx *c, int n, char *out, size_t len)
{
	const char *p = c->screen;
	for (int i = 0; i < n && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	size_t l = p ? strcspn(p, "\n") : 0;
	snprintf(out, len, "%.*s", (int)l, p ? p : "");
}

static int screen_lines(const ctx *c)
{
	int n = 0;
	for (const char *p = c->screen; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

/* Occurrences of s in the last capture. */
static int screen_count(const ctx *c, const char *s)
{
	int n = 0;
	for (const char *p = c->screen; (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

/* Fail unless the last capture shows s exactly n times. */
static void screen_count_is(const ctx *c, const char *s, int n)
{
	int got = screen_count(c, s);
	if (got != n) {
		fprintf(stderr, "screen:\n%s", c->screen); /* cmocka cuts long messages */
		fail_msg("\"%s\" shown %d times, not %d", s, got, n);
	}
}

/* Wait until the screen has text s at (row, col), 0-based. */
static void screen_wait_at(ctx *c, int row, int col, const char *s)
{
	int64_t deadline = rk_mono_us() + SCREEN_TIMEOUT_MS * 1000;
	char line[1024];
	for (;;) {
		capture(c);
		screen_line(c, row, line, sizeof(line));
		if (strlen(line) >= (size_t)col && strncmp(line + col, s, strlen(s)) == 0)
			return;
		if (rk_mono_us() > deadline) {
			fprintf(stderr, "last screen:\n%s", c->screen);
			fail_msg("screen never showed \"%s\" at row %d col %d", s, row,
				 col);
		}
		struct timespec ts = {0, 30 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* Type an xterm SGR mouse report into the pane: button b (0 = left, 32 =
 * motion with the left held, 64/65 = wheel), at 1-based column x, row y;
 * release for a button-up. This is what a terminal sends with 1006 on. */
static void mouse(ctx *c, int b, int x, int y, bool release)
{
	tmux(c, "send-keys -t tui -l '\033[<%d;%d;%d%c'", b, x, y, release ? 'm' : 'M');
}

/* One mouse report (as mouse()) and what the screen shows once roomtui has
 * read it (NULL: nothing to wait for). */
typedef struct mstep {
	int b, x, y;
	bool release;
	const char *shows;
} mstep;

/* A gesture, steps ending with b < 0: each report is seen on screen before
 * the next is sent, as a hand on a mouse would space them. */
static void gesture(ctx *c, const mstep *steps)
{
	for (const mstep *st = steps; st->b >= 0; st++) {
		mouse(c, st->b, st->x, st->y, st->release);
		if (st->shows)
			screen_wait(c, st->shows);
	}
}

/* Start roomd (extra args or NULL). */
static void start_roomd(ctx *c, const char *const *args)
{
	c->rd = rd_start(args, NULL);
	if (!c->rd)
		fail_msg("roomd did not start");
}

/* Start roomtui in a w x h tmux session; auth: "--name NAME" or
 * "--token TOKEN". */
static void launch(ctx *c, int w, int h, const char *auth)
{
	const char *bin = getenv("ROOMTUI_BIN");
	if (!bin)
		fail_msg("ROOMTUI_BIN is not set");
	int rc = tmux(
	    c,
	    "new-session -d -s tui -x %d -y %d "
	    "'TERM=xterm-256color LC_ALL=C.UTF-8 %s --url ws://127.0.0.1:%d --room " ROOM
	    " %s 2>%s; echo $? >%s; read keep_the_pane'",
	    w, h, bin, c->rd->port, auth, c->err_path, c->exit_path);
	assert_int_equal(rc, 0);
}

/* Wait for roomtui's exit code (as the shell's $? text). */
static void wait_exit(ctx *c, char *code, size_t n)
{
	int64_t deadline = rk_mono_us() + SCREEN_TIMEOUT_MS * 1000;
	code[0] = '\0';
	while (!code[0] && rk_mono_us() < deadline) {
		FILE *f = fopen(c->exit_path, "r");
		if (f) {
			if (!fgets(code, (int)n, f))
				code[0] = '\0';
			fclose(f);
		}
		struct timespec ts = {0, 30 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* The pane (its shell waits on `read` after roomtui exits) is back to how a
 * shell wants it: not on the alternate screen, no mouse reporting, cursor
 * shown. Polled: tmux may not have read roomtui's last bytes when the exit
 * code is out. */
static void assert_terminal_restored(ctx *c)
{
	char cmd[256], flags[64] = "";
	snprintf(
	    cmd, sizeof(cmd),
	    "tmux -f /dev/null -L %s display -p -t tui "
	    "'#{alternate_on} #{mouse_any_flag} #{mouse_button_flag} #{cursor_flag}'",
	    c->sock);
	int64_t deadline = rk_mono_us() + SCREEN_TIMEOUT_MS * 1000;
	while (rk_mono_us() < deadline) {
		FILE *f = popen(cmd, "r");
		assert_non_null(f);
		if (!fgets(flags, sizeof(flags), f))
			flags[0] = '\0';
		pclose(f);
		if (strcmp(flags, "0 0 0 1\n") == 0)
			return;
		struct timespec ts = {0, 30 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fail_msg("terminal not restored: alternate_on mouse_any mouse_button cursor = %s",
		 flags);
}

/* Quit with Ctrl-C and check that roomtui exits 0 (under the sanitizers:
 * without an error or a leak) and leaves the terminal as it found it. */
static void tui_quit(ctx *c)
{
	tmux(c, "send-keys -t tui C-c");
	char code[16];
	wait_exit(c, code, sizeof(code));
	if (strcmp(code, "0\n") != 0) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "cat %s >&2", c->err_path);
		if (system(cmd) != 0)
			fprintf(stderr, "(no stderr file)\n");
		fail_msg("roomtui did not exit 0 after Ctrl-C: \"%s\"", code);
	}
	assert_terminal_restored(c);
}

static int setup(void **state)
{
	static int n;
	ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	snprintf(c->sock, sizeof(c->sock), "rk-roomtui-%d-%d", (int)getpid(), n);
	snprintf(c->exit_path, sizeof(c->exit_path), "/tmp/%s.exit", c->sock);
	snprintf(c->err_path, sizeof(c->err_path), "/tmp/%s.err", c->sock);
	n++;
	unsetenv("TMUX");
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	ctx *c = *state;
	if (!c)
		return 0;
	rt_tmux_kill(c->sock);
	unlink(c->exit_path);
	unlink(c->err_path);
	if (c->peer)
		rt_free(c->peer);
	rd_cleanup(c->rd);
	free(c);
	return 0;
}

static void test_tui_end_to_end(void **state)
{
	ctx *c = *state;
	start_roomd(c, NULL);
	launch(c, 100, 30, "--name tui");
	screen_wait(c, "| live |");
	screen_wait(c, "tui (editor)");
	c->peer = rt_join(c->rd, ROOM, "name=peer", NULL);
	screen_wait(c, "People (2)");
	screen_wait(c, "* peer");

	/* Chat: typed in the TUI, delivered to the peer. */
	tmux(c, "send-keys -t tui Tab");
	screen_wait(c, "focus:chat");
	tmux(c, "send-keys -t tui -l 'hello from the tui'");
	tmux(c, "send-keys -t tui Enter");
	cJSON *ev = expect_op(c->peer, "chat.post");
	assert_string_equal(rt_str(cJSON_GetObjectItem(ev, "op"), "text"),
			    "hello from the tui");
	assert_string_equal(rt_str(ev, "user"), "tui");
	cJSON_Delete(ev);
	screen_wait(c, "tui: hello from the tui");

	/* A peer's rect appears on the board. */
	assert_true(
	    rt_op(c->peer, "r1",
		  "{\"k\":\"shape.add\",\"shape\":{\"id\":\"box\",\"type\":\"rect\","
		  "\"color\":3,\"points\":[[2,2],[12,5]]}}",
		  NULL) > 0);
	screen_wait(c, "+---------+");

	/* A vote from the TUI changes the tally the peer sees. */
	assert_true(
	    rt_op(c->peer, "p1",
		  "{\"k\":\"poll.create\",\"poll\":{\"id\":\"lunch\",\"question\":"
		  "\"Lunch?\",\"options\":[\"pizza\",\"sushi\"]}}",
		  NULL) > 0);
	screen_wait(c, "Lunch?");
	tmux(c, "send-keys -t tui Tab"); /* chat -> polls */
	screen_wait(c, "focus:polls");
	tmux(c, "send-keys -t tui 2");
	ev = expect_op(c->peer, "poll.vote");
	const cJSON *op = cJSON_GetObjectItem(ev, "op");
	const cJSON *tally = cJSON_GetObjectItem(op, "tally");
	assert_int_equal(cJSON_GetArraySize(tally), 2);
	assert_int_equal(cJSON_GetArrayItem(tally, 0)->valueint, 0);
	assert_int_equal(cJSON_GetArrayItem(tally, 1)->valueint, 1);
	assert_string_equal(rt_str(ev, "user"), "tui");
	cJSON_Delete(ev);
	screen_wait(c, "sushi");
	screen_wait(c, "| seq 4 |");

	/* A poll made through the form, then closed by its creator. */
	tmux(c, "send-keys -t tui c");
	screen_wait(c, "Poll question:");
	tmux(c, "send-keys -t tui -l 'Tea or coffee?'");
	tmux(c, "send-keys -t tui Enter");
	screen_wait(c, "Option 1");
	tmux(c, "send-keys -t tui -l tea");
	tmux(c, "send-keys -t tui Enter");
	screen_wait(c, "Option 2");
	tmux(c, "send-keys -t tui -l coffee");
	tmux(c, "send-keys -t tui Enter");
	screen_wait(c, "Option 3");
	tmux(c, "send-keys -t tui Enter"); /* an empty option ends the form */
	ev = expect_op(c->peer, "poll.create");
	op = cJSON_GetObjectItem(ev, "op");
	const cJSON *poll = cJSON_GetObjectItem(op, "poll");
	assert_string_equal(rt_str(poll, "question"), "Tea or coffee?");
	char *opts = cJSON_PrintUnformatted(cJSON_GetObjectItem(poll, "options"));
	assert_string_equal(opts, "[\"tea\",\"coffee\"]");
	free(opts);
	char poll_id[RK_ID_MAX + 1];
	snprintf(poll_id, sizeof(poll_id), "%s", rt_str(poll, "id"));
	cJSON_Delete(ev);
	screen_wait(c, "| seq 5 |");
	tmux(c, "send-keys -t tui Down");
	screen_wait(c, ">Tea or coffee?");
	tmux(c, "send-keys -t tui x");
	ev = expect_op(c->peer, "poll.close");
	assert_string_equal(rt_str(cJSON_GetObjectItem(ev, "op"), "poll"), poll_id);
	cJSON_Delete(ev);
	screen_wait(c, "[closed]");
	screen_wait(c, "| seq 6 |");

	/* The peer's pointer: a marker with its name where it points (board
	 * (30, 12) is screen row 13, column 30). */
	assert_int_equal(RT_SEND(c->peer, "{\"t\":\"cursor\",\"x\":30,\"y\":12}"), 0);
	screen_wait_at(c, 13, 30, "@peer");

	/* roomd goes away: the TUI says so and keeps retrying. */
	rt_free(c->peer);
	c->peer = NULL;
	int port = c->rd->port;
	/* roomd's own exit code is not under test here. */
	assert_true(rd_stop(c->rd, SIGTERM) >= 0);
	screen_wait(c, "reconnecting in");
	/* A stroke drawn while offline is shown at once, pending. */
	tmux(c, "send-keys -t tui Escape");
	screen_wait(c, "focus:board");
	tmux(c, "send-keys -t tui p");
	screen_wait(c, "tool:pen");
	tmux(c, "send-keys -t tui Space j j Space");
	screen_wait(c, "pending 1");
	/* Back on the same port: live again, board and seq intact. */
	char listen[64];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	assert_int_equal(
	    rd_restart(c->rd, (const char *const[]){"--listen", listen, NULL}), 0);
	screen_wait(c, "| live |");
	screen_wait(c, "+---------+");
	/* The offline stroke is sent after the resume, and committed once. */
	screen_wait(c, "| seq 7 |");
	screen_wait(c, "pending 0");
	char db[4200];
	rd_room_db(c->rd, ROOM, db, sizeof(db));
	assert_int_equal(
	    rt_sql_int(db, "SELECT count(*) FROM events WHERE op LIKE '%\"stroke\"%'"),
	    1);
	/* New events arrive after the reconnect. */
	c->peer = rt_join(c->rd, ROOM, "name=peer2", NULL);
	assert_true(rt_op(c->peer, "c2",
			  "{\"k\":\"chat.post\",\"text\":\"after restart\"}", NULL) > 0);
	screen_wait(c, "peer2: after restart");
	screen_wait(c, "| seq 8 |");
	/* The votes and the closed poll survived too. */
	screen_wait(c, "*2 sushi");
	screen_wait(c, "[closed]");
	tui_quit(c);
}

/* The next shape.add event is by the TUI's user with this type, color
 * and points ("[[x,y],...]" text); its shape id is copied to id (may be
 * NULL; RK_ID_MAX + 1 bytes). */
static void expect_shape(struct ws *w, const char *type, int color, const char *points,
			 char *id)
{
	cJSON *ev = expect_op(w, "shape.add");
	const cJSON *shape = cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "op"), "shape");
	assert_string_equal(rt_str(shape, "type"), type);
	assert_int_equal(rt_int(shape, "color"), color);
	char *pts = cJSON_PrintUnformatted(cJSON_GetObjectItem(shape, "points"));
	assert_non_null(pts);
	assert_string_equal(pts, points);
	assert_string_equal(rt_str(ev, "user"), "tui");
	if (id)
		snprintf(id, RK_ID_MAX + 1, "%s", rt_str(shape, "id"));
	free(pts);
	cJSON_Delete(ev);
}

static void test_tui_drawing(void **state)
{
	ctx *c = *state;
	start_roomd(c, NULL);
	launch(c, 100, 30, "--name tui");
	screen_wait(c, "| live |");
	c->peer = rt_join(c->rd, ROOM, "name=peer", NULL);
	screen_wait(c, "People (2)");

	/* Pen tool, color 4: press at column 10 row 5 (1-based; the board's
	 * title takes screen row 1, so board y = row - 2), drag, release. Each
	 * report is seen on screen (the pen position in the board's title)
	 * before the next is typed, as a hand on a mouse would space them. */
	tmux(c, "send-keys -t tui p 4");
	screen_wait(c, "tool:pen color:4");
	gesture(c, (const mstep[]){{0, 10, 5, false, "pen:9,3 DOWN"},
				   {32, 12, 5, false, "pen:11,3 DOWN"},
				   {32, 14, 6, false, "pen:13,4 DOWN"},
				   {32, 15, 8, false, "pen:14,6 DOWN"},
				   {0, 15, 8, true, NULL},
				   {-1, 0, 0, false, NULL}});
	expect_shape(c->peer, "stroke", 4, "[[9,3],[11,3],[13,4],[14,6]]", NULL);
	screen_wait(c, "pending 0");

	/* The same with the keyboard: Space puts the pen down, l/j move it,
	 * Space lifts it. */
	tmux(c, "send-keys -t tui Space");
	screen_wait(c, "pen:14,6 DOWN");
	tmux(c, "send-keys -t tui l l j");
	screen_wait(c, "pen:16,7 DOWN");
	tmux(c, "send-keys -t tui Space");
	char kb_stroke[RK_ID_MAX + 1];
	expect_shape(c->peer, "stroke", 4, "[[14,6],[15,6],[16,6],[16,7]]", kb_stroke);
	/* Select the shape under the pen (that stroke, on top) and delete it. */
	tmux(c, "send-keys -t tui s");
	screen_wait(c, "selected stroke by tui");
	tmux(c, "send-keys -t tui x");
	cJSON *ev = expect_op(c->peer, "shape.delete");
	assert_string_equal(rt_str(cJSON_GetObjectItem(ev, "op"), "id"), kb_stroke);
	cJSON_Delete(ev);

	/* Line and rect tools: from the press to the release. */
	tmux(c, "send-keys -t tui Escape");
	screen_wait(c, "tool:view");
	tmux(c, "send-keys -t tui l");
	screen_wait(c, "tool:line");
	gesture(c, (const mstep[]){{0, 20, 10, false, "pen:19,8 "},
				   {32, 25, 11, false, "pen:24,9 "},
				   {0, 30, 12, true, NULL},
				   {-1, 0, 0, false, NULL}});
	expect_shape(c->peer, "line", 4, "[[19,8],[29,10]]", NULL);
	tmux(c, "send-keys -t tui Escape");
	screen_wait(c, "tool:view");
	tmux(c, "send-keys -t tui r 2");
	screen_wait(c, "tool:rect color:2");
	gesture(c, (const mstep[]){{0, 40, 14, false, "pen:39,12 "},
				   {0, 46, 17, true, NULL},
				   {-1, 0, 0, false, NULL}});
	expect_shape(c->peer, "rect", 2, "[[39,12],[45,15]]", NULL);
	screen_wait(c, "+-----+");

	/* View tool: dragging pans (the grabbed point follows the pointer). */
	assert_true(
	    rt_op(c->peer, "t1",
		  "{\"k\":\"shape.add\",\"shape\":{\"id\":\"label\",\"type\":\"text\","
		  "\"color\":5,\"points\":[[60,15]],\"text\":\"PANME\"}}",
		  NULL) > 0);
	tmux(c, "send-keys -t tui Escape");
	screen_wait(c, "tool:view");
	screen_wait_at(c, 16, 60, "PANME"); /* board row 0 is screen row 1 */
	gesture(c, (const mstep[]){{0, 31, 11, false, "pen:30,9 "},
				   {32, 26, 10, false, "view:5,1"},
				   {32, 21, 9, false, "view:10,2"},
				   {0, 21, 9, true, NULL},
				   {-1, 0, 0, false, NULL}});
	screen_wait_at(c, 14, 50, "PANME");
	/* The wheel pans by three rows. */
	mouse(c, 65, 21, 9, false);
	screen_wait(c, "view:10,5");
	screen_wait_at(c, 11, 50, "PANME");
	mouse(c, 64, 21, 9, false);
	screen_wait(c, "view:10,2");
	/* Panning committed nothing: two strokes, a delete, a line, a rect and
	 * the label. */
	char db[4200];
	assert_int_equal(rt_sql_int(rd_room_db(c->rd, ROOM, db, sizeof(db)),
				    "SELECT count(*) FROM events"),
			 6);
	tui_quit(c);
}

/* `roomctl token` for the test secret (caller frees). */
static char *token(const char *secret_file, const char *user, const char *role)
{
	const char *bin = getenv("ROOMCTL_BIN");
	if (!bin)
		fail_msg("ROOMCTL_BIN is not set");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "%s token --secret-file %s --room " ROOM " --user %s --role %s", bin,
		 secret_file, user, role);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	assert_int_equal(pclose(f), 0);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	assert_true(n > 20);
	return strdup(buf);
}

static void test_tui_viewer(void **state)
{
	ctx *c = *state;
	char *secret = rt_temp_file("tui-test-secret-0123456789\n");
	start_roomd(c, (const char *const[]){"--secret-file", secret, NULL});
	char *vtok = token(secret, "vic", "viewer");
	char *etok = token(secret, "ed", "editor");
	char auth[4200], q[4200];
	snprintf(auth, sizeof(auth), "--token %s", vtok);
	launch(c, 100, 30, auth);
	screen_wait(c, "| live, read-only |");
	screen_wait(c, "vic (viewer)");
	snprintf(q, sizeof(q), "token=%s", etok);
	c->peer = rt_join(c->rd, ROOM, q, NULL);
	assert_true(
	    rt_op(c->peer, "p1",
		  "{\"k\":\"poll.create\",\"poll\":{\"id\":\"lunch\",\"question\":"
		  "\"Lunch?\",\"options\":[\"pizza\",\"sushi\"]}}",
		  NULL) == 1);
	screen_wait(c, "Lunch?");

	/* Every kind of change is refused on the spot, with the reason. A
	 * color key (allowed: it changes nothing in the room) puts another
	 * message up in between, so each refusal is seen anew. */
	static const char why[] = "read-only: you joined as a viewer";
	static const char *const focus[] = {"focus:board", "focus:chat", "focus:polls"};
	static const struct {
		const char *keys; /* tmux send-keys arguments */
		int tabs;	  /* Tabs from the board to its panel */
	} refused[] = {
	    {"p", 0},			/* pen tool */
	    {"-l hello", 0},		/* 'l': line tool */
	    {"r", 0},			/* rect tool */
	    {"t", 0},			/* text tool */
	    {"Space", 0},		/* the tool's action */
	    {"x", 0},			/* delete */
	    {"-l 'viewer says hi'", 1}, /* a chat line (and Enter) */
	    {"1", 2},			/* vote */
	    {"x", 2},			/* close */
	    {"c", 2},			/* create */
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char color[16];
		tmux(c, "send-keys -t tui Escape");
		screen_wait(c, focus[0]);
		tmux(c, "send-keys -t tui %zu", i % 8);
		snprintf(color, sizeof(color), "color %zu", i % 8);
		screen_wait(c, color);
		for (int t = 1; t <= refused[i].tabs; t++) {
			tmux(c, "send-keys -t tui Tab");
			screen_wait(c, focus[t]);
		}
		tmux(c, "send-keys -t tui %s", refused[i].keys);
		if (refused[i].tabs == 1)
			tmux(c, "send-keys -t tui Enter");
		screen_wait(c, why);
		screen_wait(c, "tool:view");
	}
	screen_wait(c, "pending 0");
	/* A mouse drag on the board pans (viewers may look around)... */
	tmux(c, "send-keys -t tui Escape");
	screen_wait(c, "focus:board");
	mouse(c, 0, 30, 10, false);
	screen_wait(c, "pen:29,8 ");
	mouse(c, 0, 25, 10, true);
	screen_wait(c, "view:5,0");
	screen_wait(c, "pending 0");

	/* ...and moves our pointer, which viewers may send: once the peer
	 * sees that cursor, roomd has handled everything the TUI sent before
	 * it (one connection is processed in order). No op came: no event,
	 * nothing committed, no forbidden reject counted. */
	mouse(c, 35, 41, 12, false);
	int64_t deadline = rk_mono_us() + SCREEN_TIMEOUT_MS * 1000;
	bool seen = false;
	while (!seen && rk_mono_us() < deadline) {
		cJSON *m = ws_recv_json(c->peer, 1000);
		if (!m)
			continue;
		const char *t = rt_str(m, "t");
		assert_string_not_equal(t, "event");
		if (strcmp(t, "cursor") == 0 && rt_int(m, "x") == 45 &&
		    rt_int(m, "y") == 10)
			seen = true;
		cJSON_Delete(m);
	}
	assert_true(seen);
	char *body = NULL;
	assert_int_equal(rt_http(c->rd, "/metrics", NULL, &body), 200);
	assert_non_null(strstr(body, "roomd_rejects_total{code=\"forbidden\"} 0\n"));
	free(body);
	char db[4200];
	assert_int_equal(rt_sql_int(rd_room_db(c->rd, ROOM, db, sizeof(db)),
				    "SELECT count(*) FROM events"),
			 1);
	screen_wait(c, "| seq 1 |");
	tui_quit(c);
	unlink(secret);
	free(secret);
	free(vtok);
	free(etok);
}

/* The 80x24 layout: the status bar on the last row and every panel title. */
static void check_layout(ctx *c, int w, int h)
{
	char want[64], line[1024], top[1024];
	snprintf(want, sizeof(want), " " ROOM " | tui (editor)");
	int64_t deadline = rk_mono_us() + SCREEN_TIMEOUT_MS * 1000;
	for (;;) {
		/* Right after a resize tmux shows the old picture reflowed (a
		 * shrink keeps its bottom rows): wait for the new one, drawn
		 * top to bottom, from the board's title row to the status bar. */
		capture(c);
		screen_line(c, h - 1, line, sizeof(line));
		screen_line(c, 0, top, sizeof(top));
		if (screen_lines(c) == h && strncmp(line, want, strlen(want)) == 0 &&
		    strstr(line, "| live |") && strncmp(top, " Board ", 7) == 0)
			break;
		if (rk_mono_us() > deadline) {
			fprintf(stderr, "last screen:\n%s", c->screen);
			fail_msg("no %dx%d layout with the status bar last", w, h);
		}
		struct timespec ts = {0, 30 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* Each panel exactly once: nothing left over from an older layout. */
	screen_count_is(c, " Board ", 1);
	screen_count_is(c, "People (", 1);
	screen_count_is(c, " Polls (", 1);
	screen_count_is(c, " Chat ", 1);
	assert_int_equal(screen_count(c, want), 1);
	for (int r = 0; r < h; r++) {
		screen_line(c, r, line, sizeof(line));
		assert_true(rk_utf8_len(line, strlen(line)) <= (size_t)w);
	}
}

static void test_tui_layout_and_resize(void **state)
{
	ctx *c = *state;
	start_roomd(c, NULL);
	launch(c, 80, 24, "--name tui");
	screen_wait(c, "| live |");
	/* Something in every panel, so stale cells would show. */
	c->peer = rt_join(c->rd, ROOM, "name=peer", NULL);
	assert_true(
	    rt_op(c->peer, "r1",
		  "{\"k\":\"shape.add\",\"shape\":{\"id\":\"box\",\"type\":\"rect\","
		  "\"color\":3,\"points\":[[2,2],[12,5]]}}",
		  NULL) > 0);
	assert_true(
	    rt_op(c->peer, "p1",
		  "{\"k\":\"poll.create\",\"poll\":{\"id\":\"lunch\",\"question\":"
		  "\"Lunch?\",\"options\":[\"pizza\",\"sushi\"]}}",
		  NULL) > 0);
	assert_true(rt_op(c->peer, "c1", "{\"k\":\"chat.post\",\"text\":\"hi there\"}",
			  NULL) > 0);
	screen_wait(c, "peer: hi there");
	screen_wait(c, "+---------+");
	check_layout(c, 80, 24);
	screen_count_is(c, "+---------+", 2); /* top and bottom */
	screen_count_is(c, "pizza", 1);
	screen_count_is(c, "* peer", 1);

	/* Bigger, then back to 80x24: a clean redraw each time. */
	assert_int_equal(tmux(c, "resize-window -t tui -x 120 -y 40"), 0);
	check_layout(c, 120, 40);
	screen_count_is(c, "peer: hi there", 1);
	screen_count_is(c, "+---------+", 2); /* top and bottom */
	assert_int_equal(tmux(c, "resize-window -t tui -x 80 -y 24"), 0);
	check_layout(c, 80, 24);
	screen_count_is(c, "peer: hi there", 1);
	screen_count_is(c, "+---------+", 2); /* top and bottom */
	/* Still responsive after the resizes. */
	tmux(c, "send-keys -t tui ?");
	screen_wait(c, "roomtui keys");
	tmux(c, "send-keys -t tui Escape");
	check_layout(c, 80, 24);
	tui_quit(c);
}

static void test_tui_reject_rolls_back(void **state)
{
	ctx *c = *state;
	/* One op per second, no burst: the second of two quick posts is
	 * rejected by roomd, after the TUI has already shown it. */
	start_roomd(
	    c, (const char *const[]){"--ops-per-sec", "1", "--ops-burst", "1", NULL});
	launch(c, 100, 30, "--name tui");
	screen_wait(c, "| live |");
	tmux(c, "send-keys -t tui Tab");
	screen_wait(c, "focus:chat");
	tmux(c, "send-keys -t tui first Enter second Enter"); /* one write */
	screen_wait(c, "chat.post rejected (rate_limited)");
	screen_wait(c, "pending 0");
	screen_wait(c, "| seq 1 |");
	screen_count_is(c, "tui: first", 1);
	screen_count_is(c, "tui: second", 0); /* rolled back */
	tui_quit(c);
}

/* A deleted room (close 4404) ends the session: roomtui says so and does
 * not reconnect, which would re-create an empty room under the name. */
static void test_tui_room_deleted_is_final(void **state)
{
	ctx *c = *state;
	start_roomd(c, NULL);
	launch(c, 100, 30, "--name tui");
	screen_wait(c, "| live |");
	assert_int_equal(rt_http_method(c->rd, "DELETE", "/v1/rooms/" ROOM, NULL, NULL),
			 202);
	screen_wait(c, "room deleted");
	/* Waiting for something not to happen: several backoff periods (250 ms,
	 * then doubling) pass without a new attempt. */
	usleep(2000 * 1000);
	char *body = NULL;
	assert_int_equal(rt_http(c->rd, "/v1/rooms", NULL, &body), 200);
	assert_string_equal(body, "[]\n");
	free(body);
	capture(c);
	assert_non_null(strstr(c->screen, "room deleted"));
	tui_quit(c);
}

static void test_tui_crash_restores_terminal(void **state)
{
	ctx *c = *state;
	start_roomd(c, NULL);
	launch(c, 80, 24, "--name tui");
	screen_wait(c, "| live |");
	/* roomtui is the child of the pane's shell. */
	char cmd[256], line[64] = "";
	snprintf(cmd, sizeof(cmd),
		 "tmux -f /dev/null -L %s display -p -t tui '#{pane_pid}'", c->sock);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	pclose(f);
	int sh = atoi(line);
	assert_true(sh > 0);
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", sh, sh);
	f = fopen(path, "r");
	assert_non_null(f);
	int pid = 0;
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	assert_int_equal(kill(pid, SIGSEGV), 0);
	char code[16];
	wait_exit(c, code, sizeof(code));
	assert_string_equal(code, "139\n"); /* it still dies of the signal */
	assert_terminal_restored(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tui_end_to_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tui_drawing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tui_viewer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tui_layout_and_resize, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tui_reject_rolls_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tui_room_deleted_is_final, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tui_crash_restores_terminal, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
