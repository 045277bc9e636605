/* t/conf.c — calltrail.conf parsing: good files, bad files, the
 * environment's overrides, secrets from files.  Every refusal must name
 * the key (or the line) so a person can fix it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calltrail.h"
#include "tap.h"

static char dir[] = "/tmp/ct-conf-XXXXXX";
static char path[256];

static void
writef(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

/* Load text as a config file; return rc and leave the message in err. */
static int
load(const char *text, struct ct_conf *c, char *err)
{
	writef(path, text);
	err[0] = '\0';
	return ct_conf_load(c, path, err);
}

#define SECRET "0123456789abcdef0123456789abcdef"
#define X64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define X1K X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64
#define LONGLINE "display_name = " X1K X1K X1K X1K "\n"

/* Like load(), for a text with NUL bytes in it (n bytes). */
static int
loadn(const char *text, size_t n, struct ct_conf *c, char *err)
{
	FILE *f = fopen(path, "w");

	fwrite(text, 1, n, f);
	fclose(f);
	err[0] = '\0';
	return ct_conf_load(c, path, err);
}

static const struct {
	const char *text;
	const char *want;   /* substring of the error */
} bad[] = {
	{ "nosuchkey = 1\n", "unknown key \"nosuchkey\"" },
	{ "token_ttl = 119\n", "token_ttl" },
	{ "token_ttl = 86401\n", "token_ttl" },
	{ "token_ttl = 9x\n", "token_ttl" },
	{ "token_ttl =\n", "token_ttl" },
	{ "s3_concurrency = 0\n", "s3_concurrency" },
	{ "s3_retries = -1\n", "s3_retries" },
	{ "keep_days = 0\n", "keep_days" },
	{ "csv_upload = maybe\n", "csv_upload" },
	{ "livekit_url = ftp://x\n", "livekit_url" },
	{ "livekit_api_secret = short\n", "livekit_api_secret: shorter than 32" },
	{ "livekit_api_secret = " SECRET "\nlivekit_api_secret_file = /etc/hostname\n",
	  "set only one" },
	{ "livekit_api_secret_file = relative\n", "livekit_api_secret_file" },
	{ "room_prefix = has space\n", "room_prefix" },
	{ "room_prefix = \n", "room_prefix" },
	{ "identity_prefix = a/b\n", "identity_prefix" },
	{ "agents = good, b@d\n", "agents" },
	{ "default_agent = no way\n", "default_agent" },
	{ "cors_origin = https://x.com/path\n", "cors_origin" },
	{ "cors_origin = *\n", "cors_origin" },
	{ "spool_dir = relative/dir\n", "spool_dir" },
	{ "target = /just/a/path\n", "target" },
	{ "target = s3://\n", "target" },
	{ "s3_endpoint = 127.0.0.1:9000\n", "s3_endpoint" },
	{ "s3_region = US East\n", "s3_region" },
	{ "just some words\n", "expected \"key = value\"" },
	{ "token_ttl = 900\ntoken_ttl = 901\n", "token_ttl: set twice" },
	{ "display_name = \n", "display_name" },
	/* what an editor hides must not change a value (issue 12) */
	{ "\xef\xbb\xbflivekit_url = wss://x\n", "calltrail.conf:1: a UTF-8 byte-order mark" },
	{ "# fine\nroom_prefix = ab\0cd\n", "calltrail.conf:2: a NUL byte" },
	{ "livekit_api_key = APIx\n" LONGLINE, "calltrail.conf:2: line longer than 4096" },
};

