/*
 * main.c - roomtui: parse the command line, then run the app.
 * Exit codes: 0 quit by the user, 1 runtime error, 2 usage error.
 */
#include "log.h"
#include "tui.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	tui_opts o;
	char err[256];
	bool help;
	int rc = tui_parse_args(argc, argv, &o, err, sizeof(err), &help);
	if (help) {
		tui_print_help(stdout);
		return 0;
	}
	if (rc != 0) {
		fprintf(stderr, "Error: %s (try --help)\n", err);
		return 2;
	}
	if (o.ca_file && access(o.ca_file, R_OK) != 0) {
		fprintf(stderr, "Error: --ca %s: %s\n", o.ca_file, strerror(errno));
		return 1;
	}
	if (o.log_path) {
		if (!freopen(o.log_path, "a", stderr)) {
			fprintf(stderr, "Error: cannot open --log %s\n", o.log_path);
			return 1;
		}
		rk_log_set_level(RK_LOG_DEBUG);
	} else {
		/* Anything written to stderr would tear the screen. */
		rk_log_set_level(RK_LOG_ERROR);
	}
	return app_run(&o);
}
