/*
 * net.h - libwebsockets glue (net.c): the context and vhost, the one
 * protocol callback (upgrade gate, WebSocket events handed to the input
 * side, the output side and the server; HTTP endpoints), TLS checks.
 * The top of roomd's call graph with main.c: nothing in roomd calls it.
 */
#ifndef ROOMD_NET_H
#define ROOMD_NET_H

#include "roomd.h"

/* With --tls-cert/--tls-key: read both files and check that they are a PEM
 * certificate and the unencrypted PEM key that matches it, so that a bad
 * file is a one-line error at start instead of a failed lws context.
 * Returns 0 (also without TLS), or -1 with the reason in err. */
int net_tls_check(const roomd_config *cfg, char *err, size_t errlen) RK_WARN_UNUSED;
/* Create the lws context on s->loop (s->lws, s->vhost) and listen. 0, or
 * -1 (logged). */
int net_start(server *s) RK_WARN_UNUSED;
/* Answer the HTTP request on wsi (c its conn) with status and a JSON body
 * (taken on every path, freed when written or at close): headers now, the
 * body as the socket takes it; cors_origin (may be NULL) and retry_after_s
 * (> 0) add those headers. 0, or -1 to close the connection. */
int net_http_json(struct lws *wsi, conn *c, unsigned status, char *body, size_t len,
		  const char *cors_origin, int retry_after_s) RK_WARN_UNUSED;
/* The protocol's lws callback (user: the conn). */
int net_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		 size_t len);

#endif