int
main(void)
{
	struct ct_conf c;
	char err[CT_ERRLEN], warn[CT_ERRLEN], sfile[300], text[700];
	char sub[300], real[300], link[300];
	size_t i, nbad = sizeof(bad) / sizeof(bad[0]);

	plan((int)nbad * 2 + 56);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/calltrail.conf", dir);
	unsetenv("CALLTRAIL_CONF");
	unsetenv("LIVEKIT_URL");
	unsetenv("LIVEKIT_API_KEY");
	unsetenv("LIVEKIT_API_SECRET");
	unsetenv("AWS_REGION");

	/* defaults */
	is_int(CT_OK, load("# nothing but a comment\n\n", &c, err), "empty file loads");
	is_int(900, c.token_ttl, "token_ttl defaults to 900");
	is_str("voice", c.room_prefix, "room_prefix default");
	is_str("visitor", c.identity_prefix, "identity_prefix default");
	is_str("Visitor", c.display_name, "display_name default");
	is_str("us-east-1", c.s3_region, "s3_region default");
	ok(c.s3_concurrency == 8 && c.s3_retries == 5 && c.keep_days == 35 &&
	   c.csv_upload == 0, "numeric defaults 8/5/35/no");
	ok(strncmp(c.target, "file:///", 8) == 0, "target defaults to a local archive");
	is_int(CT_ERR_CONFIG, ct_conf_require_livekit(&c, err, warn),
	       "the token service needs the LiveKit keys");
	ok(strstr(err, "livekit_url") != NULL, "... and names the first missing one");
	ct_conf_free(&c);

	/* a full good file, with comments and odd spacing */
	is_int(CT_OK, load(
	    "livekit_url = wss://example.livekit.cloud   # the project\n"
	    "livekit_api_key=APIabc123\n"
	    "livekit_api_secret = " SECRET "\n"
	    "  token_ttl =   3600\n"
	    "agents = sales-agent,  support-agent ,x.y\n"
	    "default_agent = sales-agent\n"
	    "cors_origin = https://www.example.com\n"
	    "target = s3://bucket/some/prefix\n"
	    "s3_endpoint = http://127.0.0.1:9000\n"
	    "csv_upload = yes\n"
	    "keep_days = 7\n", &c, err), "a full file loads");
	is_str("wss://example.livekit.cloud", c.livekit_url, "inline comment dropped");
	is_str("APIabc123", c.livekit_api_key, "no blanks needed around =");
	is_int(3600, c.token_ttl, "token_ttl read");
	is_int(3, (long long)c.nagents, "three agents");
	is_str("support-agent", c.agents[1], "agent names trimmed");
	ok(ct_conf_agent_allowed(&c, "x.y") && !ct_conf_agent_allowed(&c, "sales"),
	   "agent allow-list matches whole names only");
	ok(c.csv_upload == 1 && c.keep_days == 7, "bool and int read");
	is_int(CT_OK, ct_conf_require_livekit(&c, err, warn), "LiveKit keys complete");
	ct_conf_free(&c);
	writef(path, "livekit_url = wss://x\nlivekit_api_key = K\nlivekit_api_secret = " SECRET "\n");
	chmod(path, 0600);
	ct_conf_load(&c, path, err);
	ct_conf_require_livekit(&c, err, warn);
	is_str("", warn, "an inline secret in a 0600 file: no warning");
	ct_conf_free(&c);
	chmod(path, 0640);
	ct_conf_load(&c, path, err);
	is_int(CT_OK, ct_conf_require_livekit(&c, err, warn), "an inline secret in a 0640 file loads");
	ok(strstr(warn, "readable by its group") && strstr(warn, "calltrail.conf") &&
	   !strstr(warn, SECRET), "... with a warning naming the file, not the secret: %s", warn);
	ct_conf_free(&c);

	/* every bad file is refused with its key named */
	for (i = 0; i < nbad; i++) {
		/* the NUL case: the text runs on past its NUL */
		const char *t = bad[i].text;
		size_t n = strlen(t);
		int rc;

		if (strstr(bad[i].want, "NUL"))
			n += 1 + strlen(t + n + 1);
		rc = loadn(t, n, &c, err);
		is_int(CT_ERR_CONFIG, rc, "refused: bad file %zu (%s)", i, bad[i].want);
		ok(strstr(err, bad[i].want) != NULL, "... message names it: %s", err);
	}
	/* the secret never appears in a message */
	load("livekit_api_secret = sekrit-value\n", &c, err);
	ok(strstr(err, "sekrit") == NULL, "a short secret is not echoed");

	/* line numbers */
	load("\n# c\ntoken_ttl = 5\n", &c, err);
	ok(strstr(err, "calltrail.conf:3:") != NULL, "error gives file:line (%s)", err);

	/* secret from a file, trailing newline dropped; read only by
	 * ct_conf_require_livekit (the token service), never by the load
	 * every program does */
	snprintf(sfile, sizeof(sfile), "%s/secret", dir);
	writef(sfile, SECRET "\n");
	chmod(sfile, 0600);
	snprintf(text, sizeof(text), "livekit_url = wss://x\nlivekit_api_key = K\n"
	         "livekit_api_secret_file = %s\n", sfile);
	is_int(CT_OK, load(text, &c, err), "secret file named");
	ok(c.livekit_api_secret == NULL, "... not read by ct_conf_load");
	is_int(CT_OK, ct_conf_require_livekit(&c, err, warn), "... read by require_livekit");
	is_str(SECRET, c.livekit_api_secret, "secret file: newline stripped");
	is_str("", warn, "a 0600 secret file: no warning");
	ct_conf_free(&c);

	/* a group-readable secret file: one warning, never the secret */
	chmod(sfile, 0644);
	load(text, &c, err);
	is_int(CT_OK, ct_conf_require_livekit(&c, err, warn), "a 0644 secret file is read");
	ok(strstr(warn, "readable by others") && strstr(warn, sfile) && !strstr(warn, SECRET),
	   "... with a warning naming it: %s", warn);
	ct_conf_free(&c);
	chmod(sfile, 0600);

	/* the Kubernetes layout: secret -> ..data/secret, followed */
	snprintf(sub, sizeof(sub), "%s/..data", dir);
	mkdir(sub, 0700);
	snprintf(real, sizeof(real), "%s/..data/secret", dir);
	writef(real, SECRET "k8s\n");
	chmod(real, 0600);
	snprintf(link, sizeof(link), "%s/k8s-secret", dir);
	symlink("..data/secret", link);
	snprintf(text, sizeof(text), "livekit_url = wss://x\nlivekit_api_key = K\n"
	         "livekit_api_secret_file = %s\n", link);
	load(text, &c, err);
	is_int(CT_OK, ct_conf_require_livekit(&c, err, warn), "a symlinked secret file is followed");
	is_str(SECRET "k8s", c.livekit_api_secret, "... and read: %s", err);
	ct_conf_free(&c);

	/* an unreadable or missing secret file stops only the token service */
	snprintf(text, sizeof(text), "livekit_url = wss://x\nlivekit_api_key = K\n"
	         "livekit_api_secret_file = %s/nonexistent\n", dir);
	is_int(CT_OK, load(text, &c, err), "a missing secret file: the config still loads");
	is_int(CT_ERR_CONFIG, ct_conf_require_livekit(&c, err, warn),
	       "... the token service refuses it");
	ok(strstr(err, "livekit_api_secret_file") && strstr(err, "nonexistent"),
	   "... naming the key and the file: %s", err);
	ct_conf_free(&c);
	snprintf(text, sizeof(text), "livekit_url = wss://x\nlivekit_api_key = K\n"
	         "livekit_api_secret_file = %s\n", dir);
	load(text, &c, err);
	is_int(CT_ERR_CONFIG, ct_conf_require_livekit(&c, err, warn),
	       "a directory as secret file is refused");
	ct_conf_free(&c);

	/* no secret anywhere: systemd's credentials directory, else a
	 * message that says where to put it */
	unsetenv("CREDENTIALS_DIRECTORY");
	load("livekit_url = wss://x\nlivekit_api_key = K\n", &c, err);
	is_int(CT_ERR_CONFIG, ct_conf_require_livekit(&c, err, warn), "no secret: refused");
	ok(strstr(err, "calltrail/livekit-api-secret") && strstr(err, "LoadCredential"),
	   "... saying where to put it: %s", err);
	ct_conf_free(&c);
	snprintf(sub, sizeof(sub), "%s/creds", dir);
	mkdir(sub, 0700);
	snprintf(real, sizeof(real), "%s/creds/livekit-api-secret", dir);
	writef(real, SECRET "cred");
	chmod(real, 0400);
	setenv("CREDENTIALS_DIRECTORY", sub, 1);
	load("livekit_url = wss://x\nlivekit_api_key = K\n", &c, err);
	is_int(CT_OK, ct_conf_require_livekit(&c, err, warn),
	       "$CREDENTIALS_DIRECTORY/livekit-api-secret read");
	is_str(SECRET "cred", c.livekit_api_secret, "... the credential is the secret");
	ct_conf_free(&c);
	unsetenv("CREDENTIALS_DIRECTORY");
	unlink(real);
	rmdir(sub);
	snprintf(real, sizeof(real), "%s/..data/secret", dir);
	unlink(real);
	unlink(link);
	snprintf(sub, sizeof(sub), "%s/..data", dir);
	rmdir(sub);

	/* environment overrides the file */
	setenv("LIVEKIT_API_KEY", "APIfromenv", 1);
	setenv("LIVEKIT_URL", "wss://env.example", 1);
	setenv("LIVEKIT_API_SECRET", SECRET "XX", 1);
	setenv("AWS_REGION", "eu-west-3", 1);
	setenv("CALLTRAIL_TOKEN_TTL", "600", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI", 1);
	setenv("AWS_SESSION_TOKEN", "tok", 1);
	is_int(CT_OK, load("livekit_api_key = APIfromfile\ntoken_ttl = 300\n", &c, err),
	       "file + environment");
	is_str("APIfromenv", c.livekit_api_key, "LIVEKIT_API_KEY wins over the file");
	is_str("wss://env.example", c.livekit_url, "LIVEKIT_URL honoured");
	is_str("eu-west-3", c.s3_region, "AWS_REGION honoured");
	is_int(600, c.token_ttl, "CALLTRAIL_TOKEN_TTL wins over the file");
	ok(c.aws_session_token && strcmp(c.aws_session_token, "tok") == 0 &&
	   strcmp(c.aws_access_key_id, "AKIDEXAMPLE") == 0, "AWS credentials from env");
	ct_conf_free(&c);
	setenv("CALLTRAIL_TOKEN_TTL", "5", 1);
	is_int(CT_ERR_CONFIG, load("", &c, err), "a bad environment value is refused");
	ok(strstr(err, "CALLTRAIL_TOKEN_TTL") != NULL, "... naming the variable: %s", err);
	unsetenv("CALLTRAIL_TOKEN_TTL");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("LIVEKIT_API_SECRET");

	/* ~/.aws/credentials with AWS_PROFILE */
	snprintf(sfile, sizeof(sfile), "%s/credentials", dir);
	writef(sfile, "[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = s1\n"
	              "[ci]\naws_access_key_id=AKIDCI\naws_secret_access_key=s2\n"
	              "aws_session_token = t2\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", sfile, 1);
	setenv("AWS_PROFILE", "ci", 1);
	load("", &c, err);
	is_int(CT_OK, ct_conf_aws_credentials(&c, err), "credentials file read");
	ok(strcmp(c.aws_access_key_id, "AKIDCI") == 0 && strcmp(c.aws_session_token, "t2") == 0,
	   "AWS_PROFILE picks the section");
	ct_conf_free(&c);
	setenv("AWS_PROFILE", "nosuch", 1);
	load("", &c, err);
	is_int(CT_ERR_CONFIG, ct_conf_aws_credentials(&c, err), "missing profile refused");
	ok(strstr(err, "AWS_ACCESS_KEY_ID") != NULL, "... naming AWS_ACCESS_KEY_ID");
	ct_conf_free(&c);

	/* an explicit file must exist; CALLTRAIL_CONF picks the file */
	is_int(CT_ERR_CONFIG, ct_conf_load(&c, "/nonexistent/calltrail.conf", err),
	       "a named file that is missing is an error");
	writef(path, "room_prefix = fromenvfile\n");
	setenv("CALLTRAIL_CONF", path, 1);
	is_int(CT_OK, ct_conf_load(&c, NULL, err), "CALLTRAIL_CONF read");
	is_str("fromenvfile", c.room_prefix, "CALLTRAIL_CONF names the file");
	ct_conf_free(&c);

	unlink(sfile);
	snprintf(sfile, sizeof(sfile), "%s/secret", dir);
	unlink(sfile);
	unlink(path);
	rmdir(dir);
	return done();
}
