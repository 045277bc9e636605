/*
 * awscred-sts.c — a web identity token exchanged for credentials: STS
 * AssumeRoleWithWebIdentity (EKS IRSA, any OIDC provider).
 *
 * AWS_WEB_IDENTITY_TOKEN_FILE (read on every refresh: the kubelet rotates
 * it), AWS_ROLE_ARN and AWS_ROLE_SESSION_NAME (default "calltrail-<time>")
 * are POSTed form-encoded, unsigned, to https://sts.REGION.amazonaws.com/
 * (AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, override it).  The reply
 * (STS API reference, AssumeRoleWithWebIdentity):
 *
 *   <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
 *     <AssumeRoleWithWebIdentityResult>
 *       <Credentials><AccessKeyId/><SecretAccessKey/><SessionToken/>
 *         <Expiration>2026-11-29T20:00:00Z</Expiration></Credentials> …
 *
 * or <ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>,
 * read with expat through ct_xml_parse (xml.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "ct_awscredint.h"
#include "ct_xml.h"
#include "ct_time.h"

#define SRC "web identity (STS AssumeRoleWithWebIdentity)"
#define R "AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials/"

enum { P_AK, P_SK, P_TOK, P_EXP, P_CODE, P_NPATHS };

static const char *const paths[P_NPATHS] = {
	R "AccessKeyId", R "SecretAccessKey", R "SessionToken", R "Expiration",
	"ErrorResponse/Error/Code",
};

struct parsed {
	struct ct_awscred *out;
	char exp[64], code[64];
	int seen[P_NPATHS];
	int bad;                    /* a value too long, twice, or not printable */
};

static int
on_text(void *arg, size_t which, const char *text, size_t len)
{
	struct parsed *p = arg;
	char *dst = NULL;
	size_t cap = 0, i;

	switch (which) {
	case P_AK:   dst = p->out->access_key; cap = sizeof(p->out->access_key); break;
	case P_SK:   dst = p->out->secret_key; cap = sizeof(p->out->secret_key); break;
	case P_TOK:  dst = p->out->token;      cap = sizeof(p->out->token);      break;
	case P_EXP:  dst = p->exp;             cap = sizeof(p->exp);             break;
	case P_CODE: dst = p->code;            cap = sizeof(p->code);            break;
	default:     return 0;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)text[i] <= ' ' || (unsigned char)text[i] >= 0x7f)
			p->bad = 1;
	if (p->seen[which]++ || len == 0 || len >= cap) {
		p->bad = 1;
		return 0;
	}
	memcpy(dst, text, len);
	dst[len] = '\0';
	return 0;
}

int
ct_awscred_sts_parse(const char *buf, size_t len, struct ct_awscred *out, char *err)
{
	struct parsed p;
	char e2[CT_ERRLEN];
	int rc;

	memset(&p, 0, sizeof(p));
	memset(out, 0, sizeof(*out));
	p.out = out;
	if ((rc = ct_xml_parse(buf, len, paths, P_NPATHS, on_text, &p, e2)) != CT_OK) {
		rc = ct_seterr(err, rc == CT_ERR_NOMEM ? rc : CT_ERR_REMOTE,
		               SRC ": the reply is not the XML STS sends: %s", e2);
		goto fail;
	}
	if (p.seen[P_CODE]) {
		/* STS's own advice: these two are worth asking again later */
		int temp = strcmp(p.code, "IDPCommunicationError") == 0 ||
		           strcmp(p.code, "InvalidIdentityToken") == 0 ||
		           strcmp(p.code, "Throttling") == 0;

		rc = ct_seterr(err, temp ? CT_ERR_TEMP : CT_ERR_REMOTE, SRC ": STS refused: "
		               "%s", p.bad ? "(an unreadable error code)" : p.code);
		goto fail;
	}
	if (p.bad || !p.seen[P_AK] || !p.seen[P_SK] || !p.seen[P_TOK] || !p.seen[P_EXP]) {
		rc = ct_seterr(err, CT_ERR_REMOTE, SRC ": the reply lacks the credentials, "
		               "or one is empty, repeated or too long");
		goto fail;
	}
	if (ct_time_parse(p.exp, &out->expires_us) != CT_OK) {
		rc = ct_seterr(err, CT_ERR_REMOTE, SRC ": Expiration is not an RFC 3339 time");
		goto fail;
	}
	out->source = "web identity";
	return CT_OK;
fail:
	OPENSSL_cleanse(out, sizeof(*out));
	return rc;
}

