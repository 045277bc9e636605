/*
 * ct_targetint.h — what target.c (URLs, key checks, dispatch) and
 * target-file.c (the file:// backend) share inside the library; not part
 * of the target's interface (ct_target.h).
 */
#ifndef CT_TARGETINT_H
#define CT_TARGETINT_H

#include <limits.h>
#include <stdint.h>

#include "ct_target.h"

#define CT_TARGET_KEY_MAX 1024  /* longest key or key prefix */
#define CT_TARGET_DIRCACHE 8    /* file: directories known durable */

struct ct_s3;
struct ct_tfile;

struct ct_target {
	char name[PATH_MAX + 16];   /* printable: file:///x or s3://b/p */
	char *dir;                  /* file: the root directory */
	struct ct_s3 *s3;           /* s3: the client */
	struct ct_tfile *file;      /* file: target-file.c's state (descriptors,
	                               the fsync pool), made on first use */
};

/* The file:// backend of ct_target_put, ct_target_list and ct_target_get
 * (target-file.c).  Keys and the prefix are already checked by target.c;
 * objs[i].status starts as CT_ERR_TEMP "not attempted". */
int ct_tfile_put(struct ct_target *t, struct ct_obj *objs, size_t n, char *err);
int ct_tfile_list(struct ct_target *t, const char *prefix,
                  int (*cb)(void *arg, const char *key, uint64_t size),
                  void *arg, char *err);
int ct_tfile_get(struct ct_target *t, const char *key, size_t max,
                 struct ct_buf *out, char *err);
/* Free t->file: stop the fsync pool, close the descriptors. */
void ct_tfile_close(struct ct_target *t);

/* Shared by target-file.c (writing) and target-file-read.c (list, get):
 * a descriptor of the directory rel ("" for DIR) reached from DIR with
 * O_NOFOLLOW at every step (CT_ERR_NOTFOUND when missing, CT_ERR_IO
 * naming a symlink), the caller's to close; "DIR/rel" for messages into
 * out (PATH_MAX); why dir/name could not be opened (errno e); a key's
 * directory length and last component. */
int ct_tfile_opendir(struct ct_target *t, const char *rel, int *fd, char *err);
const char *ct_tfile_path(const struct ct_target *t, const char *rel, char *out);
int ct_tfile_whynot(int dir, const char *path, const char *name, int e, char *err);
size_t ct_tfile_keydirlen(const char *key);
const char *ct_tfile_keybase(const char *key);

#endif /* CT_TARGETINT_H */
