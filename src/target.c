/*
 * target.c — where exported objects go (see ct_target.h): the URLs, the
 * key checks and the dispatch to the two backends.
 *
 * Two kinds of target share one small interface:
 *
 *   file:///DIR           a local tree: DIR/KEY, directories 0700, objects
 *                         0600 (SPEC 4: the owner's alone), each written to
 *                         DIR/.tmp, fsynced and renamed into place, so a
 *                         reader never sees half an object and a crash
 *                         leaves the old one or the new; a batch fsyncs its
 *                         files on the target's fsync pool and each
 *                         directory once, before any object is reported
 *                         stored (target-file.c, ct_tfile_put).
 *   s3://BUCKET[/PREFIX]  Amazon S3 or a compatible store; the work is done
 *                         by s3.c (ct_s3_*), keys are relative to PREFIX.
 *
 * Keys come from our own code, but they name paths on disk, so every key
 * is checked here, once, for both backends: relative, at most
 * CT_TARGET_KEY_MAX bytes, no empty, "." or ".." component, no control
 * bytes.  A file target therefore never writes outside DIR.  The keys
 * themselves (SPEC section 5's layout) are built here too: ct_target_key.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_s3.h"
#include "ct_target.h"
#include "ct_targetint.h"

#define KEY_MAX CT_TARGET_KEY_MAX

/* Is s[0..n) one of the path components we never accept? */
static int badcomp(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '.') ||
	       (n == 2 && s[0] == '.' && s[1] == '.');
}

/*
 * Check a key or key prefix: relative, printable, no "." / ".." / empty
 * component.  A prefix may end with '/' (an empty last component).
 */
static int checkkey(const char *key, int prefix)
{
	const char *p, *c;
	size_t len = strlen(key);

	if (len > KEY_MAX || (!prefix && len == 0) || key[0] == '/')
		return 0;
	if (len == 0)
		return 1;
	for (p = key; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	for (c = key; ; c = p + 1) {
		p = strchr(c, '/');
		if (p == NULL)
			p = c + strlen(c);
		if (*p == '\0' && prefix && p == c)
			return 1;               /* trailing "/" of a prefix */
		if (badcomp(c, (size_t)(p - c)))
			return 0;
		if (*p == '\0')
			return 1;
	}
}

/* A directory path of a file:// URL: absolute, clean components. */
static int checkdir(const char *d)
{
	const char *c, *p;

	if (d[0] != '/' || strlen(d) >= PATH_MAX - KEY_MAX - 2)
		return 0;
	for (p = d; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	for (c = d + 1; *c; c = *p ? p + 1 : p) {
		p = strchr(c, '/');
		if (p == NULL)
			p = c + strlen(c);
		if (badcomp(c, (size_t)(p - c)) && !(p == c && *p == '\0'))
			return 0;
	}
	return 1;
}

/*
 * S3 bucket naming rules: 3-63 of [a-z0-9.-], starting and ending with a
 * letter or digit, no "..", not shaped like an IPv4 address.  Dots are
 * allowed by S3 but break virtual-hosted TLS names, so only warnable; we
 * accept them as S3 does.
 */
static int checkbucket(const char *b, size_t n)
{
	size_t i, dots = 0;
	int alldigits = 1;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = b[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '-'))
			return 0;
		if (ch == '.') {
			dots++;
			if (i > 0 && b[i - 1] == '.')
				return 0;
		} else if (!(ch >= '0' && ch <= '9'))
			alldigits = 0;
	}
	if (b[0] == '.' || b[0] == '-' || b[n - 1] == '.' || b[n - 1] == '-')
		return 0;
	return !(alldigits && dots == 3);
}

static int openfile(struct ct_target *t, const char *url, char *err)
{
	const char *d = url + strlen("file://");
	size_t n = strlen(d);

	if (!checkdir(d))
		return ct_seterr(err, CT_ERR_CONFIG, "target: \"%s\" is not file:///ABSOLUTE/DIR "
		                 "(no \".\" or \"..\" components)", url);
	while (n > 1 && d[n - 1] == '/')
		n--;
	if ((t->dir = strndup(d, n)) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "target: out of memory");
	snprintf(t->name, sizeof t->name, "file://%s", t->dir);
	/* no connections to match: a large batch spreads the archive's,
	 * sent/DAY/'s and cur/'s few directory fsyncs over more records and
	 * keeps the fsync pool's threads busy */
	t->batch = 256;
	return CT_OK;
}

