/*
 * csvday.c — calltrail-export csv: the day's Salesforce import file.
 *
 *   calltrail-export csv --day YYYY-MM-DD|yesterday|today [--out DIR]
 *                        [--source spool|target]
 *
 * Reads the day's exported records — SPOOL/sent/DAY/ (this host's), or
 * the target's sessions/year=/month=/day= partition (every host's) — and
 * folds each into the aggregation of src/csv.c, which keeps one entry per
 * caller and never the records, so memory follows the callers, not the
 * calls.  The file is written by tmp + rename (ct_file_put), mode 0640,
 * and, with csv_upload = yes, stored in the target too.
 *
 * Decisions:
 *   - A day with no records (SPOOL/sent/DAY absent, or an empty partition)
 *     writes the header-only file and exits 0: "no calls" is an answer
 *     the Salesforce import can take, and cron stays quiet.
 *   - A record that fails ct_record_parse, or whose end_time falls on
 *     another day, is reported and skipped, never fatal.
 *   - The same record stored twice in sent/ (two puts of the same bytes)
 *     counts twice; its winning row is the same either way.
 *
 * Exit: 0 done; 64 usage; 74 local I/O (spool or csv_dir unreadable or
 * unwritable, target refusing); 75 target temporarily failing; 78 config.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ct_csv.h"
#include "ct_record.h"
#include "ct_target.h"
#include "export.h"

#define EX_USAGE    64
#define EX_IOERR    74
#define EX_TEMPFAIL 75
#define EX_CONFIG   78

/* Messages about single records stop after this many; the summary
 * still counts them all. */
#define REPORT_MAX  20
/* Unsafe rows named in the summary line. */
#define UNSAFE_IDS  10
/* A gzipped record is never much larger than the record. */
#define GZ_MAX      (CT_RECORD_MAX + 64 * 1024)

/* Threads reading sent/DAY/ at once.  Most of a record's cost is the
 * kernel's (openat + read + close) and json-c's, both of which scale with
 * the cores. */
#define SHARES_MAX  4
/* Names a thread takes from the shared directory stream at once: one lock
 * per CHUNK files, and CHUNK * NAME_MAX bytes of buffer per thread. */
#define CHUNK       256
/* Records per thread whose disk reads may be in flight at once (each an
 * open file: SHARES_MAX * PEND_MAX descriptors at most). */
#define PEND_MAX    64

struct run {
	struct ct_conf *c;
	char day[11];
	pthread_mutex_t lock;      /* guards reported, and the fields below */
	size_t reported;
	struct ct_buf unsafe;      /* " id id ..." for the summary */
	size_t nunsafe;
	/* SPOOL/sent/DAY, read once by all threads together (one getdents
	 * pass over the directory, however many threads): */
	DIR *dir;
	int dir_errno;             /* readdir failed: errno */
	int stop;                  /* the directory is done, or a share failed */
	/* The day's one aggregation, shared by the threads.  Every thread
	 * sees nearly every caller, so one table each would cost memory
	 * per caller per thread; adding a parsed call is cheap next to
	 * reading and parsing it, so the lock is seldom contended. */
	pthread_mutex_t agglock;
	struct ct_csv_day *agg;
};

/* One thread's share of the day: its read buffers and counts, added to
 * share 0's when every share is done. */
struct share {
	struct run *run;
	const char *dir;           /* SPOOL/sent/DAY */
	char *rec;                 /* reused read buffer, CT_RECORD_MAX + 1 */
	char (*names)[NAME_MAX + 1];  /* CHUNK names taken from run->dir */
	int noatime;               /* still try O_NOATIME */
	int nowait;                /* still try RWF_NOWAIT */
	struct { int fd; size_t name; } pend[PEND_MAX];
	size_t npend;              /* records opened, their reads under way */
	size_t unreadable;         /* failed to read or ct_record_parse */
	size_t otherday;           /* end_time not on day */
	int rc;
	char err[CT_ERRLEN];
	pthread_t th;
	int started;
};

static void report(struct run *r, const char *what, const char *why)
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

/* Fold one record's bytes into the share's aggregation.  Only an
 * allocation failure is an error: a bad record is reported and counted. */
