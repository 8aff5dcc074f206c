/*
 * conn.h - a connection's lifecycle state (roomd.h: conn_state) and its
 * one setter. The input side (conn_in.h), the output side (conn_out.h) and
 * the server's registry (server.h) move a conn along; nobody writes
 * c->state but conn_set_state.
 *
 *   CONN_HTTP ──ESTABLISHED──> CONN_OPEN ──conn_close──> CONN_CLOSING
 *                                  │                          │
 *                                  └──────lws CLOSED──────────┴──> CONN_CLOSED
 */
#ifndef ROOMD_CONN_H
#define ROOMD_CONN_H

#include "roomd.h"

/* Move c to st. Only the arrows above are allowed; CONN_CLOSED is terminal.
 * Returns false, changing nothing, for any other move (a caller's bug:
 * it is logged). */
bool conn_set_state(conn *c, conn_state st);

/* A WebSocket that lws has not closed yet (open or closing). */
static inline bool conn_is_ws(const conn *c)
{
	return c->state == CONN_OPEN || c->state == CONN_CLOSING;
}

/* The name of st, for logs. Cannot fail. */
const char *conn_state_name(conn_state st);

#endif
