/*
 * fuzz-conf.c — libFuzzer harness for the configuration parser,
 * ct_conf_load, fed a calltrail.conf holding the fuzz input.
 *
 * The environment would override the file, so every LIVEKIT_*, AWS_* and
 * CALLTRAIL_* variable is removed first.  The text "@DIR@" in an input
 * stands for a scratch directory holding secret files made here, so the
 * seeds can exercise livekit_api_secret_file ($TMPDIR/ct-fuzz-conf-UID,
 * made once per user and kept):
 *   @DIR@/secret    a 48-byte secret and a newline (good)
 *   @DIR@/short     a 10-byte secret (too short)
 *   @DIR@/twolines  two lines (refused)
 *   @DIR@/big       5000 bytes (over CT_SECRET_MAX)
 *   @DIR@/empty     nothing
 * An input that names something other than a regular file or a directory
 * as the secret file (a tty, a FIFO, /dev/ptmx) is skipped: reading those
 * can block, which is the operator's business, not a parser bug.
 *
 * Checked: no crash or leak; an accepted configuration holds only values
 * inside their documented ranges, without control characters, and a
 * secret of at least 32 bytes; a refusal is one printable line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calltrail.h"
#include "scrubenv.h"
#include "check.h"

static char dir[256];
static char conf[300];

/* Write a scratch file by tmp + rename, so processes sharing the
 * directory (libFuzzer's -fork, -jobs) never see it half written. */
