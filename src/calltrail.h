/*
 * calltrail.h — the public interface of libcalltrail.
 *
 * Every program of calltrail is a thin main() over this library, so the
 * tests link the very code that runs in production.  Conventions:
 *
 *   - Functions return CT_OK (0) or a CT_ERR_* code.  Where the caller
 *     needs detail they fill a caller-supplied `char err[CT_ERRLEN]` with
 *     one line a person can act on.  The library never exits and never
 *     prints; programs decide what to say and how to exit.
 *   - Every buffer has a cap; exceeding it is CT_ERR_TOOBIG, never a
 *     silent truncation.
 *   - Nothing here ever writes a secret, a token or a whole email address
 *     into an error message: emails go through ct_email_mask().
 *
 * This header holds what every program needs: errors, capped buffers,
 * the configuration and the log (with the email mask every log line
 * uses).  Each module keeps its declarations in its own header, which
 * includes this one: ct_email.h, ct_ids.h, ct_time.h, ct_json.h, ct_fs.h,
 * ct_gz.h, ct_token.h, ct_record.h, ct_spool.h, ct_target.h, ct_s3.h,
 * ct_awscred.h, ct_csv.h (docs/architecture.md says who owns what).
 */
#ifndef CALLTRAIL_H
#define CALLTRAIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* ---- errors -------------------------------------------------------- */

enum {
	CT_OK = 0,
	CT_ERR_NOMEM,    /* allocation failed */
	CT_ERR_INPUT,    /* the input breaks a rule (bad email, bad record) */
	CT_ERR_IO,       /* a file system call failed */
	CT_ERR_CONFIG,   /* configuration missing or invalid */
	CT_ERR_CRYPTO,   /* CSPRNG, hashing or signing failed */
	CT_ERR_TOOBIG,   /* a size cap was reached */
	CT_ERR_BUSY,     /* someone else holds the lock: skip, not fail */
	CT_ERR_TEMP,     /* a remote failure worth retrying later */
	CT_ERR_REMOTE,   /* a remote refusal that retrying will not fix */
	CT_ERR_NOTFOUND, /* the thing asked for does not exist */
	CT_ERR_PERM,     /* the caller may not do this (not the spool's owner) */
};

#define CT_ERRLEN 512

/* A short English name for a CT_ERR_* code; never NULL. */
const char *ct_strerror(int code);

