/* wsclient.c - blocking WebSocket and HTTP/1.1 test client (see wsclient.h). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "clock.h"
#include "json.h"
#include "timescale.h"
#include "wsclient.h"

enum {
	DEFAULT_TIMEOUT_MS = 5000,
	CLOSE_WAIT_MS = 2000,	     /* ws_close: how long to wait for the echo */
	HEAD_MAX = 64 * 1024,	     /* an HTTP response head */
	BODY_MAX = 64 * 1024 * 1024, /* an HTTP response body */
	READ_CHUNK = 16 * 1024,
	CLOSE_REASON_MAX = 123, /* 125 - the 2-byte code */
};

#define DEFAULT_MAX_MESSAGE ((size_t)64 * 1024 * 1024)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* A connected socket, and its TLS session when the connection is TLS. */
typedef struct io {
	int fd;	  /* non-blocking, or -1 */
	SSL *ssl; /* NULL: plain TCP */
} io;

/* Received bytes not yet consumed: data[off..len) of buf. Shared by the HTTP
 * head/body reader and the frame parser, so bytes that arrive with the 101
 * answer are not lost. */
typedef struct inbuf {
	rk_buf buf;
	size_t off;
} inbuf;

struct ws {
	io io;
	inbuf in;    /* raw bytes from the server */
	rk_buf msg;  /* message being reassembled / last returned */
	int frag_op; /* opcode of the fragmented message in
		      * progress, or -1 */
	rk_buf ctl;  /* payload of the last returned control frame */
	size_t max_message;
	int send_timeout_ms;
	bool manual; /* ws_opts.manual_control */
	bool close_sent;
	int close_code; /* 0 until a close frame arrives */
	char close_reason[CLOSE_REASON_MAX + 1];
	ws_result last; /* result of the last receive */
	bool done;	/* last is sticky (closed, EOF, error) */
	char subprotocol[128];
	char err[200];
};

/* ---- time ---- */

/* A deadline in monotonic microseconds; -1 for none. Every timeout of this
 * file passes here, scaled by RK_TIMEOUT_SCALE (timescale.h). */
static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1
			      : rk_mono_us() + (int64_t)rt_scaled_ms(timeout_ms) * 1000;
}

/* Milliseconds left until the deadline, for poll(): -1 for none, rounded
 * up so that a wait never ends before the deadline. */
