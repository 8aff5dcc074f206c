/*
 * opts.c - roomtui's command line (PROTOCOL.md section 10) and --help, which
 * is also the reference of every key (the '?' overlay shows the same keys).
 */
#include "tui.h"
#include "cli.h"
#include "roomid.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: roomtui --url ws://HOST:PORT --room ROOM [--name NAME | --token TOKEN]\n"
    "               [--ca FILE] [--log FILE]\n"
    "\n"
    "A live terminal client for a roomd room: whiteboard, polls, chat.\n"
    "Works from 80x24 up and follows terminal resizes.\n"
    "\n"
    "Options:\n"
    "  --url URL      ws://HOST:PORT or wss://HOST:PORT of roomd (wss: the\n"
    "                 server's certificate and name are verified)\n"
    "  --ca FILE      wss://: also trust the CA certificate(s) in FILE (PEM),\n"
    "                 e.g. a self-signed server certificate; else only the\n"
    "                 system's trust store\n"
    "  --room ROOM    the room to join\n"
    "  --name NAME    display name (servers without a secret)\n"
    "  --token TOKEN  a room token (servers with a secret; names the user)\n"
    "  --log FILE     write diagnostics to FILE (the terminal is the UI's)\n"
    "  --help         this text\n"
    "\n"
    "Exit codes: 0 quit by the user, 1 runtime error, 2 usage error.\n"
    "\n";

/* Shared with the '?' overlay through tui_help_lines. */
const char *const tui_help_lines[] = {
    "Keys (everywhere)",
    "  ?             show / hide this help",
    "  Tab           focus: board -> chat -> polls",
    "  Esc           cancel the tool, prompt or focus; back to the board",
    "  Ctrl-C, q     quit (q: not while typing)",
    "Board",
    "  arrows        pan the view (view tool); move the pen (other tools)",
    "  h j k l       move the pen (drawing tools)",
    "  H J K L       move the pen / pan by 8",
    "  p             pen tool: Space puts the pen down / up (a stroke)",
    "  l  r          line / rect tool: Space marks each of the two points",
    "                (in a drawing tool l moves the pen: Esc first for l)",
    "  t             text tool: Space or Enter at the pen asks for the text",
    "  v             view tool (pan with the arrows)",
    "  0..7          drawing color",
    "  n  N          select the next / previous shape in view",
    "  s             select the shape under the pen",
    "  x  Del        delete the selected shape",
    "  g             go to the origin (0,0)",
    "  mouse drag    view tool: pan the board; pen: draw a stroke;",
    "                line / rect: from press to release; text: click",
    "  mouse wheel   pan up / down",
    "Chat",
    "  type, Enter   send a chat line",
    "  PgUp PgDn     scroll back / forward",
    "Polls",
    "  Up Down       select a poll",
    "  1..9, 0       vote for option 1..9, 10",
    "  c             create a poll (question, then options; empty ends)",
    "  x             close the selected poll (yours, or as owner)",
    NULL,
};

void tui_print_help(void *file)
{
	FILE *f = file;
	fputs(usage, f);
	for (const char *const *l = tui_help_lines; *l; l++)
		fprintf(f, "%s\n", *l);
}

int tui_parse_args(int argc, char **argv, tui_opts *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	const char *url = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			tui_print_help(stdout);
			return RK_EXIT_OK;
		}
		const char **dst = NULL;
		if (strcmp(a, "--url") == 0)
			dst = &url;
		else if (strcmp(a, "--room") == 0)
			dst = &o->room;
		else if (strcmp(a, "--name") == 0)
			dst = &o->name;
		else if (strcmp(a, "--token") == 0)
			dst = &o->token;
		else if (strcmp(a, "--log") == 0)
			dst = &o->log_path;
		else if (strcmp(a, "--ca") == 0)
			dst = &o->ca_file;
		if (!dst) {
			snprintf(err, errlen, "unknown option '%s'", a);
			return RK_EXIT_USAGE;
		}
		if (i + 1 >= argc) {
			snprintf(err, errlen, "%s needs a value", a);
			return RK_EXIT_USAGE;
		}
		*dst = argv[++i];
	}
	if (!url || !o->room) {
		snprintf(err, errlen, "--url and --room are required");
		return RK_EXIT_USAGE;
	}
	if (!rk_wsurl_parse(url, &o->srv)) {
		snprintf(err, errlen,
			 "--url must be ws://HOST[:PORT][/] or wss://HOST[:PORT][/]");
		return RK_EXIT_USAGE;
	}
	if (o->ca_file && !o->srv.tls) {
		snprintf(err, errlen, "--ca is for wss:// URLs");
		return RK_EXIT_USAGE;
	}
	if (!rk_roomid_validz(o->room)) {
		snprintf(err, errlen, "--room: not a valid room id");
		return RK_EXIT_USAGE;
	}
	if (o->name && o->token) {
		snprintf(err, errlen, "give --name or --token, not both");
		return RK_EXIT_USAGE;
	}
	if (o->name && (!*o->name || strlen(o->name) > RK_NAME_BYTES)) {
		snprintf(err, errlen, "--name must be 1-32 characters");
		return RK_EXIT_USAGE;
	}
	return RK_CLI_GO;
}
