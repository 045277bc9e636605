/*
 * s3-run.c — the bottom layer of the S3 client: running jobs (ct_s3int.h).
 *
 * Each job is signed (SigV4, with the credentials ct_awscred_get has
 * just confirmed fresh) and handed to a free easy handle of the client's
 * pool, up to s3_concurrency at once, on one CURLM whose connection pool
 * outlives the run (curl_easy_reset keeps it).  A finished attempt is
 * classified: 2xx done; transport errors, timeouts, 429, 5xx, 400
 * BadDigest (the body changed on the way) and an ETag that is not the MD5
 * of what was sent where S3 defines the ETag so, wait their full-jitter
 * backoff, random(0, min(cap, base * 2^attempt)), and go again, up to
 * s3_retries times; ExpiredToken refreshes the credentials once and goes
 * again at once; 403 and other 4xx are CT_ERR_REMOTE and a bucket in
 * another region (301 PermanentRedirect, 400 AuthorizationHeaderMalformed,
 * x-amz-bucket-region) CT_ERR_CONFIG, after either of which no new job
 * starts.  Every reply body is
 * capped (on_body), and error replies are read by xml.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ct_s3int.h"
#include "ct_xml.h"

/* One easy handle of the pool and the attempt it is running. */
struct slot {
	CURL *h;
	struct job *j;
	struct curl_slist *hdrs;
	struct ct_buf body;
	char etag[80];
	char sse[32];               /* the reply's x-amz-server-side-encryption */
	char region[S3_REGION_MAX]; /* the reply's x-amz-bucket-region */
	int ssec;                   /* the reply names a customer key (SSE-C) */
	int toobig;
	char cerr[CURL_ERROR_SIZE];
};

long s3_env_long(const char *name, long def, long lo, long hi)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return def;
	return n;
}

int s3_digests(struct job *j)
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

/* ---- error replies ---------------------------------------------------- */

struct errparse {
	char *out[3];
	size_t sz[3];
};

static int on_errfield(void *arg, size_t which, const char *text, size_t len)
{
	struct errparse *e = arg;
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < e->sz[which]; i++)
		e->out[which][n++] = (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?';
	e->out[which][n] = '\0';
	return 0;
}

void s3_error_parse(const char *body, size_t len, char *code, size_t codesz,
                    char *msg, size_t msgsz, char *region, size_t regionsz)
{
	static const char *const paths[] = { "Error/Code", "Error/Message", "Error/Region" };
	struct errparse e = { { code, msg, region }, { codesz, msgsz, regionsz } };
	char err[CT_ERRLEN];

	code[0] = msg[0] = region[0] = '\0';
	if (body && len && ct_xml_parse(body, len, paths, 3, on_errfield, &e, err) != CT_OK)
		code[0] = msg[0] = region[0] = '\0';   /* not an S3 error: the status says it */
}

/* ---- one attempt -------------------------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct slot *sl = arg;
	size_t len = sz * n;

	if (sl->body.len + len > sl->j->outmax) {
		sl->toobig = 1;
		/* a PUT's reply only needs its head: keep reading, drop the rest */
		return sl->j->body ? len : 0;
	}
	return ct_buf_add(&sl->body, p, len) == CT_OK ? len : 0;
}

/* A header's value, trimmed of blanks, CR LF and quotes, into out. */
static void hval(const char *p, size_t len, size_t skip, char *out, size_t outsz)
{
	size_t i = skip, e = len;

	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '"'))
		i++;
	while (e > i && strchr(" \t\r\n\"", p[e - 1]))
		e--;
	if (e - i < outsz) {
		memcpy(out, p + i, e - i);
		out[e - i] = '\0';
	}
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	static const char ssec[] = "x-amz-server-side-encryption-customer-algorithm:";
	static const char sse[] = "x-amz-server-side-encryption:";
	static const char reg[] = "x-amz-bucket-region:";
	struct slot *sl = arg;
	size_t len = sz * n;

	if (len > 5 && strncasecmp(p, "etag:", 5) == 0)
		hval(p, len, 5, sl->etag, sizeof(sl->etag));
	else if (len > sizeof(sse) - 1 && strncasecmp(p, sse, sizeof(sse) - 1) == 0)
		hval(p, len, sizeof(sse) - 1, sl->sse, sizeof(sl->sse));
	else if (len > sizeof(ssec) - 1 && strncasecmp(p, ssec, sizeof(ssec) - 1) == 0)
		sl->ssec = 1;
	else if (len > sizeof(reg) - 1 && strncasecmp(p, reg, sizeof(reg) - 1) == 0)
		hval(p, len, sizeof(reg) - 1, sl->region, sizeof(sl->region));
	return len;
}