static int ms_left(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - rk_mono_us();
	if (left <= 0)
		return 0;
	left = (left + 999) / 1000;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* ---- sockets ---- */

/* Wait for events on fd until the deadline. 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, ms_left(deadline));
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int tcp_connect(const char *host, int port, const char *bind_addr,
		       int64_t deadline, char *err, size_t errlen)
{
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "resolve %s: %s", host, gai_strerror(gai));
		return -1;
	}
	int fd = -1;
	snprintf(err, errlen, "connect %s:%d: no address", host, port);
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (bind_addr && ai->ai_family == AF_INET) {
			struct sockaddr_in src = {.sin_family = AF_INET};
			if (inet_pton(AF_INET, bind_addr, &src.sin_addr) != 1 ||
			    bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
				snprintf(err, errlen, "bind %s: %s", bind_addr,
					 strerror(errno));
				close(fd);
				fd = -1;
				continue;
			}
		}
		int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (r != 0 && errno == EINPROGRESS) {
			r = wait_fd(fd, POLLOUT, deadline);
			if (r == 1) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				r = soerr ? -1 : 0;
				errno = soerr;
			} else {
				if (r == 0)
					errno = ETIMEDOUT;
				r = -1;
			}
		}
		if (r == 0)
			break;
		snprintf(err, errlen, "connect %s:%d: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		err[0] = '\0';
	}
	return fd;
}

/* Wait until the TLS session can go on after SSL_ERROR_WANT_*: 1 ready,
 * 0 timeout (errno ETIMEDOUT), -1 error. */
static int tls_wait(io *c, int ssl_err, int64_t deadline)
{
	int r =
	    wait_fd(c->fd, ssl_err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline);
	if (r == 0)
		errno = ETIMEDOUT;
	return r;
}

/* Write all n bytes before the deadline. 0, or -1 with errno set. */
static int send_all(io *c, const void *p, size_t n, int64_t deadline)
{
	const char *s = p;
	while (n > 0) {
		if (c->ssl) {
			/* Partial writes are enabled: w bytes went into records. */
			ERR_clear_error();
			int chunk = n > INT32_MAX ? INT32_MAX : (int)n;
			int w = SSL_write(c->ssl, s, chunk);
			if (w > 0) {
				s += w;
				n -= (size_t)w;
				continue;
			}
			int e = SSL_get_error(c->ssl, w);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				if (e != SSL_ERROR_SYSCALL || !errno)
					errno = EPIPE;
				return -1;
			}
			if (tls_wait(c, e, deadline) <= 0)
				return -1;
			continue;
		}
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w > 0) {
			s += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		int r = wait_fd(c->fd, POLLOUT, deadline);
		if (r <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

/* One read of up to n bytes into p: > 0 bytes, 0 EOF, -2 would block (wait
 * for `*want`), -1 error (errno). A TLS peer that closes without
 * close_notify is an EOF too (SSL_OP_IGNORE_UNEXPECTED_EOF). */
static ssize_t io_read(io *c, void *p, size_t n, short *want)
{
	*want = POLLIN;
	if (!c->ssl) {
		ssize_t r = recv(c->fd, p, n, 0);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return -2;
		return r;
	}
	ERR_clear_error();
	int r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		return -2;
	}
	if (e == SSL_ERROR_SYSCALL && errno == 0)
		return 0;
	if (e != SSL_ERROR_SYSCALL)
		errno = EPROTO;
	return -1;
}

/* The reason of a failed handshake: the certificate check's verdict if
 * that was it, else OpenSSL's error queue. */
static void tls_reason(SSL *ssl, char *err, size_t errlen)
{
	long v = SSL_get_verify_result(ssl);
	unsigned long e = ERR_peek_last_error();
	if (v != X509_V_OK)
		snprintf(err, errlen, "TLS handshake: certificate rejected: %s",
			 X509_verify_cert_error_string(v));
	else if (e)
		snprintf(err, errlen, "TLS handshake: %s", ERR_reason_error_string(e));
	else
		snprintf(err, errlen, "TLS handshake: connection closed (%s)",
			 errno ? strerror(errno) : "EOF");
	ERR_clear_error();
}

/*
 * Connect c to host:port; with tls_ca, also run a TLS handshake that
 * verifies the server's certificate against the PEM file tls_ca and its
 * name (an IP literal against the IP SANs) against host. 0, or -1 with err
 * set and c closed.
 */
static int io_connect(io *c, const char *host, int port, const char *bind_addr,
		      const char *tls_ca, int64_t deadline, char *err, size_t errlen)
{
	c->ssl = NULL;
	c->fd = tcp_connect(host, port, bind_addr, deadline, err, errlen);
	if (c->fd < 0 || !tls_ca)
		return c->fd < 0 ? -1 : 0;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, tls_ca, NULL) != 1) {
		snprintf(err, errlen, "TLS: cannot load CA file %s", tls_ca);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		snprintf(err, errlen, "TLS: cannot create the session");
		goto fail;
	}
	X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
		SSL_set_tlsext_host_name(c->ssl, host);
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(c->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			tls_reason(c->ssl, err, errlen);
			goto fail;
		}
		int w = tls_wait(c, e, deadline);
		if (w <= 0) {
			snprintf(err, errlen, "TLS handshake: %s",
				 w == 0 ? "timeout" : strerror(errno));
			goto fail;
		}
	}
	SSL_CTX_free(ctx); /* the session holds a reference */
	return 0;
fail:
	SSL_free(c->ssl);
	c->ssl = NULL;
	SSL_CTX_free(ctx);
	close(c->fd);
	c->fd = -1;
	return -1;
}

