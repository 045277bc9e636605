/*
 * target-file-read.c — walking the file:///DIR target: the listing (in
 * directory order, streamed), fetching one object, and sweeping stale temporaries
 * (the writer's, and those older versions left beside the keys).  Every directory is reached
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
#include <time.h>
#include <unistd.h>

#include "ct_targetint.h"
#include "ct_fs.h"

/* Is n ".tmp-" and 6 letters or digits, the mkstemp pattern versions
 * before ARCH/.tmp/ used beside the keys?  No object can be one
 * ("<session id>_<12 hex>.json.gz" is longer). */
static int legacy_tmp(const char *n)
{
	if (strncmp(n, CT_TMP_PREFIX, 5) != 0 || strlen(n) != 11)
		return 0;
	for (int i = 5; i < 11; i++)
		if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'z') ||
		      (n[i] >= 'A' && n[i] <= 'Z')))
			return 0;
	return 1;
}

/* Remove name from the open directory fd when it is an older version's
 * stale temporary; see ct_targetint.h. */
void ct_tfile_sweep_one(int fd, const char *name)
{
	struct stat st;

	if (legacy_tmp(name) && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && time(NULL) - st.st_mtime > CT_TARGET_TMP_STALE)
		(void)unlinkat(fd, name, 0);
}

/* Every such file in the open directory fd; see ct_targetint.h. */
void ct_tfile_sweep(int fd)
{
	struct dirent *de;
	DIR *d;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		ct_tfile_sweep_one(dirfd(d), de->d_name);
	closedir(d);
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

/*
 * Walk the open directory fd (the key prefix rel, "" or ending in '/')
 * in directory order, handing each key to the callback as it is read;
 * fd is closed here.  Nothing is gathered or sorted: memory stays one
 * DIR per level however many objects a day holds (SPEC 5, "memory
 * follows the emails, not the objects").  A symlink where a key could
 * be is an error naming it, never followed.
 */
static int walkdir(struct walk *w, int fd, char *rel, size_t rlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = CT_OK, sub;

	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return ct_seterr(w->err, CT_ERR_IO, "opendir \"%s\" failed: %s",
		                 ct_tfile_path(w->t, rel, path), strerror(errno));
	}
	while (rc == CT_OK && (de = readdir(d)) != NULL) {
		struct stat st;
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.') {
			/* ., .., .tmp/; a stale .tmp-XXXXXX an older version's
			 * killed run left here goes now: a past day may never
			 * be written again, but it is listed. */
			ct_tfile_sweep_one(dirfd(d), de->d_name);
			continue;
		}
		if (rlen + l > CT_TARGET_KEY_MAX)
			continue;   /* no key this long: nothing to list */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;   /* vanished meanwhile */
		memcpy(rel + rlen, de->d_name, l + 1);
		if (S_ISLNK(st.st_mode)) {
			if (relevant(rel, w->prefix))
				rc = ct_seterr(w->err, CT_ERR_IO, "archive \"%s\" is a "
				               "symlink; calltrail never follows one inside "
				               "the archive", ct_tfile_path(w->t, rel, path));
		} else if (S_ISDIR(st.st_mode) && rlen + l < CT_TARGET_KEY_MAX) {
			rel[rlen + l] = '/';
			rel[rlen + l + 1] = '\0';
			if (relevant(rel, w->prefix)) {
				sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY |
				             O_NOFOLLOW | O_CLOEXEC);
				if (sub >= 0)
					rc = walkdir(w, sub, rel, rlen + l + 1);
				else if (errno != ENOENT)   /* ENOENT: vanished meanwhile */
					rc = ct_tfile_whynot(dirfd(d), ct_tfile_path(w->t, rel, path),
					            de->d_name, errno, w->err);
			}
		} else if (S_ISREG(st.st_mode) &&
		           strncmp(rel, w->prefix, strlen(w->prefix)) == 0) {
			rc = w->cb(w->arg, rel, (uint64_t)st.st_size);
		}
		rel[rlen] = '\0';
	}
	closedir(d);
	return rc;
}

/* Every key under prefix (checked by the caller), in directory order. */
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
