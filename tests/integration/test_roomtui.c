/*
 * test_roomtui.c - the real roomtui, driven through tmux against a real
 * roomd, proves the client end to end: a chat line typed in the TUI reaches
 * a WebSocket peer; a shape a peer adds appears on the TUI's screen; a vote
 * from the TUI changes the tally the peer sees; after roomd goes down the
 * status bar says "reconnecting", and once roomd is back the TUI is live
 * again with the board intact and new events arriving.
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
#include "roomtest.h"

#define SCREEN_TIMEOUT_MS 10000
#define ROOM "tuiroom"

typedef struct ctx {
	rd_proc *rd;
	char sock[64];	   /* tmux -L socket name */
	struct ws *peer;
	char screen[16384]; /* the last capture */
} ctx;

static int tmux(ctx *c, const char *fmt, ...) RK_PRINTF(2, 3);
static int tmux(ctx *c, const char *fmt, ...)
{
	char args[2048], cmd[2200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "tmux -L %s %s", c->sock, args);
	return system(cmd);
}

static void capture(ctx *c)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "tmux -L %s capture-pane -p -t tui 2>/dev/null", c->sock);
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
		if (rk_mono_us() > deadline)
			fail_msg("screen never showed \"%s\"; last screen:\n%s", s, c->screen);
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

static int setup(void **state)
{
	ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	snprintf(c->sock, sizeof(c->sock), "rk-roomtui-%d", (int)getpid());
	unsetenv("TMUX");
	c->rd = rd_start(NULL, NULL);
	if (!c->rd) {
		free(c);
		return -1;
	}
	const char *bin = getenv("ROOMTUI_BIN");
	if (!bin) {
		rd_cleanup(c->rd);
		free(c);
		return -1;
	}
	int rc = tmux(c, "new-session -d -s tui -x 100 -y 30 "
			 "'TERM=xterm-256color LC_ALL=C.UTF-8 %s --url ws://127.0.0.1:%d --room " ROOM
			 " --name tui'",
		      bin, c->rd->port);
	*state = c;
	return rc == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	ctx *c = *state;
	if (!c)
		return 0;
	tmux(c, "kill-server 2>/dev/null");
	if (c->peer)
		rt_free(c->peer);
	rd_cleanup(c->rd);
	free(c);
	return 0;
}

static void test_tui_end_to_end(void **state)
{
	ctx *c = *state;
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
	assert_true(rt_op(c->peer, "r1",
			  "{\"k\":\"shape.add\",\"shape\":{\"id\":\"box\",\"type\":\"rect\","
			  "\"color\":3,\"points\":[[2,2],[12,5]]}}",
			  NULL) > 0);
	screen_wait(c, "+---------+");

	/* A vote from the TUI changes the tally the peer sees. */
	assert_true(rt_op(c->peer, "p1",
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

	/* roomd goes away: the TUI says so and keeps retrying. */
	rt_free(c->peer);
	c->peer = NULL;
	int port = c->rd->port;
	/* roomd's own exit code is not under test here. */
	assert_true(rd_stop(c->rd, SIGTERM) >= 0);
	screen_wait(c, "reconnecting in");
	/* Back on the same port: live again, board and seq intact. */
	char listen[64];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	assert_int_equal(rd_restart(c->rd, (const char *const[]){"--listen", listen, NULL}),
			 0);
	screen_wait(c, "| live |");
	screen_wait(c, "+---------+");
	screen_wait(c, "| seq 4 |");
	/* New events arrive after the reconnect. */
	c->peer = rt_join(c->rd, ROOM, "name=peer2", NULL);
	assert_true(rt_op(c->peer, "c2", "{\"k\":\"chat.post\",\"text\":\"after restart\"}",
			  NULL) > 0);
	screen_wait(c, "peer2: after restart");
	screen_wait(c, "| seq 5 |");
	/* The vote survived too: sushi has one vote, ours. */
	screen_wait(c, "*2 sushi");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tui_end_to_end, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
