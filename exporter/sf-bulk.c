/*
 * sf-bulk.c — calltrail-export salesforce's HTTP layer and its Bulk API
 * 2.0 jobs, on one reused libcurl handle (one connection to the
 * instance for the whole push).
 *
 * Retries (SPEC section 9): what a later attempt may fix — 5xx, 403
 * REQUEST_LIMIT_EXCEEDED, a timeout or a broken connection — waits with
 * exponential backoff and full jitter; a 401 INVALID_SESSION_ID (the
 * session expired or was revoked mid-run) signs in once more.  Decisions
 * come from the status and Salesforce's errorCode, never the message.
 *
 * Jobs are asynchronous: a job is polled (GET) with a growing delay until
 * it reaches JobComplete, Failed or Aborted, or until the deadline; its
 * results are read only after JobComplete, as Salesforce allows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "salesforce.h"
#include "ct_time.h"
#include "ct_json.h"

/* The longest wait between two polls and between two retries. */
#define POLL_MAX_MS   10000
#define BACKOFF_MAX_MS 30000
/* Records per query results page (Salesforce's maxRecords). */
#define PAGE_RECORDS  50000

static long envlong(const char *name, long def, long lo, long hi)
{
	const char *v = getenv(name);
	char *end;
	long l;

	if (v == NULL || *v == '\0')
		return def;
	l = strtol(v, &end, 10);
	return *end == '\0' && l >= lo && l <= hi ? l : def;
}

int sf_open(struct sf *s, struct ct_conf *c, char *err)
{
	memset(s, 0, sizeof(*s));
	s->c = c;
	/* Knobs for the tests; the defaults are Salesforce's limits. */
	s->backoff_ms = envlong("CT_SF_BACKOFF_MS", 1000, 0, 60000);
	s->poll_ms = envlong("CT_SF_POLL_MS", 500, 1, 60000);
	s->deadline_s = envlong("CT_SF_DEADLINE", 3600, 1, 86400);
	s->upload_max = (size_t)envlong("CT_SF_UPLOAD_MAX", SF_UPLOAD_MAX, 256,
	                                SF_UPLOAD_MAX);
	s->soql_max = (size_t)envlong("CT_SF_SOQL_MAX", SF_SOQL_MAX, 1,
	                              SF_SOQL_MAX);
	/* A result set repeats the upload's rows and adds two columns. */
	s->results_max = 2 * s->upload_max + 16 * 1024 * 1024;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (s->h = curl_easy_init()) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "libcurl: cannot start");
	return CT_OK;
}

void sf_close(struct sf *s)
{
	if (s->h)
		curl_easy_cleanup(s->h);
	if (s->token) {
		OPENSSL_cleanse(s->token, strlen(s->token));
		free(s->token);
	}
	free(s->instance);
	s->h = NULL;
	s->token = s->instance = NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) != 0)
		;
}

struct reply {
	struct sf *s;
	struct ct_buf *out;
	int toobig;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;

	if (ct_buf_add(r->out, p, sz * n) != CT_OK) {
		r->toobig = 1;
		return 0;
	}
	return sz * n;
}

/* Keep Sforce-Locator: the next page of query results. */
static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = sz * n, k = strlen("Sforce-Locator:");

	if (len > k && strncasecmp(p, "Sforce-Locator:", k) == 0) {
		size_t i = k, j;

		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		j = i;
		while (j < len && p[j] != '\r' && p[j] != '\n')
			j++;
		if (j - i < sizeof(r->s->locator)) {
			memcpy(r->s->locator, p + i, j - i);
			r->s->locator[j - i] = '\0';
		}
	}
	return len;
}

/* errorCode and message of an error reply: the REST API's
 * [{"errorCode":…,"message":…}] or OAuth's {"error":…,"error_description":…}. */
