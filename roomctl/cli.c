/* cli.c - roomctl's command dispatch, help texts and diagnostics. */
#include <stdarg.h>
#include <string.h>

#include "roomctl.h"

static const char overview_text[] =
    "Usage: roomctl <command> [options]\n"
    "\n"
    "Administer roomkit: mint room tokens, inspect and check room files offline\n"
    "(read-only, safe while roomd runs), and query a running roomd over HTTP.\n"
    "\n"
    "Tokens:\n"
    "  token     sign a room token (JWT HS256) with the server's secret\n"
    "\n"
    "Webhooks:\n"
    "  webhook verify   check a captured webhook request's signature\n"
    "\n"
    "Room files (DATA_DIR/rooms/ROOM.db; opened read-only, never modified,\n"
    "except by compact and delete):\n"
    "  inspect   summary: room, epoch, seq range, ops per kind, users, sizes\n"
    "  events    the log as `event` messages, one JSON object per line\n"
    "  replay    the state after events 1..SEQ, as JSON or as an ASCII board\n"
    "  verify    check the log, snapshots and alarms; exit 1 on the first problem\n"
    "  diff      what changed between two room files or two seqs of one\n"
    "\n"
    "Server (HTTP API of a running roomd):\n"
    "  rooms     every room: connections, seq, loaded, last activity\n"
    "  room      one room: its entry, peers and state summary\n"
    "  health    GET /healthz; exit 0 if the server accepts connections\n"
    "  metrics   a readable digest of GET /metrics\n"
    "\n"
    "Data directory:\n"
    "  usage     disk use and activity of every room file (read-only)\n"
    "  export    a room's history as JSON lines (read-only)\n"
    "  import    a new room file from an export (never overwrites)\n"
    "  compact   snapshot a room at its last seq and drop old events (writes;\n"
    "            refused while roomd has the room)\n"
    "  delete    remove a room file with its -wal and -shm (refused while\n"
    "            roomd has the room)\n"
    "\n"
    "Cluster (roomd --pg: room logs in PostgreSQL; the rooms are only read):\n"
    "  pull      a cluster room's log as a standard room file\n"
    "  rooms --pg URL   the cluster's rooms with their owner node\n"
    "\n"
    "  help [COMMAND]   show this text or a command's help\n"
    "\n"
    "Run 'roomctl <command> --help' for a command's options.\n"
    "\n"
    "Environment:\n"
    "  ROOMCTL_SERVER   default for --server (else http://127.0.0.1:8080)\n"
    "  ROOMCTL_TOKEN    default for --token\n"
    "  ROOMCTL_CA       default for --ca\n"
    "\n"
    "Exit status:\n"
    "  0  success (verify: the room file is consistent)\n"
    "  1  a failed check or a runtime error (one line \"Error: ...\" on stderr)\n"
    "  2  usage error (a one-line hint on stderr)\n";

static const char token_text[] =
    "Usage: roomctl token --secret-file FILE --room ROOM --user USER --role ROLE\n"
    "                     [--ttl SECONDS]\n"
    "\n"
    "Print a room token (PROTOCOL.md section 6): a JWT signed with HS256 whose\n"
    "claims are sub=USER, room=ROOM, role=ROLE and exp=now+SECONDS. Clients pass\n"
    "it as ?token= on the WebSocket URL; the HTTP API takes an owner token as\n"
    "'Authorization: Bearer TOKEN'.\n"
    "\n"
    "Options:\n"
    "  --secret-file FILE  the secret roomd uses (--secret-file of roomd); one\n"
    "                      trailing newline is not part of the secret\n"
    "  --room ROOM         a room id, a prefix ending in '*' (\"team-*\"), or \"*\"\n"
    "                      for every room (required for /v1/rooms)\n"
    "  --user USER         the display name (1-32 printable characters)\n"
    "  --role ROLE         viewer, editor or owner\n"
    "  --ttl SECONDS       lifetime (default 3600)\n"
    "\n"
    "Example:\n"
    "  roomctl token --secret-file /etc/roomd.secret --room '*' --user admin \\\n"
    "          --role owner --ttl 600\n";

