/*
 * spool.c — the session spool on disk (SPEC section 4): its layout, put,
 * the lock, claim and recover.  The moves after a claim (done, fail,
 * unclaim) and prune are in spool-move.c.
 *
 * ON-DISK FORMAT
 *
 * The spool is one directory (default $localstatedir/spool/calltrail,
 * mode 0700: the agent and the exporter run as the same user):
 *
 *   tmp/NAME               being written by a writer; never read by anyone
 *   new/NAME               complete and immutable, waiting for export
 *   cur/NAME               claimed by the exporter that holds .lock
 *   sent/YYYY-MM-DD/NAME   exported; the day is end_time's UTC day;
 *                          removed by prune after keep_days
 *   failed/NAME            refused by the exporter, never deleted ...
 *   failed/NAME.why        ... beside one line saying why
 *   .lock                  empty file, flock(LOCK_EX) by the running exporter
 *
 * NAME is "<unix ns>.<pid>.<16 lower-case hex>.json", for example
 * "1761761045123456789.4242.9f86d081884c7d65.json": unique without any
 * coordination (a clock, the process and 64 CSPRNG bits), and sortable by
 * age (the leading number).  A record file holds exactly the bytes the
 * agent handed over — one JSON object of at most 1 MiB — with mode 0600.
 * Directories are created 0700.
 *
 * Every file that readdir(3) reports is checked before it is touched: only
 * regular files (lstat, never following a symlink) whose name matches the
 * NAME pattern are records; dotfiles and anything else are left alone.
 *
 * TRANSITIONS
 *
 * Each step is one rename(2) (atomic; RENAME_NOREPLACE where the file
 * system has it, so an existing record is never overwritten), followed by
 * an fsync of the destination directory and then of the source, so that a
 * crash at any moment leaves a record in exactly one of new/, cur/,
 * sent/DAY/ or failed/ (tmp/ only before put's rename).  Steps taken for
 * many records at once (claim, recover, ct_spool_done_many,
 * ct_spool_unclaim_many) rename them all first and then fsync each
 * destination once and the source once; no record of the batch is
 * reported moved before those fsyncs succeeded:
 *
 *   put      tmp/NAME -> new/NAME       write, fsync, rename, fsync new/
 *   claim    new/NAME -> cur/NAME       lock held; oldest first
 *   recover  cur/NAME -> new/NAME       lock held; a crashed run's leftovers
 *                                       (NAME in new/ too: recover_both)
 *   unclaim  cur/NAME -> new/NAME       left for the next run
 *   done     cur/NAME -> sent/DAY/NAME  after the side effect is confirmed
 *   fail     cur/NAME -> failed/NAME    NAME.why is written first, so a
 *                                       crash leaves the record in cur/
 *                                       (retried), never in failed/ unsaid
 *   prune    sent/DAY removed when DAY < (UTC day of now) - keep_days
 *
 * A writer that died between create and rename leaves tmp/NAME behind;
 * recover removes such files once they are 36 hours old (the Maildir
 * rule), because no writer takes that long.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ct_spool.h"
#include "ct_spoolint.h"

#define TMP_STALE_SECONDS (36 * 3600)

static const char *const subdirs[] = { "tmp", "new", "cur", "sent", "failed" };

/* Build a path into out (PATH_MAX bytes); CT_ERR_TOOBIG when it is cut. */
int ct_spool_mkpath(char *out, char *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		return ct_seterr(err, CT_ERR_TOOBIG, "path too long under \"%.200s\"",
		                 out);
	return CT_OK;
}

/* Does n match <digits 1-20>.<digits 1-10>.<hex 1-64>.json ?  The names
 * come from readdir or from a caller, and end up in paths: nothing else
 * (no '/', no "..", no dotfile) may pass. */
int ct_spool_valid_name(const char *n)
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
 * one: sent/ holds nothing else we may remove. */
int64_t ct_spool_day_number(const char *d)
{
	char full[32];
	int64_t us;

	if (strlen(d) != 10)
		return -1;
	snprintf(full, sizeof(full), "%sT00:00:00Z", d);
	if (ct_time_parse(full, &us) != CT_OK || us < 0)
		return -1;
	return us / 86400000000LL;
}

/* rename(2) that never replaces an existing file. */
static int move(const char *from, const char *to, char *err)
{
	struct stat st;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return CT_OK;
	if (errno == EINVAL || errno == ENOSYS) {
		/* No RENAME_NOREPLACE here: check, then rename.  Names are
		 * unique, so the window only matters for a broken spool. */
		if (lstat(to, &st) == 0)
			errno = EEXIST;
		else if (rename(from, to) == 0)
			return CT_OK;
	}
	return ct_seterr(err, CT_ERR_IO, "rename \"%s\" to \"%s\" failed: %s",
	                 from, to, strerror(errno));
}

