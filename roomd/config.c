/* config.c - roomd's defaults, usage text, and the one option table behind
 * both the command line and the config file (--config). */
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "cli.h"
#include "config.h"
#include "log.h"
#include "pg.h"
#include "token.h"

static const char usage_text[] =
    "Usage: roomd [OPTIONS]\n"
    "\n"
    "The roomkit room server: WebSocket rooms with ordered, durable, hibernating\n"
    "state (one SQLite log per room), plus an HTTP admin API on the same port.\n"
    "\n"
    "Options:\n"
    "  --config FILE           read settings from FILE first: one 'key = value'\n"
    "                          per line, the key being any option below without\n"
    "                          '--' (e.g. 'max-conns = 5000', 'fsync = true');\n"
    "                          '#' starts a comment, a value may be \"quoted\", a\n"
    "                          repeatable key may appear on several lines. Flags\n"
    "                          given on the command line override the file. An\n"
    "                          unknown key or bad value: 'Error: FILE:LINE: ...'\n"
    "                          and exit 2\n"
    "  --listen HOST:PORT      address to listen on (default 127.0.0.1:8080;\n"
    "                          port 0 picks a free port, printed at start)\n"
    "  --data DIR              data directory; rooms live in DIR/rooms/ROOM.db\n"
    "                          (default ./data)\n"
    "  --secret-file FILE      HS256 secret for room tokens (env ROOMD_SECRET also\n"
    "                          sets it); without one, auth is OFF: every client is\n"
    "                          an editor named by ?name=\n"
    "  --hibernate-after MS    drop an idle room's state from memory after MS\n"
    "                          without ops (default 30000)\n"
    "  --fsync                 make every commit durable (fdatasync of the WAL, on\n"
    "                          a syncer thread) before any reply for it leaves\n"
    "                          (acked ops survive power loss; default: they survive\n"
    "                          a crash of roomd)\n"
    "  --retain-events N       bound a room's log: when it hibernates (and at\n"
    "                          shutdown) delete its events up to its newest\n"
    "                          snapshot that leaves at least the last N (default\n"
    "                          0 = keep every event); never the last 10000 events\n"
    "                          nor those within 24 h of the newest (op ids)\n"
    "  --log-level LEVEL       error, warn, info (default) or debug. At info a\n"
    "                          connection logs one line (its join, plus one if\n"
    "                          roomd closes it for a limit or fault); these and\n"
    "                          refused upgrades are capped at 20 lines a second,\n"
    "                          with a summary line of how many were left out\n"
    "  --log-format FORMAT     text (default: 'TIME LEVEL message') or json (one\n"
    "                          object per line: ts, level, msg)\n"
    "  --no-demo               do not serve the demo page: GET / (whiteboard, poll,\n"
    "                          chat for ?room=, default demo) and its files\n"
    "                          /roomkit.js (the JS client), /demo.js, /demo.css\n"
    "                          answer 404 (both are built into roomd)\n"
    "\n"
    "Browsers (the Origin header of upgrades and /v1 requests):\n"
    "  --allow-origin ORIGIN   also accept pages from ORIGIN (scheme://host[:port],\n"
    "                          e.g. https://app.example.com; repeatable), or '*'\n"
    "                          for any page. By default only requests without an\n"
    "                          Origin (non-browser clients) and pages of the same\n"
    "                          origin (Origin host:port = the Host header, e.g. the\n"
    "                          demo page roomd serves) are accepted; any other\n"
    "                          Origin gets HTTP 403 before a room is touched.\n"
    "                          /v1 answers CORS (preflight OPTIONS, Access-Control-\n"
    "                          Allow-Origin) for the accepted origins\n"
    "\n"
    "TLS (both or neither; the port then serves only wss:// and https://):\n"
    "  --tls-cert FILE         the server's certificate in PEM, followed by any\n"
    "                          intermediates (e.g. Let's Encrypt's fullchain.pem)\n"
    "  --tls-key FILE          its private key in PEM, unencrypted (privkey.pem)\n"
    "                          Both are read once at start; a missing, unreadable\n"
    "                          or mismatched file is an error (exit 1). The ready\n"
    "                          line then ends in \"(TLS)\"; plain ws:// and http://\n"
    "                          requests get no answer (the handshake fails).\n"
    "\n"
    "Webhooks (PROTOCOL.md section 11, docs/WEBHOOKS.md):\n"
    "  --webhook-url URL       POST a signed JSON webhook there for what happens\n"
    "                          in rooms; each is stored in the room's file with\n"
    "                          the op (an outbox) and retried until a 2xx answer\n"
    "  --webhook-secret-file FILE  the HMAC-SHA256 secret of Roomkit-Signature\n"
    "                          (required with --webhook-url; an unreadable file or\n"
    "                          a bad URL is an error at start, exit 2)\n"
    "  --webhook-types LIST    comma-separated subset of op,presence,poll.closed\n"
    "                          (default all three)\n"
    "  --webhook-timeout MS    one delivery attempt's limit (default 10000)\n"
    "  --webhook-concurrency N deliveries in flight, one per room (default 16)\n"
    "  --webhook-retry-max MS  longest wait between attempts; waits double from\n"
    "                          250 ms, with jitter (default 60000)\n"
    "\n"
    "Cluster mode (docs/CLUSTER.md; several roomd behind HAProxy):\n"
    "  --pg URL                room logs live in PostgreSQL at URL (a libpq\n"
    "                          connection string or postgres:// URL) instead of\n"
    "                          --data; nodes sharing a URL form one cluster: one\n"
    "                          writer per room (a lease with a fencing token\n"
    "                          checked in every commit), a dead node's rooms\n"
    "                          taken over. Acks leave once PostgreSQL committed\n"
    "  --node NAME             this node's unique name ([A-Za-z0-9._-], at most\n"
    "                          63; required with --pg)\n"
    "  --lease MS              a node that has not heartbeaten for MS loses its\n"
    "                          rooms to the others (default 5000; heartbeats\n"
    "                          every MS/4)\n"
    "  --pg-timeout MS         longest wait for one PostgreSQL statement\n"
    "                          (default 10000)\n"
    "                          Not with --pg: --fsync (PostgreSQL's commit is the\n"
    "                          durability), --retain-events, --webhook-url\n"
    "\n"
    "Limits (the reply or close code a client sees is in brackets):\n"
    "  --max-frame BYTES       largest message (default 65536) [close 1009]\n"
    "  --ops-per-sec N         op rate per connection (default 50) [reject\n"
    "                          rate_limited; close 4429 when it persists]\n"
    "  --ops-burst N           token bucket size (default 100)\n"
    "  --max-room-conns N      connections per room (default 1000) [close 4409]\n"
    "  --max-conns N           connections in total (default 20000) [close 4503]\n"
    "  --max-queue BYTES       unsent bytes per connection before it is closed as\n"
    "                          a slow consumer (default 4194304) [close 4507]\n"
    "  --idle-timeout MS       close a connection silent this long (default 60000)\n"
    "                          [close 4408]\n"
    "  --ping-interval MS      WebSocket ping interval (default 20000)\n"
    "  --presence-grace MS     reconnect grace keyed by ?client= (default 5000)\n"
    "  --snapshot-every N      write a snapshot every N events (default 1000)\n"
    "  --resume-max N          longest gap a resume replays as events before a\n"
    "                          full state is sent instead (default 10000)\n"
    "  --conn-rate N           WebSocket upgrades per second from one IP address\n"
    "                          (token bucket; default 100, 0 = off) [HTTP 429\n"
    "                          with Retry-After, before any room is touched]\n"
    "  --conn-burst N          upgrades one IP may make at once (default 200)\n"
    "  --max-conns-per-ip N    open WebSocket connections per IP address\n"
    "                          (default 0 = no limit) [HTTP 429]\n"
    "  --limit-loopback        apply --conn-rate and --max-conns-per-ip to\n"
    "                          loopback clients too; by default 127.0.0.0/8 and\n"
    "                          ::1 are exempt (a local reverse proxy, roomload)\n"
    "  --handshake-timeout S   a connection must complete its HTTP request or\n"
    "                          WebSocket upgrade within S seconds, else it is\n"
    "                          dropped (slowloris; default 10)\n"
    "\n"
    "  -h, --help              show this help and exit\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop accepting, close every connection with 1001,\n"
    "commit, and exit 0. GET /healthz answers 503 while draining.\n"
    "\n"
    "Exit status: 0 clean shutdown, 1 runtime error, 2 usage error.\n";

