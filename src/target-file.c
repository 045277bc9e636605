/*
 * target-file.c — the file:///DIR target: a local tree DIR/KEY,
 * directories 0750, objects 0640.  URL parsing, key checks and the
 * dispatch are in target.c; see ct_target.h for the interface.
 *
 * Each object is written by tmp + fsync + rename, so a reader never sees
 * half an object under its key and a crash leaves the old one or the
 * new.  Temporary files are DIR/.../.tmp-XXXXXX: every name starting with
 * '.' is skipped by the listing.  One thread writes a batch's files and
 * a pool of threads fsyncs each as soon as it is written; each directory
 * the batch renamed into is fsynced once, before any object of the batch
 * is reported stored (see ct_tfile_put).
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
#include <time.h>
#include <unistd.h>

#include "ct_targetint.h"

/*
 * Files of one batch fsynced at once.  An fsync waits for the device;
 * many at once let the block layer merge their writes and cache flushes,
 * and while the threads wait the caller creates and writes the next
 * files.  Only the caller creates, renames and unlinks: creating files in
 * one directory from many threads makes them spin on its lock.
 */
#define POOL_THREADS 32

/* DIR/KEY into path (PATH_MAX); 0 when it does not fit. */
static int keypath(const struct ct_target *t, const char *key, char *path)
{
	int n = snprintf(path, PATH_MAX, "%s/%s", t->dir, key);
	return n > 0 && n < PATH_MAX;
}

/* A temporary file older than this was left by a run that died (kill -9,
 * power loss) between creating and renaming it: no run takes this long
 * over one object, and another host sharing the tree writes only young
 * ones. */
#define TMP_STALE_SECONDS 3600

/* Remove the stale temporaries in dir.  Best effort: a file that cannot
 * be removed costs only its space, never a store. */
static void sweeptmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".tmp-", 5) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && now - st.st_mtime > TMP_STALE_SECONDS)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/*
 * Make dir (DIR/a/b/..., a directory of the tree) with its parents, and
 * make the name of every directory on the way durable: fsync DIR's parent
 * and each directory from DIR down to dir's parent (dir itself is synced
 * by the batch that writes into it).  This is done once per process for
 * each directory, not only when mkdir created it, so a directory a killed
 * run made but never synced is covered too.  It is remembered, so it costs
 * nothing for the next object in the same directory.  The first time,
 * it also removes the stale temporary files a killed run left in dir.
 */
static int makedir(struct ct_target *t, const char *dir, char *err)
{
	char p[PATH_MAX];
	size_t i, n = strlen(dir), root = strlen(t->dir);
	const char *slash;
	int rc;

	for (i = 0; i < CT_TARGET_DIRCACHE; i++)
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
	sweeptmp(dir);
	/* Not remembering (no memory) only means doing this again. */
	i = t->nready++ % CT_TARGET_DIRCACHE;
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

/* Where one object of a batch is between its write and its directory
 * fsync. */
enum { P_NONE, P_WRITTEN, P_SYNCED, P_RENAMED };

struct pend {
	int state;                  /* P_*; P_NONE: not (yet) written */
	int fd;                     /* the open temporary file (P_WRITTEN) */
	char tmp[PATH_MAX];         /* its name; "" once renamed or removed */
};

/* A batch shared by the caller, which writes p[0..ready), and the pool
 * of threads, which fsyncs them in order as they come. */
struct pool {
	struct ct_target *t;
	struct ct_obj *objs;
	struct pend *p;
	size_t n;                   /* objects to write */
	size_t ready;               /* written so far (under mu) */
	size_t next;                /* the next one to fsync (under mu) */
	int done;                   /* the caller writes no more (under mu) */
	int stop;                   /* a file failed: write no more (under mu) */
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* ready or done changed */
};

/* Write objs[i] to a new temporary file beside its key (mode 0640), left
 * open for fsync.  On failure its status says why and no file is left. */
static int writeone(struct pool *w, size_t i)
{
	struct ct_obj *o = &w->objs[i];
	struct pend *p = &w->p[i];
	char path[PATH_MAX];
	const char *slash;
	int n;

	o->attempts = 1;
	if (!keypath(w->t, o->key, path) || (slash = strrchr(path, '/')) == NULL) {
		o->status = ct_seterr(o->err, CT_ERR_INPUT, "key too long: %.80s", o->key);
		return o->status;
	}
	n = (int)(slash - path);
	if (snprintf(p->tmp, sizeof p->tmp, "%.*s/.tmp-XXXXXX", n, path) >=
	    (int)sizeof p->tmp) {
		p->tmp[0] = '\0';
		o->status = ct_seterr(o->err, CT_ERR_INPUT, "path too long: \"%s\"", path);
		return o->status;
	}
	if ((p->fd = mkstemp(p->tmp)) < 0) {
		p->tmp[0] = '\0';
		o->status = ct_seterr(o->err, CT_ERR_IO, "create a temporary file in "
		                      "\"%.*s\" failed: %s", n, path, strerror(errno));
		return o->status;
	}
	if (fchmod(p->fd, 0640) < 0 || ct_write_full(p->fd, o->data, o->len) < 0) {
		o->status = ct_seterr(o->err, CT_ERR_IO, "write \"%s\" failed: %s",
		                      p->tmp, strerror(errno));
		close(p->fd);
		p->fd = -1;
		unlink(p->tmp);
		p->tmp[0] = '\0';
		return o->status;
	}
	p->state = P_WRITTEN;
	return CT_OK;
}

/* fsync and close p[i] (a pool thread).  Some file systems report a full
 * disk only here.  P_SYNCED only when both worked: its bytes are durable,
 * and its status stays "not attempted" until ct_tfile_put has renamed it
 * and fsynced its directory.  Touches only objs[i] and p[i]. */
static int syncone(struct pool *w, size_t i)
{
	struct ct_obj *o = &w->objs[i];
	struct pend *p = &w->p[i];
	int e = fsync(p->fd) < 0 ? errno : 0;

	if (close(p->fd) < 0 && e == 0)
		e = errno;
	p->fd = -1;
	if (e != 0) {
		o->status = ct_seterr(o->err, CT_ERR_IO, "write \"%s\" failed: %s",
		                      p->tmp, strerror(e));
		p->state = P_NONE;      /* the caller removes p->tmp */
		return o->status;
	}
	p->state = P_SYNCED;
	return CT_OK;
}

/* A pool thread (or the caller, when no thread could start): fsync each
 * file as soon as it is written, until the caller is done. */
static void *poolrun(void *arg)
{
	struct pool *w = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->next >= w->ready && !w->done)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->next >= w->ready) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		i = w->next++;
		pthread_mutex_unlock(&w->mu);
		if (syncone(w, i) != CT_OK) {
			pthread_mutex_lock(&w->mu);
			w->stop = 1;
			pthread_mutex_unlock(&w->mu);
		}
	}
}

