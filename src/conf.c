/*
 * conf.c — calltrail.conf: `key = value` lines, `#` comments (a `#` at the
 * start of a line, or after whitespace), blank lines ignored.  Then the
 * environment overrides the file: LiveKit's and AWS's own variable names,
 * and CALLTRAIL_<KEY> (upper case) for every key.  Every value is checked
 * here, once, at start: a program never runs half-configured.
 *
 * The file is read byte by byte with hard rules, because what an editor
 * hides must not change a value: a UTF-8 byte-order mark, a NUL byte or a
 * line over CT_CONF_LINE_MAX bytes is an error naming file:line.
 *
 * The LiveKit secret is the token service's alone (SPEC section 2):
 * ct_conf_load only notes livekit_api_secret_file, and
 * ct_conf_require_livekit, which only calltrail-token calls, opens it, so
 * calltrail-spool and calltrail-export work where they cannot read it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "calltrail.h"

#ifndef CT_SYSCONFDIR
#define CT_SYSCONFDIR "/etc"
#endif
#ifndef CT_LOCALSTATEDIR
#define CT_LOCALSTATEDIR "/var"
#endif

enum kind { K_STR, K_URL, K_NAME, K_TEXT, K_SECRET, K_SECRETFILE, K_LIST,
            K_AGENT, K_ORIGIN, K_PATH, K_TARGET, K_ENDPOINT, K_REGION,
            K_INT, K_BOOL };

struct key {
	const char *name;
	enum kind kind;
	const char *env;      /* a foreign variable name honoured, or NULL */
	size_t off;           /* offsetof the field in struct ct_conf */
	long lo, hi;          /* K_INT bounds; K_STR/K_NAME/K_TEXT max length */
};

#define F(f) offsetof(struct ct_conf, f)
static const struct key keys[] = {
	{ "livekit_url",             K_URL,        "LIVEKIT_URL",        F(livekit_url),        0, 1024 },
	{ "livekit_api_key",         K_NAME,       "LIVEKIT_API_KEY",    F(livekit_api_key),    1, 256 },
	{ "livekit_api_secret",      K_SECRET,     "LIVEKIT_API_SECRET", F(livekit_api_secret), 0, CT_SECRET_MAX },
	{ "livekit_api_secret_file", K_SECRETFILE, NULL,                 F(livekit_api_secret_file), 0, 4096 },
	{ "token_ttl",               K_INT,        NULL,                 F(token_ttl),          CT_TOKEN_TTL_MIN, CT_TOKEN_TTL_MAX },
	{ "room_prefix",             K_NAME,       NULL,                 F(room_prefix),        1, 32 },
	{ "identity_prefix",         K_NAME,       NULL,                 F(identity_prefix),    1, 32 },
	{ "display_name",            K_TEXT,       NULL,                 F(display_name),       1, 128 },
	{ "agents",                  K_LIST,       NULL,                 F(agents),             0, 0 },
	{ "default_agent",           K_AGENT,      NULL,                 F(default_agent),      0, 128 },
	{ "cors_origin",             K_ORIGIN,     NULL,                 F(cors_origin),        0, 512 },
	{ "spool_dir",               K_PATH,       NULL,                 F(spool_dir),          1, 1024 },
	{ "target",                  K_TARGET,     NULL,                 F(target),             1, 1024 },
	{ "s3_endpoint",             K_ENDPOINT,   NULL,                 F(s3_endpoint),        0, 1024 },
	{ "s3_region",               K_REGION,     "AWS_REGION",         F(s3_region),          1, 64 },
	{ "s3_concurrency",          K_INT,        NULL,                 F(s3_concurrency),     1, 64 },
	{ "s3_retries",              K_INT,        NULL,                 F(s3_retries),         0, 20 },
	{ "csv_dir",                 K_PATH,       NULL,                 F(csv_dir),            1, 1024 },
	{ "csv_upload",              K_BOOL,       NULL,                 F(csv_upload),         0, 0 },
	{ "keep_days",               K_INT,        NULL,                 F(keep_days),          1, 3650 },
};
#undef F
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

const char *
ct_conf_default_path(void)
{
	return CT_SYSCONFDIR "/calltrail/calltrail.conf";
}

static char **
sfield(struct ct_conf *c, const struct key *k)
{
	return (char **)((char *)c + k->off);
}

static int
setstr(char **dst, const char *v)
{
	char *p = strdup(v);

	if (p == NULL)
		return CT_ERR_NOMEM;
	free(*dst);
	*dst = p;
	return CT_OK;
}

