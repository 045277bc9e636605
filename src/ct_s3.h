/*
 * ct_s3.h — the S3 client behind s3:// targets (src/s3.c, signing in
 * src/sigv4.c).  target.c parses s3://BUCKET/PREFIX and hands the pieces
 * here; keys given to these functions are relative to PREFIX.
 */
#ifndef CT_S3_H
#define CT_S3_H

#include "ct_target.h"

struct ct_s3;

/* Endpoint, region, concurrency, retries and credentials come from c
 * (c->aws_* must be filled: see ct_conf_aws_credentials).  prefix may be
 * "" (no trailing slash). */
int ct_s3_open(const struct ct_conf *c, const char *bucket, const char *prefix,
               struct ct_s3 **s, char *err);
/* Same contract as ct_target_put / ct_target_list / ct_target_get. */
int ct_s3_put(struct ct_s3 *s, struct ct_obj *objs, size_t n, char *err);
int ct_s3_list(struct ct_s3 *s, const char *prefix,
               int (*cb)(void *arg, const char *key, uint64_t size),
               void *arg, char *err);
int ct_s3_get(struct ct_s3 *s, const char *key, size_t max,
              struct ct_buf *out, char *err);
void ct_s3_close(struct ct_s3 *s);

#endif
