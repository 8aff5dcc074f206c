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

/* ---- who the connection is -------------------------------------------
 * c->ids holds the session, user, ?client= and peer address in one
 * allocation sized to them: most of an idle connection's own memory
 * would otherwise be fixed-size arrays for the longest allowed names. */

/* Set all four, copied; NULL reads as "". Each is cut to its protocol
 * maximum (RK_SESSION_MAX, RK_NAME_BYTES, RK_ID_MAX, IPL_ADDR_MAX).
 * Returns false if out of memory, leaving c's old ids in place. */
bool conn_set_ids(conn *c, const char *session, const char *user, const char *client,
		  const char *ip) RK_WARN_UNUSED;
/* Replace the session only (a reconnect within grace takes its old one).
 * Same failure contract as conn_set_ids. */
bool conn_set_session(conn *c, const char *session) RK_WARN_UNUSED;
/* Free c->ids (the conn's last moment: lws WSI_DESTROY, an httpop's end).
 * The accessors read "" afterwards. Cannot fail. */
void conn_free_ids(conn *c);

static inline const char *conn_session(const conn *c)
{
	return c->ids ? c->ids : "";
}
static inline const char *conn_user(const conn *c)
{
	return c->ids ? c->ids + c->user_at : "";
}
static inline const char *conn_client(const conn *c)
{
	return c->ids ? c->ids + c->client_at : "";
}
static inline const char *conn_ip(const conn *c)
{
	return c->ids ? c->ids + c->ip_at : "";
}
/* c's session, or "-" before it has one (log lines). */
static inline const char *conn_tag(const conn *c)
{
	return c->ids && c->ids[0] ? c->ids : "-";
}
/* c as the codec's peer (a copy: session, user, color). Cannot fail. */
void conn_peer(const conn *c, rk_peer *p);

#endif
