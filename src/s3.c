/*
 * s3.c — the S3 client behind s3:// targets: PUT, GET and ListObjectsV2,
 * signed with SigV4 (sigv4.c), on libcurl's multi interface.
 *
 * One CURLM per client holds the connection pool; up to s3_concurrency
 * easy handles (recycled with curl_easy_reset, which keeps the pool) run
 * at once.  Every request is a "job"; a job that fails in a way worth
 * retrying (transport error, timeout, 429, 5xx, an ETag that is not the
 * MD5 of what was sent) waits random(0, min(cap, base * 2^attempt)) —
 * full jitter — and goes again, up to s3_retries times.  403 and other
 * 4xx are CT_ERR_REMOTE: no new job starts after one.
 *
 * The object key is percent-encoded here (sigv4.c's rule: '=' is %3D)
 * and the URL given to curl is that exact path (CURLOPT_PATH_AS_IS), so
 * what is signed is what goes on the wire.  Every reply body is capped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ct_s3.h"
#include "ct_sigv4.h"
#include "ct_s3int.h"

#define S3_REPLY_MAX   (64 * 1024)       /* PUT and error replies */
#define S3_LIST_MAX    (8 * 1024 * 1024) /* one ListObjectsV2 page */
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

static char *dupstr(const char *s)
{
	return strdup(s ? s : "");
}

int ct_s3_open(const struct ct_conf *c, const char *bucket, const char *prefix,
               struct ct_s3 **sp, char *err)
{
	struct ct_s3 *s;
	const char *ep = c->s3_endpoint ? c->s3_endpoint : "";
	int rc = CT_ERR_NOMEM;

	*sp = NULL;
	if (!c->aws_access_key_id || !*c->aws_access_key_id ||
	    !c->aws_secret_access_key || !*c->aws_secret_access_key)
		return ct_seterr(err, CT_ERR_CONFIG, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: "
		                 "no AWS credentials for s3://%s (environment or ~/.aws/credentials)",
		                 bucket);
	if (!c->s3_region || !*c->s3_region || strspn(c->s3_region,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(c->s3_region))
		return ct_seterr(err, CT_ERR_CONFIG, "s3_region: not a region name");
	if (!(s = calloc(1, sizeof(*s))))
		return ct_seterr(err, rc, "s3: out of memory");
	s->bucket = dupstr(bucket);
	s->prefix = dupstr(prefix);
	s->region = dupstr(c->s3_region);
	s->ak = dupstr(c->aws_access_key_id);
	s->sk = dupstr(c->aws_secret_access_key);
	s->token = c->aws_session_token && *c->aws_session_token ?
	           dupstr(c->aws_session_token) : NULL;
	s->concurrency = c->s3_concurrency > 0 ? c->s3_concurrency : 8;
	s->retries = c->s3_retries >= 0 ? c->s3_retries : 5;
	/* test hooks: the fault tests cannot wait for production timeouts */
	s->stall_s = s3_env_long("CT_S3_STALL_TIMEOUT", S3_STALL_S, 1, 3600);
	s->total_s = s3_env_long("CT_S3_TIMEOUT", S3_TOTAL_S, 1, 86400);
	s->backoff_ms = s3_env_long("CT_S3_BACKOFF_MS", S3_BACKOFF_BASE_MS, 1, 60000);
	if (!s->bucket || !s->prefix || !s->region || !s->ak || !s->sk)
		goto fail;
	if (*ep) {
		/* path-style: ENDPOINT/BUCKET/KEY; the endpoint is only
		 * scheme://host[:port], so the Host header is its authority */
		const char *auth = strstr(ep, "://");
		size_t alen;
		if ((strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) || !auth) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "s3_endpoint: must be http://HOST[:PORT] "
			               "or https://HOST[:PORT]");
			goto fail;
		}
		auth += 3;
		alen = strcspn(auth, "/");
		if (alen == 0 || strspn(auth + alen, "/") != strlen(auth + alen) ||
		    memchr(auth, '@', alen) || strcspn(auth, "?# \t") < alen) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "s3_endpoint: must be http://HOST[:PORT] "
			               "with no path, user or query");
			goto fail;
		}
		s->base = strndup(ep, (size_t)(auth - ep) + alen);
		s->host = strndup(auth, alen);
		s->path_style = 1;
	} else {
		size_t n = strlen(bucket) + strlen(s->region) + 32;
		s->host = malloc(n);
		s->base = malloc(n + 8);
		if (s->host && s->base) {
			snprintf(s->host, n, "%s.s3.%s.amazonaws.com", bucket, s->region);
			snprintf(s->base, n + 8, "https://%s", s->host);
		}
	}
	if (!s->base || !s->host)
		goto fail;
	s->npool = (size_t)s->concurrency;
	if (!(s->pool = calloc(s->npool, sizeof(CURL *))) || !(s->multi = curl_multi_init()))
		goto fail;
	curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s->concurrency);
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->concurrency);
	*sp = s;
	return CT_OK;
