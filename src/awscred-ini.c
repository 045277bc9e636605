/*
 * awscred-ini.c — the profile in AWS's shared files, read as the SDKs do.
 *
 * Two INI files: the credentials file (AWS_SHARED_CREDENTIALS_FILE, else
 * ~/.aws/credentials) with sections "[NAME]", and the config file
 * (AWS_CONFIG_FILE, else ~/.aws/config) with "[profile NAME]" ("[default]"
 * for the default profile).  A key in the credentials file beats the same
 * key in the config file.  Lines that begin with a blank continue a nested
 * value (e.g. "s3 =" settings) and are skipped; '#' and ';' start comments.
 * A user with no home (cron as a system user: HOME=/nonexistent) simply
 * has no files, which is no error: the chain goes on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ct_awscredint.h"

#define INI_LINE_MAX 4096

static char *
profile_name(void)
{
	const char *p = getenv("AWS_PROFILE");

	return (char *)(p && *p ? p : "default");
}

/* path of one shared file into out; 0 when there is none to read. */
static int
file_path(const char *envname, const char *leaf, char *out, size_t outsz)
{
	const char *v = getenv(envname), *home;

	if (v && *v)
		return snprintf(out, outsz, "%s", v) < (int)outsz;
	if ((home = getenv("HOME")) == NULL || *home == '\0')
		return 0;
	return snprintf(out, outsz, "%s/.aws/%s", home, leaf) < (int)outsz;
}

/* Does the section header hdr (between the brackets, trimmed) name the
 * profile?  In the config file non-default profiles carry "profile ". */
static int
section_is(const char *hdr, const char *name, int config)
{
	if (!config)
		return strcmp(hdr, name) == 0;
	if (strncmp(hdr, "profile", 7) == 0 && (hdr[7] == ' ' || hdr[7] == '\t')) {
		hdr += 8;
		while (*hdr == ' ' || *hdr == '\t')
			hdr++;
		return strcmp(hdr, name) == 0;
	}
	return strcmp(name, "default") == 0 && strcmp(hdr, "default") == 0;
}

/* Set *dst to v unless an earlier file already set it. */
static int
keep(char **dst, const char *v)
{
	if (*dst)
		return CT_OK;
	return (*dst = strdup(v)) ? CT_OK : CT_ERR_NOMEM;
}

static int
read_one(struct ct_awsprofile *p, const char *path, int config, char *err)
{
	const char *name = profile_name();
	char line[INI_LINE_MAX + 2];
	int in = 0, rc = CT_OK;
	size_t lineno = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return CT_OK;
		return ct_seterr(err, CT_ERR_CONFIG, "AWS shared file \"%s\": %s", path,
		                 strerror(errno));
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *k, *v, **dst = NULL;

		lineno++;
		if (strlen(line) > INI_LINE_MAX) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "AWS shared file \"%s\" line %zu: "
			               "longer than %d bytes", path, lineno, INI_LINE_MAX);
			break;
		}
		if (line[0] == ' ' || line[0] == '\t')
			continue;           /* a nested value's line */
		s = ct_conf_trim(line);
		if (*s == '#' || *s == ';' || *s == '\0')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');

			if (e)
				*e = '\0';
			in = e && section_is(ct_conf_trim(s + 1), name, config);
			if (in) {
				p->found = 1;
				snprintf(p->where, sizeof(p->where), "profile \"%.64s\" in %.160s",
				         name, path);
			}
			continue;
		}
		if (!in || (eq = strchr(s, '=')) == NULL)
			continue;
		*eq = '\0';
		k = ct_conf_trim(s);
		v = ct_conf_trim(eq + 1);
		if (strcmp(k, "aws_access_key_id") == 0)
			dst = &p->access_key;
		else if (strcmp(k, "aws_secret_access_key") == 0)
			dst = &p->secret_key;
		else if (strcmp(k, "aws_session_token") == 0)
			dst = &p->token;
		else if (strcmp(k, "credential_process") == 0)
			dst = &p->credential_process;
		else if (strcmp(k, "region") == 0)
			dst = &p->region;
		if (dst && *v && (rc = keep(dst, v)) != CT_OK) {
			ct_seterr(err, rc, "AWS shared file \"%s\": out of memory", path);
			break;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return rc;
}

int
ct_awsprofile_read(struct ct_awsprofile *p, char *err)
{
	char path[4096];
	int rc;

	memset(p, 0, sizeof(*p));
	if (file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", path, sizeof(path)) &&
	    (rc = read_one(p, path, 0, err)) != CT_OK)
		goto fail;
	if (file_path("AWS_CONFIG_FILE", "config", path, sizeof(path)) &&
	    (rc = read_one(p, path, 1, err)) != CT_OK)
		goto fail;
	if (!p->found)
		snprintf(p->where, sizeof(p->where), "profile \"%.64s\"", profile_name());
	return CT_OK;
fail:
	ct_awsprofile_free(p);
	return rc;
}

static void
freestr(char **s)
{
	if (*s) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void
ct_awsprofile_free(struct ct_awsprofile *p)
{
	freestr(&p->access_key);
	freestr(&p->secret_key);
	freestr(&p->token);
	freestr(&p->credential_process);
	freestr(&p->region);
}
