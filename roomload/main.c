/*
 * main.c - roomload: a thin main around the run (see load.h for the map).
 * Exit status: 0 every check passed, 1 a check failed or a runtime error,
 * 2 usage error.
 */
#include "cleanup.h"
#include "cli.h"
#include "load.h"
#include "log.h"
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	load *ld = calloc(1, sizeof(*ld));
	if (!ld)
		return RK_EXIT_FAIL;
	rk_log_set_level(RK_LOG_WARN);
	int rc = config_parse(&ld->cfg, argc, argv);
	if (rc != RK_CLI_GO) {
		config_free(&ld->cfg);
		free(ld);
		return rc;
	}
	if (!acked_file_reset(&ld->cfg)) {
		rc = RK_EXIT_FAIL;
	} else if (ld->cfg.procs > 1) {
		/* The report covers what the workers sent, even if one died. */
		if (!report_csv_open(ld)) {
			rc = RK_EXIT_FAIL;
		} else {
			rc = procs_run(ld);
			if (report_final(ld) != 0)
				rc = RK_EXIT_FAIL;
		}
	} else {
		rc = report_csv_open(ld) ? run_load(ld) : RK_EXIT_FAIL;
		if (rc == 0)
			rc = report_final(ld);
	}
	report_csv_close(ld);
	/* After the report: its figures are the run's, not the cleanup's. */
	if (ld->cfg.cleanup &&
	    cleanup_rooms(&ld->cfg, ld->cfg.json ? stderr : stdout) != 0)
		rc = RK_EXIT_FAIL;
	load_free(ld);
	free(ld);
	return rc;
}
