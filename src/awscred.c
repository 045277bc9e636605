/* awscred.c — AWS credentials the way AWS's own tools find them: the
 * environment (read by ct_conf_load), else the shared credentials file
 * ($AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), profile
 * $AWS_PROFILE or "default". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calltrail.h"

int
ct_conf_aws_credentials(struct ct_conf *c, char *err)
{
	const char *profile = getenv("AWS_PROFILE"), *file, *home;
	char path[4096], line[4096], *id = NULL, *secret = NULL, *token = NULL;
	int in = 0, rc = CT_OK;
	FILE *f;

	if (c->aws_access_key_id && c->aws_secret_access_key)
		return CT_OK;
	if (profile == NULL || *profile == '\0')
		profile = "default";
	if ((file = getenv("AWS_SHARED_CREDENTIALS_FILE")) && *file)
		snprintf(path, sizeof(path), "%s", file);
	else if ((home = getenv("HOME")) && *home)
		snprintf(path, sizeof(path), "%s/.aws/credentials", home);
	else
		goto missing;
	if ((f = fopen(path, "re")) == NULL)
		goto missing;
	while (fgets(line, sizeof(line), f)) {
		char *p = ct_conf_trim(line), *eq, *k, *v, **dst = NULL;

		if (*p == '#' || *p == ';' || *p == '\0')
			continue;
		if (*p == '[') {
			char *e = strchr(p, ']');
			if (e)
				*e = '\0';
			in = strcmp(ct_conf_trim(p + 1), profile) == 0;
			continue;
		}
		if (!in || (eq = strchr(p, '=')) == NULL)
			continue;
		*eq = '\0';
		k = ct_conf_trim(p);
		v = ct_conf_trim(eq + 1);
		if (strcmp(k, "aws_access_key_id") == 0)
			dst = &id;
		else if (strcmp(k, "aws_secret_access_key") == 0)
			dst = &secret;
		else if (strcmp(k, "aws_session_token") == 0)
			dst = &token;
		if (dst) {
			free(*dst);
			if ((*dst = strdup(v)) == NULL)
				rc = CT_ERR_NOMEM;
		}
	}
	fclose(f);
	if (rc != CT_OK || id == NULL || secret == NULL || !*id || !*secret)
		goto missing_free;
	free(c->aws_access_key_id);
	free(c->aws_secret_access_key);
	free(c->aws_session_token);
	c->aws_access_key_id = id;
	c->aws_secret_access_key = secret;
	c->aws_session_token = token;
	return CT_OK;
missing_free:
	free(id);
	free(secret);
	free(token);
	if (rc != CT_OK)
		return ct_seterr(err, rc, "reading AWS credentials: %s", ct_strerror(rc));
missing:
	return ct_seterr(err, CT_ERR_CONFIG,
	    "AWS_ACCESS_KEY_ID: no AWS credentials (set AWS_ACCESS_KEY_ID and "
	    "AWS_SECRET_ACCESS_KEY, or profile \"%s\" in %s)", profile,
	    getenv("AWS_SHARED_CREDENTIALS_FILE") ? getenv("AWS_SHARED_CREDENTIALS_FILE")
	                                         : "~/.aws/credentials");
}

/* ---- the chain (ct_awscred.h) ----------------------------------------
 * A first cut: the environment and static keys in the shared credentials
 * file.  The other sources of SPEC section 5 plug in behind the same
 * ct_awscred_get. */
#include <openssl/crypto.h>

#include "ct_awscred.h"
#include "ct_time.h"

struct ct_awscred_chain {
	const struct ct_conf *c;
	struct ct_awscred cur;
	int have;
};

int
ct_awscred_open(const struct ct_conf *c, struct ct_awscred_chain **ch, char *err)
{
	if ((*ch = calloc(1, sizeof(**ch))) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "AWS credentials: out of memory");
	(*ch)->c = c;
	return CT_OK;
}

/* Copy one value into a fixed field; CT_ERR_TOOBIG when it does not fit. */
static int
put(char *dst, size_t dsz, const char *v, const char *what, char *err)
{
	if (strlen(v) >= dsz)
		return ct_seterr(err, CT_ERR_CONFIG, "%s: longer than %zu bytes", what,
		                 dsz - 1);
	memcpy(dst, v, strlen(v) + 1);
	return CT_OK;
}

int
ct_awscred_get(struct ct_awscred_chain *ch, int force,
               const struct ct_awscred **out, char *err)
{
	struct ct_conf tmp;
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY"),
	           *tok = getenv("AWS_SESSION_TOKEN");
	int rc;

	*out = NULL;
	if (ch->have && !force && (ch->cur.expires_us == 0 ||
	    ch->cur.expires_us - ct_time_now_us() > CT_AWS_REFRESH_US)) {
		*out = &ch->cur;
		return CT_OK;
	}
	OPENSSL_cleanse(&ch->cur, sizeof(ch->cur));
	ch->have = 0;
	if (ak && *ak && sk && *sk) {
		if ((rc = put(ch->cur.access_key, sizeof(ch->cur.access_key), ak,
		              "AWS_ACCESS_KEY_ID", err)) != CT_OK ||
		    (rc = put(ch->cur.secret_key, sizeof(ch->cur.secret_key), sk,
		              "AWS_SECRET_ACCESS_KEY", err)) != CT_OK ||
		    (rc = put(ch->cur.token, sizeof(ch->cur.token), tok ? tok : "",
		              "AWS_SESSION_TOKEN", err)) != CT_OK)
			return rc;
		ch->cur.source = "environment";
	} else {
		memset(&tmp, 0, sizeof(tmp));
		if ((rc = ct_conf_aws_credentials(&tmp, err)) != CT_OK)
			return rc;
		rc = put(ch->cur.access_key, sizeof(ch->cur.access_key),
		         tmp.aws_access_key_id, "aws_access_key_id", err);
		if (rc == CT_OK)
			rc = put(ch->cur.secret_key, sizeof(ch->cur.secret_key),
			         tmp.aws_secret_access_key, "aws_secret_access_key", err);
		if (rc == CT_OK)
			rc = put(ch->cur.token, sizeof(ch->cur.token),
			         tmp.aws_session_token ? tmp.aws_session_token : "",
			         "aws_session_token", err);
		OPENSSL_cleanse(tmp.aws_secret_access_key, strlen(tmp.aws_secret_access_key));
		free(tmp.aws_access_key_id);
		free(tmp.aws_secret_access_key);
		free(tmp.aws_session_token);
		if (rc != CT_OK)
			return rc;
		ch->cur.source = "shared credentials file";
	}
	ch->have = 1;
	*out = &ch->cur;
	return CT_OK;
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
	const char *r = getenv("AWS_REGION");

	if (r == NULL || !*r)
		r = getenv("AWS_DEFAULT_REGION");
	if (r == NULL || !*r)
		r = c->s3_region && *c->s3_region ? c->s3_region : "us-east-1";
	if (!*r || strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(r) ||
	    strlen(r) >= outsz)
		return ct_seterr(err, CT_ERR_CONFIG, "s3_region: \"%.64s\" is not a region name", r);
	memcpy(out, r, strlen(r) + 1);
	return CT_OK;
}
