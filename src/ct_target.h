/*
 * ct_target.h — where exported objects go: a local archive (file:///DIR)
 * or an S3 bucket (s3://BUCKET/PREFIX).  Keys are relative to the
 * target's prefix, e.g. "sessions/year=2025/month=10/day=29/x_ab12.json.gz".
 */
#ifndef CT_TARGET_H
#define CT_TARGET_H

#include "calltrail.h"

struct ct_target;

#define CT_TARGET_KEY_MAX 1024  /* longest key or key prefix a target takes */

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

/* One object to fetch with ct_target_get_many; status/err/data are
 * filled in. */
struct ct_get {
	const char *key;
	size_t max;                 /* cap on its bytes */
	struct ct_buf data;         /* out: its bytes (init it; the caller frees) */
	int status;                 /* out: CT_OK, CT_ERR_NOTFOUND, CT_ERR_TOOBIG... */
	char err[CT_ERRLEN];        /* out: why, when status != CT_OK */
};

/* Open the configured target (c->target); for s3:// also reads the
 * region, endpoint and SSE keys of c and asks the credential chain
 * (ct_awscred.h) once.  CT_ERR_CONFIG on a bad URL or no credentials;
 * CT_ERR_TEMP / CT_ERR_REMOTE when a credential source did not answer /
 * refused. */
int ct_target_open(const struct ct_conf *c, struct ct_target **t, char *err);

/*
 * Store n objects.  A file target writes each one by tmp + fsync +
 * rename (one thread writes the batch's files, a pool of threads fsyncs
 * each as soon as it is written) and then fsyncs each directory it
 * renamed into, once; an object is CT_OK only after that, and a local
 * failure stops the batch.  An S3 target uploads up to s3_concurrency at
 * once on reused connections, retrying 429/5xx/BadDigest/timeouts/resets
 * with backoff and full jitter up to s3_retries.  Each object gets its
 * own status and attempts; an object never tried (the batch stopped
 * before it) has attempts == 0 and status CT_ERR_TEMP.  After a
 * CT_ERR_REMOTE (403 and other 4xx) or a CT_ERR_CONFIG (a bucket in
 * another region than configured: the message names the bucket's) no
 * further object is tried; credentials that cannot be had stop the batch
 * with their code (CT_ERR_CONFIG: none or misconfigured; CT_ERR_TEMP: the
 * source did not answer; CT_ERR_REMOTE: it refused).  Returns CT_OK when
 * every object was stored, else the worst status seen.
 */
int ct_target_put(struct ct_target *t, struct ct_obj *objs, size_t n, char *err);

/* Call cb for every key under prefix, as the listing comes, with
 * memory that does not grow with the keys: S3 in lexical order
 * (ListObjectsV2 page by page, one page in memory at a time), a file
 * target in directory order (no order promised: nothing is gathered to
 * sort).  A caller that needs order sorts what it keeps.  A non-zero
 * return from cb stops and is returned.  cb may call
 * ct_target_get_many. */
int ct_target_list(struct ct_target *t, const char *prefix,
                   int (*cb)(void *arg, const char *key, uint64_t size),
                   void *arg, char *err);

/* Fetch one object (at most max bytes) into out (reset first). */
int ct_target_get(struct ct_target *t, const char *key, size_t max,
                  struct ct_buf *out, char *err);

/*
 * Fetch n objects, each into gets[i].data with its own status (S3: up to
 * s3_concurrency at once on reused connections, with ct_target_put's
 * retry rules).  Returns CT_OK when every object got its own answer
 * (found or not), else what stopped the batch (a refusal, the
 * credentials, memory), which every unanswered get carries too.
 */
int ct_target_get_many(struct ct_target *t, struct ct_get *gets, size_t n, char *err);

/*
 * How many objects one ct_target_put should carry to keep this target
 * busy: an S3 target's connections eight times over (16..128), a file
 * target's fsync pool many times over (its few directory fsyncs are
 * shared by the batch).
 */
size_t ct_target_batch(const struct ct_target *t);

/*
 * The keys of SPEC section 5, all built here (day is YYYY-MM-DD, a year
 * from 1970 to 9999):
 *   CT_KEY_DAY      sessions/year=YYYY/month=MM/day=DD/   (a day's partition)
 *   CT_KEY_SESSION  sessions/year=YYYY/month=MM/day=DD/<id>_<hash>.json.gz
 *   CT_KEY_LEADS    salesforce/date=YYYY-MM-DD/leads.csv
 * id and hash are used by CT_KEY_SESSION only (hash: 12 hex digits of the
 * record's SHA-256).  CT_ERR_INPUT when day is not such a day (a record
 * that cannot be filed), CT_ERR_TOOBIG when out is too small.
 */
enum { CT_KEY_DAY, CT_KEY_SESSION, CT_KEY_LEADS };
#define CT_TARGET_KEYLEN 256    /* every key built here fits */
int ct_target_key(int kind, const char *day, const char *id, const char *hash,
                  char *out, size_t outsz);

/* A description safe to print ("file:///x" or "s3://bucket/prefix"). */
const char *ct_target_name(const struct ct_target *t);

void ct_target_close(struct ct_target *t);

#endif