/* Close the socket and free the TLS session (no close_notify). */
static void io_close(io *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Read what is available into in, waiting until the deadline.
 * 1 bytes read, 0 EOF, -2 timeout, -1 error (errno). */
static int fill(io *c, inbuf *in, int64_t deadline)
{
	/* Drop consumed bytes once they dominate, so the buffer stays small. */
	if (in->off == in->buf.len) {
		rk_buf_reset(&in->buf);
		in->off = 0;
	} else if (in->off > READ_CHUNK && in->off > in->buf.len / 2) {
		memmove(in->buf.data, in->buf.data + in->off, in->buf.len - in->off);
		in->buf.len -= in->off;
		in->buf.data[in->buf.len] = '\0';
		in->off = 0;
	}
	if (rk_buf_reserve(&in->buf, READ_CHUNK) != RK_OK) {
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		short want;
		ssize_t r = io_read(c, in->buf.data + in->buf.len, READ_CHUNK, &want);
		if (r > 0) {
			in->buf.len += (size_t)r;
			in->buf.data[in->buf.len] = '\0';
			return 1;
		}
		if (r == 0)
			return 0;
		if (r == -1)
			return -1;
		int w = wait_fd(c->fd, want, deadline);
		if (w == 0)
			return -2;
		if (w < 0)
			return -1;
	}
}

static size_t in_avail(const inbuf *in)
{
	return in->buf.len - in->off;
}

static const unsigned char *in_ptr(const inbuf *in)
{
	return (const unsigned char *)in->buf.data + in->off;
}

/* ---- HTTP ---- */

void http_reply_free(http_reply *r)
{
	if (!r)
		return;
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Find header name in a "\r\n"-separated block; value and its length. */
static const char *header_find(const char *headers, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	for (const char *line = headers; line && *line;) {
		const char *eol = strstr(line, "\r\n");
		size_t llen = eol ? (size_t)(eol - line) : strlen(line);
		if (llen > nlen && line[nlen] == ':' &&
		    strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1, *end = line + llen;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			*vlen = (size_t)(end - v);
			return v;
		}
		line = eol ? eol + 2 : NULL;
	}
	return NULL;
}

bool http_reply_header(const http_reply *r, const char *name, char *out, size_t outlen)
{
	if (outlen)
		out[0] = '\0';
	size_t vlen;
	const char *v = r && r->headers ? header_find(r->headers, name, &vlen) : NULL;
	if (!v)
		return false;
	if (outlen) {
		size_t n = vlen < outlen - 1 ? vlen : outlen - 1;
		memcpy(out, v, n);
		out[n] = '\0';
	}
	return true;
}

/* True if a comma-separated header value contains token (case-insensitive). */
static bool has_token(const char *v, size_t vlen, const char *token)
{
	size_t tlen = strlen(token);
	const char *end = v + vlen;
	while (v < end) {
		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		const char *t = v;
		while (v < end && *v != ',')
			v++;
		const char *te = v;
		while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if ((size_t)(te - t) == tlen && strncasecmp(t, token, tlen) == 0)
			return true;
	}
	return false;
}

/* Read a response head ("HTTP/1.x NNN reason\r\n...\r\n\r\n") from c into
 * r->status and r->headers; the bytes after it stay in in. 0 or -1. */
static int read_head(io *c, inbuf *in, int64_t deadline, http_reply *r)
{
	const char *end;
	for (;;) {
		end =
		    in_avail(in) ? memmem(in_ptr(in), in_avail(in), "\r\n\r\n", 4) : NULL;
		if (end)
			break;
		if (in_avail(in) > HEAD_MAX) {
			snprintf(r->error, sizeof(r->error),
				 "response head over %d bytes", HEAD_MAX);
			return -1;
		}
		int f = fill(c, in, deadline);
		if (f <= 0) {
			snprintf(r->error, sizeof(r->error), "reading response head: %s",
				 f == 0	   ? "connection closed"
				 : f == -2 ? "timeout"
					   : strerror(errno));
			return -1;
		}
	}
	const char *head = (const char *)in_ptr(in);
	size_t head_len = (size_t)(end - head) + 4;
	int status = 0;
	char sp = 0;
	if (strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' ||
	    sscanf(head + 9, "%3d%c", &status, &sp) < 1 || status < 100 || status > 999 ||
	    (sp != ' ' && sp != '\r')) {
		snprintf(r->error, sizeof(r->error), "bad status line: %.40s", head);
		return -1;
	}
	const char *hdrs = (const char *)memmem(head, head_len, "\r\n", 2) + 2;
	size_t hlen = (size_t)(end + 2 - hdrs); /* keep the last line's CRLF */
	r->headers = malloc(hlen + 1);
	if (!r->headers) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		return -1;
	}
	memcpy(r->headers, hdrs, hlen);
	r->headers[hlen] = '\0';
	r->status = status;
	in->off += head_len;
	return 0;
}

/* Move n bytes from the connection to out (NULL: discard them). NULL, or
 * why it failed. */
static const char *read_n(io *c, inbuf *in, int64_t deadline, rk_buf *out, size_t n)
{
	for (;;) {
		size_t k = in_avail(in) < n ? in_avail(in) : n;
		if (out && k)
			rk_buf_put(out, in_ptr(in), k);
		in->off += k;
		n -= k;
		if (n == 0)
			return NULL;
		int f = fill(c, in, deadline);
		if (f <= 0)
			return f == -2 ? "timeout in body" : "body cut short";
	}
}

/* Read a chunked body (RFC 9112 7.1) into out. NULL, or why it failed. */
static const char *read_chunked(io *c, inbuf *in, int64_t deadline, rk_buf *out)
{
	for (;;) {
		/* chunk-size [; ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF */
		const char *eol;
		while (!(eol = in_avail(in) ? memmem(in_ptr(in), in_avail(in), "\r\n", 2)
					    : NULL)) {
			if (in_avail(in) > 1024)
				return "bad chunk size line";
			int f = fill(c, in, deadline);
			if (f <= 0)
				return f == -2 ? "timeout in body" : "body cut short";
		}
		const char *line = (const char *)in_ptr(in);
		char *e;
		unsigned long long sz = strtoull(line, &e, 16);
		if (e == line || sz > BODY_MAX)
			return "bad chunk size";
		in->off += (size_t)(eol - line) + 2;
		if (sz == 0)
			return NULL; /* trailers are not needed: Connection: close */
		const char *why = read_n(c, in, deadline, out, (size_t)sz);
		if (!why)
			why = read_n(c, in, deadline, NULL, 2); /* the chunk's CRLF */
		if (why)
			return why;
	}
}

/* Read the body that follows a head already in r: by chunks, by
 * Content-Length, or until the server closes. 0, or -1 with r->error set
 * (the body read so far is kept). r->body is never NULL afterwards. */
static int read_body(io *c, inbuf *in, int64_t deadline, http_reply *r)
{
	rk_buf body;
	rk_buf_init(&body, BODY_MAX);
	char v[64];
	const char *why = NULL;
	if ((r->status >= 100 && r->status < 200) || r->status == 204 ||
	    r->status == 304) {
		/* no body */
	} else if (http_reply_header(r, "Transfer-Encoding", v, sizeof(v)) &&
		   has_token(v, strlen(v), "chunked")) {
		why = read_chunked(c, in, deadline, &body);
	} else if (http_reply_header(r, "Content-Length", v, sizeof(v))) {
		char *e;
		unsigned long long n = strtoull(v, &e, 10);
		why = e == v || *e || n > BODY_MAX
			  ? "bad Content-Length"
			  : read_n(c, in, deadline, &body, (size_t)n);
	} else {
		for (;;) {
			(void)read_n(c, in, deadline, &body, in_avail(in));
			int f = fill(c, in, deadline);
			if (f == 0)
				break;
			if (f < 0) {
				why = f == -2 ? "timeout in body" : "body cut short";
				break;
			}
		}
	}
	if (!why && rk_buf_ok(&body) != RK_OK)
		why = "body too large";
	if (why)
		snprintf(r->error, sizeof(r->error), "%s", why);
	r->body = rk_buf_steal(&body, &r->body_len);
	if (!r->body) {
		r->body = calloc(1, 1);
		r->body_len = 0;
	}
	rk_buf_free(&body);
	return why ? -1 : 0;
}

int http_request_tls(const char *host, int port, const char *tls_ca_or_NULL,
		     const void *request, size_t len, int timeout_ms, http_reply *reply)
{
	memset(reply, 0, sizeof(*reply));
	int64_t deadline = deadline_after(timeout_ms);
	io c;
	if (io_connect(&c, host, port, NULL, tls_ca_or_NULL, deadline, reply->error,
		       sizeof(reply->error)) != 0)
		return -1;
	inbuf in = {.off = 0};
	rk_buf_init(&in.buf, 0);
	int rc = -1;
	if (send_all(&c, request, len, deadline) != 0) {
		snprintf(reply->error, sizeof(reply->error), "send: %s", strerror(errno));
	} else if (read_head(&c, &in, deadline, reply) == 0) {
		read_body(&c, &in, deadline, reply);
		rc = 0;
	}
	rk_buf_free(&in.buf);
	io_close(&c);
	return rc;
}

int http_request(const char *host, int port, const void *request, size_t len,
		 int timeout_ms, http_reply *reply)
{
	return http_request_tls(host, port, NULL, request, len, timeout_ms, reply);
}

/* Append extra header lines, adding the final CRLF if missing. */
static void put_extra_headers(rk_buf *b, const char *h)
{
	if (!h || !*h)
		return;
	rk_buf_puts(b, h);
	size_t n = strlen(h);
	if (n < 2 || strcmp(h + n - 2, "\r\n") != 0)
		rk_buf_puts(b, "\r\n");
}

int http_get_tls(const char *host, int port, const char *tls_ca_or_NULL, const char *path,
		 const char *headers_or_NULL, int timeout_ms, int *status, char **body)
{
	*status = 0;
	*body = NULL;
	rk_buf req;
	rk_buf_init(&req, 0);
	rk_buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n",
		      path, host, port);
	put_extra_headers(&req, headers_or_NULL);
	rk_buf_puts(&req, "\r\n");
	http_reply r;
	int rc = http_request_tls(host, port, tls_ca_or_NULL, req.data, req.len,
				  timeout_ms, &r);
	rk_buf_free(&req);
	if (rc == 0 && r.error[0] == '\0') {
		*status = r.status;
		*body = r.body;
		r.body = NULL;
	} else {
		fprintf(stderr, "http_get %s%s:%d%s: %s\n",
			tls_ca_or_NULL ? "(TLS) " : "", host, port, path, r.error);
		rc = -1;
	}
	http_reply_free(&r);
	return rc;
}

