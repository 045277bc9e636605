/*
 * target.c — where exported objects go (see ct_target.h).
 *
 * Two kinds of target share one small interface:
 *
 *   file:///DIR           a local tree: DIR/KEY, directories 0750, objects
 *                         0640, each written by tmp + fsync + rename, so a
 *                         reader never sees half an object and a crash
 *                         leaves the old one or the new; a batch fsyncs its
 *                         files concurrently and each directory once, before
 *                         any object is reported stored (see fileputs).
 *   s3://BUCKET[/PREFIX]  Amazon S3 or a compatible store; the work is done
 *                         by s3.c (ct_s3_*), keys are relative to PREFIX.
 *
 * Keys come from our own code, but they name paths on disk, so every key
 * is checked here: relative, no empty, "." or ".." component, no control
 * bytes.  A file target therefore never writes outside DIR.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_s3.h"
#include "ct_target.h"

#define KEY_MAX 1024
#define DIRCACHE 8              /* file: directories known durable */
#define SYNC_THREADS 8          /* file: fsyncs of one batch at once */

struct ct_target {
	char name[PATH_MAX + 16];   /* printable: file:///x or s3://b/p */
	char *dir;                  /* file: the root directory */
	struct ct_s3 *s3;           /* s3: the client */
	char *ready[DIRCACHE];      /* file: made durable by this process */
	size_t nready;              /* file: the next slot of ready to reuse */
};

/* Is s[0..n) one of the path components we never accept? */
static int badcomp(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '.') ||
	       (n == 2 && s[0] == '.' && s[1] == '.');
}

/*
 * Check a key or key prefix: relative, printable, no "." / ".." / empty
 * component.  A prefix may end with '/' (an empty last component).
 */
static int checkkey(const char *key, int prefix)
{
	const char *p, *c;
	size_t len = strlen(key);

	if (len > KEY_MAX || (!prefix && len == 0) || key[0] == '/')
		return 0;
	if (len == 0)
		return 1;
	for (p = key; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	for (c = key; ; c = p + 1) {
		p = strchr(c, '/');
		if (p == NULL)
			p = c + strlen(c);
		if (*p == '\0' && prefix && p == c)
			return 1;               /* trailing "/" of a prefix */
		if (badcomp(c, (size_t)(p - c)))
			return 0;
		if (*p == '\0')
			return 1;
	}
}

/* A directory path of a file:// URL: absolute, clean components. */
static int checkdir(const char *d)
{
	const char *c, *p;

	if (d[0] != '/' || strlen(d) >= PATH_MAX - KEY_MAX - 2)
		return 0;
	for (p = d; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	for (c = d + 1; *c; c = *p ? p + 1 : p) {
		p = strchr(c, '/');
		if (p == NULL)
			p = c + strlen(c);
		if (badcomp(c, (size_t)(p - c)) && !(p == c && *p == '\0'))
			return 0;
	}
	return 1;
}

/*
 * S3 bucket naming rules: 3-63 of [a-z0-9.-], starting and ending with a
 * letter or digit, no "..", not shaped like an IPv4 address.  Dots are
 * allowed by S3 but break virtual-hosted TLS names, so only warnable; we
 * accept them as S3 does.
 */
static int checkbucket(const char *b, size_t n)
{
	size_t i, dots = 0;
	int alldigits = 1;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = b[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '-'))
			return 0;
		if (ch == '.') {
			dots++;
			if (i > 0 && b[i - 1] == '.')
				return 0;
		} else if (!(ch >= '0' && ch <= '9'))
			alldigits = 0;
	}
	if (b[0] == '.' || b[0] == '-' || b[n - 1] == '.' || b[n - 1] == '-')
		return 0;
	return !(alldigits && dots == 3);
}

static int openfile(struct ct_target *t, const char *url, char *err)
{
	const char *d = url + strlen("file://");
	size_t n = strlen(d);

	if (!checkdir(d))
		return ct_seterr(err, CT_ERR_CONFIG, "target: \"%s\" is not file:///ABSOLUTE/DIR "
		                 "(no \".\" or \"..\" components)", url);
	while (n > 1 && d[n - 1] == '/')
		n--;
	if ((t->dir = strndup(d, n)) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "target: out of memory");
	snprintf(t->name, sizeof t->name, "file://%s", t->dir);
	return CT_OK;
}

