/*
 * csvread.c — calltrail-export csv: reading SPOOL/sent/DAY/ into the day's
 * aggregation, by parallel threads (see csvday.c for the command).
 *
 * The threads share one directory stream and take names CHUNK at a time.
 * Each thread opens and reads its records RING_N at a time through its
 * own io_uring (csvring.c), one system call for the batch; a record the
 * ring did not read whole and cleanly, or every record when there is no
 * ring, is read the ordinary way: openat + preadv2 + close into a reused
 * buffer (readone).  Each record is parsed (ct_record_parse) and its call
 * queued; the calls go into the one shared aggregation BATCH at a time.
 * Nothing is written here: the spool is only read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
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
 * so ct_csv_call_prep does not check the email a second time, and the
 * "bad email" count is 0 either way (such records are "unreadable"). */
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
 * failure is an error: a bad record is reported and counted. */
int csv_take(struct share *sh, const char *name, const char *buf, size_t len)
{
	struct ct_record rec;
	char err[CT_ERRLEN];
	int rc;

	if ((rc = ct_record_parse(buf, len, &rec, err)) != CT_OK) {
		ct_record_free(&rec);
		if (rc == CT_ERR_NOMEM)
			return rc;
		sh->unreadable++;
		csv_report(sh->run, name, err);
		return CT_OK;
	}
	if (strcmp(rec.day, sh->run->day) != 0) {
		sh->otherday++;
		csv_report(sh->run, name, "end_time is on another day");
		rc = CT_OK;
	} else
		rc = queue(sh, &rec);
	ct_record_free(&rec);
	return rc;
}

/* Open name in dfd for reading.  CT_ERR_INPUT when it is not a file we
 * may read as a record (a symlink).
 *
 * O_NOATIME: the exporter only reads sent/, and under relatime the first
 * read of each freshly moved record would otherwise dirty its inode — a
 * journalled inode write per record, for an access time nobody uses.  The
 * kernel allows it only to the file's owner (EPERM otherwise), so on
 * EPERM the share stops asking and opens as before. */
static int openrec(struct share *sh, int dfd, const char *name, int *fd,
                   char *err)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;

#ifdef O_NOATIME
	if (sh->noatime) {
		*fd = openat(dfd, name, flags | O_NOATIME);
		if (*fd < 0 && errno == EPERM) {
			sh->noatime = 0;
			*fd = openat(dfd, name, flags);
		}
	} else
#endif
		*fd = openat(dfd, name, flags);
	if (*fd < 0)
		return ct_seterr(err, errno == ELOOP ? CT_ERR_INPUT : CT_ERR_IO,
		                 "open failed: %s", strerror(errno));
	return CT_OK;
}

/* Read the rest of fd (got bytes already in sh->rec) into sh->rec, at most
 * CT_RECORD_MAX bytes; *len is the record's size.  CT_ERR_INPUT when it
 * is not a record (too big, a directory). */
