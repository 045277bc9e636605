/*
 * main.c — calltrail-token: the socket, the workers and the accept loop.
 * What a request means is handler.c's business; this file only moves
 * bytes between a web server and the handler.
 *
 * Where the listening socket comes from (SPEC sections 3 and 6), first
 * match wins:
 *
 *   --listen unix:PATH | HOST:PORT   we open it (sock.c), fork --workers
 *                                    processes and respawn any that die;
 *   systemd (LISTEN_FDS, LISTEN_PID) fd 3, the socket unit's: it outlives
 *                                    us, so a restart drops nothing;
 *                                    --workers processes as for --listen;
 *   under spawn-fcgi                 fd 0 is the listening socket;
 *   as a plain CGI program           one request from the environment
 *                                    and stdin, then exit.
 *
 * Each worker process serves all its connections from one event loop
 * (loop.c; --threads N runs N loops), so nginx may keep as many FastCGI
 * connections open as it likes.  The records are fcgi.c's; libfcgi opens
 * no socket of ours (its FCGX_OpenSocket exits with errno on a bind
 * failure, naming nothing).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"
#include "loop.h"
#include "sock.h"
#include "ct_time.h"
#include "ct_fs.h"

#define PROG          "calltrail-token"
#define BACKLOG       1024
#define WORKERS_MAX   256
#define THREADS_DEF   1
#define TIMEOUT_DEF   10            /* s: a connection silent mid-request */
#define TIMEOUT_MAX   3600
#define STOP_WAIT     15000         /* ms: workers finish (loop.c: 10 s), then SIGKILL */

static const struct ct_conf *conf;
static int timeout_ms = TIMEOUT_DEF * 1000;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [-c FILE] [--listen unix:PATH|HOST:PORT] [--workers N] [--threads N]\n"
	    "       " PROG " [--timeout SECONDS]\n"
	    "       " PROG " -h | --help | -V | --version\n"
	    "\n"
	    "Mints LiveKit access tokens for the web form (POST /api/connection-details,\n"
	    "POST /api/token; GET /api/healthz).  Modes:\n"
	    "  --listen ADDR   open the FastCGI socket, fork --workers N workers (default:\n"
	    "                  online CPUs), each serving every connection it accepts\n"
	    "                  from --threads N event loops (default %d)\n"
	    "  (none)          under systemd (LISTEN_FDS): fd 3 is the listening socket,\n"
	    "                  served as with --listen; under spawn-fcgi: fd 0 is;\n"
	    "                  from a CGI server: answer one request and exit\n"
	    "  --timeout S     close a connection silent mid-request for S seconds\n"
	    "                  (default %d); idle kept-alive ones go after 75 s\n"
	    "The LiveKit secret: livekit_api_secret(_file), LIVEKIT_API_SECRET, else\n"
	    "$CREDENTIALS_DIRECTORY/livekit-api-secret (systemd's LoadCredential=).\n"
	    "Exit: 0 stopped, 64 usage, 69 the socket is another process's, 71 the\n"
	    "socket could not be opened, 74 CGI output failed, 78 configuration.\n"
	    "Configuration: -c FILE, else $CALLTRAIL_CONF, else %s;\n"
	    "LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET override it.\n"
	    "See calltrail-token(8) and calltrail.conf(5).\n",
	    THREADS_DEF, TIMEOUT_DEF, ct_conf_default_path());
}

/* ---- one request ---------------------------------------------------- */