/*
 * Write objs[0..n) here and fsync them with up to POOL_THREADS threads,
 * each file as soon as it is written; stop writing after a failure.  The
 * threads block every signal, so the exporter's handlers run where they
 * always did.  When no thread can start, the caller fsyncs them itself
 * after writing them all, with the same result.
 */
static void writeall(struct pool *w)
{
	pthread_t th[POOL_THREADS];
	int started[POOL_THREADS], any = 0, stop;
	sigset_t all, old;
	size_t i, k, nt = w->n < POOL_THREADS ? w->n : POOL_THREADS;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (k = 0; k < nt; k++)
		any |= started[k] = pthread_create(&th[k], NULL, poolrun, w) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (i = 0; i < w->n; i++) {
		pthread_mutex_lock(&w->mu);
		stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop || writeone(w, i) != CT_OK)
			break;
		pthread_mutex_lock(&w->mu);
		w->ready = i + 1;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (!any)
		poolrun(w);
	for (k = 0; k < nt; k++)
		if (started[k])
			pthread_join(th[k], NULL);
}

/* Remember the first failure of a batch in rc and err. */
static void first(int *rc, char *err, const struct ct_obj *o)
{
	if (*rc != CT_OK || o->status == CT_OK)
		return;
	*rc = o->status;
	snprintf(err, CT_ERRLEN, "%s", o->err);
}

/*
 * Store objs[0..n) in the local tree.  The order is what makes a crash
 * (kill -9 or power loss) at any point harmless:
 *
 *   1. every object's directory made, and the names of the directories
 *      above it made durable (makedir, once per directory and process);
 *   2. each object written to a temporary file beside its key, and that
 *      file fsynced and closed (writeall: this thread writes, a pool of
 *      threads fsyncs each file as soon as it is written, so writing the
 *      next files and waiting for the device overlap);
 *   3. each object whose file is durable renamed to DIR/KEY: its bytes
 *      are durable, its name not yet;
 *   4. one fsync of each distinct directory the batch renamed into;
 *   5. only then does an object get CT_OK, which lets the caller move its
 *      record on (upload.c: cur/ -> sent/).
 *
 * A reader never sees half an object (a name appears only by rename,
 * after fsync); a crash before 5 leaves the record in cur/ and maybe an
 * object at its key, and the next run stores the same bytes under the
 * same key again.  A local failure in 1 or 2 (a full disk) would fail
 * the rest the same way, so no further object is started (the rest stay
 * "not attempted"); the ones written before it still go through 3 to 5.
 */
