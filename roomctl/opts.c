/* opts.c - a small option parser: "--name VALUE", "--name=VALUE", flags,
 * repeated options, positional arguments and "--" (no global state, unlike
 * getopt, so roomctl_main can run many times in one process). */
#include <string.h>

#include "cli.h"
#include "roomctl.h"

int ctl_opt_index(const ctl_opt *opts, const char *name)
{
	for (int i = 0; opts && opts[i].name; i++)
		if (strcmp(opts[i].name, name) == 0)
			return i;
	return -1;
}

const char *ctl_get(const ctl_opt *opts, const ctl_args *a, const char *name)
{
	int i = ctl_opt_index(opts, name);
	if (i < 0 || a->opt[i].n == 0)
		return NULL;
	int last = a->opt[i].n < CTL_MAX_VALS ? a->opt[i].n - 1 : CTL_MAX_VALS - 1;
	return a->opt[i].vals[last];
}

bool ctl_flag(const ctl_opt *opts, const ctl_args *a, const char *name)
{
	int i = ctl_opt_index(opts, name);
	return i >= 0 && a->opt[i].n > 0;
}

int ctl_parse(ctl_ctx *c, int argc, char **argv, const ctl_opt *opts, int max_pos,
	      ctl_args *a)
{
	memset(a, 0, sizeof(*a));
	bool only_pos = false;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (a->npos >= max_pos || a->npos >= CTL_MAX_POS)
				return ctl_usage(c, "unexpected argument '%s'", arg);
			a->pos[a->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			ctl_help(c->out, c->cmd);
			return RK_EXIT_OK;
		}
		const char *eq = strchr(arg, '=');
		size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		int k = -1;
		for (int j = 0; opts && opts[j].name; j++) {
			if (strlen(opts[j].name) == nlen &&
			    strncmp(opts[j].name, arg, nlen) == 0) {
				k = j;
				break;
			}
		}
		if (k < 0)
			return ctl_usage(c, "unknown option '%.*s'", (int)nlen, arg);
		const char *val = NULL;
		if (opts[k].has_arg) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return ctl_usage(c, "option %s needs a value",
						 opts[k].name);
		} else if (eq) {
			return ctl_usage(c, "option %s takes no value", opts[k].name);
		}
		if (a->opt[k].n > 0 && !opts[k].multi && opts[k].has_arg)
			return ctl_usage(c, "option %s given twice", opts[k].name);
		if (a->opt[k].n < CTL_MAX_VALS)
			a->opt[k].vals[a->opt[k].n] = val;
		else
			return ctl_usage(c, "option %s given too often", opts[k].name);
		a->opt[k].n++;
	}
	return RK_CLI_GO;
}

int ctl_int(ctl_ctx *c, const char *opt, const char *s, int64_t min, int64_t max,
	    int64_t *out)
{
	char why[256];
	long long v;
	if (!rk_cli_int(opt, s, min, max, &v, why, sizeof(why)))
		return ctl_usage(c, "%s", why);
	*out = v;
	return RK_EXIT_OK;
}

int ctl_parse_file(ctl_ctx *c, int argc, char **argv, const ctl_opt *opts, ctl_args *a)
{
	int rc = ctl_parse(c, argc, argv, opts, 1, a);
	if (rc != RK_CLI_GO)
		return rc;
	if (a->npos != 1)
		return ctl_usage(c, "which room file? (roomctl %s ROOM.db)", c->cmd);
	return RK_CLI_GO;
}
