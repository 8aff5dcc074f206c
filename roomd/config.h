/*
 * config.h - roomd's settings: defaults, the command line, the config file
 * (--config) and --help. Every setting is a field here, with its default in
 * config.c and one entry in its option table: a flag and the same-named
 * config key.
 */
#ifndef ROOMD_CONFIG_H
#define ROOMD_CONFIG_H

#include <stdint.h>
#include "rk_common.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct roomd_config {
	char host[256]; /* --listen HOST:PORT */
	int port;
	char data_dir[1024];   /* --data DIR */
	unsigned char *secret; /* --secret-file / ROOMD_SECRET; NULL = auth off */
	size_t secret_len;
	int64_t hibernate_after_ms; /* --hibernate-after MS */
	int64_t retain_events;	    /* --retain-events N; 0 = keep all (ckpt.h) */
	bool fsync;		    /* --fsync: fsync each batch before replies */
	int log_level;		    /* --log-level */
	size_t max_frame;	    /* --max-frame BYTES */
	int ops_per_sec;	    /* --ops-per-sec N (token bucket rate) */
	int ops_burst;		    /* --ops-burst N (bucket size) */
	int max_room_conns;	    /* --max-room-conns N */
	int max_conns;		    /* --max-conns N (whole process) */
	size_t max_queue;	    /* --max-queue BYTES: unsent bytes per connection */
	int idle_timeout_ms;  /* --idle-timeout MS: no frame from the peer -> 4408 */
	int ping_interval_ms; /* --ping-interval MS: WebSocket pings */
	int grace_ms;	      /* --presence-grace MS */
	int snapshot_every;   /* --snapshot-every N events */
	int resume_max;	      /* --resume-max N: longest gap replayed as events */
	/* Per client address, at the upgrade gate (iplimit.h) */
	int conn_rate;		 /* --conn-rate N upgrades/s per IP (0: off) */
	int conn_burst;		 /* --conn-burst N */
	int max_conns_per_ip;	 /* --max-conns-per-ip N (0: off) */
	bool limit_loopback;	 /* --limit-loopback: loopback is limited too */
	int handshake_timeout_s; /* --handshake-timeout S: a connection must finish
				  * its HTTP request / upgrade within S seconds */
	char *tls_cert;		 /* --tls-cert FILE (PEM chain); NULL = plain ws/http */
	char *tls_key;	     /* --tls-key FILE (PEM, unencrypted); set with tls_cert */
	int log_format;	     /* --log-format: rk_log_format (text, json) */
	char **allow_origin; /* --allow-origin ORIGIN (repeatable): browser
			      * origins allowed besides the same origin */
	size_t n_allow_origin;
	/* Webhooks (webhook.h); off while webhook_url is NULL */
	char *webhook_url;	       /* --webhook-url URL (http:// or https://) */
	unsigned char *webhook_secret; /* --webhook-secret-file FILE */
	size_t webhook_secret_len;
	unsigned webhook_types;	  /* --webhook-types: WH_TYPE_* bits */
	int webhook_timeout_ms;	  /* --webhook-timeout MS: one delivery attempt */
	int webhook_concurrency;  /* --webhook-concurrency N: requests in flight */
	int webhook_retry_max_ms; /* --webhook-retry-max MS: longest backoff */
	bool no_demo;		  /* --no-demo: no demo page (/, /roomkit.js, ...: 404) */
	/* Cluster mode (docs/CLUSTER.md); off while pg_url is NULL */
	char *pg_url;	   /* --pg URL: room logs in PostgreSQL */
	char *node;	   /* --node NAME (required with --pg) */
	int lease_ms;	   /* --lease MS: a dead node's rooms move after it */
	int pg_timeout_ms; /* --pg-timeout MS: one statement's limit */
} roomd_config;

/* Webhook types (--webhook-types; PROTOCOL.md section 11). */
enum {
	WH_TYPE_OP = 1,
	WH_TYPE_PRESENCE = 2,
	WH_TYPE_POLL_CLOSED = 4,
	WH_TYPE_ALL = 7,
};

/*
 * Fill cfg from argv: defaults first, then ROOMD_SECRET, then the --config
 * file, then the flags (a flag overrides the file; a repeatable flag
 * replaces the file's values).
 * Returns RK_CLI_GO (cli.h) to run, or the rk_exit to leave with:
 * RK_EXIT_OK after --help was printed, RK_EXIT_USAGE after a one-line
 * "Error: ..." hint, RK_EXIT_FAIL after a runtime error such as an
 * unreadable secret file (message printed).
 */
int config_parse(roomd_config *cfg, int argc, char **argv) RK_WARN_UNUSED;
/* Free what cfg owns (strings, the secret); cfg may be half-filled. */
void config_free(roomd_config *cfg);

#endif
