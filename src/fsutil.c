/* fsutil.c — the file system habits every writer in calltrail shares:
 * whole writes, durable renames (mkstemp -> write -> fsync -> rename ->
 * fsync(dir), as acme-client's fileproc and OpenSMTPD's queue do) and
 * bounded reads. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calltrail.h"

int
ct_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ct_fsync_dir(const char *dir, char *err)
{
	int fd, rc = CT_OK;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", dir,
		                 strerror(errno));
	if (fsync(fd) < 0)
		rc = ct_seterr(err, CT_ERR_IO, "fsync \"%s\" failed: %s", dir,
		               strerror(errno));
	close(fd);
	return rc;
}

int
ct_mkdirs(const char *path, mode_t mode, char *err)
{
	char p[PATH_MAX];
	size_t n = strlen(path), i;

	if (n == 0 || n >= sizeof(p))
		return ct_seterr(err, CT_ERR_INPUT, "bad directory path");
	memcpy(p, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return ct_seterr(err, CT_ERR_IO, "mkdir \"%s\" failed: %s",
			                 p, strerror(errno));
		p[i] = i < n ? '/' : '\0';
	}
	return CT_OK;
}

int
ct_file_read(const char *path, size_t max, struct ct_buf *b, char *err)
{
	char chunk[65536];
	ssize_t n;
	int fd, rc = CT_OK;

	ct_buf_reset(b);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return ct_seterr(err, errno == ENOENT ? CT_ERR_NOTFOUND : CT_ERR_IO,
		                 "open \"%s\" failed: %s", path, strerror(errno));
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ct_seterr(err, CT_ERR_IO, "read \"%s\" failed: %s",
			               path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (b->len + (size_t)n > max) {
			rc = ct_seterr(err, CT_ERR_TOOBIG,
			               "\"%s\" is larger than %zu bytes", path, max);
			goto out;
		}
		if ((rc = ct_buf_add(b, chunk, (size_t)n)) != CT_OK) {
			ct_seterr(err, rc, "read \"%s\": %s", path, ct_strerror(rc));
			goto out;
		}
	}
	if (b->p == NULL && (rc = ct_buf_add(b, "", 0)) != CT_OK)
		ct_seterr(err, rc, "read \"%s\": %s", path, ct_strerror(rc));
out:
	close(fd);
	return rc;
}

int
ct_file_put(const char *path, const void *data, size_t len, mode_t mode,
            char *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd = -1, rc = CT_ERR_IO;

	if (snprintf(tmp, sizeof(tmp), "%.*s.tmp-XXXXXX",
	             (int)(slash ? slash - path + 1 : 0), path) >= (int)sizeof(tmp) ||
	    strlen(path) >= sizeof(dir))
		return ct_seterr(err, CT_ERR_INPUT, "path too long: \"%s\"", path);
	if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash ? slash - path : 1),
		         slash ? path : ".");
	if ((fd = mkstemp(tmp)) < 0) {
		ct_seterr(err, rc, "create a temporary file in \"%s\" failed: %s",
		          dir, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	if (fchmod(fd, mode) < 0 || ct_write_full(fd, data, len) < 0 ||
	    fsync(fd) < 0) {
		ct_seterr(err, rc, "write \"%s\" failed: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		ct_seterr(err, rc, "close \"%s\" failed: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		ct_seterr(err, rc, "rename \"%s\" to \"%s\" failed: %s", tmp, path,
		          strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	rc = ct_fsync_dir(dir, err);
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	return rc;
}
