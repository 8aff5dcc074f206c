/*
 * config.h - roomload's settings: the command line, its defaults and the
 * --help text. Owns the secret bytes read from --secret-file.
 */
#ifndef ROOMLOAD_CONFIG_H
#define ROOMLOAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsurl.h"

typedef enum scenario {
	SC_CHAT = 0, /* chat.post of --size characters */
	SC_DRAW,     /* shape.add / shape.update / shape.delete cycle of own strokes */
	SC_POLL,     /* one poll per room (setup), every op a poll.vote */
	SC_CURSOR,   /* cursor messages (ephemeral, coalesced by the server) */
	SC_IDLE,     /* connect and hold; nothing is sent */
	SC_MIXED,    /* per op: 60 % chat, 30 % shape.add, 10 % poll.vote */
	SC_CHURN,    /* chat, and every client reconnects and resumes (since/epoch) */
	SC_COUNT
} scenario;

const char *scenario_name(scenario s);

typedef struct load_config {
	rk_wsurl srv;	       /* --url: host, port, wss:// or not */
	const char *ca_file;   /* --ca FILE: trust anchors for wss:// (PEM);
				* NULL = the system's store only */
	char url[300];	       /* --url as given, for the report */
	int rooms;	       /* --rooms R */
	int clients;	       /* --clients C, per room */
	double rate;	       /* --rate, ops (or cursors) per second per client */
	double duration;       /* --duration SECONDS of sending */
	double ramp;	       /* --ramp SECONDS over which connections open */
	int size;	       /* --size BYTES of chat text / stroke payload */
	char prefix[48];       /* --room-prefix: rooms are PREFIX0..PREFIX(R-1) */
	unsigned char *secret; /* --secret-file: mint tokens; NULL = ?name= */
	size_t secret_len;
	double viewers;		 /* --viewers FRACTION of each room's clients */
	double max_p99_ms;	 /* --max-p99 MS; < 0 = no check */
	long long min_delivered; /* --min-delivered N; < 0 = no check */
	int max_connecting;	 /* --max-connecting N handshakes in flight */
	scenario sc;		 /* --scenario */
	bool json;		 /* --json: the report as JSON on stdout */
	bool quiet;		 /* -q: no progress lines */
	uint64_t seed;		 /* --seed for the schedule offsets */
	double reconnect_every;	 /* --reconnect-every SECONDS (churn), mean interval */
	int procs;		 /* --procs N worker processes (1 = this process) */
	char csv[1024];		 /* --csv FILE; "" = none */
	bool cleanup;		 /* --cleanup: DELETE the rooms at the end */
	bool reconnect;		 /* --reconnect: a connection the server drops
				  * (1001, 1006, 1011, 1012, 1013) reconnects,
				  * resumes and resends its unanswered ops */
	char acked_file[1024];	 /* --acked-file FILE; "" = none */
	double drain;		 /* --drain SECONDS: longest drain phase */
} load_config;

/*
 * Fill cfg from argv. Returns RK_CLI_GO (cli.h) to run, or the rk_exit to
 * leave with: RK_EXIT_OK after --help was printed, RK_EXIT_USAGE after a
 * one-line "Error: ..." hint, RK_EXIT_FAIL after a runtime error such as an
 * unreadable secret file (printed). cfg owns the secret either way
 * (config_free).
 */
int config_parse(load_config *cfg, int argc, char **argv);
void config_free(load_config *cfg);

#endif
