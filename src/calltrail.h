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
 * The core shared by every program is declared here; each larger module
 * keeps its declarations in its own header, which includes this one:
 * ct_token.h, ct_record.h, ct_spool.h, ct_target.h (gzip, S3, archive),
 * ct_csv.h.
 */
#ifndef CALLTRAIL_H
#define CALLTRAIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct json_object;

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

/* ---- configuration (conf.c) ---------------------------------------- */

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
	/* AWS credentials: environment first, then ~/.aws/credentials. */
	char *aws_access_key_id;
	char *aws_secret_access_key;
	char *aws_session_token;
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

/* Fill the AWS credentials from ~/.aws/credentials ($AWS_PROFILE or
 * "default") unless the environment already gave them. */
int ct_conf_aws_credentials(struct ct_conf *c, char *err);

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

/* ---- email rules (email.c) ----------------------------------------- */

#define CT_EMAIL_MAX       254
#define CT_EMAIL_LOCAL_MAX 64

/*
 * The one email rule of calltrail.  Trims ASCII whitespace from in[0..len),
 * then checks: at most 254 bytes, local part at most 64, the WHATWG
 * input type=email grammar, at least one dot in the domain, no control
 * characters, first character not one of = + - @.  The trimmed address
 * goes to out (CT_EMAIL_MAX + 1 bytes).  An empty (or all-blank) input
 * is CT_OK with out = "".  CT_ERR_INPUT otherwise, with *why (static
 * text, never the address) saying which rule broke.
 */
int ct_email_check(const char *in, size_t len, char *out, const char **why);

/* ---- random ids (ids.c) -------------------------------------------- */

/* n random bytes from the CSPRNG as 2n lower-case hex chars + NUL. */
int ct_id_hex(char *out, size_t nbytes);
/* n random lower-case base32 (RFC 4648 alphabet) chars + NUL. */
int ct_id_base32(char *out, size_t nchars);

/* ---- time (timefmt.c) ---------------------------------------------- */

#define CT_TIMELEN 32

/* Microseconds since the epoch, now (CLOCK_REALTIME). */
int64_t ct_time_now_us(void);

/*
 * Parse RFC 3339 / ISO 8601 date-time: YYYY-MM-DD, 'T' (or 't' or ' '),
 * HH:MM:SS, optional fraction (1..9 digits, kept to the microsecond),
 * optional 'Z' or ±HH:MM (no offset means UTC).  The whole string must be
 * consumed.  CT_ERR_INPUT on anything else.
 */
int ct_time_parse(const char *s, int64_t *us);

/* "YYYY-MM-DDTHH:MM:SS.sssZ" (UTC, milliseconds). */
void ct_time_format_ms(int64_t us, char out[CT_TIMELEN]);
/* "YYYY-MM-DD" of the UTC day. */
void ct_time_day(int64_t us, char out[11]);

/* ---- JSON helpers (json.c) ----------------------------------------- */

#define CT_JSON_DEPTH 32

/*
 * Parse exactly one JSON value from buf[0..len): strict RFC 8259, valid
 * UTF-8, no NUL bytes, nesting at most maxdepth, nothing but whitespace
 * after it.  *out is a new reference.  CT_ERR_INPUT with err otherwise.
 * The first call in a thread makes glibc's C locale object the thread's
 * locale (json.c says why; calltrail never calls setlocale).
 */
int ct_json_parse(const char *buf, size_t len, int maxdepth,
                  struct json_object **out, char *err);

/* The string member key of obj, or NULL when absent or not a string. */
const char *ct_json_str(struct json_object *obj, const char *key);

/*
 * Add v (a new reference, consumed; NULL is out of memory) to obj under
 * key, and keep a borrowed pointer to it in *keep when keep is not NULL.
 * 0, or -1 out of memory.
 */
int ct_json_add(struct json_object *obj, const char *key, struct json_object *v,
                struct json_object **keep);

