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

/* How much of a message lws hands over per RECEIVE (the protocol's
 * rx_buffer_size, net.c): every control frame (<= 125 bytes) fits. */
#define RX_CHUNK 128
/* A reassembly buffer (c->rx, allocated at the first message longer than
 * RX_CHUNK) up to this size is kept for the connection's next long
 * message until conn_rx_trim; a bigger one is freed once its message is
 * handled. */
#define RX_KEEP_MAX 4096

/* LWS_CALLBACK_RECEIVE: len bytes of c's current message (in is lws's,
 * only read). Nothing is read from a conn that is closing. Cannot fail: a
 * fault closes c with its code. */
void conn_rx(conn *c, const char *in, size_t len);
/* Free c->rx, the reassembly buffer, if no message is in progress in it
 * (the housekeeping tick: idle connections keep none). Cannot fail. */
void conn_rx_trim(conn *c);
/* Free c->rx whatever it holds (c is gone). Cannot fail. */
void conn_rx_free(conn *c);

#endif