/*
 * The options: one table, read by the command line (getopt_long) and by the
 * config file (--config) alike, so every flag is a config key with the same
 * checks and messages.
 */
typedef enum opt_kind {
	K_NUM,	  /* integer field within [min, max] */
	K_BOOL,	  /* flag without a value; "true"/"false" in a file */
	K_PATH,	  /* char array field (data_dir) */
	K_STR,	  /* owned char * field */
	K_LISTEN, /* HOST:PORT */
	K_SECRET, /* secret file, read now */
	K_LOG_LEVEL,
	K_LOG_FORMAT,
	K_ORIGIN,    /* repeatable: allow_origin */
	K_WH_URL,    /* webhook_url, checked by libcurl's URL parser */
	K_WH_SECRET, /* webhook secret file, read now */
	K_WH_TYPES,  /* webhook_types list */
	K_CONFIG,    /* command line only */
	K_HELP,	     /* command line only */
} opt_kind;

typedef struct opt {
	const char *name; /* long flag without "--" = config key */
	opt_kind kind;
	size_t off;  /* field offset (K_NUM, K_BOOL, K_PATH, K_STR) */
	size_t size; /* field size (K_NUM: int or 64-bit; K_PATH: array) */
	long long min, max;
} opt;

#define F(field) offsetof(roomd_config, field), sizeof(((roomd_config *)0)->field)
static const opt opts[] = {
    {"config", K_CONFIG, 0, 0, 0, 0},
    {"listen", K_LISTEN, 0, 0, 0, 0},
    {"data", K_PATH, F(data_dir), 0, 0},
    {"secret-file", K_SECRET, 0, 0, 0, 0},
    {"hibernate-after", K_NUM, F(hibernate_after_ms), 1, INT64_C(1) << 40},
    {"fsync", K_BOOL, F(fsync), 0, 0},
    {"log-level", K_LOG_LEVEL, 0, 0, 0, 0},
    {"log-format", K_LOG_FORMAT, 0, 0, 0, 0},
    {"allow-origin", K_ORIGIN, 0, 0, 0, 0},
    {"max-frame", K_NUM, F(max_frame), 256, 16 << 20},
    {"ops-per-sec", K_NUM, F(ops_per_sec), 1, 1000000},
    {"ops-burst", K_NUM, F(ops_burst), 1, 1000000},
    {"max-room-conns", K_NUM, F(max_room_conns), 1, 1000000},
    {"max-conns", K_NUM, F(max_conns), 1, 10000000},
    {"max-queue", K_NUM, F(max_queue), 4096, INT64_C(1) << 34},
    {"idle-timeout", K_NUM, F(idle_timeout_ms), 100, 86400000},
    {"ping-interval", K_NUM, F(ping_interval_ms), 100, 86400000},
    {"presence-grace", K_NUM, F(grace_ms), 0, 3600000},
    {"snapshot-every", K_NUM, F(snapshot_every), 1, 100000000},
    {"resume-max", K_NUM, F(resume_max), 0, 100000000},
    {"conn-rate", K_NUM, F(conn_rate), 0, 10000000},
    {"conn-burst", K_NUM, F(conn_burst), 1, 10000000},
    {"max-conns-per-ip", K_NUM, F(max_conns_per_ip), 0, 10000000},
    {"limit-loopback", K_BOOL, F(limit_loopback), 0, 0},
    {"handshake-timeout", K_NUM, F(handshake_timeout_s), 1, 3600},
    {"retain-events", K_NUM, F(retain_events), 0, INT64_C(1) << 40},
    {"tls-cert", K_STR, F(tls_cert), 0, 0},
    {"tls-key", K_STR, F(tls_key), 0, 0},
    {"webhook-url", K_WH_URL, 0, 0, 0, 0},
    {"webhook-secret-file", K_WH_SECRET, 0, 0, 0, 0},
    {"webhook-types", K_WH_TYPES, 0, 0, 0, 0},
    {"webhook-timeout", K_NUM, F(webhook_timeout_ms), 100, 3600000},
    {"webhook-concurrency", K_NUM, F(webhook_concurrency), 1, 1024},
    {"webhook-retry-max", K_NUM, F(webhook_retry_max_ms), 250, 86400000},
    {"no-demo", K_BOOL, F(no_demo), 0, 0},
    {"pg", K_STR, F(pg_url), 0, 0},
    {"node", K_STR, F(node), 0, 0},
    {"lease", K_NUM, F(lease_ms), 200, 3600000},
    {"pg-timeout", K_NUM, F(pg_timeout_ms), 100, 3600000},
    {"help", K_HELP, 0, 0, 0, 0},
};
#undef F

