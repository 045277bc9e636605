/*
 * spool-prune.c — prune: sent/DAY directories older than keep_days go,
 * on a plausible clock only (the rule is at ct_spool_prune below).  It
 * stands on spool-dir.c (directories reached with O_NOFOLLOW, the name
 * rule, the reader) like spool-move.c, and calls neither spool.c nor
 * spool-move.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ct_spoolint.h"
#include "ct_time.h"
#include "ct_fs.h"

#define DAYS_MAX 100000       /* sent/ days prune looks at */

/* Remove one sent/DAY directory and the records in it, never following
 * a symlink (the entries are unlinked, not their targets; a symlinked
 * DAY is an error, its target untouched). */
static int rmday(int sentfd, const char *sent, const char *day, char *err)
{
	DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	int fd, rc = CT_OK;

	fd = openat(sentfd, day, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		rc = ct_seterr(err, CT_ERR_IO, "open \"%s/%s\" failed: %s%s", sent,
		               day, strerror(errno), errno == ELOOP || errno == ENOTDIR
		               ? " (a symlink: never followed)" : "");
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
 * Remove sent/DAY for every valid DAY strictly before min(today, newest
 * DAY) - keep_days; nothing on an implausible clock; any other name in
 * sent/ is left alone, a symlinked DAY is reported and left alone.  Keeps
 * going after a failure and returns the first one.
 */
int ct_spool_prune(struct ct_spool *s, int keep_days, int64_t now_us,
                   size_t *removed, char *err)
{
	struct ct_spool_dir d;
	struct stat st;
	const char *name;
	char (*days)[11] = NULL, (*nv)[11], e[CT_ERRLEN], t[CT_TIMELEN];
	size_t nd = 0, cap = 0, i;
	int64_t today, newest = -1, base, day;
	int rc, first = CT_OK;

	*removed = 0;
	d.fd = -1;
	if (keep_days < 0)
		return ct_seterr(err, CT_ERR_INPUT, "keep_days: must be >= 0");
	if (now_us < 0)
		return ct_seterr(err, CT_ERR_INPUT, "the clock says %lld s, before 1970: "
		                 "not pruning sent/; set the system clock",
		                 (long long)(now_us / 1000000));
	/* Every day of sent/ first: the newest one decides what "old" is. */
	if ((rc = ct_spool_dir_open(s, CT_SPOOL_SENT, NULL, &d, err)) != CT_OK)
		return rc == CT_ERR_NOTFOUND ? CT_OK : rc;
	while (nd < DAYS_MAX) {
		if ((rc = ct_spool_dir_next(&d, &name, e)) != CT_OK) {
			ct_spool_keep(&first, err, rc, e);
			if (name != NULL)
				continue;   /* a symlinked DAY: reported, left alone */
			goto out;
		}
		if (name == NULL)
			break;
		if (nd == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(days, cap * sizeof *days)) == NULL) {
				rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
				goto out;
			}
			days = nv;
		}
		snprintf(days[nd++], sizeof *days, "%s", name);
		/* A day speaks for the clock only when this host filed into
		 * it (the directory's mtime, set by this clock) no more than a
		 * day before the day began: a record that ends in the future
		 * (an agent's clock ahead, a year like 2099) files a day that
		 * says nothing about this clock, and must neither stop every
		 * prune nor let a clock ahead prune the real days. */
		day = ct_spool_day_number(name);
		if (day > newest && fstatat(d.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    day <= (int64_t)st.st_mtime / 86400 + 1)
			newest = day;
	}
	today = now_us / 86400000000LL;
	/* One day of slack: an agent's clock a little ahead at midnight. */
	if (newest > today + 1) {
		for (i = 0; i < nd && ct_spool_day_number(days[i]) != newest; i++)
			;
		ct_time_format_ms(now_us, t);
		rc = ct_seterr(err, CT_ERR_INPUT, "the clock says %.10s, before the "
		               "newest day filed, \"%s/%s\": not pruning; check the "
		               "system clock", t, d.path, days[i]);
		goto out;
	}
	/* A clock far ahead prunes nothing the records do not call old. */
	base = newest >= 0 && newest < today ? newest : today;
	for (i = 0; i < nd; i++) {
		if (ct_spool_day_number(days[i]) >= base - keep_days)
			continue;
		if ((rc = rmday(d.fd, d.path, days[i], e)) == CT_OK)
			(*removed)++;
		else
			ct_spool_keep(&first, err, rc, e);
	}
	rc = first;
	if (*removed > 0) {
		int rc2 = ct_spool_syncfd(d.fd, d.path, e);
		ct_spool_keep(&rc, err, rc2, e);
	}
out:
	ct_spool_dir_close(&d);
	free(days);
	return rc;
}
