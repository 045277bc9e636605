/*
 * sf-auth.c — signing in to Salesforce with OAuth 2.0 (SPEC section 9).
 *
 * Two flows, both a POST of a form to LOGIN/services/oauth2/token:
 *
 *   - JWT bearer (salesforce_private_key_file): an assertion
 *     base64url({"alg":"RS256"}) . base64url({"iss": client id, "sub":
 *     username, "aud": login URL, "exp": now + 180}) . base64url(RS256
 *     signature), signed with OpenSSL's EVP_DigestSign over the PEM key
 *     whose certificate the connected app holds.
 *   - client credentials (salesforce_client_secret_file): client_id and
 *     client_secret.
 *
 * The answer's instance_url and access_token are what every later request
 * uses.  The key files are opened here and nowhere else; like any secret
 * file they may be symlinks (Kubernetes secret volumes), and one that
 * group or others can read gets one warning line.  Key bytes, the secret
 * and the token are wiped from memory when done and never logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "salesforce.h"
#include "ct_token.h"
#include "ct_time.h"
#include "ct_json.h"

#define KEYFILE_MAX (64 * 1024)
/* Salesforce takes an assertion that expires within 3 minutes. */
#define ASSERTION_TTL 180

/* A secret file (symlinks allowed) of at most KEYFILE_MAX bytes into b. */
static int readsecret(const char *key, const char *path, struct ct_buf *b,
                      char *err)
{
	static int warned;
	char chunk[4096];
	struct stat st;
	ssize_t n;
	int fd, rc = CT_OK;

	ct_buf_init(b, KEYFILE_MAX);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return ct_seterr(err, CT_ERR_CONFIG, "%s: cannot open \"%s\": %s",
		                 key, path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = ct_seterr(err, CT_ERR_CONFIG, "%s: \"%s\" is not a file", key, path);
		goto out;
	}
	if ((st.st_mode & (S_IRGRP | S_IROTH)) && !warned++)
		fprintf(stderr, "calltrail-export salesforce: warning: %s \"%s\" "
		        "can be read by group or others (chmod 600 it)\n", key, path);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "%s: reading \"%s\": %s", key,
			               path, strerror(errno));
			goto out;
		}
		if (ct_buf_add(b, chunk, (size_t)n) != CT_OK) {
			rc = ct_seterr(err, CT_ERR_CONFIG, "%s: \"%s\" is larger than "
			               "%d bytes", key, path, KEYFILE_MAX);
			goto out;
		}
	}
out:
	OPENSSL_cleanse(chunk, sizeof(chunk));
	close(fd);
	if (rc != CT_OK && b->p) {
		OPENSSL_cleanse(b->p, b->len);
		ct_buf_free(b);
	}
	return rc;
}

static void wipe(struct ct_buf *b)
{
	if (b->p)
		OPENSSL_cleanse(b->p, b->cap);
	ct_buf_free(b);
}

/* The login URL without trailing '/': the assertion's aud and the
 * token endpoint's base. */
static size_t loginlen(const char *u)
{
	size_t n = strlen(u);

	while (n > 0 && u[n - 1] == '/')
		n--;
	return n;
}

/* base64url of in[0..n) appended to out (ct_b64url, the token's encoder). */
static int b64url(struct ct_buf *out, const unsigned char *in, size_t n)
{
	char *t = malloc(4 * ((n + 2) / 3) + 1);
	int rc;

	if (t == NULL)
		return CT_ERR_NOMEM;
	rc = ct_buf_add(out, t, ct_b64url(t, in, n));
	free(t);
	return rc;
}

/* The signed assertion of the JWT bearer flow into out. */
static int assertion(struct sf *s, struct ct_buf *out, char *err)
{
	const char *hdr = "{\"alg\":\"RS256\"}";
	struct json_object *claims = json_object_new_object();
	struct ct_buf pem;
	char aud[1100];
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	BIO *bio = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	const char *cj;
	int rc;

	ct_buf_init(&pem, 0);
	snprintf(aud, sizeof(aud), "%.*s", (int)loginlen(s->c->salesforce_login_url),
	         s->c->salesforce_login_url);
	if (claims == NULL ||
	    ct_json_add(claims, "iss", json_object_new_string(s->c->salesforce_client_id), NULL) ||
	    ct_json_add(claims, "sub", json_object_new_string(s->c->salesforce_username), NULL) ||
	    ct_json_add(claims, "aud", json_object_new_string(aud), NULL) ||
	    ct_json_add(claims, "exp", json_object_new_int64(ct_time_now_us() / 1000000 +
	                                                     ASSERTION_TTL), NULL) ||
	    (cj = json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN |
	                                         JSON_C_TO_STRING_NOSLASHESCAPE)) == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = readsecret("salesforce_private_key_file",
	                     s->c->salesforce_private_key_file, &pem, err)) != CT_OK)
		goto out;
	if ((bio = BIO_new_mem_buf(pem.p ? pem.p : "", (int)pem.len)) == NULL ||
	    (pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL ||
	    EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		rc = ct_seterr(err, CT_ERR_CONFIG, "salesforce_private_key_file: "
		               "\"%s\" holds no unencrypted PEM RSA private key",
		               s->c->salesforce_private_key_file);
		goto out;
	}
	ct_buf_reset(out);
	if ((rc = b64url(out, (const unsigned char *)hdr, strlen(hdr))) != CT_OK ||
	    (rc = ct_buf_add(out, ".", 1)) != CT_OK ||
	    (rc = b64url(out, (const unsigned char *)cj, strlen(cj))) != CT_OK) {
		rc = ct_seterr(err, rc, "out of memory");
		goto out;
	}
	/* RS256: RSASSA-PKCS1-v1_5 with SHA-256 over "header.claims" */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (unsigned char *)out->p, out->len) != 1 ||
	    (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)out->p, out->len) != 1) {
		rc = ct_seterr(err, CT_ERR_CRYPTO, "signing the JWT assertion failed");
		goto out;
	}
	if ((rc = ct_buf_add(out, ".", 1)) != CT_OK ||
	    (rc = b64url(out, sig, siglen)) != CT_OK)
		rc = ct_seterr(err, rc, "out of memory");
