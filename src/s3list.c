/*
 * s3list.c — ListObjectsV2 for s3:// targets (ct_s3_list), page by page:
 * each page (at most 1,000 keys) is fetched by s3-run.c, read by xml.c,
 * handed to the callback key by key and dropped before the next is
 * asked for, so a listing of any length costs one page of memory.
 *
 * What the page says is checked, never guessed: a key that is empty,
 * too long or holds a control byte, a size that is not a number, a
 * truncated page without a continuation token, or a reply that is not a
 * ListBucketResult makes the listing an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_s3int.h"
#include "ct_xml.h"

#define LIST_PAGE_MAX  (8 * 1024 * 1024)
#define LIST_KEY_MAX   1024
#define LIST_PAGES_MAX 100000    /* 100 million keys: a loop guard */

enum { P_NAME, P_CONTENTS, P_KEY, P_SIZE, P_TRUNC, P_NEXT };
static const char *const paths[] = {
	[P_NAME] = "ListBucketResult/Name",
	[P_CONTENTS] = "ListBucketResult/Contents",
	[P_KEY] = "ListBucketResult/Contents/Key",
	[P_SIZE] = "ListBucketResult/Contents/Size",
	[P_TRUNC] = "ListBucketResult/IsTruncated",
	[P_NEXT] = "ListBucketResult/NextContinuationToken",
};

/* One page being read. */
struct page {
	const char *base;           /* "PREFIX/": stripped from every key */
	size_t blen;
	int (*cb)(void *arg, const char *key, uint64_t size);
	void *arg;
	char key[LIST_KEY_MAX + 1];
	size_t klen;
	uint64_t size;
	int haskey, hassize, isresult, more;
	char token[S3_TOKEN_MAX + 1];
	size_t tlen;
	int bad;                    /* CT_ERR_REMOTE: what was wrong is in why */
	int cbrc;                   /* what the caller's callback returned */
	const char *why;
};

static int malformed(struct page *pg, const char *why)
{
	pg->why = why;
	return pg->bad = CT_ERR_REMOTE;
}

static int on_field(void *arg, size_t which, const char *text, size_t len)
{
	struct page *pg = arg;
	uint64_t sz;
	char *end;

	switch (which) {
	case P_NAME:
		pg->isresult = 1;
		return 0;
	case P_KEY:
		if (len == 0 || len > LIST_KEY_MAX || pg->haskey)
			return malformed(pg, "a key in the list reply is empty, too long or twice");
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
				return malformed(pg, "a key in the list reply holds a control byte");
		memcpy(pg->key, text, len + 1);
		pg->klen = len;
		pg->haskey = 1;
		return 0;
	case P_SIZE:
		if (len == 0 || len > 20 || strspn(text, "0123456789") != len)
			return malformed(pg, "a size in the list reply is not a number");
		pg->size = strtoull(text, &end, 10);
		pg->hassize = 1;
		return 0;
	case P_CONTENTS:
		if (!pg->haskey)
			return malformed(pg, "an entry of the list reply has no key");
		sz = pg->hassize ? pg->size : 0;
		pg->haskey = pg->hassize = 0;
		/* keys come back whole; the callback sees them relative to
		 * PREFIX, and only those strictly under it */
		if (strncmp(pg->key, pg->base, pg->blen) == 0 && pg->key[pg->blen] != '\0')
			return pg->cbrc = pg->cb(pg->arg, pg->key + pg->blen, sz);
		return 0;
	case P_TRUNC:
		pg->isresult = 1;
		pg->more = len == 4 && memcmp(text, "true", 4) == 0;
		return 0;
	case P_NEXT:
		if (len == 0 || len > S3_TOKEN_MAX)
			return malformed(pg, "the continuation token is empty or too long");
		memcpy(pg->token, text, len + 1);
		pg->tlen = len;
		return 0;
	}
	return 0;
}

