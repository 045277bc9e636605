/*
 * target-file.c — the file:///DIR target: a local tree DIR/KEY,
 * directories 0750, objects 0640: the state of an open tree and storing
 * objects.  Listing and fetching are in target-file-read.c; URL parsing,
 * key checks and the dispatch in target.c; see ct_target.h for the
 * interface.
 *
 * Every path below DIR is reached from DIR's descriptor one component at
 * a time with O_NOFOLLOW: a symlinked year=, month= or day= directory (or
 * object) is an error naming it, never a way to write, list or read
 * outside the tree.  DIR itself is the configured path and is followed.
 *
 * Each object is written with fsutil.c's durable-write primitive: a
 * temporary DIR/.tmp/.tmp-<16 hex> (ct_tmp_name), fsynced, renamed to
 * DIR/KEY, so a reader never sees half an object under its key and a
 * crash leaves the old one or the new.  The listing skips every name
 * starting with '.', so .tmp/ is never a key.  Keeping every temporary in
 * one directory is what lets a run find a killed run's leftovers cheaply:
 * the first store of each run removes those over an hour old there, and
 * only names of the writer's own temporary pattern, so no object can be
 * removed whatever it is called.  (Older versions wrote temporaries
 * beside the key as .tmp-XXXXXX; the first store into a directory
 * removes stale ones of that exact pattern there.)
 *
 * One thread writes a batch's files and a pool of threads, started once
 * per open target, fsyncs each as soon as it is written; each directory
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

/* A temporary file older than this was left by a run that died (kill -9,
 * power loss) between creating and renaming it: no run takes this long
 * over one object, and another host sharing the tree writes only young
 * ones. */
#define TMP_STALE_SECONDS 3600
#define TMPDIR ".tmp"

/* Where one object of a batch is between its write and its directory
 * fsync. */
enum { P_NONE, P_WRITTEN, P_SYNCED, P_RENAMED };

struct pend {
	int state;                  /* P_*; P_NONE: not (yet) written */
	size_t dir;                 /* its directory in the batch's dirs */
	struct ct_dw dw;            /* the temporary file */
};

/* The fsync pool: threads started once per open target, fed one batch at
 * a time by the caller, which writes p[0..ready) while they fsync them in
 * order. */
struct pool {
	pthread_t th[POOL_THREADS];
	size_t nth;                 /* threads running */
	pthread_mutex_t mu;
	pthread_cond_t work;        /* ready or quit changed */
	pthread_cond_t idle;        /* finished changed */
	struct ct_obj *objs;        /* the batch (under mu) */
	struct pend *p;
	size_t ready;               /* written so far */
	size_t next;                /* the next one to fsync */
	size_t finished;            /* fsynced (or failed) */
	int stop;                   /* a file failed: write no more */
	int quit;                   /* the target is closing */
};

/* A directory of the tree this process has opened and made durable. */
struct ready {
	char *rel;                  /* "sessions/year=2025/month=10/day=29" */
	int fd;
};

struct ct_tfile {
	int rootfd;                 /* DIR */
	int tmpfd;                  /* DIR/.tmp, -1 until the first store */
	char tmppath[PATH_MAX];
	struct ready ready[CT_TARGET_DIRCACHE];
	size_t nready;              /* the next slot of ready to reuse */
	int pooled;                 /* pool.mu and the conditions exist */
	struct pool pool;
};

/* "DIR/rel" into out (PATH_MAX) for messages. */
const char *ct_tfile_path(const struct ct_target *t, const char *rel, char *out)
{
	snprintf(out, PATH_MAX, "%s%s%s", t->dir, rel[0] ? "/" : "", rel);
	return out;
}

