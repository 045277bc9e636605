/*
 * sock.c — calltrail-token's listening socket: opened for --listen, or
 * taken from systemd (sd_listen_fds(3)'s protocol, without libsystemd:
 * LISTEN_PID must be ours, the first socket is fd 3) or from spawn-fcgi
 * (fd 0).  We open sockets ourselves rather than through libfcgi's
 * FCGX_OpenSocket, which exits with errno on a bind failure and names
 * neither the program nor the path.
 *
 * A unix socket path is someone's: --listen replaces an existing socket
 * file only when a connect() to it is refused (its server is gone), and
 * at exit removes the file only if it is still the one this process
 * bound (same inode), so a second instance can neither cut off a live
 * first one nor delete its socket on the way out.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "sock.h"

#define SD_LISTEN_FDS_START 3

void
ct_sock_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
ct_sock_is_listener(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

/* Does a server answer on the unix socket at sa? */
static int
answers(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), rc;

	if (fd < 0)
		return 1;   /* cannot tell: assume it is alive */
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	/* Refused: nobody listens.  Anything else (connected, or a full
	 * backlog: EAGAIN) means a live server. */
	return !(rc != 0 && (errno == ECONNREFUSED || errno == ENOENT));
}

static int
listen_unix(const char *prog, const char *path, int backlog, int *fdp,
            struct ct_sock_owned *own)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, rc, tries;

	if (*path == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: --listen unix:%s: bad socket path (1 to %zu bytes)\n",
		        prog, path, sizeof(sa.sun_path) - 1);
		return EX_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "%s: cannot listen on %s: socket: %s\n", prog, path, strerror(errno));
		return EX_OSERR;
	}
	for (tries = 0;; tries++) {
		/* nginx's user reaches it through the group: 0660 from the
		 * start, no window with a wider mode. */
		old = umask(0117);
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		umask(old);
		if (rc == 0)
			break;
		if (errno != EADDRINUSE || tries > 0)
			goto fail;
		if (lstat(path, &st) != 0) {
			if (errno == ENOENT)
				continue;   /* gone meanwhile: bind again */
			goto fail;
		}
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "%s: cannot listen on %s: the path exists and is not a "
			        "socket; not replacing it\n", prog, path);
			close(fd);
			return EX_UNAVAILABLE;
		}
		if (answers(&sa)) {
			fprintf(stderr, "%s: cannot listen on %s: another process serves this "
			        "socket; stop it first or choose another --listen path\n",
			        prog, path);
			close(fd);
			return EX_UNAVAILABLE;
		}
		/* A stale socket a dead server left: ours to replace. */
		if (unlink(path) != 0 && errno != ENOENT)
			goto fail;
	}
	if (listen(fd, backlog) != 0 || lstat(path, &st) != 0)
		goto fail;
	if ((own->path = strdup(path)) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	own->dev = st.st_dev;
	own->ino = st.st_ino;
	*fdp = fd;
	return EX_OK;
fail:
	fprintf(stderr, "%s: cannot listen on %s: %s\n", prog, path, strerror(errno));
	close(fd);
	return errno == EADDRINUSE ? EX_UNAVAILABLE : EX_OSERR;
}

static int
listen_tcp(const char *prog, const char *addr, int backlog, int *fdp)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints, *res = NULL, *ai;
	size_t hl;
	int fd = -1, one = 1, rc, err = 0;

	if (colon == NULL || colon == addr || colon[1] == '\0' ||
	    (hl = (size_t)(colon - addr)) >= sizeof(host)) {
		fprintf(stderr, "%s: --listen %s: want unix:PATH or HOST:PORT\n", prog, addr);
		return EX_USAGE;
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {   /* [::1]:9000 */
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		fprintf(stderr, "%s: --listen %s: %s\n", prog, addr, gai_strerror(rc));
		return EX_USAGE;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0) {
			err = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot listen on %s: %s\n", prog, addr, strerror(err));
		return err == EADDRINUSE ? EX_UNAVAILABLE : EX_OSERR;
	}
	*fdp = fd;
	return EX_OK;
}

int
ct_sock_listen(const char *prog, const char *addr, int backlog, int *fd,
               struct ct_sock_owned *own)
{
	memset(own, 0, sizeof(*own));
	if (strncmp(addr, "unix:", 5) == 0)
		return listen_unix(prog, addr + 5, backlog, fd, own);
	return listen_tcp(prog, addr, backlog, fd);
}

void
ct_sock_release(struct ct_sock_owned *own)
{
	struct stat st;

	if (own->path && lstat(own->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == own->dev && st.st_ino == own->ino)
		unlink(own->path);
	free(own->path);
	own->path = NULL;
}

int
ct_sock_systemd(const char *prog)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long p, n;

	if (pid == NULL || fds == NULL)
		return -1;
	errno = 0;
	p = strtol(pid, &end, 10);
	if (errno || *end || p != (long)getpid())
		return -1;   /* meant for another process */
	n = strtol(fds, &end, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (*end || n < 1)
		return -1;
	if (n > 1)
		fprintf(stderr, "%s: LISTEN_FDS=%ld: serving fd %d, the first, only\n",
		        prog, n, SD_LISTEN_FDS_START);
	if (fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC) != 0 ||
	    !ct_sock_is_listener(SD_LISTEN_FDS_START)) {
		fprintf(stderr, "%s: LISTEN_FDS: fd %d is not a listening socket\n",
		        prog, SD_LISTEN_FDS_START);
		return -2;
	}
	return SD_LISTEN_FDS_START;
}
