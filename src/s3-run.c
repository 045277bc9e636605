/*
 * s3-run.c — running S3 jobs on libcurl's multi interface: each job is
 * signed (SigV4) and handed to a free easy handle of the client's pool,
 * up to s3_concurrency at once; a finished attempt is classified, and a
 * retryable one waits its full-jitter backoff and goes again (see s3.c
 * for the rules).  Every reply body is capped (on_body).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ct_sigv4.h"
#include "ct_s3int.h"
#include "ct_time.h"

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

int s3_run(struct ct_s3 *s, struct job *jobs, size_t n, char *err)
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
