/*
 * test_install.c - `make install` (cmake --install of this build tree, into
 * a DESTDIR) lays out a working service: the four binaries run, a man page
 * each, a systemd unit with the sandboxing keys whose ExecStart is the
 * installed roomd with the installed config (and which systemd-analyze
 * verify accepts, where it exists), and a config that roomd starts with and
 * that a second install does not overwrite.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "roomtest.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		fail_msg("%s is not set", name);
	return v;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	rk_buf b;
	rk_buf_init(&b, 1 << 20);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rk_buf_put(&b, chunk, n);
	fclose(f);
	rk_buf_putc(&b, '\0');
	return rk_buf_steal(&b, NULL);
}

static void install_into(const char *destdir)
{
	char de[PATH_MAX + 16];
	snprintf(de, sizeof(de), "DESTDIR=%s", destdir);
	const char *argv[] = {"/usr/bin/env",	   de,	env("RK_CMAKE"), "--install",
			      env("RK_BUILD_DIR"), NULL};
	char *out = NULL;
	int rc = rt_run(argv, 120000, &out);
	if (rc != 0)
		fail_msg("cmake --install: exit %d\n%s", rc, out);
	free(out);
}

static void rm_rf(const char *dir)
{
	const char *argv[] = {"/bin/rm", "-rf", dir, NULL};
	assert_int_equal(rt_run(argv, 60000, NULL), 0);
}

/* The value after "Key=" on its own line of a unit, into out. */
static bool unit_value(const char *unit, const char *key, char *out, size_t n)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\n%s=", key);
	const char *p = strstr(unit, pat);
	if (!p)
		return false;
	p += strlen(pat);
	snprintf(out, n, "%.*s", (int)strcspn(p, "\n"), p);
	return true;
}

static void test_install_tree(void **state)
{
	(void)state;
	char dest[] = "/tmp/roomkit-install-XXXXXX";
	assert_non_null(mkdtemp(dest));
	install_into(dest);

	/* The unit: where roomd and its config are, and the sandbox. */
	const char *pre = env("RK_PREFIX");
	char unit_path[PATH_MAX], want_bin[PATH_MAX], want_conf[PATH_MAX];
	snprintf(unit_path, sizeof(unit_path), "%s%s/lib/systemd/system/roomd.service",
		 dest, pre);
	snprintf(want_bin, sizeof(want_bin), "%s/bin/roomd", pre);
	snprintf(want_conf, sizeof(want_conf), "%s/etc/roomkit/roomd.conf",
		 strcmp(pre, "/usr") == 0 ? "" : pre);
	char *unit = slurp(unit_path);
	static const char *const sandbox[][2] = {
	    {"DynamicUser", "yes"},	 {"StateDirectory", "roomd"},
	    {"ProtectSystem", "strict"}, {"NoNewPrivileges", "yes"},
	    {"ProtectHome", "yes"},	 {"PrivateTmp", "yes"},
	};
	char v[PATH_MAX];
	for (size_t i = 0; i < sizeof(sandbox) / sizeof(sandbox[0]); i++)
		if (!unit_value(unit, sandbox[i][0], v, sizeof(v)) ||
		    strcmp(v, sandbox[i][1]) != 0)
			fail_msg("unit: want %s=%s", sandbox[i][0], sandbox[i][1]);
	assert_true(unit_value(unit, "ExecStart", v, sizeof(v)));
	char roomd[PATH_MAX], conf[PATH_MAX];
	assert_int_equal(sscanf(v, "%4095s --config %4095s", roomd, conf), 2);
	assert_string_equal(roomd, want_bin);
	assert_string_equal(conf, want_conf);

	/* Every binary runs from there; every one has a man page. */
	static const char *const bins[] = {"roomd", "roomctl", "roomload", "roomtui"};
	for (size_t i = 0; i < 4; i++) {
		char bin[PATH_MAX], man[PATH_MAX], th[64];
		snprintf(bin, sizeof(bin), "%s%s/bin/%s", dest, pre, bins[i]);
		const char *argv[] = {bin, "--help", NULL};
		char *out = NULL;
		if (rt_run(argv, 10000, &out) != 0 || !strstr(out, "Usage:"))
			fail_msg("%s --help: %s", bin, out);
		free(out);
		snprintf(man, sizeof(man), "%s%s/share/man/man1/%s.1", dest, pre,
			 bins[i]);
		char *page = slurp(man);
		snprintf(th, sizeof(th), ".TH %s ", bins[i]);
		for (char *c = th; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		if (!strstr(page, th) || !strstr(page, "\\-\\-help"))
			fail_msg("%s: not a man page of %s --help", man, bins[i]);
		free(page);
	}

	/* The installed config starts roomd (the harness's --listen and --data
	 * override the file's: flags win). */
	char conf_path[PATH_MAX + 64];
	snprintf(conf_path, sizeof(conf_path), "%s%s", dest, conf);
	const char *args[] = {"--config", conf_path, NULL};
	rd_proc *rd = rt_start(args);
	rd_cleanup(rd);

	/* systemd's own check of the unit, with ExecStart at the DESTDIR copy. */
	if (access("/usr/bin/systemd-analyze", X_OK) == 0) {
		char *copy = NULL, bin[PATH_MAX + 32];
		snprintf(bin, sizeof(bin), "%s%s", dest, want_bin);
		rk_buf b;
		rk_buf_init(&b, 0);
		const char *at = strstr(unit, want_bin);
		rk_buf_put(&b, unit, (size_t)(at - unit));
		rk_buf_puts(&b, bin);
		rk_buf_puts(&b, at + strlen(want_bin));
		copy = rt_temp_file(b.data);
		rk_buf_free(&b);
		char vdir[PATH_MAX + 32], vunit[PATH_MAX + 64], manpath[PATH_MAX + 40];
		snprintf(vdir, sizeof(vdir), "%s/verify", dest);
		assert_int_equal(mkdir(vdir, 0700), 0);
		snprintf(vunit, sizeof(vunit), "%s/roomd.service", vdir);
		assert_int_equal(rename(copy, vunit), 0);
		free(copy);
		snprintf(manpath, sizeof(manpath), "MANPATH=%s%s/share/man", dest, pre);
		const char *argv[] = {"/usr/bin/env", manpath, "/usr/bin/systemd-analyze",
				      "verify",	      vunit,   NULL};
		char *out = NULL;
		int rc = rt_run(argv, 60000, &out);
		if (rc != 0 || out[0])
			fail_msg("systemd-analyze verify: exit %d: %s", rc, out);
		free(out);
	} else {
		print_message("no systemd-analyze: unit checked by its keys only\n");
	}
	free(unit);

	/* A second install keeps an edited config. */
	FILE *f = fopen(conf_path, "a");
	assert_non_null(f);
	fputs("# edited by the admin\n", f);
	fclose(f);
	install_into(dest);
	char *kept = slurp(conf_path);
	assert_non_null(strstr(kept, "# edited by the admin"));
	free(kept);
	rm_rf(dest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_install_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
