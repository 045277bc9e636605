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
 * Resources (nginx's ngx_event_accept.c habits, SPEC section 6):
 *
 *   - Every connection sits on one of three lists (conns.c), newest
 *     first: NEW (accepted, not a byte yet), BUSY (a request under way,
 *     or answers the peer is not reading) and IDLE (kept alive between
 *     requests).  A list's oldest entry is at its tail, so the timeouts
 *     cost one look at three tails per round: NEW and BUSY connections
 *     are closed after --timeout, IDLE ones after KEEP_MS (longer than
 *     nginx's upstream keepalive_timeout, so nginx lets go first).
 *   - At the connection limit the oldest NEW or IDLE connection is closed
 *     to make room (ngx_drain_connections); only when every connection is
 *     busy does the listening socket wait.  The limit comes from
 *     RLIMIT_NOFILE (ct_loop_work).
 *   - accept() failing for want of descriptors or memory (EMFILE, ENFILE,
 *     ENOBUFS, ENOMEM) takes the listening socket out of the epoll set
 *     and puts it back ACCEPT_PAUSE ms later: no sleep, no exit.
 *   - One FastCGI record of input per connection (fcgi.h); answers stop
 *     being made once OUT_HIGH bytes wait to be written, and the
 *     connection is not read until they are, so a peer that pipelines
 *     requests and never reads holds at most about OUT_HIGH.
 *   - SIGTERM: the listening socket is left to the next process (systemd
 *     keeps it), each connection is closed once its request is answered,
 *     or after STOP_IDLE_MS without one, requests in flight get STOP_MS
 *     to finish, then the loop returns.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "loop.h"
#include "loopint.h"
#include "ct_time.h"

#define CONNS_MAX     1024          /* per loop; fewer when descriptors are short */
#define FDS_RESERVED  16            /* stdio, the sockets, signalfd, libc's own */
#define EVENTS        64
#define IN_FIRST      (16 * 1024)
#define OUT_MAX       (1024 * 1024) /* one connection's unwritten answers, hard cap */
#define OUT_HIGH      (32 * 1024)   /* no more answers made above this */
#define ACCEPT_PAUSE  100           /* ms the listener rests after EMFILE & co. */
#define KEEP_MS       75000         /* an idle kept-alive connection */
#define STOP_MS       10000         /* after SIGTERM, for the requests in flight */
#define STOP_IDLE_MS  1000          /* after SIGTERM, for a request on a new or idle one */

static int failed;   /* a loop gave up: the worker exits 1 */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* Write what is pending.  -1: closed; 0: all written; 1: the socket is
 * full (EPOLLOUT armed, input no longer read). */
static int
flush(struct loop *lp, struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (want(lp, c, 1) == 0)
				return 1;
			ct_conn_close(lp, c);
			return -1;
		}
		if (n <= 0) {
			ct_conn_close(lp, c);
			return -1;
		}
		c->out_off += (size_t)n;
	}
	ct_buf_reset(&c->out);
	c->out_off = 0;
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
	c->answered = 1;
	return 0;
}

/*
 * Answer the whole requests in c->in while fewer than OUT_HIGH bytes of
 * answers wait.  -1: closed; 0: the input is used up; 1: input is left
 * for when the answers are written.
 */
static int
process(struct loop *lp, struct conn *c)
{
	char err[CT_ERRLEN];
	size_t p = 0, used;
	int rc, full = 0;

	while (!c->req.close) {
		if (c->out.len - c->out_off >= OUT_HIGH) {
			full = 1;
			break;
		}
		rc = ct_fcgi_feed(&c->req, c->in + p, c->len - p, &used, &c->out, err);
		p += used;
		if (rc == CT_FCGI_BAD) {
			ct_log("FastCGI: %s; connection closed", err);
			ct_conn_close(lp, c);
			return -1;
		}
		if (rc == CT_FCGI_MORE)
			break;
		if (answer(lp, c) != 0) {
			ct_conn_close(lp, c);
			return -1;
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
			ct_conn_close(lp, c);
			return -1;
		}
		c->in = in;
		c->cap = cap;
	}
	return full;
}

/* Answer and write until the input is used up or the peer stops reading,
 * then file the connection where its state puts it. */
