/*
 * spool-move.c — every move of a record after put: claim (new/ -> cur/),
 * recover and unclaim (cur/ -> new/), done (cur/ -> sent/DAY/) and fail
 * (cur/ -> failed/), all through the one mover below, and the tmp/ sweep
 * (prune is spool-prune.c's).  It stands on spool-dir.c (directories reached with O_NOFOLLOW,
 * the name rule, the reader) and never calls spool.c.  The on-disk format
 * and the rules every move keeps are at the top of spool.c.
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

#define WHY_MAX 4096
#define TMP_STALE_SECONDS (36 * 3600)
#define PENDING  (-1)         /* a status: renamed, not yet durable */
#define CONFLICT (-2)         /* recover: another file of that name in new/ */

/* A destination of the mover: a directory below the spool's root. */
struct dest {
	char rel[32];             /* "new", "failed", "sent/2025-10-29" */
	char path[PATH_MAX];      /* for messages */
	int fd;                   /* opened by the mover, -1 until then */
	int moved;                /* something was renamed into it */
};

/*
 * The one mover: src/names[i] -> dests[destof[i]]/names[i] (destof NULL:
 * dests[0] for all).  The order is the crash-safety argument:
 *
 *   1. every rename (atomic: a record has one name, in src/ or in DIR);
 *   2. one fsync of each destination directory that received a record,
 *      so its new name is durable before anything else happens;
 *   3. one fsync of src/, so the old name is durably gone;
 *   4. only then status[i] = CT_OK.
 *
 * A crash before 2 leaves a record in src/ or in DIR; a crash between 2
 * and 3 may leave a name in both, never in neither (recover settles it).
 * So a batch of n records costs one fsync per distinct DIR plus one.  A
 * failing rename does not stop the others.  With recover, a name that is
 * already in the destination is settled here when it is the same file
 * (the src name goes: see recover), else status[i] = CONFLICT.  Returns
 * CT_OK or the first failure (in err).
 */
static int mover(struct ct_spool *s, const char *src, const char *const *names,
                 size_t n, struct dest *dests, size_t nd, const size_t *destof,
                 int recover, int *status, char *err)
{
	char srcpath[PATH_MAX], e[CT_ERRLEN];
	struct stat a, b;
	int sfd = -1, rc = CT_OK, rc2, any = 0;
	size_t i, k;

	for (i = 0; i < n; i++)
		status[i] = CT_ERR_IO;
	for (k = 0; k < nd; k++) {
		dests[k].fd = -1;
		dests[k].moved = 0;
	}
	if (n == 0)
		return CT_OK;
	if ((rc = ct_spool_subdir(s, src, O_RDONLY, &sfd, srcpath, err)) != CT_OK) {
		for (i = 0; i < n; i++)
			status[i] = rc;
		return rc;
	}
	/* 1 */
	for (i = 0; i < n; i++) {
		struct dest *d = &dests[destof ? destof[i] : 0];

		if (!ct_spool_is_record_name(names[i]))
			status[i] = ct_seterr(e, CT_ERR_INPUT, "not a spool record "
			                      "name: \"%.64s\"", names[i]);
		else if (d->fd < 0 && (status[i] = ct_spool_subdir(s, d->rel, O_RDONLY,
		         &d->fd, d->path, e)) != CT_OK)
			;
		else if ((status[i] = ct_spool_moveat(sfd, srcpath, d->fd, d->path,
		                                      names[i], e)) == CT_OK) {
			status[i] = PENDING;
			d->moved = any = 1;
			continue;
		} else if (recover &&
		           fstatat(d->fd, names[i], &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		           fstatat(sfd, names[i], &a, AT_SYMLINK_NOFOLLOW) == 0) {
			if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
				status[i] = CONFLICT;
				continue;
			}
			if (unlinkat(sfd, names[i], 0) == 0) {
				status[i] = PENDING;
				any = 1;
				continue;
			}
			status[i] = ct_seterr(e, CT_ERR_IO, "unlink \"%s/%s\" (also in "
			                      "%s) failed: %s", srcpath, names[i],
			                      d->path, strerror(errno));
		}
		ct_spool_keep(&rc, err, status[i], e);
	}
	/* 2: each destination that received a record, once. */
	for (k = 0; k < nd; k++) {
		if (!dests[k].moved)
			continue;
		if ((rc2 = ct_spool_syncfd(dests[k].fd, dests[k].path, e)) == CT_OK)
			continue;
		for (i = 0; i < n; i++)
			if (status[i] == PENDING && &dests[destof ? destof[i] : 0] == &dests[k])
				status[i] = rc2;
		ct_spool_keep(&rc, err, rc2, e);
	}
	/* 3 and 4: the source, then the records are moved for good. */
	if (any) {
		rc2 = ct_spool_syncfd(sfd, srcpath, e);
		ct_spool_keep(&rc, err, rc2, e);
		for (i = 0; i < n; i++)
			if (status[i] == PENDING)
				status[i] = rc2;
	}
	for (k = 0; k < nd; k++)
		if (dests[k].fd >= 0)
			close(dests[k].fd);
	close(sfd);
	return rc;
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

/* Restore the max-heap v[0..n) (by cmpname: the newest on top) below i. */
static void siftdown(char **v, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		char *tmp;

		if (l < n && cmpname(&v[l], &v[m]) > 0)
			m = l;
		if (r < n && cmpname(&v[r], &v[m]) > 0)
			m = r;
		if (m == i)
			return;
		tmp = v[i];
		v[i] = v[m];
		v[m] = tmp;
		i = m;
	}
}

