/*
 * sigv4.c — AWS Signature Version 4 for the S3 client.
 *
 * The four steps AWS documents, each kept visible so the tests can
 * compare them with AWS's own vectors:
 *
 *   canonical request = METHOD \n PATH \n QUERY \n HEADERS \n \n SIGNED \n HASH
 *   string to sign    = AWS4-HMAC-SHA256 \n DATE \n SCOPE \n hex(sha256(creq))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, day), region),
 *                                  service), "aws4_request")
 *   signature         = hex(HMAC(signing key, string to sign))
 *
 * The path is taken as given: S3 signs the path exactly as it is sent,
 * percent-encoded once, without the dot-segment normalisation or double
 * encoding other services use.  All hashing is OpenSSL's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ct_sigv4.h"

#define SIGV4_TEXT_MAX  (64 * 1024)  /* creq/sts cap: ours are < 2 KiB */
#define SIGV4_QUERY_MAX 64           /* query parameters */

static const char hexdig[] = "0123456789abcdef";

static void tohex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int ct_sigv4_sha256_hex(const void *data, size_t len, char out[CT_SIGV4_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return CT_ERR_CRYPTO;
	tohex(md, 32, out);
	return CT_OK;
}

void ct_sigv4_amz_date(time_t t, char out[CT_SIGV4_DATELEN])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, CT_SIGV4_DATELEN, "%Y%m%dT%H%M%SZ", &tm);
}

int ct_sigv4_uri_encode(const char *in, size_t len, int keep_slash,
                        struct ct_buf *out)
{
	static const char HEX[] = "0123456789ABCDEF";
	int rc = CT_OK;

	for (size_t i = 0; i < len && rc == CT_OK; i++) {
		unsigned char c = (unsigned char)in[i];
		if (isalnum(c) && c < 0x80)
			rc = ct_buf_add(out, &in[i], 1);
		else if (c == '-' || c == '.' || c == '_' || c == '~' ||
		         (c == '/' && keep_slash))
			rc = ct_buf_add(out, &in[i], 1);
		else {
			char e[3] = { '%', HEX[c >> 4], HEX[c & 15] };
			rc = ct_buf_add(out, e, 3);
		}
	}
	return rc;
}

/* Decode %XX escapes of in[0..len) into out (a '%' that does not start
 * a valid escape stays literal), then encode the result the AWS way. */
static int reencode(const char *in, size_t len, struct ct_buf *out)
{
	struct ct_buf raw;
	int rc = CT_OK;

	ct_buf_init(&raw, SIGV4_TEXT_MAX);
	for (size_t i = 0; i < len && rc == CT_OK; i++) {
		char c = in[i];
		if (c == '%' && i + 2 < len && isxdigit((unsigned char)in[i + 1]) &&
		    isxdigit((unsigned char)in[i + 2])) {
			char h[3] = { in[i + 1], in[i + 2], 0 };
			c = (char)strtol(h, NULL, 16);
			i += 2;
		}
		rc = ct_buf_add(&raw, &c, 1);
	}
	if (rc == CT_OK)
		rc = ct_sigv4_uri_encode(raw.p ? raw.p : "", raw.len, 0, out);
	ct_buf_free(&raw);
	return rc;
}

struct qparam {
	char *k, *v;
};

static int qcmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

/* The canonical query string: every name=value encoded, sorted by name
 * then value, joined with '&'.  A name without '=' gets an empty value. */
static int canon_query(const char *q, struct ct_buf *out, char *err)
{
	struct qparam p[SIGV4_QUERY_MAX];
	size_t n = 0;
	int rc = CT_OK;

	memset(p, 0, sizeof(p));
	while (q && *q) {
		size_t seg = strcspn(q, "&");
		if (seg > 0) {
			struct ct_buf k, v;
			const char *eq = memchr(q, '=', seg);
			size_t klen = eq ? (size_t)(eq - q) : seg;
			if (n == SIGV4_QUERY_MAX) {
				rc = ct_seterr(err, CT_ERR_INPUT, "sigv4: more than %d query parameters",
				               SIGV4_QUERY_MAX);
				goto out;
			}
			ct_buf_init(&k, SIGV4_TEXT_MAX);
			ct_buf_init(&v, SIGV4_TEXT_MAX);
			rc = reencode(q, klen, &k);
			if (rc == CT_OK && eq)
				rc = reencode(eq + 1, seg - klen - 1, &v);
			if (rc == CT_OK)
				rc = ct_buf_add(&k, "", 0);
			if (rc == CT_OK)
				rc = ct_buf_add(&v, "", 0);
			p[n].k = k.p;
			p[n].v = v.p;
			n++;
			if (rc != CT_OK || !p[n - 1].k || !p[n - 1].v) {
				rc = ct_seterr(err, rc ? rc : CT_ERR_NOMEM, "sigv4: query string: %s",
				               ct_strerror(rc ? rc : CT_ERR_NOMEM));
				goto out;
			}
		}
		q += seg;
		if (*q == '&')
			q++;
	}
	qsort(p, n, sizeof(p[0]), qcmp);
	for (size_t i = 0; i < n && rc == CT_OK; i++)
		rc = ct_buf_printf(out, "%s%s=%s", i ? "&" : "", p[i].k, p[i].v);
	if (rc != CT_OK)
		ct_seterr(err, rc, "sigv4: canonical query: %s", ct_strerror(rc));
out:
	for (size_t i = 0; i < n; i++) {
		free(p[i].k);
		free(p[i].v);
	}
	return rc;
}