static int opens3(struct ct_target *t, const struct ct_conf *c, const char *url,
                  char *err)
{
	const char *b = url + strlen("s3://"), *slash = strchr(b, '/');
	size_t blen = slash ? (size_t)(slash - b) : strlen(b);
	char bucket[64], prefix[KEY_MAX + 1];
	size_t plen;
	int rc;

	if (!checkbucket(b, blen))
		return ct_seterr(err, CT_ERR_CONFIG, "target: \"%.*s\" is not a valid S3 "
		                 "bucket name (3-63 of a-z 0-9 . -)", (int)(blen > 63 ? 63 : blen), b);
	memcpy(bucket, b, blen);
	bucket[blen] = '\0';
	plen = slash ? strlen(slash + 1) : 0;
	if (plen > KEY_MAX)
		return ct_seterr(err, CT_ERR_CONFIG, "target: S3 prefix too long");
	memcpy(prefix, slash ? slash + 1 : "", plen + 1);
	while (plen > 0 && prefix[plen - 1] == '/')
		prefix[--plen] = '\0';
	if (plen > 0 && !checkkey(prefix, 0))
		return ct_seterr(err, CT_ERR_CONFIG, "target: S3 prefix \"%s\" has an empty, "
		                 "\".\" or \"..\" component or a control byte", prefix);
	if (c->aws_access_key_id == NULL || c->aws_access_key_id[0] == '\0' ||
	    c->aws_secret_access_key == NULL || c->aws_secret_access_key[0] == '\0')
		return ct_seterr(err, CT_ERR_CONFIG, "target %s needs AWS credentials: set "
		                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
		                 "~/.aws/credentials)", url);
	snprintf(t->name, sizeof t->name, "s3://%s%s%s", bucket, plen ? "/" : "", prefix);
	rc = ct_s3_open(c, bucket, prefix, &t->s3, err);
	return rc;
}

/* Parse c->target and open it; see ct_target.h. */
int ct_target_open(const struct ct_conf *c, struct ct_target **tp, char *err)
{
	struct ct_target *t;
	int rc;

	*tp = NULL;
	if (c->target == NULL || c->target[0] == '\0')
		return ct_seterr(err, CT_ERR_CONFIG, "target: empty");
	if ((t = calloc(1, sizeof *t)) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "target: out of memory");
	if (strncmp(c->target, "file://", 7) == 0)
		rc = openfile(t, c->target, err);
	else if (strncmp(c->target, "s3://", 5) == 0)
		rc = opens3(t, c, c->target, err);
	else
		rc = ct_seterr(err, CT_ERR_CONFIG, "target: \"%.64s\" is neither "
		               "file:///DIR nor s3://BUCKET/PREFIX", c->target);
	if (rc != CT_OK)
		goto out;
	*tp = t;
	t = NULL;
out:
	ct_target_close(t);
	return rc;
}

/* DIR/KEY into path (PATH_MAX); 0 when it does not fit. */
static int keypath(const struct ct_target *t, const char *key, char *path)
{
	int n = snprintf(path, PATH_MAX, "%s/%s", t->dir, key);
	return n > 0 && n < PATH_MAX;
}

/*
 * Make dir (DIR/a/b/..., a directory of the tree) with its parents, and
 * make the name of every directory on the way durable: fsync DIR's parent
 * and each directory from DIR down to dir's parent (dir itself is synced
 * by the batch that writes into it).  This is done once per process for
 * each directory, not only when mkdir created it, so a directory a killed
 * run made but never synced is covered too.  It is remembered, so it costs
 * nothing for the next object in the same directory.
 */
static int makedir(struct ct_target *t, const char *dir, char *err)
{
	char p[PATH_MAX];
	size_t i, n = strlen(dir), root = strlen(t->dir);
	const char *slash;
	int rc;

	for (i = 0; i < DIRCACHE; i++)
		if (t->ready[i] && strcmp(t->ready[i], dir) == 0)
			return CT_OK;
	if (n >= sizeof p || n < root)
		return ct_seterr(err, CT_ERR_INPUT, "bad directory \"%.200s\"", dir);
	if ((rc = ct_mkdirs(dir, 0750, err)) != CT_OK)
		return rc;
	memcpy(p, dir, n + 1);
	/* DIR's own name lives in its parent (DIR may just have been made). */
	if ((slash = strrchr(t->dir, '/')) != NULL && slash != t->dir) {
		p[slash - t->dir] = '\0';
		rc = ct_fsync_dir(p, err);
		p[slash - t->dir] = '/';
		if (rc != CT_OK)
			return rc;
	}
	for (i = root; i < n; i++) {
		if (p[i] != '/')
			continue;
		p[i] = '\0';
		rc = ct_fsync_dir(i == 0 ? "/" : p, err);
		p[i] = '/';
		if (rc != CT_OK)
			return rc;
	}
	/* Not remembering (no memory) only means doing this again. */
	i = t->nready++ % DIRCACHE;
	free(t->ready[i]);
	t->ready[i] = strdup(dir);
	return CT_OK;
}

