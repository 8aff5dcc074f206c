/*
 * hookrecv.h - a real HTTP/1.1 webhook receiver for integration tests: a
 * thread listening on 127.0.0.1 that records every POST (body and
 * Roomkit-Signature) and answers 200, 500, or never (hang), as told; it can
 * be taken down (the port refuses connections) and brought back on the same
 * port. Every answer carries "Connection: close", so one thread serves the
 * connections one after another; a hung request's socket is kept open
 * without an answer until the mode changes or the receiver stops.
 */
#ifndef RK_HOOKRECV_H
#define RK_HOOKRECV_H

#include <stdbool.h>
#include <stddef.h>

typedef enum hr_mode { HR_OK = 0, HR_FAIL, HR_HANG } hr_mode;

typedef struct hookrecv hookrecv;

/* Listen on 127.0.0.1:port (0: any free port); NULL if it cannot. */
hookrecv *hr_start(int port);
int hr_port(const hookrecv *h);
void hr_set_mode(hookrecv *h, hr_mode mode);
/* Close the listening socket (connections are refused) / listen again on
 * the same port; hr_up returns false if the port cannot be bound. */
void hr_down(hookrecv *h);
bool hr_up(hookrecv *h);
/* Requests answered 2xx so far, and all requests received (any answer). */
size_t hr_ok_count(hookrecv *h);
size_t hr_seen_count(hookrecv *h);
/* Wait up to timeout_ms for hr_ok_count (hr_seen_count) to reach n; true if
 * it did. */
bool hr_wait_ok(hookrecv *h, size_t n, int timeout_ms);
bool hr_wait_seen(hookrecv *h, size_t n, int timeout_ms);
/* The i-th request answered 2xx (0-based): its body and signature header,
 * copies the caller frees; NULL if there is no such request. */
char *hr_ok_body(hookrecv *h, size_t i);
char *hr_ok_sig(hookrecv *h, size_t i);
/* Stop the thread, close every socket, free. NULL is a no-op. */
void hr_free(hookrecv *h);

#endif
