/*
 * spool-dir.c — the bottom layer of the spool (see ct_spool.h): the name
 * rule, opening the spool and its directories from descriptors with
 * O_NOFOLLOW, the owner check, the never-replacing rename and the
 * directory reader everybody who lists the spool uses.  The on-disk
 * format is described at the top of spool.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_spoolint.h"
#include "ct_time.h"
#include "ct_fs.h"

static const struct { const char *name; mode_t mode; } subdirs[] = {
	{ "tmp", CT_SPOOL_DROP_MODE }, { "new", CT_SPOOL_DROP_MODE },
	{ "cur", CT_SPOOL_PRIV_MODE }, { "sent", CT_SPOOL_PRIV_MODE },
	{ "failed", CT_SPOOL_PRIV_MODE },
};

/* Does n match <digits 1-20>.<digits 1-10>.<hex 1-64>.json ?  The names
 * come from readdir or from a caller, and end up in paths: nothing else
 * (no '/', no "..", no dotfile, no NAME.why) may pass. */
int ct_spool_is_record_name(const char *n)
{
	size_t k;

	for (k = 0; n[k] >= '0' && n[k] <= '9'; k++)
		;
	if (k < 1 || k > 20 || n[k] != '.')
		return 0;
	n += k + 1;
	for (k = 0; n[k] >= '0' && n[k] <= '9'; k++)
		;
	if (k < 1 || k > 10 || n[k] != '.')
		return 0;
	n += k + 1;
	for (k = 0; (n[k] >= '0' && n[k] <= '9') || (n[k] >= 'a' && n[k] <= 'f'); k++)
		;
	if (k < 1 || k > 64)
		return 0;
	return strcmp(n + k, ".json") == 0;
}

/* The UTC day number of a "YYYY-MM-DD" (a real date), or -1 when it is not
 * one: sent/ holds nothing else we read or remove. */
int64_t ct_spool_day_number(const char *d)
{
	char full[32];
	int64_t us;

	if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
		return -1;
	snprintf(full, sizeof(full), "%sT00:00:00Z", d);
	if (ct_time_parse(full, &us) != CT_OK || us < 0)
		return -1;
	return us / 86400000000LL;
}

/* Say why dir/name could not be opened as a directory. */
static int whynot(int dir, const char *path, const char *name, int e,
                  char *err)
{
	struct stat st;

	if (e == ENOENT)
		return ct_seterr(err, CT_ERR_NOTFOUND, "spool \"%s\": does not exist",
		                 path);
	if ((e == ELOOP || e == ENOTDIR) &&
	    fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return ct_seterr(err, CT_ERR_IO, "spool \"%s\" is a symlink; "
			                 "calltrail never follows one inside the spool",
			                 path);
		if (!S_ISDIR(st.st_mode))
			return ct_seterr(err, CT_ERR_IO, "spool \"%s\": not a directory",
			                 path);
	}
	return ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", path,
	                 strerror(e));
}

/* Open rel below the root, component by component; see ct_spoolint.h. */
int ct_spool_subdir(const struct ct_spool *s, const char *rel, int flags,
                    int *fd, char *path, char *err)
{
	char p[PATH_MAX], comp[NAME_MAX + 1];
	const char *c = rel, *slash;
	int at = s->rootfd, nfd, rc = CT_OK, last;
	size_t n;

	*fd = -1;
	if (snprintf(p, sizeof p, "%s/%s", s->dir, rel) >= (int)sizeof p)
		return ct_seterr(err, CT_ERR_TOOBIG, "path too long under \"%.200s\"",
		                 s->dir);
	if (path)
		snprintf(path, PATH_MAX, "%s", p);
	if (s->rootfd < 0)
		return ct_seterr(err, CT_ERR_INPUT, "spool \"%s\" is not open", s->dir);
	for (;;) {
		slash = strchr(c, '/');
		n = slash ? (size_t)(slash - c) : strlen(c);
		last = slash == NULL;
		if (n == 0 || n > NAME_MAX || (c[0] == '.' && (n == 1 ||
		    (n == 2 && c[1] == '.')))) {
			rc = ct_seterr(err, CT_ERR_INPUT, "spool \"%s\": bad path", p);
			break;
		}
		memcpy(comp, c, n);
		comp[n] = '\0';
		nfd = openat(at, comp, (last ? flags : O_PATH) | O_DIRECTORY |
		             O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			int e = errno;
			/* the path up to this component, for the message */
			snprintf(p, sizeof p, "%s/%.*s", s->dir,
			         (int)(c - rel + n), rel);
			rc = whynot(at, p, comp, e, err);
			break;
		}
		if (at != s->rootfd)
			close(at);
		at = nfd;
		if (last) {
			*fd = nfd;
			return CT_OK;
		}
		c = slash + 1;
	}
	if (at != s->rootfd)
		close(at);
	return rc;
}

