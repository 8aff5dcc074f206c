/* whverify.c - roomctl webhook verify: check a captured webhook request's
 * Roomkit-Signature (PROTOCOL.md section 11) with the webhook secret, so an
 * app developer can test a receiver against what roomd really sends. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "clock.h"
#include "json.h"
#include "roomctl.h"
#include "token.h"
#include "whsig.h"

#define REQUEST_MAX (32u << 20)

static const ctl_opt verify_opts[] = {
    {"--secret-file", true, false}, {"--tolerance", true, false}, {"--body", true, false},
    {"--signature", true, false},   {"--request", true, false},	  {NULL, false, false},
};

/* The whole of f (at most REQUEST_MAX bytes), NUL-terminated; NULL if
 * unreadable or too big. */
static char *slurp(FILE *f, size_t *len)
{
	rk_buf b;
	rk_buf_init(&b, REQUEST_MAX);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rk_buf_put(&b, chunk, n);
	if (ferror(f) || rk_buf_ok(&b) != RK_OK) {
		rk_buf_free(&b);
		return NULL;
	}
	rk_buf_putc(&b, '\0');
	char *s = rk_buf_steal(&b, len);
	if (s && len)
		(*len)--;
	return s ? s : strdup("");
}

static char *slurp_path(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *s = slurp(f, len);
	fclose(f);
	return s;
}

/* Split a captured HTTP request: the Roomkit-Signature value into sig and
 * the body (after the blank line; Content-Length bytes of it when given).
 * false if there is no header/body boundary. */
static bool split_request(char *req, size_t len, char *sig, size_t siglen,
			  const char **body, size_t *blen)
{
	char *end = strstr(req, "\r\n\r\n");
	size_t sep = 4;
	char *lf = strstr(req, "\n\n");
	if (!end || (lf && lf < end)) {
		end = lf;
		sep = 2;
	}
	if (!end)
		return false;
	*end = '\0';
	*body = end + sep;
	*blen = len - (size_t)(*body - req);
	sig[0] = '\0';
	for (char *line = req; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (strncasecmp(line, "roomkit-signature:", 18) == 0) {
			const char *v = line + 18;
			while (*v == ' ' || *v == '\t')
				v++;
			snprintf(sig, siglen, "%s", v);
		} else if (strncasecmp(line, "content-length:", 15) == 0) {
			unsigned long long cl = strtoull(line + 15, NULL, 10);
			if (cl < *blen)
				*blen = (size_t)cl;
		}
		line = next;
	}
	return true;
}

int cmd_webhook(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse(c, argc, argv, verify_opts, 1, &a);
	if (rc != RK_CLI_GO)
		return rc;
	if (a.npos != 1 || strcmp(a.pos[0], "verify") != 0)
		return ctl_usage(
		    c, "the only subcommand is verify (roomctl webhook verify ...)");
	const char *secret_file = ctl_get(verify_opts, &a, "--secret-file");
	const char *body_file = ctl_get(verify_opts, &a, "--body");
	const char *sig_arg = ctl_get(verify_opts, &a, "--signature");
	const char *req_file = ctl_get(verify_opts, &a, "--request");
	const char *tol_s = ctl_get(verify_opts, &a, "--tolerance");
	if (!secret_file)
		return ctl_usage(c, "--secret-file is required");
	if (!body_file != !sig_arg)
		return ctl_usage(c, "--body and --signature go together");
	if (body_file && req_file)
		return ctl_usage(c, "give --body/--signature or --request, not both");
	int64_t tol = 300;
	if (tol_s && ctl_int(c, "--tolerance", tol_s, -1, INT64_C(1) << 40, &tol))
		return RK_EXIT_USAGE;

	unsigned char *secret = NULL;
	size_t secret_len = 0;
	if (rk_cli_secret(c->err, secret_file, &secret, &secret_len) != RK_EXIT_OK)
		return RK_EXIT_FAIL;
	size_t len = 0;
	char *data = body_file	? slurp_path(body_file, &len)
		     : req_file ? slurp_path(req_file, &len)
				: slurp(stdin, &len);
	char sig[1024];
	const char *body = data;
	size_t blen = len;
	rc = RK_EXIT_FAIL;
	if (!data) {
		ctl_fail(c, "cannot read %s",
			 body_file  ? body_file
			 : req_file ? req_file
				    : "stdin");
		goto out;
	}
	if (sig_arg) {
		snprintf(sig, sizeof(sig), "%s", sig_arg);
	} else if (!split_request(data, len, sig, sizeof(sig), &body, &blen)) {
		ctl_fail(c,
			 "not an HTTP request: no blank line between headers and body");
		goto out;
	} else if (!sig[0]) {
		ctl_fail(c, "the request has no Roomkit-Signature header");
		goto out;
	}
	rk_whsig_result r = rk_whsig_verify(secret, secret_len, sig, body, blen,
					    rk_wall_ms() / 1000, tol);
	if (r != RK_WHSIG_OK) {
		ctl_fail(c, "%s", rk_whsig_strerror(r));
		goto out;
	}
	char desc[200] = "";
	cJSON *j = rk_json_parse(body, blen, REQUEST_MAX, RK_JSON_DEPTH_MAX, NULL, 0);
	const cJSON *id = j ? cJSON_GetObjectItemCaseSensitive(j, "id") : NULL;
	const cJSON *type = j ? cJSON_GetObjectItemCaseSensitive(j, "type") : NULL;
	if (cJSON_IsString(id) && cJSON_IsString(type))
		snprintf(desc, sizeof(desc), ": %s %s", type->valuestring,
			 id->valuestring);
	cJSON_Delete(j);
	fprintf(c->out, "signature valid%s\n", desc);
	rc = RK_EXIT_OK;
out:
	free(data);
	OPENSSL_cleanse(secret, secret_len);
	free(secret);
	return rc;
}