/* The length of the directory part of key ("a/b" of "a/b/c"; 0: none). */
static size_t keydirlen(const char *key)
{
	const char *slash = strrchr(key, '/');
	return slash ? (size_t)(slash - key) : 0;
}

/* DIR/ + the directory part of key into path; 0 when it does not fit. */
static int keydir(const struct ct_target *t, const char *key, char *path)
{
	int n = snprintf(path, PATH_MAX, "%s%s%.*s", t->dir, keydirlen(key) ? "/" : "",
	                 (int)keydirlen(key), key);
	return n > 0 && n < PATH_MAX;
}

/* Do keys a and b name objects in the same directory? */
static int samedir(const char *a, const char *b)
{
	size_t n = keydirlen(a);
	return n == keydirlen(b) && memcmp(a, b, n) == 0;
}

/* One object of a batch between its write and its rename. */
struct pend {
	int fd;                     /* the temporary file, -1 once closed */
	int errnum;                 /* fsync's errno; 0 when it worked */
	char tmp[PATH_MAX];         /* its name; "" once renamed or never made */
};

/* The share of a batch one syncing thread takes: p[first], p[first +
 * step], ... */
struct syncer {
	struct pend *p;
	size_t n, first, step;
};

static void *syncrun(void *arg)
{
	struct syncer *s = arg;
	size_t i;

	for (i = s->first; i < s->n; i += s->step)
		if (s->p[i].fd >= 0 && fsync(s->p[i].fd) < 0)
			s->p[i].errnum = errno;
	return NULL;
}

/*
 * fsync every file of p[0..n), several at once.  One fsync at a time
 * waits for one device cache flush per file; concurrent ones let the
 * block layer merge their flushes, so a batch waits for a few.  The
 * threads only call fsync on descriptors they are given and store errno
 * in their own entries; they block every signal, so the exporter's
 * handlers run where they always did.  Without threads (n == 1, or none
 * could start) the work is done here, with the same result.
 */