static const char *
env(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static long
stdin_read(void *ctx, char *buf, size_t n)
{
	ssize_t r;

	(void)ctx;
	do
		r = read(STDIN_FILENO, buf, n);
	while (r < 0 && errno == EINTR);
	return (long)r;
}

/* Plain CGI: one request from the environment and stdin. */
static int
serve_cgi(void)
{
	char pbuf[CT_PATH_MAX + 1];
	struct ct_handler h;
	int64_t t0 = ct_time_now_us();
	struct ct_http_req rq = { .read = stdin_read };
	int rc = EX_OK;

	ct_http_req_cgi(&rq, pbuf, sizeof(pbuf), env, NULL);
	if (rq.method == NULL) {
		fprintf(stderr, PROG ": not started by a CGI server or spawn-fcgi; "
		        "use --listen (see --help)\n");
		return EX_USAGE;
	}
	ct_handler_init(&h, conf);
	ct_handler_run(&h, &rq, t0);
	if (ct_write_full(STDOUT_FILENO, h.head.p ? h.head.p : "", h.head.len) != CT_OK ||
	    (h.body.len && strcmp(rq.method, "HEAD") != 0 &&
	     ct_write_full(STDOUT_FILENO, h.body.p, h.body.len) != CT_OK))
		rc = EX_IOERR;
	ct_handler_log(&h, ct_time_now_us() - t0);
	ct_handler_free(&h);
	ct_token_thread_done();
	return rc;
}

/* ---- a worker process ---------------------------------------------- */

static int
work(int fd, int nthreads)
{
	return ct_loop_work(fd, nthreads, timeout_ms, conf) == 0 ? EX_OK : EX_OSERR;
}

/* ---- the supervisor ------------------------------------------------ */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct slot {
	pid_t pid;
	int64_t born, due;   /* ms: when started, when it may start again */
	int64_t delay;       /* ms of backoff after a quick death */
};

/* The supervisor's table of workers, at file scope so that a forked
 * worker (which never returns into supervise) can free the copy it
 * inherited. */
static struct slot *slots;

static pid_t
spawn(int fd, int nthreads, const sigset_t *oldmask)
{
	pid_t pid = fork();

	if (pid == 0) {
#ifdef __linux__
		/* A supervisor killed with SIGKILL takes its workers along. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		free(slots);
		slots = NULL;
		_exit(work(fd, nthreads));
	}
	if (pid < 0)
		ct_log("fork: %s", strerror(errno));
	return pid;
}

/*
 * Keep nworkers workers running on fd until SIGTERM or SIGINT, then pass
 * the signal on, wait for them to finish their requests (SIGKILL after
 * STOP_WAIT ms) and return.  A worker
 * that dies within a second of its start is restarted after a backoff that
 * doubles up to 30 s, so a broken worker cannot spin the CPU.
 */
static int
supervise(int fd, int nworkers, int nthreads)
{
	struct slot *s = slots = calloc((size_t)nworkers, sizeof(*s));
	struct timespec tick = { 0, 200 * 1000000 };
	sigset_t set, old;
	int i, st, sig, alive;
	int64_t now, deadline;
	pid_t pid;

	if (s == NULL) {
		ct_log("out of memory");
		return EX_OSERR;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	for (;;) {
		now = mono_ms();
		for (i = 0; i < nworkers; i++)
			if (s[i].pid <= 0 && now >= s[i].due) {
				s[i].born = now;
				s[i].pid = spawn(fd, nthreads, &old);
				if (s[i].pid < 0)
					s[i].due = now + 1000;
			}
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			ct_log("SIGHUP ignored: restart calltrail-token to read the configuration again");
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			now = mono_ms();
			for (i = 0; i < nworkers && s[i].pid != pid; i++)
				;
			if (i == nworkers)
				continue;
			if (WIFSIGNALED(st))
				ct_log("worker %ld killed by signal %d; restarting", (long)pid,
				       WTERMSIG(st));
			else
				ct_log("worker %ld exited with %d; restarting", (long)pid,
				       WEXITSTATUS(st));
			s[i].pid = 0;
			if (now - s[i].born < 1000)
				s[i].delay = s[i].delay ? s[i].delay * 2 : 100;
			else
				s[i].delay = 0;
			if (s[i].delay > 30000)
				s[i].delay = 30000;
			s[i].due = now + s[i].delay;
		}
	}
	for (i = 0; i < nworkers; i++)
		if (s[i].pid > 0)
			kill(s[i].pid, SIGTERM);
	deadline = mono_ms() + STOP_WAIT;
	for (;;) {
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			for (i = 0; i < nworkers; i++)
				if (s[i].pid == pid)
					s[i].pid = 0;
		for (alive = 0, i = 0; i < nworkers; i++)
			alive += s[i].pid > 0;
		if (alive == 0)
			break;
		if (mono_ms() >= deadline) {
			for (i = 0; i < nworkers; i++)
				if (s[i].pid > 0)
					kill(s[i].pid, SIGKILL);
			deadline = mono_ms() + STOP_WAIT;
		}
		sigtimedwait(&set, NULL, &tick);
	}
	free(s);
	slots = NULL;
	return EX_OK;
}

static int
number(const char *opt, const char *s, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > max) {
		fprintf(stderr, PROG ": %s: want a number from 1 to %d\n", opt, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct ct_conf c;
	char err[CT_ERRLEN], warn[CT_ERRLEN];
	const char *cfile = NULL, *listen = NULL;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nworkers = ncpu > 0 ? (int)(ncpu > WORKERS_MAX ? WORKERS_MAX : ncpu) : 1;
	int nthreads = THREADS_DEF, wset = 0, i, fd, rc;

	ct_log_init(PROG);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return EX_OK;
		} else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf(PROG " " PACKAGE_VERSION "\n");
			return EX_OK;
		} else if (v && (strcmp(a, "-c") == 0)) {
			cfile = v;
			i++;
		} else if (v && strcmp(a, "--listen") == 0) {
			listen = v;
			i++;
		} else if (v && strcmp(a, "--workers") == 0) {
			if (number(a, v, WORKERS_MAX, &nworkers) != 0)
				return EX_USAGE;
			wset = 1;
			i++;
		} else if (v && strcmp(a, "--threads") == 0) {
			if (number(a, v, CT_THREADS_MAX, &nthreads) != 0)
				return EX_USAGE;
			i++;
		} else if (v && strcmp(a, "--timeout") == 0) {
			if (number(a, v, TIMEOUT_MAX, &timeout_ms) != 0)
				return EX_USAGE;
			timeout_ms *= 1000;
			i++;
		} else {
			usage(stderr);
			return EX_USAGE;
		}
	}
	/* Loaded once: a worker never rereads it, and a bad file stops us
	 * here rather than leaving a half-working service. */
	if (ct_conf_load(&c, cfile, err) != CT_OK || ct_conf_require_livekit(&c, err, warn) != CT_OK) {
		fprintf(stderr, PROG ": %s\n", err);
		return EX_CONFIG;
	}
	if (warn[0])
		fprintf(stderr, PROG ": %s\n", warn);
	conf = &c;
	/* Descriptors are connections: take what the hard limit allows
	 * (systemd's soft 1024 is below one loop's 1024 connections). */
	ct_sock_raise_nofile();
	if (listen) {
		struct ct_sock_owned own;

		if ((rc = ct_sock_listen(PROG, listen, BACKLOG, &fd, &own)) == EX_OK)
			rc = supervise(fd, nworkers, nthreads);
		ct_sock_release(&own);
	} else if ((fd = ct_sock_systemd(PROG)) >= 0) {
		rc = supervise(fd, nworkers, nthreads);
	} else if (fd == -2) {
		rc = EX_OSERR;
	} else if (ct_sock_is_listener(STDIN_FILENO)) {
		/* spawn-fcgi: fd 0 listens.  -F N there forks us N times. */
		rc = wset ? supervise(0, nworkers, nthreads) : work(0, nthreads);
	} else {
		rc = serve_cgi();
	}
	ct_conf_free(&c);
	return rc;
}
