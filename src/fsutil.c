/* fsutil.c — the file system habits every writer in calltrail shares:
 * whole writes, bounded reads and the one durable-write primitive
 * (ct_dw_*: temporary file -> write -> fsync -> rename -> fsync(dir), as
 * acme-client's fileproc and OpenSMTPD's queue do), which the spool
 * writer, the file target and the CSV writer all use.  It works from
 * directory descriptors, so a caller that reached a directory with
 * O_NOFOLLOW never follows a symlink, and removes its temporary file on
 * every failure path. */
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
ct_file_read_at(int dirfd, const char *name, const char *label, size_t max,
                struct ct_buf *b, char *err)
{
	char chunk[65536];
	ssize_t n;
	int fd, rc = CT_OK;

	ct_buf_reset(b);
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return ct_seterr(err, errno == ENOENT ? CT_ERR_NOTFOUND : CT_ERR_IO,
		                 "open \"%s\" failed: %s%s", label, strerror(errno),
		                 errno == ELOOP ? " (a symlink: never followed)" : "");
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ct_seterr(err, CT_ERR_IO, "read \"%s\" failed: %s",
			               label, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (b->len + (size_t)n > max) {
			rc = ct_seterr(err, CT_ERR_TOOBIG,
			               "\"%s\" is larger than %zu bytes", label, max);
			goto out;
		}
		if ((rc = ct_buf_add(b, chunk, (size_t)n)) != CT_OK) {
			ct_seterr(err, rc, "read \"%s\": %s", label, ct_strerror(rc));
			goto out;
		}
	}
	if (b->p == NULL && (rc = ct_buf_add(b, "", 0)) != CT_OK)
		ct_seterr(err, rc, "read \"%s\": %s", label, ct_strerror(rc));
out:
	close(fd);
	return rc;
}

int
ct_file_read(const char *path, size_t max, struct ct_buf *b, char *err)
{
	return ct_file_read_at(AT_FDCWD, path, path, max, b, err);
}

/* ---- the durable-write primitive ------------------------------------ */

/* Is name a temporary file of ct_dw_open (".tmp-" and 16 lower-case hex,
 * nothing else)?  No record ("<ns>.<pid>.<hex>.json") and no object
 * ("..._<12 hex>.json.gz") can match, so a sweep that deletes only such
 * names cannot delete data whatever it is called. */
int
ct_tmp_name(const char *name)
{
	size_t i;

	if (strncmp(name, CT_TMP_PREFIX, sizeof CT_TMP_PREFIX - 1) != 0)
		return 0;
	name += sizeof CT_TMP_PREFIX - 1;
	for (i = 0; i < 16; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return name[16] == '\0';
}

int
ct_dw_open(struct ct_dw *w, int dirfd, const char *dirpath, const char *name,
           mode_t mode, char *err)
{
	char rnd[17];
	int tries, rc;

	w->fd = -1;
	w->dirfd = dirfd;
	w->name[0] = '\0';
	snprintf(w->dir, sizeof w->dir, "%s", dirpath);
	for (tries = 0; tries < 8; tries++) {
		if (name != NULL) {
			if (strlen(name) >= sizeof w->name || strchr(name, '/'))
				return ct_seterr(err, CT_ERR_INPUT, "bad file name \"%.64s\"",
				                 name);
			snprintf(w->name, sizeof w->name, "%s", name);
		} else {
			if ((rc = ct_id_hex(rnd, 8)) != CT_OK)
				return ct_seterr(err, rc, "create a file in \"%s\": no random "
				                 "bytes", dirpath);
			snprintf(w->name, sizeof w->name, CT_TMP_PREFIX "%s", rnd);
		}
		w->fd = openat(dirfd, w->name, O_WRONLY | O_CREAT | O_EXCL |
		               O_NOFOLLOW | O_CLOEXEC, mode & 0777);
		if (w->fd >= 0)
			break;
		if (errno != EEXIST || name != NULL)
			break;
	}
	if (w->fd < 0) {
		/* Not ours (EEXIST) or never made: nothing to remove. */
		rc = ct_seterr(err, CT_ERR_IO, "create \"%s/%s\" failed: %s", dirpath,
		               w->name, strerror(errno));
		w->name[0] = '\0';
		return rc;
	}
	/* The umask may only take bits away; say exactly mode. */
	if (fchmod(w->fd, mode) < 0) {
		rc = ct_seterr(err, CT_ERR_IO, "chmod \"%s/%s\" failed: %s", dirpath,
		               w->name, strerror(errno));
		ct_dw_abort(w);
		return rc;
	}
	return CT_OK;
}

int
ct_dw_write(struct ct_dw *w, const void *data, size_t len, char *err)
{
	if (ct_write_full(w->fd, data, len) < 0)
		return ct_seterr(err, CT_ERR_IO, "write \"%s/%s\" failed: %s", w->dir,
		                 w->name, strerror(errno));
	return CT_OK;
}

int
ct_dw_sync(struct ct_dw *w, char *err)
{
	int e;

	/* Some file systems report a full disk only at fsync or close. */
	e = fsync(w->fd) < 0 ? errno : 0;
	if (close(w->fd) < 0 && e == 0)
		e = errno;
	w->fd = -1;
	if (e != 0)
		return ct_seterr(err, CT_ERR_IO, "write \"%s/%s\" failed: %s", w->dir,
		                 w->name, strerror(e));
	return CT_OK;
}

/* Make a rename into dir (any descriptor of it, O_PATH too) durable: fsync
 * the directory, or, when this user may not open it for reading (an agent
 * and the spool's new/, mode 3730), syncfs(2) the file system through the
 * file just renamed into it. */
static int
syncdir(int dirfd, const char *dirpath, const char *name, char *err)
{
	int fd, rc = CT_OK;

	if (fsync(dirfd) == 0)
		return CT_OK;
	if (errno != EBADF)
		return ct_seterr(err, CT_ERR_IO, "fsync \"%s\" failed: %s", dirpath,
		                 strerror(errno));
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) < 0)
			rc = ct_seterr(err, CT_ERR_IO, "fsync \"%s\" failed: %s",
			               dirpath, strerror(errno));
		close(fd);
		return rc;
	}
	if (errno != EACCES)
		return ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", dirpath,
		                 strerror(errno));
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return ct_seterr(err, CT_ERR_IO, "open \"%s/%s\" failed: %s", dirpath,
		                 name, strerror(errno));
	if (syncfs(fd) < 0)
		rc = ct_seterr(err, CT_ERR_IO, "syncfs for \"%s\" failed: %s",
		               dirpath, strerror(errno));
	close(fd);
	return rc;
}