/* The STS endpoint: the SDKs' overrides, else the regional one. */
static int
sts_url(const struct ct_conf *c, char *url, size_t sz, char *err)
{
	const char *v = getenv("AWS_ENDPOINT_URL_STS");
	char region[64];
	int rc;

	if (v == NULL || *v == '\0')
		v = getenv("AWS_ENDPOINT_URL");
	if (v && *v) {
		if (strncmp(v, "https://", 8) && strncmp(v, "http://", 7))
			return ct_seterr(err, CT_ERR_CONFIG, SRC ": AWS_ENDPOINT_URL_STS is not "
			                 "an http(s) URL");
		if (snprintf(url, sz, "%s", v) >= (int)sz)
			return ct_seterr(err, CT_ERR_CONFIG, SRC ": the endpoint is too long");
		return CT_OK;
	}
	if ((rc = ct_aws_region(c, region, sizeof(region), err)) != CT_OK)
		return rc;
	snprintf(url, sz, "https://sts.%s.amazonaws.com/", region);
	return CT_OK;
}

int
ct_awscred_webid(const struct ct_conf *c, struct ct_awscred *out, char *err)
{
	const char *file = getenv("AWS_WEB_IDENTITY_TOKEN_FILE"),
	           *arn = getenv("AWS_ROLE_ARN"), *name = getenv("AWS_ROLE_SESSION_NAME");
	const char *hdr[] = { "Content-Type: application/x-www-form-urlencoded",
	                      "Accept: application/xml", NULL };
	char url[1100], defname[64], *earn = NULL, *ename = NULL, *etok = NULL, e2[CT_ERRLEN];
	struct ct_buf tok = { 0 }, body = { 0 }, reply = { 0 };
	long st;
	int rc;

	if (arn == NULL || *arn == '\0')
		return ct_seterr(err, CT_ERR_CONFIG, SRC ": AWS_WEB_IDENTITY_TOKEN_FILE is set "
		                 "but AWS_ROLE_ARN is not");
	if (name == NULL || *name == '\0') {
		snprintf(defname, sizeof(defname), "calltrail-%lld",
		         (long long)(ct_time_now_us() / 1000));
		name = defname;
	}
	if ((rc = sts_url(c, url, sizeof(url), err)) != CT_OK)
		return rc;
	ct_buf_init(&tok, CT_AWS_WEBID_MAX);
	ct_buf_init(&body, 3 * CT_AWS_WEBID_MAX + 4096);
	if ((rc = ct_awscred_readfile(file, CT_AWS_WEBID_MAX, &tok, SRC, err)) != CT_OK)
		goto out;
	if (tok.len == 0) {
		rc = ct_seterr(err, CT_ERR_CONFIG, SRC ": the token file \"%.200s\" is empty",
		               file);
		goto out;
	}
	if ((earn = curl_easy_escape(NULL, arn, 0)) == NULL ||
	    (ename = curl_easy_escape(NULL, name, 0)) == NULL ||
	    (etok = curl_easy_escape(NULL, tok.p, (int)tok.len)) == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, SRC ": out of memory");
		goto out;
	}
	if ((rc = ct_buf_printf(&body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
	                        "&RoleArn=%s&RoleSessionName=%s&WebIdentityToken=%s",
	                        earn, ename, etok)) != CT_OK) {
		rc = ct_seterr(err, rc, SRC ": the request is too large");
		goto out;
	}
	if ((rc = ct_awscred_http("POST", url, hdr, body.p, 5000, CT_AWS_REPLY_MAX, &reply,
	                          &st, e2)) != CT_OK) {
		rc = ct_seterr(err, rc, SRC ": %s", e2);
		goto out;
	}
	if (st != 200 && (reply.len == 0 || st >= 500)) {
		rc = ct_seterr(err, st >= 500 || st == 429 ? CT_ERR_TEMP : CT_ERR_REMOTE,
		               SRC ": HTTP %ld", st);
		goto out;
	}
	rc = ct_awscred_sts_parse(reply.p, reply.len, out, err);
	if (rc == CT_OK && st != 200)
		rc = ct_seterr(err, CT_ERR_REMOTE, SRC ": HTTP %ld", st);
out:
	if (etok) {
		OPENSSL_cleanse(etok, strlen(etok));
		curl_free(etok);
	}
	curl_free(earn);
	curl_free(ename);
	if (tok.p)
		OPENSSL_cleanse(tok.p, tok.len);
	if (body.p)
		OPENSSL_cleanse(body.p, body.len);
	if (reply.p)
		OPENSSL_cleanse(reply.p, reply.len);
	ct_buf_free(&tok);
	ct_buf_free(&body);
	ct_buf_free(&reply);
	return rc;
}
