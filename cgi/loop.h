/*
 * loop.h — a worker of calltrail-token: every FastCGI connection of the
 * listening socket served from one epoll loop per thread (loop.c).
 */
#ifndef CT_LOOP_H
#define CT_LOOP_H

#include "calltrail.h"

/*
 * Serve the listening socket lfd (made non-blocking here) with nthreads
 * event loops until SIGTERM or SIGINT reaches the process, then return
 * 0; 1 when the socket keeps failing (the supervisor starts a new
 * worker).  Each loop answers requests with its own ct_handler.
 */
int ct_loop_work(int lfd, int nthreads, const struct ct_conf *conf);

#endif /* CT_LOOP_H */