static int readrest(struct share *sh, int fd, size_t got, size_t *len,
                    char *err)
{
	ssize_t n;
	size_t want;

	/* Read one byte past the cap: that is how "too big" shows.  A short
	 * read of a regular file is its end, which saves a read per record. */
	while (got <= CT_RECORD_MAX) {
		want = CT_RECORD_MAX + 1 - got;
		n = read(fd, sh->rec + got, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_seterr(err, errno == EISDIR ? CT_ERR_INPUT : CT_ERR_IO,
			                 "read failed: %s", strerror(errno));
		got += (size_t)n;
		if ((size_t)n < want)
			break;
	}
	if (got > CT_RECORD_MAX)
		return ct_seterr(err, CT_ERR_INPUT, "larger than %d bytes",
		                 CT_RECORD_MAX);
	*len = got;
	return CT_OK;
}

/* Fold the outcome of reading one record (rc, and buf[0..len) when
 * CT_OK) into the share: a record that is not one is reported and
 * counted; only an I/O or allocation failure stops the share. */
static int fold(struct share *sh, const char *name, int rc, const char *buf,
                size_t len, const char *why)
{
	if (rc == CT_ERR_INPUT) {
		sh->unreadable++;
		csv_report(sh->run, name, why);
		return CT_OK;
	}
	if (rc == CT_OK)
		rc = csv_take(sh, name, buf, len);
	else
		ct_seterr(sh->err, rc, "\"%s/%s\": %s", sh->dir, name, why);
	if (rc == CT_ERR_NOMEM)
		ct_seterr(sh->err, rc, "out of memory");
	return rc;
}

/* Read and fold the pending records: their reads were started by
 * POSIX_FADV_WILLNEED, so these mostly wait for I/O already under way. */
static int flushpending(struct share *sh)
{
	int rc = CT_OK;

	for (size_t i = 0; i < sh->npend; i++) {
		char why[CT_ERRLEN];
		size_t len = 0;
		int r;

		if (rc == CT_OK) {
			r = readrest(sh, sh->pend[i].fd, 0, &len, why);
			rc = fold(sh, sh->names[sh->pend[i].name], r, sh->rec, len, why);
		}
		close(sh->pend[i].fd);
	}
	sh->npend = 0;
	return rc;
}

/* Read one record, name in dfd, and fold it in; or, when its bytes are
 * not in the page cache, start reading them and leave it pending.
 *
 * A record nobody has read for a while is often no longer cached: one
 * blocking read after another would then wait for one disk read at a
 * time.  So the first read is RWF_NOWAIT: it copies what is cached and
 * returns EAGAIN instead of waiting.  On EAGAIN, POSIX_FADV_WILLNEED
 * queues the read and the file is kept open in sh->pend, so up to
 * PEND_MAX disk reads per thread are in flight at once.  A cached record
 * costs the same three system calls as before (openat, preadv2, close).
 *
 * A NOWAIT read may also stop early, where the cached part ends; that is
 * always at a block boundary (a multiple of 512 bytes), so only such a
 * short count is not taken as the end of the file. */
static int readone(struct share *sh, int dfd, size_t idx)
{
	const char *name = sh->names[idx];
	char why[CT_ERRLEN];
	size_t len = 0, got = 0;
	int fd, rc;

	if ((rc = openrec(sh, dfd, name, &fd, why)) != CT_OK)
		return fold(sh, name, rc, sh->rec, 0, why);
#ifdef RWF_NOWAIT
	while (sh->nowait) {
		struct iovec iov = { sh->rec, CT_RECORD_MAX + 1 };
		ssize_t n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
			sh->pend[sh->npend].fd = fd;
			sh->pend[sh->npend].name = idx;
			if (++sh->npend == PEND_MAX)
				return flushpending(sh);
			return CT_OK;
		}
		if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS ||
		              errno == EINVAL)) {
			sh->nowait = 0;   /* an old kernel: plain reads from here */
			break;
		}
		if (n < 0) {
			rc = ct_seterr(why, errno == EISDIR ? CT_ERR_INPUT : CT_ERR_IO,
			               "read failed: %s", strerror(errno));
			goto out;
		}
		got = (size_t)n;
		/* Short, and not at a block boundary: the end of the file. */
		if (got <= CT_RECORD_MAX && got % 512 != 0) {
			len = got;
			goto out;
		}
		break;
	}
#endif
	rc = readrest(sh, fd, got, &len, why);
out:
	close(fd);
	return fold(sh, name, rc, sh->rec, len, why);
}

/* Read and fold names [first, first + n) of the chunk (n <= RING_N),
 * opening and reading all the regular files at once through the ring.
 *
 * The ring takes only the easy case: a record it read whole, at once
 * from the page cache.  Anything else goes through readone, which
 * decides what it is the same way as without a ring: a name readdir did
 * not call a regular file; an open or read that failed (a symlink,
 * O_NOATIME refused, a vanished file); a read that would have waited for
 * the disk (EAGAIN); a record longer than a ring slot, or one whose
 * NOWAIT read stopped at a block boundary (see readone).  Where the ring
 * itself fails, or the kernel refuses what it needs (EINVAL, EOPNOTSUPP),
 * the share closes it and reads one record at a time from then on. */
static int ringbatch(struct share *sh, int dfd, size_t first, size_t n)
{
	const char *nm[RING_N];
	size_t idx[RING_N], m = 0;
	int oflags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
	int rc = CT_OK, off = 0;

#ifdef O_NOATIME
	if (sh->noatime)
		oflags |= O_NOATIME;   /* see openrec */
#endif
	for (size_t i = first; i < first + n; i++) {
		if (sh->isreg[i]) {
			idx[m] = i;
			nm[m++] = sh->names[i];
		} else if ((rc = readone(sh, dfd, i)) != CT_OK)
			return rc;
	}
	if (m == 0)
		return CT_OK;
	if (csv_ring_read(&sh->ring, dfd, nm, m, oflags) != 0) {
		csv_ring_close(&sh->ring);
		for (size_t k = 0; k < m && rc == CT_OK; k++)
			rc = readone(sh, dfd, idx[k]);
		return rc;
	}
	for (size_t k = 0; k < m && rc == CT_OK; k++) {
		int o = sh->ring.open_res[k], got = sh->ring.read_res[k];

		if (o == -EINVAL || got == -EINVAL || got == -EOPNOTSUPP)
			off = 1;
		if (o >= 0 && got > 0 && got < RING_SLOT && got % 512 != 0)
			rc = fold(sh, nm[k], CT_OK, sh->ring.buf + k * RING_SLOT,
			          (size_t)got, "");
		else
			rc = readone(sh, dfd, idx[k]);
	}
	if (off)
		csv_ring_close(&sh->ring);
	return rc;
}

