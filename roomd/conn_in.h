/*
 * conn_in.h - the input side of a connection: reassembly of a fragmented
 * message into c->rx (capped at --max-frame: past it 1009), the decode
 * (rk_cmsg_decode), the per-connection limits (--ops-per-sec token bucket:
 * reject, then 4429; malformed messages: error, then 4400) and the hand-off
 * to the room actor (room.h). Its own replies (error, reject, pong) go
 * through room_reply, behind c's uncommitted ops.
 */
#ifndef ROOMD_CONN_IN_H
#define ROOMD_CONN_IN_H

#include "roomd.h"

/* LWS_CALLBACK_RECEIVE: len bytes of c's current message (in is lws's,
 * only read). Nothing is read from a conn that is closing. Cannot fail: a
 * fault closes c with its code. */
void conn_rx(conn *c, const char *in, size_t len);

#endif