/*
 * Set the string member key of obj, whose value *v is, to s: in place
 * (json_object_set_string) when s is not empty; "" is a new string in the
 * member's place, and *v is updated.  json-c 0.16 leaks a string's heap
 * buffer when it is set to "" in place.  0, or -1 out of memory.
 */
int ct_json_set_str(struct json_object *obj, const char *key,
                    struct json_object **v, const char *s);

/* ---- files (fsutil.c) ---------------------------------------------- */

/* write(2) all of buf, retrying short writes and EINTR. */
int ct_write_full(int fd, const void *buf, size_t len);
/* fsync a directory so a rename or create in it is durable. */
int ct_fsync_dir(const char *dir, char *err);
/* mkdir -p with mode for every directory created. */
int ct_mkdirs(const char *path, mode_t mode, char *err);
/* Read a whole file of at most max bytes into b (b is reset first); the
 * last component is never followed if it is a symlink. */
int ct_file_read(const char *path, size_t max, struct ct_buf *b, char *err);
/* The same for dirfd/name; label names it in messages. */
int ct_file_read_at(int dirfd, const char *name, const char *label, size_t max,
                    struct ct_buf *b, char *err);

/*
 * The durable-write primitive (fsutil.c): ct_dw_open creates a new file in
 * dirfd (O_EXCL, O_NOFOLLOW, exactly mode) named name, or, name NULL, a
 * fresh temporary ".tmp-<16 hex>" (ct_tmp_name says which names those
 * are: a sweep may delete those and nothing else); ct_dw_write;
 * ct_dw_sync fsyncs and closes it; ct_dw_commit renames it to todir/to
 * (CT_DW_NOREPLACE: never over an existing file) and fsyncs todir — or,
 * when the caller may not open todir for reading, syncfs(2)s the file
 * system — unless CT_DW_NOSYNCDIR (a caller that fsyncs each directory
 * once for a batch).  ct_dw_abort closes and removes the file unless it
 * was renamed: call it after any failure.  dirpath and todirpath only
 * name the directories in messages.
 */
#define CT_TMP_PREFIX ".tmp-"
#define CT_DW_NOREPLACE 1
#define CT_DW_NOSYNCDIR 2
struct ct_dw {
	int fd;                 /* the open file, -1 once closed */
	int dirfd;              /* its directory (borrowed) */
	char name[256];         /* its name there; "" once renamed or removed */
	char dir[4096];         /* dirpath, for messages */
};
int ct_tmp_name(const char *name);
int ct_dw_open(struct ct_dw *w, int dirfd, const char *dirpath, const char *name,
               mode_t mode, char *err);
int ct_dw_write(struct ct_dw *w, const void *data, size_t len, char *err);
int ct_dw_sync(struct ct_dw *w, char *err);
int ct_dw_commit(struct ct_dw *w, int todir, const char *todirpath, const char *to,
                 int flags, char *err);
void ct_dw_abort(struct ct_dw *w);
/* The whole primitive for one file: dirfd/name durably replaced by data
 * (a temporary beside it, write, fsync, rename, fsync dirfd). */
int ct_file_put_at(int dirfd, const char *dirpath, const char *name,
                   const void *data, size_t len, mode_t mode, char *err);
/* ct_file_put_at for a path (its directory is opened, following the path
 * as given: for paths the administrator configured). */
int ct_file_put(const char *path, const void *data, size_t len, mode_t mode,
                char *err);

/* ---- gzip (gz.c) -------------------------------------------------- */

/* Deterministic gzip (no name, mtime 0, OS 255, level 6) of data into out
 * (reset first): the same bytes always give the same object. */
int ct_gz_compress(const void *data, size_t len, struct ct_buf *out, char *err);
/* Gunzip one member into out (reset first), at most max bytes. */
int ct_gz_decompress(const void *data, size_t len, size_t max,
                     struct ct_buf *out, char *err);

#endif /* CALLTRAIL_H */