static int opens3(struct ct_target *t, const struct ct_conf *c, const char *url,
                  char *err)
{
	const char *b = url + strlen("s3://"), *slash = strchr(b, '/');
	size_t blen = slash ? (size_t)(slash - b) : strlen(b);
	char bucket[64], prefix[KEY_MAX + 1];
	size_t plen;
	int rc;

	if (!checkbucket(b, blen))
		return ct_seterr(err, CT_ERR_CONFIG, "target: \"%.*s\" is not a valid S3 "
		                 "bucket name (3-63 of a-z 0-9 . -)", (int)(blen > 63 ? 63 : blen), b);
	memcpy(bucket, b, blen);
	bucket[blen] = '\0';
	plen = slash ? strlen(slash + 1) : 0;
	if (plen > KEY_MAX)
		return ct_seterr(err, CT_ERR_CONFIG, "target: S3 prefix too long");
	memcpy(prefix, slash ? slash + 1 : "", plen + 1);
	while (plen > 0 && prefix[plen - 1] == '/')
		prefix[--plen] = '\0';
	if (plen > 0 && !checkkey(prefix, 0))
		return ct_seterr(err, CT_ERR_CONFIG, "target: S3 prefix \"%s\" has an empty, "
		                 "\".\" or \"..\" component or a control byte", prefix);
	snprintf(t->name, sizeof t->name, "s3://%s%s%s", bucket, plen ? "/" : "", prefix);
	rc = ct_s3_open(c, bucket, prefix, &t->s3, err);
	/* as many objects a put as keep the connections busy eight times over:
	 * the per-batch cost (the spool's fsyncs, the last round's stragglers)
	 * then weighs little against the requests (bench/run, latency rows) */
	t->batch = c->s3_concurrency > 0 ? (size_t)c->s3_concurrency * 8 : 64;
	t->batch = t->batch < 16 ? 16 : t->batch > 128 ? 128 : t->batch;
	return rc;
}

/* Parse c->target and open it; see ct_target.h. */
int ct_target_open(const struct ct_conf *c, struct ct_target **tp, char *err)
{
	struct ct_target *t;
	int rc;

	*tp = NULL;
	if (c->target == NULL || c->target[0] == '\0')
		return ct_seterr(err, CT_ERR_CONFIG, "target: empty");
	if ((t = calloc(1, sizeof *t)) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "target: out of memory");
	if (strncmp(c->target, "file://", 7) == 0)
		rc = openfile(t, c->target, err);
	else if (strncmp(c->target, "s3://", 5) == 0)
		rc = opens3(t, c, c->target, err);
	else
		rc = ct_seterr(err, CT_ERR_CONFIG, "target: \"%.64s\" is neither "
		               "file:///DIR nor s3://BUCKET/PREFIX", c->target);
	if (rc != CT_OK)
		goto out;
	*tp = t;
	t = NULL;
out:
	ct_target_close(t);
	return rc;
}

/* Store n objects; see ct_target.h.  Keys are checked before any store. */
int ct_target_put(struct ct_target *t, struct ct_obj *objs, size_t n, char *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		objs[i].status = CT_ERR_TEMP;
		objs[i].attempts = 0;
		snprintf(objs[i].err, sizeof objs[i].err, "not attempted (the batch stopped "
		         "before it)");
	}
	for (i = 0; i < n; i++)
		if (!checkkey(objs[i].key, 0)) {
			objs[i].status = ct_seterr(objs[i].err, CT_ERR_INPUT,
			                           "invalid object key");
			return ct_seterr(err, CT_ERR_INPUT, "invalid object key \"%.80s\"",
			                 objs[i].key);
		}
	if (t->s3)
		return ct_s3_put(t->s3, objs, n, err);
	return ct_tfile_put(t, objs, n, err);
}

