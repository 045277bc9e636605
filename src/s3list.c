/*
 * s3list.c — ListObjectsV2 for s3:// targets, and the little XML reading
 * S3 replies need.
 *
 * S3's replies are flat and predictable, so instead of an XML library we
 * look for <Tag>...</Tag> inside a bounded range and decode the five
 * predefined entities and numeric character references.  Anything that
 * does not fit (an unterminated element, a key with a control character
 * or too long) makes the page an error, never a guess.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_s3int.h"
#include "ct_sigv4.h"

#define LIST_PAGE_MAX (8 * 1024 * 1024)
#define LIST_KEY_MAX  1024
#define LIST_TOKEN_MAX 4096
#define LIST_PAGES_MAX 100000    /* 100 million keys: a loop guard */

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

/* Find the first <tag>value</tag> in [p, end): vs and ve bound the raw
 * value; returns the position after the end tag, NULL when absent. */
static const char *elem(const char *p, const char *end, const char *tag,
                        const char **vs, const char **ve)
{
	char open[64], close[64];
	size_t ol, cl;
	const char *a, *b;

	ol = (size_t)snprintf(open, sizeof(open), "<%s>", tag);
	cl = (size_t)snprintf(close, sizeof(close), "</%s>", tag);
	if (p >= end || !(a = memmem(p, (size_t)(end - p), open, ol)))
		return NULL;
	a += ol;
	if (!(b = memmem(a, (size_t)(end - a), close, cl)))
		return NULL;
	*vs = a;
	*ve = b;
	return b + cl;
}

static int put_utf8(struct ct_buf *o, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp; n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3f)); n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f)); n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return ct_buf_add(o, u, n);
}

/* Decode XML text [s, e) into o (reset first).  CT_ERR_INPUT for an
 * unknown entity, a control character or a code point out of range. */
static int unescape(const char *s, const char *e, struct ct_buf *o)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' },
	};
	int rc = CT_OK;

	ct_buf_reset(o);
	while (s < e && rc == CT_OK) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return CT_ERR_INPUT;
		if (*s != '&') {
			rc = ct_buf_add(o, s++, 1);
			continue;
		}
		const char *semi = memchr(s, ';', (size_t)(e - s));
		size_t i, el;
		if (!semi || semi - s > 12)
			return CT_ERR_INPUT;
		el = (size_t)(semi - s) + 1;
		for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
			if (strlen(ents[i].ent) == el && memcmp(s, ents[i].ent, el) == 0)
				break;
		if (i < sizeof(ents) / sizeof(ents[0])) {
			rc = ct_buf_add(o, &ents[i].c, 1);
		} else if (s[1] == '#') {
			char num[12], *end;
			int hex = s[2] == 'x' || s[2] == 'X';
			unsigned long cp;
			size_t nl = el - 3 - (size_t)hex;
			if (nl == 0 || nl >= sizeof(num))
				return CT_ERR_INPUT;
			memcpy(num, s + 2 + hex, nl);
			num[nl] = '\0';
			cp = strtoul(num, &end, hex ? 16 : 10);
			if (*end || cp < 0x20 || cp == 0x7f || cp > 0x10ffff ||
			    (cp >= 0xd800 && cp <= 0xdfff))
				return CT_ERR_INPUT;
			rc = put_utf8(o, cp);
		} else
			return CT_ERR_INPUT;
		s = semi + 1;
	}
	if (rc == CT_OK)
		rc = ct_buf_add(o, "", 0);
	return rc;
}

static void printable(const char *s, const char *e, char *out, size_t outsz)
{
	size_t n = 0;

	for (; s < e && n + 1 < outsz; s++)
		out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[n] = '\0';
}

void s3_xml_error(const char *body, size_t len, char *code, size_t codesz,
                  char *msg, size_t msgsz)
{
	const char *vs, *ve, *end;

	code[0] = msg[0] = '\0';
	if (!body)
		return;
	end = body + (len > 65536 ? 65536 : len);
	if (elem(body, end, "Code", &vs, &ve))
		printable(vs, ve, code, codesz);
	if (elem(body, end, "Message", &vs, &ve))
		printable(vs, ve, msg, msgsz);
}

/* Parse one page: cb for every key under want (the full prefix, which is
 * stripped to base); *more and token say whether another page follows. */
