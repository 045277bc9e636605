/*
 * sock.h — where calltrail-token's listening socket comes from (sock.c):
 * --listen (we open it), systemd's socket activation (fd 3), or
 * spawn-fcgi (fd 0).  Program-side code: the functions here print their
 * one-line messages to stderr, prefixed with the program's name.
 */
#ifndef CT_SOCK_H
#define CT_SOCK_H

#include <sys/types.h>

/* The unix socket file this process created, to remove at exit. */
struct ct_sock_owned {
	char *path;          /* NULL: nothing to remove */
	dev_t dev;
	ino_t ino;
};

/* Raise RLIMIT_NOFILE's soft limit to the hard one (quietly: what we
 * got is what loop.c sizes its connection limit from). */
void ct_sock_raise_nofile(void);

/*
 * Open the --listen socket addr ("unix:PATH" or "HOST:PORT"), listening
 * with backlog.  A unix socket is made mode 0660; an existing socket file
 * is replaced only when nothing answers on it (a connect() test), and
 * never a file that is not a socket.  Returns a sysexits code: EX_OK
 * with *fd and *own set; EX_USAGE for a bad address; EX_UNAVAILABLE when
 * another process serves the path or the port is taken; EX_OSERR for
 * any other failure.  Every failure prints one line naming prog and the
 * address.
 */
int ct_sock_listen(const char *prog, const char *addr, int backlog, int *fd,
                   struct ct_sock_owned *own);

/* Remove the socket file in own only if it is still the one we created
 * (same device and inode: another instance may have replaced it). */
void ct_sock_release(struct ct_sock_owned *own);

/*
 * The socket systemd passed (LISTEN_FDS, LISTEN_PID == our pid): fd 3,
 * made close-on-exec, the variables removed so no child takes them too.
 * -1 when systemd passed nothing to us; -2 (after a message) when what
 * it passed is not a listening stream socket.
 */
int ct_sock_systemd(const char *prog);

/* Is fd a listening socket (spawn-fcgi's fd 0)? */
int ct_sock_is_listener(int fd);

#endif /* CT_SOCK_H */