static void errinfo(struct sf *s, const struct ct_buf *b)
{
	struct json_object *o = NULL, *e;
	const char *code = NULL, *msg = NULL;
	char jerr[CT_ERRLEN];
	size_t k = 0;

	s->errcode[0] = s->errmsg[0] = '\0';
	if (b->len == 0 || ct_json_parse(b->p, b->len, 8, &o, jerr) != CT_OK)
		return;
	e = o;
	if (json_object_is_type(o, json_type_array))
		e = json_object_array_length(o) ? json_object_array_get_idx(o, 0) : NULL;
	if (e && json_object_is_type(e, json_type_object)) {
		if ((code = ct_json_str(e, "errorCode")) == NULL)
			code = ct_json_str(e, "error");
		if ((msg = ct_json_str(e, "message")) == NULL)
			msg = ct_json_str(e, "error_description");
	}
	for (; code && code[k] && k + 1 < sizeof(s->errcode); k++)
		s->errcode[k] = (code[k] >= 'A' && code[k] <= 'Z') ||
		                (code[k] >= 'a' && code[k] <= 'z') ||
		                (code[k] >= '0' && code[k] <= '9') ||
		                code[k] == '_' ? code[k] : '?';
	s->errcode[k] = '\0';
	if (msg)
		sf_clean(msg, s->errmsg, sizeof(s->errmsg));
	json_object_put(o);
}

