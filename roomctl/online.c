/* online.c - the commands that ask a running roomd over HTTP (libcurl):
 * rooms, room, health, metrics (PROTOCOL.md section 8). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "roomctl.h"
#include "roomid.h"

#define DEFAULT_SERVER "http://127.0.0.1:8080"

enum {
	BODY_MAX = 64 << 20, /* largest answer we accept */
	CONNECT_TIMEOUT_S = 5,
	TIMEOUT_S = 30,
};

typedef struct http_get {
	long status; /* HTTP status, 0 if none */
	rk_buf body; /* the answer's body, capped at BODY_MAX */
} http_get;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	rk_buf *b = arg;
	rk_buf_put(b, p, size * n);
	return b->failed ? 0 : size * n;
}

/* GET server+path; an https:// server's certificate is verified against
 * ca (a PEM file) if not NULL, else against the system's trust store.
 * RK_EXIT_OK with the status and body (free h->body), or RK_EXIT_FAIL with the error
 * printed (no connection, TLS refused, timeout, too big). */
static int get(ctl_ctx *c, const char *server, const char *ca, const char *path,
	       const char *token, http_get *h)
{
	memset(h, 0, sizeof(*h));
	rk_buf_init(&h->body, BODY_MAX);
	char url[2048];
	size_t sl = strlen(server);
	while (sl && server[sl - 1] == '/')
		sl--;
	if ((size_t)snprintf(url, sizeof(url), "%.*s%s", (int)sl, server, path) >=
	    sizeof(url))
		return ctl_fail(c, "server URL too long");
	CURL *cu = curl_easy_init();
	if (!cu)
		return ctl_fail(c, "cannot initialise libcurl");
	char auth[4200];
	struct curl_slist *hdrs = NULL;
	if (token && *token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &h->body);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT, (long)TIMEOUT_S);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	if (ca)
		curl_easy_setopt(cu, CURLOPT_CAINFO, ca);
	CURLcode cc = curl_easy_perform(cu);
	int rc = RK_EXIT_OK;
	if (cc != CURLE_OK) {
		rc = ctl_fail(c, "GET %s: %s%s", url,
			      errbuf[0] ? errbuf : curl_easy_strerror(cc),
			      cc == CURLE_PEER_FAILED_VERIFICATION
				  ? " (pass the server's CA certificate with --ca or "
				    "ROOMCTL_CA)"
				  : "");
	} else {
		curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &h->status);
	}
	memset(auth, 0, sizeof(auth));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(cu);
	if (rc != RK_EXIT_OK)
		rk_buf_free(&h->body);
	return rc;
}

/* Fail on a non-200 answer with a message that says what to do. */
/* The server's answer as it came (--json, --raw), ending in a newline. */
static void print_body(ctl_ctx *c, const http_get *h)
{
	if (!h->body.data)
		return;
	fwrite(h->body.data, 1, h->body.len, c->out);
	if (h->body.len && h->body.data[h->body.len - 1] != '\n')
		fputc('\n', c->out);
}

static int check_status(ctl_ctx *c, const char *what, http_get *h)
{
	if (h->status == 200)
		return RK_EXIT_OK;
	const char *hint = "";
	if (h->status == 401)
		hint = " (roomd has a secret: pass an owner token with --token or "
		       "ROOMCTL_TOKEN)";
	else if (h->status == 403)
		hint = " (the token must have role owner and cover the room; '*' for the "
		       "list)";
	/* roomd's errors are {"error","msg"}: show the msg; else the first line. */
	char body[160] = "";
	cJSON *j = h->body.data ? cJSON_ParseWithLength(h->body.data, h->body.len) : NULL;
	const cJSON *msg = cJSON_GetObjectItem(j, "msg");
	if (cJSON_IsString(msg))
		snprintf(body, sizeof(body), "%s", msg->valuestring);
	else if (h->body.data)
		snprintf(body, sizeof(body), "%.*s", (int)strcspn(h->body.data, "\r\n"),
			 h->body.data);
	cJSON_Delete(j);
	ctl_fail(c, "%s: HTTP %ld %s%s", what, h->status, body, hint);
	rk_buf_free(&h->body);
	return RK_EXIT_FAIL;
}

static const ctl_opt api_opts[] = {
    {"--server", true, false}, {"--token", true, false}, {"--json", false, false},
    {"--raw", false, false},   {"--ca", true, false},	 {NULL, false, false},
};