int
ct_dw_commit(struct ct_dw *w, int todir, const char *todirpath, const char *to,
             int flags, char *err)
{
	struct stat st;
	int r;

	if (flags & CT_DW_NOREPLACE) {
		r = renameat2(w->dirfd, w->name, todir, to, RENAME_NOREPLACE);
		if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
			/* No RENAME_NOREPLACE here: check, then rename. */
			if (fstatat(todir, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				errno = EEXIST;
				r = -1;
			} else
				r = renameat(w->dirfd, w->name, todir, to);
		}
	} else
		r = renameat(w->dirfd, w->name, todir, to);
	if (r < 0)
		return ct_seterr(err, CT_ERR_IO, "rename \"%s/%s\" to \"%s/%s\" "
		                 "failed: %s", w->dir, w->name, todirpath, to,
		                 strerror(errno));
	w->name[0] = '\0';
	if (flags & CT_DW_NOSYNCDIR)
		return CT_OK;
	return syncdir(todir, todirpath, to, err);
}

void
ct_dw_abort(struct ct_dw *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->name[0])
		(void)unlinkat(w->dirfd, w->name, 0);
	w->name[0] = '\0';
}

int
ct_file_put_at(int dirfd, const char *dirpath, const char *name,
               const void *data, size_t len, mode_t mode, char *err)
{
	struct ct_dw w;
	int rc;

	if ((rc = ct_dw_open(&w, dirfd, dirpath, NULL, mode, err)) != CT_OK)
		return rc;
	if ((rc = ct_dw_write(&w, data, len, err)) != CT_OK ||
	    (rc = ct_dw_sync(&w, err)) != CT_OK ||
	    (rc = ct_dw_commit(&w, dirfd, dirpath, name, 0, err)) != CT_OK)
		ct_dw_abort(&w);
	return rc;
}

int
ct_file_put(const char *path, const void *data, size_t len, mode_t mode,
            char *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	int fd, rc;

	if (strlen(path) >= sizeof(dir) || name[0] == '\0')
		return ct_seterr(err, CT_ERR_INPUT, "bad file path: \"%.200s\"", path);
	if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash ? slash - path : 1),
		         slash ? path : ".");
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", dir,
		                 strerror(errno));
	rc = ct_file_put_at(fd, dir, name, data, len, mode, err);
	close(fd);
	return rc;
}
