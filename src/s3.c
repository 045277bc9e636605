/*
 * s3.c — the S3 client behind s3:// targets (ct_s3.h), top layer: it
 * opens a client (where requests go, the region, the credential chain)
 * and turns objects into jobs that s3-run.c runs; listings are s3list.c.
 *
 * The object key is percent-encoded here (sigv4.c's rule: '=' is %3D)
 * and the URL given to curl is that exact path (CURLOPT_PATH_AS_IS), so
 * what is signed is what goes on the wire.  Keys are checked once, by
 * target.c, before they get here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ct_s3int.h"

#define S3_PATH_MAX (3 * (2 * 1024 + 128))   /* an encoded /BUCKET/PREFIX/KEY */

/* "scheme://authority" of an endpoint URL, or CT_ERR_CONFIG. */
static int endpoint_parts(const char *ep, char **base, char **host, char *err)
{
	const char *auth = strstr(ep, "://");
	size_t alen;

	if ((strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) || !auth)
		return ct_seterr(err, CT_ERR_CONFIG, "s3_endpoint: \"%.100s\" must be "
		                 "http://HOST[:PORT] or https://HOST[:PORT]", ep);
	auth += 3;
	alen = strcspn(auth, "/");
	if (alen == 0 || strspn(auth + alen, "/") != strlen(auth + alen) ||
	    memchr(auth, '@', alen) || strcspn(auth, "?# \t") < alen)
		return ct_seterr(err, CT_ERR_CONFIG, "s3_endpoint: \"%.100s\" must be "
		                 "http://HOST[:PORT] with no path, user or query", ep);
	*base = strndup(ep, (size_t)(auth - ep) + alen);
	*host = strndup(auth, alen);
	return CT_OK;
}

int s3_address(const char *endpoint, const char *bucket, const char *region,
               char **base, char **host, int *path_style, char *err)
{
	size_t n = strlen(bucket) + strlen(region) + 40;
	int rc = CT_OK;

	*base = *host = NULL;
	*path_style = 1;
	if (endpoint && *endpoint)
		rc = endpoint_parts(endpoint, base, host, err);
	else if ((*host = malloc(n)) != NULL && (*base = malloc(n + 8)) != NULL) {
		if (strchr(bucket, '.'))
			snprintf(*host, n, "s3.%s.amazonaws.com", region);
		else {
			snprintf(*host, n, "%s.s3.%s.amazonaws.com", bucket, region);
			*path_style = 0;
		}
		snprintf(*base, n + 8, "https://%s", *host);
	}
	if (rc == CT_OK && (!*base || !*host))
		rc = ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
	if (rc != CT_OK) {
		free(*base);
		free(*host);
		*base = *host = NULL;
	}
	return rc;
}

/* The endpoint override the SDKs honour, in their order. */
static const char *endpoint_of(const struct ct_conf *c)
{
	const char *e;

	if (c->s3_endpoint && *c->s3_endpoint)
		return c->s3_endpoint;
	if ((e = getenv("AWS_ENDPOINT_URL_S3")) && *e)
		return e;
	return getenv("AWS_ENDPOINT_URL");
}

int ct_s3_open(const struct ct_conf *c, const char *bucket, const char *prefix,
               struct ct_s3 **sp, char *err)
{
	const struct ct_awscred *cr;
	char cerr[CT_ERRLEN];
	struct ct_s3 *s;
	int rc;

	*sp = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
	if ((rc = ct_aws_region(c, s->region, sizeof(s->region), err)) != CT_OK)
		goto fail;
	s->sse = c->s3_sse ? c->s3_sse : "";
	s->kms = c->s3_sse_kms_key_id ? c->s3_sse_kms_key_id : "";
	s->concurrency = c->s3_concurrency > 0 ? c->s3_concurrency : 8;
	s->retries = c->s3_retries >= 0 ? c->s3_retries : 5;
	/* test hooks: the fault tests cannot wait for production timeouts */
	s->stall_s = s3_env_long("CT_S3_STALL_TIMEOUT", S3_STALL_S, 1, 3600);
	s->total_s = s3_env_long("CT_S3_TIMEOUT", S3_TOTAL_S, 1, 86400);
	s->backoff_ms = s3_env_long("CT_S3_BACKOFF_MS", S3_BACKOFF_BASE_MS, 1, 60000);
	rc = CT_ERR_NOMEM;
	if (!(s->bucket = strdup(bucket)) || !(s->prefix = strdup(prefix ? prefix : "")))
		goto nomem;
	if ((rc = s3_address(endpoint_of(c), bucket, s->region, &s->base, &s->host,
	                     &s->path_style, err)) != CT_OK)
		goto fail;
	if ((rc = ct_awscred_open(c, &s->cred, err)) != CT_OK)
		goto fail;
	/* Ask the chain once now, so a run without credentials stops before
	 * it touches anything (exit 78, nothing claimed); the answer is
	 * cached, and asked again before each request is signed. */
	if ((rc = ct_awscred_get(s->cred, 0, &cr, cerr)) != CT_OK) {
		ct_seterr(err, rc, "AWS credentials for s3://%s: %s", bucket, cerr);
		goto fail;
	}
	rc = CT_ERR_NOMEM;
	s->npool = (size_t)s->concurrency;
	if (!(s->pool = calloc(s->npool, sizeof(CURL *))) || !(s->multi = curl_multi_init()))
		goto nomem;
	curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s->concurrency);
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->concurrency);
	*sp = s;
	return CT_OK;