static const char webhook_text[] =
    "Usage: roomctl webhook verify --secret-file FILE [--tolerance S]\n"
    "                              [--request FILE | --body FILE --signature HDR]\n"
    "\n"
    "Check a webhook's Roomkit-Signature (PROTOCOL.md section 11: t=<unix s>,\n"
    "v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>) with roomd's\n"
    "--webhook-secret-file, as a receiver must. Reads the raw HTTP request as\n"
    "captured (headers, blank line, body) from --request FILE or stdin, or the\n"
    "exact body bytes and the header value separately. Exit 0 if the signature\n"
    "is valid, 1 if not (or stale: t more than --tolerance seconds from now,\n"
    "default 300, -1 to skip the time check), 2 on a usage error.\n"
    "\n"
    "Example:\n"
    "  nc -l 9000 > req.txt    # point --webhook-url at it, cause an op\n"
    "  roomctl webhook verify --secret-file hook.secret --tolerance -1 < req.txt\n";

static const char inspect_text[] =
    "Usage: roomctl inspect ROOM.db [--json]\n"
    "\n"
    "Summarize a room file: room id, epoch, creation time, seq range and event\n"
    "count, snapshot seqs, ops per kind, distinct users with their op counts,\n"
    "first and last activity, file and WAL sizes, and pending poll alarms.\n"
    "\n"
    "Options:\n"
    "  --json   one JSON object instead of text\n";

static const char events_text[] =
    "Usage: roomctl events ROOM.db [--since N] [--until N] [--kind K] [--user U]\n"
    "                      [--limit N] [--follow]\n"
    "\n"
    "Print the room's log as `event` messages (PROTOCOL.md section 2), one JSON\n"
    "object per line, byte for byte what roomd sends a resuming client.\n"
    "\n"
    "Options:\n"
    "  --since N    only events with seq > N\n"
    "  --until N    only events with seq <= N\n"
    "  --kind K     only ops of kind K (shape.add, poll.vote, chat.post, ...)\n"
    "  --user U     only events by user U\n"
    "  --limit N    stop after N events\n"
    "  --follow     keep polling the file for new events (read-only) until\n"
    "               interrupted\n";

static const char replay_text[] =
    "Usage: roomctl replay ROOM.db [--upto SEQ] [--from-scratch] [--render]\n"
    "\n"
    "Rebuild the room state after events 1..SEQ (default: every event) with the\n"
    "same code roomd uses, and print it as the snapshot JSON of PROTOCOL.md\n"
    "section 5.\n"
    "\n"
    "Options:\n"
    "  --upto SEQ       stop after event SEQ\n"
    "  --from-scratch   apply every event from seq 1 instead of starting from the\n"
    "                   newest snapshot <= SEQ\n"
    "  --render         draw the state instead: the board as ASCII art (strokes\n"
    "                   and lines '*', rect borders '#', text as itself, scaled to\n"
    "                   at most 120x40), a legend of shapes and colors, polls as\n"
    "                   bar charts, and the last chat lines\n";

static const char verify_text[] =
    "Usage: roomctl verify ROOM.db\n"
    "\n"
    "Check a room file: meta (room, epoch, format 1); seqs contiguous from the\n"
    "first event (a log that starts after seq 1, as compact leaves it, starts\n"
    "from the snapshot at its first seq - 1, and no snapshot may be older);\n"
    "every op decodes, applies in order, and is stored as applied;\n"
    "every snapshot equals the replayed state at its seq (byte for byte); the\n"
    "alarms table matches the open polls with closes_at.\n"
    "\n"
    "Prints \"ok: N events, M snapshots verified\" and exits 0, or prints\n"
    "\"Error: ROOM.db: <the first problem>\" and exits 1.\n";