/* Header names are HTTP tokens; values may hold no control character
 * but HTAB (a CR or LF would let a value forge another header). */
static int header_ok(const struct ct_sigv4_header *h)
{
	if (!h->name || !*h->name || !h->value)
		return 0;
	for (const char *s = h->name; *s; s++)
		if (!isgraph((unsigned char)*s) || *s == ':' || (unsigned char)*s >= 0x80)
			return 0;
	for (const unsigned char *s = (const unsigned char *)h->value; *s; s++)
		if ((*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

static int namecmp(const char *a, const char *b)
{
	return strcasecmp(a, b);
}

/* Append value trimmed, with every run of blanks turned into one space. */
static int add_value(struct ct_buf *b, const char *v)
{
	int rc = CT_OK, gap = 0, started = 0;

	for (; *v && rc == CT_OK; v++) {
		if (*v == ' ' || *v == '\t') {
			gap = started;
			continue;
		}
		if (gap)
			rc = ct_buf_add(b, " ", 1);
		gap = 0;
		started = 1;
		if (rc == CT_OK)
			rc = ct_buf_add(b, v, 1);
	}
	return rc;
}

static int add_lower(struct ct_buf *b, const char *s)
{
	int rc = CT_OK;

	for (; *s && rc == CT_OK; s++) {
		char c = (char)tolower((unsigned char)*s);
		rc = ct_buf_add(b, &c, 1);
	}
	return rc;
}

/* Canonical headers and the signed-headers list.  Headers are sorted by
 * lower-cased name (stable, so repeated names keep their order) and a
 * repeated name becomes one line with its values joined by ','. */
static int canon_headers(const struct ct_sigv4_req *r, struct ct_buf *creq,
                         struct ct_buf *signed_h, char *err)
{
	size_t idx[CT_SIGV4_MAX_HEADERS];
	int rc = CT_OK;

	if (r->nheaders == 0 || r->nheaders > CT_SIGV4_MAX_HEADERS)
		return ct_seterr(err, CT_ERR_INPUT, "sigv4: %zu headers (1..%d allowed)",
		                 r->nheaders, CT_SIGV4_MAX_HEADERS);
	for (size_t i = 0; i < r->nheaders; i++) {
		if (!header_ok(&r->headers[i]))
			return ct_seterr(err, CT_ERR_INPUT,
			                 "sigv4: header %zu has a bad name or a control character", i);
		/* insertion sort: n <= 32, and stable */
		size_t j = i;
		while (j > 0 && namecmp(r->headers[idx[j - 1]].name, r->headers[i].name) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	for (size_t i = 0; i < r->nheaders && rc == CT_OK; i++) {
		const struct ct_sigv4_header *h = &r->headers[idx[i]];
		int same = i > 0 && namecmp(r->headers[idx[i - 1]].name, h->name) == 0;
		if (same) {
			rc = ct_buf_add(creq, ",", 1);
		} else {
			if (i > 0)
				rc = ct_buf_add(creq, "\n", 1);
			if (rc == CT_OK && i > 0)
				rc = ct_buf_add(signed_h, ";", 1);
			if (rc == CT_OK)
				rc = add_lower(signed_h, h->name);
			if (rc == CT_OK)
				rc = add_lower(creq, h->name);
			if (rc == CT_OK)
				rc = ct_buf_add(creq, ":", 1);
		}
		if (rc == CT_OK)
			rc = add_value(creq, h->value);
	}
	if (rc == CT_OK)
		rc = ct_buf_add(creq, "\n", 1);
	if (rc != CT_OK)
		ct_seterr(err, rc, "sigv4: canonical headers: %s", ct_strerror(rc));
	return rc;
}

static int hmac(const void *key, size_t klen, const char *msg,
                unsigned char out[32])
{
	unsigned int len = 0;

	if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
	          strlen(msg), out, &len) || len != 32)
		return CT_ERR_CRYPTO;
	return CT_OK;
}

static int date_ok(const char *d)
{
	if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)d[i]))
			return 0;
	return 1;
}