/* List keys under prefix (S3: byte order); see ct_target.h. */
int ct_target_list(struct ct_target *t, const char *prefix,
                   int (*cb)(void *arg, const char *key, uint64_t size),
                   void *arg, char *err)
{
	if (prefix == NULL)
		prefix = "";
	if (!checkkey(prefix, 1))
		return ct_seterr(err, CT_ERR_INPUT, "invalid key prefix \"%.80s\"", prefix);
	if (t->s3)
		return ct_s3_list(t->s3, prefix, cb, arg, err);
	return ct_tfile_list(t, prefix, cb, arg, err);
}

/* Fetch one object; CT_ERR_NOTFOUND when it does not exist. */
int ct_target_get(struct ct_target *t, const char *key, size_t max,
                  struct ct_buf *out, char *err)
{
	if (!checkkey(key, 0))
		return ct_seterr(err, CT_ERR_INPUT, "invalid object key \"%.80s\"", key);
	if (t->s3)
		return ct_s3_get(t->s3, key, max, out, err);
	return ct_tfile_get(t, key, max, out, err);
}

/* Fetch n objects; see ct_target.h.  Keys are checked before any get. */
int ct_target_get_many(struct ct_target *t, struct ct_get *gets, size_t n, char *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		gets[i].status = CT_ERR_TEMP;
		snprintf(gets[i].err, sizeof gets[i].err, "not attempted");
	}
	for (i = 0; i < n; i++)
		if (!checkkey(gets[i].key, 0))
			return ct_seterr(err, CT_ERR_INPUT, "invalid object key \"%.80s\"",
			                 gets[i].key);
	if (t->s3)
		return ct_s3_get_many(t->s3, gets, n, err);
	/* a local file is read faster than it could be handed to a thread */
	for (i = 0; i < n; i++) {
		gets[i].status = ct_tfile_get(t, gets[i].key, gets[i].max, &gets[i].data,
		                              gets[i].err);
		if (gets[i].status != CT_OK && gets[i].status != CT_ERR_NOTFOUND &&
		    gets[i].status != CT_ERR_TOOBIG && gets[i].status != CT_ERR_INPUT)
			return ct_seterr(err, gets[i].status, "%s", gets[i].err);
	}
	return CT_OK;
}

size_t ct_target_batch(const struct ct_target *t)
{
	return t->batch;
}

/* The keys of SPEC section 5; see ct_target.h. */
int ct_target_key(int kind, const char *day, const char *id, const char *hash,
                  char *out, size_t outsz)
{
	int n, year;

	/* YYYY-MM-DD, digits where digits go, a year the archive can file */
	if (day == NULL || strlen(day) != 10 || day[4] != '-' || day[7] != '-' ||
	    strspn(day, "0123456789") != 4 || strspn(day + 5, "0123456789") != 2 ||
	    strspn(day + 8, "0123456789") != 2)
		return CT_ERR_INPUT;
	year = atoi(day);
	if (year < 1970 || year > 9999)
		return CT_ERR_INPUT;
	switch (kind) {
	case CT_KEY_DAY:
		n = snprintf(out, outsz, "sessions/year=%.4s/month=%.2s/day=%.2s/", day,
		             day + 5, day + 8);
		break;
	case CT_KEY_SESSION:
		if (id == NULL || hash == NULL || *id == '\0')
			return CT_ERR_INPUT;
		n = snprintf(out, outsz, "sessions/year=%.4s/month=%.2s/day=%.2s/%s_%s.json.gz",
		             day, day + 5, day + 8, id, hash);
		break;
	case CT_KEY_LEADS:
		n = snprintf(out, outsz, "salesforce/date=%.10s/leads.csv", day);
		break;
	default:
		return CT_ERR_INPUT;
	}
	return n < 0 || (size_t)n >= outsz ? CT_ERR_TOOBIG : CT_OK;
}

const char *ct_target_name(const struct ct_target *t)
{
	return t->name;
}

void ct_target_close(struct ct_target *t)
{
	if (t == NULL)
		return;
	if (t->s3)
		ct_s3_close(t->s3);
	ct_tfile_close(t);
	free(t->dir);
	free(t);
}