static void syncall(struct pend *p, size_t n)
{
	pthread_t th[SYNC_THREADS];
	struct syncer s[SYNC_THREADS];
	int started[SYNC_THREADS];
	sigset_t all, old;
	size_t k, nt = n < SYNC_THREADS ? n : SYNC_THREADS;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (k = 0; k < nt; k++) {
		s[k].p = p;
		s[k].n = n;
		s[k].first = k;
		s[k].step = nt;
		started[k] = nt > 1 && pthread_create(&th[k], NULL, syncrun, &s[k]) == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (k = 0; k < nt; k++) {
		if (started[k])
			pthread_join(th[k], NULL);
		else
			syncrun(&s[k]);
	}
}

/* Create a temporary file beside path (mode 0640) and write o's bytes
 * into it; the file stays open for syncall. */
static int writetmp(const char *path, struct ct_obj *o, struct pend *p)
{
	const char *slash = strrchr(path, '/');
	int n = (int)(slash - path);

	if (snprintf(p->tmp, sizeof p->tmp, "%.*s/.tmp-XXXXXX", n, path) >=
	    (int)sizeof p->tmp) {
		p->tmp[0] = '\0';
		return ct_seterr(o->err, CT_ERR_INPUT, "path too long: \"%s\"", path);
	}
	if ((p->fd = mkstemp(p->tmp)) < 0) {
		p->tmp[0] = '\0';
		return ct_seterr(o->err, CT_ERR_IO, "create a temporary file in \"%.*s\" "
		                 "failed: %s", n, path, strerror(errno));
	}
	if (fchmod(p->fd, 0640) < 0 || ct_write_full(p->fd, o->data, o->len) < 0)
		return ct_seterr(o->err, CT_ERR_IO, "write \"%s\" failed: %s", p->tmp,
		                 strerror(errno));
	return CT_OK;
}

/*
 * Store objs[0..n) in the local tree.  The order is what makes a crash
 * (kill -9 or power loss) at any point harmless:
 *
 *   1. each object: a temporary file beside its key, written;
 *   2. every one of them fsynced (syncall: concurrently);
 *   3. each whose fsync and close worked renamed to DIR/KEY: its bytes
 *      are durable, its name not yet;
 *   4. one fsync of each distinct directory the batch renamed into;
 *   5. only then does an object get CT_OK, which lets the caller move its
 *      record on (upload.c: cur/ -> sent/).
 *
 * A reader never sees half an object (a name appears only by rename,
 * after fsync); a crash before 5 leaves the record in cur/ and maybe an
 * object at its key, and the next run stores the same bytes under the
 * same key again.  A local failure in 1 (a full disk) would fail the
 * rest the same way, so the batch stops there and leaves the others "not
 * attempted"; what was written before it still goes through 2 to 5.
 */
static int fileputs(struct ct_target *t, struct ct_obj *objs, size_t n,
                    char *err)
{
	char path[PATH_MAX], dpath[PATH_MAX];
	struct pend *p = NULL;
	size_t i, j, nw;
	int rc = CT_OK, rc2, e;

	if (n == 0)
		return CT_OK;
	if ((p = calloc(n, sizeof *p)) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "target: out of memory");
	for (i = 0; i < n; i++)
		p[i].fd = -1;
	/* 1 */
	for (i = 0; i < n; i++) {
		struct ct_obj *o = &objs[i];

		o->attempts = 1;
		if (!keypath(t, o->key, path) || !keydir(t, o->key, dpath))
			o->status = ct_seterr(o->err, CT_ERR_INPUT, "key too long: %.80s",
			                      o->key);
		else if ((o->status = makedir(t, dpath, o->err)) == CT_OK &&
		         (o->status = writetmp(path, o, &p[i])) == CT_OK)
			continue;
		rc = o->status;
		snprintf(err, CT_ERRLEN, "%s", o->err);
		break;
	}
	nw = i;
	/* 2 */
	syncall(p, nw);
	/* 3: the status "not synced" stands until 4 has run. */
	for (i = 0; i < nw; i++) {
		struct ct_obj *o = &objs[i];

		e = p[i].errnum;
		if (close(p[i].fd) < 0 && e == 0)
			e = errno;
		p[i].fd = -1;
		if (e != 0)
			o->status = ct_seterr(o->err, CT_ERR_IO, "write \"%s\" failed: %s",
			                      p[i].tmp, strerror(e));
		else if (!keypath(t, o->key, path) || rename(p[i].tmp, path) < 0)
			o->status = ct_seterr(o->err, CT_ERR_IO, "rename \"%s\" to \"%s\" "
			                      "failed: %s", p[i].tmp, path, strerror(errno));
		else {
			p[i].tmp[0] = '\0';
			o->status = ct_seterr(o->err, CT_ERR_IO, "not synced");
			p[i].errnum = -1;       /* renamed, waiting for 4 */
			continue;
		}
		if (rc == CT_OK) {
			rc = o->status;
			snprintf(err, CT_ERRLEN, "%s", o->err);
		}
	}
	/* 4 and 5: each directory once, for every object renamed into it. */
	for (i = 0; i < nw; i++) {
		if (p[i].errnum != -1)
			continue;
		if (!keydir(t, objs[i].key, dpath))
			rc2 = ct_seterr(objs[i].err, CT_ERR_INPUT, "key too long");
		else
			rc2 = ct_fsync_dir(dpath, objs[i].err);
		for (j = i; j < nw; j++) {
			if (p[j].errnum != -1 || !samedir(objs[i].key, objs[j].key))
				continue;
			p[j].errnum = 0;
			objs[j].status = rc2;
			if (rc2 == CT_OK)
				objs[j].err[0] = '\0';
			else if (j != i)
				snprintf(objs[j].err, sizeof objs[j].err, "%s", objs[i].err);
		}
		if (rc2 != CT_OK && rc == CT_OK) {
			rc = rc2;
			snprintf(err, CT_ERRLEN, "%s", objs[i].err);
		}
	}
	/* No temporary file outlives a failure. */
	for (i = 0; i < n; i++) {
		if (p[i].fd >= 0)
			close(p[i].fd);
		if (p[i].tmp[0])
			unlink(p[i].tmp);
	}
	free(p);
	return rc;
}

/* Store n objects; see ct_target.h.  Keys are checked before any store. */
int ct_target_put(struct ct_target *t, struct ct_obj *objs, size_t n, char *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		objs[i].status = CT_ERR_TEMP;
		objs[i].attempts = 0;
		snprintf(objs[i].err, sizeof objs[i].err, "not attempted");
	}
	for (i = 0; i < n; i++)
		if (!checkkey(objs[i].key, 0)) {
			objs[i].status = ct_seterr(objs[i].err, CT_ERR_INPUT,
			                           "invalid object key");
			return ct_seterr(err, CT_ERR_INPUT, "invalid object key \"%.80s\"",
			                 objs[i].key);
		}
	if (t->s3)
		return ct_s3_put(t->s3, objs, n, err);
	return fileputs(t, objs, n, err);
}

/* One directory entry of the local walk.  A directory's name carries
 * its trailing '/', so plain byte order of names is the order S3 gives
 * whole keys ("a-b" < "a/x" because '-' < '/'). */
