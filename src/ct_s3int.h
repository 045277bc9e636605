/*
 * ct_s3int.h — what s3.c (the client, its jobs), s3-run.c (running them)
 * and s3list.c (ListObjectsV2 and the small XML reader) share.  Not part of the library's interface.
 */
#ifndef CT_S3INT_H
#define CT_S3INT_H

#include <curl/curl.h>

#include "ct_s3.h"
#include "ct_sigv4.h"

#define S3_REPLY_MAX   (64 * 1024)       /* PUT and error replies */
#define S3_KEY_MAX     1024
#define S3_BACKOFF_BASE_MS 100
#define S3_BACKOFF_CAP_MS  20000
#define S3_STALL_S     30                /* (about) no byte for this long: timeout */
#define S3_TOTAL_S     120               /* one request, start to end */

struct ct_s3 {
	char *bucket, *prefix, *region;
	char *base;                 /* scheme://authority */
	char *host;                 /* the Host header, as signed */
	int path_style;
	char *ak, *sk, *token;
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
	const void *body;
	size_t len;
	const char *ctype;
	char md5hex[33], md5b64[25], sha[CT_SIGV4_HEX];
	size_t outmax;              /* reply body cap */
	struct ct_buf out;          /* the 2xx reply body (GET, LIST) */
	int want_etag;
	int state;                  /* 0 waiting, 1 running, 2 done */
	int64_t not_before;         /* us: backoff */
	int status, attempts;
	long http;
	char err[CT_ERRLEN];
};

struct slot {
	CURL *h;
	struct job *j;
	struct curl_slist *hdrs;
	struct ct_buf body;
	char etag[80];
	int toobig;
	char cerr[CURL_ERROR_SIZE];
};

/*
 * Run every job to its end (state 2), s->concurrency at a time (s3-run.c).
 * After a CT_ERR_REMOTE no job is started; those never tried are "not
 * attempted".
 */
int s3_run(struct ct_s3 *s, struct job *jobs, size_t n, char *err);

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
