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

#define CT_TARGET_DIRCACHE 8    /* file: directories known durable */

struct ct_s3;

struct ct_target {
	char name[PATH_MAX + 16];   /* printable: file:///x or s3://b/p */
	char *dir;                  /* file: the root directory */
	struct ct_s3 *s3;           /* s3: the client */
	size_t batch;               /* objects a put should carry (ct_target_batch) */
	char *ready[CT_TARGET_DIRCACHE]; /* file: made durable by this process */
	size_t nready;              /* file: the next slot of ready to reuse */
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

#endif /* CT_TARGETINT_H */
