/*
 * csvread.c — calltrail-export csv: reading SPOOL/sent/DAY/ into the day's
 * aggregation, by parallel threads (see csvday.c for the command).
 *
 * The threads share the spool's one directory reader (ct_spool_dir_next:
 * the name rule, no symlink followed) and take names CHUNK at a time.
 * Each record is read one way only: openat relative to the directory's
 * descriptor (O_NOFOLLOW), read into the thread's reused buffer, close
 * (readrec).  It is parsed (ct_record_parse) and its call queued; the
 * calls go into the one shared aggregation BATCH at a time.
 * Nothing is written here: the spool is only read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvread.h"
#include "export.h"

/* Messages about single records stop after this many; the summary
 * still counts them all. */
#define REPORT_MAX  20

void csv_report(struct run *r, const char *what, const char *why)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->reported++;
	pthread_mutex_unlock(&r->lock);
	if (n < REPORT_MAX)
		ct_log("csv %s: skipped %s: %s", r->day, what, why);
	else if (n == REPORT_MAX)
		ct_log("csv %s: more records skipped; the summary counts them",
		       r->day);
}

/* Add the share's batch to the aggregation under one lock. */
int csv_flush(struct share *sh)
{
	int rc;

	if (sh->nbatch == 0)
		return CT_OK;
	pthread_mutex_lock(&sh->run->agglock);
	rc = ct_csv_day_add_calls(sh->run->agg, sh->batch, sh->nbatch);
	pthread_mutex_unlock(&sh->run->agglock);
	sh->nbatch = 0;
	sh->tierlen = 0;
	return rc;
}

/* Queue rec's call in the share's batch, its tier copied into sh->tiers
 * (the record's tree is freed next).  A tier too long for sh->tiers is
 * added at once, while the tree still holds it.
 *
 * rec.email is ct_email_check's output (ct_record_parse refuses a record
 * whose email fails it), and ct_email_check of its own output is that
 * output again: it trims, checks and copies, never rewrites.  Every
 * record, --source spool or target, comes through ct_record_parse here,
 * so ct_csv_call_prep does not check the email a second time; a record
 * refused for its email alone is counted as "bad email" by csv_take. */
static int queue(struct share *sh, const struct ct_record *rec)
{
	struct ct_csv_call *c;
	size_t tn = rec->tier ? strlen(rec->tier) + 1 : 0;
	int rc;

	if (sh->nbatch == BATCH ||
	    (tn <= TIERBUF && sh->tierlen + tn > TIERBUF))
		if ((rc = csv_flush(sh)) != CT_OK)
			return rc;
	c = &sh->batch[sh->nbatch];
	/* The session id was checked by ct_record_parse: never CT_ERR_INPUT. */
	if ((rc = ct_csv_call_prep(c, rec->email, rec->session_id, rec->end_us,
	                           rec->tier)) != CT_OK)
		return rc;
	if (tn > TIERBUF) {
		pthread_mutex_lock(&sh->run->agglock);
		rc = ct_csv_day_add_calls(sh->run->agg, c, 1);
		pthread_mutex_unlock(&sh->run->agglock);
		return rc;
	}
	if (tn > 0) {
		memcpy(sh->tiers + sh->tierlen, rec->tier, tn);
		c->tier = sh->tiers + sh->tierlen;
		sh->tierlen += tn;
	}
	sh->nbatch++;
	return CT_OK;
}

/* Fold one record's bytes into the share's batch.  Only an allocation
 * failure is an error: a bad record is reported and counted — as "bad
 * email" when user_email is the only rule it breaks (rec.email_bad), as
 * "other day" when it ended on another day, else as "unreadable". */