/* Take up to CHUNK record names from the shared directory stream into
 * sh->names; 0 when the directory is done (or another share failed).
 * ".", ".." and temporaries are not records.  Which thread reads which
 * file does not matter: the aggregation is the same in any order. */
static size_t takenames(struct share *sh)
{
	struct run *r = sh->run;
	struct dirent *de;
	size_t n = 0, len;

	pthread_mutex_lock(&r->lock);
	while (!r->stop && n < CHUNK) {
		errno = 0;
		if ((de = readdir(r->dir)) == NULL) {
			r->dir_errno = errno;
			r->stop = 1;
			break;
		}
		if (de->d_name[0] == '.' ||
		    (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
			continue;
		len = strlen(de->d_name);
		if (len > NAME_MAX)
			continue;   /* no file system gives one; never a record */
		sh->isreg[n] = de->d_type == DT_REG;
		memcpy(sh->names[n++], de->d_name, len + 1);
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Stop every share: this one failed. */
static void failshare(struct share *sh, int rc)
{
	for (size_t i = 0; i < sh->npend; i++)
		close(sh->pend[i].fd);
	sh->npend = 0;
	sh->rc = rc;
	pthread_mutex_lock(&sh->run->lock);
	sh->run->stop = 1;
	pthread_mutex_unlock(&sh->run->lock);
}

/* Whether the reading threads may use an io_uring: CT_CSV_RING=0 says
 * no (tests, to cover the one-at-a-time path on any kernel). */
static int ringwanted(void)
{
	const char *e = getenv("CT_CSV_RING");

	return !(e && strcmp(e, "0") == 0);
}

/* Read records of sh->dir until the shared stream is done: a chunk of
 * names, then RING_N records at a time through the ring, or one at a
 * time without one. */
static void *readall(void *arg)
{
	struct share *sh = arg;
	int dfd = dirfd(sh->run->dir);
	size_t n, m;
	int rc = CT_OK;

	sh->rc = CT_OK;
	/* No ring (the kernel has none to give) is not an error. */
	if (!ringwanted() || csv_ring_open(&sh->ring) != 0)
		sh->ring.fd = -1;
	while (rc == CT_OK && (n = takenames(sh)) > 0) {
		for (size_t i = 0; i < n && rc == CT_OK; i += m) {
			m = n - i < RING_N ? n - i : RING_N;
			if (sh->ring.fd >= 0)
				rc = ringbatch(sh, dfd, i, m);
			else
				for (size_t k = i; k < i + m && rc == CT_OK; k++)
					rc = readone(sh, dfd, k);
		}
		/* The names of the pending records are in this chunk. */
		if (rc == CT_OK)
			rc = flushpending(sh);
	}
	if (rc == CT_OK && (rc = csv_flush(sh)) != CT_OK)
		ct_seterr(sh->err, rc, "out of memory");
	csv_ring_close(&sh->ring);
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

/* SPOOL/sent/DAY/, read by parallel threads from one directory stream
 * into the one aggregation; their counts are summed into sh[0].  Absent is an empty day; an unreadable spool is
 * not. */
int csv_from_spool(struct run *r, struct share *sh, unsigned n, char *err)
{
	char dir[PATH_MAX];
	struct stat st;
	int rc = CT_OK;

	errno = 0;
	if (stat(r->c->spool_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return ct_seterr(err, CT_ERR_IO, "spool \"%s\" cannot be read: %s",
		                 r->c->spool_dir,
		                 errno ? strerror(errno) : "not a directory");
	if (snprintf(dir, sizeof(dir), "%s/sent/%s", r->c->spool_dir, r->day) >=
	    (int)sizeof(dir))
		return ct_seterr(err, CT_ERR_IO, "spool_dir: path too long");
	/* The directory vanishing (a prune of an old day) is an empty day. */
	if ((r->dir = opendir(dir)) == NULL)
		return errno == ENOENT ? CT_OK
		       : ct_seterr(err, CT_ERR_IO, "opendir \"%s\" failed: %s",
		                   dir, strerror(errno));
	for (unsigned i = 0; i < n; i++)
		sh[i].dir = dir;
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
	if (rc == CT_OK && r->dir_errno != 0)
		rc = ct_seterr(err, CT_ERR_IO, "readdir \"%s\" failed: %s", dir,
		               strerror(r->dir_errno));
	for (unsigned i = 1; i < n; i++) {
		sh[0].unreadable += sh[i].unreadable;
		sh[0].otherday += sh[i].otherday;
	}
	closedir(r->dir);
	r->dir = NULL;
	return rc;
}