/* One attempt.  Returns the CURLcode; s->status holds the HTTP status. */
static CURLcode send1(struct sf *s, const char *method, const char *url,
                      int auth, const char *ctype, const char *body,
                      size_t len, struct ct_buf *out, char *cerr)
{
	struct curl_slist *hl = NULL, *t;
	struct reply r = { s, out, 0 };
	struct ct_buf ah;
	CURLcode cc = CURLE_OUT_OF_MEMORY;
	char ct[128];

	ct_buf_init(&ah, 0);
	ct_buf_reset(out);
	s->status = 0;
	s->locator[0] = '\0';
	if (auth) {
		if (ct_buf_adds(&ah, "Authorization: Bearer ") != CT_OK ||
		    ct_buf_adds(&ah, s->token) != CT_OK ||
		    (t = curl_slist_append(hl, ah.p)) == NULL)
			goto out;
		hl = t;
	}
	if (body) {
		snprintf(ct, sizeof(ct), "Content-Type: %s",
		         ctype ? ctype : "application/json");
		if ((t = curl_slist_append(hl, ct)) == NULL)
			goto out;
		hl = t;
	}
	if ((t = curl_slist_append(hl, "Expect:")) == NULL)
		goto out;
	hl = t;
	curl_easy_reset(s->h);
	curl_easy_setopt(s->h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(s->h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(s->h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->h, CURLOPT_USERAGENT, "calltrail");
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(s->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(s->h, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(s->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(s->h, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, cerr);
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, body ? body : "");
	}
	cerr[0] = '\0';
	cc = curl_easy_perform(s->h);
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
	if (cc == CURLE_WRITE_ERROR && r.toobig) {
		/* our cap, not the network: no retry will change it */
		snprintf(cerr, CURL_ERROR_SIZE, "reply larger than %zu bytes", out->max);
		cc = CURLE_FILESIZE_EXCEEDED;
	}
out:
	/* the header list held the token: wipe it before it is freed */
	if (ah.p)
		OPENSSL_cleanse(ah.p, ah.len);
	for (t = hl; t; t = t->next)
		OPENSSL_cleanse(t->data, strlen(t->data));
	curl_slist_free_all(hl);
	ct_buf_free(&ah);
	return cc;
}

int sf_request(struct sf *s, const char *method, const char *path, int auth,
               const char *ctype, const char *body, size_t len, size_t max,
               struct ct_buf *out, char *err)
{
	char url[2048], cerr[CURL_ERROR_SIZE + 1];
	int reauth = 0, attempt = 0;
	long cap;
	CURLcode cc;

	if (strncmp(path, "http", 4) == 0)
		snprintf(url, sizeof(url), "%s", path);
	else
		snprintf(url, sizeof(url), "%s%s%s", s->instance,
		         path[0] == '/' ? "" : "/", path);
	out->max = max;
	for (;;) {
		int retry = 0;

		cc = send1(s, method, url, auth, ctype, body, len, out, cerr);
		if (cc == CURLE_OUT_OF_MEMORY)
			return ct_seterr(err, CT_ERR_NOMEM, "out of memory");
		if (cc == CURLE_FILESIZE_EXCEEDED)
			return ct_seterr(err, CT_ERR_TOOBIG, "%s %s: %s", method,
			                 path, cerr);
		if (cc != CURLE_OK) {
			retry = 1;
			s->errcode[0] = '\0';
			snprintf(s->errmsg, sizeof(s->errmsg), "%s",
			         cerr[0] ? cerr : curl_easy_strerror(cc));
		} else if (s->status >= 200 && s->status < 300) {
			return CT_OK;
		} else {
			errinfo(s, out);
			if (s->status >= 500 ||
			    (s->status == 403 &&
			     strcmp(s->errcode, "REQUEST_LIMIT_EXCEEDED") == 0))
				retry = 1;
			else if (s->status == 401 && auth && !reauth &&
			         strcmp(s->errcode, "INVALID_SESSION_ID") == 0 &&
			         s->signins < 4) {
				int rc;

				reauth = 1;
				if ((rc = sf_signin(s, err)) != CT_OK)
					return rc;
				continue;
			}
		}
		if (!retry || attempt >= SF_RETRIES) {
			char what[96];

			if (cc != CURLE_OK)
				snprintf(what, sizeof(what), "%s", "no answer");
			else
				snprintf(what, sizeof(what), "HTTP %ld%s%s", s->status,
				         s->errcode[0] ? " " : "", s->errcode);
			return ct_seterr(err, retry ? CT_ERR_TEMP : CT_ERR_REMOTE,
			                 "%s %s: %s%s%s%s", method, path, what,
			                 s->errmsg[0] ? ": " : "", s->errmsg,
			                 retry ? " (retries exhausted)" : "");
		}
		/* full jitter: anywhere up to base * 2^attempt */
		cap = s->backoff_ms << (attempt < 10 ? attempt : 10);
		if (cap > BACKOFF_MAX_MS)
			cap = BACKOFF_MAX_MS;
		attempt++;
		sleep_ms(cap > 0 ? random() % (cap + 1) : 0);
	}
}

/* A job id goes into paths: only letters and digits. */
static int jobid(struct json_object *o, char id[32], char *err)
{
	const char *v = ct_json_str(o, "id");
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n >= 32 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != n)
		return ct_seterr(err, CT_ERR_REMOTE, "job created without a usable id");
	memcpy(id, v, n + 1);
	return CT_OK;
}

/* POST path with the JSON object o (consumed); the reply's job id. */
static int create(struct sf *s, const char *path, struct json_object *o,
                  char id[32], char *err)
{
	struct json_object *r = NULL;
	struct ct_buf b;
	const char *js;
	int rc;

	ct_buf_init(&b, 0);
	if (o == NULL || (js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = sf_request(s, "POST", path, 1, "application/json", js,
	                     strlen(js), SF_JSON_MAX, &b, err)) != CT_OK)
		goto out;
	if ((rc = ct_json_parse(b.p ? b.p : "", b.len, 8, &r, err)) != CT_OK) {
		rc = ct_seterr(err, CT_ERR_REMOTE, "POST %s: the answer is not JSON", path);
		goto out;
	}
	rc = jobid(r, id, err);
out:
	json_object_put(o);
	json_object_put(r);
	ct_buf_free(&b);
	return rc;
}

/* Poll jobs/KIND/ID until it is done.  Failed, Aborted and the deadline
 * are CT_ERR_TEMP: the next run sends the same rows again. */
static int wait_job(struct sf *s, const char *kind, const char *id, char *err)
{
	char path[160], state[32] = "", msg[SF_ERRTXT];
	int64_t end = ct_time_now_us() + (int64_t)s->deadline_s * 1000000;
	long delay = s->poll_ms;
	struct ct_buf b;
	int rc;

	ct_buf_init(&b, 0);
	snprintf(path, sizeof(path), "/services/data/v%s/jobs/%s/%s",
	         s->c->salesforce_api_version, kind, id);
	for (;;) {
		struct json_object *o = NULL;
		const char *st, *em;

		if ((rc = sf_request(s, "GET", path, 1, NULL, NULL, 0, SF_JSON_MAX,
		                     &b, err)) != CT_OK)
			goto out;
		if (ct_json_parse(b.p ? b.p : "", b.len, 8, &o, err) != CT_OK ||
		    (st = ct_json_str(o, "state")) == NULL) {
			json_object_put(o);
			rc = ct_seterr(err, CT_ERR_REMOTE, "GET %s: no job state", path);
			goto out;
		}
		snprintf(state, sizeof(state), "%s", st);
		em = ct_json_str(o, "errorMessage");
		sf_clean(em ? em : "", msg, sizeof(msg));
		json_object_put(o);
		if (strcmp(state, "JobComplete") == 0) {
			rc = CT_OK;
			goto out;
		}
		if (strcmp(state, "Failed") == 0 || strcmp(state, "Aborted") == 0) {
			rc = ct_seterr(err, CT_ERR_TEMP, "%s job %s ended %s: %s", kind,
			               id, state, msg[0] ? msg : "(no errorMessage)");
			goto out;
		}
		if (ct_time_now_us() + delay * 1000LL > end) {
			rc = ct_seterr(err, CT_ERR_TEMP, "%s job %s still %s after %lds "
			               "(CT_SF_DEADLINE)", kind, id, state, s->deadline_s);
			goto out;
		}
		sleep_ms(delay);
		delay = delay * 3 / 2 + 1;
		if (delay > POLL_MAX_MS)
			delay = POLL_MAX_MS;
	}
out:
	ct_buf_free(&b);
	return rc;
}

struct qrows {
	sf_found_fn cb;
	void *arg;
	int id, email;            /* columns, -1 before the header */
	char *err;
};

static int qrow(void *arg, char **cells, size_t n)
{
	struct qrows *q = arg;

	if (q->id < 0) {
		q->id = sf_csv_col(cells, n, "Id");
		q->email = sf_csv_col(cells, n, "Email");
		if (q->id < 0 || q->email < 0)
			return ct_seterr(q->err, CT_ERR_REMOTE,
			                 "query results without Id and Email columns");
		return CT_OK;
	}
	if ((size_t)q->id >= n || (size_t)q->email >= n)
		return ct_seterr(q->err, CT_ERR_REMOTE, "query results: a short row");
	return q->cb(q->arg, cells[q->id], cells[q->email]);
}

int sf_query(struct sf *s, const char *soql, sf_found_fn cb, void *arg,
             char *err)
{
	struct json_object *o = json_object_new_object();
	char id[32], path[256], locator[sizeof(s->locator)] = "";
	struct ct_buf b;
	int rc;

	ct_buf_init(&b, 0);
	if (o && (ct_json_add(o, "operation", json_object_new_string("query"), NULL) ||
	          ct_json_add(o, "query", json_object_new_string(soql), NULL))) {
		json_object_put(o);
		o = NULL;
	}
	snprintf(path, sizeof(path), "/services/data/v%s/jobs/query",
	         s->c->salesforce_api_version);
	if ((rc = create(s, path, o, id, err)) != CT_OK ||
	    (rc = wait_job(s, "query", id, err)) != CT_OK)
		goto out;
	/* every page, each with its own header row */
	do {
		struct qrows q = { cb, arg, -1, -1, err };

		snprintf(path, sizeof(path), "/services/data/v%s/jobs/query/%s/"
		         "results?maxRecords=%d%s%s", s->c->salesforce_api_version, id,
		         PAGE_RECORDS, locator[0] ? "&locator=" : "", locator);
		if ((rc = sf_request(s, "GET", path, 1, NULL, NULL, 0, s->results_max,
		                     &b, err)) != CT_OK ||
		    (rc = sf_csv_each(b.p ? b.p : "", b.len, qrow, &q, err)) != CT_OK)
			goto out;
		/* a locator is letters and digits; "null" ends the results */
		snprintf(locator, sizeof(locator), "%s", s->locator);
		if (strspn(locator, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		           "0123456789") != strlen(locator) || strcmp(locator, "null") == 0)
			locator[0] = '\0';
	} while (locator[0]);
out:
	ct_buf_free(&b);
	return rc;
}

struct irows {
	sf_result_fn cb;
	void *arg;
	enum sf_outcome o;
	int id, error;
	char *err;
};

static int irow(void *arg, char **cells, size_t n)
{
	struct irows *q = arg;

	if (q->id < 0) {
		/* the original upload's Id: sf__Id may be empty on failure */
		q->id = sf_csv_col(cells, n, "Id");
		q->error = sf_csv_col(cells, n, "sf__Error");
		if (q->id < 0)
			return ct_seterr(q->err, CT_ERR_REMOTE,
			                 "job results without an Id column");
		return CT_OK;
	}
	if ((size_t)q->id >= n || (q->error >= 0 && (size_t)q->error >= n))
		return ct_seterr(q->err, CT_ERR_REMOTE, "job results: a short row");
	return q->cb(q->arg, q->o, cells[q->id], q->error >= 0 ? cells[q->error] : "");
}

int sf_ingest(struct sf *s, const char *csv, size_t len, sf_result_fn cb,
              void *arg, char *err)
{
	static const struct { const char *name; enum sf_outcome o; } sets[] = {
		{ "successfulResults", SF_UPDATED },
		{ "failedResults", SF_FAILED },
		{ "unprocessedrecords", SF_UNPROCESSED },
	};
	struct json_object *o = json_object_new_object();
	char id[32], base[128], path[256], e2[CT_ERRLEN];
	const char *patch = "{\"state\":\"UploadComplete\"}";
	struct ct_buf b;
	int rc, open = 0;

	ct_buf_init(&b, 0);
	if (o && (ct_json_add(o, "object", json_object_new_string(s->c->salesforce_object), NULL) ||
	          ct_json_add(o, "contentType", json_object_new_string("CSV"), NULL) ||
	          ct_json_add(o, "operation", json_object_new_string("update"), NULL) ||
	          ct_json_add(o, "lineEnding", json_object_new_string("CRLF"), NULL))) {
		json_object_put(o);
		o = NULL;
	}
	snprintf(base, sizeof(base), "/services/data/v%s/jobs/ingest",
	         s->c->salesforce_api_version);
	if ((rc = create(s, base, o, id, err)) != CT_OK)
		goto out;
	open = 1;
	snprintf(path, sizeof(path), "%s/%s/batches", base, id);
	if ((rc = sf_request(s, "PUT", path, 1, "text/csv", csv, len, SF_JSON_MAX,
	                     &b, err)) != CT_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", base, id);
	if ((rc = sf_request(s, "PATCH", path, 1, "application/json", patch,
	                     strlen(patch), SF_JSON_MAX, &b, err)) != CT_OK)
		goto out;
	open = 0;
	if ((rc = wait_job(s, "ingest", id, err)) != CT_OK)
		goto out;
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		struct irows q = { cb, arg, sets[i].o, -1, -1, err };

		snprintf(path, sizeof(path), "%s/%s/%s/", base, id, sets[i].name);
		if ((rc = sf_request(s, "GET", path, 1, NULL, NULL, 0, s->results_max,
		                     &b, err)) != CT_OK ||
		    (rc = sf_csv_each(b.p ? b.p : "", b.len, irow, &q, err)) != CT_OK)
			goto out;
	}
out:
	if (open) {
		/* a job we will never close: abort it, so nobody wonders */
		const char *ab = "{\"state\":\"Aborted\"}";

		snprintf(path, sizeof(path), "%s/%s", base, id);
		(void)sf_request(s, "PATCH", path, 1, "application/json", ab,
		                 strlen(ab), SF_JSON_MAX, &b, e2);
	}
	ct_buf_free(&b);
	return rc;
}