static const char *server_of(const ctl_args *a)
{
	const char *s = ctl_get(api_opts, a, "--server");
	if (!s)
		s = getenv("ROOMCTL_SERVER");
	return s && *s ? s : DEFAULT_SERVER;
}

static const char *ca_of(const ctl_args *a)
{
	const char *s = ctl_get(api_opts, a, "--ca");
	if (!s)
		s = getenv("ROOMCTL_CA");
	return s && *s ? s : NULL;
}

static const char *token_of(const ctl_args *a)
{
	const char *t = ctl_get(api_opts, a, "--token");
	return t ? t : getenv("ROOMCTL_TOKEN");
}

/* Parse an API answer as JSON of the given kind; NULL with an error. */
static cJSON *parse_json(ctl_ctx *c, http_get *h, bool array)
{
	cJSON *j = h->body.data ? cJSON_ParseWithLength(h->body.data, h->body.len) : NULL;
	if (!j || (array ? !cJSON_IsArray(j) : !cJSON_IsObject(j))) {
		cJSON_Delete(j);
		ctl_fail(c, "the server's answer is not a JSON %s",
			 array ? "array" : "object");
		return NULL;
	}
	return j;
}

static int64_t jint(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static bool jbool(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* Parse the shared options; forbid the ones a command does not take. */
static int api_args(ctl_ctx *c, int argc, char **argv, int max_pos, bool json_ok,
		    bool raw_ok, bool token_ok, ctl_args *a)
{
	int rc = ctl_parse(c, argc, argv, api_opts, max_pos, a);
	if (rc != RK_CLI_GO)
		return rc;
	if (!json_ok && ctl_flag(api_opts, a, "--json"))
		return ctl_usage(c, "unknown option '--json'");
	if (!raw_ok && ctl_flag(api_opts, a, "--raw"))
		return ctl_usage(c, "unknown option '--raw'");
	if (!token_ok && ctl_flag(api_opts, a, "--token"))
		return ctl_usage(c, "unknown option '--token'");
	return RK_CLI_GO;
}

int cmd_rooms(ctl_ctx *c, int argc, char **argv)
{
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--pg") == 0 || strncmp(argv[i], "--pg=", 5) == 0)
			return ctl_rooms_pg(c, argc, argv);
	ctl_args a;
	int rc = api_args(c, argc, argv, 0, true, false, true, &a);
	if (rc != RK_CLI_GO)
		return rc;
	http_get h;
	if (get(c, server_of(&a), ca_of(&a), "/v1/rooms", token_of(&a), &h) ||
	    check_status(c, "GET /v1/rooms", &h))
		return RK_EXIT_FAIL;
	cJSON *j = parse_json(c, &h, true);
	if (!j) {
		rk_buf_free(&h.body);
		return RK_EXIT_FAIL;
	}
	if (ctl_flag(api_opts, &a, "--json")) {
		print_body(c, &h);
	} else {
		fprintf(c->out, "%-24s %6s %10s %-6s %s\n", "ROOM", "CONNS", "SEQ",
			"LOADED", "LAST ACTIVE");
		const cJSON *r;
		cJSON_ArrayForEach(r, j)
		{
			char t[40];
			ctl_fmt_ms(jint(r, "last_active_ms"), t, sizeof(t));
			fprintf(c->out, "%-24s %6lld %10lld %-6s %s\n", jstr(r, "room"),
				(long long)jint(r, "connections"),
				(long long)jint(r, "seq"),
				jbool(r, "loaded") ? "yes" : "no", t);
		}
		fprintf(c->out, "%d room%s\n", cJSON_GetArraySize(j),
			cJSON_GetArraySize(j) == 1 ? "" : "s");
	}
	cJSON_Delete(j);
	rk_buf_free(&h.body);
	return RK_EXIT_OK;
}

int cmd_room(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = api_args(c, argc, argv, 1, true, false, true, &a);
	if (rc != RK_CLI_GO)
		return rc;
	if (a.npos != 1)
		return ctl_usage(c, "which room? (roomctl room ROOM)");
	if (!rk_roomid_validz(a.pos[0]))
		return ctl_usage(c, "'%s' is not a valid room id", a.pos[0]);
	char path[128];
	snprintf(path, sizeof(path), "/v1/rooms/%s", a.pos[0]);
	http_get h;
	if (get(c, server_of(&a), ca_of(&a), path, token_of(&a), &h) ||
	    check_status(c, path, &h))
		return RK_EXIT_FAIL;
	cJSON *j = parse_json(c, &h, false);
	if (!j) {
		rk_buf_free(&h.body);
		return RK_EXIT_FAIL;
	}
	if (ctl_flag(api_opts, &a, "--json")) {
		print_body(c, &h);
	} else {
		char t[40];
		ctl_fmt_ms(jint(j, "last_active_ms"), t, sizeof(t));
		fprintf(c->out,
			"room:         %s\nepoch:        %s\nseq:          %lld\n"
			"connections:  %lld\nloaded:       %s\nlast active:  %s\n",
			jstr(j, "room"), jstr(j, "epoch"), (long long)jint(j, "seq"),
			(long long)jint(j, "connections"),
			jbool(j, "loaded") ? "yes" : "no", t);
		const cJSON *peers = cJSON_GetObjectItemCaseSensitive(j, "peers");
		fprintf(c->out, "peers:        %d\n", cJSON_GetArraySize(peers));
		const cJSON *p;
		cJSON_ArrayForEach(p, peers)
		{
			fprintf(c->out, "  %-20s %-16s color %lld  %s\n",
				jstr(p, "session"), jstr(p, "user"),
				(long long)jint(p, "color"), jstr(p, "role"));
		}
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "state");
		fprintf(
		    c->out, "state:        %d shapes, %d polls, %d chat posts\n",
		    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "shapes")),
		    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "polls")),
		    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "chat")));
	}
	cJSON_Delete(j);
	rk_buf_free(&h.body);
	return RK_EXIT_OK;
}