static const char diff_text[] =
    "Usage: roomctl diff A.db B.db\n"
    "       roomctl diff ROOM.db --at N --at M\n"
    "\n"
    "Compare two states: the latest states of two room files, or one room's\n"
    "state after event N and after event M. Prints one line per change:\n"
    "  + shape ID ...     added         - shape ID ...   removed\n"
    "  ~ shape ID: ...    changed (color, points, text)\n"
    "  + poll / - poll / ~ poll ID: votes, tally, closed\n"
    "  + chat [seq] user: text   chat lines added\n"
    "or \"no differences\". Exits 0 either way.\n"
    "\n"
    "Options:\n"
    "  --at SEQ   a seq of ROOM.db (give it twice)\n";

static const char rooms_text[] =
    "Usage: roomctl rooms [--server URL] [--ca FILE] [--token TOKEN] [--json]\n"
    "       roomctl rooms --pg URL [--lease MS] [--json]\n"
    "\n"
    "List the rooms of a running roomd (GET /v1/rooms) as a table: room,\n"
    "connections, seq, loaded, last activity.\n"
    "\n"
    "With --pg, list a cluster's rooms from its PostgreSQL (roomd --pg URL)\n"
    "instead: room, owner node, whether the owner is alive (its last\n"
    "heartbeat within --lease MS, default 10000), seq, last activity; --json\n"
    "prints one JSON object per line (room, owner, owner_alive, seq,\n"
    "last_active_ms, token).\n"
    "\n"
    "Options:\n"
    "  --server URL   roomd's base URL, http:// or https:// (env\n"
    "                 ROOMCTL_SERVER, else http://127.0.0.1:8080)\n"
    "  --ca FILE      https://: verify the server's certificate against the\n"
    "                 CA certificate(s) in FILE (PEM), e.g. a self-signed\n"
    "                 server certificate, instead of the system's trust\n"
    "                 store (env ROOMCTL_CA)\n"
    "  --token TOKEN  an owner token for room \"*\" when roomd has a secret (env\n"
    "                 ROOMCTL_TOKEN)\n"
    "  --json         print the server's JSON array instead\n";

static const char room_text[] =
    "Usage: roomctl room ROOM [--server URL] [--ca FILE] [--token TOKEN] [--json]\n"
    "\n"
    "Show one room of a running roomd (GET /v1/rooms/ROOM): its entry, its\n"
    "peers, and a summary of its state. Exit 1 if the room does not exist.\n"
    "\n"
    "Options: as for 'roomctl rooms'; --json prints the server's object.\n";

static const char health_text[] =
    "Usage: roomctl health [--server URL] [--ca FILE]\n"
    "\n"
    "GET /healthz. Prints \"ok\" and exits 0 while roomd accepts connections;\n"
    "exits 1 if it is draining or cannot be reached (or, for https://, its\n"
    "certificate is not trusted).\n"
    "\n"
    "Options: --server and --ca as for 'roomctl rooms'.\n";

static const char metrics_text[] =
    "Usage: roomctl metrics [--server URL] [--ca FILE] [--raw]\n"
    "\n"
    "A readable digest of GET /metrics: connections, rooms, ops committed,\n"
    "events delivered, rejects and errors by code, and commit latency\n"
    "(mean and histogram quantiles).\n"
    "\n"
    "Options (--server and --ca as for 'roomctl rooms'):\n"
    "  --raw   print the Prometheus text unchanged\n";

static const char usage_text[] =
    "Usage: roomctl usage DATA_DIR [--json]\n"
    "\n"
    "Disk use and activity of every room file in DATA_DIR/rooms, largest\n"
    "first: events, last seq, snapshots, file and WAL bytes, last activity,\n"
    "and totals. Read-only. Exits 1 (after the table) if a room file cannot\n"
    "be read; its row says why.\n"
    "\n"
    "Options:\n"
    "  --json   a JSON array instead of the table\n";