static int
is_name(const char *v, int dot)
{
	if (*v == '\0')
		return 0;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '_' && *v != '-' &&
		    !(dot && *v == '.'))
			return 0;
	return 1;
}

static int
has_ctl(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 1;
	return 0;
}

static int
prefixed(const char *v, const char *p)
{
	return strncmp(v, p, strlen(p)) == 0;
}

/* Split "a, b ,c" into the agents array. */
static int
setlist(struct ct_conf *c, const char *v, const char *where, char *err)
{
	char buf[CT_CONF_LINE_MAX], *tok, *save = NULL;
	size_t i;

	for (i = 0; i < c->nagents; i++)
		free(c->agents[i]);
	c->nagents = 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *e;

		while (isspace((unsigned char)*tok))
			tok++;
		e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*tok == '\0')
			continue;
		if (!is_name(tok, 1) || strlen(tok) > 128)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%sagents: \"%s\" is not an agent name ([A-Za-z0-9_.-], at most 128)",
			    where, tok);
		if (c->nagents == CT_AGENTS_MAX)
			return ct_seterr(err, CT_ERR_CONFIG, "%sagents: more than %d agents",
			                 where, CT_AGENTS_MAX);
		if ((c->agents[c->nagents] = strdup(tok)) == NULL)
			return CT_ERR_NOMEM;
		c->nagents++;
	}
	return CT_OK;
}

/*
 * Read the secret at path into c->livekit_api_secret.  A symlink is
 * followed (Kubernetes mounts secret -> ..data/secret), but the end must
 * be a regular file; one that group or others may read leaves a warning
 * in warn.  what names the source in messages; the secret never appears.
 */
static int
readsecret(struct ct_conf *c, const char *path, const char *what, char *err,
           char *warn)
{
	char buf[CT_SECRET_MAX + 3];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, rc = CT_OK;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return ct_seterr(err, CT_ERR_CONFIG, "%s: cannot read \"%s\": %s",
		                 what, path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = ct_seterr(err, CT_ERR_CONFIG, "%s: \"%s\" is not a regular file",
		               what, path);
		goto out;
	}
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "%s: cannot read \"%s\": %s",
			               what, path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	/* One trailing newline is how editors and `echo` leave it. */
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len > CT_SECRET_MAX || strlen(buf) != len || has_ctl(buf)) {
		rc = ct_seterr(err, CT_ERR_CONFIG,
		    "%s: \"%s\" must hold the secret on one line (at most %d bytes)",
		    what, path, CT_SECRET_MAX);
		goto out;
	}
	if ((rc = setstr(&c->livekit_api_secret, buf)) != CT_OK) {
		ct_seterr(err, rc, "%s: out of memory", what);
		goto out;
	}
	if (st.st_mode & 077)
		snprintf(warn, CT_ERRLEN, "warning: %s: \"%s\" is readable by %s "
		         "(mode %04o); chmod 0600 it", what, path,
		         st.st_mode & 007 ? "others" : "its group",
		         (unsigned)(st.st_mode & 07777));
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* Check v for key k and store it.  where is "FILE:LINE: " or "VAR: ". */
static int
setval(struct ct_conf *c, const struct key *k, const char *v, const char *where,
       char *err)
{
	char **dst = sfield(c, k);
	size_t n = strlen(v);
	char *end;
	long l;

	if (has_ctl(v))
		return ct_seterr(err, CT_ERR_CONFIG, "%s%s: control character in the value",
		                 where, k->name);
	switch (k->kind) {
	case K_INT:
		errno = 0;
		l = strtol(v, &end, 10);
		if (errno || end == v || *end || l < k->lo || l > k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not a whole number from %ld to %ld",
			    where, k->name, v, k->lo, k->hi);
		if (k->off == offsetof(struct ct_conf, token_ttl))
			c->token_ttl = l;
		else
			*(int *)((char *)c + k->off) = (int)l;
		return CT_OK;
	case K_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
			c->csv_upload = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
			c->csv_upload = 0;
		else
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not yes or no", where, k->name, v);
		return CT_OK;
	case K_LIST:
		return setlist(c, v, where, err);
	case K_SECRETFILE:
		/* Only noted: ct_conf_require_livekit opens it. */
		if (v[0] != '/' || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: must be an absolute path", where, k->name);
		break;
	case K_SECRET:
		/* never echo the value */
		if (n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG, "%s%s: longer than %ld bytes",
			                 where, k->name, k->hi);
		break;
	case K_URL:
		if (!(prefixed(v, "wss://") || prefixed(v, "ws://") ||
		      prefixed(v, "https://") || prefixed(v, "http://")) ||
		    strchr(v, ' ') || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not a wss://, ws://, https:// or http:// URL",
			    where, k->name, v);
		break;
	case K_ENDPOINT:
		if (n && (!(prefixed(v, "https://") || prefixed(v, "http://")) ||
		          strchr(v, ' ') || n > (size_t)k->hi))
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not an http:// or https:// URL",
			    where, k->name, v);
		break;
	case K_ORIGIN:
		if (n && (!(prefixed(v, "https://") || prefixed(v, "http://")) ||
		          strchr(v, ' ') || strchr(strstr(v, "//") + 2, '/') ||
		          n > (size_t)k->hi))
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not an origin like https://www.example.com",
			    where, k->name, v);
		break;
	case K_NAME:
	case K_AGENT:
		if ((n || k->kind == K_NAME) &&
		    (!is_name(v, k->kind == K_AGENT) || n > (size_t)k->hi))
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" must be 1 to %ld of [A-Za-z0-9_-%s]",
			    where, k->name, v, k->hi, k->kind == K_AGENT ? "." : "");
		break;
	case K_TEXT:
	case K_STR:
		if (n < (size_t)k->lo || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG, "%s%s: must be %ld to %ld bytes",
			                 where, k->name, k->lo, k->hi);
		break;
	case K_PATH:
		if (v[0] != '/' || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not an absolute path", where, k->name, v);
		break;
	case K_TARGET:
		if (!(prefixed(v, "file:///") || (prefixed(v, "s3://") && v[5] &&
		      v[5] != '/')) || strchr(v, ' ') || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is neither file:///DIR nor s3://BUCKET/PREFIX",
			    where, k->name, v);
		break;
	case K_REGION:
		for (end = (char *)v; *end; end++)
			if (!islower((unsigned char)*end) && !isdigit((unsigned char)*end) &&
			    *end != '-')
				break;
		if (n == 0 || *end || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not a region name like us-east-1",
			    where, k->name, v);
		break;
	}
	return setstr(dst, v) == CT_OK ? CT_OK :
	       ct_seterr(err, CT_ERR_NOMEM, "%s%s: out of memory", where, k->name);
}