out:
	free(sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	wipe(&pem);
	json_object_put(claims);
	return rc;
}

/* Append "&name=value" (or "name=value" first), value form-encoded. */
static int formadd(struct sf *s, struct ct_buf *b, const char *name,
                   const char *value)
{
	char *e = curl_easy_escape(s->h, value, (int)strlen(value));
	int rc;

	if (e == NULL)
		return CT_ERR_NOMEM;
	rc = ct_buf_printf(b, "%s%s=%s", b->len ? "&" : "", name, e);
	OPENSSL_cleanse(e, strlen(e));
	curl_free(e);
	return rc;
}

/* https, or http to this host only: where a token may be sent. */
static int safeurl(const char *u)
{
	if (strncmp(u, "https://", 8) == 0)
		return 1;
	if (strncmp(u, "http://", 7) != 0)
		return 0;
	u += 7;
	return strncmp(u, "127.", 4) == 0 || strncmp(u, "localhost", 9) == 0 ||
	       strncmp(u, "[::1]", 5) == 0;
}

int sf_signin(struct sf *s, char *err)
{
	struct ct_conf *c = s->c;
	struct ct_buf form, secret, reply;
	struct json_object *o = NULL;
	const char *tok, *inst;
	char url[1200];
	int rc;

	ct_buf_init(&form, 64 * 1024);
	ct_buf_init(&secret, 0);
	ct_buf_init(&reply, 0);
	s->denied = 0;
	if (c->salesforce_client_id == NULL || c->salesforce_client_id[0] == '\0') {
		rc = ct_seterr(err, CT_ERR_CONFIG, "salesforce_client_id: empty (the "
		               "connected app's consumer key)");
		goto out;
	}
	if (c->salesforce_private_key_file[0]) {
		if (c->salesforce_username[0] == '\0') {
			rc = ct_seterr(err, CT_ERR_CONFIG, "salesforce_username: empty "
			               "(the JWT bearer flow needs the integration user)");
			goto out;
		}
		if ((rc = assertion(s, &secret, err)) != CT_OK)
			goto out;
		rc = formadd(s, &form, "grant_type",
		             "urn:ietf:params:oauth:grant-type:jwt-bearer");
		if (rc == CT_OK)
			rc = formadd(s, &form, "assertion", secret.p);
	} else if (c->salesforce_client_secret_file[0]) {
		if ((rc = readsecret("salesforce_client_secret_file",
		                     c->salesforce_client_secret_file, &secret, err)) != CT_OK)
			goto out;
		if (secret.len == 0 || ct_conf_trim(secret.p)[0] == '\0') {
			rc = ct_seterr(err, CT_ERR_CONFIG, "salesforce_client_secret_file: "
			               "\"%s\" is empty", c->salesforce_client_secret_file);
			goto out;
		}
		rc = formadd(s, &form, "grant_type", "client_credentials");
		if (rc == CT_OK)
			rc = formadd(s, &form, "client_id", c->salesforce_client_id);
		if (rc == CT_OK)
			rc = formadd(s, &form, "client_secret", ct_conf_trim(secret.p));
	} else {
		rc = ct_seterr(err, CT_ERR_CONFIG, "salesforce_private_key_file or "
		               "salesforce_client_secret_file: set one to sign in");
		goto out;
	}
	if (rc != CT_OK) {
		rc = ct_seterr(err, rc, "out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%.*s/services/oauth2/token",
	         (int)loginlen(c->salesforce_login_url), c->salesforce_login_url);
	s->signins++;
	rc = sf_request(s, "POST", url, 0, "application/x-www-form-urlencoded",
	                form.p, form.len, SF_JSON_MAX, &reply, err);
	if (rc == CT_ERR_REMOTE) {
		/* 400 invalid_grant, invalid_client...: Salesforce said no */
		s->denied = 1;
		rc = ct_seterr(err, CT_ERR_REMOTE, "sign-in refused at %s: HTTP %ld "
		               "%s%s%s", c->salesforce_login_url, s->status,
		               s->errcode[0] ? s->errcode : "(no error code)",
		               s->errmsg[0] ? ": " : "", s->errmsg);
		goto out;
	}
	if (rc != CT_OK)
		goto out;
	if (ct_json_parse(reply.p ? reply.p : "", reply.len, 8, &o, err) != CT_OK ||
	    (tok = ct_json_str(o, "access_token")) == NULL || tok[0] == '\0' ||
	    (inst = ct_json_str(o, "instance_url")) == NULL || !safeurl(inst) ||
	    strlen(inst) > 1000 || strlen(tok) > 4096) {
		rc = ct_seterr(err, CT_ERR_REMOTE, "sign-in at %s: the answer has no "
		               "usable access_token and https instance_url",
		               c->salesforce_login_url);
		goto out;
	}
	if (s->token) {
		OPENSSL_cleanse(s->token, strlen(s->token));
		free(s->token);
	}
	free(s->instance);
	s->token = strdup(tok);
	s->instance = strdup(inst);
	if (s->token == NULL || s->instance == NULL) {
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (s->instance[0] && s->instance[strlen(s->instance) - 1] == '/')
		s->instance[strlen(s->instance) - 1] = '\0';
	rc = CT_OK;
out:
	wipe(&form);
	wipe(&secret);
	wipe(&reply);
	json_object_put(o);
	return rc;
}
