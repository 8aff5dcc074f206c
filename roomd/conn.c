/* conn.c - a connection's lifecycle state and its one setter (conn.h). */
#include "conn.h"
#include "log.h"

const char *conn_state_name(conn_state st)
{
	switch (st) {
	case CONN_HTTP:
		return "http";
	case CONN_OPEN:
		return "open";
	case CONN_CLOSING:
		return "closing";
	case CONN_CLOSED:
		return "closed";
	}
	return "?";
}

bool conn_set_state(conn *c, conn_state st)
{
	bool ok = false;
	switch (st) {
	case CONN_OPEN:
		ok = c->state == CONN_HTTP;
		break;
	case CONN_CLOSING:
		ok = c->state == CONN_OPEN;
		break;
	case CONN_CLOSED:
		ok = c->state == CONN_OPEN || c->state == CONN_CLOSING;
		break;
	case CONN_HTTP:
		break;
	}
	if (!ok) {
		rk_warn("conn %s: no move from %s to %s",
			c->peer.session[0] ? c->peer.session : "-",
			conn_state_name(c->state), conn_state_name(st));
		return false;
	}
	c->state = st;
	return true;
}
