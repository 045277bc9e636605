/*
 * main.c — calltrail-token: the socket, the workers and the accept loop.
 * What a request means is handler.c's business; this file only moves
 * bytes between a web server and the handler.
 *
 * Three ways to run (SPEC section 3):
 *
 *   --listen unix:PATH | HOST:PORT   we open the socket, fork --workers
 *                                    processes and respawn any that die;
 *   under spawn-fcgi                 fd 0 is the listening socket;
 *   as a plain CGI program           one request from the environment
 *                                    and stdin, then exit.
 *
 * Each worker process serves all its connections from one event loop
 * (loop.c; --threads N runs N loops), so nginx may keep as many FastCGI
 * connections open as it likes.  libfcgi gives us the socket (FCGX_OpenSocket)
 * and tells a CGI start from a FastCGI one (FCGX_IsCGI); the records are
 * fcgi.c's.
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

#include <fcgiapp.h>

#include "handler.h"
#include "loop.h"

#define PROG          "calltrail-token"
#define BACKLOG       1024
#define WORKERS_MAX   256
#define THREADS_MAX   256
#define THREADS_DEF   1

static const struct ct_conf *conf;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [-c FILE] [--listen unix:PATH|HOST:PORT] [--workers N] [--threads N]\n"
	    "       " PROG " --help | --version\n"
	    "\n"
	    "Mints LiveKit access tokens for the web form (POST /api/connection-details,\n"
	    "POST /api/token; GET /api/healthz).  Modes:\n"
	    "  --listen ADDR   open the FastCGI socket, fork --workers N workers (default:\n"
	    "                  online CPUs), each serving every connection it accepts\n"
	    "                  from --threads N event loops (default %d)\n"
	    "  (none)          under spawn-fcgi: fd 0 is the listening socket;\n"
	    "                  from a CGI server: answer one request and exit\n"
	    "Configuration: -c FILE, else $CALLTRAIL_CONF, else %s;\n"
	    "LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET override it.\n"
	    "See calltrail-token(8) and calltrail.conf(5).\n",
	    THREADS_DEF, ct_conf_default_path());
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
	return ct_loop_work(fd, nthreads, conf) == 0 ? EX_OK : EX_OSERR;
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
 * the signal on, wait for them (SIGKILL after 5 s) and return.  A worker
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
	deadline = mono_ms() + 5000;
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
			deadline = mono_ms() + 5000;
		}
		sigtimedwait(&set, NULL, &tick);
	}
	free(s);
	slots = NULL;
	return EX_OK;
}

/* Open the --listen socket; a stale unix socket file is removed first
 * (only a socket: never some other file a typo names). */
static int
open_listen(const char *addr, char **unixpath)
{
	struct stat st;
	const char *path;
	int fd;

	*unixpath = NULL;
	if (strncmp(addr, "unix:", 5) == 0) {
		path = addr + 5;
		if (*path == '\0' || strlen(path) >= 100) {
			fprintf(stderr, PROG ": --listen %s: bad socket path\n", addr);
			return -1;
		}
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
		if ((fd = FCGX_OpenSocket(path, BACKLOG)) < 0) {
			fprintf(stderr, PROG ": cannot listen on %s: %s\n", path, strerror(errno));
			return -1;
		}
		/* nginx's user reaches it through the group. */
		if (chmod(path, 0660) != 0)
			fprintf(stderr, PROG ": chmod %s: %s\n", path, strerror(errno));
		*unixpath = strdup(path);
		return fd;
	}
	if (strchr(addr, ':') == NULL) {
		fprintf(stderr, PROG ": --listen %s: want unix:PATH or HOST:PORT\n", addr);
		return -1;
	}
	if ((fd = FCGX_OpenSocket(addr, BACKLOG)) < 0)
		fprintf(stderr, PROG ": cannot listen on %s: %s\n", addr, strerror(errno));
	return fd;
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
	char *unixpath = NULL;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nworkers = ncpu > 0 ? (int)(ncpu > WORKERS_MAX ? WORKERS_MAX : ncpu) : 1;
	int nthreads = THREADS_DEF, wset = 0, i, fd, rc;

	ct_log_init(PROG);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return EX_OK;
		} else if (strcmp(a, "--version") == 0) {
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
			if (number(a, v, THREADS_MAX, &nthreads) != 0)
				return EX_USAGE;
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
	if (FCGX_Init() != 0) {
		fprintf(stderr, PROG ": FCGX_Init failed\n");
		return EX_OSERR;
	}
	if (listen) {
		if ((fd = open_listen(listen, &unixpath)) < 0)
			rc = EX_OSERR;
		else
			rc = supervise(fd, nworkers, nthreads);
		if (unixpath)
			unlink(unixpath);
		free(unixpath);
	} else if (!FCGX_IsCGI()) {
		/* spawn-fcgi: fd 0 listens.  -F N there forks us N times. */
		rc = wset ? supervise(0, nworkers, nthreads) : work(0, nthreads);
	} else {
		rc = serve_cgi();
	}
	ct_conf_free(&c);
	return rc;
}
