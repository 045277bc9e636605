/*
 * ct_awscredint.h — what the credential chain's files share (awscred.c,
 * awscred-ini.c, awscred-proc.c, awscred-http.c, awscred-sts.c).  Not
 * part of the library's interface: the S3 client uses ct_awscred.h.
 */
#ifndef CT_AWSCREDINT_H
#define CT_AWSCREDINT_H

#include "ct_awscred.h"

#define CT_AWS_REPLY_MAX   (64 * 1024)  /* any credential source's reply */
#define CT_AWS_WEBID_MAX   (32 * 1024)  /* a web identity token (STS: 20,000) */
#define CT_AWS_PROC_TIMEOUT_S 60        /* credential_process */

/* What the profile in the shared files says (awscred-ini.c). */
struct ct_awsprofile {
	int found;                  /* the profile exists in either file */
	char *access_key, *secret_key, *token;
	char *credential_process;
	char *region;
	char where[256];            /* "profile \"NAME\" in FILE", for errors */
};

/* Read the profile (AWS_PROFILE, else "default") from the shared files:
 * AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) then AWS_CONFIG_FILE
 * (~/.aws/config, "[profile NAME]"); the credentials file wins a key both
 * name.  Absent files are no error.  CT_ERR_NOMEM, CT_ERR_CONFIG (a line
 * too long, a file unreadable). */
int ct_awsprofile_read(struct ct_awsprofile *p, char *err);
void ct_awsprofile_free(struct ct_awsprofile *p);

/* Copy v into a fixed field of out; CT_ERR_REMOTE naming src and what
 * when it does not fit or is empty (the value itself is never quoted). */
int ct_awscred_put(char *dst, size_t dsz, const char *v, const char *src,
                   const char *what, char *err);

/* Fill out from the JSON the process, container and IMDS sources answer:
 * AccessKeyId, SecretAccessKey, Token or SessionToken, Expiration
 * (RFC 3339; absent: does not expire).  version1: "Version" must be 1
 * (credential_process).  CT_ERR_REMOTE naming src on anything else. */
int ct_awscred_json(const char *buf, size_t len, const char *src, int version1,
                    struct ct_awscred *out, char *err);

/* Run a credential_process command line without a shell (awscred-proc.c). */
int ct_awscred_process(const char *cmdline, struct ct_awscred *out, char *err);

/* Split a command line the way botocore does (POSIX shell words: blanks,
 * '…', "…" and \ escapes; no expansion) into argv (NULL-terminated,
 * at most max-1 words, pointing into buf, which is cut in place).
 * CT_ERR_INPUT on an unbalanced quote, an empty line or too many words. */
int ct_awscred_split(char *buf, char **argv, size_t max);

/* One bounded HTTP request for a credential source (awscred-http.c).
 * headers: NULL-terminated "Name: value" lines; body NULL: no body.
 * *status is the HTTP status; CT_ERR_TEMP when the peer was unreachable
 * or timed out, CT_ERR_REMOTE when the reply exceeds max. */
int ct_awscred_http(const char *method, const char *url,
                    const char *const *headers, const char *body,
                    long timeout_ms, size_t max, struct ct_buf *reply,
                    long *status, char *err);

/* The sources behind the profile.  Each fills out (source set) or returns
 * an error naming itself. */
int ct_awscred_imds(struct ct_awscred *out, char *err);
int ct_awscred_container(struct ct_awscred *out, char *err);
int ct_awscred_webid(const struct ct_conf *c, struct ct_awscred *out, char *err);

/* Parse an STS AssumeRoleWithWebIdentity reply (or its ErrorResponse:
 * CT_ERR_REMOTE naming the code, or CT_ERR_TEMP for the retryable ones).
 * Exported for fuzz/fuzz-sts.c. */
int ct_awscred_sts_parse(const char *buf, size_t len, struct ct_awscred *out,
                         char *err);

/* A file of at most max bytes, symlinks followed (a Kubernetes projected
 * volume is a chain of them), trailing blanks and line ends cut. */
int ct_awscred_readfile(const char *path, size_t max, struct ct_buf *b,
                        const char *src, char *err);

#endif