struct ent {
	char *name;
	uint64_t size;
};

static int entcmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	return strcmp(x->name, y->name);
}

struct walk {
	int (*cb)(void *, const char *, uint64_t);
	void *arg;
	const char *prefix;
	char *err;
};

/* Could a key starting with rel (a directory, ending in '/') match? */
static int relevant(const char *rel, const char *prefix)
{
	size_t a = strlen(rel), b = strlen(prefix);
	return strncmp(rel, prefix, a < b ? a : b) == 0;
}

/* Walk dir (the key prefix rel, "" or ending in '/') in key order. */
static int walkdir(struct walk *w, const char *root, char *rel, size_t rlen)
{
	char path[PATH_MAX];
	struct ent *ents = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d = NULL;
	int rc = CT_OK;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT && rlen > 0)
			goto out;   /* vanished while we walked */
		rc = ct_seterr(w->err, errno == ENOENT ? CT_ERR_NOTFOUND : CT_ERR_IO,
		               "opendir \"%s\" failed: %s", path, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;   /* ., .., and ct_file_put's temporaries */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct ent *ne = realloc(ents, nc * sizeof *ne);
			if (ne == NULL) {
				rc = ct_seterr(w->err, CT_ERR_NOMEM, "list: out of memory");
				goto out;
			}
			ents = ne;
			cap = nc;
		}
		if (asprintf(&ents[n].name, "%s%s", de->d_name,
		             S_ISDIR(st.st_mode) ? "/" : "") < 0) {
			rc = ct_seterr(w->err, CT_ERR_NOMEM, "list: out of memory");
			goto out;
		}
		ents[n].size = (uint64_t)st.st_size;
		n++;
	}
	if (n > 1)
		qsort(ents, n, sizeof *ents, entcmp);
	for (i = 0; i < n && rc == CT_OK; i++) {
		size_t l = strlen(ents[i].name);
		if (rlen + l > KEY_MAX)
			continue;
		memcpy(rel + rlen, ents[i].name, l + 1);
		if (ents[i].name[l - 1] == '/') {
			if (relevant(rel, w->prefix))
				rc = walkdir(w, root, rel, rlen + l);
		} else if (strncmp(rel, w->prefix, strlen(w->prefix)) == 0) {
			rc = w->cb(w->arg, rel, ents[i].size);
		}
		rel[rlen] = '\0';
	}
out:
	for (i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	if (d)
		closedir(d);
	return rc;
}

/* List keys under prefix in byte order; see ct_target.h. */
int ct_target_list(struct ct_target *t, const char *prefix,
                   int (*cb)(void *arg, const char *key, uint64_t size),
                   void *arg, char *err)
{
	char rel[KEY_MAX + 2] = "";
	struct walk w = { cb, arg, prefix ? prefix : "", err };

	if (!checkkey(w.prefix, 1))
		return ct_seterr(err, CT_ERR_INPUT, "invalid key prefix \"%.80s\"", w.prefix);
	if (t->s3)
		return ct_s3_list(t->s3, w.prefix, cb, arg, err);
	return walkdir(&w, t->dir, rel, 0);
}

/* Fetch one object; CT_ERR_NOTFOUND when it does not exist. */
int ct_target_get(struct ct_target *t, const char *key, size_t max,
                  struct ct_buf *out, char *err)
{
	char path[PATH_MAX];
	struct stat st;

	if (!checkkey(key, 0))
		return ct_seterr(err, CT_ERR_INPUT, "invalid object key \"%.80s\"", key);
	if (t->s3)
		return ct_s3_get(t->s3, key, max, out, err);
	if (!keypath(t, key, path))
		return ct_seterr(err, CT_ERR_INPUT, "key too long: %.80s", key);
	if (lstat(path, &st) != 0) {
		if (errno != ENOENT)
			return ct_seterr(err, CT_ERR_IO, "stat \"%s\" failed: %s", path,
			                 strerror(errno));
		st.st_mode = 0;
	}
	if (!S_ISREG(st.st_mode))
		return ct_seterr(err, CT_ERR_NOTFOUND, "no object \"%s\" in %s", key,
		                 t->name);
	return ct_file_read(path, max, out, err);
}

const char *ct_target_name(const struct ct_target *t)
{
	return t->name;
}

void ct_target_close(struct ct_target *t)
{
	size_t i;

	if (t == NULL)
		return;
	if (t->s3)
		ct_s3_close(t->s3);
	for (i = 0; i < DIRCACHE; i++)
		free(t->ready[i]);
	free(t->dir);
	free(t);
}