enum { MAX_ORIGINS = 64 };

static bool parse_listen(roomd_config *cfg, const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(cfg->host))
		return false;
	long long port;
	char why[128];
	if (!rk_cli_int("--listen", colon + 1, 0, 65535, &port, why, sizeof(why)))
		return false;
	memcpy(cfg->host, s, (size_t)(colon - s));
	cfg->host[colon - s] = '\0';
	cfg->port = (int)port;
	return true;
}

/* Where a value came from, for messages: "FILE:LINE: " or "" (command line). */
typedef struct origin_of {
	const char *file;
	int line;
} origin_of;

static int usage_error(const origin_of *at, const char *fmt, ...) RK_PRINTF(2, 3);
static int usage_error(const origin_of *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "Error: ");
	if (at && at->file)
		fprintf(stderr, "%s:%d: ", at->file, at->line);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'roomd --help' for more information.\n");
	va_end(ap);
	return RK_EXIT_USAGE;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < RK_ARRAY_LEN(yes); i++) {
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			*out = strcmp(v, yes[i]) == 0;
			return true;
		}
	}
	return false;
}

static int add_origin(roomd_config *cfg, const char *v, const origin_of *at)
{
	if (!*v || (strcmp(v, "*") != 0 && !strstr(v, "://")))
		return usage_error(
		    at, "--allow-origin wants scheme://host[:port] or '*', got '%s'", v);
	if (cfg->n_allow_origin >= MAX_ORIGINS)
		return usage_error(at, "more than %d --allow-origin values", MAX_ORIGINS);
	if (!cfg->allow_origin &&
	    !(cfg->allow_origin = calloc(MAX_ORIGINS, sizeof(char *))))
		return RK_EXIT_FAIL;
	if (!(cfg->allow_origin[cfg->n_allow_origin] = strdup(v)))
		return RK_EXIT_FAIL;
	cfg->n_allow_origin++;
	return 0;
}