/*
 * The oldest records of area (at most cap), sorted oldest first, as a
 * NULL-terminated array, read with the spool's reader.  Past cap names
 * the array is a max-heap of the cap oldest seen so far (the newest on
 * top, replaced by any older name read): a backlog larger than cap
 * gives its oldest, not the first cap in directory order, in memory
 * that stays cap names.  A symlink with a record's name is left where it
 * is: never moved, never followed.
 */
static int scan(struct ct_spool *s, enum ct_spool_area area, size_t cap,
                char ***out, size_t *n, char *err)
{
	struct ct_spool_dir d;
	const char *name;
	char **v = NULL, **nv;
	size_t len = 0, alloc = 0;
	int rc, heap = 0;

	*out = NULL;
	*n = 0;
	if (cap == 0)
		cap = 1;
	if ((rc = ct_spool_dir_open(s, area, NULL, &d, err)) != CT_OK)
		return rc;
	for (;;) {
		if ((rc = ct_spool_dir_next(&d, &name, err)) != CT_OK) {
			if (name != NULL && rc == CT_ERR_IO)
				continue;   /* a symlink: see above */
			break;
		}
		if (name == NULL)
			break;
		if (len == cap) {
			char *mine;

			if (!heap) {
				for (size_t i = len / 2; i-- > 0;)
					siftdown(v, len, i);
				heap = 1;
			}
			if (cmpname(&name, &v[0]) >= 0)
				continue;   /* newer than the cap oldest so far */
			if ((mine = strdup(name)) == NULL) {
				rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
				break;
			}
			free(v[0]);
			v[0] = mine;
			siftdown(v, len, 0);
			continue;
		}
		if (len + 2 > alloc) {
			alloc = alloc ? alloc * 2 : 64;
			if ((nv = realloc(v, alloc * sizeof(*v))) == NULL) {
				rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		if ((v[len] = strdup(name)) == NULL) {
			rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
			break;
		}
		v[++len] = NULL;
	}
	ct_spool_dir_close(&d);
	if (rc == CT_OK && v == NULL && (v = calloc(1, sizeof(*v))) == NULL)
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
	if (rc != CT_OK) {
		ct_spool_names_free(v);
		return rc;
	}
	qsort(v, len, sizeof(*v), cmpname);
	*out = v;
	*n = len;
	return CT_OK;
}

/* Move the records of area (at most cap) to the directory to: claim and
 * recover.  The names moved go to *names when names is not NULL. */
static int moveall(struct ct_spool *s, enum ct_spool_area area,
                   const char *from, const char *to, size_t cap, int recover,
                   char ***names, size_t *n, char *err)
{
	struct dest d;
	char **v = NULL;
	int *status = NULL, rc;
	size_t cnt = 0, i;

	*n = 0;
	if (names)
		*names = NULL;
	if (s->lockfd < 0)
		return ct_seterr(err, CT_ERR_INPUT, "spool \"%s\": take the lock first",
		                 s->dir);
	if ((rc = scan(s, area, cap, &v, &cnt, err)) != CT_OK)
		goto out;
	if (cnt > 0 && (status = calloc(cnt, sizeof *status)) == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(d.rel, sizeof d.rel, "%s", to);
	rc = mover(s, from, (const char *const *)v, cnt, &d, 1, NULL, recover,
	           status, err);
	/* recover: NAME in both, two different files.  Names are unique,
	 * so this is not calltrail's doing; the cur/ one goes to failed/
	 * with the reason, where status counts it: neither is lost. */
	for (i = 0; rc == CT_OK && i < cnt; i++)
		if (status[i] == CONFLICT)
			rc = ct_spool_fail(s, v[i], "left in cur/ by an interrupted run "
			                   "while a different record of the same name "
			                   "was in new/", err);
	if (rc != CT_OK)
		goto out;
	*n = cnt;
	if (names) {
		*names = v;
		v = NULL;
	}
out:
	free(status);
	ct_spool_names_free(v);
	return rc;
}

/* Remove tmp/ files a dead writer left; see "36 hours" at the top of
 * spool.c.  Only record names: nothing else in tmp/ is a writer's.  Also
 * the exporter's own temporaries (fsutil's ".tmp-<16 hex>": NAME.why in
 * failed/, .last-run.json in the root) that a killed run left: the lock
 * is held, so no live writer has one, but an hour's margin costs
 * nothing. */
static void sweep_tmp(struct ct_spool *s)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;
	time_t now = time(NULL);

	ct_tmp_sweep(s->rootfd, 3600);
	if (ct_spool_subdir(s, "failed", O_RDONLY, &fd, NULL, NULL) == CT_OK) {
		ct_tmp_sweep(fd, 3600);
		close(fd);
	}

	if (ct_spool_subdir(s, "tmp", O_RDONLY, &fd, NULL, NULL) != CT_OK)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (ct_spool_is_record_name(de->d_name) &&
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && now - st.st_mtime > TMP_STALE_SECONDS)
			(void)unlinkat(fd, de->d_name, 0);
	closedir(d);
}

/* cur/ -> new/ for everything a crashed run left; lock required. */
int ct_spool_recover(struct ct_spool *s, size_t *n, char *err)
{
	int rc = moveall(s, CT_SPOOL_CUR, "cur", "new", SIZE_MAX, 1, NULL, n, err);

	if (rc == CT_OK)
		sweep_tmp(s);
	return rc;
}

/* new/ -> cur/, the oldest first, at most CT_SPOOL_CLAIM_MAX (tests may
 * lower it with CT_SPOOL_CLAIM_MAX in the environment); lock required. */
int ct_spool_claim(struct ct_spool *s, char ***names, size_t *n, char *err)
{
	const char *v = getenv("CT_SPOOL_CLAIM_MAX");
	size_t cap = CT_SPOOL_CLAIM_MAX;
	char *end;

	if (v != NULL && *v != '\0') {
		unsigned long long x = strtoull(v, &end, 10);
		if (*end == '\0' && x >= 1 && x < cap)
			cap = (size_t)x;
	}
	return moveall(s, CT_SPOOL_NEW, "new", "cur", cap, 0, names, n, err);
}

/* Make sent/DAY (0700) when missing; a new one is made durable in sent/
 * before any record is moved into it. */
static int mkday(struct ct_spool *s, const char *day, char *err)
{
	char sent[PATH_MAX];
	int fd, rc = CT_OK;

	if (ct_spool_day_number(day) < 0)
		return ct_seterr(err, CT_ERR_INPUT, "not a day: \"%.16s\"", day);
	if ((rc = ct_spool_subdir(s, "sent", O_RDONLY, &fd, sent, err)) != CT_OK)
		return rc;
	if (mkdirat(fd, day, CT_SPOOL_PRIV_MODE) == 0)
		rc = ct_spool_syncfd(fd, sent, err);
	else if (errno != EEXIST)
		rc = ct_seterr(err, CT_ERR_IO, "mkdir \"%s/%s\" failed: %s", sent, day,
		               strerror(errno));
	close(fd);
	return rc;
}

/* cur/NAME -> sent/DAY/NAME for each record; see ct_spool.h. */
int ct_spool_done_many(struct ct_spool *s, const char *const *names,
                       const char *const *days, size_t n, int *status,
                       char *err)
{
	char e[CT_ERRLEN];
	struct dest *dests = NULL;
	const char **ok = NULL;
	size_t *okof = NULL, *idx = NULL, i, k, nd = 0, nok = 0;
	int rc = CT_OK, rc2, *st = NULL;

	for (i = 0; i < n; i++)
		status[i] = CT_ERR_IO;
	if (n == 0)
		return CT_OK;
	if ((dests = calloc(n, sizeof *dests)) == NULL ||
	    (ok = calloc(n, sizeof *ok)) == NULL ||
	    (okof = calloc(n, sizeof *okof)) == NULL ||
	    (idx = calloc(n, sizeof *idx)) == NULL ||
	    (st = calloc(n, sizeof *st)) == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
		for (i = 0; i < n; i++)
			status[i] = rc;
		goto out;
	}
	/* Each distinct day once: check it and make sent/DAY/. */
	for (i = 0; i < n; i++) {
		const char *day = days[i] ? days[i] : "";

		for (k = 0; k < nd && strcmp(dests[k].rel + 5, day) != 0; k++)
			;
		if (k == nd) {
			if ((rc2 = mkday(s, day, e)) != CT_OK) {
				status[i] = rc2;
				ct_spool_keep(&rc, err, rc2, e);
				continue;    /* a bad day is checked again: rare */
			}
			snprintf(dests[nd++].rel, sizeof dests[k].rel, "sent/%s", day);
		}
		ok[nok] = names[i];
		okof[nok] = k;
		idx[nok++] = i;
	}
	rc2 = mover(s, "cur", ok, nok, dests, nd, okof, 0, st,
	            rc == CT_OK ? err : NULL);
	if (rc == CT_OK)
		rc = rc2;
	for (i = 0; i < nok; i++)
		status[idx[i]] = st[i];
out:
	free(dests);
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

/* cur/NAME -> failed/NAME, with failed/NAME.why (why + "\n", 0600) first,
 * written by the durable-write primitive. */
int ct_spool_fail(struct ct_spool *s, const char *name, const char *why,
                  char *err)
{
	char failed[PATH_MAX], whyname[NAME_MAX + 1], text[WHY_MAX + 2];
	struct dest d;
	size_t i, n;
	int rc, fd = -1, status;

	if (!ct_spool_is_record_name(name))
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
	snprintf(whyname, sizeof whyname, "%s.why", name);
	if ((rc = ct_spool_subdir(s, "failed", O_RDONLY, &fd, failed, err)) != CT_OK)
		return rc;
	rc = ct_file_put_at(fd, failed, whyname, text, n, CT_SPOOL_FILE_MODE, err);
	close(fd);
	if (rc != CT_OK)
		return rc;
	snprintf(d.rel, sizeof d.rel, "failed");
	return mover(s, "cur", &name, 1, &d, 1, NULL, 0, &status, err);
}

/* cur/NAME -> new/NAME for each record; see ct_spool.h. */
int ct_spool_unclaim_many(struct ct_spool *s, const char *const *names,
                          size_t n, int *status, char *err)
{
	struct dest d;

	snprintf(d.rel, sizeof d.rel, "new");
	return mover(s, "cur", names, n, &d, 1, NULL, 0, status, err);
}

/* cur/NAME -> new/NAME. */
int ct_spool_unclaim(struct ct_spool *s, const char *name, char *err)
{
	int status;

	return ct_spool_unclaim_many(s, &name, 1, &status, err);
}
