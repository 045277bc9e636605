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
 *
 * The keys and the check of each value live in conf-keys.c.
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
#include "ct_confint.h"
#include "ct_fs.h"

#ifndef CT_SYSCONFDIR
#define CT_SYSCONFDIR "/etc"
#endif
#ifndef CT_LOCALSTATEDIR
#define CT_LOCALSTATEDIR "/var"
#endif

const char *
ct_conf_default_path(void)
{
	return CT_SYSCONFDIR "/calltrail/calltrail.conf";
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
	if (len > CT_SECRET_MAX || strlen(buf) != len || ct_conf_has_ctl(buf)) {
		rc = ct_seterr(err, CT_ERR_CONFIG,
		    "%s: \"%s\" must hold the secret on one line (at most %d bytes)",
		    what, path, CT_SECRET_MAX);
		goto out;
	}
	if ((rc = ct_conf_setstr(&c->livekit_api_secret, buf)) != CT_OK) {
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
	unsigned char seen[CT_CONF_NKEYS] = { 0 };
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
		const struct ct_conf_key *k;
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
		if ((k = ct_conf_findkey(key)) == NULL) {
			/* Never echo bytes that could drive the terminal. */
			if (ct_conf_has_ctl(key) || strchr(key, '"'))
				rc = ct_seterr(err, CT_ERR_CONFIG,
				               "%sunknown key (with unprintable bytes)", where);
			else
				rc = ct_seterr(err, CT_ERR_CONFIG, "%sunknown key \"%.64s\"",
				               where, key);
			goto out;
		}
		if (seen[k - ct_conf_keys]++) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "%s%s: set twice", where, key);
			goto out;
		}
		if ((rc = ct_conf_setval(c, k, val, where, err)) != CT_OK)
			goto out;
		if (k->kind == K_SECRET)
			c->secret_inline = 1;
	}
	if (rc != CT_OK)
		goto out;
	if (ferror(f))
		rc = ct_seterr(err, CT_ERR_CONFIG, "%s: read error", path);
	else if (seen[CT_CONF_KEY_livekit_api_secret] &&
	         seen[CT_CONF_KEY_livekit_api_secret_file])
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

	for (i = 0; i < CT_CONF_NKEYS; i++) {
		const struct ct_conf_key *k = &ct_conf_keys[i];

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
		if ((rc = ct_conf_setval(c, k, v, where, err)) != CT_OK)
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
	if (ct_conf_setstr(&c->room_prefix, "voice") || ct_conf_setstr(&c->identity_prefix, "visitor") ||
	    ct_conf_setstr(&c->display_name, "Visitor") || ct_conf_setstr(&c->default_agent, "") ||
	    ct_conf_setstr(&c->cors_origin, "") ||
	    ct_conf_setstr(&c->spool_dir, CT_LOCALSTATEDIR "/spool/calltrail") ||
	    ct_conf_setstr(&c->target, "file://" CT_LOCALSTATEDIR "/lib/calltrail/archive") ||
	    ct_conf_setstr(&c->s3_endpoint, "") || ct_conf_setstr(&c->s3_region, "") ||
	    ct_conf_setstr(&c->csv_dir, CT_LOCALSTATEDIR "/lib/calltrail/csv") ||
	    ct_conf_setstr(&c->s3_sse, "") || ct_conf_setstr(&c->s3_sse_kms_key_id, "") ||
	    ct_conf_setstr(&c->salesforce_login_url, "https://login.salesforce.com") ||
	    ct_conf_setstr(&c->salesforce_client_id, "") ||
	    ct_conf_setstr(&c->salesforce_username, "") ||
	    ct_conf_setstr(&c->salesforce_private_key_file, "") ||
	    ct_conf_setstr(&c->salesforce_client_secret_file, "") ||
	    ct_conf_setstr(&c->salesforce_object, "Lead") ||
	    ct_conf_setstr(&c->salesforce_api_version, "62.0"))
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
	if (*c->s3_sse_kms_key_id && strcmp(c->s3_sse, "aws:kms") != 0) {
		rc = ct_seterr(err, CT_ERR_CONFIG,
		    "s3_sse_kms_key_id: set, but s3_sse is not aws:kms");
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
	for (i = 0; i < CT_CONF_NKEYS; i++) {
		const struct ct_conf_key *k = &ct_conf_keys[i];

		if (k->kind == K_INT || k->kind == K_BOOL || k->kind == K_LIST)
			continue;
		free(*ct_conf_field(c, k));
		*ct_conf_field(c, k) = NULL;
	}
	for (i = 0; i < c->nagents; i++)
		free(c->agents[i]);
	c->nagents = 0;
	free(c->path);
	c->path = NULL;
}