int cmd_health(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = api_args(c, argc, argv, 0, false, false, false, &a);
	if (rc != RK_CLI_GO)
		return rc;
	http_get h;
	if (get(c, server_of(&a), ca_of(&a), "/healthz", NULL, &h))
		return RK_EXIT_FAIL;
	if (h.status != 200) {
		rk_buf_free(&h.body);
		return ctl_fail(c, "%s is not healthy: HTTP %ld%s", server_of(&a),
				h.status, h.status == 503 ? " (draining)" : "");
	}
	fputs("ok\n", c->out);
	rk_buf_free(&h.body);
	return RK_EXIT_OK;
}

/* ---- metrics digest ----------------------------------------------------- */

typedef struct metric_line {
	char name[96];
	char labels[96]; /* inside the braces, or "" */
	double value;
} metric_line;

/* Parse one sample line "name{labels} value"; false for comments/blank. */
static bool parse_sample(const char *line, size_t n, metric_line *m)
{
	if (!n || line[0] == '#')
		return false;
	char tmp[512];
	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, line, n);
	tmp[n] = '\0';
	char *sp = strrchr(tmp, ' ');
	if (!sp)
		return false;
	*sp = '\0';
	char *end;
	m->value = strtod(sp + 1, &end);
	if (end == sp + 1)
		return false;
	char *brace = strchr(tmp, '{');
	m->labels[0] = '\0';
	if (brace) {
		*brace = '\0';
		char *close = strrchr(brace + 1, '}');
		if (close)
			*close = '\0';
		if (strlen(brace + 1) >= sizeof(m->labels))
			return false;
		memcpy(m->labels, brace + 1, strlen(brace + 1) + 1);
	}
	if (strlen(tmp) >= sizeof(m->name))
		return false;
	memcpy(m->name, tmp, strlen(tmp) + 1);
	return true;
}

/* The quoted value of label key in labels ("code=\"x\"") into out. */
static void label(const char *labels, const char *key, char *out, size_t cap)
{
	char pat[32];
	snprintf(pat, sizeof(pat), "%s=\"", key);
	const char *p = strstr(labels, pat);
	out[0] = '\0';
	if (!p)
		return;
	p += strlen(pat);
	size_t n = strcspn(p, "\"");
	snprintf(out, cap, "%.*s", (int)n, p);
}

enum { HIST_MAX = 32 };

typedef struct digest {
	double conns, loaded, hibernated, opened, ops, delivered, loads, hibernations,
	    alarms;
	char rejects[512], errors[512], closes[512];
	double le[HIST_MAX], cum[HIST_MAX];
	int nbuckets;
	double sum, count;
} digest;

static void add_coded(char *list, size_t cap, const metric_line *m)
{
	if (m->value == 0)
		return;
	char code[48];
	label(m->labels, "code", code, sizeof(code));
	size_t n = strlen(list);
	snprintf(list + n, cap - n, "%s%s %.0f", n ? ", " : "", code, m->value);
}

static double quantile(const digest *d, double q)
{
	for (int i = 0; i < d->nbuckets; i++)
		if (d->cum[i] >= q * d->count)
			return d->le[i];
	return -1;
}