int http_get(const char *host, int port, const char *path, const char *headers_or_NULL,
	     int timeout_ms, int *status, char **body)
{
	return http_get_tls(host, port, NULL, path, headers_or_NULL, timeout_ms, status,
			    body);
}

/* ---- frames ---- */

void ws_frame_build(rk_buf *out, unsigned first_byte, bool masked, const void *payload,
		    size_t len)
{
	unsigned char h[14];
	size_t hl = 0;
	h[hl++] = (unsigned char)first_byte;
	unsigned char m = masked ? 0x80 : 0;
	if (len < 126) {
		h[hl++] = m | (unsigned char)len;
	} else if (len <= 0xffff) {
		h[hl++] = m | 126;
		h[hl++] = (unsigned char)(len >> 8);
		h[hl++] = (unsigned char)len;
	} else {
		h[hl++] = m | 127;
		for (int i = 7; i >= 0; i--)
			h[hl++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	unsigned char key[4] = {0, 0, 0, 0};
	if (masked) {
		if (RAND_bytes(key, sizeof(key)) != 1) {
			out->failed = true;
			return;
		}
		memcpy(h + hl, key, 4);
		hl += 4;
	}
	if (rk_buf_reserve(out, hl + len) != RK_OK)
		return;
	rk_buf_put(out, h, hl);
	unsigned char *dst = (unsigned char *)out->data + out->len;
	const unsigned char *src = payload;
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] ^ key[i & 3];
	out->len += len;
	out->data[out->len] = '\0';
}

static void set_err(struct ws *ws, const char *fmt, ...) RK_PRINTF(2, 3);
static void set_err(struct ws *ws, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ws->err, sizeof(ws->err), fmt, ap);
	va_end(ap);
}