/* Say why dir/name could not be opened as a directory of the tree. */
int ct_tfile_whynot(int dir, const char *path, const char *name, int e,
                    char *err)
{
	struct stat st;

	if (e == ENOENT)
		return ct_seterr(err, CT_ERR_NOTFOUND, "\"%s\" does not exist", path);
	if ((e == ELOOP || e == ENOTDIR) &&
	    fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return ct_seterr(err, CT_ERR_IO, "archive \"%s\" is a symlink; "
		                 "calltrail never follows one inside the archive", path);
	return ct_seterr(err, CT_ERR_IO, "open \"%s\" failed: %s", path,
	                 strerror(e));
}

/* Remove the stale temporaries in the open directory fd: only names of
 * the writer's own pattern (ct_tmp_name), or, with legacy, of the
 * mkstemp pattern ".tmp-" and 6 letters or digits older versions used.
 * Neither can be an object ("..._<12 hex>.json.gz").  Best effort: a file
 * that cannot be removed costs only its space, never a store. */
static void sweep(int fd, int legacy)
{
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		int mine = ct_tmp_name(n), old = 0;

		if (!mine && legacy && strncmp(n, CT_TMP_PREFIX, 5) == 0 &&
		    strlen(n) == 11) {
			old = 1;
			for (int i = 5; i < 11; i++)
				if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'z') ||
				      (n[i] >= 'A' && n[i] <= 'Z')))
					old = 0;
		}
		if ((mine || old) && fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && now - st.st_mtime > TMP_STALE_SECONDS)
			(void)unlinkat(dirfd(d), n, 0);
	}
	closedir(d);
}

/* The target's state, made on first use; with create, DIR is made (and
 * its name made durable in its parent) when missing. */
