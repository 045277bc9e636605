/*
 * loop.h — a worker of calltrail-token: every FastCGI connection of the
 * listening socket served from one epoll loop per thread (loop.c).
 */
#ifndef CT_LOOP_H
#define CT_LOOP_H

#include "calltrail.h"

/* Event-loop threads a worker runs at most (--threads). */
#define CT_THREADS_MAX 256

/*
 * Serve the listening socket lfd (made non-blocking here) with nthreads
 * event loops until SIGTERM or SIGINT reaches the process; then accept
 * no more, finish the requests in flight (at most 10 s) and return 0;
 * 1 when a loop could not run (the supervisor starts a new worker).
 * A connection that sends nothing, or stalls mid-request or unread, for
 * timeout_ms is closed.  Each loop answers requests with its own
 * ct_handler.
 */
int ct_loop_work(int lfd, int nthreads, int timeout_ms, const struct ct_conf *conf);

#endif /* CT_LOOP_H */
