/*
 * main.c - roomload: a thin main around the run (see load.h for the map).
 * Exit status: 0 every check passed, 1 a check failed or a runtime error,
 * 2 usage error.
 */
#include "cleanup.h"
#include "load.h"
#include "log.h"
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	load *ld = calloc(1, sizeof(*ld));
	if (!ld)
		return 1;
	rk_log_set_level(RK_LOG_WARN);
	int rc = config_parse(&ld->cfg, argc, argv);
	if (rc) {
		config_free(&ld->cfg);
		free(ld);
		return rc == 1 ? 0 : rc == 2 ? 2 : 1;
	}
	if (ld->cfg.procs > 1) {
		/* The report covers what the workers sent, even if one died. */
		if (!report_csv_open(ld)) {
			rc = 1;
		} else {
			rc = procs_run(ld);
			if (report_final(ld) != 0)
				rc = 1;
		}
	} else {
		rc = report_csv_open(ld) ? run_load(ld) : 1;
		if (rc == 0)
			rc = report_final(ld);
	}
	report_csv_close(ld);
	/* After the report: its figures are the run's, not the cleanup's. */
	if (ld->cfg.cleanup && cleanup_rooms(&ld->cfg, ld->cfg.json ? stderr : stdout) != 0)
		rc = 1;
	load_free(ld);
	free(ld);
	return rc;
}
