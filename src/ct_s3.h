/*
 * ct_s3.h — the S3 client behind s3:// targets (src/s3.c, s3list.c,
 * s3-run.c; signing in src/sigv4.c).  target.c parses s3://BUCKET/PREFIX,
 * checks every key and hands the pieces here; keys given to these
 * functions are relative to PREFIX and already checked.
 */
#ifndef CT_S3_H
#define CT_S3_H

#include "ct_target.h"

struct ct_s3;

/* The endpoint, region, SSE, concurrency and retries come from c, the
 * credentials from the chain of ct_awscred.h: asked once here (so a run
 * without any stops before it starts, with the chain's code) and again,
 * from its cache, before each request is signed.  prefix may be "" (no trailing slash).
 * CT_ERR_CONFIG for a bad region or endpoint. */
int ct_s3_open(const struct ct_conf *c, const char *bucket, const char *prefix,
               struct ct_s3 **s, char *err);
/* Same contracts as ct_target_put / _list / _get / _get_many. */
int ct_s3_put(struct ct_s3 *s, struct ct_obj *objs, size_t n, char *err);
int ct_s3_list(struct ct_s3 *s, const char *prefix,
               int (*cb)(void *arg, const char *key, uint64_t size),
               void *arg, char *err);
int ct_s3_get(struct ct_s3 *s, const char *key, size_t max,
              struct ct_buf *out, char *err);
int ct_s3_get_many(struct ct_s3 *s, struct ct_get *gets, size_t n, char *err);
void ct_s3_close(struct ct_s3 *s);

#endif
