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
