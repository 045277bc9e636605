/*
 * ct_s3int.h — what s3.c (transfers) and s3list.c (ListObjectsV2 and the
 * small XML reader) share.  Not part of the library's interface.
 */
#ifndef CT_S3INT_H
#define CT_S3INT_H

#include "ct_s3.h"

/* One signed GET of path?query with PUT's retry rules; the 2xx body
 * (at most max bytes) replaces out.  path and query are canonical. */
int s3_get(struct ct_s3 *s, char *path, char *query, size_t max,
           struct ct_buf *out, char *err);
const char *s3_bucket(const struct ct_s3 *s);
const char *s3_prefix(const struct ct_s3 *s);
int s3_path_style(const struct ct_s3 *s);

/* An integer from the environment within [lo, hi], else def (test hooks
 * for timeouts and backoff). */
long s3_env_long(const char *name, long def, long lo, long hi);

/* The <Code> and <Message> of an S3 error reply, printable ASCII only,
 * cut to their buffers; "" when absent. */
void s3_xml_error(const char *body, size_t len, char *code, size_t codesz,
                  char *msg, size_t msgsz);

#endif