/* Make sub (with mode) under the root when missing; refuse a symlink. */
static int mksub(struct ct_spool *s, const char *sub, mode_t mode, char *err)
{
	struct stat st;

	if (fstatat(s->rootfd, sub, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return ct_seterr(err, CT_ERR_IO, "spool \"%s/%s\" is a symlink; "
			                 "calltrail never follows one inside the spool",
			                 s->dir, sub);
		if (!S_ISDIR(st.st_mode))
			return ct_seterr(err, CT_ERR_IO, "spool \"%s/%s\": not a "
			                 "directory", s->dir, sub);
		return CT_OK;
	}
	if (errno != ENOENT)
		return ct_seterr(err, CT_ERR_IO, "spool \"%s/%s\": %s", s->dir, sub,
		                 strerror(errno));
	if (mkdirat(s->rootfd, sub, mode & 0777) < 0 && errno != EEXIST)
		return ct_seterr(err, CT_ERR_IO, "mkdir \"%s/%s\" failed: %s", s->dir,
		                 sub, strerror(errno));
	/* mkdir takes the umask off and ignores setgid: say it exactly. */
	if (fchmodat(s->rootfd, sub, mode, 0) < 0)
		return ct_seterr(err, CT_ERR_IO, "chmod \"%s/%s\" failed: %s", s->dir,
		                 sub, strerror(errno));
	return CT_OK;
}

/*
 * Open (and with create, make) the spool at dir.  s->dir is a copy, the
 * lock is not taken.  The root is held as an O_PATH descriptor, which
 * needs only search permission: an agent in the group (0710) gets one.
 */
int ct_spool_open(struct ct_spool *s, const char *dir, int create, char *err)
{
	struct stat st;
	size_t i;
	int rc, made = 0;

	s->dir = NULL;
	s->lockfd = -1;
	s->rootfd = -1;
	if (dir == NULL || dir[0] == '\0')
		return ct_seterr(err, CT_ERR_CONFIG, "spool_dir: empty");
	if (create && stat(dir, &st) < 0 && errno == ENOENT) {
		if ((rc = ct_mkdirs(dir, CT_SPOOL_ROOT_MODE, err)) != CT_OK)
			return rc;
		made = 1;
	}
	if ((s->dir = strdup(dir)) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "out of memory");
	if ((s->rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = ct_seterr(err, CT_ERR_IO, "spool \"%s\": %s", dir, strerror(errno));
		goto fail;
	}
	if (made && chmod(dir, CT_SPOOL_ROOT_MODE) < 0) {
		rc = ct_seterr(err, CT_ERR_IO, "chmod \"%s\" failed: %s", dir,
		               strerror(errno));
		goto fail;
	}
	/* A writer needs tmp/ and new/ only: an agent (not the owner) must
	 * not fail on the exporter's directories, which it may not make and
	 * never uses.  The owner's put (e.g. the first, making the spool)
	 * still prepares the whole spool. */
	if (create == CT_SPOOL_CREATE_DROP && fstat(s->rootfd, &st) == 0 &&
	    st.st_uid == geteuid())
		create = CT_SPOOL_CREATE_ALL;
	for (i = 0; create && i < sizeof subdirs / sizeof subdirs[0]; i++) {
		if (create == CT_SPOOL_CREATE_DROP &&
		    subdirs[i].mode != CT_SPOOL_DROP_MODE)
			continue;
		if ((rc = mksub(s, subdirs[i].name, subdirs[i].mode, err)) != CT_OK)
			goto fail;
	}
	return CT_OK;
fail:
	ct_spool_close(s);
	return rc;
}

/* Release the lock (if held), the root and the copy of the path. */
void ct_spool_close(struct ct_spool *s)
{
	if (s->lockfd >= 0)
		close(s->lockfd);
	s->lockfd = -1;
	if (s->dir != NULL && s->rootfd >= 0)
		close(s->rootfd);
	s->rootfd = -1;
	free(s->dir);
	s->dir = NULL;
}

/* The owner of the spool, or CT_OK when it does not exist yet. */
int ct_spool_check_owner(const char *dir, uid_t *owner, char *err)
{
	struct passwd *pw;
	struct stat st;
	char who[64], me[64];
	uid_t uid = geteuid();

	if (dir == NULL || dir[0] == '\0')
		return ct_seterr(err, CT_ERR_CONFIG, "spool_dir: empty");
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return CT_OK;
		return ct_seterr(err, CT_ERR_IO, "spool \"%s\": %s", dir,
		                 strerror(errno));
	}
	if (owner)
		*owner = st.st_uid;
	if (st.st_uid == uid)
		return CT_OK;
	pw = getpwuid(st.st_uid);
	snprintf(who, sizeof who, "%s", pw ? pw->pw_name : "");
	pw = getpwuid(uid);
	snprintf(me, sizeof me, "%s", pw ? pw->pw_name : "");
	return ct_seterr(err, CT_ERR_PERM, "spool \"%s\" belongs to %s%s(uid %lu), "
	                 "not to %s%s(uid %lu)", dir, who, who[0] ? " " : "",
	                 (unsigned long)st.st_uid, me, me[0] ? " " : "",
	                 (unsigned long)uid);
}

/* Rename dir a/name to dir b/name, never replacing. */
int ct_spool_moveat(int a, const char *an, int b, const char *bn,
                    const char *name, char *err)
{
	if (ct_rename_noreplace(a, name, b, name) == 0)
		return CT_OK;
	return ct_seterr(err, CT_ERR_IO, "rename \"%s/%s\" to \"%s/%s\" failed: %s",
	                 an, name, bn, name, strerror(errno));
}

/* fsync an open directory so the renames into or out of it are durable. */
int ct_spool_syncfd(int fd, const char *dir, char *err)
{
	if (fsync(fd) < 0)
		return ct_seterr(err, CT_ERR_IO, "fsync \"%s\" failed: %s", dir,
		                 strerror(errno));
	return CT_OK;
}

/* ---- the directory reader ------------------------------------------ */

static const char *const arearel[] = { "new", "cur", "failed", "sent", "sent" };

int ct_spool_dir_open(struct ct_spool *s, enum ct_spool_area area,
                      const char *day, struct ct_spool_dir *d, char *err)
{
	char rel[32];
	DIR *dp;
	int fd, rc;

	d->fd = -1;
	d->dir_ = NULL;
	d->area_ = (int)area;
	d->path[0] = '\0';
	if ((unsigned)area > CT_SPOOL_SENT_DAY)
		return ct_seterr(err, CT_ERR_INPUT, "spool: no such area");
	if (area == CT_SPOOL_SENT_DAY) {
		if (day == NULL || ct_spool_day_number(day) < 0)
			return ct_seterr(err, CT_ERR_INPUT, "not a day: \"%.16s\"",
			                 day ? day : "");
		snprintf(rel, sizeof rel, "sent/%s", day);
	} else
		snprintf(rel, sizeof rel, "%s", arearel[area]);
	if ((rc = ct_spool_subdir(s, rel, O_RDONLY, &fd, d->path, err)) != CT_OK)
		return rc;
	if ((dp = fdopendir(fd)) == NULL) {
		rc = ct_seterr(err, errno == ENOMEM ? CT_ERR_NOMEM : CT_ERR_IO,
		               "opendir \"%s\" failed: %s", d->path, strerror(errno));
		close(fd);
		return rc;
	}
	d->dir_ = dp;
	d->fd = fd;
	return CT_OK;
}

int ct_spool_dir_next(struct ct_spool_dir *d, const char **name, char *err)
{
	struct dirent *de;
	struct stat st;
	int sent = d->area_ == CT_SPOOL_SENT, type;

	*name = NULL;
	if (d->dir_ == NULL)
		return ct_seterr(err, CT_ERR_INPUT, "spool reader is not open");
	for (;;) {
		errno = 0;
		if ((de = readdir(d->dir_)) == NULL) {
			if (errno != 0)
				return ct_seterr(err, CT_ERR_IO, "read \"%s\" failed: %s",
				                 d->path, strerror(errno));
			return CT_OK;
		}
		if (sent ? ct_spool_day_number(de->d_name) < 0
		         : !ct_spool_is_record_name(de->d_name))
			continue;
		type = de->d_type;
		if (type == DT_UNKNOWN) {
			if (fstatat(d->fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;   /* gone since readdir */
			type = S_ISLNK(st.st_mode) ? DT_LNK : S_ISDIR(st.st_mode) ? DT_DIR
			     : S_ISREG(st.st_mode) ? DT_REG : DT_FIFO;
		}
		if (type == DT_LNK) {
			*name = de->d_name;
			return ct_seterr(err, CT_ERR_IO, "spool \"%s/%s\" is a symlink; "
			                 "calltrail never follows one inside the spool",
			                 d->path, de->d_name);
		}
		if (type != (sent ? DT_DIR : DT_REG))
			continue;
		*name = de->d_name;
		return CT_OK;
	}
}

void ct_spool_dir_close(struct ct_spool_dir *d)
{
	if (d->dir_ != NULL)
		closedir(d->dir_);
	else if (d->fd >= 0)
		close(d->fd);
	d->dir_ = NULL;
	d->fd = -1;
}

void ct_spool_keep(int *rc, char *err, int code, const char *e)
{
	if (*rc != CT_OK || code == CT_OK)
		return;
	*rc = code;
	if (err)
		snprintf(err, CT_ERRLEN, "%s", e);
}
