/*
 * awscred-proc.c — credential_process: a program named in the profile
 * that prints credentials as JSON on stdout,
 *   {"Version": 1, "AccessKeyId": …, "SecretAccessKey": …,
 *    "SessionToken": …, "Expiration": "RFC 3339"}
 * (AWS's "Sourcing credentials with an external process").
 *
 * The command line is split into words as botocore does (shlex, POSIX
 * rules) and run with posix_spawnp, never through a shell: a profile
 * value is not a script.  Its stdout is read up to CT_AWS_REPLY_MAX bytes
 * and for at most CT_AWS_PROC_TIMEOUT_S seconds, then it is killed; its
 * stderr is the caller's (the program's own messages are its business).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ct_awscredint.h"
#include "ct_time.h"

#define SRC "credential_process"
#define ARGV_MAX 64

extern char **environ;

int
ct_awscred_split(char *buf, char **argv, size_t max)
{
	char *r = buf, *w = buf;
	size_t n = 0;

	for (;;) {
		while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
			r++;
		if (*r == '\0')
			break;
		if (n + 1 >= max)
			return CT_ERR_INPUT;
		argv[n++] = w;
		while (*r && !(*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')) {
			if (*r == '\'') {
				for (r++; *r && *r != '\''; )
					*w++ = *r++;
				if (*r++ != '\'')
					return CT_ERR_INPUT;
			} else if (*r == '"') {
				for (r++; *r && *r != '"'; ) {
					/* inside "…" a backslash escapes only these */
					if (*r == '\\' && r[1] && strchr("\"\\$`\n", r[1]))
						r++;
					*w++ = *r++;
				}
				if (*r++ != '"')
					return CT_ERR_INPUT;
			} else if (*r == '\\') {
				if (*++r == '\0')
					return CT_ERR_INPUT;
				*w++ = *r++;
			} else {
				*w++ = *r++;
			}
		}
		if (*r)
			r++;            /* the blank that ended the word */
		*w++ = '\0';        /* words only shrink: w never passes r */
	}
	argv[n] = NULL;
	return n ? CT_OK : CT_ERR_INPUT;
}

/* Read the child's stdout into b until EOF, the cap or the deadline. */
static int
drain(int fd, struct ct_buf *b, char *err)
{
	int64_t deadline = ct_time_now_us() + CT_AWS_PROC_TIMEOUT_S * 1000000LL;
	char chunk[4096];

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - ct_time_now_us();
		ssize_t n;
		int rc;

		if (left <= 0)
			return ct_seterr(err, CT_ERR_TEMP, SRC ": the program did not finish "
			                 "within %d s", CT_AWS_PROC_TIMEOUT_S);
		rc = poll(&pfd, 1, (int)(left / 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return ct_seterr(err, CT_ERR_IO, SRC ": poll: %s", strerror(errno));
		if (rc == 0)
			continue;
		if ((n = read(fd, chunk, sizeof(chunk))) < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_seterr(err, CT_ERR_IO, SRC ": read: %s", strerror(errno));
		if (n == 0)
			break;
		if (b->len + (size_t)n > CT_AWS_REPLY_MAX) {
			OPENSSL_cleanse(chunk, sizeof(chunk));
			return ct_seterr(err, CT_ERR_REMOTE, SRC ": the program printed more "
			                 "than %d bytes", CT_AWS_REPLY_MAX);
		}
		rc = ct_buf_add(b, chunk, (size_t)n);
		OPENSSL_cleanse(chunk, sizeof(chunk));
		if (rc != CT_OK)
			return ct_seterr(err, rc, SRC ": %s", ct_strerror(rc));
	}
	return CT_OK;
}

int
ct_awscred_process(const char *cmdline, struct ct_awscred *out, char *err)
{
	posix_spawn_file_actions_t fa;
	char *line = NULL, *argv[ARGV_MAX];
	struct ct_buf b;
	int fds[2] = { -1, -1 }, rc, st, fa_ok = 0;
	pid_t pid = -1;

	ct_buf_init(&b, CT_AWS_REPLY_MAX + 1);
	if ((line = strdup(cmdline)) == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, SRC ": out of memory");
		goto out;
	}
	if (ct_awscred_split(line, argv, ARGV_MAX) != CT_OK) {
		rc = ct_seterr(err, CT_ERR_CONFIG, SRC ": the command line is empty, has an "
		               "unbalanced quote or more than %d words", ARGV_MAX - 1);
		goto out;
	}
	if (pipe2(fds, O_CLOEXEC) != 0 || posix_spawn_file_actions_init(&fa) != 0) {
		rc = ct_seterr(err, CT_ERR_IO, SRC ": pipe: %s", strerror(errno));
		goto out;
	}
	fa_ok = 1;
	/* stdin from /dev/null, stdout into the pipe; stderr stays ours */
	if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, fds[1], 1) != 0) {
		rc = ct_seterr(err, CT_ERR_NOMEM, SRC ": out of memory");
		goto out;
	}
	if ((rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ)) != 0) {
		pid = -1;
		rc = ct_seterr(err, CT_ERR_CONFIG, SRC ": cannot run \"%.200s\": %s", argv[0],
		               strerror(rc));
		goto out;
	}
	close(fds[1]);
	fds[1] = -1;
	if ((rc = drain(fds[0], &b, err)) != CT_OK)
		goto out;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		rc = ct_seterr(err, CT_ERR_CONFIG, SRC ": \"%.200s\" %s %d", argv[0],
		               WIFEXITED(st) ? "exited with status" : "was killed by signal",
		               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		goto out;
	}
	rc = ct_awscred_json(b.p ? b.p : "", b.len, SRC, 1, out, err);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (b.p)
		OPENSSL_cleanse(b.p, b.len);
	ct_buf_free(&b);
	if (line) {
		OPENSSL_cleanse(line, strlen(cmdline));
		free(line);
	}
	return rc;
}