/* Fill err (CT_ERRLEN bytes) with a formatted message; returns code. */
int ct_seterr(char *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- growable buffer with a cap (buf.c) ---------------------------- */

struct ct_buf {
	char *p;      /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;   /* 0: no cap beyond SIZE_MAX/2 */
};

void ct_buf_init(struct ct_buf *b, size_t max);
/* Append n bytes; CT_ERR_TOOBIG when len would exceed max. */
int ct_buf_add(struct ct_buf *b, const void *data, size_t n);
int ct_buf_adds(struct ct_buf *b, const char *s);
int ct_buf_printf(struct ct_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append v in decimal. */
int ct_buf_addu(struct ct_buf *b, unsigned long long v);
void ct_buf_reset(struct ct_buf *b);
void ct_buf_free(struct ct_buf *b);

/* ---- configuration (conf.c; its keys: conf-keys.c) ----------------- */

#define CT_TOKEN_TTL_MIN     120
#define CT_TOKEN_TTL_MAX     86400
#define CT_TOKEN_TTL_DEFAULT 900
#define CT_SECRET_MIN        32
#define CT_SECRET_MAX        4096
#define CT_CONF_LINE_MAX     4096   /* longer: a configuration error */
#define CT_AGENTS_MAX        64

struct ct_conf {
	char *livekit_url;
	char *livekit_api_key;
	char *livekit_api_secret;   /* inline or env; the _file's only after
	                             * ct_conf_require_livekit */
	char *livekit_api_secret_file;  /* read by ct_conf_require_livekit alone */
	int secret_inline;          /* livekit_api_secret is the file's text */
	int path_mode;              /* the file's permission bits, -1: none */
	long token_ttl;
	char *room_prefix;
	char *identity_prefix;
	char *display_name;
	char *agents[CT_AGENTS_MAX];
	size_t nagents;
	char *default_agent;        /* "" : dispatch none */
	char *cors_origin;          /* "" : no CORS headers */
	char *spool_dir;
	char *target;               /* file:///DIR or s3://BUCKET/PREFIX */
	char *s3_endpoint;          /* "" : AWS, virtual-hosted */
	char *s3_region;
	int s3_concurrency;
	int s3_retries;
	char *csv_dir;
	int csv_upload;
	int keep_days;
	/* AWS credentials are not here: the S3 client asks the chain of
	 * ct_awscred.h, which reads AWS's own variables and files. */
	/* Encrypted buckets (SPEC section 5). */
	char *s3_sse;               /* "", "AES256" or "aws:kms" */
	char *s3_sse_kms_key_id;    /* with aws:kms: the key; "": AWS-managed */
	/* calltrail-export salesforce (SPEC section 9).  The key files are
	 * paths only: the salesforce command alone opens them. */
	char *salesforce_login_url;
	char *salesforce_client_id;
	char *salesforce_username;
	char *salesforce_private_key_file;   /* "": no JWT bearer flow */
	char *salesforce_client_secret_file; /* "": no client-credentials flow */
	char *salesforce_object;    /* "Lead" or "Contact" */
	char *salesforce_api_version; /* "62.0" */
	char *path;                 /* the file that was read, or NULL */
};

/* The file read when neither -c nor CALLTRAIL_CONF names one. */
const char *ct_conf_default_path(void);

/*
 * Load the configuration: defaults, then the file (path; NULL means
 * $CALLTRAIL_CONF, else the default path, which may be absent), then the
 * environment (LIVEKIT_*, AWS_*, and CALLTRAIL_<KEY> for every key).
 * Any unknown key, bad value or unreadable file is CT_ERR_CONFIG with
 * one line in err naming the key (and file:line).  On error the struct
 * is freed; on success the caller owns it (ct_conf_free).
 */
int ct_conf_load(struct ct_conf *c, const char *path, char *err);

/*
 * The token service's step, and no other program's: load the LiveKit
 * secret (livekit_api_secret_file, a symlink followed; with neither that
 * nor an inline or environment secret, $CREDENTIALS_DIRECTORY/
 * livekit-api-secret, systemd's LoadCredential=) and check the three
 * LiveKit keys.  CT_ERR_CONFIG with one line in err naming the key (and
 * where to put the secret when there is none).  warn (CT_ERRLEN) is
 * filled with one line when the secret sits in a file that group or
 * others can read, else "": the caller logs it.  Never names the secret.
 */
int ct_conf_require_livekit(struct ct_conf *c, char *err, char *warn);

/* s without its leading blanks and trailing blanks and line ends (cut in
 * place); what both config readers do to a line, a key and a value. */
char *ct_conf_trim(char *s);

/* Is name one of the configured agents? */
int ct_conf_agent_allowed(const struct ct_conf *c, const char *name);

void ct_conf_free(struct ct_conf *c);

/* ---- logging (log.c) ----------------------------------------------- */

/* Programs call ct_log_init once; each ct_log line is written with one
 * write(2) so lines from several workers never interleave. */
void ct_log_init(const char *progname);
void ct_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ct_vlog(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/*
 * An event loop that logs a line per request holds its lines and writes
 * them together, once per round: after ct_log_hold() this thread's lines
 * are kept (whole lines, at most CT_LOG_HELD bytes, PIPE_BUF, so one
 * write(2) of them is still atomic on a pipe) and written by
 * ct_log_flush(), or earlier when the next line would not fit.  A thread
 * that holds calls ct_log_flush() before it blocks and before it ends.
 */
#define CT_LOG_HELD 4096
void ct_log_hold(void);
void ct_log_flush(void);

/* Write "j***@acme.com" for "jane@acme.com" into out (always
 * NUL-terminated); "-" for an empty email, "***" when there is no '@'. */
void ct_email_mask(const char *email, char *out, size_t outsz);
#define CT_MASKLEN 272

#endif /* CALLTRAIL_H */
