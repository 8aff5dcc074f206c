/*
 * wsclient.h - a small blocking WebSocket (RFC 6455) and HTTP/1.1 client on
 * plain POSIX sockets, for tests only.
 *
 * Deliberately not libwebsockets: a test must be able to do what a correct
 * client never does (send broken frames, unmasked frames, half a frame, bytes
 * that are not WebSocket at all) and to check what the server does in reply,
 * one call at a time, from a single thread.
 *
 * Everything blocks, with a timeout: a server that hangs makes the test fail,
 * not hang. Timeouts are in milliseconds; a negative timeout waits forever and
 * 0 only looks at what has already arrived. One struct ws belongs to one
 * thread. No function raises SIGPIPE. The client is strict about what the
 * server sends (masked server frames, bad opcodes, invalid UTF-8 in text,
 * bad close codes are reported as WS_ERROR) so tests catch server bugs.
 */
#ifndef RK_WSCLIENT_H
#define RK_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "buf.h"
#include "rk_common.h"

/* Frame opcodes (RFC 6455 section 5.2). */
enum {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

/* Bits of the first frame byte, for ws_frame_build. */
enum {
	WS_FIN = 0x80,
	WS_RSV1 = 0x40,
	WS_RSV2 = 0x20,
	WS_RSV3 = 0x10,
};

/* The outcome of a receive. WS_CLOSED, WS_EOF and WS_ERROR are sticky:
 * every later receive returns them again without reading. */
typedef enum ws_result {
	WS_MSG = 0, /* a complete message arrived (text, binary, or pong) */
	WS_CLOSED,  /* the server sent a close frame: ws_close_code/reason */
	WS_TIMEOUT, /* nothing complete in time; partial input is kept */
	WS_EOF,	    /* the TCP stream ended without a close frame */
	WS_ERROR,   /* socket error or protocol violation: ws_error() */
} ws_result;

/* A connection (opaque; see the accessors below). Named struct ws, not a
 * typedef, so that "struct ws *ws" declares a variable without shadowing. */
struct ws;

/* ---- HTTP answers ---- */

/* An HTTP response: the answer to http_get/http_request, or to a refused
 * WebSocket upgrade. Owns its strings; release with http_reply_free. */
typedef struct http_reply {
	int status;	 /* HTTP status (101, 200, 400, ...); 0 if no complete
			  * response head arrived (see error) */
	char *headers;	 /* header lines after the status line, "\r\n"
			  * separated, NUL-terminated; NULL if status is 0 */
	char *body;	 /* the body, NUL-terminated (never NULL once status is
			  * set; may contain NULs, see body_len) */
	size_t body_len; /* bytes of body, excluding the added NUL */
	char error[160]; /* why the request or the upgrade failed, or "" */
} http_reply;

/* Free the strings of r and zero it. r may be NULL or already freed. */
void http_reply_free(http_reply *r);

/* Copy the value of the first header called name (case-insensitive), with
 * surrounding blanks trimmed, into out (outlen bytes, truncated to fit).
 * Returns false, with out empty, if there is no such header. */
bool http_reply_header(const http_reply *r, const char *name, char *out, size_t outlen);

/*
 * GET path (with its query string) from host:port with "Connection: close".
 * headers_or_NULL: extra request header lines ("Name: value", several
 * separated by "\r\n"; a final "\r\n" is added if missing).
 * Returns 0 and sets *status and *body (malloc'd, NUL-terminated, caller
 * frees; "" for an empty body) once a complete response has been read;
 * returns -1 (with a one-line reason on stderr, *body NULL, *status 0) if the
 * connection failed or timed out. Understands Content-Length, chunked, and
 * read-until-close bodies.
 */
int http_get(const char *host, int port, const char *path, const char *headers_or_NULL,
	     int timeout_ms, int *status, char **body);

/*
 * Send len raw bytes (any request, well-formed or not) to host:port and read
 * one HTTP response into *reply (which the caller frees with
 * http_reply_free). Returns 0 if a response head arrived (reply->status set,
 * even if its body was cut short), -1 otherwise with reply->error set.
 */
int http_request(const char *host, int port, const void *request, size_t len,
		 int timeout_ms, http_reply *reply);

/* http_get over TLS (https) when tls_ca_or_NULL names a PEM file of
 * trusted certificates: the server's certificate must chain to one of them
 * and name host (an IP literal: as an IP SAN). NULL: plain http_get. A
 * failed handshake is a failed connection (-1, reason on stderr). */
int http_get_tls(const char *host, int port, const char *tls_ca_or_NULL, const char *path,
		 const char *headers_or_NULL, int timeout_ms, int *status, char **body);

/* http_request, over TLS as for http_get_tls when tls_ca_or_NULL is set;
 * a failed handshake is -1 with the reason in reply->error. */
int http_request_tls(const char *host, int port, const char *tls_ca_or_NULL,
		     const void *request, size_t len, int timeout_ms, http_reply *reply);

/* ---- connecting ---- */

/* Options of ws_connect_ex. Zero-initialise, then set what you need. */
typedef struct ws_opts {
	const char *subprotocol;   /* Sec-WebSocket-Protocol to offer
				    * (e.g. "room.v1", or a list "a, b"), or NULL */
	const char *extra_headers; /* more request header lines, as for
				    * http_get, or NULL */
	int timeout_ms;		   /* TCP connect + handshake; 0: 5000 */
	const char *bind_addr;	   /* IPv4 source address to connect from
				    * (e.g. "127.0.0.2", still loopback), or
				    * NULL for the kernel's choice */
	size_t max_message;	   /* longest message ws_recv accepts; longer
				    * is WS_ERROR. 0: 64 MiB */
	const char *tls_ca;	   /* wss://: a PEM file of trusted
				    * certificates (as for http_get_tls);
				    * NULL: plain ws:// */
	bool manual_control;	   /* false: answer pings with pongs and echo
				    * a close frame automatically. true: return
				    * pings to the caller (WS_MSG, WS_OP_PING)
				    * and answer nothing - to test heartbeat
				    * timeouts and close handshakes. */
} ws_opts;

/*
 * Open ws://host:port<path_and_query> (path_and_query starts with '/'), or
 * wss:// when opts->tls_ca is set (a failed TLS handshake is status 0 with
 * the reason in reply->error).
 * Returns the connection once the server answered 101 with a correct
 * Sec-WebSocket-Accept (and, if it named one, a subprotocol that was
 * offered). Otherwise returns NULL and, if reply is not NULL, fills it: the
 * HTTP status and body of a refusal (status 400, 401, 403, 404, ...), or
 * status 0 and the reason in reply->error if there was no usable answer
 * (caller frees reply with http_reply_free in both cases; on success reply
 * holds the 101 head). If reply is NULL the reason is printed on stderr.
 * Bytes the server sent right after its 101 (e.g. a welcome message) are kept
 * for ws_recv.
 */
struct ws *ws_connect_ex(const char *host, int port, const char *path_and_query,
			 const ws_opts *opts_or_NULL, http_reply *reply);

/* ws_connect_ex with just a subprotocol and a timeout; the reason of a
 * failure is printed on stderr. */
struct ws *ws_connect(const char *host, int port, const char *path_and_query,
		      const char *subprotocol_or_NULL, int timeout_ms);

/*
 * Attempt an upgrade only to learn the server's answer: returns the HTTP
 * status (101 when it was accepted; the connection is then dropped at once),
 * or 0 if no HTTP answer came (reason on stderr). If body is not NULL it gets
 * the response body (malloc'd, caller frees; NULL when the status is 0).
 */
int ws_connect_status(const char *host, int port, const char *path_and_query,
		      const char *subprotocol_or_NULL, int timeout_ms, char **body);

/* ---- sending ---- */
/* Each returns 0 once every byte is written, or -1 on a socket error or a
 * send timeout (ws_set_send_timeout; default 5000 ms) with ws_error() set.
 * A failed send does not change the ws_recv state. */

/* One unfragmented, masked text frame. The bytes are sent as given: they need
 * not be UTF-8 or JSON (that is the point of some tests). */
int ws_send_text(struct ws *ws, const char *s, size_t len);
/* ws_send_text of a formatted string. */
int ws_send_textf(struct ws *ws, const char *fmt, ...) RK_PRINTF(2, 3);
/* ws_send_text of cJSON_PrintUnformatted(json). */
int ws_send_json(struct ws *ws, const cJSON *json);
/* One masked frame with any opcode (0..15, invalid ones included) and the FIN
 * bit as given: for fragments, control frames, and broken frames. */
int ws_send_frame(struct ws *ws, int opcode, bool fin, const void *payload, size_t len);
/* Bytes with no framing at all (e.g. half a frame, an unmasked frame built
 * with ws_frame_build, or garbage). */
int ws_send_raw(struct ws *ws, const void *bytes, size_t len);
/* Limit how long a send may block (ms, > 0) while the server does not read. */
void ws_set_send_timeout(struct ws *ws, int timeout_ms);

/*
 * Append one frame to out: first_byte is FIN/RSV bits | opcode, sent as is;
 * the length uses the minimal encoding; masked adds a random masking key and
 * masks the payload. Builds what ws_send_frame sends, for tests that need to
 * split, corrupt or concatenate frames before ws_send_raw. Failures (out of
 * memory, out's cap) leave out failed, as every rk_buf append.
 */
void ws_frame_build(rk_buf *out, unsigned first_byte, bool masked, const void *payload,
		    size_t len);

/* ---- receiving ---- */

/*
 * Wait up to timeout_ms for the next complete message. On WS_MSG, *opcode is
 * WS_OP_TEXT, WS_OP_BINARY, WS_OP_PONG (or WS_OP_PING with manual_control),
 * and *data / *len the reassembled payload: owned by ws, NUL-terminated,
 * valid until the next receive, ws_close or ws_free. Fragments are
 * reassembled; pings are answered (unless manual_control) and not returned.
 * On WS_CLOSED the close frame is echoed (unless manual_control) and its code
 * and reason are in ws_close_code/ws_close_reason. Any out-pointer may be
 * NULL; on any result other than WS_MSG they are set to 0 / NULL.
 */
ws_result ws_recv(struct ws *ws, int timeout_ms, int *opcode, const char **data,
		  size_t *len);

/*
 * The next message as parsed JSON (caller frees with cJSON_Delete), pongs
 * skipped. Returns NULL if no message came in time, the connection closed,
 * the message was binary, or it was not valid JSON (rk_json_parse rules);
 * ws_last_result and ws_error tell which (invalid JSON and binary messages
 * report WS_ERROR without ending the connection).
 */
cJSON *ws_recv_json(struct ws *ws, int timeout_ms);

/*
 * Receive until a JSON message whose "t" is t arrives, discarding the others
 * (e.g. presence or cursor traffic); timeout_ms bounds the whole wait.
 * Returns it (caller frees) or NULL as for ws_recv_json.
 */
cJSON *ws_recv_type(struct ws *ws, const char *t, int timeout_ms);

/* ---- state ---- */

/* The result of the last receive (WS_MSG before any). */
ws_result ws_last_result(const struct ws *ws);
/* The code of the server's close frame: 1005 if it carried none, 0 if no
 * close frame arrived. */
int ws_close_code(const struct ws *ws);
/* The reason text of the server's close frame ("" if none). */
const char *ws_close_reason(const struct ws *ws);
/* A description of the last error or failed send ("" if none). */
const char *ws_error(const struct ws *ws);
/* The subprotocol the server selected ("" if none). */
const char *ws_subprotocol(const struct ws *ws);
/* The socket, for tests that poll, shutdown or set options themselves.
 * Over TLS it carries records: bytes may wait decrypted inside the
 * session with the socket not readable, so poll it only on plain ws. */
int ws_fd(const struct ws *ws);

/* ---- closing ---- */

/*
 * The closing handshake: send a close frame (with code if code > 0, else an
 * empty one; any code, invalid ones included), then wait up to 2 s for the
 * server's close, discarding messages that arrive before it. Returns the code
 * of the server's close frame (1005 if none), or -1 if none came. If the
 * server had already closed, just returns its code. Does not free ws.
 */
int ws_close(struct ws *ws, int code);

/* Close the socket (abruptly, if no closing handshake was done: that is how
 * tests simulate a dropped client) and free everything. NULL is a no-op. */
void ws_free(struct ws *ws);

#endif