static void
put(const char *name, const char *data, size_t len)
{
	char p[320], t[340];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	snprintf(t, sizeof(t), "%s.%ld", p, (long)getpid());
	fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	CHECK(fd >= 0 && write(fd, data, len) == (ssize_t)len && close(fd) == 0 &&
	      rename(t, p) == 0, "writing a scratch file");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char big[5000];
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	(void)argc;
	(void)argv;
	scrubenv();
	/* libFuzzer leaves with _Exit, so nothing could remove a directory
	 * per process: one per user is made once and reused (five small
	 * files), and each input's file is removed as soon as it is read. */
	snprintf(dir, sizeof(dir), "%s/ct-fuzz-conf-%ld", tmp && *tmp ? tmp : "/tmp",
	         (long)getuid());
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		CHECK(0, "mkdir the scratch directory");
	CHECK(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() &&
	      (st.st_mode & 077) == 0, "the scratch directory is ours alone");
	snprintf(conf, sizeof(conf), "%s/calltrail.conf.%ld", dir, (long)getpid());
	put("secret", "0123456789abcdef0123456789abcdef0123456789abcdef\n", 49);
	put("short", "0123456789", 10);
	put("twolines", "0123456789abcdef0123456789abcdef\nsecond line\n", 45);
	memset(big, 'k', sizeof(big));
	put("big", big, sizeof(big));
	put("empty", "", 0);
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/*
 * Would ct_conf_load open something that is neither a regular file nor a
 * directory as the secret file?  Reads the lines the way conf.c does
 * (a NUL ends what fgets's caller sees; '#' at the start or after a blank
 * starts a comment).
 */
static int
risky(const char *text)
{
	char line[CT_CONF_LINE_MAX + 2];
	const char *p = text;
	struct stat st;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *h, *eq, *val;

		if (n > CT_CONF_LINE_MAX)
			n = CT_CONF_LINE_MAX;
		memcpy(line, p, n);
		line[n] = '\0';
		p += nl ? (size_t)(nl - p) + 1 : n;
		for (h = line; (h = strchr(h, '#')) != NULL; h++)
			if (h == line || h[-1] == ' ' || h[-1] == '\t') {
				*h = '\0';
				break;
			}
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcmp(trim(line), "livekit_api_secret_file") != 0)
			continue;
		val = trim(eq + 1);
		if (stat(val, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			return 1;
	}
	return 0;
}

static void
str(const char *s, int may_be_null, const char *what)
{
	if (s == NULL) {
		CHECK(may_be_null, what);
		return;
	}
	for (; *s; s++)
		CHECK((unsigned char)*s >= 0x20 && *s != 0x7f, what);
}

static void
accepted(struct ct_conf *c)
{
	char err[CT_ERRLEN], warn[CT_ERRLEN];
	size_t i;

	str(c->livekit_url, 1, "livekit_url");
	str(c->livekit_api_key, 1, "livekit_api_key");
	str(c->livekit_api_secret, 1, "livekit_api_secret");
	if (c->livekit_api_secret)
		CHECK(strlen(c->livekit_api_secret) >= CT_SECRET_MIN &&
		      strlen(c->livekit_api_secret) <= CT_SECRET_MAX, "secret of 32..4096 bytes");
	CHECK(c->token_ttl >= CT_TOKEN_TTL_MIN && c->token_ttl <= CT_TOKEN_TTL_MAX, "token_ttl");
	str(c->room_prefix, 0, "room_prefix");
	str(c->identity_prefix, 0, "identity_prefix");
	str(c->display_name, 0, "display_name");
	CHECK(strlen(c->room_prefix) >= 1 && strlen(c->room_prefix) <= 32, "room_prefix 1..32");
	CHECK(strlen(c->identity_prefix) >= 1 && strlen(c->identity_prefix) <= 32,
	      "identity_prefix 1..32");
	CHECK(c->nagents <= CT_AGENTS_MAX, "at most 64 agents");
	for (i = 0; i < c->nagents; i++) {
		str(c->agents[i], 0, "agent names");
		CHECK(c->agents[i][0] != '\0' && strlen(c->agents[i]) <= 128, "agent 1..128");
		CHECK(ct_conf_agent_allowed(c, c->agents[i]), "a listed agent is allowed");
	}
	str(c->default_agent, 0, "default_agent");
	str(c->cors_origin, 0, "cors_origin");
	str(c->spool_dir, 0, "spool_dir");
	CHECK(c->spool_dir[0] == '/', "spool_dir is absolute");
	str(c->target, 0, "target");
	CHECK(!strncmp(c->target, "file:///", 8) || !strncmp(c->target, "s3://", 5), "target");
	str(c->s3_endpoint, 0, "s3_endpoint");
	str(c->s3_region, 0, "s3_region");
	CHECK(c->s3_concurrency >= 1 && c->s3_concurrency <= 64, "s3_concurrency");
	CHECK(c->s3_retries >= 0 && c->s3_retries <= 20, "s3_retries");
	str(c->csv_dir, 0, "csv_dir");
	CHECK(c->csv_dir[0] == '/', "csv_dir is absolute");
	CHECK(c->csv_upload == 0 || c->csv_upload == 1, "csv_upload");
	CHECK(c->keep_days >= 1 && c->keep_days <= 3650, "keep_days");
	CHECK(c->path && strcmp(c->path, conf) == 0, "path is the file read");
	err[0] = '\0';
	if (ct_conf_require_livekit(c, err, warn) != CT_OK)
		CHECK(err[0] != '\0', "require_livekit says why");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_conf c;
	char err[CT_ERRLEN], *text;
	size_t i, o = 0, dl = strlen(dir);
	int fd, rc;

	/* Expand @DIR@; the result is at most 1 + size * (dl + 5) / 5 bytes. */
	if ((text = malloc(size + size / 5 * dl + 1)) == NULL)
		return 0;
	for (i = 0; i < size; ) {
		if (size - i >= 5 && memcmp(data + i, "@DIR@", 5) == 0) {
			memcpy(text + o, dir, dl);
			o += dl;
			i += 5;
		} else {
			text[o++] = (char)data[i++];
		}
	}
	text[o] = '\0';
	if (risky(text))
		goto out;
	fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	CHECK(fd >= 0 && write(fd, text, o) == (ssize_t)o && close(fd) == 0,
	      "writing the configuration file");
	memset(err, 0x55, sizeof(err));
	rc = ct_conf_load(&c, conf, err);
	unlink(conf);
	if (rc == CT_OK) {
		accepted(&c);
		ct_conf_free(&c);
	} else {
		CHECK(rc == CT_ERR_CONFIG || rc == CT_ERR_NOMEM, "a refusal is CT_ERR_CONFIG");
		CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0', "a refusal says why");
		for (i = 0; err[i]; i++)
			CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f,
			      "the message is one printable line");
	}
out:
	free(text);
	return 0;
}
