/* room_stubs.h - what the stubs of room_stubs.c recorded (see there). */
#ifndef ROOM_STUBS_H
#define ROOM_STUBS_H

#include "roomd.h"

#define STUB_MAX 64

typedef struct stub_sent {
	conn *c;
	char *text; /* the message's JSON (malloc'ed) */
} stub_sent;

typedef struct stub_log {
	stub_sent sent[STUB_MAX]; /* conn_push, in call order */
	size_t nsent;
	int closes; /* conn_close that closed a conn */
	int begins, commits, rollbacks;
	int64_t appended; /* last seq store_append wrote */
	bool fail_append; /* store_append fails (RK_EIO) */
	int loads;	  /* loader_submit */
	int reopens;	  /* loader_submit_reopen */
	int creates;	  /* loader_submit_create */
	char created_epoch[RK_EPOCH_MAX +
			   1]; /* the epoch it (or store_create) was given */
	bool fileless;	       /* store_path names a missing file: rooms are new */
	int store_closes;      /* store_close of an open store */
	int syncs;	       /* syncer_submit */
	int64_t sync_seq;      /* its seq */
} stub_log;

extern stub_log stubs;
void stubs_reset(void);

#endif
