/*
 * loopint.h — what an event loop of calltrail-token (loop.c) and its
 * connections' lists and timers (conns.c) share; not part of loop.h.
 */
#ifndef CT_LOOPINT_H
#define CT_LOOPINT_H

#include <stddef.h>
#include <stdint.h>

#include "calltrail.h"
#include "fcgi.h"
#include "handler.h"

enum { L_NEW, L_BUSY, L_IDLE, NLISTS };

struct conn {
	struct conn *prev, *next;   /* on lists[list]; next also chains the dead */
	int64_t t;                  /* ms: when it came onto its list, or last answered */
	int list;
	int fd;                     /* -1 once closed (freed at the end of the round) */
	int writing;                /* EPOLLOUT armed, EPOLLIN not */
	int answered;               /* a request was answered since it was placed */
	unsigned char *in;
	size_t len, cap;
	struct ct_buf out;
	size_t out_off;
	struct ct_fcgi_req req;
};

struct list {
	struct conn *head, *tail;
};

struct loop {
	int ep, lfd, sfd;
	struct list lists[NLISTS];
	int64_t to[NLISTS];         /* ms a connection may stay on each list */
	struct conn *dead;          /* closed this round, freed after it */
	size_t nconn, max;
	int accepting;              /* the listener is in the epoll set */
	int64_t pause_until;        /* ms: the listener rests until then (0: not) */
	int64_t limit_logged;       /* ms: the last "at the limit" line */
	int64_t emfile_logged;      /* ms: the last "accept: EMFILE" line */
	int stopping;
	int64_t stop_at;
	int64_t now;                /* ms, monotonic, read once per round */
	struct ct_handler h;
};
/* epoll's data.ptr: a struct conn, or &lfd (the listening socket), or
 * &sfd (the signalfd that says stop). */

/* File c, new or not on a list, as the newest on list, from now. */
void ct_conn_push(struct loop *lp, struct conn *c, int list);
/* File c on list.  A connection that stays BUSY keeps its time (a request
 * must finish within the timeout) unless it answered one meanwhile. */
void ct_conn_place(struct loop *lp, struct conn *c, int list);
/* Close c now (memory: ct_conns_bury); the listener resumes if it waited
 * for room. */
void ct_conn_close(struct loop *lp, struct conn *c);
/* Put the listening socket into the epoll set, or take it out. */
void ct_listen_on(struct loop *lp);
void ct_listen_off(struct loop *lp);
/* Free the connections closed this round. */
void ct_conns_bury(struct loop *lp);
/* Close the oldest connection that waits for nothing but a request: 1,
 * or 0 when there is none to close. */
int ct_conns_evict(struct loop *lp);
/* Close what overstayed on each list; end the listener's rest when due. */
void ct_conns_expire(struct loop *lp);
/* ms until the next thing falls due, for epoll_wait; -1: nothing. */
int ct_conns_next_due(const struct loop *lp);
/* Close and free every connection. */
void ct_conns_close_all(struct loop *lp);

#endif /* CT_LOOPINT_H */