/* Derive the signing key and sign sts; the secret's copies are wiped. */
static int signature(const struct ct_sigv4_req *r, const char *day,
                     const char *sts, char out[CT_SIGV4_HEX])
{
	unsigned char k[32], sig[32];
	char *first = NULL;
	size_t flen = strlen(r->secret_key) + 5;
	int rc = CT_ERR_CRYPTO;

	first = malloc(flen);
	if (!first)
		return CT_ERR_NOMEM;
	snprintf(first, flen, "AWS4%s", r->secret_key);
	if (hmac(first, flen - 1, day, k) != CT_OK ||
	    hmac(k, 32, r->region, k) != CT_OK ||
	    hmac(k, 32, r->service, k) != CT_OK ||
	    hmac(k, 32, "aws4_request", k) != CT_OK ||
	    hmac(k, 32, sts, sig) != CT_OK)
		goto out;
	tohex(sig, 32, out);
	rc = CT_OK;
out:
	OPENSSL_cleanse(first, flen);
	OPENSSL_cleanse(k, sizeof(k));
	free(first);
	return rc;
}

int ct_sigv4_sign(const struct ct_sigv4_req *r, struct ct_sigv4_out *out,
                  char *err)
{
	struct ct_buf signed_h;
	char day[9], hash[CT_SIGV4_HEX];
	int rc, n;

	ct_buf_init(&out->creq, SIGV4_TEXT_MAX);
	ct_buf_init(&out->sts, SIGV4_TEXT_MAX);
	ct_buf_init(&signed_h, SIGV4_TEXT_MAX);
	out->signature[0] = out->authorization[0] = '\0';
	if (!r->method || !r->path || r->path[0] != '/' || !r->payload_hash ||
	    !r->region || !r->service || !r->access_key || !r->secret_key ||
	    !*r->access_key || !*r->secret_key) {
		rc = ct_seterr(err, CT_ERR_INPUT, "sigv4: incomplete request or credentials");
		goto out;
	}
	if (!date_ok(r->amz_date)) {
		rc = ct_seterr(err, CT_ERR_INPUT, "sigv4: bad x-amz-date");
		goto out;
	}
	memcpy(day, r->amz_date, 8);
	day[8] = '\0';

	rc = ct_buf_printf(&out->creq, "%s\n%s\n", r->method, r->path);
	if (rc == CT_OK)
		rc = canon_query(r->query, &out->creq, err);
	else
		ct_seterr(err, rc, "sigv4: %s", ct_strerror(rc));
	if (rc != CT_OK)
		goto out;
	if ((rc = ct_buf_add(&out->creq, "\n", 1)) != CT_OK) {
		ct_seterr(err, rc, "sigv4: %s", ct_strerror(rc));
		goto out;
	}
	if ((rc = canon_headers(r, &out->creq, &signed_h, err)) != CT_OK)
		goto out;
	rc = ct_buf_printf(&out->creq, "\n%s\n%s", signed_h.p, r->payload_hash);
	if (rc == CT_OK)
		rc = ct_sigv4_sha256_hex(out->creq.p, out->creq.len, hash);
	if (rc == CT_OK)
		rc = ct_buf_printf(&out->sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
		                   r->amz_date, day, r->region, r->service, hash);
	if (rc == CT_OK)
		rc = signature(r, day, out->sts.p, out->signature);
	if (rc != CT_OK) {
		ct_seterr(err, rc, "sigv4: signing failed: %s", ct_strerror(rc));
		goto out;
	}
	n = snprintf(out->authorization, sizeof(out->authorization),
	             "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
	             "SignedHeaders=%s, Signature=%s", r->access_key, day, r->region,
	             r->service, signed_h.p, out->signature);
	if (n < 0 || (size_t)n >= sizeof(out->authorization))
		rc = ct_seterr(err, CT_ERR_TOOBIG, "sigv4: Authorization header too long");
out:
	ct_buf_free(&signed_h);
	return rc;
}

void ct_sigv4_out_free(struct ct_sigv4_out *out)
{
	ct_buf_free(&out->creq);
	ct_buf_free(&out->sts);
}