nomem:
	ct_seterr(err, rc, "s3: out of memory");
fail:
	ct_s3_close(s);
	return rc;
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
	ct_awscred_close(s->cred);
	free(s->pool);
	free(s->bucket); free(s->prefix); free(s->base); free(s->host);
	free(s);
}

/* "/BUCKET/PREFIX/KEY" (path-style) or "/PREFIX/KEY", encoded. */
static int objpath(const struct ct_s3 *s, const char *key, char **out)
{
	struct ct_buf b;
	int rc = CT_OK;

	ct_buf_init(&b, S3_PATH_MAX);
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

static const int severity[] = {
	[CT_OK] = 0, [CT_ERR_NOTFOUND] = 1, [CT_ERR_TEMP] = 2, [CT_ERR_TOOBIG] = 3,
	[CT_ERR_NOMEM] = 4, [CT_ERR_INPUT] = 4, [CT_ERR_IO] = 4, [CT_ERR_CRYPTO] = 4,
	[CT_ERR_BUSY] = 4, [CT_ERR_REMOTE] = 5, [CT_ERR_CONFIG] = 6,
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
	for (size_t i = 0; i < n && rc == CT_OK; i++) {
		struct job *j = &jobs[i];
		j->method = "PUT";
		j->body = objs[i].data ? objs[i].data : "";
		j->len = objs[i].len;
		j->ctype = objs[i].content_type ? objs[i].content_type : "application/gzip";
		j->outmax = S3_REPLY_MAX;
		if (objpath(s, objs[i].key, &j->path) != CT_OK)
			rc = ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
		else if (s3_digests(j) != CT_OK)
			rc = ct_seterr(err, CT_ERR_CRYPTO, "s3: hashing failed");
	}
	if (rc == CT_OK)
		rc = s3_run(s, jobs, n, err);
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].state != 2) {          /* never prepared */
			jobs[i].status = rc;
			snprintf(jobs[i].err, sizeof(jobs[i].err), "%s", err);
		}
		objs[i].status = jobs[i].status;
		objs[i].attempts = jobs[i].attempts;
		snprintf(objs[i].err, sizeof(objs[i].err), "%s",
		         objs[i].status == CT_OK ? "" : jobs[i].err);
		if (objs[i].status != CT_OK) {
			bad++;
			if (first == n || worse(objs[first].status, objs[i].status) != objs[first].status)
				first = i;
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

int ct_s3_get(struct ct_s3 *s, const char *key, size_t max,
              struct ct_buf *out, char *err)
{
	char *path = NULL;
	int rc;

	ct_buf_reset(out);
	if (objpath(s, key, &path) != CT_OK)
		return ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
	rc = s3_get(s, path, NULL, max, out, err);
	if (rc == CT_OK)
		out->max = max;
	free(path);
	return rc;
}

int ct_s3_get_many(struct ct_s3 *s, struct ct_get *gets, size_t n, char *err)
{
	struct job *jobs = calloc(n ? n : 1, sizeof(*jobs));
	int rc = CT_OK;

	if (!jobs)
		return ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
	for (size_t i = 0; i < n && rc == CT_OK; i++) {
		jobs[i].method = "GET";
		jobs[i].outmax = gets[i].max;
		ct_buf_init(&jobs[i].out, gets[i].max);
		if (objpath(s, gets[i].key, &jobs[i].path) != CT_OK)
			rc = ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
		else if (s3_digests(&jobs[i]) != CT_OK)
			rc = ct_seterr(err, CT_ERR_CRYPTO, "s3: hashing failed");
	}
	if (rc == CT_OK)
		rc = s3_run(s, jobs, n, err);
	for (size_t i = 0; i < n; i++) {
		struct ct_get *g = &gets[i];

		g->status = rc != CT_OK ? rc : jobs[i].status;
		snprintf(g->err, sizeof(g->err), "%s", rc != CT_OK ? err : jobs[i].err);
		ct_buf_free(&g->data);
		if (g->status == CT_OK) {
			g->data = jobs[i].out;
			g->data.max = g->max;
			if (!g->data.p && ct_buf_add(&g->data, "", 0) != CT_OK) {
				g->status = ct_seterr(g->err, CT_ERR_NOMEM, "s3: out of memory");
				if (rc == CT_OK)
					rc = ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
			}
		} else
			ct_buf_free(&jobs[i].out);
		free(jobs[i].path);
	}
	free(jobs);
	return rc;
}
