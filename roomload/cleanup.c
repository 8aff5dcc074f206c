/* cleanup.c - roomload --cleanup: after the run, DELETE /v1/rooms/<room>
 * for each of its rooms (PREFIX0..PREFIX(R-1)), so a load test leaves no
 * rooms behind. libcurl, as roomctl's online commands: a handful of
 * blocking requests after the event loop is gone. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include "clock.h"
#include "cleanup.h"
#include "token.h"

/* The owner token for every room of the run ("PREFIX*"), or "" without a
 * secret (then roomd accepts a loopback client only). */
static bool owner_token(const load_config *cfg, char *out, size_t cap)
{
	out[0] = '\0';
	if (!cfg->secret)
		return true;
	rk_claims cl;
	memset(&cl, 0, sizeof(cl));
	snprintf(cl.sub, sizeof(cl.sub), "roomload");
	snprintf(cl.room, sizeof(cl.room), "%s*", cfg->prefix);
	cl.role = RK_ROLE_OWNER;
	cl.exp = rk_wall_ms() / 1000 + 600;
	rk_buf b;
	rk_buf_init(&b, 0);
	bool ok =
	    rk_token_sign(cfg->secret, cfg->secret_len, &cl, &b) == RK_OK && b.len < cap;
	if (ok)
		snprintf(out, cap, "%.*s", (int)b.len, b.data);
	rk_buf_free(&b);
	return ok;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

int cleanup_rooms(const load_config *cfg, FILE *log)
{
	char tok[4200], auth[4300];
	if (!owner_token(cfg, tok, sizeof(tok))) {
		fprintf(stderr, "Error: --cleanup: cannot sign an owner token\n");
		return 1;
	}
	CURL *cu = curl_easy_init();
	if (!cu) {
		fprintf(stderr, "Error: --cleanup: cannot initialise libcurl\n");
		return 1;
	}
	struct curl_slist *hdrs = NULL;
	if (tok[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
		hdrs = curl_slist_append(hdrs, auth);
	}
	char errbuf[CURL_ERROR_SIZE];
	curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cfg->ca_file)
		curl_easy_setopt(cu, CURLOPT_CAINFO, cfg->ca_file);
	int deleted = 0, absent = 0, rc = 0;
	for (int i = 0; i < cfg->rooms && rc == 0; i++) {
		char url[600];
		snprintf(url, sizeof(url), "%s://%s:%d/v1/rooms/%s%d",
			 cfg->srv.tls ? "https" : "http", cfg->srv.host, cfg->srv.port,
			 cfg->prefix, i);
		curl_easy_setopt(cu, CURLOPT_URL, url);
		errbuf[0] = '\0';
		CURLcode cc = curl_easy_perform(cu);
		long status = 0;
		if (cc == CURLE_OK)
			curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
		if (status == 202 || status == 200) {
			deleted++;
		} else if (status == 404) {
			absent++; /* never created (or deleted already) */
		} else {
			fprintf(stderr, "Error: --cleanup: DELETE %s: %s%s\n", url,
				cc != CURLE_OK
				    ? (errbuf[0] ? errbuf : curl_easy_strerror(cc))
				    : "HTTP status ",
				cc != CURLE_OK ? ""
				: status == 401 || status == 403
				    ? "401/403 (give roomload the server's "
				      "--secret-file; without a "
				      "secret roomd lets only a loopback client delete)"
				    : "other than 202");
			rc = 1;
		}
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(cu);
	memset(tok, 0, sizeof(tok));
	memset(auth, 0, sizeof(auth));
	if (log)
		fprintf(log, "cleanup: %d rooms deleted, %d not found%s\n", deleted,
			absent, rc ? " (stopped at an error)" : "");
	return rc;
}