int csv_take(struct share *sh, const char *name, const char *buf, size_t len)
{
	struct ct_record rec;
	char err[CT_ERRLEN];
	int rc;

	rc = ct_record_parse(buf, len, &rec, err);
	if (rc == CT_ERR_NOMEM) {
		ct_record_free(&rec);
		return rc;
	}
	if (rc == CT_OK || rec.email_bad) {
		if (strcmp(rec.day, sh->run->day) != 0) {
			sh->otherday++;
			csv_report(sh->run, name, "end_time is on another day");
		} else if (rc != CT_OK) {
			sh->bademail++;
			csv_report(sh->run, name, err);
		} else
			rc = queue(sh, &rec);
		ct_record_free(&rec);
		return rc == CT_ERR_NOMEM ? rc : CT_OK;
	}
	ct_record_free(&rec);
	sh->unreadable++;
	csv_report(sh->run, name, err);
	return CT_OK;
}

/* Read name in dfd into sh->rec, at most CT_RECORD_MAX bytes; *len is
 * the record's size.  CT_ERR_INPUT when it is not a record we may read
 * (a symlink, a directory, too big); CT_ERR_IO when the read failed.
 *
 * O_NOFOLLOW: a symlink in sent/DAY is never followed (SPEC section 4).
 * O_NONBLOCK: a FIFO that found its way in must not hang the run. */
static int readrec(struct share *sh, int dfd, const char *name, size_t *len,
                   char *err)
{
	size_t got = 0, want;
	ssize_t n;
	int fd, rc = CT_OK;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return ct_seterr(err, errno == ELOOP ? CT_ERR_INPUT : CT_ERR_IO,
		                 "open failed: %s", strerror(errno));
	/* Read one byte past the cap: that is how "too big" shows.  A short
	 * read of a regular file is its end, which saves a read per record. */
	while (got <= CT_RECORD_MAX) {
		want = CT_RECORD_MAX + 1 - got;
		n = read(fd, sh->rec + got, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ct_seterr(err, errno == EISDIR ? CT_ERR_INPUT : CT_ERR_IO,
			               "read failed: %s", strerror(errno));
			goto out;
		}
		got += (size_t)n;
		if ((size_t)n < want)
			break;
	}
	if (got > CT_RECORD_MAX)
		rc = ct_seterr(err, CT_ERR_INPUT, "larger than %d bytes",
		               CT_RECORD_MAX);
	*len = got;
out:
	close(fd);
	return rc;
}

/* Read one record, name in dfd, and fold it into the share: a file that
 * is not a record is reported and counted; only an I/O or allocation
 * failure stops the share (its message in sh->err). */
static int readone(struct share *sh, int dfd, const char *name)
{
	char why[CT_ERRLEN];
	size_t len = 0;
	int rc;

	rc = readrec(sh, dfd, name, &len, why);
	if (rc == CT_ERR_INPUT) {
		sh->unreadable++;
		csv_report(sh->run, name, why);
		return CT_OK;
	}
	if (rc != CT_OK)
		return ct_seterr(sh->err, rc, "\"%s/%s\": %s", sh->dir, name, why);
	if ((rc = csv_take(sh, name, sh->rec, len)) != CT_OK)
		ct_seterr(sh->err, rc, "out of memory");
	return rc;
}

/* Take up to CHUNK record names from the shared spool reader into
 * sh->names; 0 when the directory is done (or another share failed).
 * The reader gives only names that pass the spool's name rule, of
 * regular files; a symlink with a record's name is reported and counted
 * as unreadable, never followed.  Which thread reads which file does not
 * matter: the aggregation is the same in any order. */
static size_t takenames(struct share *sh)
{
	struct run *r = sh->run;
	char why[CT_ERRLEN], link[NAME_MAX + 1];
	const char *name;
	size_t n = 0, len;
	int rc, skipped;

	for (;;) {
		skipped = 0;
		pthread_mutex_lock(&r->lock);
		while (!r->stop && n < CHUNK) {
			rc = ct_spool_dir_next(&r->dir, &name, why);
			if (rc != CT_OK && name != NULL) {
				snprintf(link, sizeof(link), "%s", name);
				skipped = 1;
				break;
			}
			if (rc != CT_OK) {
				r->dir_rc = rc;
				snprintf(r->dir_err, sizeof(r->dir_err), "%s", why);
			}
			if (rc != CT_OK || name == NULL) {
				r->stop = 1;
				break;
			}
			if ((len = strlen(name)) > NAME_MAX)
				continue;   /* no file system gives one; never a record */
			memcpy(sh->names[n++], name, len + 1);
		}
		pthread_mutex_unlock(&r->lock);
		if (!skipped)
			return n;
		/* Reported outside r->lock, which csv_report takes. */
		sh->unreadable++;
		csv_report(r, link, why);
		if (n > 0)
			return n;
	}
}