/* Append "name: value" to *l; on failure the whole list is freed. */
static int addhdr(struct curl_slist **l, const char *name, const char *value)
{
	char line[CT_SIGV4_AUTHLEN + CT_AWS_TOKEN_MAX + 64];
	struct curl_slist *n;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	n = curl_slist_append(*l, line);
	OPENSSL_cleanse(line, sizeof(line));   /* it may hold the session token */
	if (!n) {
		curl_slist_free_all(*l);
		*l = NULL;
		return CT_ERR_NOMEM;
	}
	*l = n;
	return CT_OK;
}

/* Sign and hand one job to curl on slot sl.  Nothing is left allocated
 * on failure. */
static int start(struct ct_s3 *s, struct slot *sl, struct job *j, char *err)
{
	struct ct_sigv4_header h[10];
	struct ct_sigv4_req r = { 0 };
	struct ct_sigv4_out so;
	const struct ct_awscred *cr;
	struct curl_slist *l = NULL;
	char date[CT_SIGV4_DATELEN], cerr[CT_ERRLEN];
	char *url = NULL;
	size_t nh = 0, ulen;
	int rc;

	if ((rc = ct_awscred_get(s->cred, s->force, &cr, cerr)) != CT_OK)
		return ct_seterr(err, rc, "AWS credentials: %s", cerr);
	s->force = 0;
	j->credgen = s->credgen;
	ct_sigv4_amz_date(time(NULL), date);
	h[nh++] = (struct ct_sigv4_header){ "host", s->host };
	h[nh++] = (struct ct_sigv4_header){ "x-amz-content-sha256", j->sha };
	h[nh++] = (struct ct_sigv4_header){ "x-amz-date", date };
	if (j->body) {
		h[nh++] = (struct ct_sigv4_header){ "content-md5", j->md5b64 };
		h[nh++] = (struct ct_sigv4_header){ "content-type", j->ctype };
		if (*s->sse)
			h[nh++] = (struct ct_sigv4_header){ "x-amz-server-side-encryption", s->sse };
		if (*s->kms)
			h[nh++] = (struct ct_sigv4_header){
				"x-amz-server-side-encryption-aws-kms-key-id", s->kms };
	}
	if (cr->token[0])
		h[nh++] = (struct ct_sigv4_header){ "x-amz-security-token", cr->token };
	r.method = j->method;
	r.path = j->path;
	r.query = j->query;
	r.headers = h;
	r.nheaders = nh;
	r.payload_hash = j->sha;
	r.amz_date = date;
	r.region = s->region;
	r.service = "s3";
	r.access_key = cr->access_key;
	r.secret_key = cr->secret_key;
	rc = ct_sigv4_sign(&r, &so, err);
	for (size_t i = 0; rc == CT_OK && i < nh; i++)
		rc = addhdr(&l, h[i].name, h[i].value);
	if (rc == CT_OK)
		rc = addhdr(&l, "Authorization", so.authorization);
	ct_sigv4_out_free(&so);
	/* no "Expect: 100-continue" round trip, no "Accept: * / *" */
	if (rc == CT_OK && (rc = addhdr(&l, "Expect", "")) == CT_OK)
		rc = addhdr(&l, "Accept", "");
	ulen = strlen(s->base) + strlen(j->path) + (j->query ? strlen(j->query) : 0) + 2;
	if (rc == CT_OK && !(url = malloc(ulen)))
		rc = CT_ERR_NOMEM;
	if (rc != CT_OK) {
		curl_slist_free_all(l);
		return rc == CT_ERR_NOMEM ? ct_seterr(err, rc, "s3: out of memory") : rc;
	}
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
	/* small requests and replies: never wait for Nagle against a
	 * delayed ACK (curl's default too, said here because it matters) */
	curl_easy_setopt(sl->h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(sl->h, CURLOPT_USERAGENT, "calltrail");
	curl_easy_setopt(sl->h, CURLOPT_HTTPHEADER, l);
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
	sl->hdrs = l;
	sl->j = j;
	sl->toobig = sl->ssec = 0;
	sl->etag[0] = sl->sse[0] = sl->region[0] = sl->cerr[0] = '\0';
	ct_buf_init(&sl->body, j->outmax);
	if (curl_multi_add_handle(s->multi, sl->h) != CURLM_OK) {
		curl_slist_free_all(sl->hdrs);
		sl->hdrs = NULL;
		sl->j = NULL;
		return ct_seterr(err, CT_ERR_NOMEM, "s3: cannot queue a transfer");
	}
	j->state = 1;
	j->attempts++;
	return CT_OK;
}

/* Does S3 define this PUT's ETag as the MD5 of the body?  Not under
 * SSE-KMS (aws:kms, aws:kms:dsse) nor SSE-C. */
static int etag_is_md5(const struct slot *sl)
{
	return !sl->ssec && (sl->sse[0] == '\0' || strcasecmp(sl->sse, "AES256") == 0);
}

/* Decide what one finished attempt means: CT_OK, CT_ERR_TEMP (retry),
 * or a final CT_ERR_REMOTE / CT_ERR_NOTFOUND / CT_ERR_TOOBIG.  *expired:
 * the server said ExpiredToken. */
static int classify(const struct ct_s3 *s, struct slot *sl, CURLcode cc, int *expired)
{
	struct job *j = sl->j;
	char code[64], msg[200], region[S3_REGION_MAX];
	long http = 0;

	*expired = 0;
	curl_easy_getinfo(sl->h, CURLINFO_RESPONSE_CODE, &http);
	j->http = http;
	if (cc != CURLE_OK) {
		if (sl->toobig && !j->body)
			return ct_seterr(j->err, CT_ERR_TOOBIG, "%s %s: reply larger than %zu bytes",
			                 j->method, j->path, j->outmax);
		return ct_seterr(j->err, CT_ERR_TEMP, "%s %s: %s", j->method, j->path,
		                 sl->cerr[0] ? sl->cerr : curl_easy_strerror(cc));
	}
	if (http >= 200 && http < 300) {
		if (j->body && etag_is_md5(sl) && strcasecmp(sl->etag, j->md5hex) != 0)
			return ct_seterr(j->err, CT_ERR_TEMP, "%s %s: ETag \"%.40s\" is not the MD5 "
			                 "of what was sent", j->method, j->path, sl->etag);
		if (sl->toobig && !j->body)
			return ct_seterr(j->err, CT_ERR_TOOBIG, "%s %s: reply larger than %zu bytes",
			                 j->method, j->path, j->outmax);
		return CT_OK;
	}
	s3_error_parse(sl->body.p, sl->body.len, code, sizeof(code), msg, sizeof(msg),
	               region, sizeof(region));
	if (sl->region[0])
		snprintf(region, sizeof(region), "%s", sl->region);
	/* a bucket in another region: no retry fixes that, only s3_region
	 * (or AWS_REGION) does, so it is a configuration error */
	if (http == 301 || strcmp(code, "PermanentRedirect") == 0 ||
	    strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
	    (region[0] && strcmp(region, s->region) != 0 && (http == 400 || http == 403))) {
		if (region[0] && strcmp(region, s->region) != 0)
			return ct_seterr(j->err, CT_ERR_CONFIG, "%s %s: HTTP %ld %s: the bucket "
			                 "%s is in region %s, not %s (set s3_region = %s)", j->method,
			                 j->path, http, code, s->bucket, region, s->region, region);
		return ct_seterr(j->err, CT_ERR_CONFIG, "%s %s: HTTP %ld %s: the bucket %s is "
		                 "not in region %s (S3 did not say which)", j->method, j->path,
		                 http, code, s->bucket, s->region);
	}
	if (strcmp(code, "ExpiredToken") == 0) {
		*expired = 1;
		return ct_seterr(j->err, CT_ERR_TEMP, "%s %s: HTTP %ld ExpiredToken", j->method,
		                 j->path, http);
	}
	/* BadDigest / XAmzContentSHA256Mismatch: the body changed on the way;
	 * S3 stored nothing, and the next try sends it again whole */
	if (http == 429 || http >= 500 || (http == 400 && (strcmp(code, "BadDigest") == 0 ||
	    strcmp(code, "XAmzContentSHA256Mismatch") == 0)))
		return ct_seterr(j->err, CT_ERR_TEMP, "%s %s: HTTP %ld %s%s%s", j->method,
		                 j->path, http, code, *msg ? ": " : "", msg);
	if (http == 404 && !j->body && strcmp(code, "NoSuchBucket") != 0)
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
	int expired, rc = classify(s, sl, cc, &expired);

	curl_multi_remove_handle(s->multi, sl->h);
	curl_slist_free_all(sl->hdrs);
	sl->hdrs = NULL;
	j->status = rc;
	if (rc == CT_OK && !j->body) {
		ct_buf_free(&j->out);
		j->out = sl->body;             /* hand the body over */
		ct_buf_init(&sl->body, 0);
	}
	ct_buf_free(&sl->body);
	sl->j = NULL;
	if (expired && !j->refreshed && !*stop) {
		/* refresh once for all the jobs signed with the same keys */
		if (j->credgen == s->credgen) {
			s->force = 1;
			s->credgen++;
		}
		j->refreshed = 1;
		j->state = 0;
		j->not_before = 0;
		return;
	}
	if (expired)
		rc = j->status = ct_seterr(j->err, CT_ERR_REMOTE, "%s %s: ExpiredToken even with "
		                           "refreshed credentials", j->method, j->path);
	if (rc == CT_ERR_TEMP && j->attempts <= s->retries + j->refreshed && !*stop) {
		j->state = 0;
		j->not_before = ct_time_now_us() + backoff_us(s, j->attempts);
		return;
	}
	if (rc == CT_ERR_REMOTE || rc == CT_ERR_CONFIG)
		*stop = 1;
	j->state = 2;
}

int s3_run(struct ct_s3 *s, struct job *jobs, size_t n, char *err)
{
	struct slot *slots = calloc(s->npool, sizeof(*slots));
	size_t active = 0, left = n;
	int stop = 0, rc = CT_OK;

	if (!slots)
		rc = ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
	for (size_t i = 0; rc == CT_OK && i < s->npool; i++) {
		if (!s->pool[i] && !(s->pool[i] = curl_easy_init()))
			rc = ct_seterr(err, CT_ERR_NOMEM, "s3: cannot create a curl handle");
		else
			slots[i].h = s->pool[i];
	}
	while (rc == CT_OK && left > 0) {
		int64_t now = ct_time_now_us(), wake = now + 1000000;
		int still = 0, msgs = 0, timeout_ms;
		CURLMsg *m;

		for (size_t i = 0; i < n && rc == CT_OK; i++) {
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
				/* cannot even start (credentials, memory): stop here */
				if ((rc = start(s, &slots[k], j, err)) == CT_OK)
					active++;
				break;
			}
		}
		if (rc != CT_OK || left == 0)
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
	for (size_t i = 0; slots && i < s->npool; i++)
		if (slots[i].j) {
			curl_multi_remove_handle(s->multi, slots[i].h);
			curl_slist_free_all(slots[i].hdrs);
			ct_buf_free(&slots[i].body);
			slots[i].j->state = 0;
		}
	free(slots);
	/* a run that could not go on: every job not done gets its reason */
	for (size_t i = 0; rc != CT_OK && i < n; i++)
		if (jobs[i].state != 2) {
			jobs[i].status = rc;
			jobs[i].state = 2;
			snprintf(jobs[i].err, sizeof(jobs[i].err), "%s", err);
		}
	return rc;
}

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
	if ((rc = s3_digests(&j)) != CT_OK)
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
