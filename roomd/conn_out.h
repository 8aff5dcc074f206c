/*
 * conn_out.h - the output side of a connection: its bounded queue of
 * shared, encoded messages (msg.h), framing, and the write-out at the end
 * of each loop turn; closing it with a code (metrics.h: ROOMD_CLOSES).
 *
 * Owns c->q, c->out_listed/out_next, s->out and s->wbuf's contents during
 * a write. Calls nothing of roomd's above it (no room, no server): the room
 * actor and the input side call in; a conn without a socket (an httpop's
 * sender) has a sink (roomd.h) that takes its output instead.
 *
 * Caps: c->q holds at most --max-queue payload bytes (past 64 KiB queued,
 * cursors are dropped first; past the cap the conn is closed with 4507).
 */
#ifndef ROOMD_CONN_OUT_H
#define ROOMD_CONN_OUT_H

#include "roomd.h"

/* Queue m for c, to be written at the end of this loop turn. Takes the
 * caller's reference to m on every path: queued (freed once written), or
 * dropped and unreferenced here (c closing for a reason other than
 * shutdown, a droppable cursor over the soft cap, c closed as a slow
 * consumer (4507), or out of memory (c closed with 1011)). With c->sink the
 * sink's push takes it. m must not be NULL. */
void conn_push(conn *c, rk_msg *m);
/* A close frame's reason is cut to this many bytes (a short frame). */
#define CLOSE_REASON_MAX 63
/* Close c with code: what is queued goes out first, then the close frame
 * (lws cuts c off if the peer does not read it within 5 s). Counted in the
 * metrics once; a second close keeps the first code. reason must be a
 * static string (a literal): c keeps the pointer. With c->sink the sink's
 * close gets it. Cannot fail. */
void conn_close(conn *c, roomd_close code, const char *reason);
/* LWS_CALLBACK_SERVER_WRITEABLE: the close frame, a ping, or more of the
 * queue. 0, or -1: lws closes the connection, or CONN_WRITABLE_GONE: the
 * close frame is out and c lingers (its socket's write side shut, input
 * dropped until the peer closes or for 1 s): the caller ends c's life in
 * the server now (server_conn_gone), lws closes the socket later. */
#define CONN_WRITABLE_GONE 1
int conn_writable(conn *c);
/* End of a loop turn: write what every conn got this turn, directly (one
 * send for several frames); POLLOUT only where the kernel did not take
 * everything. Cannot fail (a failed write closes that conn). */
void conn_write_out(server *s);
/* c is going away: take it off this turn's write list and drop its queue. */
void conn_out_forget(conn *c);

#endif
