/*
 * ct_target.h — where exported objects go: a local archive (file:///DIR)
 * or an S3 bucket (s3://BUCKET/PREFIX).  Keys are relative to the
 * target's prefix, e.g. "sessions/year=2025/month=10/day=29/x_ab12.json.gz".
 */
#ifndef CT_TARGET_H
#define CT_TARGET_H

#include "calltrail.h"

struct ct_target;

/* One object to store; status/err are filled in by ct_target_put. */
struct ct_obj {
	const char *key;
	const void *data;
	size_t len;
	const char *content_type;   /* NULL: application/gzip */
	int status;                 /* out: CT_OK, CT_ERR_TEMP, CT_ERR_REMOTE... */
	int attempts;               /* out: tries made (1 = no retry) */
	char err[CT_ERRLEN];        /* out: why, when status != CT_OK */
};

/* Open the configured target (c->target); for s3:// also needs the
 * region, endpoint and credentials in c.  CT_ERR_CONFIG on a bad URL. */
int ct_target_open(const struct ct_conf *c, struct ct_target **t, char *err);

/*
 * Store n objects.  A file target writes each one by tmp + fsync +
 * rename (one thread writes the batch's files, a pool of threads fsyncs
 * each as soon as it is written) and then fsyncs each directory it
 * renamed into, once; an
 * object is CT_OK only after that, and a local failure stops the batch
 * (no further object is started: the rest stay "not attempted").  An S3
 * target uploads up to s3_concurrency at once on reused
 * connections, retrying 429/5xx/timeouts/resets with backoff and full
 * jitter up to s3_retries.  Each object gets its own status.  After a
 * CT_ERR_REMOTE (403 and other 4xx) no further object is attempted
 * (their status stays CT_ERR_TEMP, "not attempted").  Returns CT_OK when
 * every object was stored, else the worst status seen.
 */
int ct_target_put(struct ct_target *t, struct ct_obj *objs, size_t n, char *err);

/* Call cb for every key under prefix (S3: paginated ListObjectsV2),
 * in lexical order.  A non-zero return from cb stops and is returned. */
int ct_target_list(struct ct_target *t, const char *prefix,
                   int (*cb)(void *arg, const char *key, uint64_t size),
                   void *arg, char *err);

/* Fetch one object (at most max bytes) into out (reset first). */
int ct_target_get(struct ct_target *t, const char *key, size_t max,
                  struct ct_buf *out, char *err);

/* A description safe to print ("file:///x" or "s3://bucket/prefix"). */
const char *ct_target_name(const struct ct_target *t);

void ct_target_close(struct ct_target *t);

#endif