static const struct key *
findkey(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

char *
ct_conf_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	                 e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Index of the key named name in keys[] (a name of this file). */
static size_t
keyidx(const char *name)
{
	return (size_t)(findkey(name) - keys);
}

/*
 * The next line of f into line (CT_CONF_LINE_MAX + 1 bytes), without its
 * newline: 1, 0 at the end of the file, or CT_ERR_CONFIG (err names
 * where) for a NUL byte or a line that is too long — read no further
 * than the cap, so a file of one huge line costs nothing.
 */
static int
nextline(FILE *f, char *line, const char *where, char *err)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return ct_seterr(err, CT_ERR_CONFIG,
			                 "%sa NUL byte (the file must be plain text)", where);
		if (n == CT_CONF_LINE_MAX)
			return ct_seterr(err, CT_ERR_CONFIG, "%sline longer than %d bytes",
			                 where, CT_CONF_LINE_MAX);
		line[n++] = (char)ch;
	}
	line[n] = '\0';
	return n > 0 || ch != EOF;
}

static int
loadfile(struct ct_conf *c, const char *path, int must_exist, char *err)
{
	char line[CT_CONF_LINE_MAX + 1], where[1200];
	unsigned char seen[NKEYS] = { 0 };
	struct stat st;
	FILE *f;
	long lineno = 0;
	int rc = CT_OK;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return CT_OK;
		return ct_seterr(err, CT_ERR_CONFIG, "%s: cannot read: %s", path,
		                 strerror(errno));
	}
	if (fstat(fileno(f), &st) == 0)
		c->path_mode = (int)(st.st_mode & 07777);
	for (;;) {
		const struct key *k;
		char *p, *eq, *key, *val, *hash;

		lineno++;
		snprintf(where, sizeof(where), "%s:%ld: ", path, lineno);
		if ((rc = nextline(f, line, where, err)) != 1)
			break;
		rc = CT_OK;
		/* Invisible in an editor, and it would make the first key
		 * "unknown" with nothing to see: say what it is. */
		if (lineno == 1 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
			rc = ct_seterr(err, CT_ERR_CONFIG,
			    "%sa UTF-8 byte-order mark: save the file without it", where);
			goto out;
		}
		/* A comment starts at '#' at the start or after a blank. */
		for (hash = line; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash == line || hash[-1] == ' ' || hash[-1] == '\t') {
				*hash = '\0';
				break;
			}
		p = ct_conf_trim(line);
		if (*p == '\0')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			rc = ct_seterr(err, CT_ERR_CONFIG,
			               "%sexpected \"key = value\"", where);
			goto out;
		}
		*eq = '\0';
		key = ct_conf_trim(p);
		val = ct_conf_trim(eq + 1);
		if ((k = findkey(key)) == NULL) {
			/* Never echo bytes that could drive the terminal. */
			if (has_ctl(key) || strchr(key, '"'))
				rc = ct_seterr(err, CT_ERR_CONFIG,
				               "%sunknown key (with unprintable bytes)", where);
			else
				rc = ct_seterr(err, CT_ERR_CONFIG, "%sunknown key \"%.64s\"",
				               where, key);
			goto out;
		}
		if (seen[k - keys]++) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "%s%s: set twice", where, key);
			goto out;
		}
		if ((rc = setval(c, k, val, where, err)) != CT_OK)
			goto out;
		if (k->kind == K_SECRET)
			c->secret_inline = 1;
	}
	if (rc != CT_OK)
		goto out;
	if (ferror(f))
		rc = ct_seterr(err, CT_ERR_CONFIG, "%s: read error", path);
	else if (seen[keyidx("livekit_api_secret")] && seen[keyidx("livekit_api_secret_file")])
		rc = ct_seterr(err, CT_ERR_CONFIG,
		    "%s: livekit_api_secret and livekit_api_secret_file: set only one",
		    path);