int ct_tfile_put(struct ct_target *t, struct ct_obj *objs, size_t n, char *err)
{
	char path[PATH_MAX], dpath[PATH_MAX];
	struct pool w;
	size_t i, j;
	int rc = CT_OK, rc2;

	if (n == 0)
		return CT_OK;
	memset(&w, 0, sizeof w);
	if ((w.p = calloc(n, sizeof *w.p)) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "target: out of memory");
	w.t = t;
	w.objs = objs;
	/* 1: directories change only between days, so this is a lookup. */
	for (i = 0; i < n; i++) {
		struct ct_obj *o = &objs[i];

		if (!keydir(t, o->key, dpath))
			o->status = ct_seterr(o->err, CT_ERR_INPUT, "key too long: %.80s",
			                      o->key);
		else if ((o->status = makedir(t, dpath, o->err)) == CT_OK) {
			/* back to "not attempted" until 2 has run */
			o->status = CT_ERR_TEMP;
			snprintf(o->err, sizeof o->err, "not attempted");
			continue;
		}
		o->attempts = 1;
		first(&rc, err, o);
		break;
	}
	w.n = i;
	/* 2 */
	if (pthread_mutex_init(&w.mu, NULL) != 0) {
		free(w.p);
		return ct_seterr(err, CT_ERR_NOMEM, "target: cannot make a mutex");
	}
	if (pthread_cond_init(&w.cv, NULL) != 0) {
		pthread_mutex_destroy(&w.mu);
		free(w.p);
		return ct_seterr(err, CT_ERR_NOMEM, "target: cannot make a condition");
	}
	for (i = 0; i < w.n; i++)
		w.p[i].fd = -1;
	writeall(&w);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	/* 3: the status "not synced" stands until 4 has run. */
	for (i = 0; i < w.n; i++) {
		struct ct_obj *o = &objs[i];

		if (w.p[i].state != P_SYNCED) {
			if (o->attempts > 0)    /* failed, not just never taken */
				first(&rc, err, o);
			continue;
		}
		if (!keypath(t, o->key, path) || rename(w.p[i].tmp, path) < 0) {
			o->status = ct_seterr(o->err, CT_ERR_IO, "rename \"%s\" to \"%s\" "
			                      "failed: %s", w.p[i].tmp, path, strerror(errno));
			first(&rc, err, o);
			continue;
		}
		w.p[i].tmp[0] = '\0';
		w.p[i].state = P_RENAMED;
		o->status = ct_seterr(o->err, CT_ERR_IO, "not synced");
	}
	/* 4 and 5: each directory once, for every object renamed into it. */
	for (i = 0; i < w.n; i++) {
		if (w.p[i].state != P_RENAMED)
			continue;
		if (!keydir(t, objs[i].key, dpath))
			rc2 = ct_seterr(objs[i].err, CT_ERR_INPUT, "key too long");
		else
			rc2 = ct_fsync_dir(dpath, objs[i].err);
		for (j = i; j < w.n; j++) {
			if (w.p[j].state != P_RENAMED || !samedir(objs[i].key, objs[j].key))
				continue;
			w.p[j].state = P_NONE;
			objs[j].status = rc2;
			if (rc2 == CT_OK)
				objs[j].err[0] = '\0';
			else if (j != i)
				snprintf(objs[j].err, sizeof objs[j].err, "%s", objs[i].err);
		}
		if (rc2 != CT_OK)
			first(&rc, err, &objs[i]);
	}
	/* No temporary file outlives a failure. */
	for (i = 0; i < w.n; i++) {
		if (w.p[i].fd >= 0)
			close(w.p[i].fd);
		if (w.p[i].tmp[0])
			unlink(w.p[i].tmp);
	}
	free(w.p);
	return rc;
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
			continue;   /* ., .., and the .tmp-* of a batch being written */
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
		if (rlen + l > CT_TARGET_KEY_MAX)
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

/* Every key under prefix (checked by the caller), in byte order. */
int ct_tfile_list(struct ct_target *t, const char *prefix,
                  int (*cb)(void *arg, const char *key, uint64_t size),
                  void *arg, char *err)
{
	char rel[CT_TARGET_KEY_MAX + 2] = "";
	struct walk w = { cb, arg, prefix, err };

	return walkdir(&w, t->dir, rel, 0);
}

/* Fetch one object (key checked by the caller); CT_ERR_NOTFOUND when it
 * does not exist. */
int ct_tfile_get(struct ct_target *t, const char *key, size_t max,
                 struct ct_buf *out, char *err)
{
	char path[PATH_MAX];
	struct stat st;

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
