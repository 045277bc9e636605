/*
 * salesforce.h — internal to calltrail-export salesforce (SPEC section 9):
 * the state the command (salesforce.c), the sign-in (sf-auth.c), the
 * HTTP layer and Bulk API 2.0 jobs (sf-bulk.c) and the CSV reader
 * (sf-csv.c) share.  Not a library interface.
 *
 * The access token and the key material live only in struct sf and in
 * the requests that carry them; nothing here puts them in err.  Text that
 * Salesforce sends back (errorMessage, a row's sf__Error) may quote the
 * data, so it goes through sf_clean before it reaches a log line.
 */
#ifndef CT_SALESFORCE_H
#define CT_SALESFORCE_H

#include <curl/curl.h>

#include "calltrail.h"

/* Replies: a JSON answer, and a page of CSV results. */
#define SF_JSON_MAX   (1024 * 1024)
#define SF_ERRTXT     256
/* Bulk API 2.0 takes at most 150 MB of base64 per job: 100 MB of CSV. */
#define SF_UPLOAD_MAX (100u * 1000 * 1000)
/* SOQL statements are at most 100,000 characters. */
#define SF_SOQL_MAX   100000
#define SF_RETRIES    5

struct sf {
	struct ct_conf *c;
	CURL *h;
	char *instance;          /* instance_url, no trailing '/' */
	char *token;             /* the access token: never logged */
	int signins;             /* sign-ins so far (a 401 adds one, once) */
	long backoff_ms;         /* first retry's delay (CT_SF_BACKOFF_MS) */
	long poll_ms;            /* first poll's delay (CT_SF_POLL_MS) */
	long deadline_s;         /* a job's polling gives up (CT_SF_DEADLINE) */
	size_t upload_max;       /* CSV bytes per ingest job (CT_SF_UPLOAD_MAX) */
	size_t soql_max;         /* characters per query (CT_SF_SOQL_MAX) */
	size_t results_max;      /* bytes of one result set or page */
	int denied;              /* the last error was a refused sign-in */
	/* the last reply */
	long status;
	char locator[128];       /* Sforce-Locator, "" when none */
	char errcode[64];        /* errorCode or error, "" when none */
	char errmsg[SF_ERRTXT];  /* message or error_description, cleaned */
};

/* ---- sf-bulk.c: HTTP, jobs ----------------------------------------- */

/* Set up s for c (curl handle, the CT_SF_* knobs).  CT_ERR_NOMEM. */
int sf_open(struct sf *s, struct ct_conf *c, char *err);
void sf_close(struct sf *s);

/*
 * One request, retried: 5xx, 403 REQUEST_LIMIT_EXCEEDED, timeouts and
 * connection errors wait with exponential backoff and full jitter, up to
 * SF_RETRIES times (then CT_ERR_TEMP); a 401 INVALID_SESSION_ID signs in
 * once more and repeats the request (auth set).  path is absolute
 * (http...) or under instance_url.  The reply (at most max bytes) goes to
 * out.  Any other non-2xx answer is CT_ERR_REMOTE with err naming the
 * request, the status and Salesforce's errorCode.
 */
int sf_request(struct sf *s, const char *method, const char *path, int auth,
               const char *ctype, const char *body, size_t len, size_t max,
               struct ct_buf *out, char *err);

/* Query job for soql: cb(arg, Id, Email) per record found.  cb returns
 * CT_OK or an error that stops the query. */
typedef int (*sf_found_fn)(void *arg, const char *id, const char *email);
int sf_query(struct sf *s, const char *soql, sf_found_fn cb, void *arg,
             char *err);

/* The outcome of one record of an ingest job. */
enum sf_outcome { SF_NONE = 0, SF_UPDATED, SF_FAILED, SF_UNPROCESSED };
typedef int (*sf_result_fn)(void *arg, enum sf_outcome o, const char *id,
                            const char *error);
/*
 * Ingest job: update salesforce_object with csv (header Id + fields,
 * CRLF): create, upload, UploadComplete, poll, then the three result
 * sets, cb once per record.  A job that ends Failed or Aborted, or that
 * is still running at the deadline, is CT_ERR_TEMP naming its
 * errorMessage (or its state).
 */
int sf_ingest(struct sf *s, const char *csv, size_t len, sf_result_fn cb,
              void *arg, char *err);

/* ---- sf-auth.c: OAuth 2.0 ------------------------------------------ */

/*
 * Sign in at salesforce_login_url: the JWT bearer flow when
 * salesforce_private_key_file is set, else client credentials.  Sets
 * s->instance and s->token.  CT_ERR_CONFIG (keys missing or unreadable),
 * CT_ERR_REMOTE with s->denied set (Salesforce refused), CT_ERR_TEMP.
 */
int sf_signin(struct sf *s, char *err);

/* ---- sf-csv.c: CSV ------------------------------------------------- */

#define SF_CSV_CELLS 16

/*
 * Call row(arg, cells, n) for each record of RFC 4180 text p[0..len),
 * the header first; CRLF or LF line ends, quotes optional.  cells are
 * NUL-terminated copies valid during the call.  CT_ERR_INPUT on bad
 * quoting or more than SF_CSV_CELLS cells; row's own error stops it.
 */
typedef int (*sf_row_fn)(void *arg, char **cells, size_t n);
int sf_csv_each(const char *p, size_t len, sf_row_fn row, void *arg,
                char *err);

/* Index of name in the header cells, or -1. */
int sf_csv_col(char **cells, size_t n, const char *name);

/* in as one printable ASCII line of at most outsz - 1 bytes, each word
 * holding an '@' masked (ct_email_mask): what may reach a log. */
void sf_clean(const char *in, char *out, size_t outsz);

/* Append s to b as a SOQL string literal ('...' with \\ and \' escaped). */
int sf_soql_str(struct ct_buf *b, const char *s);

#endif