int ws_send_raw(struct ws *ws, const void *bytes, size_t len)
{
	if (send_all(&ws->io, bytes, len, deadline_after(ws->send_timeout_ms)) != 0) {
		set_err(ws, "send: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int ws_send_frame(struct ws *ws, int opcode, bool fin, const void *payload, size_t len)
{
	rk_buf f;
	rk_buf_init(&f, 0);
	ws_frame_build(&f, (fin ? WS_FIN : 0) | ((unsigned)opcode & 0x0f), true, payload,
		       len);
	int rc = -1;
	if (rk_buf_ok(&f) != RK_OK)
		set_err(ws, "send: out of memory");
	else
		rc = ws_send_raw(ws, f.data, f.len);
	rk_buf_free(&f);
	if (rc == 0 && opcode == WS_OP_CLOSE)
		ws->close_sent = true;
	return rc;
}

int ws_send_text(struct ws *ws, const char *s, size_t len)
{
	return ws_send_frame(ws, WS_OP_TEXT, true, s, len);
}

int ws_send_textf(struct ws *ws, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		set_err(ws, "send: out of memory");
		return -1;
	}
	int rc = ws_send_text(ws, s, (size_t)n);
	free(s);
	return rc;
}

int ws_send_json(struct ws *ws, const cJSON *json)
{
	char *s = cJSON_PrintUnformatted(json);
	if (!s) {
		set_err(ws, "send: cannot print JSON");
		return -1;
	}
	int rc = ws_send_text(ws, s, strlen(s));
	cJSON_free(s);
	return rc;
}

void ws_set_send_timeout(struct ws *ws, int timeout_ms)
{
	ws->send_timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
}

/* Close codes a server may put on the wire (RFC 6455 7.4, IANA registry). */
static bool close_code_valid(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

/* Finish a receive with a sticky result. */
static ws_result finish(struct ws *ws, ws_result r)
{
	ws->last = r;
	ws->done = r == WS_CLOSED || r == WS_EOF || r == WS_ERROR;
	return r;
}

/* The server broke the protocol (or the socket failed): WS_ERROR, sticky. */
static ws_result fail_with(struct ws *ws, const char *fmt, ...) RK_PRINTF(2, 3);
static ws_result fail_with(struct ws *ws, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ws->err, sizeof(ws->err), fmt, ap);
	va_end(ap);
	return finish(ws, WS_ERROR);
}

/* Handle a close frame's payload: record it, echo it. */
static ws_result on_close(struct ws *ws, const unsigned char *p, size_t n)
{
	if (n == 1)
		return fail_with(ws, "close frame with a 1-byte payload");
	int code = n >= 2 ? p[0] << 8 | p[1] : 1005;
	if (n >= 2 && !close_code_valid(code))
		return fail_with(ws, "server sent invalid close code %d", code);
	if (n >= 2 && !rk_utf8_valid((const char *)p + 2, n - 2))
		return fail_with(ws, "close reason is not UTF-8");
	ws->close_code = code;
	if (n > 2)
		memcpy(ws->close_reason, p + 2, n - 2); /* n <= 125 */
	ws->close_reason[n > 2 ? n - 2 : 0] = '\0';
	/* Echo the code (RFC 6455 5.5.1); the server then ends the TCP stream. */
	if (!ws->manual && !ws->close_sent)
		(void)ws_send_frame(ws, WS_OP_CLOSE, true, p, n >= 2 ? 2 : 0);
	return finish(ws, WS_CLOSED);
}

/*
 * Parse one frame from the input. Returns WS_MSG with *complete = true when
 * a message or returned control frame is ready (in ws->msg or ws->ctl with
 * *op set), WS_MSG with *complete = false when the frame was consumed but
 * nothing is ready (a fragment, an answered ping), WS_TIMEOUT when the frame
 * is not complete yet, or a final result.
 */
static ws_result parse_frame(struct ws *ws, bool *complete, int *op)
{
	*complete = false;
	size_t avail = in_avail(&ws->in);
	if (avail < 2)
		return WS_TIMEOUT;
	const unsigned char *p = in_ptr(&ws->in);
	bool fin = p[0] & 0x80;
	int opcode = p[0] & 0x0f;
	size_t hl = 2;
	uint64_t len = p[1] & 0x7f;
	if (p[0] & 0x70)
		return fail_with(ws, "RSV bits set (no extension was negotiated)");
	if (p[1] & 0x80)
		return fail_with(ws, "server frame is masked");
	if (len == 126) {
		if (avail < 4)
			return WS_TIMEOUT;
		len = (uint64_t)p[2] << 8 | p[3];
		hl = 4;
		if (len < 126)
			return fail_with(ws, "non-minimal 16-bit length");
	} else if (len == 127) {
		if (avail < 10)
			return WS_TIMEOUT;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		hl = 10;
		if (len <= 0xffff || len >> 63)
			return fail_with(ws, "non-minimal or oversized 64-bit length");
	}
	bool control = opcode & 0x8;
	if (opcode != WS_OP_CONT && opcode != WS_OP_TEXT && opcode != WS_OP_BINARY &&
	    opcode != WS_OP_CLOSE && opcode != WS_OP_PING && opcode != WS_OP_PONG)
		return fail_with(ws, "reserved opcode 0x%x", opcode);
	if (control && (!fin || len > 125))
		return fail_with(ws, "fragmented or long control frame");
	size_t have = opcode == WS_OP_CONT ? ws->msg.len : 0;
	if (!control && len > ws->max_message - have)
		return fail_with(ws, "message over %zu bytes", ws->max_message);
	if (avail - hl < len)
		return WS_TIMEOUT;
	const unsigned char *payload = p + hl;
	size_t n = (size_t)len;
	ws->in.off += hl + n; /* the bytes stay valid until the next fill */

	switch (opcode) {
	case WS_OP_CLOSE:
		return on_close(ws, payload, n);
	case WS_OP_PING:
		if (!ws->manual) {
			if (!ws->close_sent &&
			    ws_send_frame(ws, WS_OP_PONG, true, payload, n))
				return finish(ws, WS_ERROR);
			return WS_MSG;
		}
		/* With manual_control the ping is returned like a pong. */
		__attribute__((fallthrough));
	case WS_OP_PONG:
		rk_buf_reset(&ws->ctl);
		rk_buf_put(&ws->ctl, payload, n);
		*op = opcode;
		*complete = true;
		return WS_MSG;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (ws->frag_op >= 0)
			return fail_with(ws, "new message inside a fragmented one");
		rk_buf_reset(&ws->msg);
		ws->frag_op = opcode;
		break;
	case WS_OP_CONT:
		if (ws->frag_op < 0)
			return fail_with(ws, "continuation frame outside a message");
		break;
	}
	rk_buf_put(&ws->msg, payload, n);
	if (rk_buf_ok(&ws->msg) != RK_OK)
		return fail_with(ws, "out of memory");
	if (!fin)
		return WS_MSG;
	*op = ws->frag_op;
	ws->frag_op = -1;
	if (*op == WS_OP_TEXT && !rk_utf8_valid(ws->msg.data, ws->msg.len))
		return fail_with(ws, "text message is not valid UTF-8");
	*complete = true;
	return WS_MSG;
}

/* ws_recv with an absolute deadline (deadline_after), so that callers that
 * loop over it scale their timeout once. */
static ws_result recv_until(struct ws *ws, int64_t deadline, int *opcode,
			    const char **data, size_t *len)
{
	int op_s;
	const char *data_s;
	size_t len_s;
	opcode = opcode ? opcode : &op_s;
	data = data ? data : &data_s;
	len = len ? len : &len_s;
	*opcode = 0;
	*data = NULL;
	*len = 0;
	if (ws->done)
		return ws->last;
	for (;;) {
		bool complete;
		int op = 0;
		ws_result r = parse_frame(ws, &complete, &op);
		if (r == WS_MSG && complete) {
			const rk_buf *b = (op & 0x8) ? &ws->ctl : &ws->msg;
			*opcode = op;
			*data = b->data ? b->data : ""; /* an empty message */
			*len = b->len;
			return finish(ws, WS_MSG);
		}
		if (r == WS_MSG)
			continue;
		if (r != WS_TIMEOUT)
			return r;
		int f = fill(&ws->io, &ws->in, deadline);
		if (f == 0) {
			set_err(ws, "connection closed without a close frame");
			return finish(ws, WS_EOF);
		}
		if (f == -2)
			return finish(ws, WS_TIMEOUT);
		if (f < 0)
			return fail_with(ws, "recv: %s", strerror(errno));
	}
}

ws_result ws_recv(struct ws *ws, int timeout_ms, int *opcode, const char **data,
		  size_t *len)
{
	return recv_until(ws, deadline_after(timeout_ms), opcode, data, len);
}

static cJSON *recv_json_until(struct ws *ws, int64_t deadline)
{
	for (;;) {
		int op;
		const char *data;
		size_t len;
		ws_result r = recv_until(ws, deadline, &op, &data, &len);
		if (r != WS_MSG)
			return NULL;
		if (op == WS_OP_PONG)
			continue;
		if (op != WS_OP_TEXT) {
			set_err(ws, "expected a text message, got opcode 0x%x", op);
			ws->last = WS_ERROR;
			return NULL;
		}
		char err[128];
		cJSON *j =
		    rk_json_parse(data, len, len, RK_JSON_DEPTH_MAX, err, sizeof(err));
		if (!j) {
			set_err(ws, "server sent bad JSON (%s): %.60s", err, data);
			ws->last = WS_ERROR;
		}
		return j;
	}
}

cJSON *ws_recv_json(struct ws *ws, int timeout_ms)
{
	return recv_json_until(ws, deadline_after(timeout_ms));
}

cJSON *ws_recv_type(struct ws *ws, const char *t, int timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms);
	for (;;) {
		cJSON *j = recv_json_until(ws, deadline);
		if (!j)
			return NULL;
		const cJSON *jt = cJSON_GetObjectItemCaseSensitive(j, "t");
		if (cJSON_IsString(jt) && strcmp(jt->valuestring, t) == 0)
			return j;
		cJSON_Delete(j);
	}
}

/* ---- connecting ---- */

/* base64 (standard alphabet, padded) of n bytes into out (4 * ceil(n/3) + 1). */
static void b64std(const unsigned char *p, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

/* True if the subprotocol the server chose is one of those offered. */
static bool offered(const char *offer, const char *chosen, size_t clen)
{
	if (!offer)
		return false;
	char tok[128];
	if (clen >= sizeof(tok))
		return false;
	memcpy(tok, chosen, clen);
	tok[clen] = '\0';
	/* Subprotocol names are case-sensitive tokens. */
	const char *s = offer;
	while (*s) {
		while (*s == ' ' || *s == ',')
			s++;
		size_t k = strcspn(s, ", ");
		if (k == clen && strncmp(s, tok, k) == 0)
			return true;
		s += k;
	}
	return false;
}

struct ws *ws_connect_ex(const char *host, int port, const char *path_and_query,
			 const ws_opts *opts_or_NULL, http_reply *reply)
{
	ws_opts opts = opts_or_NULL ? *opts_or_NULL : (ws_opts){0};
	http_reply local;
	http_reply *r = reply ? reply : &local;
	memset(r, 0, sizeof(*r));
	int64_t deadline =
	    deadline_after(opts.timeout_ms > 0 ? opts.timeout_ms : DEFAULT_TIMEOUT_MS);
	struct ws *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		goto fail;
	}
	w->io.fd = -1;
	w->frag_op = -1;
	w->max_message = opts.max_message ? opts.max_message : DEFAULT_MAX_MESSAGE;
	w->send_timeout_ms = DEFAULT_TIMEOUT_MS;
	w->manual = opts.manual_control;
	w->last = WS_MSG;
	rk_buf_init(&w->in.buf, 0);
	rk_buf_init(&w->msg, 0);
	rk_buf_init(&w->ctl, 0);

	if (io_connect(&w->io, host, port, opts.bind_addr, opts.tls_ca, deadline,
		       r->error, sizeof(r->error)) != 0)
		goto fail;

	unsigned char nonce[16];
	char key[32], accept_want[32];
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		snprintf(r->error, sizeof(r->error), "RAND_bytes failed");
		goto fail;
	}
	b64std(nonce, sizeof(nonce), key);
	{
		char cat[64];
		unsigned char sha[EVP_MAX_MD_SIZE];
		unsigned int shalen = 0;
		int n = snprintf(cat, sizeof(cat), "%s" WS_GUID, key);
		if (!EVP_Digest(cat, (size_t)n, sha, &shalen, EVP_sha1(), NULL)) {
			snprintf(r->error, sizeof(r->error), "SHA-1 failed");
			goto fail;
		}
		b64std(sha, shalen, accept_want);
	}

	rk_buf req;
	rk_buf_init(&req, 0);
	rk_buf_printf(&req,
		      "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
		      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		      "Sec-WebSocket-Version: 13\r\n",
		      path_and_query, host, port, key);
	if (opts.subprotocol)
		rk_buf_printf(&req, "Sec-WebSocket-Protocol: %s\r\n", opts.subprotocol);
	put_extra_headers(&req, opts.extra_headers);
	rk_buf_puts(&req, "\r\n");
	errno = ENOMEM;
	int sent =
	    rk_buf_ok(&req) == RK_OK ? send_all(&w->io, req.data, req.len, deadline) : -1;
	rk_buf_free(&req);
	if (sent != 0) {
		snprintf(r->error, sizeof(r->error), "sending upgrade: %s",
			 strerror(errno));
		goto fail;
	}
	if (read_head(&w->io, &w->in, deadline, r) != 0)
		goto fail;
	if (r->status != 101) {
		read_body(&w->io, &w->in, deadline, r);
		snprintf(r->error, sizeof(r->error), "upgrade refused: HTTP %d",
			 r->status);
		goto fail;
	}
	r->body = calloc(1, 1);

	size_t vlen;
	const char *v = header_find(r->headers, "Upgrade", &vlen);
	if (!v || !has_token(v, vlen, "websocket")) {
		snprintf(r->error, sizeof(r->error), "101 without Upgrade: websocket");
		goto fail;
	}
	v = header_find(r->headers, "Connection", &vlen);
	if (!v || !has_token(v, vlen, "upgrade")) {
		snprintf(r->error, sizeof(r->error), "101 without Connection: Upgrade");
		goto fail;
	}
	v = header_find(r->headers, "Sec-WebSocket-Accept", &vlen);
	if (!v || vlen != strlen(accept_want) || memcmp(v, accept_want, vlen) != 0) {
		snprintf(r->error, sizeof(r->error), "bad Sec-WebSocket-Accept");
		goto fail;
	}
	v = header_find(r->headers, "Sec-WebSocket-Protocol", &vlen);
	if (v) {
		if (!offered(opts.subprotocol, v, vlen)) {
			snprintf(r->error, sizeof(r->error),
				 "server chose subprotocol \"%.*s\" that was not offered",
				 (int)(vlen < 60 ? vlen : 60), v);
			goto fail;
		}
		memcpy(w->subprotocol, v, vlen); /* < 128: offered() checked */
		w->subprotocol[vlen] = '\0';
	}
	if (!reply)
		http_reply_free(r);
	return w;

fail:
	if (!reply) {
		fprintf(stderr, "ws_connect %s:%d%s: %s\n", host, port, path_and_query,
			r->error);
		http_reply_free(r);
	}
	ws_free(w);
	return NULL;
}

