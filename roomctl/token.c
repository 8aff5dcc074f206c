/* token.c - roomctl token: sign a room token with the server's secret. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "json.h"
#include "roomctl.h"
#include "roomid.h"
#include "token.h"
#include <openssl/crypto.h>

enum { SECRET_MAX = RK_SECRET_MAX };

/* The secret file, read as every roomkit binary reads it (libcli).
 * Returns the length, or 0 with an error printed. */
static size_t read_secret(ctl_ctx *c, const char *path, unsigned char *buf, size_t cap)
{
	unsigned char *p = NULL;
	size_t n = 0;
	if (rk_cli_secret(c->err, path, &p, &n) != RK_EXIT_OK)
		return 0;
	if (n > cap)
		n = 0; /* cannot happen: cap is RK_SECRET_MAX */
	else
		memcpy(buf, p, n);
	OPENSSL_cleanse(p, n);
	free(p);
	return n;
}

/* A token's room: a room id, "*", or a room id prefix followed by '*'. */
static bool room_pattern_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 1 && s[0] == '*')
		return true;
	if (n > 1 && s[n - 1] == '*')
		return rk_roomid_valid(s, n - 1);
	return rk_roomid_validz(s);
}

static const ctl_opt token_opts[] = {
    {"--secret-file", true, false}, {"--room", true, false}, {"--user", true, false},
    {"--role", true, false},	    {"--ttl", true, false},  {NULL, false, false},
};

int cmd_token(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse(c, argc, argv, token_opts, 0, &a);
	if (rc != RK_CLI_GO)
		return rc;
	const char *secret_file = ctl_get(token_opts, &a, "--secret-file");
	const char *room = ctl_get(token_opts, &a, "--room");
	const char *user = ctl_get(token_opts, &a, "--user");
	const char *role_s = ctl_get(token_opts, &a, "--role");
	const char *ttl_s = ctl_get(token_opts, &a, "--ttl");
	if (!secret_file || !room || !user || !role_s)
		return ctl_usage(c,
				 "--secret-file, --room, --user and --role are required");
	if (!room_pattern_valid(room))
		return ctl_usage(c,
				 "--room '%s' is neither a room id, a prefix ending in "
				 "'*', nor '*'",
				 room);
	if (!rk_text_printable(user, strlen(user), RK_NAME_MAX))
		return ctl_usage(c, "--user wants 1-%d printable characters",
				 RK_NAME_MAX);
	rk_role role = rk_role_parse(role_s);
	if (role == RK_ROLE_NONE)
		return ctl_usage(c, "--role wants viewer, editor or owner, not '%s'",
				 role_s);
	int64_t ttl = 3600;
	if (ttl_s && ctl_int(c, "--ttl", ttl_s, 1, INT64_C(100) * 365 * 86400, &ttl))
		return RK_EXIT_USAGE;

	unsigned char secret[SECRET_MAX];
	size_t slen = read_secret(c, secret_file, secret, sizeof(secret));
	if (!slen)
		return RK_EXIT_FAIL;
	rk_claims cl;
	memset(&cl, 0, sizeof(cl));
	snprintf(cl.sub, sizeof(cl.sub), "%s", user);
	snprintf(cl.room, sizeof(cl.room), "%s", room);
	cl.role = role;
	cl.exp = rk_wall_ms() / 1000 + ttl;
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_err err = rk_token_sign(secret, slen, &cl, &b);
	memset(secret, 0, sizeof(secret));
	if (err != RK_OK || rk_buf_ok(&b) != RK_OK) {
		rk_buf_free(&b);
		return ctl_fail(c, "cannot sign the token: %s", rk_strerror(err));
	}
	fprintf(c->out, "%s\n", b.data);
	rk_buf_free(&b);
	return RK_EXIT_OK;
}
