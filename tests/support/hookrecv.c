/* hookrecv.c - the test webhook receiver (see hookrecv.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "hookrecv.h"

#define MAX_HUNG 64
#define MAX_REQ (1 << 20)

typedef struct rec {
	char *body;
	char *sig;
} rec;

struct hookrecv {
	pthread_t thr;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int lfd;
	int port;
	bool stop;    /* (mu) */
	hr_mode mode; /* (mu) */
	rec *ok;      /* (mu) requests answered 2xx */
	size_t nok, capok;
	size_t seen; /* (mu) */
	int hung[MAX_HUNG];
	size_t nhung;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read one request from fd (2 s at most): headers then Content-Length
 * bytes. Returns the whole request (NUL-terminated) or NULL. */
static char *read_request(int fd, size_t *hdr_len, size_t *body_len)
{
	size_t cap = 16384;
	char *buf = malloc(cap + 1);
	size_t n = 0;
	int64_t end = now_ms() + 2000;
	while (buf && n < MAX_REQ) {
		if (n == cap) {
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb)
				break;
			buf = nb;
		}
		buf[n] = '\0';
		char *sep = strstr(buf, "\r\n\r\n");
		if (sep) {
			size_t hl = (size_t)(sep - buf) + 4;
			size_t cl = 0;
			for (char *p = buf; p < sep; p = strstr(p, "\r\n") + 2) {
				if (strncasecmp(p, "content-length:", 15) == 0)
					cl = strtoul(p + 15, NULL, 10);
				if (!strstr(p, "\r\n"))
					break;
			}
			if (n >= hl + cl) {
				*hdr_len = hl;
				*body_len = cl;
				return buf;
			}
		}
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int left = (int)(end - now_ms());
		if (left <= 0 || poll(&pf, 1, left) <= 0)
			break;
		ssize_t r = read(fd, buf + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	free(buf);
	return NULL;
}

static char *header_value(const char *req, size_t hdr_len, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = req; p && p < req + hdr_len; p = strstr(p, "\r\n")) {
		if (*p == '\r')
			p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			return strndup(v, strcspn(v, "\r\n"));
		}
	}
	return strdup("");
}

static void close_hung(hookrecv *h)
{
	for (size_t i = 0; i < h->nhung; i++)
		close(h->hung[i]);
	h->nhung = 0;
}

static void serve(hookrecv *h, int fd)
{
	size_t hl = 0, bl = 0;
	char *req = read_request(fd, &hl, &bl);
	if (!req) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&h->mu);
	hr_mode mode = h->mode;
	h->seen++;
	pthread_cond_broadcast(&h->cv);
	if (mode == HR_OK) {
		if (h->nok == h->capok) {
			h->capok = h->capok ? h->capok * 2 : 64;
			h->ok = realloc(h->ok, h->capok * sizeof(*h->ok));
		}
		h->ok[h->nok].body = strndup(req + hl, bl);
		h->ok[h->nok].sig = header_value(req, hl, "Roomkit-Signature");
		h->nok++;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	free(req);
	if (mode == HR_HANG) {
		if (h->nhung < MAX_HUNG)
			h->hung[h->nhung++] = fd;
		else
			close(fd);
		return;
	}
	const char *resp =
	    mode == HR_OK
		? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
		: "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
		  "Connection: close\r\n\r\n";
	ssize_t w = write(fd, resp, strlen(resp));
	(void)w;
	close(fd);
}

static void *run(void *arg)
{
	hookrecv *h = arg;
	hr_mode last = HR_OK;
	for (;;) {
		pthread_mutex_lock(&h->mu);
		bool stop = h->stop;
		hr_mode mode = h->mode;
		pthread_mutex_unlock(&h->mu);
		if (stop)
			break;
		if (mode != last && last == HR_HANG)
			close_hung(h);
		last = mode;
		struct pollfd pf = {.fd = h->lfd, .events = POLLIN};
		if (poll(&pf, 1, 50) <= 0)
			continue;
		int fd = accept(h->lfd, NULL, NULL);
		if (fd >= 0)
			serve(h, fd);
	}
	return NULL;
}

static bool listen_on(hookrecv *h, int port)
{
	h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->lfd < 0)
		return false;
	int one = 1;
	setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (bind(h->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(h->lfd, 128) != 0 ||
	    getsockname(h->lfd, (struct sockaddr *)&a, &al) != 0) {
		close(h->lfd);
		h->lfd = -1;
		return false;
	}
	h->port = ntohs(a.sin_port);
	pthread_mutex_lock(&h->mu);
	h->stop = false;
	pthread_mutex_unlock(&h->mu);
	if (pthread_create(&h->thr, NULL, run, h) != 0) {
		close(h->lfd);
		h->lfd = -1;
		return false;
	}
	h->running = true;
	return true;
}

hookrecv *hr_start(int port)
{
	hookrecv *h = calloc(1, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->lfd = -1;
	if (!listen_on(h, port)) {
		hr_free(h);
		return NULL;
	}
	return h;
}

int hr_port(const hookrecv *h)
{
	return h->port;
}

void hr_set_mode(hookrecv *h, hr_mode mode)
{
	pthread_mutex_lock(&h->mu);
	h->mode = mode;
	pthread_mutex_unlock(&h->mu);
}

void hr_down(hookrecv *h)
{
	if (!h->running)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thr, NULL);
	h->running = false;
	close(h->lfd);
	h->lfd = -1;
	close_hung(h);
}

bool hr_up(hookrecv *h)
{
	return h->running || listen_on(h, h->port);
}

size_t hr_ok_count(hookrecv *h)
{
	pthread_mutex_lock(&h->mu);
	size_t n = h->nok;
	pthread_mutex_unlock(&h->mu);
	return n;
}

size_t hr_seen_count(hookrecv *h)
{
	pthread_mutex_lock(&h->mu);
	size_t n = h->seen;
	pthread_mutex_unlock(&h->mu);
	return n;
}

static bool wait_count(hookrecv *h, size_t n, int timeout_ms, bool seen)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&h->mu);
	while ((seen ? h->seen : h->nok) < n &&
	       pthread_cond_timedwait(&h->cv, &h->mu, &dl) == 0)
		;
	bool ok = (seen ? h->seen : h->nok) >= n;
	pthread_mutex_unlock(&h->mu);
	return ok;
}

bool hr_wait_ok(hookrecv *h, size_t n, int timeout_ms)
{
	return wait_count(h, n, timeout_ms, false);
}

bool hr_wait_seen(hookrecv *h, size_t n, int timeout_ms)
{
	return wait_count(h, n, timeout_ms, true);
}

static char *copy_field(hookrecv *h, size_t i, bool sig)
{
	pthread_mutex_lock(&h->mu);
	char *s = i < h->nok ? strdup(sig ? h->ok[i].sig : h->ok[i].body) : NULL;
	pthread_mutex_unlock(&h->mu);
	return s;
}

char *hr_ok_body(hookrecv *h, size_t i)
{
	return copy_field(h, i, false);
}

char *hr_ok_sig(hookrecv *h, size_t i)
{
	return copy_field(h, i, true);
}

void hr_free(hookrecv *h)
{
	if (!h)
		return;
	hr_down(h);
	for (size_t i = 0; i < h->nok; i++) {
		free(h->ok[i].body);
		free(h->ok[i].sig);
	}
	free(h->ok);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}
