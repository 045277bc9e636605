/*
 * target.c — where exported objects go (see ct_target.h).
 *
 * Two kinds of target share one small interface:
 *
 *   file:///DIR           a local tree: DIR/KEY, directories 0750, objects
 *                         0640, each written by tmp + fsync + rename
 *                         (ct_file_put), so a reader never sees half an
 *                         object and a crash leaves the old one or the new.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_s3.h"
#include "ct_target.h"

#define KEY_MAX 1024

struct ct_target {
	char name[PATH_MAX + 16];   /* printable: file:///x or s3://b/p */
	char *dir;                  /* file: the root directory */
	struct ct_s3 *s3;           /* s3: the client */
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

static int fileput(struct ct_target *t, struct ct_obj *o)
{
	char path[PATH_MAX], *slash;

	o->attempts = 1;
	if (!keypath(t, o->key, path))
		return ct_seterr(o->err, CT_ERR_INPUT, "key too long: %.80s", o->key);
	slash = strrchr(path, '/');
	*slash = '\0';
	o->status = ct_mkdirs(path, 0750, o->err);
	*slash = '/';
	if (o->status == CT_OK)
		o->status = ct_file_put(path, o->data, o->len, 0640, o->err);
	return o->status;
}

/* Store n objects; see ct_target.h.  Keys are checked before any store. */
int ct_target_put(struct ct_target *t, struct ct_obj *objs, size_t n, char *err)
{
	size_t i;
	int rc = CT_OK;

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
	/* A local failure (a full disk) will fail the rest the same way, so
	 * stop at the first one and leave the others "not attempted". */
	for (i = 0; i < n; i++)
		if ((rc = fileput(t, &objs[i])) != CT_OK) {
			snprintf(err, CT_ERRLEN, "%s", objs[i].err);
			break;
		}
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
	if (t == NULL)
		return;
	if (t->s3)
		ct_s3_close(t->s3);
	free(t->dir);
	free(t);
}