struct ws *ws_connect(const char *host, int port, const char *path_and_query,
		      const char *subprotocol_or_NULL, int timeout_ms)
{
	ws_opts o = {.subprotocol = subprotocol_or_NULL, .timeout_ms = timeout_ms};
	return ws_connect_ex(host, port, path_and_query, &o, NULL);
}

int ws_connect_status(const char *host, int port, const char *path_and_query,
		      const char *subprotocol_or_NULL, int timeout_ms, char **body)
{
	ws_opts o = {.subprotocol = subprotocol_or_NULL, .timeout_ms = timeout_ms};
	http_reply r;
	struct ws *w = ws_connect_ex(host, port, path_and_query, &o, &r);
	int status = w ? 101 : r.status;
	if (!w && status == 0)
		fprintf(stderr, "ws_connect_status %s:%d%s: %s\n", host, port,
			path_and_query, r.error);
	if (body) {
		*body = status ? r.body : NULL;
		if (status)
			r.body = NULL;
	}
	http_reply_free(&r);
	ws_free(w);
	return status;
}

/* ---- state and closing ---- */

ws_result ws_last_result(const struct ws *ws)
{
	return ws->last;
}

int ws_close_code(const struct ws *ws)
{
	return ws->close_code;
}

const char *ws_close_reason(const struct ws *ws)
{
	return ws->close_reason;
}

const char *ws_error(const struct ws *ws)
{
	return ws->err;
}

const char *ws_subprotocol(const struct ws *ws)
{
	return ws->subprotocol;
}

int ws_fd(const struct ws *ws)
{
	return ws->io.fd;
}

int ws_close(struct ws *ws, int code)
{
	if (ws->close_code)
		return ws->close_code;
	if (ws->done)
		return -1;
	if (!ws->close_sent) {
		unsigned char p[2] = {(unsigned char)(code >> 8), (unsigned char)code};
		if (ws_send_frame(ws, WS_OP_CLOSE, true, p, code > 0 ? 2 : 0) != 0)
			return -1;
	}
	int64_t deadline = deadline_after(CLOSE_WAIT_MS);
	for (;;) {
		ws_result r = recv_until(ws, deadline, NULL, NULL, NULL);
		if (r == WS_CLOSED)
			return ws->close_code;
		if (r != WS_MSG)
			return -1;
	}
}

void ws_free(struct ws *ws)
{
	if (!ws)
		return;
	io_close(&ws->io);
	rk_buf_free(&ws->in.buf);
	rk_buf_free(&ws->msg);
	rk_buf_free(&ws->ctl);
	free(ws);
}