static int take(struct share *sh, const char *name, const char *buf, size_t len)
{
	struct ct_record rec;
	enum ct_csv_skip skip;
	char err[CT_ERRLEN];
	int rc;

	if ((rc = ct_record_parse(buf, len, &rec, err)) != CT_OK) {
		ct_record_free(&rec);
		if (rc == CT_ERR_NOMEM)
			return rc;
		sh->unreadable++;
		report(sh->run, name, err);
		return CT_OK;
	}
	if (strcmp(rec.day, sh->run->day) != 0) {
		sh->otherday++;
		report(sh->run, name, "end_time is on another day");
		rc = CT_OK;
		goto out;
	}
	pthread_mutex_lock(&sh->run->agglock);
	rc = ct_csv_day_add(sh->run->agg, rec.email, rec.session_id, rec.end_us,
	                    rec.tier, &skip);
	pthread_mutex_unlock(&sh->run->agglock);
out:
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

/* Fold the outcome of reading one record (rc, and sh->rec[0..len) when
 * CT_OK) into the share: a record that is not one is reported and
 * counted; only an I/O or allocation failure stops the share. */
static int fold(struct share *sh, const char *name, int rc, size_t len,
                const char *why)
{
	if (rc == CT_ERR_INPUT) {
		sh->unreadable++;
		report(sh->run, name, why);
		return CT_OK;
	}
	if (rc == CT_OK)
		rc = take(sh, name, sh->rec, len);
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
			rc = fold(sh, sh->names[sh->pend[i].name], r, len, why);
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
		return fold(sh, name, rc, 0, why);
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
	return fold(sh, name, rc, len, why);
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
		memcpy(sh->names[n++], de->d_name, len + 1);
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Stop every share: this one failed. */
static void *failshare(struct share *sh, int rc)
{
	for (size_t i = 0; i < sh->npend; i++)
		close(sh->pend[i].fd);
	sh->npend = 0;
	sh->rc = rc;
	pthread_mutex_lock(&sh->run->lock);
	sh->run->stop = 1;
	pthread_mutex_unlock(&sh->run->lock);
	return NULL;
}

/* Read records of sh->dir until the shared stream is done: a chunk of
 * names, then one open + read per record into the reused buffer. */
static void *readshare(void *arg)
{
	struct share *sh = arg;
	int dfd = dirfd(sh->run->dir);
	size_t n;
	int rc;

	sh->rc = CT_OK;
	while ((n = takenames(sh)) > 0) {
		for (size_t i = 0; i < n; i++)
			if ((rc = readone(sh, dfd, i)) != CT_OK)
				return failshare(sh, rc);
		/* The names of the pending records are in this chunk. */
		if ((rc = flushpending(sh)) != CT_OK)
			return failshare(sh, rc);
	}
	return NULL;
}

/* How many shares: one per CPU, at most SHARES_MAX; CT_CSV_THREADS
 * overrides (tests, or a host where the exporter should stay small). */
static unsigned nshares(void)
{
	const char *e = getenv("CT_CSV_THREADS");
	long n = e && *e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > SHARES_MAX ? SHARES_MAX : (unsigned)n;
}

/* SPOOL/sent/DAY/, read by parallel threads from one directory stream,
 * then merged into sh[0].  Absent is an empty day; an unreadable spool is
 * not. */
static int from_spool(struct run *r, struct share *sh, unsigned n, char *err)
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
		sh[i].started = pthread_create(&sh[i].th, NULL, readshare, &sh[i]) == 0;
	readshare(&sh[0]);
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

/* ct_target_list callback: keep the keys of the day's objects (only the
 * partition's own *.json.gz, not anything deeper). */
static int collect(void *arg, const char *key, uint64_t size)
{
	struct ct_buf *keys = arg;
	size_t n = strlen(key);

	(void)size;
	if (n < 8 || strcmp(key + n - 8, ".json.gz") != 0)
		return 0;
	return ct_buf_add(keys, key, n + 1);
}

/* The target's partition: list, then get + gunzip each object.  The keys
 * are collected first so a get never runs inside a listing. */
static int from_target(struct run *r, struct share *sh, struct ct_target *t,
                       char *err)
{
	char prefix[64];
	struct ct_buf keys, gz, raw;
	size_t plen;
	int rc;

	ct_buf_init(&keys, 0);
	ct_buf_init(&gz, GZ_MAX);
	ct_buf_init(&raw, 0);
	snprintf(prefix, sizeof(prefix), "sessions/year=%.4s/month=%.2s/day=%.2s/",
	         r->day, r->day + 5, r->day + 8);
	plen = strlen(prefix);
	rc = ct_target_list(t, prefix, collect, &keys, err);
	if (rc == CT_ERR_NOTFOUND) {
		rc = CT_OK;   /* nothing was ever stored: an empty day */
		goto out;
	}
	if (rc != CT_OK)
		goto out;
	for (size_t off = 0; off < keys.len; off += strlen(keys.p + off) + 1) {
		const char *key = keys.p + off;
		char why[CT_ERRLEN];

		if (strchr(key + plen, '/') != NULL)
			continue;
		rc = ct_target_get(t, key, GZ_MAX, &gz, why);
		if (rc == CT_OK)
			rc = ct_gz_decompress(gz.p, gz.len, CT_RECORD_MAX, &raw, why);
		if (rc == CT_ERR_NOTFOUND || rc == CT_ERR_INPUT || rc == CT_ERR_TOOBIG) {
			sh->unreadable++;
			report(r, key, why);
			rc = CT_OK;
			continue;
		}
		if (rc != CT_OK) {
			ct_seterr(err, rc, "%s", why);
			goto out;
		}
		if ((rc = take(sh, key, raw.p ? raw.p : "", raw.len)) != CT_OK) {
			ct_seterr(err, rc, "out of memory");
			goto out;
		}
	}
out:
	ct_buf_free(&keys);
	ct_buf_free(&gz);
	ct_buf_free(&raw);
	return rc;
}

static void on_unsafe(void *arg, const char *sid)
{
	struct run *r = arg;

	if (r->nunsafe++ < UNSAFE_IDS)
		ct_buf_printf(&r->unsafe, " %s", sid);
	else if (r->nunsafe == UNSAFE_IDS + 1)
		ct_buf_adds(&r->unsafe, " ...");
}

/* YYYY-MM-DD (a real date), yesterday or today (UTC) into day. */
static int parseday(const char *s, char day[11])
{
	char iso[32];
	int64_t us, now = ct_time_now_us();

	if (strcmp(s, "today") == 0) {
		ct_time_day(now, day);
		return 0;
	}
	if (strcmp(s, "yesterday") == 0) {
		ct_time_day(now - 86400LL * 1000000, day);
		return 0;
	}
	if (strlen(s) != 10)
		return -1;
	snprintf(iso, sizeof(iso), "%sT00:00:00Z", s);
	if (ct_time_parse(iso, &us) != CT_OK)
		return -1;
	/* 2025-02-30 would normalise to March: only a round trip is a date. */
	ct_time_day(us, day);
	return strcmp(day, s) == 0 ? 0 : -1;
}

static int usage(const char *why)
{
	fprintf(stderr, "calltrail-export csv: %s\n"
	        "usage: calltrail-export [-c FILE] csv --day YYYY-MM-DD|yesterday|today"
	        " [--out DIR] [--source spool|target]\n", why);
	return EX_USAGE;
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]; NULL when not this option. */
static const char *optval(int argc, char **argv, int *i, const char *name,
                          int *missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

/* Map a library error to the exit status calltrail-export.8 documents. */
static int exitcode(int rc)
{
	switch (rc) {
	case CT_ERR_TEMP:   return EX_TEMPFAIL;
	case CT_ERR_CONFIG: return EX_CONFIG;
	default:            return EX_IOERR;
	}
}

int export_csv(struct ct_conf *c, int argc, char **argv)
{
	const char *dayarg = NULL, *outdir = NULL, *source = "spool", *v;
	char err[CT_ERRLEN] = "", path[PATH_MAX], key[64];
	struct ct_target *t = NULL;
	struct ct_csv_stats st;
	struct share sh[SHARES_MAX];
	unsigned nsh = 1;
	struct ct_buf out;
	struct run r;
	int ex = 0, rc;

	memset(&r, 0, sizeof(r));
	memset(sh, 0, sizeof(sh));
	r.c = c;
	pthread_mutex_init(&r.lock, NULL);
	pthread_mutex_init(&r.agglock, NULL);
	ct_buf_init(&out, 0);
	ct_buf_init(&r.unsafe, 0);
	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: calltrail-export [-c FILE] csv --day "
			       "YYYY-MM-DD|yesterday|today [--out DIR] "
			       "[--source spool|target]\n");
			goto out;
		}
		if ((v = optval(argc, argv, &i, "--day", &missing)) != NULL)
			dayarg = v;
		else if ((v = optval(argc, argv, &i, "--out", &missing)) != NULL)
			outdir = v;
		else if ((v = optval(argc, argv, &i, "--source", &missing)) != NULL)
			source = v;
		else {
			ex = usage(missing ? "an option needs a value"
			                   : "unknown argument");
			goto out;
		}
	}
	if (dayarg == NULL) {
		ex = usage("--day is required");
		goto out;
	}
	if (parseday(dayarg, r.day) != 0) {
		ex = usage("--day: not YYYY-MM-DD (a real date), yesterday or today");
		goto out;
	}
	if (strcmp(source, "spool") != 0 && strcmp(source, "target") != 0) {
		ex = usage("--source: spool or target");
		goto out;
	}
	if (outdir == NULL)
		outdir = c->csv_dir;
	if (outdir == NULL || outdir[0] == '\0') {
		fprintf(stderr, "calltrail-export csv: csv_dir: empty\n");
		ex = EX_CONFIG;
		goto out;
	}
	if (strcmp(source, "target") == 0 || c->csv_upload) {
		if ((rc = ct_target_open(c, &t, err)) != CT_OK) {
			ex = exitcode(rc);
			goto fail;
		}
	}
	if (strcmp(source, "spool") == 0)
		nsh = nshares();
	if (ct_csv_day_new(&r.agg) != CT_OK) {
		snprintf(err, sizeof(err), "out of memory");
		ex = EX_IOERR;
		goto fail;
	}
	for (unsigned i = 0; i < nsh; i++) {
		sh[i].run = &r;
		sh[i].noatime = 1;
		sh[i].nowait = 1;
		if ((sh[i].rec = malloc(CT_RECORD_MAX + 1)) == NULL ||
		    (sh[i].names = malloc(CHUNK * sizeof(*sh[i].names))) == NULL) {
			snprintf(err, sizeof(err), "out of memory");
			ex = EX_IOERR;
			goto fail;
		}
	}

	rc = strcmp(source, "target") == 0 ? from_target(&r, &sh[0], t, err)
	                                   : from_spool(&r, sh, nsh, err);
	if (rc == CT_OK)
		rc = ct_csv_day_render(r.agg, &out, on_unsafe, &r, &st);
	if (rc != CT_OK) {
		ex = exitcode(rc);
		goto fail;
	}

	snprintf(path, sizeof(path), "%s/salesforce-leads-%s.csv", outdir, r.day);
	if ((rc = ct_mkdirs(outdir, 0750, err)) != CT_OK ||
	    (rc = ct_file_put(path, out.p, out.len, 0640, err)) != CT_OK) {
		ex = exitcode(rc == CT_ERR_CONFIG ? CT_ERR_IO : rc);
		goto fail;
	}
	if (c->csv_upload) {
		struct ct_obj obj;

		memset(&obj, 0, sizeof(obj));
		snprintf(key, sizeof(key), "salesforce/date=%s/leads.csv", r.day);
		obj.key = key;
		obj.data = out.p;
		obj.len = out.len;
		obj.content_type = "text/csv";
		if ((rc = ct_target_put(t, &obj, 1, err)) != CT_OK) {
			ct_seterr(err, rc, "%s written, but storing %s in %s "
			          "failed: %s", path, key, ct_target_name(t), obj.err);
			ex = exitcode(rc);
			goto fail;
		}
	}

	/* One line: what was written, from how much, and what was left out
	 * and why (unsafe rows by session id, never by email). */
	printf("csv %s (%s): wrote %zu row%s to %s%s%s; read %zu calls; left out: "
	       "no email %zu, bad email %zu, email over %d chars %zu, "
	       "unsafe cell %zu%s%s%s, unreadable %zu, other day %zu\n",
	       r.day, source, st.rows, st.rows == 1 ? "" : "s", path,
	       c->csv_upload ? " and " : "", c->csv_upload ? key : "",
	       st.calls + sh[0].unreadable + sh[0].otherday, st.no_email, st.bad_email,
	       CT_CSV_EMAIL_MAX, st.too_long, st.unsafe,
	       r.nunsafe ? " (sessions:" : "", r.nunsafe ? r.unsafe.p : "",
	       r.nunsafe ? ")" : "", sh[0].unreadable, sh[0].otherday);
	fflush(stdout);
	goto out;
fail:
	fprintf(stderr, "calltrail-export csv: %s\n", err);
out:
	ct_target_close(t);
	ct_csv_day_free(r.agg);
	for (unsigned i = 0; i < SHARES_MAX; i++) {
		free(sh[i].rec);
		free(sh[i].names);
	}
	pthread_mutex_destroy(&r.lock);
	pthread_mutex_destroy(&r.agglock);
	ct_buf_free(&out);
	ct_buf_free(&r.unsafe);
	return ex;
}
