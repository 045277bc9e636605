/*
 * awscred-http.c — the credential sources that answer over HTTP: EC2
 * instance metadata (IMDSv2 only) and the container endpoint (ECS, EKS
 * Pod Identity), plus the one bounded libcurl request all of them (and
 * STS, awscred-sts.c) use.
 *
 * IMDSv2 (AWS: "Use the Instance Metadata Service to access instance
 * metadata"): PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds
 * gives a session token; GET /latest/meta-data/iam/security-credentials/
 * with X-aws-ec2-metadata-token names the role, and GET …/ROLE gives
 * {"Code":"Success","AccessKeyId",…,"Token","Expiration"}.  A refused token
 * PUT is an error: calltrail never falls back to IMDSv1.
 *
 * Container (AWS: "Amazon ECS task IAM role", "EKS Pod Identity"):
 * GET http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, or
 * $AWS_CONTAINER_CREDENTIALS_FULL_URI (https anywhere; http only to a
 * loopback address or the ECS/EKS link-local ones, as the SDKs allow),
 * with "Authorization: " the token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 * (read on every refresh: EKS rotates it) or AWS_CONTAINER_AUTHORIZATION_TOKEN.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "ct_awscredint.h"

#define IMDS_DEFAULT   "http://169.254.169.254"
#define IMDS_DEFAULT6  "http://[fd00:ec2::254]"
#define IMDS_TOKEN_TTL "21600"
#define ECS_HOST       "http://169.254.170.2"
#define HDR_MAX        (CT_AWS_WEBID_MAX + 64)

struct sink {
	struct ct_buf *b;
	int toobig;
};

static size_t
on_data(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *s = arg;

	if (ct_buf_add(s->b, p, sz * n) != CT_OK) {
		s->toobig = 1;
		return 0;           /* aborts the transfer */
	}
	return sz * n;
}

int
ct_awscred_http(const char *method, const char *url, const char *const *headers,
                const char *body, long timeout_ms, size_t max, struct ct_buf *reply,
                long *status, char *err)
{
	struct curl_slist *hl = NULL, *t;
	struct sink s = { reply, 0 };
	CURLcode cc;
	CURL *h;
	int rc = CT_OK;

	*status = 0;
	ct_buf_free(reply);
	ct_buf_init(reply, max);
	if ((h = curl_easy_init()) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "out of memory");
	for (; headers && *headers; headers++) {
		if ((t = curl_slist_append(hl, *headers)) == NULL) {
			rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
			goto out;
		}
		hl = t;
	}
	/* no "Expect: 100-continue" round trip for a small body */
	if ((t = curl_slist_append(hl, "Expect:")) == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
		goto out;
	}
	hl = t;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2 * timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (s.toobig)
		rc = ct_seterr(err, CT_ERR_REMOTE, "the reply is larger than %zu bytes", max);
	else if (cc != CURLE_OK)
		rc = ct_seterr(err, CT_ERR_TEMP, "%s", curl_easy_strerror(cc));
out:
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	return rc;
}

/* The metadata service's timeout: AWS_METADATA_SERVICE_TIMEOUT seconds
 * (the SDKs' variable), else 1 s: off EC2 nothing answers, and the chain
 * must not hang there. */
static long
imds_timeout_ms(void)
{
	const char *v = getenv("AWS_METADATA_SERVICE_TIMEOUT");
	char *end;
	double s;

	if (v && *v && (s = strtod(v, &end)) > 0 && s <= 60 && *end == '\0')
		return (long)(s * 1000);
	return 1000;
}

/* A role name as IMDS lists it: one line of safe characters. */
static int
role_ok(const char *r, size_t len)
{
	size_t i;

	if (len == 0 || len > 128)
		return 0;
	for (i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		            "0123456789+=,.@_-", r[i]) || r[i] == '\0')
			return 0;
	return 1;
}

