/*
 * awscred.c — the credential chain of AWS's SDKs (SPEC section 5) and the
 * region.  The sources live in their own files: the shared files
 * (awscred-ini.c), credential_process (awscred-proc.c), the container
 * endpoint and IMDSv2 (awscred-http.c), web identity through STS
 * (awscred-sts.c).  This file walks them in order, caches what the first
 * one gave, and asks that same source again five minutes before the
 * credentials expire, or at once when the caller says the server answered
 * ExpiredToken.
 *
 * Errors name the source and never quote a credential value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "ct_awscredint.h"
#include "ct_time.h"
#include "ct_json.h"

enum src { S_NONE, S_ENV, S_PROFILE, S_PROCESS, S_WEBID, S_CONTAINER, S_IMDS };

struct ct_awscred_chain {
	const struct ct_conf *c;
	struct ct_awscred cur;
	enum src src;               /* S_NONE: nothing cached */
	int64_t quiet_until_us;     /* a refresh failed: keep what we have
	                             * until then instead of asking per request */
};

/* After a failed refresh, how long the still-valid credentials are used
 * without asking the source again: the S3 client asks before every
 * request, and an IMDS that does not answer costs a second each time. */
#define RETRY_US (10LL * 1000000)

int
ct_awscred_open(const struct ct_conf *c, struct ct_awscred_chain **ch, char *err)
{
	if ((*ch = calloc(1, sizeof(**ch))) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "AWS credentials: out of memory");
	(*ch)->c = c;
	return CT_OK;
}

int
ct_awscred_put(char *dst, size_t dsz, const char *v, const char *src,
               const char *what, char *err)
{
	size_t n = v ? strlen(v) : 0;

	if (n >= dsz)
		return ct_seterr(err, CT_ERR_REMOTE, "%s: %s is longer than %zu bytes", src,
		                 what, dsz - 1);
	memcpy(dst, v ? v : "", n + 1);
	return CT_OK;
}

int
ct_awscred_json(const char *buf, size_t len, const char *src, int version1,
                struct ct_awscred *out, char *err)
{
	struct json_object *o = NULL, *v;
	const char *ak, *sk, *tok, *exp, *code;
	char e2[CT_ERRLEN];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ct_json_parse(buf, len, 4, &o, e2)) != CT_OK ||
	    !json_object_is_type(o, json_type_object)) {
		rc = ct_seterr(err, rc == CT_ERR_NOMEM ? rc : CT_ERR_REMOTE, "%s: the answer "
		               "is not a JSON object", src);
		goto out;
	}
	if (version1 && (!json_object_object_get_ex(o, "Version", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 1)) {
		rc = ct_seterr(err, CT_ERR_REMOTE, "%s: the answer lacks \"Version\": 1", src);
		goto out;
	}
	/* IMDS says whether it worked in "Code" */
	if ((code = ct_json_str(o, "Code")) && strcmp(code, "Success") != 0) {
		rc = ct_seterr(err, CT_ERR_TEMP, "%s: the answer's Code is \"%.64s\"", src, code);
		goto out;
	}
	ak = ct_json_str(o, "AccessKeyId");
	sk = ct_json_str(o, "SecretAccessKey");
	if ((tok = ct_json_str(o, "SessionToken")) == NULL)
		tok = ct_json_str(o, "Token");
	exp = ct_json_str(o, "Expiration");
	if (!ak || !*ak || !sk || !*sk) {
		rc = ct_seterr(err, CT_ERR_REMOTE, "%s: the answer lacks AccessKeyId or "
		               "SecretAccessKey", src);
		goto out;
	}
	if ((rc = ct_awscred_put(out->access_key, sizeof(out->access_key), ak, src,
	                         "AccessKeyId", err)) != CT_OK ||
	    (rc = ct_awscred_put(out->secret_key, sizeof(out->secret_key), sk, src,
	                         "SecretAccessKey", err)) != CT_OK ||
	    (rc = ct_awscred_put(out->token, sizeof(out->token), tok, src,
	                         "SessionToken", err)) != CT_OK)
		goto out;
	if (exp && ct_time_parse(exp, &out->expires_us) != CT_OK) {
		rc = ct_seterr(err, CT_ERR_REMOTE, "%s: Expiration is not an RFC 3339 time", src);
		goto out;
	}
	out->source = src;
out:
	if (rc != CT_OK)
		OPENSSL_cleanse(out, sizeof(*out));
	json_object_put(o);       /* json-c frees; the strings were short-lived */
	return rc;
}