static int page(const struct ct_buf *b, const char *base, int *more,
                struct ct_buf *token,
                int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
                char *err)
{
	const char *p = b->p, *end = b->p + b->len, *vs, *ve, *next;
	struct ct_buf key;
	size_t blen = strlen(base);
	int rc = CT_OK;

	ct_buf_init(&key, 6 * LIST_KEY_MAX);
	*more = 0;
	if (!memmem(p, b->len, "<ListBucketResult", 17)) {
		rc = ct_seterr(err, CT_ERR_REMOTE, "s3: the list reply is not a ListBucketResult");
		goto out;
	}
	while ((next = elem(p, end, "Contents", &vs, &ve)) != NULL) {
		const char *ks, *ke, *ss, *se;
		char num[24], *nend;
		uint64_t size = 0;

		if (!elem(vs, ve, "Key", &ks, &ke) || unescape(ks, ke, &key) != CT_OK ||
		    key.len == 0 || key.len > LIST_KEY_MAX) {
			rc = ct_seterr(err, CT_ERR_REMOTE, "s3: a key in the list reply is malformed");
			goto out;
		}
		if (elem(vs, ve, "Size", &ss, &se) && se - ss > 0 && se - ss < (long)sizeof(num)) {
			memcpy(num, ss, (size_t)(se - ss));
			num[se - ss] = '\0';
			size = strtoull(num, &nend, 10);
			if (*nend)
				size = 0;
		}
		if (strncmp(key.p, base, blen) == 0 && key.p[blen] != '\0' &&
		    (rc = cb(arg, key.p + blen, size)) != 0)
			goto out;
		p = next;
	}
	if (elem(b->p, end, "IsTruncated", &vs, &ve) && ve - vs == 4 &&
	    memcmp(vs, "true", 4) == 0) {
		if (!elem(b->p, end, "NextContinuationToken", &vs, &ve) || ve == vs ||
		    ve - vs > LIST_TOKEN_MAX || unescape(vs, ve, token) != CT_OK) {
			rc = ct_seterr(err, CT_ERR_REMOTE, "s3: truncated list without a usable "
			               "NextContinuationToken");
			goto out;
		}
		*more = 1;
	}
out:
	ct_buf_free(&key);
	return rc;
}

int ct_s3_list(struct ct_s3 *s, const char *prefix,
               int (*cb)(void *arg, const char *key, uint64_t size),
               void *arg, char *err)
{
	struct ct_buf base, q, body, token;
	char *path = NULL;
	int rc = CT_ERR_NOMEM, more = 1;
	long pages = 0;
	/* Keys per page: S3's default (1,000) unless a test asks for pages
	 * small enough to see the continuation at work. */
	long maxkeys = s3_env_long("CT_S3_LIST_MAX_KEYS", 0, 0, 1000);

	ct_buf_init(&base, 4 * LIST_KEY_MAX);
	ct_buf_init(&q, 16 * LIST_KEY_MAX);
	ct_buf_init(&body, LIST_PAGE_MAX);
	ct_buf_init(&token, LIST_TOKEN_MAX + 1);
	/* keys come back whole; the callback sees them relative to PREFIX */
	if (*s3_prefix(s) && ct_buf_printf(&base, "%s/", s3_prefix(s)) != CT_OK)
		goto nomem;
	if (ct_buf_add(&base, "", 0) != CT_OK)
		goto nomem;
	if (s3_path_style(s)) {
		size_t n = strlen(s3_bucket(s)) + 2;
		if (!(path = malloc(n)))
			goto nomem;
		snprintf(path, n, "/%s", s3_bucket(s));
	} else if (!(path = strdup("/")))
		goto nomem;
	while (more) {
		struct ct_buf full;
		if (++pages > LIST_PAGES_MAX) {
			rc = ct_seterr(err, CT_ERR_REMOTE, "s3: the listing does not end");
			goto out;
		}
		ct_buf_reset(&q);
		/* already in canonical order: continuation-token, list-type,
		 * max-keys, prefix */
		if (token.len) {
			if (ct_buf_adds(&q, "continuation-token=") != CT_OK ||
			    ct_sigv4_uri_encode(token.p, token.len, 0, &q) != CT_OK ||
			    ct_buf_add(&q, "&", 1) != CT_OK)
				goto nomem;
		}
		ct_buf_init(&full, 4 * LIST_KEY_MAX);
		if (ct_buf_adds(&q, "list-type=2&") != CT_OK ||
		    (maxkeys > 0 && ct_buf_printf(&q, "max-keys=%ld&", maxkeys) != CT_OK) ||
		    ct_buf_adds(&q, "prefix=") != CT_OK ||
		    ct_buf_printf(&full, "%s%s", base.p, prefix ? prefix : "") != CT_OK ||
		    ct_sigv4_uri_encode(full.p, full.len, 0, &q) != CT_OK) {
			ct_buf_free(&full);
			goto nomem;
		}
		ct_buf_free(&full);
		if ((rc = s3_get(s, path, q.p, LIST_PAGE_MAX, &body, err)) != CT_OK)
			goto out;
		ct_buf_reset(&token);
		if ((rc = page(&body, base.p, &more, &token, cb, arg, err)) != CT_OK)
			goto out;
	}
	rc = CT_OK;
	goto out;
nomem:
	rc = ct_seterr(err, CT_ERR_NOMEM, "s3: out of memory listing s3://%s", s3_bucket(s));
out:
	free(path);
	ct_buf_free(&base);
	ct_buf_free(&q);
	ct_buf_free(&body);
	ct_buf_free(&token);
	return rc;
}
