/*
 * conns.c — the connections of one event loop (loop.c): the three lists
 * they sit on, their timeouts, the room they leave for new ones and the
 * listening socket that waits while there is none.
 *
 *   - Every connection sits on one of three lists, newest first: NEW
 *     (accepted, not a byte yet), BUSY (a request under way, or answers
 *     the peer is not reading) and IDLE (kept alive between requests).
 *     A list's oldest entry is at its tail, so the timeouts cost one look
 *     at three tails per round.
 *   - A closed connection is freed when the round ends (ct_conns_bury),
 *     since an event for it may still wait in the round's batch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loopint.h"

/* ---- the lists ------------------------------------------------------ */

static void
unlist(struct loop *lp, struct conn *c)
{
	struct list *l = &lp->lists[c->list];

	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

void
ct_conn_push(struct loop *lp, struct conn *c, int list)
{
	struct list *l = &lp->lists[list];

	c->list = list;
	c->t = lp->now;
	c->prev = NULL;
	c->next = l->head;
	if (l->head)
		l->head->prev = c;
	else
		l->tail = c;
	l->head = c;
}

/* File c on list.  A connection that stays BUSY keeps its time (a request
 * must finish within the timeout) unless it answered one meanwhile. */
void
ct_conn_place(struct loop *lp, struct conn *c, int list)
{
	if (list == L_BUSY && c->list == L_BUSY && !c->answered)
		return;
	c->answered = 0;
	unlist(lp, c);
	ct_conn_push(lp, c, list);
}

/* ---- the listening socket -------------------------------------------- */

void
ct_listen_on(struct loop *lp)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &lp->lfd };

	if (!lp->accepting && epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->lfd, &ev) == 0)
		lp->accepting = 1;
}

void
ct_listen_off(struct loop *lp)
{
	if (lp->accepting && epoll_ctl(lp->ep, EPOLL_CTL_DEL, lp->lfd, NULL) == 0)
		lp->accepting = 0;
}

/* ---- a connection ---------------------------------------------------- */

/* Close c now; its memory goes when the round ends, since an event for
 * it may still be waiting in this round's batch. */
void
ct_conn_close(struct loop *lp, struct conn *c)
{
	close(c->fd);   /* also takes it out of the epoll set */
	c->fd = -1;
	unlist(lp, c);
	c->next = lp->dead;
	lp->dead = c;
	lp->nconn--;
	if (!lp->accepting && !lp->stopping && lp->pause_until == 0)
		ct_listen_on(lp);
}

void
ct_conns_bury(struct loop *lp)
{
	while (lp->dead) {
		struct conn *c = lp->dead;

		lp->dead = c->next;
		free(c->in);
		ct_buf_free(&c->out);
		ct_fcgi_free(&c->req);
		free(c);
	}
}

/* Close the oldest connection that waits for nothing but a request, to
 * make room for a new one.  0 when every connection is busy, or the only
 * idle ones came in this round (their requests are yet to be read). */
int
ct_conns_evict(struct loop *lp)
{
	struct conn *a = lp->lists[L_NEW].tail, *b = lp->lists[L_IDLE].tail;

	if (a != NULL && a->t >= lp->now)
		a = NULL;
	if (b != NULL && b->t >= lp->now)
		b = NULL;
	if (a == NULL && b == NULL)
		return 0;
	if (a == NULL || (b != NULL && b->t < a->t))
		a = b;
	if (lp->now - lp->limit_logged >= 10000) {
		ct_log("at the limit of %zu connections: closing the oldest idle ones", lp->max);
		lp->limit_logged = lp->now;
	}
	ct_conn_close(lp, a);
	return 1;
}

/* ---- the round ------------------------------------------------------- */

/* Close what overstayed on each list: only tails need a look. */
void
ct_conns_expire(struct loop *lp)
{
	int l;

	for (l = 0; l < NLISTS; l++)
		while (lp->lists[l].tail && lp->now - lp->lists[l].tail->t >= lp->to[l])
			ct_conn_close(lp, lp->lists[l].tail);
	if (lp->pause_until && lp->now >= lp->pause_until) {
		lp->pause_until = 0;
		if (!lp->stopping)
			ct_listen_on(lp);
	}
}

/* ms until the next thing falls due, for epoll_wait; -1: nothing. */
int
ct_conns_next_due(const struct loop *lp)
{
	int64_t due = INT64_MAX;
	int l;

	for (l = 0; l < NLISTS; l++)
		if (lp->lists[l].tail && lp->lists[l].tail->t + lp->to[l] < due)
			due = lp->lists[l].tail->t + lp->to[l];
	if (lp->pause_until && lp->pause_until < due)
		due = lp->pause_until;
	if (lp->stopping && lp->stop_at < due)
		due = lp->stop_at;
	if (due == INT64_MAX)
		return -1;
	/* The coarse clock may lag by a tick: never spin on a due time. */
	return due <= lp->now ? 1 : (int)(due - lp->now > 60000 ? 60000 : due - lp->now + 1);
}

void
ct_conns_close_all(struct loop *lp)
{
	int l;

	for (l = 0; l < NLISTS; l++)
		while (lp->lists[l].head)
			ct_conn_close(lp, lp->lists[l].head);
	ct_conns_bury(lp);
}
