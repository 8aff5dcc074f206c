/* config.c - roomload's command line, defaults and usage text. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "config.h"
#include "token.h"
#include "rk_common.h"
#include "roomid.h"

static const char usage_text[] =
    "Usage: roomload --url ws://HOST:PORT --rooms R --clients C --rate N\n"
    "                --duration SECONDS [OPTIONS]\n"
    "\n"
    "Load generator and correctness checker for roomd. Opens R x C WebSocket\n"
    "connections (C per room) from one event loop (or --procs of them), makes\n"
    "every client send at a fixed rate for the given duration, measures latency\n"
    "and checks the ordering guarantees of the room protocol on every connection.\n"
    "\n"
    "Load options:\n"
    "  --url ws://HOST:PORT    server to load (wss://HOST:PORT for TLS: the\n"
    "                          server's certificate is verified, name included)\n"
    "  --ca FILE               wss://: also trust the CA certificate(s) in FILE\n"
    "                          (PEM), e.g. a self-signed server certificate;\n"
    "                          without it only the system's trust store is used\n"
    "  --rooms R               number of rooms (default 10)\n"
    "  --clients C             connections per room (default 10)\n"
    "  --rate N                messages per second per client (default 1; may be\n"
    "                          fractional; 0 sends nothing)\n"
    "  --duration SECONDS      how long clients send (default 10)\n"
    "  --scenario NAME         what clients send (default chat):\n"
    "                            chat    chat.post of --size characters\n"
    "                            draw    own strokes: shape.add, shape.update,\n"
    "                                    shape.delete in turn (--size bytes of points)\n"
    "                            poll    one poll per room, every op a poll.vote\n"
    "                            cursor  cursor moves (ephemeral; the server\n"
    "                                    coalesces them, so fewer arrive)\n"
    "                            idle    connect, send nothing, hold the connections\n"
    "                            mixed   60% chat, 30% shape.add, 10% poll.vote\n"
    "                            churn   chat, and every client drops its\n"
    "                                    connection every --reconnect-every seconds\n"
    "                                    and resumes (since=, epoch=): the missed\n"
    "                                    events must be replayed with no gap\n"
    "  --ramp SECONDS          spread the connection attempts over SECONDS\n"
    "                          (default 0: as fast as --max-connecting allows)\n"
    "  --max-connecting N      handshakes in flight at once (default 256)\n"
    "  --size BYTES            chat text / stroke payload size (default 100)\n"
    "  --room-prefix P         rooms are named P0, P1, ... (default load-)\n"
    "  --cleanup               when the run ends, delete its rooms (DELETE\n"
    "                          /v1/rooms/P<i>, with an owner token for 'P*' signed\n"
    "                          with --secret-file; without a secret roomd lets\n"
    "                          only a loopback client delete); a refused delete\n"
    "                          makes the exit status 1\n"
    "  --secret-file FILE      mint one HS256 token per client (user cN, role\n"
    "                          editor or viewer); without it clients connect\n"
    "                          with ?name=cN (server auth off)\n"
    "  --viewers FRACTION      share of each room's clients that only watch\n"
    "                          (viewer tokens with --secret-file; they send no ops)\n"
    "  --reconnect-every S     churn: mean seconds between a client's reconnects\n"
    "                          (default 2)\n"
    "  --reconnect             failover mode: a connection the server closes\n"
    "                          with 1001 (going away), 1006 (dropped, reset, no\n"
    "                          close frame), 1011, 1012 or 1013 is not a failure:\n"
    "                          the client reconnects after a random 100..400 ms\n"
    "                          (again after each refused or failed attempt, until\n"
    "                          it is welcomed or the run ends), resumes with\n"
    "                          since=<last seq seen>&epoch=<epoch>, waits for the\n"
    "                          replay to catch up, then resends every op it has\n"
    "                          no answer for (neither an ack nor its own replayed\n"
    "                          event) with the SAME op id, before any new op:\n"
    "                          roomd commits an id once and acks a repeat with\n"
    "                          dup. The checker keeps each room's seq -> op\n"
    "                          memory across reconnects, so a server that lost a\n"
    "                          committed op (another op at its seq, a welcome\n"
    "                          behind a seq already seen, a gap) is a violation.\n"
    "                          Drain also waits for reconnecting clients. Fails\n"
    "                          the run: a client still reconnecting at the end,\n"
    "                          an op never answered, any other close code\n"
    "  --acked-file FILE       at the end write one line per op the server\n"
    "                          reported committed: 'ROOM SEQ OP_ID' (acked, or\n"
    "                          ack.dup, or seen as an event by any client: its\n"
    "                          sender's replay included), for checking against\n"
    "                          the stored log (roomctl events). The op records\n"
    "                          then cover the whole run, not the last 30 s\n"
    "  --drain SECONDS         longest wait after sending for every answer,\n"
    "                          reconnect and replay (default 10): longer when an\n"
    "                          outage may outlast the run (a failover, a database\n"
    "                          restart); what is still missing then fails the run\n"
    "  --seed N                seed for the send-time offsets (default: random)\n"
    "  --procs N               run N worker processes (default 1; at most --rooms),\n"
    "                          each with its own event loop and a contiguous share\n"
    "                          of the rooms with all their clients, so every\n"
    "                          per-room check stays in one process. The parent\n"
    "                          merges their results into one report (same text and\n"
    "                          JSON, checks and exit status); --max-connecting is\n"
    "                          shared out among them. A worker that dies fails the\n"
    "                          run (exit 1) with its rooms and signal or status.\n"
    "\n"
    "Checks (a missed check makes the exit status 1):\n"
    "  --max-p99 MS            99th percentile of ack and delivery latency\n"
    "  --min-delivered N       events delivered to clients, at least N\n"
    "  Always: no ordering violations, every connection established, none\n"
    "  closed by the server (with --reconnect: none left closed, and every op\n"
    "  answered).\n"
    "\n"
    "Output:\n"
    "  --json                  print the final report as one JSON object on stdout\n"
    "  --csv FILE              write one row per second (and one at the end) to\n"
    "                          FILE, for plotting. Columns: time_s (since start),\n"
    "                          phase (connect, run, drain, close, end),\n"
    "                          connections (open now), then counts of the\n"
    "                          interval: sent (ops and cursors written), delivered\n"
    "                          (events and cursors received from other clients),\n"
    "                          acks, errors (failed connects, server closes, error\n"
    "                          messages, undecodable frames, rejects); violations\n"
    "                          (total so far); p50_ms and p99_ms of the\n"
    "                          interval's delivery and cursor relay latency (ack\n"
    "                          latency with --clients 1). The interval counts add\n"
    "                          up to the report's totals.\n"
    "  -q, --quiet             no per-second progress lines on stderr\n"
    "  -h, --help              show this help and exit\n"
    "\n"
    "How it runs. Phases: connect (all connections, spread over --ramp), run\n"
    "(--duration seconds of sending), drain (up to --drain s until every op is\n"
    "answered and every connection of a room has reached the same seq), close.\n"
    "Sending starts only once every connection is welcomed, so for chat every op\n"
    "is delivered to all C-1 other clients of its room: events delivered =\n"
    "ops acked x (C-1). With churn an op in flight at a reconnect loses its ack\n"
    "and comes back as a replayed event instead: ops acked + own ops replayed =\n"
    "ops sent, and events delivered = ops sent x (C-1) still holds.\n"
    "\n"
    "The rate is open loop: each client has its own schedule, one message every\n"
    "1/N seconds (from a random offset), advanced regardless of replies. A slow\n"
    "server makes messages queue up instead of slowing the sender down, and each\n"
    "latency is measured from the message's scheduled send time, so queueing\n"
    "delay is included and latency is not hidden by coordinated omission.\n"
    "\n"
    "Measurements. Op ids are cIDX.SEQ (client index, local sequence); the send\n"
    "time is kept per client, so ack latency (send -> ack at the sender) and\n"
    "delivery latency (send -> event at each other client of the room) are both\n"
    "exact, in one process, on one monotonic clock. Latencies go to log-linear\n"
    "histograms (0.4% resolution, up to 60 s). Connect time is from the connect\n"
    "call to the welcome message. Send lag is from a message's scheduled time to\n"
    "its actual write: roomload's own delay, included in every latency above; if\n"
    "its p99 is large, roomload (not the server) is the bottleneck.\n"
    "\n"
    "Checks on every connection: the seqs it sees (welcome seq, then every event\n"
    "and ack) rise by exactly one, with no gap, duplicate or reorder; every\n"
    "connection of a room sees the same op at a given seq; an op's events carry\n"
    "the seq of its ack; at the end all connections of a room agree on the last\n"
    "seq. The first violations are printed with detail.\n"
    "\n"
    "Report: connections, ops sent/acked/rejected, events delivered and per\n"
    "second, ack and delivery latency p50/p90/p99/p99.9/max, connect p50/p99,\n"
    "rejects by code, close codes, violations, and CPU microseconds per received\n"
    "event (getrusage; with --procs the workers' CPU is added and peak RSS is the\n"
    "sum of the processes'). With --reconnect (or churn): drops (connections the\n"
    "server closed or reset), reconnects (welcomed again), resumed (welcome\n"
    "resumed=true) and full_state_welcomes (a full state instead), failed\n"
    "reconnect attempts, ops resent, ack_dups (acks with dup: true), the longest\n"
    "outage (max_outage_ms: from a drop to the next welcome), clients never back\n"
    "and ops never answered. Progress: one line per second on stderr.\n"
    "\n"
    "Received frames: events, acks, cursors and presence in roomd's own encoding\n"
    "are read by a fast path that takes only the fields the checks need; any\n"
    "other frame, or one in another shape, is decoded as full JSON.\n"
    "\n"
    "Exit status: 0 all checks passed, 1 a check failed or a runtime error,\n"
    "2 usage error.\n"
    "\n"
    "Examples:\n"
    "  roomload --url ws://127.0.0.1:8080 --rooms 100 --clients 10 --rate 5 \\\n"
    "           --duration 20 --max-p99 50\n"
    "  roomload --url ws://127.0.0.1:8080 --rooms 100 --clients 100 \\\n"
    "           --scenario idle --duration 10 --procs 2 --csv idle.csv\n";

static const char *const sc_names[SC_COUNT] = {
    [SC_CHAT] = "chat",	    [SC_DRAW] = "draw", [SC_POLL] = "poll",
    [SC_CURSOR] = "cursor", [SC_IDLE] = "idle", [SC_MIXED] = "mixed",
    [SC_CHURN] = "churn",
};

const char *scenario_name(scenario s)
{
	return (unsigned)s < SC_COUNT ? sc_names[s] : "?";
}

enum {
	OPT_URL = 256,
	OPT_ROOMS,
	OPT_CLIENTS,
	OPT_RATE,
	OPT_DURATION,
	OPT_SCENARIO,
	OPT_CLEANUP,
	OPT_RAMP,
	OPT_SIZE,
	OPT_PREFIX,
	OPT_SECRET,
	OPT_VIEWERS,
	OPT_MAX_P99,
	OPT_MIN_DELIVERED,
	OPT_JSON,
	OPT_MAX_CONNECTING,
	OPT_SEED,
	OPT_RECONNECT,
	OPT_PROCS,
	OPT_CSV,
	OPT_CA,
	OPT_FAILOVER,
	OPT_ACKED_FILE,
	OPT_DRAIN,
};

static const struct option long_opts[] = {
    {"url", required_argument, NULL, OPT_URL},
    {"ca", required_argument, NULL, OPT_CA},
    {"rooms", required_argument, NULL, OPT_ROOMS},
    {"clients", required_argument, NULL, OPT_CLIENTS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"scenario", required_argument, NULL, OPT_SCENARIO},
    {"ramp", required_argument, NULL, OPT_RAMP},
    {"size", required_argument, NULL, OPT_SIZE},
    {"room-prefix", required_argument, NULL, OPT_PREFIX},
    {"cleanup", no_argument, NULL, OPT_CLEANUP},
    {"secret-file", required_argument, NULL, OPT_SECRET},
    {"viewers", required_argument, NULL, OPT_VIEWERS},
    {"max-p99", required_argument, NULL, OPT_MAX_P99},
    {"min-delivered", required_argument, NULL, OPT_MIN_DELIVERED},
    {"max-connecting", required_argument, NULL, OPT_MAX_CONNECTING},
    {"seed", required_argument, NULL, OPT_SEED},
    {"reconnect-every", required_argument, NULL, OPT_RECONNECT},
    {"procs", required_argument, NULL, OPT_PROCS},
    {"csv", required_argument, NULL, OPT_CSV},
    {"reconnect", no_argument, NULL, OPT_FAILOVER},
    {"acked-file", required_argument, NULL, OPT_ACKED_FILE},
    {"drain", required_argument, NULL, OPT_DRAIN},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, ...) RK_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see roomload --help)\n", stderr);
	return RK_EXIT_USAGE;
}

int config_parse(load_config *cfg, int argc, char **argv)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->rooms = 10;
	cfg->clients = 10;
	cfg->rate = 1;
	cfg->duration = 10;
	cfg->size = 100;
	snprintf(cfg->prefix, sizeof(cfg->prefix), "load-");
	cfg->max_p99_ms = -1;
	cfg->min_delivered = -1;
	cfg->max_connecting = 256;
	cfg->sc = SC_CHAT;
	cfg->seed = 0;
	cfg->reconnect_every = 2;
	cfg->procs = 1;
	cfg->drain = 10;
	bool have_url = false;
	long long v;
	char why[256];
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":qh", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_URL:
			if (!rk_wsurl_parse(optarg, &cfg->srv) ||
			    strlen(optarg) >= sizeof(cfg->url))
				return usage_error("--url wants ws://HOST[:PORT][/] or "
						   "wss://HOST[:PORT][/], got '%s'",
						   optarg);
			snprintf(cfg->url, sizeof(cfg->url), "%s", optarg);
			have_url = true;
			break;
		case OPT_CA:
			cfg->ca_file = optarg;
			break;
		case OPT_ROOMS:
			if (!rk_cli_int("--rooms", optarg, 1, 100000, &v, why,
					sizeof(why)))
				return usage_error("%s", why);
			cfg->rooms = (int)v;
			break;
		case OPT_CLIENTS:
			if (!rk_cli_int("--clients", optarg, 1, 100000, &v, why,
					sizeof(why)))
				return usage_error("%s", why);
			cfg->clients = (int)v;
			break;
		case OPT_RATE:
			if (!rk_cli_double("--rate", optarg, 0, 100000, &cfg->rate, why,
					   sizeof(why)))
				return usage_error("%s", why);
			break;
		case OPT_DURATION:
			if (!rk_cli_double("--duration", optarg, 0, 86400, &cfg->duration,
					   why, sizeof(why)))
				return usage_error("%s", why);
			break;
		case OPT_SCENARIO: {
			int i;
			for (i = 0; i < SC_COUNT; i++)
				if (strcmp(optarg, sc_names[i]) == 0)
					break;
			if (i == SC_COUNT)
				return usage_error(
				    "unknown --scenario '%s' (chat, draw, poll, "
				    "cursor, idle, mixed, churn)",
				    optarg);
			cfg->sc = (scenario)i;
			break;
		}
		case OPT_RAMP:
			if (!rk_cli_double("--ramp", optarg, 0, 3600, &cfg->ramp, why,
					   sizeof(why)))
				return usage_error("%s", why);
			break;
		case OPT_SIZE:
			if (!rk_cli_int("--size", optarg, 1, RK_TEXT_MAX, &v, why,
					sizeof(why)))
				return usage_error("%s", why);
			cfg->size = (int)v;
			break;
		case OPT_CLEANUP:
			cfg->cleanup = true;
			break;
		case OPT_PREFIX:
			if (strlen(optarg) > 40)
				return usage_error(
				    "--room-prefix is at most 40 characters");
			snprintf(cfg->prefix, sizeof(cfg->prefix), "%s", optarg);
			break;
		case OPT_SECRET:
			if (rk_cli_secret(stderr, optarg, &cfg->secret, &cfg->secret_len))
				return RK_EXIT_FAIL;
			break;
		case OPT_VIEWERS:
			if (!rk_cli_double("--viewers", optarg, 0, 1, &cfg->viewers, why,
					   sizeof(why)))
				return usage_error("%s", why);
			break;
		case OPT_MAX_P99:
			if (!rk_cli_double("--max-p99", optarg, 0, 1e9, &cfg->max_p99_ms,
					   why, sizeof(why)))
				return usage_error("%s", why);
			break;
		case OPT_MIN_DELIVERED:
			if (!rk_cli_int("--min-delivered", optarg, 0, INT64_MAX / 2, &v,
					why, sizeof(why)))
				return usage_error("%s", why);
			cfg->min_delivered = v;
			break;
		case OPT_MAX_CONNECTING:
			if (!rk_cli_int("--max-connecting", optarg, 1, 100000, &v, why,
					sizeof(why)))
				return usage_error("%s", why);
			cfg->max_connecting = (int)v;
			break;
		case OPT_SEED:
			if (!rk_cli_int("--seed", optarg, 0, INT64_MAX, &v, why,
					sizeof(why)))
				return usage_error("%s", why);
			cfg->seed = (uint64_t)v;
			break;
		case OPT_RECONNECT:
			if (!rk_cli_double("--reconnect-every", optarg, 0.05, 86400,
					   &cfg->reconnect_every, why, sizeof(why)))
				return usage_error("%s", why);
			break;
		case OPT_PROCS:
			if (!rk_cli_int("--procs", optarg, 1, 64, &v, why, sizeof(why)))
				return usage_error("%s", why);
			cfg->procs = (int)v;
			break;
		case OPT_CSV:
			if (!optarg[0] || strlen(optarg) >= sizeof(cfg->csv))
				return usage_error("--csv wants a file name");
			snprintf(cfg->csv, sizeof(cfg->csv), "%s", optarg);
			break;
		case OPT_FAILOVER:
			cfg->reconnect = true;
			break;
		case OPT_ACKED_FILE:
			if (!optarg[0] || strlen(optarg) >= sizeof(cfg->acked_file))
				return usage_error("--acked-file wants a file name");
			snprintf(cfg->acked_file, sizeof(cfg->acked_file), "%s", optarg);
			break;
		case OPT_DRAIN:
			if (!rk_cli_double("--drain", optarg, 0, 3600, &cfg->drain, why,
					   sizeof(why)))
				return usage_error("%s", why);
			break;
		case OPT_JSON:
			cfg->json = true;
			break;
		case 'q':
			cfg->quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return RK_EXIT_OK;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!have_url)
		return usage_error("--url is required");
	if (cfg->ca_file && !cfg->srv.tls)
		return usage_error("--ca is for wss:// URLs");
	if (cfg->ca_file && access(cfg->ca_file, R_OK) != 0) {
		fprintf(stderr, "Error: --ca %s: %s\n", cfg->ca_file, strerror(errno));
		return RK_EXIT_FAIL;
	}
	char room[RK_ROOM_ID_MAX + 1];
	snprintf(room, sizeof(room), "%s%d", cfg->prefix, cfg->rooms - 1);
	if (!rk_roomid_validz(room))
		return usage_error("--room-prefix '%s' does not make valid room ids",
				   cfg->prefix);
	if ((long long)cfg->rooms * cfg->clients > 200000)
		return usage_error("at most 200000 connections in total");
	if (cfg->procs > cfg->rooms)
		return usage_error("--procs %d is more than --rooms %d (a room's clients "
				   "live in one process)",
				   cfg->procs, cfg->rooms);
	if (!cfg->seed)
		cfg->seed = ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)cfg;
	return RK_CLI_GO;
}

void config_free(load_config *cfg)
{
	free(cfg->secret);
	cfg->secret = NULL;
}