int
ct_awscred_readfile(const char *path, size_t max, struct ct_buf *b, const char *src,
                    char *err)
{
	char chunk[4096];
	ssize_t n;
	int fd, rc = CT_OK;

	ct_buf_reset(b);
	/* symlinks followed on purpose: a projected volume's file is one */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return ct_seterr(err, CT_ERR_CONFIG, "%s: cannot open \"%.200s\": %s", src,
		                 path, strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ct_seterr(err, CT_ERR_IO, "%s: read \"%.200s\": %s", src, path,
			               strerror(errno));
			break;
		}
		if (b->len + (size_t)n > max) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "%s: \"%.200s\" is larger than %zu "
			               "bytes", src, path, max);
			break;
		}
		if ((rc = ct_buf_add(b, chunk, (size_t)n)) != CT_OK) {
			ct_seterr(err, rc, "%s: %s", src, ct_strerror(rc));
			break;
		}
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	close(fd);
	while (rc == CT_OK && b->len > 0 && strchr(" \t\r\n", b->p[b->len - 1]))
		b->p[--b->len] = '\0';
	if (rc == CT_OK && b->len && memchr(b->p, '\0', b->len))
		rc = ct_seterr(err, CT_ERR_CONFIG, "%s: \"%.200s\" holds a NUL byte", src, path);
	return rc;
}

static int
isset(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

/* The environment: both keys, or neither. */
static int
from_env(struct ct_awscred *out, char *err)
{
	const char *src = "environment", *exp = getenv("AWS_CREDENTIAL_EXPIRATION");
	int rc;

	if (!isset("AWS_ACCESS_KEY_ID") || !isset("AWS_SECRET_ACCESS_KEY"))
		return ct_seterr(err, CT_ERR_CONFIG, "environment: AWS_ACCESS_KEY_ID is set "
		                 "but AWS_SECRET_ACCESS_KEY is not, or the other way round");
	if ((rc = ct_awscred_put(out->access_key, sizeof(out->access_key),
	                         getenv("AWS_ACCESS_KEY_ID"), src, "AWS_ACCESS_KEY_ID",
	                         err)) != CT_OK ||
	    (rc = ct_awscred_put(out->secret_key, sizeof(out->secret_key),
	                         getenv("AWS_SECRET_ACCESS_KEY"), src,
	                         "AWS_SECRET_ACCESS_KEY", err)) != CT_OK ||
	    (rc = ct_awscred_put(out->token, sizeof(out->token), getenv("AWS_SESSION_TOKEN"),
	                         src, "AWS_SESSION_TOKEN", err)) != CT_OK)
		return rc == CT_ERR_REMOTE ? CT_ERR_CONFIG : rc;
	/* the JavaScript SDK's variable for temporary keys in the environment */
	if (exp && *exp && ct_time_parse(exp, &out->expires_us) != CT_OK)
		return ct_seterr(err, CT_ERR_CONFIG, "environment: AWS_CREDENTIAL_EXPIRATION "
		                 "is not an RFC 3339 time");
	out->source = src;
	return CT_OK;
}

/* The profile: static keys, else credential_process.  *src says which;
 * S_NONE with CT_OK when the profile gives nothing (the chain goes on). */
static int
from_profile(struct ct_awscred *out, enum src *src, char *err)
{
	struct ct_awsprofile p;
	int rc;

	*src = S_NONE;
	if ((rc = ct_awsprofile_read(&p, err)) != CT_OK)
		return rc;
	if (p.access_key || p.secret_key) {
		if (!p.access_key || !p.secret_key) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "%s: aws_access_key_id without "
			               "aws_secret_access_key, or the other way round", p.where);
			goto out;
		}
		if ((rc = ct_awscred_put(out->access_key, sizeof(out->access_key),
		                         p.access_key, p.where, "aws_access_key_id",
		                         err)) != CT_OK ||
		    (rc = ct_awscred_put(out->secret_key, sizeof(out->secret_key),
		                         p.secret_key, p.where, "aws_secret_access_key",
		                         err)) != CT_OK ||
		    (rc = ct_awscred_put(out->token, sizeof(out->token), p.token, p.where,
		                         "aws_session_token", err)) != CT_OK) {
			rc = CT_ERR_CONFIG;
			goto out;
		}
		out->source = "shared credentials file";
		*src = S_PROFILE;
	} else if (p.credential_process) {
		char e2[CT_ERRLEN];

		if ((rc = ct_awscred_process(p.credential_process, out, e2)) != CT_OK) {
			ct_seterr(err, rc, "%s: %s", p.where, e2);
			goto out;
		}
		out->source = "credential_process";
		*src = S_PROCESS;
	} else if (isset("AWS_PROFILE") && !p.found) {
		/* a profile asked for by name must exist, as in the SDKs */
		rc = ct_seterr(err, CT_ERR_CONFIG, "%s (AWS_PROFILE) is in neither the shared "
		               "credentials file nor the config file", p.where);
	}
out:
	ct_awsprofile_free(&p);
	return rc;
}

static int
metadata_disabled(void)
{
	const char *v = getenv("AWS_EC2_METADATA_DISABLED");

	return v && strcasecmp(v, "true") == 0;
}

