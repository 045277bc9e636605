/*
 * loop.c — the event loop of a calltrail-token worker.  One thread, one
 * epoll set: the listening socket (EPOLLEXCLUSIVE, so a connection wakes
 * one loop of one worker), a signalfd that tells every loop to stop, and
 * each accepted FastCGI connection.  A request is answered in full as
 * soon as its last record arrives (minting takes microseconds), so no
 * request ever waits on another connection's I/O and a loop never
 * blocks anywhere but in epoll_wait.  Under load one wake-up serves
 * every connection that is ready, where a thread per connection
 * (libfcgi's model) pays a sleep and a wake-up per request.
 *
 * Bounds: CONNS_MAX connections per loop (the listening socket is left
 * alone while full, so further connections wait in its backlog), one
 * FastCGI record of input per connection (fcgi.h), OUT_MAX of answers
 * not yet written; while a connection's answer is unwritten its input is
 * not read.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "fcgi.h"
#include "handler.h"
#include "loop.h"
#include "ct_time.h"

#define CONNS_MAX     1024
#define EVENTS        64
#define IN_FIRST      (16 * 1024)
#define OUT_MAX       (1024 * 1024)
#define ACCEPT_FAILS  50            /* in a row, 100 ms apart */
#define THREADS_MAX   256

struct conn {
	struct conn *prev, *next;   /* the loop's list, for closing them all */
	int fd;
	int writing;                /* EPOLLOUT armed, EPOLLIN not */
	unsigned char *in;
	size_t len, cap;
	struct ct_buf out;
	size_t out_off;
	struct ct_fcgi_req req;
};

struct loop {
	int ep, lfd, sfd;
	struct conn *conns;
	size_t nconn;
	int accepting;
	int fails;
	struct ct_handler h;
};

/* epoll tags for the two sockets that are not connections */
static char tag_listen, tag_stop;

static int failed;   /* a loop gave up on the socket: the worker exits 1 */

static void
conn_close(struct loop *lp, struct conn *c)
{
	close(c->fd);   /* also takes it out of the epoll set */
	if (c->prev)
		c->prev->next = c->next;
	else
		lp->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->in);
	ct_buf_free(&c->out);
	ct_fcgi_free(&c->req);
	free(c);
	lp->nconn--;
	if (!lp->accepting) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &tag_listen };

		if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->lfd, &ev) == 0)
			lp->accepting = 1;
	}
}

static int
want(struct loop *lp, struct conn *c, int writing)
{
	struct epoll_event ev = { .events = writing ? EPOLLOUT : EPOLLIN, .data.ptr = c };

	if (c->writing == writing)
		return 0;
	c->writing = writing;
	return epoll_ctl(lp->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what is pending.  -1: the connection is finished with (closed
 * by us, gone, or done and not to be kept); 0: keep it. */
static int
flush(struct loop *lp, struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (want(lp, c, 1) != 0)
				break;
			return 0;
		}
		if (n <= 0) {
			conn_close(lp, c);
			return -1;
		}
		c->out_off += (size_t)n;
	}
	ct_buf_reset(&c->out);
	c->out_off = 0;
	if (c->req.close || want(lp, c, 0) != 0) {
		conn_close(lp, c);
		return -1;
	}
	return 0;
}

static const char *
param(void *ctx, const char *name)
{
	return ct_fcgi_param(ctx, name);
}

/* The request in c->req is complete: answer it into c->out. */
static int
answer(struct loop *lp, struct conn *c)
{
	struct ct_handler *h = &lp->h;
	char pbuf[CT_PATH_MAX + 1];
	int64_t t0 = ct_time_now_us();
	struct ct_http_req rq = { .read = ct_fcgi_read, .read_ctx = &c->req };
	int head_only;

	ct_http_req_cgi(&rq, pbuf, sizeof(pbuf), param, &c->req);
	head_only = rq.method && strcmp(rq.method, "HEAD") == 0;
	ct_handler_run(h, &rq, t0);
	if (ct_fcgi_respond(&c->req, h->head.p ? h->head.p : "", h->head.len,
	                    head_only ? NULL : h->body.p, head_only ? 0 : h->body.len,
	                    &c->out) != CT_OK) {
		ct_log("FastCGI: more than %d bytes of answers unwritten; connection closed", OUT_MAX);
		return -1;
	}
	ct_handler_log(h, ct_time_now_us() - t0);
	return 0;
}

/* The connection is readable: read once, answer every request that is
 * complete, write the answers. */
static void
serve(struct loop *lp, struct conn *c)
{
	char err[CT_ERRLEN];
	size_t p = 0, used;
	ssize_t n;
	int rc;

	do
		n = read(c->fd, c->in + c->len, c->cap - c->len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		conn_close(lp, c);
		return;
	}
	c->len += (size_t)n;
	for (;;) {
		rc = ct_fcgi_feed(&c->req, c->in + p, c->len - p, &used, &c->out, err);
		p += used;
		if (rc == CT_FCGI_BAD) {
			ct_log("FastCGI: %s; connection closed", err);
			conn_close(lp, c);
			return;
		}
		if (rc == CT_FCGI_MORE || c->req.close)
			break;
		if (answer(lp, c) != 0) {
			conn_close(lp, c);
			return;
		}
	}
	memmove(c->in, c->in + p, c->len - p);
	c->len -= p;
	/* Room for the whole of the record that has begun. */
	if (c->len >= 8 && ct_fcgi_record_len(c->in) > c->cap) {
		size_t cap = ct_fcgi_record_len(c->in);
		unsigned char *in = realloc(c->in, cap);

		if (in == NULL) {
			ct_log("out of memory for a FastCGI record; connection closed");
			conn_close(lp, c);
			return;
		}
		c->in = in;
		c->cap = cap;
	}
	flush(lp, c);
}

