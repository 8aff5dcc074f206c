/*
 * main.c - roomtui: parse the command line, then run the app.
 * Exit codes: 0 quit by the user, 1 runtime error, 2 usage error.
 */
#include "cli.h"
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
	int rc = tui_parse_args(argc, argv, &o, err, sizeof(err));
	if (rc == RK_EXIT_USAGE)
		fprintf(stderr, "Error: %s (try --help)\n", err);
	if (rc != RK_CLI_GO)
		return rc;
	if (o.ca_file && access(o.ca_file, R_OK) != 0) {
		fprintf(stderr, "Error: --ca %s: %s\n", o.ca_file, strerror(errno));
		return RK_EXIT_FAIL;
	}
	if (o.log_path) {
		if (!freopen(o.log_path, "a", stderr)) {
			fprintf(stderr, "Error: cannot open --log %s\n", o.log_path);
			return RK_EXIT_FAIL;
		}
		rk_log_set_level(RK_LOG_DEBUG);
	} else {
		/* Anything written to stderr would tear the screen. */
		rk_log_set_level(RK_LOG_ERROR);
	}
	return app_run(&o);
}
