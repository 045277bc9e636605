/*
 * s3.c — the S3 client behind s3:// targets: PUT, GET and ListObjectsV2
 * (s3list.c), signed with SigV4 (sigv4.c), on libcurl's multi interface
 * (the transfers and their retries: s3-run.c).  This file opens and closes
 * a client and turns objects into jobs.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "ct_s3.h"
#include "ct_sigv4.h"
#include "ct_s3int.h"


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
	rc = s3_run(s, jobs, n, err);
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
	if ((rc = s3_run(s, &j, 1, err)) == CT_OK && (rc = j.status) != CT_OK)
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