fail:
	ct_s3_close(s);
	return rc == CT_ERR_NOMEM ? ct_seterr(err, rc, "s3: out of memory") : rc;
}

void ct_s3_close(struct ct_s3 *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->pool && i < s->npool; i++)
		if (s->pool[i])
			curl_easy_cleanup(s->pool[i]);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	free(s->pool);
	if (s->sk)
		OPENSSL_cleanse(s->sk, strlen(s->sk));
	free(s->bucket); free(s->prefix); free(s->region); free(s->base);
	free(s->host); free(s->ak); free(s->sk); free(s->token);
	free(s);
}

/* "/BUCKET/PREFIX/KEY" (path-style) or "/PREFIX/KEY", encoded. */
static int objpath(const struct ct_s3 *s, const char *key, char **out)
{
	struct ct_buf b;
	int rc = CT_OK;

	ct_buf_init(&b, 3 * (S3_KEY_MAX + 256));
	if (s->path_style)
		rc = ct_buf_printf(&b, "/%s", s->bucket);
	if (rc == CT_OK)
		rc = ct_buf_add(&b, "/", 1);
	if (rc == CT_OK && *s->prefix) {
		rc = ct_sigv4_uri_encode(s->prefix, strlen(s->prefix), 1, &b);
		if (rc == CT_OK && *key)
			rc = ct_buf_add(&b, "/", 1);
	}
	if (rc == CT_OK)
		rc = ct_sigv4_uri_encode(key, strlen(key), 1, &b);
	*out = rc == CT_OK ? b.p : NULL;
	if (rc != CT_OK)
		ct_buf_free(&b);
	return rc;
}

static int key_ok(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > S3_KEY_MAX || key[0] == '/')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
			return 0;
	return 1;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct slot *sl = arg;
	size_t len = sz * n;

	if (sl->body.len + len > sl->j->outmax) {
		sl->toobig = 1;
		/* a PUT's reply only needs its head: keep reading, drop the rest */
		return sl->j->want_etag ? len : 0;
	}
	return ct_buf_add(&sl->body, p, len) == CT_OK ? len : 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct slot *sl = arg;
	size_t len = sz * n, i = 5, e;

	if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
		while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '"'))
			i++;
		for (e = len; e > i && strchr(" \t\r\n\"", p[e - 1]); e--)
			;
		if (e - i < sizeof(sl->etag)) {
			memcpy(sl->etag, p + i, e - i);
			sl->etag[e - i] = '\0';
		}
	}
	return len;
}

