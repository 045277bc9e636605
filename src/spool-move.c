/*
 * spool-move.c — moving claimed records on: to sent/DAY/ (done), to
 * failed/ (fail), back to new/ (unclaim), and pruning old days of sent/.
 * The on-disk format and the rules every move keeps are at the top of
 * spool.c; the helpers the two files share are in ct_spoolint.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_spool.h"
#include "ct_spoolint.h"

#define WHY_MAX 4096
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
	if ((rc = ct_spool_mkpath(cur, err, "%s/cur", s->dir)) != CT_OK ||
	    (rc = ct_spool_opendirfd(cur, &curfd, err)) != CT_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		k = dirof ? dirof[i] : 0;
		if (!ct_spool_valid_name(names[i]))
			status[i] = ct_seterr(e, CT_ERR_INPUT,
			                      "not a spool record name: \"%.64s\"", names[i]);
		else if ((status[i] = ct_spool_mkpath(d, e, "%s/%s", s->dir, dirs[k])) != CT_OK ||
		         (fds[k] < 0 && (status[i] = ct_spool_opendirfd(d, &fds[k], e)) != CT_OK) ||
		         (status[i] = ct_spool_moveat(curfd, cur, fds[k], d, names[i], e)) != CT_OK)
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
		if ((rc2 = ct_spool_mkpath(d, e, "%s/%s", s->dir, dirs[k])) == CT_OK &&
		    (rc2 = ct_spool_syncfd(fds[k], d, e)) == CT_OK)
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
		rc2 = ct_spool_syncfd(curfd, cur, e);
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
	if ((rc = ct_spool_mkpath(sent, err, "%s/sent", s->dir)) != CT_OK)
		goto out;
	/* Each distinct day once: check it, make sent/DAY/ (a new one must
	 * itself survive a crash before a record is moved into it). */
	for (i = 0; i < n; i++) {
		const char *day = days[i] ? days[i] : "";

		for (k = 0; k < nd && strcmp(rel[k] + 5, day) != 0; k++)
			;
		if (k == nd) {
			if (ct_spool_day_number(day) < 0)
				rc2 = ct_seterr(e, CT_ERR_INPUT, "not a day: \"%.16s\"", day);
			else if ((rc2 = ct_spool_mkpath(d, e, "%s/%s", sent, day)) != CT_OK)
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

	if (!ct_spool_valid_name(name))
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
	if ((rc = ct_spool_mkpath(failed, err, "%s/failed", s->dir)) != CT_OK ||
	    (rc = ct_spool_mkpath(p, err, "%s/%s.why", failed, name)) != CT_OK ||
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
	if ((rc = ct_spool_mkpath(sent, err, "%s/sent", s->dir)) != CT_OK)
		return rc;
	if ((d = opendir(sent)) == NULL) {
		rc = ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", sent,
		               strerror(errno));
		goto out;
	}
	today = now_us / 86400000000LL;
	while ((de = readdir(d)) != NULL) {
		if ((day = ct_spool_day_number(de->d_name)) < 0 || day >= today - keep_days)
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