out:
	fclose(f);
	return rc;
}

static int
loadenv(struct ct_conf *c, char *err)
{
	char var[80], where[100];
	const char *v;
	size_t i, j;
	int rc;

	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		snprintf(var, sizeof(var), "CALLTRAIL_");
		for (j = 0; k->name[j]; j++)
			var[10 + j] = (char)toupper((unsigned char)k->name[j]);
		var[10 + j] = '\0';
		/* The product's own name beats the foreign one. */
		if ((v = getenv(var)) == NULL && k->env && (v = getenv(k->env)) != NULL)
			snprintf(var, sizeof(var), "%s", k->env);
		if (v == NULL)
			continue;
		snprintf(where, sizeof(where), "environment %s: ", var);
		if ((rc = setval(c, k, v, where, err)) != CT_OK)
			return rc;
		/* The environment's secret, or secret file, replaces whichever
		 * the file gave. */
		if (k->kind == K_SECRET) {
			c->secret_inline = 0;
			free(c->livekit_api_secret_file);
			c->livekit_api_secret_file = NULL;
		} else if (k->kind == K_SECRETFILE && c->secret_inline) {
			OPENSSL_cleanse(c->livekit_api_secret, strlen(c->livekit_api_secret));
			free(c->livekit_api_secret);
			c->livekit_api_secret = NULL;
			c->secret_inline = 0;
		}
	}
	if ((v = getenv("AWS_ACCESS_KEY_ID")) && *v &&
	    setstr(&c->aws_access_key_id, v) != CT_OK)
		return CT_ERR_NOMEM;
	if ((v = getenv("AWS_SECRET_ACCESS_KEY")) && *v &&
	    setstr(&c->aws_secret_access_key, v) != CT_OK)
		return CT_ERR_NOMEM;
	if ((v = getenv("AWS_SESSION_TOKEN")) && *v &&
	    setstr(&c->aws_session_token, v) != CT_OK)
		return CT_ERR_NOMEM;
	return CT_OK;
}

/* Defaults: every key but the LiveKit ones has one (SPEC section 2). */
static int
defaults(struct ct_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->path_mode = -1;
	c->token_ttl = CT_TOKEN_TTL_DEFAULT;
	c->s3_concurrency = 8;
	c->s3_retries = 5;
	c->keep_days = 35;
	if (setstr(&c->room_prefix, "voice") || setstr(&c->identity_prefix, "visitor") ||
	    setstr(&c->display_name, "Visitor") || setstr(&c->default_agent, "") ||
	    setstr(&c->cors_origin, "") ||
	    setstr(&c->spool_dir, CT_LOCALSTATEDIR "/spool/calltrail") ||
	    setstr(&c->target, "file://" CT_LOCALSTATEDIR "/lib/calltrail/archive") ||
	    setstr(&c->s3_endpoint, "") || setstr(&c->s3_region, "us-east-1") ||
	    setstr(&c->csv_dir, CT_LOCALSTATEDIR "/lib/calltrail/csv"))
		return CT_ERR_NOMEM;
	return CT_OK;
}