static void clear_origins(roomd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_allow_origin; i++)
		free(cfg->allow_origin[i]);
	free(cfg->allow_origin);
	cfg->allow_origin = NULL;
	cfg->n_allow_origin = 0;
}

/* --webhook-types: a comma-separated list of type names into bits. */
static bool parse_wh_types(const char *s, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} types[] = {{"op", WH_TYPE_OP},
		     {"presence", WH_TYPE_PRESENCE},
		     {"poll.closed", WH_TYPE_POLL_CLOSED}};
	unsigned bits = 0;
	while (*s) {
		size_t n = strcspn(s, ",");
		unsigned bit = 0;
		for (size_t i = 0; i < RK_ARRAY_LEN(types); i++)
			if (strlen(types[i].name) == n &&
			    strncmp(s, types[i].name, n) == 0)
				bit = types[i].bit;
		if (!bit)
			return false;
		bits |= bit;
		s += n;
		if (*s == ',' && *++s == '\0')
			return false;
	}
	*out = bits;
	return bits != 0;
}

/* An http:// or https:// URL with a host, as libcurl parses it. */
static bool webhook_url_ok(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		  (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
		  host[0];
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* The webhook options (PROTOCOL.md section 10 wants exit 2 for a bad URL or
 * an unreadable secret). */
static int apply_webhook(roomd_config *cfg, const opt *o, const char *v,
			 const origin_of *at)
{
	char err[256];
	switch (o->kind) {
	case K_WH_URL:
		if (!webhook_url_ok(v))
			return usage_error(
			    at,
			    "--webhook-url wants an http:// or https:// URL "
			    "with a host, got '%s'",
			    v);
		free(cfg->webhook_url);
		return (cfg->webhook_url = strdup(v)) ? 0 : RK_EXIT_FAIL;
	case K_WH_SECRET:
		free(cfg->webhook_secret);
		cfg->webhook_secret = NULL;
		if (rk_secret_load(v, &cfg->webhook_secret, &cfg->webhook_secret_len, err,
				   sizeof(err)) != RK_OK)
			return usage_error(at, "--webhook-secret-file: %s", err);
		return 0;
	default:
		if (!parse_wh_types(v, &cfg->webhook_types))
			return usage_error(
			    at,
			    "--webhook-types wants a comma-separated list of "
			    "op, presence, poll.closed; got '%s'",
			    v);
		return 0;
	}
}

/*
 * Set option o to value v (NULL for a flag without one on the command line).
 * Returns 0, RK_EXIT_USAGE or RK_EXIT_FAIL (either printed).
 */
static int apply(roomd_config *cfg, const opt *o, const char *v, const origin_of *at)
{
	char *field = (char *)cfg + o->off;
	long long n;
	bool b = true;
	switch (o->kind) {
	case K_NUM: {
		char name[64], why[256];
		snprintf(name, sizeof(name), "--%s", o->name);
		if (!rk_cli_int(name, v, o->min, o->max, &n, why, sizeof(why)))
			return usage_error(at, "%s", why);
		if (o->size == sizeof(int)) {
			int i = (int)n;
			memcpy(field, &i, sizeof(i));
		} else {
			int64_t i = n; /* int64_t and size_t fields alike: 0..2^40 */
			memcpy(field, &i, sizeof(i));
		}
		return 0;
	}
	case K_BOOL:
		if (v && !parse_bool(v, &b))
			return usage_error(at, "--%s wants true or false, got '%s'",
					   o->name, v);
		*(bool *)field = b;
		return 0;
	case K_PATH:
		if (strlen(v) >= o->size - 64)
			return usage_error(at, "--%s path too long: %s", o->name, v);
		strcpy(field, v);
		return 0;
	case K_STR: {
		char *copy = strdup(v);
		if (!copy)
			return RK_EXIT_FAIL;
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case K_LISTEN:
		return parse_listen(cfg, v)
			   ? 0
			   : usage_error(at, "--listen wants HOST:PORT, got '%s'", v);
	case K_SECRET:
		return rk_cli_secret(stderr, v, &cfg->secret, &cfg->secret_len);
	case K_LOG_LEVEL: {
		rk_log_level lvl;
		if (!rk_log_parse_level(v, &lvl))
			return usage_error(at, "unknown --log-level '%s'", v);
		cfg->log_level = (int)lvl;
		return 0;
	}
	case K_LOG_FORMAT: {
		rk_log_format f;
		if (!rk_log_parse_format(v, &f))
			return usage_error(at, "unknown --log-format '%s' (text or json)",
					   v);
		cfg->log_format = (int)f;
		return 0;
	}
	case K_ORIGIN:
		return add_origin(cfg, v, at);
	case K_WH_URL:
	case K_WH_SECRET:
	case K_WH_TYPES:
		return apply_webhook(cfg, o, v, at);
	case K_CONFIG:
	case K_HELP:
		break;
	}
	return usage_error(at, "'%s' is not allowed in a config file", o->name);
}

static const opt *find_opt(const char *key)
{
	for (size_t i = 0; i < RK_ARRAY_LEN(opts); i++)
		if (strcmp(opts[i].name, key) == 0)
			return &opts[i];
	return NULL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
		     s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* The value part of a line: "quoted" (no escapes) or bare up to a " #"
 * comment. NULL if a quote is not closed or text follows it. */
static char *config_value(char *v)
{
	v = trim(v);
	if (*v == '"') {
		char *close = strchr(v + 1, '"');
		if (!close)
			return NULL;
		*close = '\0';
		char *rest = trim(close + 1);
		return !*rest || *rest == '#' ? v + 1 : NULL;
	}
	for (char *c = v; *c; c++)
		if (*c == '#' && (c == v || c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			break;
		}
	return trim(v);
}

/*
 * Read a config file: "key = value" lines, key = a long option without
 * "--" ('_' may stand for '-'), '#' comments, blank lines. Returns 0,
 * RK_EXIT_USAGE or RK_EXIT_FAIL as apply().
 */
static int config_file(roomd_config *cfg, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "Error: --config %s: %s\n", path, strerror(errno));
		return RK_EXIT_FAIL;
	}
	char line[4096];
	origin_of at = {path, 0};
	int rc = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		at.line++;
		if (!strchr(line, '\n') && !feof(f)) {
			rc = usage_error(&at, "line longer than %zu bytes",
					 sizeof(line) - 2);
			break;
		}
		char *l = trim(line);
		if (!*l || *l == '#')
			continue;
		char *eq = strchr(l, '=');
		if (!eq) {
			rc = usage_error(&at, "want 'key = value', got '%s'", l);
			break;
		}
		*eq = '\0';
		char *key = trim(l), *v = config_value(eq + 1);
		for (char *c = key; *c; c++)
			if (*c == '_')
				*c = '-';
		const opt *o = find_opt(key);
		if (!o || o->kind == K_CONFIG || o->kind == K_HELP)
			rc = usage_error(&at,
					 "unknown key '%s' (the keys are roomd's long "
					 "options without '--')",
					 key);
		else if (!v)
			rc = usage_error(
			    &at,
			    "unterminated quote or text after it in the value of '%s'",
			    key);
		else
			rc = apply(cfg, o, v, &at);
	}
	if (!rc && ferror(f)) {
		fprintf(stderr, "Error: --config %s: read error\n", path);
		rc = RK_EXIT_FAIL;
	}
	fclose(f);
	return rc;
}

static void set_defaults(roomd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->host, "127.0.0.1");
	cfg->port = 8080;
	strcpy(cfg->data_dir, "./data");
	cfg->hibernate_after_ms = 30000;
	cfg->log_level = RK_LOG_INFO;
	cfg->max_frame = 65536;
	cfg->ops_per_sec = 50;
	cfg->ops_burst = 100;
	cfg->max_room_conns = 1000;
	cfg->max_conns = 20000;
	cfg->max_queue = 4u << 20;
	cfg->idle_timeout_ms = 60000;
	cfg->ping_interval_ms = 20000;
	cfg->grace_ms = 5000;
	cfg->snapshot_every = 1000;
	cfg->resume_max = 10000;
	cfg->conn_rate = 100;
	cfg->conn_burst = 200;
	cfg->handshake_timeout_s = 10;
	cfg->webhook_types = WH_TYPE_ALL;
	cfg->webhook_timeout_ms = 10000;
	cfg->webhook_concurrency = 16;
	cfg->lease_ms = 5000;
	cfg->pg_timeout_ms = 10000;
	cfg->webhook_retry_max_ms = 60000;
}

int config_parse(roomd_config *cfg, int argc, char **argv)
{
	set_defaults(cfg);
	const char *env = getenv("ROOMD_SECRET");
	if (env && *env) {
		cfg->secret_len = strlen(env);
		cfg->secret = malloc(cfg->secret_len);
		if (!cfg->secret)
			return RK_EXIT_FAIL;
		memcpy(cfg->secret, env, cfg->secret_len);
	}

	struct option long_opts[RK_ARRAY_LEN(opts) + 1];
	for (size_t i = 0; i < RK_ARRAY_LEN(opts); i++) {
		long_opts[i].name = opts[i].name;
		long_opts[i].has_arg = opts[i].kind == K_BOOL || opts[i].kind == K_HELP
					   ? no_argument
					   : required_argument;
		long_opts[i].flag = NULL;
		long_opts[i].val = 256 + (int)i;
	}
	memset(&long_opts[RK_ARRAY_LEN(opts)], 0, sizeof(long_opts[0]));

	/* Pass 1: --help and --config (the file first, so flags override it). */
	const char *config = NULL;
	opterr = 0;
	optind = 0; /* glibc: a full reset of getopt's state */
	int c;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		const opt *o = c >= 256 ? &opts[c - 256] : NULL;
		if (c == 'h' || (o && o->kind == K_HELP)) {
			fputs(usage_text, stdout);
			return RK_EXIT_OK;
		}
		if (o && o->kind == K_CONFIG)
			config = optarg;
	}
	if (config) {
		int rc = config_file(cfg, config);
		if (rc)
			return rc;
	}

	/* Pass 2: the flags. A repeatable one replaces the file's list. */
	bool origins_from_flags = false;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		if (c == ':')
			return usage_error(NULL, "option %s needs a value",
					   argv[optind - 1]);
		if (c < 256)
			return usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
		const opt *o = &opts[c - 256];
		if (o->kind == K_CONFIG)
			continue;
		if (o->kind == K_ORIGIN && !origins_from_flags) {
			clear_origins(cfg);
			origins_from_flags = true;
		}
		int rc = apply(cfg, o, optarg, NULL);
		if (rc)
			return rc;
	}
	if (optind < argc)
		return usage_error(NULL, "unexpected argument '%s'", argv[optind]);
	if (!cfg->tls_cert != !cfg->tls_key)
		return usage_error(NULL,
				   "--tls-cert and --tls-key go together (give both for "
				   "TLS, neither for plain ws/http)");
	if (!cfg->webhook_url != !cfg->webhook_secret)
		return usage_error(NULL,
				   "--webhook-url and --webhook-secret-file go together");
	if (!cfg->pg_url != !cfg->node)
		return usage_error(NULL, "--pg and --node go together");
	if (cfg->node && !store_pg_node_valid(cfg->node))
		return usage_error(NULL,
				   "--node wants 1 to 63 of A-Z a-z 0-9 . _ -, got '%s'",
				   cfg->node);
	if (cfg->pg_url && (cfg->fsync || cfg->retain_events || cfg->webhook_url))
		return usage_error(NULL, "--pg does not go with %s",
				   cfg->fsync ? "--fsync (PostgreSQL's commit is "
						"the durability)"
				   : cfg->retain_events ? "--retain-events"
							: "--webhook-url (not supported "
							  "in cluster mode yet)");
	return RK_CLI_GO;
}

void config_free(roomd_config *cfg)
{
	free(cfg->secret);
	cfg->secret = NULL;
	free(cfg->tls_cert);
	free(cfg->tls_key);
	cfg->tls_cert = cfg->tls_key = NULL;
	clear_origins(cfg);
	free(cfg->webhook_url);
	free(cfg->webhook_secret);
	cfg->webhook_url = NULL;
	cfg->webhook_secret = NULL;
	free(cfg->pg_url);
	free(cfg->node);
	cfg->pg_url = cfg->node = NULL;
}