/* move() between two open directories: rename dir a/name to dir b/name,
 * never replacing.  an and bn name the directories for the message. */
int ct_spool_moveat(int a, const char *an, int b, const char *bn,
                  const char *name, char *err)
{
	struct stat st;

	if (renameat2(a, name, b, name, RENAME_NOREPLACE) == 0)
		return CT_OK;
	if (errno == EINVAL || errno == ENOSYS) {
		if (fstatat(b, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			errno = EEXIST;
		else if (renameat(a, name, b, name) == 0)
			return CT_OK;
	}
	return ct_seterr(err, CT_ERR_IO, "rename \"%s/%s\" to \"%s/%s\" failed: %s",
	                 an, name, bn, name, strerror(errno));
}

/* Open a directory of the spool for renameat and fsync. */
int ct_spool_opendirfd(const char *dir, int *fd, char *err)
{
	if ((*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", dir,
		                 strerror(errno));
	return CT_OK;
}

/* fsync an open directory so the renames into or out of it are durable. */
int ct_spool_syncfd(int fd, const char *dir, char *err)
{
	if (fsync(fd) < 0)
		return ct_seterr(err, CT_ERR_IO, "fsync \"%s\" failed: %s", dir,
		                 strerror(errno));
	return CT_OK;
}

static int cmpname(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	unsigned long long nx = strtoull(x, NULL, 10), ny = strtoull(y, NULL, 10);

	if (nx != ny)
		return nx < ny ? -1 : 1;
	return strcmp(x, y);
}

void ct_spool_names_free(char **names)
{
	size_t i;

	if (names == NULL)
		return;
	for (i = 0; names[i]; i++)
		free(names[i]);
	free(names);
}

/* The record files of dir (at most cap), sorted oldest first, as a
 * NULL-terminated array.  A missing entry or a non-record is skipped. */
static int scan(const char *dir, size_t cap, char ***out, size_t *n, char *err)
{
	DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	char **v = NULL, **nv;
	size_t len = 0, alloc = 0;
	int rc = CT_OK;

	*out = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", dir,
		                 strerror(errno));
	while (len < cap) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				rc = ct_seterr(err, CT_ERR_IO, "read \"%s\" failed: %s",
				               dir, strerror(errno));
			break;
		}
		if (!ct_spool_valid_name(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (len + 2 > alloc) {
			alloc = alloc ? alloc * 2 : 64;
			if ((nv = realloc(v, alloc * sizeof(*v))) == NULL) {
				rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		if ((v[len] = strdup(de->d_name)) == NULL) {
			rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
			break;
		}
		v[++len] = NULL;
	}
	if (rc == CT_OK && v == NULL && (v = calloc(1, sizeof(*v))) == NULL)
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
	if (rc != CT_OK) {
		ct_spool_names_free(v);
		goto out;
	}
	qsort(v, len, sizeof(*v), cmpname);
	*out = v;
	*n = len;
out:
	closedir(d);
	return rc;
}

/*
 * Open (and with create, make) the spool at dir.  s->dir is a copy, the
 * lock is not taken.  Without create every subdirectory must exist.
 */
int ct_spool_open(struct ct_spool *s, const char *dir, int create, char *err)
{
	char p[PATH_MAX];
	struct stat st;
	size_t i;
	int rc;

	s->dir = NULL;
	s->lockfd = -1;
	if (dir == NULL || dir[0] == '\0')
		return ct_seterr(err, CT_ERR_CONFIG, "spool_dir: empty");
	if (create && (rc = ct_mkdirs(dir, 0700, err)) != CT_OK)
		return rc;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((rc = ct_spool_mkpath(p, err, "%s/%s", dir, subdirs[i])) != CT_OK)
			return rc;
		if (create && mkdir(p, 0700) < 0 && errno != EEXIST)
			return ct_seterr(err, CT_ERR_IO, "mkdir \"%s\" failed: %s", p,
			                 strerror(errno));
		if (stat(p, &st) < 0)
			return ct_seterr(err, CT_ERR_IO, "spool \"%s\": %s", p,
			                 strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return ct_seterr(err, CT_ERR_IO, "spool \"%s\": not a directory",
			                 p);
	}
	if ((s->dir = strdup(dir)) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "out of memory");
	return CT_OK;
}

/* Release the lock (if held) and the copy of the path. */
void ct_spool_close(struct ct_spool *s)
{
	if (s->lockfd >= 0)
		close(s->lockfd);
	s->lockfd = -1;
	free(s->dir);
	s->dir = NULL;
}

/*
 * Write one record by the Maildir rule.  On any failure nothing is left
 * in tmp/ or new/, and err names the path and the system's reason
 * ("No space left on device").
 */
int ct_spool_put(struct ct_spool *s, const void *data, size_t len,
                 char *path, char *err)
{
	char rnd[17], name[NAME_MAX + 1], tmp[PATH_MAX], dst[PATH_MAX];
	char newdir[PATH_MAX];
	struct timespec ts;
	int fd = -1, rc;

	path[0] = '\0';
	tmp[0] = '\0';
	if ((rc = ct_id_hex(rnd, 8)) != CT_OK) {
		ct_seterr(err, rc, "spool put: no random bytes: %s", ct_strerror(rc));
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, sizeof(name), "%llu.%ld.%s.json",
	         (unsigned long long)ts.tv_sec * 1000000000ULL +
	         (unsigned long long)ts.tv_nsec, (long)getpid(), rnd);
	if ((rc = ct_spool_mkpath(newdir, err, "%s/new", s->dir)) != CT_OK ||
	    (rc = ct_spool_mkpath(dst, err, "%s/new/%s", s->dir, name)) != CT_OK ||
	    (rc = ct_spool_mkpath(tmp, err, "%s/tmp/%s", s->dir, name)) != CT_OK) {
		tmp[0] = '\0';
		goto out;
	}
	rc = CT_ERR_IO;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		/* Not ours (EEXIST) or never made: nothing to remove. */
		ct_seterr(err, rc, "create \"%s\" failed: %s", tmp, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	/* The umask may only take bits away; say exactly 0600. */
	if (fchmod(fd, 0600) < 0 || ct_write_full(fd, data, len) < 0) {
		ct_seterr(err, rc, "write \"%s\" failed: %s", tmp, strerror(errno));
		goto out;
	}
	/* Some file systems report a full disk only at fsync or close. */
	if (fsync(fd) < 0) {
		ct_seterr(err, rc, "fsync \"%s\" failed: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		ct_seterr(err, rc, "close \"%s\" failed: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if ((rc = move(tmp, dst, err)) != CT_OK)
		goto out;
	tmp[0] = '\0';
	/* If new/ cannot be made durable, take the record back: the caller
	 * is told "failed" and keeps it, so it must not also be exported. */
	if ((rc = ct_fsync_dir(newdir, err)) != CT_OK) {
		unlink(dst);
		goto out;
	}
	snprintf(path, PATH_MAX, "%s", dst);
	rc = CT_OK;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	return rc;
}

/* Take .lock without waiting; held until ct_spool_close. */
int ct_spool_lock(struct ct_spool *s, char *err)
{
	char p[PATH_MAX];
	int fd = -1, rc;

	if (s->lockfd >= 0)
		return CT_OK;
	if ((rc = ct_spool_mkpath(p, err, "%s/.lock", s->dir)) != CT_OK)
		goto out;
	if ((fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		rc = ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", p,
		               strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			rc = ct_seterr(err, CT_ERR_BUSY,
			               "spool \"%s\" is locked by another run", s->dir);
		else
			rc = ct_seterr(err, CT_ERR_IO, "flock \"%s\" failed: %s", p,
			               strerror(errno));
		goto out;
	}
	s->lockfd = fd;
	fd = -1;
	rc = CT_OK;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/*
 * recover failed to move cur/NAME (ffd) to new/ (tfd): see whether NAME
 * is in both, and settle it if so.  A claim's
 * rename is new/ -> cur/, fsynced cur/ first, then new/: a crash between
 * the two on a file system without a journal can bring back both names
 * of the one file.  Then the cur/ name goes and the record stays in new/.
 * Two different files under one name cannot come from calltrail (names
 * are unique); the one in cur/ goes to failed/ with the reason, where
 * status counts it, so neither is lost and the runs go on.
 */
static int recover_both(struct ct_spool *s, int ffd, int tfd,
                        const char *name, char *err)
{
	struct stat a, b;

	if (fstatat(tfd, name, &b, AT_SYMLINK_NOFOLLOW) != 0 ||
	    fstatat(ffd, name, &a, AT_SYMLINK_NOFOLLOW) != 0)
		return CT_ERR_IO;   /* not in both: err says why the rename failed */
	if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		if (unlinkat(ffd, name, 0) != 0)
			return ct_seterr(err, CT_ERR_IO, "spool \"%s\": unlink cur/%s "
			                 "(also in new/) failed: %s", s->dir, name,
			                 strerror(errno));
		return CT_OK;
	}
	return ct_spool_fail(s, name, "left in cur/ by an interrupted run while "
	                     "a different record of the same name was in new/",
	                     err);
}

/* Move every record of from/ to to/ (both under the spool), at most cap;
 * the names moved go to *names when names is not NULL.  recover: a name
 * already in to/ is settled by recover_both, not an error.  Every rename
 * first, then one fsync of to/ and one of from/: a batch of any size costs
 * two fsyncs, and nothing is reported moved before both succeeded. */
static int moveall(struct ct_spool *s, const char *from, const char *to,
                   size_t cap, int recover, char ***names, size_t *n,
                   char *err)
{
	char fdir[PATH_MAX], tdir[PATH_MAX];
	char **v = NULL;
	size_t i = 0, cnt = 0;
	int rc, ffd = -1, tfd = -1;

	*n = 0;
	if (names)
		*names = NULL;
	if (s->lockfd < 0) {
		rc = ct_seterr(err, CT_ERR_INPUT,
		               "spool \"%s\": take the lock first", s->dir);
		goto out;
	}
	if ((rc = ct_spool_mkpath(fdir, err, "%s/%s", s->dir, from)) != CT_OK ||
	    (rc = ct_spool_mkpath(tdir, err, "%s/%s", s->dir, to)) != CT_OK ||
	    (rc = scan(fdir, cap, &v, &cnt, err)) != CT_OK)
		goto out;
	if (cnt > 0 && ((rc = ct_spool_opendirfd(fdir, &ffd, err)) != CT_OK ||
	                (rc = ct_spool_opendirfd(tdir, &tfd, err)) != CT_OK))
		goto out;
	for (i = 0; i < cnt; i++) {
		rc = ct_spool_moveat(ffd, fdir, tfd, tdir, v[i], err);
		if (rc != CT_OK && recover)
			rc = recover_both(s, ffd, tfd, v[i], err);
		if (rc != CT_OK)
			break;
	}
	/* Whatever moved is made durable, even when a later rename failed:
	 * the moved ones are then simply recovered by the next run. */
	if (i > 0) {
		char err2[CT_ERRLEN];
		int rc2 = ct_spool_syncfd(tfd, tdir, err2);
		if (rc2 == CT_OK)
			rc2 = ct_spool_syncfd(ffd, fdir, err2);
		if (rc == CT_OK && rc2 != CT_OK) {
			rc = rc2;
			if (err)
				snprintf(err, CT_ERRLEN, "%s", err2);
		}
	}
	if (rc != CT_OK)
		goto out;
	*n = cnt;
	if (names) {
		*names = v;
		v = NULL;
	}
out:
	if (ffd >= 0)
		close(ffd);
	if (tfd >= 0)
		close(tfd);
	ct_spool_names_free(v);
	return rc;
}

/* Remove tmp/ files a dead writer left; see "36 hours" above. */
static void sweep_tmp(struct ct_spool *s)
{
	char dir[PATH_MAX], p[PATH_MAX], **v = NULL;
	struct stat st;
	size_t i, n = 0;
	time_t now = time(NULL);

	if (ct_spool_mkpath(dir, NULL, "%s/tmp", s->dir) != CT_OK ||
	    scan(dir, CT_SPOOL_CLAIM_MAX, &v, &n, NULL) != CT_OK)
		return;
	for (i = 0; i < n; i++)
		if (ct_spool_mkpath(p, NULL, "%s/%s", dir, v[i]) == CT_OK &&
		    lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    now - st.st_mtime > TMP_STALE_SECONDS)
			unlink(p);
	ct_spool_names_free(v);
}

/* cur/ -> new/ for everything a crashed run left; lock required. */
int ct_spool_recover(struct ct_spool *s, size_t *n, char *err)
{
	int rc = moveall(s, "cur", "new", SIZE_MAX, 1, NULL, n, err);

	if (rc == CT_OK)
		sweep_tmp(s);
	return rc;
}

/* new/ -> cur/, oldest first, at most CT_SPOOL_CLAIM_MAX; lock required. */
int ct_spool_claim(struct ct_spool *s, char ***names, size_t *n, char *err)
{
	return moveall(s, "new", "cur", CT_SPOOL_CLAIM_MAX, 0, names, n, err);
}
