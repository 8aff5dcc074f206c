/* conn.c - a connection's lifecycle state and its one setter (conn.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		rk_warn("conn %s: no move from %s to %s", conn_tag(c),
			conn_state_name(c->state), conn_state_name(st));
		return false;
	}
	c->state = st;
	return true;
}

static size_t cut(const char *s, size_t max)
{
	return s ? strnlen(s, max) : 0;
}

bool conn_set_ids(conn *c, const char *session, const char *user, const char *client,
		  const char *ip)
{
	size_t ls = cut(session, RK_SESSION_MAX), lu = cut(user, RK_NAME_BYTES),
	       lc = cut(client, RK_ID_MAX), li = cut(ip, IPL_ADDR_MAX);
	char *ids = malloc(ls + lu + lc + li + 4);
	if (!ids)
		return false;
	char *p = ids;
	const struct {
		const char *s;
		size_t n;
	} part[] = {{session, ls}, {user, lu}, {client, lc}, {ip, li}};
	uint16_t at[4];
	for (size_t i = 0; i < 4; i++) {
		at[i] = (uint16_t)(p - ids);
		if (part[i].n)
			memcpy(p, part[i].s, part[i].n);
		p += part[i].n;
		*p++ = '\0';
	}
	free(c->ids);
	c->ids = ids;
	c->user_at = at[1];
	c->client_at = at[2];
	c->ip_at = at[3];
	return true;
}

bool conn_set_session(conn *c, const char *session)
{
	/* Copies first: the new block is built from the old one. */
	char user[RK_NAME_BYTES + 1], client[RK_ID_MAX + 1], ip[IPL_ADDR_MAX + 1];
	snprintf(user, sizeof(user), "%s", conn_user(c));
	snprintf(client, sizeof(client), "%s", conn_client(c));
	snprintf(ip, sizeof(ip), "%s", conn_ip(c));
	return conn_set_ids(c, session, user, client, ip);
}

void conn_free_ids(conn *c)
{
	free(c->ids);
	c->ids = NULL;
}

void conn_peer(const conn *c, rk_peer *p)
{
	snprintf(p->session, sizeof(p->session), "%s", conn_session(c));
	snprintf(p->user, sizeof(p->user), "%s", conn_user(c));
	p->color = c->color;
}
