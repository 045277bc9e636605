/*
 * t/sigv4.c — the SigV4 signer against AWS's published vectors
 * (t/data/sigv4/<case>/, see t/data/sigv4/SOURCES): for every case the
 * canonical request, the string to sign and the Authorization header
 * must match byte for byte.  Then the encoding rules S3 depends on.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_sigv4.h"
#include "tap.h"
#include "ct_fs.h"

#define MAXH CT_SIGV4_MAX_HEADERS

static const char *datadir(void)
{
	static char d[1024];
	const char *top = getenv("top_srcdir");

	snprintf(d, sizeof(d), "%s/t/data/sigv4", top ? top : ".");
	return d;
}

static char *slurp(const char *dir, const char *name, const char *ext)
{
	char path[4096], err[CT_ERRLEN];
	struct ct_buf b;

	snprintf(path, sizeof(path), "%s/%s/%s%s", datadir(), dir, name, ext);
	ct_buf_init(&b, 1 << 20);
	if (ct_file_read(path, 1 << 20, &b, err) != CT_OK) {
		diag("%s", err);
		ct_buf_free(&b);
		return NULL;
	}
	if (!b.p)
		ct_buf_add(&b, "", 0);
	return b.p;
}

/* Authorization headers compared without the blanks after commas: the S3
 * docs write them "a,b", the suite "a, b"; AWS accepts both. */
static void squeeze(char *s)
{
	char *d = s, prev = '\0';
	for (; *s; prev = *s, s++)
		if (!(*s == ' ' && prev == ','))
			*d++ = *s;
	*d = '\0';
}

static void run_case(const char *name)
{
	char *req = slurp(name, name, ".req"), *creq = slurp(name, name, ".creq");
	char *sts = slurp(name, name, ".sts"), *authz = slurp(name, name, ".authz");
	char *ctx = slurp(name, "context", "");
	struct ct_sigv4_header h[MAXH];
	struct ct_sigv4_req r = { 0 };
	struct ct_sigv4_out out;
	struct ct_buf path;
	char ak[128], sk[128], region[64], service[64], hash[CT_SIGV4_HEX];
	char date[CT_SIGV4_DATELEN] = "", err[CT_ERRLEN] = "";
	char *line, *save = NULL, *body = NULL, *uri, *q, *method;
	size_t nh = 0;
	int rc;

	ct_buf_init(&path, 4096);
	if (!req || !creq || !sts || !authz || !ctx ||
	    sscanf(ctx, "%127s %127s %63s %63s", ak, sk, region, service) != 4) {
		ok(0, "%s: vector files readable", name);
		goto out;
	}
	/* the body follows the first blank line */
	if ((body = strstr(req, "\n\n")) != NULL) {
		*body = '\0';
		body += 2;
	}
	method = strtok_r(req, " ", &save);
	uri = strtok_r(NULL, " ", &save);
	strtok_r(NULL, "\n", &save);
	if (!method || !uri) {
		ok(0, "%s: request line", name);
		goto out;
	}
	if ((q = strchr(uri, '?')) != NULL)
		*q++ = '\0';
	ct_sigv4_uri_encode(uri, strlen(uri), 1, &path);
	while ((line = strtok_r(NULL, "\n", &save)) != NULL && nh < MAXH) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		h[nh].name = line;
		h[nh].value = colon + 1;
		if (strcasecmp(line, "x-amz-date") == 0)
			snprintf(date, sizeof(date), "%s", colon + 1);
		nh++;
	}
	ct_sigv4_sha256_hex(body ? body : "", body ? strlen(body) : 0, hash);
	r.method = method;
	r.path = path.p;
	r.query = q;
	r.headers = h;
	r.nheaders = nh;
	r.payload_hash = hash;
	r.amz_date = date;
	r.region = region;
	r.service = service;
	r.access_key = ak;
	r.secret_key = sk;
	rc = ct_sigv4_sign(&r, &out, err);
	if (!is_int(CT_OK, rc, "%s: signs", name))
		diag("%s", err);
	is_str(creq, out.creq.p, "%s: canonical request", name);
	is_str(sts, out.sts.p, "%s: string to sign", name);
	squeeze(authz);
	squeeze(out.authorization);
	is_str(authz, out.authorization, "%s: Authorization", name);
	ok(strstr(out.authorization, sk) == NULL, "%s: the secret is not in the header", name);
	ct_sigv4_out_free(&out);