static const char export_text[] =
    "Usage: roomctl export ROOM.db [--output FILE]\n"
    "\n"
    "Write a room's whole history as JSON lines: a header\n"
    "  "
    "{\"t\":\"room\",\"v\":1,\"room\":...,\"epoch\":...,\"created_ms\":...,\"format\":1}"
    "\n"
    "then every event as the `event` message (as 'roomctl events' prints it).\n"
    "Read-only. 'roomctl import' turns it back into a room file.\n"
    "\n"
    "Options:\n"
    "  --output FILE   write to FILE instead of standard output\n";

static const char import_text[] =
    "Usage: roomctl import EXPORT DATA_DIR/rooms/ROOM.db [--room ROOM]\n"
    "\n"
    "Create a new room file from an export ('-' reads standard input). Every\n"
    "event is applied in order with the same code roomd uses, and refused at\n"
    "the first gap or op that does not apply; snapshots are written every 1000\n"
    "events and at the end, and pending poll alarms are recorded. The file\n"
    "must not exist (import never overwrites) and must be named ROOM.db for\n"
    "the room it holds. The epoch is kept, so clients of the exported room\n"
    "can resume. On any error nothing is left behind.\n"
    "\n"
    "Options:\n"
    "  --room ROOM   import under another room id (a new epoch is NOT made:\n"
    "                pass a fresh export for a fresh room)\n";

static const char compact_text[] =
    "Usage: roomctl compact ROOM.db [--keep-events N]\n"
    "\n"
    "Rewrite a room file to load faster and take less space. Refused (exit 1)\n"
    "while a roomd has the room (its flock on ROOM.db); the lock is held until\n"
    "compact is done, so roomd cannot take the room meanwhile. In one\n"
    "transaction: replay the log (from the best snapshot, as replay does) to the\n"
    "last seq N and write the snapshot at N; with --keep-events K also delete\n"
    "the events with seq <= N-K, write the snapshot at N-K (the state the kept\n"
    "log starts from) and delete the snapshots older than N-K. Then VACUUM (if\n"
    "events were deleted) and a WAL checkpoint. Prints one line: the seq, the\n"
    "snapshot, the events and snapshots deleted, the file size before and after\n"
    "(with its WAL).\n"
    "\n"
    "The room's state, seq and epoch do not change: 'roomctl verify' and roomd\n"
    "accept the file, and 'roomctl replay' gives the same state. Clients that\n"
    "resume from a seq older than the first kept event get the full state in\n"
    "their welcome instead of the missed events; 'replay --from-scratch' and\n"
    "'replay --upto' before the first kept event no longer work, and 'export'\n"
    "only has the kept events.\n"
    "\n"
    "Options:\n"
    "  --keep-events N   keep the last N events (N >= 0); without it no event\n"
    "                    is deleted, only the snapshot is written. Never\n"
    "                    deleted, whatever N: the last 10000 events and those\n"
    "                    within 24 h of the newest (roomd rebuilds its memory\n"
    "                    of idempotent op ids from them)\n";

static const char delete_text[] =
    "Usage: roomctl delete ROOM.db\n"
    "\n"
    "Remove a room for good: ROOM.db with its -wal and -shm files. Refused\n"
    "(exit 1) while a roomd has the room (its flock on ROOM.db: the room is\n"
    "loaded or has connections), and for a file that is not a room file. The\n"
    "file is renamed to ROOM.db.deleting first, then the -wal and -shm go, then\n"
    "the renamed file, so no -wal of the old room is left for a new room of the\n"
    "same name (roomd finishes a removal a crash interrupted). A roomd that\n"
    "knows the room still lists it until it loads it again, which creates a new\n"
    "room: new epoch, seq from 1. Online, use DELETE /v1/rooms/ROOM instead\n"
    "(it closes the room's clients with 4404). Prints one line: the room, its\n"
    "epoch, event count and last seq, and the bytes removed.\n";