/* Ask one source; the profile's two kinds are both asked via S_PROFILE. */
static int
ask(struct ct_awscred_chain *ch, enum src s, enum src *got, char *err)
{
	struct ct_awscred *out = &ch->cur;

	*got = s;
	switch (s) {
	case S_ENV:       return from_env(out, err);
	case S_PROFILE:
	case S_PROCESS:   return from_profile(out, got, err);
	case S_WEBID:     return ct_awscred_webid(ch->c, out, err);
	case S_CONTAINER: return ct_awscred_container(out, err);
	case S_IMDS:      return ct_awscred_imds(out, err);
	default:          break;
	}
	return ct_seterr(err, CT_ERR_CONFIG, "AWS credentials: no source");
}

/* Walk the chain: the first source that is configured decides. */
static int
walk(struct ct_awscred_chain *ch, enum src *got, char *err)
{
	char e2[CT_ERRLEN];
	int rc;

	if (isset("AWS_ACCESS_KEY_ID") || isset("AWS_SECRET_ACCESS_KEY"))
		return ask(ch, S_ENV, got, err);
	if ((rc = ask(ch, S_PROFILE, got, err)) != CT_OK || *got != S_NONE)
		return rc;
	if (isset("AWS_WEB_IDENTITY_TOKEN_FILE"))
		return ask(ch, S_WEBID, got, err);
	if (isset("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
	    isset("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
		return ask(ch, S_CONTAINER, got, err);
	if (!metadata_disabled()) {
		rc = ask(ch, S_IMDS, got, e2);
		/* off EC2 nothing answers there: that is "no source", not an outage */
		if (rc == CT_OK || (rc != CT_ERR_TEMP && rc != CT_ERR_CONFIG) ||
		    isset("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
			return rc == CT_OK ? rc : ct_seterr(err, rc, "%s", e2);
	} else {
		snprintf(e2, sizeof(e2), "IMDSv2: AWS_EC2_METADATA_DISABLED");
	}
	*got = S_NONE;
	return ct_seterr(err, CT_ERR_CONFIG, "no AWS credentials: none in the environment "
	                 "(AWS_ACCESS_KEY_ID), the shared files (profile \"%s\"), web identity "
	                 "or container variables; %.200s",
	                 isset("AWS_PROFILE") ? getenv("AWS_PROFILE") : "default", e2);
}

int
ct_awscred_get(struct ct_awscred_chain *ch, int force, const struct ct_awscred **out,
               char *err)
{
	struct ct_awscred old;
	int64_t now = ct_time_now_us();
	enum src got;
	int rc;

	*out = NULL;
	if (ch->src != S_NONE && !force && (ch->cur.expires_us == 0 ||
	    ch->cur.expires_us - now > CT_AWS_REFRESH_US ||
	    (now < ch->quiet_until_us && ch->cur.expires_us > now))) {
		*out = &ch->cur;
		return CT_OK;
	}
	memcpy(&old, &ch->cur, sizeof(old));
	OPENSSL_cleanse(&ch->cur, sizeof(ch->cur));
	/* a refresh asks the source that gave the credentials; the first
	 * call (or a static source told they expired) walks the chain */
	if (ch->src == S_NONE || old.expires_us == 0 ||
	    ch->src == S_ENV || ch->src == S_PROFILE)
		rc = walk(ch, &got, err);
	else
		rc = ask(ch, ch->src, &got, err);
	if (rc == CT_OK) {
		ch->src = got;
		ch->quiet_until_us = 0;
	} else if (ch->src != S_NONE && !force && old.expires_us - now > 0) {
		/* the source is away, but what it gave is still good: use it
		 * until it expires, as the SDKs do, and ask again later */
		memcpy(&ch->cur, &old, sizeof(old));
		ch->quiet_until_us = now + RETRY_US;
		rc = CT_OK;
	} else {
		ch->src = S_NONE;
	}
	OPENSSL_cleanse(&old, sizeof(old));
	if (rc == CT_OK)
		*out = &ch->cur;
	return rc;
}

void
ct_awscred_close(struct ct_awscred_chain *ch)
{
	if (ch == NULL)
		return;
	OPENSSL_cleanse(&ch->cur, sizeof(ch->cur));
	free(ch);
}

int
ct_aws_region(const struct ct_conf *c, char *out, size_t outsz, char *err)
{
	const char *r = getenv("AWS_REGION"), *from = "AWS_REGION";
	struct ct_awsprofile p;
	int rc = CT_OK, prof = 0;

	if (r == NULL || !*r)
		r = getenv("AWS_DEFAULT_REGION"), from = "AWS_DEFAULT_REGION";
	if ((r == NULL || !*r) && c && c->s3_region && *c->s3_region)
		r = c->s3_region, from = "s3_region";
	if (r == NULL || !*r) {
		if ((rc = ct_awsprofile_read(&p, err)) != CT_OK)
			return rc;
		prof = 1;
		r = p.region, from = "the profile's region";
	}
	if (r == NULL || !*r)
		r = "us-east-1";
	if (strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(r) ||
	    strlen(r) >= outsz || strlen(r) > 32)
		rc = ct_seterr(err, CT_ERR_CONFIG, "%s: \"%.64s\" is not a region name", from, r);
	else
		memcpy(out, r, strlen(r) + 1);
	if (prof)
		ct_awsprofile_free(&p);
	return rc;
}
