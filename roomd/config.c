/* config.c - roomd's defaults, command line and usage text. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "log.h"
#include "token.h"

static const char usage_text[] =
"Usage: roomd [OPTIONS]\n"
"\n"
"The roomkit room server: WebSocket rooms with ordered, durable, hibernating\n"
"state (one SQLite log per room), plus an HTTP admin API on the same port.\n"
"\n"
"Options:\n"
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
"  --log-level LEVEL       error, warn, info (default) or debug\n"
"  --no-demo               do not serve the demo page: GET / (whiteboard, poll,\n"
"                          chat for ?room=, default demo) and its files\n"
"                          /roomkit.js (the JS client), /demo.js, /demo.css\n"
"                          answer 404 (both are built into roomd)\n"
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

enum {
	OPT_LISTEN = 256, OPT_DATA, OPT_SECRET_FILE, OPT_HIBERNATE, OPT_FSYNC,
	OPT_LOG_LEVEL, OPT_MAX_FRAME, OPT_OPS, OPT_BURST, OPT_ROOM_CONNS,
	OPT_MAX_CONNS, OPT_MAX_QUEUE, OPT_IDLE, OPT_PING, OPT_GRACE, OPT_SNAP,
	OPT_RESUME_MAX, OPT_CONN_RATE, OPT_CONN_BURST, OPT_CONNS_PER_IP,
	OPT_LIMIT_LOOPBACK, OPT_HANDSHAKE,
	OPT_TLS_CERT, OPT_TLS_KEY, OPT_NO_DEMO,
};

static const struct option long_opts[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"data", required_argument, NULL, OPT_DATA},
	{"secret-file", required_argument, NULL, OPT_SECRET_FILE},
	{"hibernate-after", required_argument, NULL, OPT_HIBERNATE},
	{"fsync", no_argument, NULL, OPT_FSYNC},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"max-frame", required_argument, NULL, OPT_MAX_FRAME},
	{"ops-per-sec", required_argument, NULL, OPT_OPS},
	{"ops-burst", required_argument, NULL, OPT_BURST},
	{"max-room-conns", required_argument, NULL, OPT_ROOM_CONNS},
	{"max-conns", required_argument, NULL, OPT_MAX_CONNS},
	{"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
	{"idle-timeout", required_argument, NULL, OPT_IDLE},
	{"ping-interval", required_argument, NULL, OPT_PING},
	{"presence-grace", required_argument, NULL, OPT_GRACE},
	{"snapshot-every", required_argument, NULL, OPT_SNAP},
	{"resume-max", required_argument, NULL, OPT_RESUME_MAX},
	{"conn-rate", required_argument, NULL, OPT_CONN_RATE},
	{"conn-burst", required_argument, NULL, OPT_CONN_BURST},
	{"max-conns-per-ip", required_argument, NULL, OPT_CONNS_PER_IP},
	{"limit-loopback", no_argument, NULL, OPT_LIMIT_LOOPBACK},
	{"handshake-timeout", required_argument, NULL, OPT_HANDSHAKE},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"no-demo", no_argument, NULL, OPT_NO_DEMO},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* The option as typed, for messages: --max-frame, not the field name. */
static const char *opt_name(int val)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

static bool parse_num(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_listen(roomd_config *cfg, const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(cfg->host))
		return false;
	long long port;
	if (!parse_num(colon + 1, 0, 65535, &port))
		return false;
	memcpy(cfg->host, s, (size_t)(colon - s));
	cfg->host[colon - s] = '\0';
	cfg->port = (int)port;
	return true;
}

/* The secret file, read as every roomkit binary reads it (libcommon). */
static int load_secret(roomd_config *cfg, const char *path)
{
	char err[256];
	free(cfg->secret);
	cfg->secret = NULL;
	if (rk_secret_load(path, &cfg->secret, &cfg->secret_len, err, sizeof(err)) != RK_OK) {
		fprintf(stderr, "Error: %s\n", err);
		return 3;
	}
	return 0;
}

static int usage_error(const char *fmt, ...) RK_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "Error: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'roomd --help' for more information.\n");
	va_end(ap);
	return 2;
}

int config_parse(roomd_config *cfg, int argc, char **argv)
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

	const char *env = getenv("ROOMD_SECRET");
	if (env && *env) {
		cfg->secret_len = strlen(env);
		cfg->secret = malloc(cfg->secret_len);
		if (!cfg->secret)
			return 3;
		memcpy(cfg->secret, env, cfg->secret_len);
	}

	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		long long v = 0;
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case OPT_LISTEN:
			if (!parse_listen(cfg, optarg))
				return usage_error("--listen wants HOST:PORT, got '%s'", optarg);
			break;
		case OPT_DATA:
			if (strlen(optarg) >= sizeof(cfg->data_dir) - 64)
				return usage_error("--data path too long: %s", optarg);
			strcpy(cfg->data_dir, optarg);
			break;
		case OPT_SECRET_FILE: {
			int rc = load_secret(cfg, optarg);
			if (rc)
				return rc;
			break;
		}
		case OPT_FSYNC:
			cfg->fsync = true;
			break;
		case OPT_LIMIT_LOOPBACK:
			cfg->limit_loopback = true;
			break;
		case OPT_NO_DEMO:
			cfg->no_demo = true;
			break;
		case OPT_TLS_CERT:
			cfg->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			cfg->tls_key = optarg;
			break;
		case OPT_LOG_LEVEL: {
			rk_log_level lvl;
			if (!rk_log_parse_level(optarg, &lvl))
				return usage_error("unknown --log-level '%s'", optarg);
			cfg->log_level = (int)lvl;
			break;
		}
#define NUM(opt, field, min, max)                                              \
	case opt:                                                              \
		if (!parse_num(optarg, min, max, &v))                          \
			return usage_error("bad number for --%s: '%s'", opt_name(opt), optarg); \
		cfg->field = (__typeof__(cfg->field))v;                        \
		break;
		NUM(OPT_HIBERNATE, hibernate_after_ms, 1, INT64_C(1) << 40)
		NUM(OPT_MAX_FRAME, max_frame, 256, 16 << 20)
		NUM(OPT_OPS, ops_per_sec, 1, 1000000)
		NUM(OPT_BURST, ops_burst, 1, 1000000)
		NUM(OPT_ROOM_CONNS, max_room_conns, 1, 1000000)
		NUM(OPT_MAX_CONNS, max_conns, 1, 10000000)
		NUM(OPT_MAX_QUEUE, max_queue, 4096, INT64_C(1) << 34)
		NUM(OPT_IDLE, idle_timeout_ms, 100, 86400000)
		NUM(OPT_PING, ping_interval_ms, 100, 86400000)
		NUM(OPT_GRACE, grace_ms, 0, 3600000)
		NUM(OPT_SNAP, snapshot_every, 1, 100000000)
		NUM(OPT_RESUME_MAX, resume_max, 0, 100000000)
		NUM(OPT_CONN_RATE, conn_rate, 0, 10000000)
		NUM(OPT_CONN_BURST, conn_burst, 1, 10000000)
		NUM(OPT_CONNS_PER_IP, max_conns_per_ip, 0, 10000000)
		NUM(OPT_HANDSHAKE, handshake_timeout_s, 1, 3600)
#undef NUM
		case ':':
			return usage_error("option %s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!cfg->tls_cert != !cfg->tls_key)
		return usage_error("--tls-cert and --tls-key go together (give both for "
				   "TLS, neither for plain ws/http)");
	return 0;
}

void config_free(roomd_config *cfg)
{
	free(cfg->secret);
	cfg->secret = NULL;
}