static void
pump(struct loop *lp, struct conn *c)
{
	int more, w;
	ssize_t n;

	for (;;) {
		do {
			if ((more = process(lp, c)) < 0 || (w = flush(lp, c)) < 0)
				return;
		} while (w == 0 && more == 1);
		if (w == 1) {
			ct_conn_place(lp, c, L_BUSY);
			return;
		}
		if (c->req.close) {
			ct_conn_close(lp, c);
			return;
		}
		if (!lp->stopping || c->req.active || c->len)
			break;
		/* Stopping and idle: close, unless nginx, which kept the
		 * connection when our answer arrived, has already sent its
		 * next request on it (closing would reset that request). */
		do
			n = read(c->fd, c->in, c->cap);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			ct_conn_close(lp, c);
			return;
		}
		c->len = (size_t)n;
	}
	if (want(lp, c, 0) != 0) {
		ct_conn_close(lp, c);
		return;
	}
	ct_conn_place(lp, c, c->req.active || c->len ? L_BUSY : L_IDLE);
}

/* The connection is readable: read once, then answer and write. */
static void
serve(struct loop *lp, struct conn *c)
{
	ssize_t n;

	do
		n = read(c->fd, c->in + c->len, c->cap - c->len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		ct_conn_close(lp, c);
		return;
	}
	c->len += (size_t)n;
	pump(lp, c);
}

static void
accept_all(struct loop *lp)
{
	while (lp->accepting) {
		struct epoll_event ev;
		struct conn *c;
		int fd, one = 1;

		if (lp->nconn >= lp->max && !ct_conns_evict(lp)) {
			/* Every connection busy: new ones wait in the backlog
			 * until one closes (conn_close puts the listener back).
			 * Idle but accepted this round: read them first, and
			 * accept again next round. */
			ct_listen_off(lp);
			if (lp->lists[L_NEW].tail || lp->lists[L_IDLE].tail)
				lp->pause_until = lp->now + 1;
			return;
		}
		if ((fd = accept4(lp->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors is the limit too: an idle
				 * connection makes room; with none, the listener
				 * rests (nginx: ngx_disable_accept_events). */
				if (lp->now - lp->emfile_logged >= 1000) {
					ct_log("accept: %s (%zu connections): closing idle ones, "
					       "else accepting again in %d ms", strerror(errno),
					       lp->nconn, ACCEPT_PAUSE);
					lp->emfile_logged = lp->now;
				}
				if (ct_conns_evict(lp))
					continue;
				ct_listen_off(lp);
				lp->pause_until = lp->now + ACCEPT_PAUSE;
				return;
			}
			ct_log("accept: %s", strerror(errno));
			return;
		}
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
		ct_conn_push(lp, c, L_NEW);
		lp->nconn++;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			ct_log("epoll_ctl: %s; connection closed", strerror(errno));
			ct_conn_close(lp, c);
		}
	}
}

/* SIGTERM or SIGINT: accept no more (the backlog is the next process's
 * when systemd holds the socket), let the busy finish, then go. */
static void
begin_stop(struct loop *lp)
{
	struct conn *c;

	lp->stopping = 1;
	lp->stop_at = lp->now + STOP_MS;
	ct_listen_off(lp);
	lp->pause_until = 0;
	/* The signalfd stays readable: stop watching it, or every wait
	 * would return at once. */
	epoll_ctl(lp->ep, EPOLL_CTL_DEL, lp->sfd, NULL);
	/* FastCGI cannot tell nginx "do not reuse this connection", and
	 * nginx does not retry a POST it began to send on a kept connection
	 * we closed (unless told to: fastcgi_next_upstream ...
	 * non_idempotent).  So an idle connection gets STOP_IDLE_MS more,
	 * and a request on it is answered and the connection then closed
	 * (pump), which nginx mostly sees before it reuses the connection;
	 * the moment between our last look and our close stays a race. */
	for (c = lp->lists[L_IDLE].head; c; c = c->next)
		c->t = lp->now;
	lp->to[L_IDLE] = STOP_IDLE_MS;
	if (lp->to[L_NEW] > STOP_IDLE_MS)
		lp->to[L_NEW] = STOP_IDLE_MS;
}