static void
accept_all(struct loop *lp)
{
	for (;;) {
		struct epoll_event ev;
		struct conn *c;
		int fd = accept4(lp->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EMFILE and friends pass; a socket that keeps failing
			 * ends the worker so the supervisor starts a new one. */
			if (++lp->fails >= ACCEPT_FAILS) {
				ct_log("accept keeps failing: %s; worker exits", strerror(errno));
				failed = 1;
				kill(getpid(), SIGTERM);
				return;
			}
			ct_log("accept: %s", strerror(errno));
			usleep(100 * 1000);
			return;
		}
		lp->fails = 0;
		/* TCP (--listen HOST:PORT): answers go out at once.  A unix
		 * socket refuses the option, harmlessly. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL || (c->in = malloc(IN_FIRST)) == NULL) {
			ct_log("out of memory for a connection; closed");
			free(c);
			close(fd);
			return;
		}
		c->fd = fd;
		c->cap = IN_FIRST;
		ct_buf_init(&c->out, OUT_MAX);
		ct_fcgi_init(&c->req);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		c->next = lp->conns;
		if (c->next)
			c->next->prev = c;
		lp->conns = c;
		lp->nconn++;
		if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			ct_log("epoll_ctl: %s; connection closed", strerror(errno));
			conn_close(lp, c);
			continue;
		}
		if (lp->nconn >= CONNS_MAX) {
			epoll_ctl(lp->ep, EPOLL_CTL_DEL, lp->lfd, NULL);
			lp->accepting = 0;
			return;
		}
	}
}

static void *
run(void *arg)
{
	struct loop *lp = arg;
	struct epoll_event evs[EVENTS];
	int i, n, stop = 0;

	/* The request lines of one round go out in one write, before the
	 * loop sleeps again (a write per request was a tenth of its CPU). */
	ct_log_hold();
	while (!stop) {
		ct_log_flush();
		n = epoll_wait(lp->ep, evs, EVENTS, -1);
		if (n < 0 && errno != EINTR) {
			ct_log("epoll_wait: %s; worker exits", strerror(errno));
			ct_log_flush();
			failed = 1;
			kill(getpid(), SIGTERM);
			break;
		}
		for (i = 0; i < n; i++) {
			void *t = evs[i].data.ptr;

			if (t == &tag_stop)
				stop = 1;
			else if (t == &tag_listen)
				accept_all(lp);
			else if (((struct conn *)t)->writing)
				flush(lp, t);
			else
				serve(lp, t);
		}
	}
	ct_log_flush();
	ct_token_thread_done();
	return NULL;
}

/* The connections left when a loop stops: every answer already went
 * out (or was given up on), so they are only closed. */
static void
close_all(struct loop *lp)
{
	while (lp->conns)
		conn_close(lp, lp->conns);
}

static int
loop_init(struct loop *lp, int lfd, int sfd, const struct ct_conf *conf)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &tag_listen };
	struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &tag_stop };

	memset(lp, 0, sizeof(*lp));
	lp->lfd = lfd;
	lp->sfd = sfd;
	if ((lp->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(lp->ep, EPOLL_CTL_ADD, lfd, &ev) != 0 ||
	    epoll_ctl(lp->ep, EPOLL_CTL_ADD, sfd, &sev) != 0) {
		ct_log("epoll: %s", strerror(errno));
		if (lp->ep >= 0)
			close(lp->ep);
		return -1;
	}
	lp->accepting = 1;
	ct_handler_init(&lp->h, conf);
	return 0;
}

static void
loop_free(struct loop *lp)
{
	close_all(lp);
	ct_handler_free(&lp->h);
	close(lp->ep);
}

int
ct_loop_work(int lfd, int nthreads, const struct ct_conf *conf)
{
	struct loop *lps;
	pthread_t tids[THREADS_MAX];
	sigset_t stop;
	struct sigaction sa;
	int sfd, i, n = 0, fl;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* SIGTERM and SIGINT become a readable signalfd that every loop
	 * watches and nobody reads: once one arrives, all loops stop. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if ((sfd = signalfd(-1, &stop, SFD_CLOEXEC)) < 0) {
		ct_log("signalfd: %s", strerror(errno));
		return 1;
	}
	if ((fl = fcntl(lfd, F_GETFL)) < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) < 0) {
		ct_log("the listening socket: %s", strerror(errno));
		close(sfd);
		return 1;
	}
	if (nthreads > THREADS_MAX)
		nthreads = THREADS_MAX;
	if ((lps = calloc((size_t)nthreads, sizeof(*lps))) == NULL) {
		ct_log("out of memory");
		close(sfd);
		return 1;
	}
	for (i = 0; i < nthreads; i++)
		if (loop_init(&lps[i], lfd, sfd, conf) != 0)
			break;
	n = i;
	/* Loop 0 runs on this thread, the others on their own. */
	for (i = 1; i < n; i++)
		if (pthread_create(&tids[i], NULL, run, &lps[i]) != 0) {
			ct_log("cannot start thread %d of %d; running %d", i + 1, nthreads, i);
			while (n > i)
				loop_free(&lps[--n]);
		}
	if (n > 0)
		run(&lps[0]);
	for (i = 1; i < n; i++)
		pthread_join(tids[i], NULL);
	for (i = 0; i < n; i++)
		loop_free(&lps[i]);
	free(lps);
	close(sfd);
	return n == 0 || failed;
}