int
ct_awscred_imds(struct ct_awscred *out, char *err)
{
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
	           *mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	char url[1024], tokhdr[256], role[160], e2[CT_ERRLEN];
	const char *ttl[] = { "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL, NULL };
	const char *hdr[] = { tokhdr, NULL };
	long st, to = imds_timeout_ms();
	struct ct_buf b = { 0 };
	size_t n, elen;
	int rc;

	tokhdr[0] = '\0';
	if (ep == NULL || *ep == '\0')
		ep = mode && strcasecmp(mode, "IPv6") == 0 ? IMDS_DEFAULT6 : IMDS_DEFAULT;
	elen = strlen(ep);
	while (elen > 0 && ep[elen - 1] == '/')
		elen--;
	if (elen > 512)
		return ct_seterr(err, CT_ERR_CONFIG, "IMDSv2: AWS_EC2_METADATA_SERVICE_ENDPOINT "
		                 "is longer than 512 bytes");
	snprintf(url, sizeof(url), "%.*s/latest/api/token", (int)elen, ep);
	if ((rc = ct_awscred_http("PUT", url, ttl, NULL, to, 4096, &b, &st, e2)) != CT_OK) {
		rc = ct_seterr(err, rc, "IMDSv2: %.*s not reachable: %s", (int)elen, ep, e2);
		goto out;
	}
	if (st != 200 || b.len == 0 || b.len > 200 || memchr(b.p, '\n', b.len) ||
	    memchr(b.p, '\r', b.len)) {
		/* 403: the instance's metadata endpoint is turned off; other
		 * 4xx: no IMDSv2 there.  Either way there is no source here. */
		rc = ct_seterr(err, st == 200 ? CT_ERR_REMOTE : st >= 500 ? CT_ERR_TEMP :
		               CT_ERR_CONFIG, "IMDSv2: the session token request (PUT "
		               "/latest/api/token) got HTTP %ld; IMDSv1 is never used", st);
		goto out;
	}
	snprintf(tokhdr, sizeof(tokhdr), "X-aws-ec2-metadata-token: %.*s", (int)b.len, b.p);
	OPENSSL_cleanse(b.p, b.len);
	snprintf(url, sizeof(url), "%.*s/latest/meta-data/iam/security-credentials/",
	         (int)elen, ep);
	if ((rc = ct_awscred_http("GET", url, hdr, NULL, to, 4096, &b, &st, e2)) != CT_OK) {
		rc = ct_seterr(err, rc, "IMDSv2: role name: %s", e2);
		goto out;
	}
	if (st == 404 || (st == 200 && b.len == 0)) {
		rc = ct_seterr(err, CT_ERR_CONFIG, "IMDSv2: no role attached to the instance");
		goto out;
	}
	/* the first line names the role */
	n = b.p ? strcspn(b.p, "\r\n") : 0;
	if (st != 200 || !role_ok(b.p, n)) {
		rc = ct_seterr(err, st == 200 ? CT_ERR_REMOTE : st >= 500 ? CT_ERR_TEMP :
		               CT_ERR_REMOTE, "IMDSv2: the role name request got HTTP %ld%s", st,
		               st == 200 ? " and no valid role name" : "");
		goto out;
	}
	snprintf(role, sizeof(role), "%.*s", (int)n, b.p);
	snprintf(url, sizeof(url), "%.*s/latest/meta-data/iam/security-credentials/%s",
	         (int)elen, ep, role);
	if ((rc = ct_awscred_http("GET", url, hdr, NULL, to, CT_AWS_REPLY_MAX, &b, &st,
	                          e2)) != CT_OK) {
		rc = ct_seterr(err, rc, "IMDSv2: credentials of role \"%s\": %s", role, e2);
		goto out;
	}
	if (st != 200) {
		rc = ct_seterr(err, st >= 500 ? CT_ERR_TEMP : CT_ERR_REMOTE, "IMDSv2: "
		               "credentials of role \"%s\": HTTP %ld", role, st);
		goto out;
	}
	rc = ct_awscred_json(b.p, b.len, "IMDSv2", 0, out, err);
	if (rc == CT_OK)
		out->source = "IMDSv2";
out:
	OPENSSL_cleanse(tokhdr, sizeof(tokhdr));
	if (b.p)
		OPENSSL_cleanse(b.p, b.len);
	ct_buf_free(&b);
	return rc;
}

/* May the SDKs talk plain http to this full URI's host?  Loopback, and
 * the link-local addresses of ECS and EKS Pod Identity. */
static int
http_host_ok(const char *url)
{
	const char *h = url + 7, *allowed[] = { "localhost", "[::1]", "169.254.170.2",
	                                        "169.254.170.23", "[fd00:ec2::23]", NULL };
	size_t n, i;

	n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/?#");
	if (n >= 4 && strncmp(h, "127.", 4) == 0 && strspn(h, "0123456789.") == n)
		return 1;
	for (i = 0; allowed[i]; i++)
		if (strlen(allowed[i]) == n && strncasecmp(h, allowed[i], n) == 0)
			return 1;
	return 0;
}

int
ct_awscred_container(struct ct_awscred *out, char *err)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
	           *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
	           *tokfile = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
	           *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char url[2048], *auth = NULL, e2[CT_ERRLEN];
	const char *hdr[] = { NULL, NULL };
	struct ct_buf b = { 0 }, tb = { 0 };
	long st;
	int rc;

	if (rel && *rel) {
		if (rel[0] != '/' || strlen(rel) > 1024)
			return ct_seterr(err, CT_ERR_CONFIG, "container credentials: "
			                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path");
		snprintf(url, sizeof(url), ECS_HOST "%s", rel);
	} else {
		if (strlen(full) > 1024)
			return ct_seterr(err, CT_ERR_CONFIG, "container credentials: "
			                 "AWS_CONTAINER_CREDENTIALS_FULL_URI is too long");
		if (strncasecmp(full, "https://", 8) != 0 &&
		    !(strncasecmp(full, "http://", 7) == 0 && http_host_ok(full)))
			return ct_seterr(err, CT_ERR_CONFIG, "container credentials: "
			                 "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http "
			                 "to a loopback or the ECS/EKS address");
		snprintf(url, sizeof(url), "%s", full);
	}
	ct_buf_init(&tb, CT_AWS_WEBID_MAX);
	if (tokfile && *tokfile) {
		if ((rc = ct_awscred_readfile(tokfile, CT_AWS_WEBID_MAX, &tb,
		                              "container credentials", err)) != CT_OK)
			goto out;
		tok = tb.p ? tb.p : "";
	}
	if (tok && *tok) {
		if (strpbrk(tok, "\r\n")) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "container credentials: the "
			               "authorization token holds a line break");
			goto out;
		}
		if ((auth = malloc(strlen(tok) + 16)) == NULL) {
			rc = ct_seterr(err, CT_ERR_NOMEM, "container credentials: out of memory");
			goto out;
		}
		sprintf(auth, "Authorization: %s", tok);
		hdr[0] = auth;
	}
	if ((rc = ct_awscred_http("GET", url, hdr, NULL, 5000, CT_AWS_REPLY_MAX, &b, &st,
	                          e2)) != CT_OK) {
		rc = ct_seterr(err, rc, "container credentials: %s", e2);
		goto out;
	}
	if (st != 200) {
		rc = ct_seterr(err, st >= 500 || st == 429 ? CT_ERR_TEMP : CT_ERR_REMOTE,
		               "container credentials: the endpoint answered HTTP %ld%s", st,
		               st == 401 || st == 403 ? " (authorization token refused)" : "");
		goto out;
	}
	if ((rc = ct_awscred_json(b.p, b.len, "container credentials", 0, out, err)) == CT_OK)
		out->source = "container credentials";
out:
	if (auth) {
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	if (tb.p)
		OPENSSL_cleanse(tb.p, tb.len);
	ct_buf_free(&tb);
	if (b.p)
		OPENSSL_cleanse(b.p, b.len);
	ct_buf_free(&b);
	return rc;
}
