/*
 * ct_s3int.h — what the S3 client's three files share; not part of the
 * library's interface.  They are layered, each calling only downwards:
 *
 *   s3.c      the client: open (addressing, region, credentials), close,
 *             PUT and GET of objects, turned into jobs;
 *   s3list.c  ListObjectsV2, page by page;
 *   s3-run.c  running jobs: signing, libcurl's multi interface, retries,
 *             reading error replies (through xml.c).
 *
 * s3.c and s3list.c call s3-run.c; s3-run.c calls neither.
 */
#ifndef CT_S3INT_H
#define CT_S3INT_H

#include <curl/curl.h>

#include "ct_awscred.h"
#include "ct_s3.h"
#include "ct_sigv4.h"

#define S3_REPLY_MAX   (64 * 1024)       /* PUT and error replies */
#define S3_BACKOFF_BASE_MS 100
#define S3_BACKOFF_CAP_MS  20000
#define S3_STALL_S     30                /* (about) no byte for this long: timeout */
#define S3_TOTAL_S     120               /* one request, start to end */
#define S3_REGION_MAX  64

struct ct_s3 {
	char *bucket, *prefix;      /* prefix: "" or without a trailing '/' */
	char region[S3_REGION_MAX];
	char *base;                 /* scheme://authority */
	char *host;                 /* the Host header, as signed */
	int path_style;             /* /BUCKET/KEY rather than BUCKET.host/KEY */
	const char *sse;            /* s3_sse: "", "AES256" or "aws:kms" */
	const char *kms;            /* s3_sse_kms_key_id, "" */
	struct ct_awscred_chain *cred;
	unsigned credgen;           /* bumped by each forced refresh */
	int force;                  /* the next signing refreshes first */
	int concurrency, retries;
	long stall_s, total_s, backoff_ms;
	CURLM *multi;
	CURL **pool;
	size_t npool;
};

struct job {
	const char *method;
	char *path;                 /* canonical, encoded */
	char *query;                /* canonical, or NULL */
	const void *body;           /* PUT: the object; NULL for GET */
	size_t len;
	const char *ctype;
	char md5hex[33], md5b64[25], sha[CT_SIGV4_HEX];
	size_t outmax;              /* reply body cap */
	struct ct_buf out;          /* the 2xx reply body (GET) */
	int state;                  /* 0 waiting, 1 running, 2 done */
	int64_t not_before;         /* us: backoff */
	int status, attempts;
	int refreshed;              /* retried once after ExpiredToken */
	unsigned credgen;           /* s->credgen it was signed with */
	long http;
	char err[CT_ERRLEN];
};

/* Fill j->sha (SHA-256 of the body, "" for none) and, with a body, the
 * MD5 in hex and base64.  CT_ERR_CRYPTO only. */
int s3_digests(struct job *j);

/*
 * Run every job to its end (state 2), s->concurrency at a time: sign,
 * send, classify, retry with full-jitter backoff.  Each job gets its
 * status and err.  After a CT_ERR_REMOTE (a refusal) or CT_ERR_CONFIG (a
 * bucket in another region) no further job is started (those never
 * tried keep attempts == 0).  A failure to start a job at all (the
 * credentials, memory) stops the run: it is returned, and every job not
 * done gets it.
 */
int s3_run(struct ct_s3 *s, struct job *jobs, size_t n, char *err);

/* One signed GET of path?query (canonical) with s3_run's rules; the 2xx
 * body (at most max bytes) replaces out. */
int s3_get(struct ct_s3 *s, char *path, char *query, size_t max,
           struct ct_buf *out, char *err);

/*
 * Read one ListObjectsV2 page (ListBucketResult): cb for every key
 * strictly under base (base stripped), with its size; *more and token
 * (NUL-terminated) say whether and where the listing goes on.
 * CT_ERR_REMOTE with err for a page that is not XML, not a
 * ListBucketResult, or holds an empty, overlong or control-byte key, a
 * size that is not a number, or a truncation without a token; a
 * non-zero cb return stops and is returned (err untouched).
 */
#define S3_TOKEN_MAX 4096
int s3_list_page(const char *body, size_t len, const char *base,
                 int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
                 int *more, char token[S3_TOKEN_MAX + 1], char *err);

/* An integer from the environment within [lo, hi], else def (test hooks
 * for timeouts, backoff and page sizes). */
long s3_env_long(const char *name, long def, long lo, long hi);

/* Code, Message and Region of an S3 error reply, printable ASCII only,
 * cut to their buffers; "" when absent or when the body is not XML. */
void s3_error_parse(const char *body, size_t len, char *code, size_t codesz,
                    char *msg, size_t msgsz, char *region, size_t regionsz);

/*
 * Where requests for bucket go (SPEC section 5): endpoint (s3_endpoint,
 * else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL; "" for none) set:
 * path style on that http(s)://HOST[:PORT]; else AWS: path style on
 * https://s3.REGION.amazonaws.com when the bucket name holds a dot (a
 * virtual host name would not match the TLS certificate), virtual-hosted
 * https://BUCKET.s3.REGION.amazonaws.com otherwise.  *base and *host are
 * malloc'd.  CT_ERR_CONFIG for an endpoint that is not a bare URL.
 */
int s3_address(const char *endpoint, const char *bucket, const char *region,
               char **base, char **host, int *path_style, char *err);

#endif
