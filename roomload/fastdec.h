/*
 * fastdec.h - roomload's fast path for the frames that make up nearly all
 * of its input: event, ack, cursor, presence and welcome, in the exact shape
 * roomd's encoder (libcommon proto.c, rk_enc_*) writes them. It pulls out
 * only what the checks need (type, seq, our op id split into client index
 * and local seq, cursor x/y, a welcome's epoch and resumed flag) without
 * building a JSON tree or allocating. (A welcome lists every peer of the
 * room: at 100 clients a room, decoding those as JSON was most of the
 * connect phase's CPU.)
 *
 * It never guesses: anything not in that shape (other key order, escapes in
 * a string it reads, whitespace, numbers out of range, other types, a
 * welcome, a reject...) makes it return false, and the caller falls back to
 * the full decoder (rk_smsg_decode). Parts it skips are not validated
 * beyond balanced braces and brackets: the op of an event, the peer of a
 * presence join, a welcome's state, peers and limits are taken on trust, as
 * roomd produced them.
 */
#ifndef ROOMLOAD_FASTDEC_H
#define ROOMLOAD_FASTDEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto.h"

/* What the checks need from one server frame. */
typedef struct rl_msg {
	rk_stype t;		      /* RK_S_EVENT, RK_S_ACK, RK_S_CURSOR, RK_S_PRESENCE,
				       * RK_S_WELCOME (fast path); any type from the full
				       * decoder */
	int64_t seq;		      /* event, ack, welcome */
	bool dup;		      /* ack: "dup":true (already committed) */
	bool resumed;		      /* welcome */
	char epoch[RK_EPOCH_MAX + 1]; /* welcome */
	bool ours;     /* event, ack, reject: the id has our form cIDX.SEQ */
	uint32_t cidx; /* ours: the sender's client index */
	uint32_t lseq; /* ours: the sender's local sequence number */
	int64_t x, y;  /* cursor */
} rl_msg;

/* Parse one of our op ids, "cIDX.SEQ" (decimal, no sign, no leading '+'),
 * of n bytes. false for anything else. Can't fail otherwise. */
bool rl_parse_id(const char *id, size_t n, uint32_t *cidx, uint32_t *lseq);

/* Decode frame s of n bytes on the fast path. true and *m filled, or false
 * (m unspecified): the frame is not one this path handles, decode it fully. */
bool rl_fast_decode(const char *s, size_t n, rl_msg *m);

#endif