static const char pull_text[] =
    "Usage: roomctl pull --pg URL ROOM -o ROOM.db\n"
    "\n"
    "Write a cluster room's log (roomd --pg: PostgreSQL at URL, a libpq\n"
    "connection string or postgres:// URL) to a new standard room file, so\n"
    "that inspect, events, replay, verify, diff and export apply to it. The\n"
    "file gets the room's meta (its epoch included), every event, snapshot\n"
    "and pending alarm, as of one moment (one database snapshot: a live room\n"
    "is copied consistently). Only reads the database. The file must not\n"
    "exist (pull never overwrites); on any error nothing is left behind.\n"
    "Prints one line: the room, its epoch and what was copied. Exit 1 if\n"
    "the room does not exist or the database cannot be read.\n"
    "\n"
    "Options:\n"
    "  --pg URL               the cluster's database (required)\n"
    "  -o, --output ROOM.db   the file to create (required)\n"
    "\n"
    "Example:\n"
    "  roomctl pull --pg postgresql://roomd@db/roomkit team-1 -o team-1.db\n"
    "  roomctl verify team-1.db\n";

typedef int (*cmd_fn)(ctl_ctx *c, int argc, char **argv);

static const struct {
	const char *name;
	cmd_fn fn;
	const char *help;
} commands[] = {
    /* clang-format off */
	{"token",   cmd_token,   token_text},
	{"webhook", cmd_webhook, webhook_text},
	{"inspect", cmd_inspect, inspect_text},
	{"events",  cmd_events,  events_text},
	{"replay",  cmd_replay,  replay_text},
	{"verify",  cmd_verify,  verify_text},
	{"diff",    cmd_diff,    diff_text},
	{"rooms",   cmd_rooms,   rooms_text},
	{"room",    cmd_room,    room_text},
	{"health",  cmd_health,  health_text},
	{"metrics", cmd_metrics, metrics_text},
	{"usage",   cmd_usage,   usage_text},
	{"export",  cmd_export,  export_text},
	{"import",  cmd_import,  import_text},
	{"compact", cmd_compact, compact_text},
	{"delete",  cmd_delete,  delete_text},
	{"pull",    cmd_pull,    pull_text},
    /* clang-format on */
};

bool ctl_help(FILE *f, const char *cmd)
{
	if (!cmd) {
		fputs(overview_text, f);
		return true;
	}
	for (size_t i = 0; i < RK_ARRAY_LEN(commands); i++) {
		if (strcmp(commands[i].name, cmd) == 0) {
			fputs(commands[i].help, f);
			return true;
		}
	}
	return false;
}

int ctl_fail(ctl_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("Error: ", c->err);
	vfprintf(c->err, fmt, ap);
	fputc('\n', c->err);
	va_end(ap);
	return RK_EXIT_FAIL;
}

int ctl_usage(ctl_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(c->err, "roomctl%s%s: ", c->cmd ? " " : "", c->cmd ? c->cmd : "");
	vfprintf(c->err, fmt, ap);
	fprintf(c->err, " (try 'roomctl %s%s--help')\n", c->cmd ? c->cmd : "",
		c->cmd ? " " : "");
	va_end(ap);
	return RK_EXIT_USAGE;
}

int roomctl_main(int argc, char **argv, FILE *out, FILE *err)
{
	ctl_ctx c = {.out = out, .err = err, .cmd = NULL};
	if (argc < 2)
		return ctl_usage(&c, "no command given");
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		ctl_help(out, NULL);
		return RK_EXIT_OK;
	}
	if (strcmp(cmd, "help") == 0) {
		if (argc > 3)
			return ctl_usage(&c, "help takes at most one command");
		if (!ctl_help(out, argc == 3 ? argv[2] : NULL))
			return ctl_usage(&c, "unknown command '%s'", argv[2]);
		return RK_EXIT_OK;
	}
	for (size_t i = 0; i < RK_ARRAY_LEN(commands); i++) {
		if (strcmp(commands[i].name, cmd) == 0) {
			c.cmd = commands[i].name;
			int rc = commands[i].fn(&c, argc - 2, argv + 2);
			fflush(out);
			return rc;
		}
	}
	return ctl_usage(&c, "unknown command '%s'", cmd);
}