static int state(struct ct_target *t, int create, struct ct_tfile **fp, char *err)
{
	struct ct_tfile *f = t->file;
	char parent[PATH_MAX];
	const char *slash;
	int rc;

	if (f == NULL) {
		if ((f = calloc(1, sizeof *f)) == NULL)
			return ct_seterr(err, CT_ERR_NOMEM, "target: out of memory");
		f->rootfd = f->tmpfd = -1;
		t->file = f;
	}
	if (f->rootfd < 0) {
		if ((f->rootfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 &&
		    errno == ENOENT && create) {
			if ((rc = ct_mkdirs(t->dir, 0750, err)) != CT_OK)
				return rc;
			f->rootfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
		if (f->rootfd < 0)
			return ct_seterr(err, errno == ENOENT ? CT_ERR_NOTFOUND : CT_ERR_IO,
			                 "open \"%s\" failed: %s", t->dir, strerror(errno));
	}
	if (create && f->tmpfd < 0) {
		/* DIR's own name lives in its parent, once per process: a
		 * killed run may have made DIR without syncing it. */
		if ((slash = strrchr(t->dir, '/')) != NULL) {
			snprintf(parent, sizeof parent, "%.*s", slash == t->dir ? 1 :
			         (int)(slash - t->dir), t->dir);
			if ((rc = ct_fsync_dir(parent, err)) != CT_OK)
				return rc;
		}
		if (mkdirat(f->rootfd, TMPDIR, 0700) == 0 && fsync(f->rootfd) < 0)
			return ct_seterr(err, CT_ERR_IO, "fsync \"%s\" failed: %s", t->dir,
			                 strerror(errno));
		ct_tfile_path(t, TMPDIR, f->tmppath);
		if ((f->tmpfd = openat(f->rootfd, TMPDIR, O_RDONLY | O_DIRECTORY |
		                       O_NOFOLLOW | O_CLOEXEC)) < 0)
			return ct_tfile_whynot(f->rootfd, f->tmppath, TMPDIR, errno, err);
		sweep(f->tmpfd, 0);
	}
	*fp = f;
	return CT_OK;
}

/*
 * Open the directory rel (a key's directory part, "" for DIR) from DIR
 * with O_NOFOLLOW at every step; with create, make what is missing
 * (0750) and make the name of every directory on the way durable (fsync
 * each parent), once per process for each directory, so one a killed run
 * made but never synced is covered too.  The descriptor is remembered
 * (the caller gets its own duplicate in *fd), so the next object in the
 * same directory costs a lookup.  The first time, stale temporaries an
 * older version left there are removed.
 */
static int dirat(struct ct_target *t, struct ct_tfile *f, const char *rel,
                 int create, int *fd, char *err)
{
	char comp[NAME_MAX + 1], path[PATH_MAX];
	const char *c = rel, *slash;
	int at, nfd, rc;
	size_t i, n;

	*fd = -1;
	for (i = 0; i < CT_TARGET_DIRCACHE; i++)
		if (f->ready[i].rel && strcmp(f->ready[i].rel, rel) == 0) {
			if ((*fd = fcntl(f->ready[i].fd, F_DUPFD_CLOEXEC, 0)) < 0)
				return ct_seterr(err, CT_ERR_IO, "dup failed: %s",
				                 strerror(errno));
			return CT_OK;
		}
	if ((at = fcntl(f->rootfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return ct_seterr(err, CT_ERR_IO, "dup failed: %s", strerror(errno));
	while (*c) {
		slash = strchr(c, '/');
		n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 0 || n > NAME_MAX || c[0] == '.') {
			close(at);
			return ct_seterr(err, CT_ERR_INPUT, "bad directory \"%.200s\"", rel);
		}
		memcpy(comp, c, n);
		comp[n] = '\0';
		snprintf(path, sizeof path, "%s/%.*s", t->dir, (int)(c - rel + n), rel);
		if (create && mkdirat(at, comp, 0750) < 0 && errno != EEXIST) {
			rc = ct_seterr(err, CT_ERR_IO, "mkdir \"%s\" failed: %s", path,
			               strerror(errno));
			close(at);
			return rc;
		}
		nfd = openat(at, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			rc = ct_tfile_whynot(at, path, comp, errno, err);
			close(at);
			return rc;
		}
		/* comp's name is durable in its parent before anything goes in. */
		if (create && fsync(at) < 0) {
			rc = ct_seterr(err, CT_ERR_IO, "fsync \"%s\" failed: %s", path,
			               strerror(errno));
			close(at);
			close(nfd);
			return rc;
		}
		close(at);
		at = nfd;
		c += n + (slash ? 1 : 0);
	}
	if (create) {
		sweep(at, 1);
		/* Not remembering (no memory) only means doing this again. */
		i = f->nready++ % CT_TARGET_DIRCACHE;
		free(f->ready[i].rel);
		if (f->ready[i].rel)
			close(f->ready[i].fd);
		f->ready[i].rel = NULL;
		if ((f->ready[i].rel = strdup(rel)) != NULL &&
		    (f->ready[i].fd = fcntl(at, F_DUPFD_CLOEXEC, 0)) < 0) {
			free(f->ready[i].rel);
			f->ready[i].rel = NULL;
		}
	}
	*fd = at;
	return CT_OK;
}

/* For target-file-read.c: a descriptor of DIR (its own) or of the
 * directory rel below it, reached with O_NOFOLLOW; nothing is made. */
int ct_tfile_opendir(struct ct_target *t, const char *rel, int *fd, char *err)
{
	struct ct_tfile *f;
	int rc;

	*fd = -1;
	if ((rc = state(t, 0, &f, err)) != CT_OK)
		return rc;
	return dirat(t, f, rel, 0, fd, err);
}

/* The length of the directory part of key ("a/b" of "a/b/c"; 0: none). */
size_t ct_tfile_keydirlen(const char *key)
{
	const char *slash = strrchr(key, '/');
	return slash ? (size_t)(slash - key) : 0;
}

/* The last component of key. */
const char *ct_tfile_keybase(const char *key)
{
	const char *slash = strrchr(key, '/');
	return slash ? slash + 1 : key;
}

/* Write objs[i] to a new temporary file in DIR/.tmp (mode 0640), left
 * open for fsync.  On failure its status says why and no file is left. */
static int writeone(struct ct_tfile *f, struct ct_obj *o, struct pend *p)
{
	o->attempts = 1;
	if ((o->status = ct_dw_open(&p->dw, f->tmpfd, f->tmppath, NULL, 0640,
	                            o->err)) != CT_OK)
		return o->status;
	if ((o->status = ct_dw_write(&p->dw, o->data, o->len, o->err)) != CT_OK) {
		ct_dw_abort(&p->dw);
		return o->status;
	}
	p->state = P_WRITTEN;
	return CT_OK;
}

/* fsync and close p (a pool thread).  Some file systems report a full
 * disk only here.  P_SYNCED only when both worked: its bytes are durable,
 * and its status stays "not attempted" until ct_tfile_put has renamed it
 * and fsynced its directory.  Touches only o and p. */
static void syncone(struct pool *w, struct ct_obj *o, struct pend *p)
{
	char e[CT_ERRLEN];

	if (ct_dw_sync(&p->dw, e) != CT_OK) {
		o->status = CT_ERR_IO;
		snprintf(o->err, sizeof o->err, "%s", e);
		p->state = P_NONE;      /* the caller removes the file */
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	p->state = P_SYNCED;
}

/* A pool thread: fsync each file as soon as the caller has written it,
 * batch after batch, until the target closes. */
static void *poolrun(void *arg)
{
	struct pool *w = arg;
	struct ct_obj *o;
	struct pend *p;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->next >= w->ready && !w->quit)
			pthread_cond_wait(&w->work, &w->mu);
		if (w->next >= w->ready)
			break;
		o = &w->objs[w->next];
		p = &w->p[w->next++];
		pthread_mutex_unlock(&w->mu);
		syncone(w, o, p);
		pthread_mutex_lock(&w->mu);
		w->finished++;
		pthread_cond_signal(&w->idle);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Start the pool's threads, once per open target.  They block every
 * signal, so the exporter's handlers run where they always did.  No
 * thread at all is no error: the caller then fsyncs the files itself. */
static int poolstart(struct ct_tfile *f, char *err)
{
	struct pool *w = &f->pool;
	sigset_t all, old;

	if (f->pooled)
		return CT_OK;
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		return ct_seterr(err, CT_ERR_NOMEM, "target: cannot make a mutex");
	if (pthread_cond_init(&w->work, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		return ct_seterr(err, CT_ERR_NOMEM, "target: cannot make a condition");
	}
	if (pthread_cond_init(&w->idle, NULL) != 0) {
		pthread_cond_destroy(&w->work);
		pthread_mutex_destroy(&w->mu);
		return ct_seterr(err, CT_ERR_NOMEM, "target: cannot make a condition");
	}
	f->pooled = 1;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (w->nth = 0; w->nth < POOL_THREADS; w->nth++)
		if (pthread_create(&w->th[w->nth], NULL, poolrun, w) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return CT_OK;
}

/*
 * Write objs[0..n) here and have the pool fsync each file as soon as it
 * is written; stop writing after a failure.  Returns when every written
 * file is fsynced (or failed).  Without threads the caller fsyncs them
 * itself after writing them all, with the same result.
 */
static void writeall(struct ct_tfile *f, struct ct_obj *objs, struct pend *p,
                     size_t n)
{
	struct pool *w = &f->pool;
	size_t i;
	int stop;

	pthread_mutex_lock(&w->mu);
	w->objs = objs;
	w->p = p;
	w->ready = w->next = w->finished = 0;
	w->stop = 0;
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&w->mu);
		stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop || writeone(f, &objs[i], &p[i]) != CT_OK)
			break;
		pthread_mutex_lock(&w->mu);
		w->ready = i + 1;
		pthread_cond_signal(&w->work);
		pthread_mutex_unlock(&w->mu);
	}
	if (w->nth == 0) {
		for (i = 0; i < n; i++)
			if (p[i].state == P_WRITTEN)
				syncone(w, &objs[i], &p[i]);
		return;
	}
	pthread_mutex_lock(&w->mu);
	while (w->finished < w->ready)
		pthread_cond_wait(&w->idle, &w->mu);
	w->objs = NULL;
	w->p = NULL;
	w->ready = w->next = w->finished = 0;
	pthread_mutex_unlock(&w->mu);
}

/* Remember the first failure of a batch in rc and err. */
static void first(int *rc, char *err, const struct ct_obj *o)
{
	if (*rc != CT_OK || o->status == CT_OK)
		return;
	*rc = o->status;
	snprintf(err, CT_ERRLEN, "%s", o->err);
}

/* The distinct directories of a batch, each open once. */
struct bdir {
	char rel[CT_TARGET_KEY_MAX + 1];
	int fd;
	int renamed;                /* something was renamed into it */
};

/*
 * Store objs[0..n) in the local tree.  The order is what makes a crash
 * (kill -9 or power loss) at any point harmless:
 *
 *   1. every object's directory made, and the names of the directories
 *      above it made durable (dirat, once per directory and process);
 *   2. each object written to a temporary file in DIR/.tmp, and that
 *      file fsynced and closed (writeall: this thread writes, the pool of
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
	char rel[CT_TARGET_KEY_MAX + 1], dpath[PATH_MAX];
	struct ct_tfile *f;
	struct pend *p = NULL;
	struct bdir *dirs = NULL;
	size_t i, k, nd = 0, nw;
	int rc = CT_OK, rc2;

	if (n == 0)
		return CT_OK;
	if ((rc = state(t, 1, &f, err)) != CT_OK || (rc = poolstart(f, err)) != CT_OK)
		return rc;
	if ((p = calloc(n, sizeof *p)) == NULL || (dirs = calloc(n, sizeof *dirs)) == NULL) {
		free(p);
		return ct_seterr(err, CT_ERR_NOMEM, "target: out of memory");
	}
	/* 1: directories change only between days, so this is a lookup. */
	for (i = 0; i < n; i++) {
		struct ct_obj *o = &objs[i];
		size_t dl = ct_tfile_keydirlen(o->key);

		p[i].dw.fd = -1;
		p[i].dw.name[0] = '\0';
		if (dl >= sizeof rel) {
			o->status = ct_seterr(o->err, CT_ERR_INPUT, "key too long: %.80s",
			                      o->key);
		} else {
			memcpy(rel, o->key, dl);
			rel[dl] = '\0';
			for (k = 0; k < nd && strcmp(dirs[k].rel, rel) != 0; k++)
				;
			if (k < nd ||
			    (o->status = dirat(t, f, rel, 1, &dirs[k].fd, o->err)) == CT_OK) {
				if (k == nd)
					memcpy(dirs[nd++].rel, rel, dl + 1);
				p[i].dir = k;
				/* back to "not attempted" until 2 has run */
				o->status = CT_ERR_TEMP;
				snprintf(o->err, sizeof o->err, "not attempted");
				continue;
			}
		}
		o->attempts = 1;
		first(&rc, err, o);
		break;
	}
	nw = i;
	/* 2 */
	writeall(f, objs, p, nw);
	/* 3: the status "not synced" stands until 4 has run. */
	for (i = 0; i < nw; i++) {
		struct ct_obj *o = &objs[i];
		struct bdir *d = &dirs[p[i].dir];

		if (p[i].state != P_SYNCED) {
			if (o->attempts > 0)    /* failed, not just never taken */
				first(&rc, err, o);
			continue;
		}
		if ((o->status = ct_dw_commit(&p[i].dw, d->fd, ct_tfile_path(t, d->rel, dpath),
		                              ct_tfile_keybase(o->key), CT_DW_NOSYNCDIR,
		                              o->err)) != CT_OK) {
			first(&rc, err, o);
			continue;
		}
		p[i].state = P_RENAMED;
		d->renamed = 1;
		o->status = ct_seterr(o->err, CT_ERR_IO, "not synced");
	}
	/* 4 and 5: each directory once, for every object renamed into it. */
	for (k = 0; k < nd; k++) {
		char e[CT_ERRLEN];

		if (!dirs[k].renamed)
			continue;
		rc2 = fsync(dirs[k].fd) == 0 ? CT_OK :
		      ct_seterr(e, CT_ERR_IO, "fsync \"%s\" failed: %s",
		                ct_tfile_path(t, dirs[k].rel, dpath), strerror(errno));
		for (i = 0; i < nw; i++) {
			if (p[i].state != P_RENAMED || p[i].dir != k)
				continue;
			p[i].state = P_NONE;
			objs[i].status = rc2;
			if (rc2 == CT_OK)
				objs[i].err[0] = '\0';
			else
				snprintf(objs[i].err, sizeof objs[i].err, "%s", e);
			first(&rc, err, &objs[i]);
		}
	}
	/* No temporary file outlives a failure. */
	for (i = 0; i < nw; i++)
		ct_dw_abort(&p[i].dw);
	for (k = 0; k < nd; k++)
		close(dirs[k].fd);
	free(dirs);
	free(p);
	return rc;
}

/* Stop the pool and close every descriptor; see ct_targetint.h. */
void ct_tfile_close(struct ct_target *t)
{
	struct ct_tfile *f = t->file;
	size_t i;

	if (f == NULL)
		return;
	if (f->pooled) {
		pthread_mutex_lock(&f->pool.mu);
		f->pool.quit = 1;
		pthread_cond_broadcast(&f->pool.work);
		pthread_mutex_unlock(&f->pool.mu);
		for (i = 0; i < f->pool.nth; i++)
			pthread_join(f->pool.th[i], NULL);
		pthread_cond_destroy(&f->pool.work);
		pthread_cond_destroy(&f->pool.idle);
		pthread_mutex_destroy(&f->pool.mu);
	}
	for (i = 0; i < CT_TARGET_DIRCACHE; i++)
		if (f->ready[i].rel) {
			free(f->ready[i].rel);
			close(f->ready[i].fd);
		}
	if (f->tmpfd >= 0)
		close(f->tmpfd);
	if (f->rootfd >= 0)
		close(f->rootfd);
	free(f);
	t->file = NULL;
}