out:
	ct_buf_free(&path);
	free(req);
	free(creq);
	free(sts);
	free(authz);
	free(ctx);
}

static void encoding(void)
{
	struct ct_buf b;
	const char *key = "prefix/sessions/year=2025/month=10/day=29/voice_1.a-b~c_0123456789ab.json.gz";

	ct_buf_init(&b, 4096);
	ct_sigv4_uri_encode(key, strlen(key), 1, &b);
	is_str("prefix/sessions/year%3D2025/month%3D10/day%3D29/voice_1.a-b~c_0123456789ab.json.gz",
	       b.p, "key path: '=' is %%3D, '/' kept, unreserved kept");
	ct_buf_reset(&b);
	ct_sigv4_uri_encode("a/b c+d%e*f", 11, 0, &b);
	is_str("a%2Fb%20c%2Bd%25e%2Af", b.p, "query value: '/', space, '+', '%%', '*' encoded");
	ct_buf_reset(&b);
	ct_sigv4_uri_encode("\xc3\xa9", 2, 1, &b);
	is_str("%C3%A9", b.p, "UTF-8 bytes encoded one by one, upper-case hex");
	ct_buf_free(&b);
}

static void refusals(void)
{
	struct ct_sigv4_header h[2] = { { "Host", "example.com" }, { "X-Amz-Date", "20150830T123600Z" } };
	struct ct_sigv4_req r = {
		.method = "PUT", .path = "/k", .headers = h, .nheaders = 2,
		.payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		.amz_date = "20150830T123600Z", .region = "us-east-1", .service = "s3",
		.access_key = "AKID", .secret_key = "very-secret-value",
	};
	struct ct_sigv4_out out;
	char err[CT_ERRLEN];
	char date[CT_SIGV4_DATELEN];

	h[0].value = "example.com\r\nX-Evil: 1";
	is_int(CT_ERR_INPUT, ct_sigv4_sign(&r, &out, err), "a CR/LF in a header value is refused");
	ok(strstr(err, "very-secret-value") == NULL, "the error does not carry the secret");
	ct_sigv4_out_free(&out);
	h[0].value = "example.com";
	r.amz_date = "2015-08-30";
	is_int(CT_ERR_INPUT, ct_sigv4_sign(&r, &out, err), "a malformed x-amz-date is refused");
	ct_sigv4_out_free(&out);
	r.amz_date = "20150830T123600Z";
	r.secret_key = "";
	is_int(CT_ERR_INPUT, ct_sigv4_sign(&r, &out, err), "an empty secret is refused");
	ct_sigv4_out_free(&out);
	ct_sigv4_amz_date(1440938160, date);
	is_str("20150830T123600Z", date, "x-amz-date format");
}

static int isdir(const char *name)
{
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", datadir(), name);
	return name[0] != '.' && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(void)
{
	struct dirent **ents = NULL;
	int n = scandir(datadir(), &ents, NULL, alphasort), cases = 0;

	if (n < 0) {
		printf("Bail out! cannot read %s\n", datadir());
		return 1;
	}
	for (int i = 0; i < n; i++)
		if (isdir(ents[i]->d_name))
			cases++;
	plan(cases * 5 + 3 + 5);
	for (int i = 0; i < n; i++) {
		if (isdir(ents[i]->d_name))
			run_case(ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	encoding();
	refusals();
	return done();
}
