/*
 * ct_sigv4.h — AWS Signature Version 4 (src/sigv4.c), the header form
 * (Authorization: AWS4-HMAC-SHA256 ...).  Used by the S3 client; kept
 * apart so t/sigv4-t can check every step against AWS's published
 * vectors.  All hashing and HMAC is OpenSSL's.
 */
#ifndef CT_SIGV4_H
#define CT_SIGV4_H

#include "calltrail.h"

#define CT_SIGV4_HEX     65     /* 64 hex chars + NUL */
#define CT_SIGV4_DATELEN 17     /* "20150830T123600Z" + NUL */
#define CT_SIGV4_MAX_HEADERS 32
#define CT_SIGV4_AUTHLEN 1024

struct ct_sigv4_header {
	const char *name;           /* any case; signed lower-cased */
	const char *value;          /* trimmed, inner blank runs -> one space */
};

struct ct_sigv4_req {
	const char *method;         /* "PUT" */
	const char *path;           /* the canonical URI, already encoded
	                             * (ct_sigv4_uri_encode): S3 signs the
	                             * path exactly as sent, encoded once */
	const char *query;          /* raw query without '?', or NULL; it is
	                             * decoded, re-encoded and sorted */
	const struct ct_sigv4_header *headers;  /* every header to sign */
	size_t nheaders;
	const char *payload_hash;   /* hex SHA-256 of the body */
	const char *amz_date;       /* "YYYYMMDDTHHMMSSZ" */
	const char *region;
	const char *service;        /* "s3" */
	const char *access_key;
	const char *secret_key;
};

struct ct_sigv4_out {
	struct ct_buf creq;         /* the canonical request */
	struct ct_buf sts;          /* the string to sign */
	char signature[CT_SIGV4_HEX];
	char authorization[CT_SIGV4_AUTHLEN];
};

/*
 * Sign r: fills out (its buffers are initialised here; free them with
 * ct_sigv4_out_free even on error).  CT_ERR_INPUT for a header name or
 * value with control characters, too many headers or a bad date;
 * CT_ERR_CRYPTO when OpenSSL fails.  The secret never reaches err.
 */
int ct_sigv4_sign(const struct ct_sigv4_req *r, struct ct_sigv4_out *out,
                  char *err);
void ct_sigv4_out_free(struct ct_sigv4_out *out);

/*
 * Percent-encode in[0..len) as AWS does: every byte except A-Za-z0-9
 * - . _ ~ becomes %XX (upper-case hex); '/' is kept when keep_slash
 * (object key paths), encoded otherwise (query names and values).
 * Appends to out.
 */
int ct_sigv4_uri_encode(const char *in, size_t len, int keep_slash,
                        struct ct_buf *out);

/* Lower-case hex SHA-256 of data. */
int ct_sigv4_sha256_hex(const void *data, size_t len, char out[CT_SIGV4_HEX]);

/* "YYYYMMDDTHHMMSSZ" for t (UTC). */
void ct_sigv4_amz_date(time_t t, char out[CT_SIGV4_DATELEN]);

#endif
