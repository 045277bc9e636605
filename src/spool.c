/*
 * spool.c — the session spool on disk (SPEC section 4).
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

#define TMP_STALE_SECONDS (36 * 3600)
#define WHY_MAX 4096

static const char *const subdirs[] = { "tmp", "new", "cur", "sent", "failed" };

static int mkpath(char *out, char *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Build a path into out (PATH_MAX bytes); CT_ERR_TOOBIG when it is cut. */
static int mkpath(char *out, char *err, const char *fmt, ...)
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
static int valid_name(const char *n)
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
static int64_t day_number(const char *d)
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
static int moveat(int a, const char *an, int b, const char *bn,
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
static int opendirfd(const char *dir, int *fd, char *err)
{
	if ((*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", dir,
		                 strerror(errno));
	return CT_OK;
}

/* fsync an open directory so the renames into or out of it are durable. */
static int syncfd(int fd, const char *dir, char *err)
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
		if (!valid_name(de->d_name))
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
		if ((rc = mkpath(p, err, "%s/%s", dir, subdirs[i])) != CT_OK)
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
	if ((rc = mkpath(newdir, err, "%s/new", s->dir)) != CT_OK ||
	    (rc = mkpath(dst, err, "%s/new/%s", s->dir, name)) != CT_OK ||
	    (rc = mkpath(tmp, err, "%s/tmp/%s", s->dir, name)) != CT_OK) {
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
	if ((rc = mkpath(p, err, "%s/.lock", s->dir)) != CT_OK)
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

/* Move every record of from/ to to/ (both under the spool), at most cap;
 * the names moved go to *names when names is not NULL.  Every rename
 * first, then one fsync of to/ and one of from/: a batch of any size costs
 * two fsyncs, and nothing is reported moved before both succeeded. */
static int moveall(struct ct_spool *s, const char *from, const char *to,
                   size_t cap, char ***names, size_t *n, char *err)
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
	if ((rc = mkpath(fdir, err, "%s/%s", s->dir, from)) != CT_OK ||
	    (rc = mkpath(tdir, err, "%s/%s", s->dir, to)) != CT_OK ||
	    (rc = scan(fdir, cap, &v, &cnt, err)) != CT_OK)
		goto out;
	if (cnt > 0 && ((rc = opendirfd(fdir, &ffd, err)) != CT_OK ||
	                (rc = opendirfd(tdir, &tfd, err)) != CT_OK))
		goto out;
	for (i = 0; i < cnt; i++)
		if ((rc = moveat(ffd, fdir, tfd, tdir, v[i], err)) != CT_OK)
			break;
	/* Whatever moved is made durable, even when a later rename failed:
	 * the moved ones are then simply recovered by the next run. */
	if (i > 0) {
		char err2[CT_ERRLEN];
		int rc2 = syncfd(tfd, tdir, err2);
		if (rc2 == CT_OK)
			rc2 = syncfd(ffd, fdir, err2);
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

	if (mkpath(dir, NULL, "%s/tmp", s->dir) != CT_OK ||
	    scan(dir, CT_SPOOL_CLAIM_MAX, &v, &n, NULL) != CT_OK)
		return;
	for (i = 0; i < n; i++)
		if (mkpath(p, NULL, "%s/%s", dir, v[i]) == CT_OK &&
		    lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    now - st.st_mtime > TMP_STALE_SECONDS)
			unlink(p);
	ct_spool_names_free(v);
}

/* cur/ -> new/ for everything a crashed run left; lock required. */
int ct_spool_recover(struct ct_spool *s, size_t *n, char *err)
{
	int rc = moveall(s, "cur", "new", SIZE_MAX, NULL, n, err);

	if (rc == CT_OK)
		sweep_tmp(s);
	return rc;
}

/* new/ -> cur/, oldest first, at most CT_SPOOL_CLAIM_MAX; lock required. */
int ct_spool_claim(struct ct_spool *s, char ***names, size_t *n, char *err)
{
	return moveall(s, "new", "cur", CT_SPOOL_CLAIM_MAX, names, n, err);
}

#define PENDING (-1)   /* a status: renamed, not yet durable */

/*
 * Move claimed records: cur/names[i] -> DIR/names[i], where DIR is the
 * spool's dirs[dirof[i]] (dirof NULL: dirs[0] for all), e.g. "new",
 * "failed" or "sent/2025-10-29".  The order is the crash-safety argument:
 *
 *   1. every rename (atomic: a record has one name, in cur/ or in DIR);
 *   2. one fsync of each destination directory that received a record,
 *      so its new name is durable before anything else happens;
 *   3. one fsync of cur/, so the old name is durably gone;
 *   4. only then status[i] = CT_OK.
 *
 * A crash before 2 leaves a record in cur/ (recovered by the next run)
 * or in DIR; a crash between 2 and 3 may leave a name in both, never in
 * neither.  So a batch of n records costs one fsync per distinct DIR
 * plus one, instead of two per record.  status[i] is CT_OK only for a
 * record whose move is durable; a failing rename does not stop the
 * others.  Returns CT_OK or the first failure (in err).
 */
static int finish_many(struct ct_spool *s, const char *const *names, size_t n,
                       const char *const *dirs, const size_t *dirof,
                       size_t ndirs, int *status, char *err)
{
	char cur[PATH_MAX], d[PATH_MAX], e[CT_ERRLEN];
	int curfd = -1, *fds = NULL, rc = CT_OK, rc2;
	unsigned char *moved = NULL;
	size_t i, k;

	for (i = 0; i < n; i++)
		status[i] = CT_ERR_IO;
	if (n == 0)
		return CT_OK;
	if ((fds = malloc(ndirs * sizeof *fds)) == NULL ||
	    (moved = calloc(ndirs, 1)) == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (k = 0; k < ndirs; k++)
		fds[k] = -1;
	if ((rc = mkpath(cur, err, "%s/cur", s->dir)) != CT_OK ||
	    (rc = opendirfd(cur, &curfd, err)) != CT_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		k = dirof ? dirof[i] : 0;
		if (!valid_name(names[i]))
			status[i] = ct_seterr(e, CT_ERR_INPUT,
			                      "not a spool record name: \"%.64s\"", names[i]);
		else if ((status[i] = mkpath(d, e, "%s/%s", s->dir, dirs[k])) != CT_OK ||
		         (fds[k] < 0 && (status[i] = opendirfd(d, &fds[k], e)) != CT_OK) ||
		         (status[i] = moveat(curfd, cur, fds[k], d, names[i], e)) != CT_OK)
			;
		else {
			status[i] = PENDING;
			moved[k] = 1;
			continue;
		}
		if (rc == CT_OK) {
			rc = status[i];
			if (err)
				snprintf(err, CT_ERRLEN, "%s", e);
		}
	}
	/* 2: each destination that received a record, once. */
	for (k = 0; k < ndirs; k++) {
		if (!moved[k])
			continue;
		if (mkpath(d, e, "%s/%s", s->dir, dirs[k]) != CT_OK ||
		    (rc2 = syncfd(fds[k], d, e)) == CT_OK)
			continue;
		for (i = 0; i < n; i++)
			if (status[i] == PENDING && (dirof ? dirof[i] : 0) == k)
				status[i] = rc2;
		if (rc == CT_OK) {
			rc = rc2;
			if (err)
				snprintf(err, CT_ERRLEN, "%s", e);
		}
	}
	/* 3 and 4: cur/, then the records are moved for good. */
	for (i = 0; i < n && status[i] != PENDING; i++)
		;
	if (i < n) {
		rc2 = syncfd(curfd, cur, e);
		if (rc2 != CT_OK && rc == CT_OK) {
			rc = rc2;
			if (err)
				snprintf(err, CT_ERRLEN, "%s", e);
		}
		for (; i < n; i++)
			if (status[i] == PENDING)
				status[i] = rc2;
	}
	goto out;
fail:
	for (i = 0; i < n; i++)
		status[i] = rc;
out:
	if (fds)
		for (k = 0; k < ndirs; k++)
			if (fds[k] >= 0)
				close(fds[k]);
	if (curfd >= 0)
		close(curfd);
	free(fds);
	free(moved);
	return rc;
}

/* One record, one directory: finish_many for the single-record calls. */
static int finish(struct ct_spool *s, const char *name, const char *dir,
                  char *err)
{
	int status;

	return finish_many(s, &name, 1, &dir, NULL, 1, &status, err);
}

/* cur/NAME -> sent/DAY/NAME for each record; see ct_spool.h. */
int ct_spool_done_many(struct ct_spool *s, const char *const *names,
                       const char *const *days, size_t n, int *status,
                       char *err)
{
	char sent[PATH_MAX], d[PATH_MAX], e[CT_ERRLEN];
	char (*rel)[16] = NULL;
	const char **dirs = NULL, **ok = NULL;
	size_t *okof = NULL, *idx = NULL, i, k, nd = 0, nok = 0;
	int rc = CT_OK, rc2, *st = NULL;

	for (i = 0; i < n; i++)
		status[i] = CT_ERR_IO;
	if (n == 0)
		return CT_OK;
	if ((rel = calloc(n, sizeof *rel)) == NULL ||
	    (dirs = calloc(n, sizeof *dirs)) == NULL ||
	    (ok = calloc(n, sizeof *ok)) == NULL ||
	    (okof = calloc(n, sizeof *okof)) == NULL ||
	    (idx = calloc(n, sizeof *idx)) == NULL ||
	    (st = calloc(n, sizeof *st)) == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
		for (i = 0; i < n; i++)
			status[i] = rc;
		goto out;
	}
	if ((rc = mkpath(sent, err, "%s/sent", s->dir)) != CT_OK)
		goto out;
	/* Each distinct day once: check it, make sent/DAY/ (a new one must
	 * itself survive a crash before a record is moved into it). */
	for (i = 0; i < n; i++) {
		const char *day = days[i] ? days[i] : "";

		for (k = 0; k < nd && strcmp(rel[k] + 5, day) != 0; k++)
			;
		if (k == nd) {
			if (day_number(day) < 0)
				rc2 = ct_seterr(e, CT_ERR_INPUT, "not a day: \"%.16s\"", day);
			else if ((rc2 = mkpath(d, e, "%s/%s", sent, day)) != CT_OK)
				;
			else if (mkdir(d, 0700) == 0)
				rc2 = ct_fsync_dir(sent, e);
			else if (errno != EEXIST)
				rc2 = ct_seterr(e, CT_ERR_IO, "mkdir \"%s\" failed: %s", d,
				                strerror(errno));
			if (rc2 != CT_OK) {
				status[i] = rc2;
				if (rc == CT_OK) {
					rc = rc2;
					if (err)
						snprintf(err, CT_ERRLEN, "%s", e);
				}
				continue;    /* a bad day is checked again: rare */
			}
			snprintf(rel[nd], sizeof rel[nd], "sent/%s", day);
			dirs[nd++] = rel[k];
		}
		ok[nok] = names[i];
		okof[nok] = k;
		idx[nok++] = i;
	}
	rc2 = finish_many(s, ok, nok, dirs, okof, nd, st, rc == CT_OK ? err : NULL);
	if (rc == CT_OK)
		rc = rc2;
	for (i = 0; i < nok; i++)
		status[idx[i]] = st[i];
out:
	free(rel);
	free(dirs);
	free(ok);
	free(okof);
	free(idx);
	free(st);
	return rc;
}

/* cur/NAME -> sent/DAY/NAME; DAY must be a real YYYY-MM-DD. */
int ct_spool_done(struct ct_spool *s, const char *name, const char *day,
                  char *err)
{
	int status;

	return ct_spool_done_many(s, &name, &day, 1, &status, err);
}

/* cur/NAME -> failed/NAME, with failed/NAME.why (why + "\n", 0600) first. */
int ct_spool_fail(struct ct_spool *s, const char *name, const char *why,
                  char *err)
{
	char failed[PATH_MAX], p[PATH_MAX], text[WHY_MAX + 2];
	size_t i, n;
	int rc;

	if (!valid_name(name))
		return ct_seterr(err, CT_ERR_INPUT, "not a spool record name: \"%.64s\"",
		                 name);
	/* One line, whatever the reason holds: status reads these back. */
	n = snprintf(text, WHY_MAX + 1, "%s", why ? why : "refused");
	if (n > WHY_MAX)
		n = WHY_MAX;
	for (i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			text[i] = ' ';
	text[n++] = '\n';
	if ((rc = mkpath(failed, err, "%s/failed", s->dir)) != CT_OK ||
	    (rc = mkpath(p, err, "%s/%s.why", failed, name)) != CT_OK ||
	    (rc = ct_file_put(p, text, n, 0600, err)) != CT_OK)
		return rc;
	return finish(s, name, "failed", err);
}

/* cur/NAME -> new/NAME for each record; see ct_spool.h. */
int ct_spool_unclaim_many(struct ct_spool *s, const char *const *names,
                          size_t n, int *status, char *err)
{
	const char *dir = "new";

	return finish_many(s, names, n, &dir, NULL, 1, status, err);
}

/* cur/NAME -> new/NAME. */
int ct_spool_unclaim(struct ct_spool *s, const char *name, char *err)
{
	return finish(s, name, "new", err);
}

/* Remove one sent/DAY directory and the records in it, never following
 * a symlink (the entries are unlinked, not their targets). */
static int rmday(int sentfd, const char *sent, const char *day, char *err)
{
	DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	int fd, rc = CT_OK;

	fd = openat(sentfd, day, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		rc = ct_seterr(err, CT_ERR_IO, "open \"%s/%s\" failed: %s", sent,
		               day, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			rc = ct_seterr(err, CT_ERR_IO, "prune \"%s/%s\": holds a "
			               "directory \"%.64s\"; left alone", sent, day,
			               de->d_name);
			goto out;
		}
		if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
			rc = ct_seterr(err, CT_ERR_IO, "unlink \"%s/%s/%.64s\" failed: %s",
			               sent, day, de->d_name, strerror(errno));
			goto out;
		}
	}
	if (unlinkat(sentfd, day, AT_REMOVEDIR) < 0)
		rc = ct_seterr(err, CT_ERR_IO, "rmdir \"%s/%s\" failed: %s", sent, day,
		               strerror(errno));
out:
	if (d)
		closedir(d);
	return rc;
}

/*
 * Remove sent/DAY for every valid DAY strictly before (UTC day of now_us)
 * - keep_days; any other name in sent/ is left alone.  Keeps going after
 * a failure and returns the first one.
 */
int ct_spool_prune(struct ct_spool *s, int keep_days, int64_t now_us,
                   size_t *removed, char *err)
{
	char sent[PATH_MAX];
	DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	int64_t today, day;
	int rc, first = CT_OK;

	*removed = 0;
	if (keep_days < 0 || now_us < 0)
		return ct_seterr(err, CT_ERR_INPUT, "keep_days: must be >= 0");
	if ((rc = mkpath(sent, err, "%s/sent", s->dir)) != CT_OK)
		return rc;
	if ((d = opendir(sent)) == NULL) {
		rc = ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", sent,
		               strerror(errno));
		goto out;
	}
	today = now_us / 86400000000LL;
	while ((de = readdir(d)) != NULL) {
		if ((day = day_number(de->d_name)) < 0 || day >= today - keep_days)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if ((rc = rmday(dirfd(d), sent, de->d_name,
		                first == CT_OK ? err : NULL)) == CT_OK)
			(*removed)++;
		else if (first == CT_OK)
			first = rc;
	}
	rc = first;
	if (*removed > 0) {
		int rc2 = ct_fsync_dir(sent, rc == CT_OK ? err : NULL);
		if (rc == CT_OK)
			rc = rc2;
	}
out:
	if (d)
		closedir(d);
	return rc;
}