int
ct_conf_load(struct ct_conf *c, const char *path, char *err)
{
	const char *env = getenv("CALLTRAIL_CONF");
	int rc;

	if ((rc = defaults(c)) != CT_OK) {
		ct_seterr(err, rc, "configuration: out of memory");
		goto out;
	}
	if (path == NULL && env && *env)
		path = env;
	if ((rc = loadfile(c, path ? path : ct_conf_default_path(), path != NULL,
	                   err)) != CT_OK)
		goto out;
	if (path && (c->path = strdup(path)) == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, "configuration: out of memory");
		goto out;
	}
	if ((rc = loadenv(c, err)) != CT_OK)
		goto out;
	if (c->livekit_api_secret && strlen(c->livekit_api_secret) < CT_SECRET_MIN) {
		rc = ct_seterr(err, CT_ERR_CONFIG,
		    "livekit_api_secret: shorter than %d bytes (HS256 needs at least 32)",
		    CT_SECRET_MIN);
		goto out;
	}
out:
	if (rc != CT_OK)
		ct_conf_free(c);
	return rc;
}

int
ct_conf_require_livekit(struct ct_conf *c, char *err, char *warn)
{
	char cred[4200];
	const char *dir;
	int rc;

	warn[0] = '\0';
	if (c->livekit_url == NULL || !*c->livekit_url)
		return ct_seterr(err, CT_ERR_CONFIG,
		    "livekit_url: not set (in calltrail.conf or LIVEKIT_URL)");
	if (c->livekit_api_key == NULL || !*c->livekit_api_key)
		return ct_seterr(err, CT_ERR_CONFIG,
		    "livekit_api_key: not set (in calltrail.conf or LIVEKIT_API_KEY)");
	if (c->livekit_api_secret && *c->livekit_api_secret) {
		/* Inline in a file others can read: say so, once. */
		if (c->secret_inline && c->path_mode >= 0 && (c->path_mode & 077))
			snprintf(warn, CT_ERRLEN, "warning: %s holds livekit_api_secret and "
			         "is readable by %s (mode %04o): move the secret to "
			         "livekit_api_secret_file, or chmod 0600 the file",
			         c->path ? c->path : ct_conf_default_path(),
			         c->path_mode & 007 ? "others" : "its group",
			         (unsigned)c->path_mode);
		return CT_OK;
	}
	dir = getenv("CREDENTIALS_DIRECTORY");
	if (dir && *dir)
		snprintf(cred, sizeof(cred), "%s/livekit-api-secret", dir);
	if (c->livekit_api_secret_file && *c->livekit_api_secret_file)
		rc = readsecret(c, c->livekit_api_secret_file, "livekit_api_secret_file",
		                err, warn);
	else if (dir && *dir && access(cred, F_OK) == 0)
		rc = readsecret(c, cred, "$CREDENTIALS_DIRECTORY/livekit-api-secret",
		                err, warn);
	else
		return ct_seterr(err, CT_ERR_CONFIG,
		    "livekit_api_secret: not set: write the secret to "
		    CT_SYSCONFDIR "/calltrail/livekit-api-secret (mode 0600, handed over by "
		    "LoadCredential=), or set livekit_api_secret_file or LIVEKIT_API_SECRET");
	if (rc != CT_OK)
		return rc;
	if (strlen(c->livekit_api_secret) < CT_SECRET_MIN)
		return ct_seterr(err, CT_ERR_CONFIG,
		    "livekit_api_secret: shorter than %d bytes (HS256 needs at least 32)",
		    CT_SECRET_MIN);
	return CT_OK;
}

int
ct_conf_agent_allowed(const struct ct_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nagents; i++)
		if (strcmp(c->agents[i], name) == 0)
			return 1;
	return 0;
}

void
ct_conf_free(struct ct_conf *c)
{
	size_t i;

	if (c->livekit_api_secret)
		OPENSSL_cleanse(c->livekit_api_secret, strlen(c->livekit_api_secret));
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].kind == K_INT || keys[i].kind == K_BOOL ||
		    keys[i].kind == K_LIST)
			continue;
		free(*sfield(c, &keys[i]));
		*sfield(c, &keys[i]) = NULL;
	}
	for (i = 0; i < c->nagents; i++)
		free(c->agents[i]);
	c->nagents = 0;
	if (c->aws_secret_access_key)
		OPENSSL_cleanse(c->aws_secret_access_key, strlen(c->aws_secret_access_key));
	free(c->aws_access_key_id);
	free(c->aws_secret_access_key);
	free(c->aws_session_token);
	free(c->path);
	c->aws_access_key_id = c->aws_secret_access_key = c->aws_session_token = NULL;
	c->path = NULL;
}