static void fmt_bound(double s, char *out, size_t cap)
{
	if (s < 0)
		snprintf(out, cap, "> largest bucket");
	else if (s >= 1e300)
		snprintf(out, cap, "+Inf");
	else
		snprintf(out, cap, "<= %g ms", s * 1000);
}

int cmd_metrics(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = api_args(c, argc, argv, 0, false, true, false, &a);
	if (rc != RK_CLI_GO)
		return rc;
	http_get h;
	if (get(c, server_of(&a), ca_of(&a), "/metrics", NULL, &h) ||
	    check_status(c, "GET /metrics", &h))
		return RK_EXIT_FAIL;
	if (ctl_flag(api_opts, &a, "--raw")) {
		print_body(c, &h);
		rk_buf_free(&h.body);
		return RK_EXIT_OK;
	}
	digest d;
	memset(&d, 0, sizeof(d));
	const struct {
		const char *name;
		double *v;
	} simple[] = {
	    {"roomd_connections", &d.conns},
	    {"roomd_rooms_loaded", &d.loaded},
	    {"roomd_rooms_hibernated", &d.hibernated},
	    {"roomd_connections_opened_total", &d.opened},
	    {"roomd_ops_committed_total", &d.ops},
	    {"roomd_events_delivered_total", &d.delivered},
	    {"roomd_room_loads_total", &d.loads},
	    {"roomd_room_hibernations_total", &d.hibernations},
	    {"roomd_alarms_fired_total", &d.alarms},
	    {"roomd_commit_seconds_sum", &d.sum},
	    {"roomd_commit_seconds_count", &d.count},
	};
	const char *p = h.body.data ? h.body.data : "";
	size_t nsamples = 0;
	while (*p) {
		size_t n = strcspn(p, "\n");
		metric_line m;
		if (parse_sample(p, n, &m)) {
			nsamples++;
			for (size_t i = 0; i < RK_ARRAY_LEN(simple); i++)
				if (strcmp(m.name, simple[i].name) == 0)
					*simple[i].v = m.value;
			if (strcmp(m.name, "roomd_rejects_total") == 0)
				add_coded(d.rejects, sizeof(d.rejects), &m);
			else if (strcmp(m.name, "roomd_errors_total") == 0)
				add_coded(d.errors, sizeof(d.errors), &m);
			else if (strcmp(m.name, "roomd_closes_total") == 0)
				add_coded(d.closes, sizeof(d.closes), &m);
			else if (strcmp(m.name, "roomd_commit_seconds_bucket") == 0 &&
				 d.nbuckets < HIST_MAX) {
				char le[32];
				label(m.labels, "le", le, sizeof(le));
				d.le[d.nbuckets] =
				    strcmp(le, "+Inf") == 0 ? 1e308 : strtod(le, NULL);
				d.cum[d.nbuckets++] = m.value;
			}
		}
		p += n + (p[n] == '\n');
	}
	rk_buf_free(&h.body);
	if (!nsamples)
		return ctl_fail(c, "GET /metrics: no samples in the answer");
	FILE *o = c->out;
	fprintf(o, "connections:       %.0f open, %.0f accepted in total\n", d.conns,
		d.opened);
	fprintf(o,
		"rooms:             %.0f loaded, %.0f hibernated (%.0f loads, %.0f "
		"hibernations)\n",
		d.loaded, d.hibernated, d.loads, d.hibernations);
	fprintf(o, "ops committed:     %.0f\n", d.ops);
	fprintf(o, "events delivered:  %.0f\n", d.delivered);
	fprintf(o, "alarms fired:      %.0f\n", d.alarms);
	fprintf(o, "rejects:           %s\n", d.rejects[0] ? d.rejects : "none");
	fprintf(o, "errors:            %s\n", d.errors[0] ? d.errors : "none");
	fprintf(o, "closes:            %s\n", d.closes[0] ? d.closes : "none");
	if (d.count > 0) {
		char p50[40], p99[40];
		fmt_bound(quantile(&d, 0.5), p50, sizeof(p50));
		fmt_bound(quantile(&d, 0.99), p99, sizeof(p99));
		fprintf(o,
			"commit latency:    %.0f batches, mean %.3f ms, p50 %s, p99 %s\n",
			d.count, d.sum / d.count * 1000, p50, p99);
	} else {
		fputs("commit latency:    no batches yet\n", o);
	}
	return RK_EXIT_OK;
}