static void *
run(void *arg)
{
	struct loop *lp = arg;
	struct epoll_event evs[EVENTS];
	int i, n;

	/* The request lines of one round go out in one write, before the
	 * loop sleeps again (a write per request was a tenth of its CPU). */
	ct_log_hold();
	lp->now = mono_ms();
	for (;;) {
		ct_log_flush();
		n = epoll_wait(lp->ep, evs, EVENTS, ct_conns_next_due(lp));
		lp->now = mono_ms();
		if (n < 0 && errno != EINTR) {
			ct_log("epoll_wait: %s; worker exits", strerror(errno));
			failed = 1;
			kill(getpid(), SIGTERM);
			break;
		}
		for (i = 0; i < n; i++) {
			void *t = evs[i].data.ptr;

			if (t == &lp->sfd) {
				if (!lp->stopping)
					begin_stop(lp);
			} else if (t == &lp->lfd) {
				accept_all(lp);
			} else if (((struct conn *)t)->fd < 0) {
				continue;   /* closed earlier in this round */
			} else if (((struct conn *)t)->writing) {
				pump(lp, t);
			} else {
				serve(lp, t);
			}
		}
		ct_conns_expire(lp);
		ct_conns_bury(lp);
		if (lp->stopping && (lp->nconn == 0 || lp->now >= lp->stop_at))
			break;
	}
	if (lp->nconn)
		ct_log("stopping: %zu connections still busy after %d ms; closed",
		       lp->nconn, STOP_MS);
	ct_log_flush();
	ct_token_thread_done();
	return NULL;
}

static int
loop_init(struct loop *lp, int lfd, int sfd, size_t max, int timeout_ms,
          const struct ct_conf *conf)
{
	struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &lp->sfd };

	memset(lp, 0, sizeof(*lp));
	lp->lfd = lfd;
	lp->sfd = sfd;
	lp->max = max;
	lp->to[L_NEW] = lp->to[L_BUSY] = timeout_ms;
	lp->to[L_IDLE] = KEEP_MS;
	lp->limit_logged = lp->emfile_logged = -10000;
	if ((lp->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(lp->ep, EPOLL_CTL_ADD, sfd, &sev) != 0) {
		ct_log("epoll: %s", strerror(errno));
		if (lp->ep >= 0)
			close(lp->ep);
		return -1;
	}
	ct_listen_on(lp);
	if (!lp->accepting) {
		ct_log("epoll: the listening socket: %s", strerror(errno));
		close(lp->ep);
		return -1;
	}
	ct_handler_init(&lp->h, conf);
	return 0;
}

static void
loop_free(struct loop *lp)
{
	ct_conns_close_all(lp);
	ct_handler_free(&lp->h);
	close(lp->ep);
}

/* Connections per loop that the descriptors allow: RLIMIT_NOFILE less a
 * reserve, shared by the loops, at most CONNS_MAX. */
static size_t
conns_max(int nthreads)
{
	struct rlimit rl;
	long spare;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= (rlim_t)CONNS_MAX * (rlim_t)nthreads + FDS_RESERVED + 2 * nthreads)
		return CONNS_MAX;
	spare = (long)rl.rlim_cur - FDS_RESERVED - 2L * nthreads;
	spare = spare > nthreads ? spare / nthreads : 1;
	ct_log("RLIMIT_NOFILE is %ld: at most %ld connections per loop",
	       (long)rl.rlim_cur, spare);
	return (size_t)spare;
}

int
ct_loop_work(int lfd, int nthreads, int timeout_ms, const struct ct_conf *conf)
{
	struct loop *lps;
	pthread_t tids[CT_THREADS_MAX];
	sigset_t stop;
	struct sigaction sa;
	int sfd, i, n = 0, fl;
	size_t max;

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
	if (nthreads > CT_THREADS_MAX)
		nthreads = CT_THREADS_MAX;
	max = conns_max(nthreads);
	if ((lps = calloc((size_t)nthreads, sizeof(*lps))) == NULL) {
		ct_log("out of memory");
		close(sfd);
		return 1;
	}
	for (i = 0; i < nthreads; i++)
		if (loop_init(&lps[i], lfd, sfd, max, timeout_ms, conf) != 0)
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