/* Sign and hand one job to curl on slot sl. */
static int start(struct ct_s3 *s, struct slot *sl, struct job *j, char *err)
{
	struct ct_sigv4_header h[8];
	struct ct_sigv4_req r = { 0 };
	struct ct_sigv4_out so;
	char date[CT_SIGV4_DATELEN], line[CT_SIGV4_AUTHLEN + 32];
	char *url = NULL;
	size_t nh = 0, ulen;
	int rc;

	ct_sigv4_amz_date(time(NULL), date);
	h[nh++] = (struct ct_sigv4_header){ "host", s->host };
	h[nh++] = (struct ct_sigv4_header){ "x-amz-content-sha256", j->sha };
	h[nh++] = (struct ct_sigv4_header){ "x-amz-date", date };
	if (j->body) {
		h[nh++] = (struct ct_sigv4_header){ "content-md5", j->md5b64 };
		h[nh++] = (struct ct_sigv4_header){ "content-type", j->ctype };
	}
	if (s->token)
		h[nh++] = (struct ct_sigv4_header){ "x-amz-security-token", s->token };
	r.method = j->method;
	r.path = j->path;
	r.query = j->query;
	r.headers = h;
	r.nheaders = nh;
	r.payload_hash = j->sha;
	r.amz_date = date;
	r.region = s->region;
	r.service = "s3";
	r.access_key = s->ak;
	r.secret_key = s->sk;
	if ((rc = ct_sigv4_sign(&r, &so, err)) != CT_OK) {
		ct_sigv4_out_free(&so);
		return rc;
	}
	sl->hdrs = NULL;
	for (size_t i = 0; i < nh; i++) {
		snprintf(line, sizeof(line), "%s: %s", h[i].name, h[i].value);
		sl->hdrs = curl_slist_append(sl->hdrs, line);
	}
	snprintf(line, sizeof(line), "Authorization: %s", so.authorization);
	sl->hdrs = curl_slist_append(sl->hdrs, line);
	OPENSSL_cleanse(line, sizeof(line));
	ct_sigv4_out_free(&so);
	sl->hdrs = curl_slist_append(sl->hdrs, "Expect:");
	sl->hdrs = curl_slist_append(sl->hdrs, "Accept:");
	ulen = strlen(s->base) + strlen(j->path) + (j->query ? strlen(j->query) : 0) + 2;
	if (!sl->hdrs || !(url = malloc(ulen)))
		return ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
	snprintf(url, ulen, "%s%s%s%s", s->base, j->path, j->query ? "?" : "",
	         j->query ? j->query : "");

	curl_easy_reset(sl->h);
	curl_easy_setopt(sl->h, CURLOPT_URL, url);
	curl_easy_setopt(sl->h, CURLOPT_PATH_AS_IS, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(sl->h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(sl->h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(sl->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(sl->h, CURLOPT_USERAGENT, "calltrail");
	curl_easy_setopt(sl->h, CURLOPT_HTTPHEADER, sl->hdrs);
	curl_easy_setopt(sl->h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(sl->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(sl->h, CURLOPT_LOW_SPEED_TIME, s->stall_s);
	curl_easy_setopt(sl->h, CURLOPT_TIMEOUT, s->total_s);
	curl_easy_setopt(sl->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(sl->h, CURLOPT_WRITEDATA, sl);
	curl_easy_setopt(sl->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(sl->h, CURLOPT_HEADERDATA, sl);
	curl_easy_setopt(sl->h, CURLOPT_ERRORBUFFER, sl->cerr);
	curl_easy_setopt(sl->h, CURLOPT_PRIVATE, sl);
	if (j->body) {
		curl_easy_setopt(sl->h, CURLOPT_CUSTOMREQUEST, j->method);
		curl_easy_setopt(sl->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
		curl_easy_setopt(sl->h, CURLOPT_POSTFIELDS, j->body);
	}
	free(url);   /* curl keeps its own copy of the URL */
	sl->j = j;
	sl->toobig = 0;
	sl->etag[0] = sl->cerr[0] = '\0';
	ct_buf_init(&sl->body, j->outmax);
	j->state = 1;
	j->attempts++;
	if (curl_multi_add_handle(s->multi, sl->h) != CURLM_OK) {
		curl_slist_free_all(sl->hdrs);
		sl->hdrs = NULL;
		sl->j = NULL;
		return ct_seterr(err, CT_ERR_NOMEM, "s3: cannot queue a transfer");
	}
	return CT_OK;
}

/* Decide what one finished attempt means: CT_OK, CT_ERR_TEMP (retry),
 * or a final CT_ERR_REMOTE / CT_ERR_NOTFOUND / CT_ERR_TOOBIG. */
static int classify(const struct ct_s3 *s, struct slot *sl, CURLcode cc)
{
	struct job *j = sl->j;
	char code[64], msg[200];
	long http = 0;

	(void)s;
	curl_easy_getinfo(sl->h, CURLINFO_RESPONSE_CODE, &http);
	j->http = http;
	if (cc != CURLE_OK) {
		if (sl->toobig && !j->want_etag)
			return ct_seterr(j->err, CT_ERR_TOOBIG, "%s %s: reply larger than %zu bytes",
			                 j->method, j->path, j->outmax);
		return ct_seterr(j->err, CT_ERR_TEMP, "%s %s: %s", j->method, j->path,
		                 sl->cerr[0] ? sl->cerr : curl_easy_strerror(cc));
	}
	if (http >= 200 && http < 300) {
		if (j->want_etag && strcasecmp(sl->etag, j->md5hex) != 0)
			return ct_seterr(j->err, CT_ERR_TEMP, "%s %s: ETag \"%.40s\" is not the MD5 "
			                 "of what was sent", j->method, j->path, sl->etag);
		if (sl->toobig && !j->want_etag)
			return ct_seterr(j->err, CT_ERR_TOOBIG, "%s %s: reply larger than %zu bytes",
			                 j->method, j->path, j->outmax);
		return CT_OK;
	}
	s3_xml_error(sl->body.p, sl->body.len, code, sizeof(code), msg, sizeof(msg));
	if (http == 429 || http >= 500)
		return ct_seterr(j->err, CT_ERR_TEMP, "%s %s: HTTP %ld %s%s%s", j->method,
		                 j->path, http, code, *msg ? ": " : "", msg);
	if (http == 404 && strcmp(j->method, "GET") == 0 && strcmp(code, "NoSuchBucket") != 0)
		return ct_seterr(j->err, CT_ERR_NOTFOUND, "%s %s: not found", j->method, j->path);
	return ct_seterr(j->err, CT_ERR_REMOTE, "%s %s: HTTP %ld %s%s%s%s", j->method, j->path,
	                 http, code, *msg ? ": " : "", msg,
	                 http == 403 ? " (check the credentials and the bucket's permissions)" : "");
}

/* Full jitter: random(0, min(cap, base * 2^attempt)) milliseconds. */
static int64_t backoff_us(const struct ct_s3 *s, int attempt)
{
	uint32_t r = 0;
	int64_t ceil_ms = s->backoff_ms;

	for (int i = 0; i < attempt && ceil_ms < S3_BACKOFF_CAP_MS; i++)
		ceil_ms *= 2;
	if (ceil_ms > S3_BACKOFF_CAP_MS)
		ceil_ms = S3_BACKOFF_CAP_MS;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)rand();
	return (int64_t)(r % (uint64_t)(ceil_ms + 1)) * 1000;
}

static void finish(struct ct_s3 *s, struct slot *sl, CURLcode cc, int *stop)
{
	struct job *j = sl->j;
	int rc = classify(s, sl, cc);

	curl_multi_remove_handle(s->multi, sl->h);
	curl_slist_free_all(sl->hdrs);
	sl->hdrs = NULL;
	j->status = rc;
	if (rc == CT_OK && j->outmax && !j->want_etag) {
		ct_buf_free(&j->out);
		j->out = sl->body;             /* hand the body over */
		ct_buf_init(&sl->body, 0);
	}
	ct_buf_free(&sl->body);
	sl->j = NULL;
	if (rc == CT_ERR_TEMP && j->attempts <= s->retries && !*stop) {
		j->state = 0;
		j->not_before = ct_time_now_us() + backoff_us(s, j->attempts);
		return;
	}
	if (rc == CT_ERR_REMOTE)
		*stop = 1;
	j->state = 2;
}

/*
 * Run every job to its end (state 2), s->concurrency at a time.  After a
 * CT_ERR_REMOTE no job is started; those never tried are "not attempted".
 */
static int run(struct ct_s3 *s, struct job *jobs, size_t n, char *err)
{
	struct slot *slots = calloc(s->npool, sizeof(*slots));
	size_t active = 0, left = n;
	int stop = 0, rc = CT_OK;

	if (!slots)
		return ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
	for (size_t i = 0; i < s->npool; i++) {
		if (!s->pool[i] && !(s->pool[i] = curl_easy_init())) {
			rc = ct_seterr(err, CT_ERR_NOMEM, "s3: cannot create a curl handle");
			goto out;
		}
		slots[i].h = s->pool[i];
	}
	while (left > 0) {
		int64_t now = ct_time_now_us(), wake = now + 1000000;
		int still = 0, msgs = 0, timeout_ms;
		CURLMsg *m;

		for (size_t i = 0; i < n; i++) {
			struct job *j = &jobs[i];
			if (j->state != 0)
				continue;
			if (stop) {
				if (j->attempts == 0)
					ct_seterr(j->err, CT_ERR_TEMP, "%s %s: not attempted (the run "
					          "stopped on an earlier refusal)", j->method, j->path);
				j->status = CT_ERR_TEMP;
				j->state = 2;
				left--;
				continue;
			}
			if (j->not_before > now) {
				if (j->not_before < wake)
					wake = j->not_before;
				continue;
			}
			if (active == s->npool)
				continue;
			for (size_t k = 0; k < s->npool; k++) {
				if (slots[k].j)
					continue;
				if ((rc = start(s, &slots[k], j, j->err)) != CT_OK) {
					j->status = rc;
					j->state = 2;
					left--;
				} else
					active++;
				break;
			}
		}
		if (left == 0)
			break;
		curl_multi_perform(s->multi, &still);
		while ((m = curl_multi_info_read(s->multi, &msgs)) != NULL) {
			struct slot *sl = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
			finish(s, sl, m->data.result, &stop);
			active--;
		}
		/* sleep until curl has work, a slot is free for a ready job,
		 * or the next backoff ends */
		left = 0;
		now = ct_time_now_us();
		for (size_t i = 0; i < n; i++) {
			left += jobs[i].state != 2;
			if (jobs[i].state != 0)
				continue;
			if (jobs[i].not_before <= now) {
				if (active < s->npool)
					wake = now;
			} else if (jobs[i].not_before < wake)
				wake = jobs[i].not_before;
		}
		if (left == 0)
			break;
		timeout_ms = (int)((wake - ct_time_now_us()) / 1000);
		if (timeout_ms < 0)
			timeout_ms = 0;
		if (timeout_ms > 1000)
			timeout_ms = 1000;
		curl_multi_poll(s->multi, NULL, 0, timeout_ms, NULL);
	}
	rc = CT_OK;
out:
	for (size_t i = 0; i < s->npool; i++)
		if (slots[i].j) {
			curl_multi_remove_handle(s->multi, slots[i].h);
			curl_slist_free_all(slots[i].hdrs);
			ct_buf_free(&slots[i].body);
		}
	free(slots);
	return rc;
}

/* MD5 (hex and base64) and SHA-256 (hex) of the body. */
static int digests(struct job *j)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (ct_sigv4_sha256_hex(j->body ? j->body : "", j->len, j->sha) != CT_OK)
		return CT_ERR_CRYPTO;
	if (!j->body)
		return CT_OK;
	if (!EVP_Digest(j->body, j->len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
		return CT_ERR_CRYPTO;
	for (int i = 0; i < 16; i++)
		snprintf(j->md5hex + 2 * i, 3, "%02x", md[i]);
	EVP_EncodeBlock((unsigned char *)j->md5b64, md, 16);
	return CT_OK;
}

static const int severity[] = {
	[CT_OK] = 0, [CT_ERR_NOTFOUND] = 1, [CT_ERR_TEMP] = 2, [CT_ERR_TOOBIG] = 3,
	[CT_ERR_NOMEM] = 4, [CT_ERR_INPUT] = 4, [CT_ERR_IO] = 4, [CT_ERR_CONFIG] = 4,
	[CT_ERR_CRYPTO] = 4, [CT_ERR_BUSY] = 4, [CT_ERR_REMOTE] = 5,
};

static int worse(int a, int b)
{
	return severity[b] > severity[a] ? b : a;
}

int ct_s3_put(struct ct_s3 *s, struct ct_obj *objs, size_t n, char *err)
{
	struct job *jobs = calloc(n ? n : 1, sizeof(*jobs));
	int rc = CT_OK, worst = CT_OK;
	size_t bad = 0, first = n;

	if (!jobs)
		return ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
	for (size_t i = 0; i < n; i++) {
		struct job *j = &jobs[i];
		j->method = "PUT";
		j->body = objs[i].data ? objs[i].data : "";
		j->len = objs[i].len;
		j->ctype = objs[i].content_type ? objs[i].content_type : "application/gzip";
		j->outmax = S3_REPLY_MAX;
		j->want_etag = 1;
		j->state = 2;
		if (!key_ok(objs[i].key)) {
			j->status = ct_seterr(j->err, CT_ERR_INPUT, "bad object key");
		} else if (objpath(s, objs[i].key, &j->path) != CT_OK || digests(j) != CT_OK) {
			j->status = ct_seterr(j->err, CT_ERR_NOMEM, "s3: cannot prepare %s",
			                      objs[i].key);
		} else
			j->state = 0;
	}
	rc = run(s, jobs, n, err);
	for (size_t i = 0; i < n; i++) {
		objs[i].status = rc != CT_OK && jobs[i].state != 2 ? rc : jobs[i].status;
		objs[i].attempts = jobs[i].attempts;
		snprintf(objs[i].err, sizeof(objs[i].err), "%s",
		         objs[i].status == CT_OK ? "" : jobs[i].err);
		if (objs[i].status != CT_OK) {
			bad++;
			if (first == n || objs[i].status == CT_ERR_REMOTE)
				first = first < n && objs[first].status == CT_ERR_REMOTE ? first : i;
			worst = worse(worst, objs[i].status);
		}
		free(jobs[i].path);
		ct_buf_free(&jobs[i].out);
	}
	free(jobs);
	if (rc != CT_OK)
		return rc;
	if (worst != CT_OK)
		ct_seterr(err, worst, "s3://%s: %zu of %zu objects not stored: %s", s->bucket,
		          bad, n, objs[first].err);
	return worst;
}

/* One GET (object or list page) with the retry rules of PUT. */
int s3_get(struct ct_s3 *s, char *path, char *query, size_t max,
           struct ct_buf *out, char *err)
{
	struct job j;
	int rc;

	memset(&j, 0, sizeof(j));
	j.method = "GET";
	j.path = path;
	j.query = query;
	j.outmax = max;
	ct_buf_init(&j.out, max);
	if ((rc = digests(&j)) != CT_OK)
		return ct_seterr(err, rc, "s3: hashing failed");
	if ((rc = run(s, &j, 1, err)) == CT_OK && (rc = j.status) != CT_OK)
		ct_seterr(err, rc, "s3://%s: %s", s->bucket, j.err);
	if (rc == CT_OK) {
		ct_buf_free(out);
		*out = j.out;
		if (!out->p)
			rc = ct_buf_add(out, "", 0);
	} else
		ct_buf_free(&j.out);
	return rc;
}

int ct_s3_get(struct ct_s3 *s, const char *key, size_t max,
              struct ct_buf *out, char *err)
{
	char *path = NULL;
	int rc;

	ct_buf_reset(out);
	if (!key_ok(key))
		return ct_seterr(err, CT_ERR_INPUT, "s3: bad object key");
	if (objpath(s, key, &path) != CT_OK)
		return ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
	rc = s3_get(s, path, NULL, max, out, err);
	if (rc == CT_OK)
		out->max = max;
	free(path);
	return rc;
}

/* For the list code in s3list.c. */
const char *s3_bucket(const struct ct_s3 *s) { return s->bucket; }
const char *s3_prefix(const struct ct_s3 *s) { return s->prefix; }
int s3_path_style(const struct ct_s3 *s) { return s->path_style; }