/* Stop every share: this one failed. */
static void failshare(struct share *sh, int rc)
{
	sh->rc = rc;
	pthread_mutex_lock(&sh->run->lock);
	sh->run->stop = 1;
	pthread_mutex_unlock(&sh->run->lock);
}

/* Read records of sh->dir until the shared stream is done: a chunk of
 * names, then each record of it. */
static void *readall(void *arg)
{
	struct share *sh = arg;
	int dfd = sh->run->dir.fd;
	size_t n;
	int rc = CT_OK;

	sh->rc = CT_OK;
	while (rc == CT_OK && (n = takenames(sh)) > 0)
		for (size_t i = 0; i < n && rc == CT_OK; i++)
			rc = readone(sh, dfd, sh->names[i]);
	if (rc == CT_OK && (rc = csv_flush(sh)) != CT_OK)
		ct_seterr(sh->err, rc, "out of memory");
	if (rc != CT_OK)
		failshare(sh, rc);
	return NULL;
}

/* How many shares: one per CPU, at most SHARES_MAX; CT_CSV_THREADS
 * overrides (tests, or a host where the exporter should stay small). */
unsigned csv_nshares(void)
{
	const char *e = getenv("CT_CSV_THREADS");
	long n = e && *e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > SHARES_MAX ? SHARES_MAX : (unsigned)n;
}

/* SPOOL/sent/DAY/, read by parallel threads from the spool's one
 * directory reader into the one aggregation; their counts are summed
 * into sh[0].  Absent is an empty day; an unreadable spool, or a
 * symlinked sent/ or sent/DAY, is not. */
int csv_from_spool(struct run *r, struct share *sh, unsigned n, char *err)
{
	struct ct_spool sp = CT_SPOOL_INIT;
	int rc;

	r->dir.fd = -1;
	if ((rc = ct_spool_open(&sp, r->c->spool_dir, 0, err)) != CT_OK)
		goto out;
	/* The day vanishing (a prune of an old day) is an empty day. */
	rc = ct_spool_dir_open(&sp, CT_SPOOL_SENT_DAY, r->day, &r->dir, err);
	if (rc == CT_ERR_NOTFOUND) {
		rc = CT_OK;
		goto out;
	}
	if (rc != CT_OK)
		goto out;
	for (unsigned i = 0; i < n; i++)
		sh[i].dir = r->dir.path;
	/* A thread that cannot start leaves its part to the others: this
	 * thread reads until the directory is done, so nothing is left. */
	for (unsigned i = 1; i < n; i++)
		sh[i].started = pthread_create(&sh[i].th, NULL, readall, &sh[i]) == 0;
	readall(&sh[0]);
	for (unsigned i = 1; i < n; i++)
		if (sh[i].started)
			pthread_join(sh[i].th, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (sh[i].rc != CT_OK && rc == CT_OK) {
			rc = sh[i].rc;
			snprintf(err, CT_ERRLEN, "%s", sh[i].err);
		}
	}
	if (rc == CT_OK && r->dir_rc != CT_OK)
		rc = ct_seterr(err, r->dir_rc, "%s", r->dir_err);
	for (unsigned i = 1; i < n; i++) {
		sh[0].unreadable += sh[i].unreadable;
		sh[0].otherday += sh[i].otherday;
		sh[0].bademail += sh[i].bademail;
	}
out:
	ct_spool_dir_close(&r->dir);
	ct_spool_close(&sp);
	return rc;
}