int s3_list_page(const char *body, size_t len, const char *base,
                 int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
                 int *more, char token[S3_TOKEN_MAX + 1], char *err)
{
	struct page *pg = calloc(1, sizeof(*pg));
	int rc;

	*more = 0;
	if (!pg)
		return ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory");
	pg->base = base;
	pg->blen = strlen(base);
	pg->cb = cb;
	pg->arg = arg;
	rc = ct_xml_parse(body, len, paths, sizeof(paths) / sizeof(paths[0]), on_field, pg, err);
	if (pg->cbrc)
		rc = pg->cbrc;        /* the caller stopped the listing */
	else if (pg->bad)
		rc = ct_seterr(err, pg->bad, "%s", pg->why);
	else if (rc == CT_ERR_INPUT)
		rc = CT_ERR_REMOTE;   /* the server's XML, not our input */
	else if (rc == CT_OK && !pg->isresult)
		rc = ct_seterr(err, CT_ERR_REMOTE, "the list reply is not a ListBucketResult");
	else if (rc == CT_OK && pg->more && !pg->tlen)
		rc = ct_seterr(err, CT_ERR_REMOTE, "a truncated list without a "
		               "NextContinuationToken");
	if (rc == CT_OK && pg->more) {
		*more = 1;
		memcpy(token, pg->token, pg->tlen + 1);
	}
	free(pg);
	return rc;
}

int ct_s3_list(struct ct_s3 *s, const char *prefix,
               int (*cb)(void *arg, const char *key, uint64_t size),
               void *arg, char *err)
{
	struct ct_buf base, q, body;
	char *path = NULL, *token = NULL;
	int rc = CT_ERR_NOMEM, more = 1;
	long pages = 0;
	/* Keys per page: S3's default (1,000) unless a test asks for pages
	 * small enough to see the continuation at work. */
	long maxkeys = s3_env_long("CT_S3_LIST_MAX_KEYS", 0, 0, 1000);

	ct_buf_init(&base, 4 * LIST_KEY_MAX);
	ct_buf_init(&q, 16 * LIST_KEY_MAX);
	ct_buf_init(&body, LIST_PAGE_MAX);
	if (!(token = calloc(1, S3_TOKEN_MAX + 1)))
		goto nomem;
	if (*s->prefix && ct_buf_printf(&base, "%s/", s->prefix) != CT_OK)
		goto nomem;
	if (ct_buf_add(&base, "", 0) != CT_OK)
		goto nomem;
	if (s->path_style) {
		size_t n = strlen(s->bucket) + 2;
		if (!(path = malloc(n)))
			goto nomem;
		snprintf(path, n, "/%s", s->bucket);
	} else if (!(path = strdup("/")))
		goto nomem;
	while (more) {
		char why[CT_ERRLEN];

		if (++pages > LIST_PAGES_MAX) {
			rc = ct_seterr(err, CT_ERR_REMOTE, "s3: the listing does not end");
			goto out;
		}
		ct_buf_reset(&q);
		/* already in canonical order: continuation-token, list-type,
		 * max-keys, prefix */
		if (*token && (ct_buf_adds(&q, "continuation-token=") != CT_OK ||
		    ct_sigv4_uri_encode(token, strlen(token), 0, &q) != CT_OK ||
		    ct_buf_add(&q, "&", 1) != CT_OK))
			goto nomem;
		if (ct_buf_adds(&q, "list-type=2&") != CT_OK ||
		    (maxkeys > 0 && ct_buf_printf(&q, "max-keys=%ld&", maxkeys) != CT_OK) ||
		    ct_buf_adds(&q, "prefix=") != CT_OK ||
		    ct_sigv4_uri_encode(base.p, base.len, 0, &q) != CT_OK ||
		    ct_sigv4_uri_encode(prefix ? prefix : "", prefix ? strlen(prefix) : 0, 0,
		                        &q) != CT_OK)
			goto nomem;
		if ((rc = s3_get(s, path, q.p, LIST_PAGE_MAX, &body, err)) != CT_OK)
			goto out;
		why[0] = '\0';
		rc = s3_list_page(body.p, body.len, base.p, cb, arg, &more, token, why);
		if (rc != CT_OK) {
			if (why[0])
				ct_seterr(err, rc, "s3://%s: %s", s->bucket, why);
			goto out;
		}
	}
	rc = CT_OK;
	goto out;
nomem:
	rc = ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory listing s3://%s", s->bucket);
out:
	free(token);
	free(path);
	ct_buf_free(&base);
	ct_buf_free(&q);
	ct_buf_free(&body);
	return rc;
}
