/*
 * target-file-read.c — reading the file:///DIR target: the listing (in
 * S3's key order) and fetching one object.  Every directory is reached
 * with O_NOFOLLOW from DIR (target-file.c, ct_tfile_opendir); a symlink
 * where a key could be is an error naming it, never followed.
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

#include "ct_targetint.h"

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
	struct ct_target *t;
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

/* Walk the open directory fd (the key prefix rel, "" or ending in '/')
 * in key order; fd is closed here.  A symlink where a key could be is an
 * error naming it, never followed. */
static int walkdir(struct walk *w, int fd, char *rel, size_t rlen)
{
	char path[PATH_MAX];
	struct ent *ents = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;
	int rc = CT_OK, sub;

	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return ct_seterr(w->err, CT_ERR_IO, "opendir \"%s\" failed: %s",
		                 ct_tfile_path(w->t, rel, path), strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;   /* ., .., .tmp/ and older versions' .tmp-* */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISLNK(st.st_mode) && rlen + strlen(de->d_name) <= CT_TARGET_KEY_MAX) {
			memcpy(rel + rlen, de->d_name, strlen(de->d_name) + 1);
			if (relevant(rel, w->prefix)) {
				rc = ct_seterr(w->err, CT_ERR_IO, "archive \"%s\" is a "
				               "symlink; calltrail never follows one inside "
				               "the archive", ct_tfile_path(w->t, rel, path));
				rel[rlen] = '\0';
				goto out;
			}
			rel[rlen] = '\0';
			continue;
		}
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
			if (relevant(rel, w->prefix)) {
				ents[i].name[l - 1] = '\0';
				sub = openat(dirfd(d), ents[i].name, O_RDONLY | O_DIRECTORY |
				             O_NOFOLLOW | O_CLOEXEC);
				if (sub >= 0)
					rc = walkdir(w, sub, rel, rlen + l);
				else if (errno != ENOENT)   /* ENOENT: vanished meanwhile */
					rc = ct_tfile_whynot(dirfd(d), ct_tfile_path(w->t, rel, path),
					            ents[i].name, errno, w->err);
			}
		} else if (strncmp(rel, w->prefix, strlen(w->prefix)) == 0) {
			rc = w->cb(w->arg, rel, ents[i].size);
		}
		rel[rlen] = '\0';
	}
out:
	for (i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	closedir(d);
	return rc;
}

/* Every key under prefix (checked by the caller), in byte order. */
int ct_tfile_list(struct ct_target *t, const char *prefix,
                  int (*cb)(void *arg, const char *key, uint64_t size),
                  void *arg, char *err)
{
	char rel[CT_TARGET_KEY_MAX + 2] = "";
	struct walk w = { t, cb, arg, prefix, err };
	int rc, fd;

	if ((rc = ct_tfile_opendir(t, "", &fd, err)) != CT_OK)
		return rc;
	return walkdir(&w, fd, rel, 0);
}

/* Fetch one object (key checked by the caller); CT_ERR_NOTFOUND when it
 * does not exist. */
int ct_tfile_get(struct ct_target *t, const char *key, size_t max,
                 struct ct_buf *out, char *err)
{
	char rel[CT_TARGET_KEY_MAX + 1], path[PATH_MAX];
	size_t dl = ct_tfile_keydirlen(key);
	int rc, fd;

	if (dl >= sizeof rel)
		return ct_seterr(err, CT_ERR_INPUT, "key too long: %.80s", key);
	memcpy(rel, key, dl);
	rel[dl] = '\0';
	if ((rc = ct_tfile_opendir(t, rel, &fd, err)) != CT_OK) {
		if (rc == CT_ERR_NOTFOUND)
			ct_seterr(err, rc, "no object \"%s\" in %s", key, t->name);
		return rc;
	}
	rc = ct_file_read_at(fd, ct_tfile_keybase(key), ct_tfile_path(t, key, path), max, out, err);
	close(fd);
	if (rc == CT_ERR_NOTFOUND)
		ct_seterr(err, rc, "no object \"%s\" in %s", key, t->name);
	return rc;
}
