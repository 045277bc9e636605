/*
 * fuzz-handler.c — libFuzzer harness for calltrail-token's request
 * handler (cgi/handler.c, SPEC section 3), two ways from one file:
 *
 *   fuzz-handler          the input is the body of
 *                         POST /api/connection-details, Content-Type
 *                         application/json, Content-Length its size;
 *   fuzz-handler-headers  (built with -DCT_FUZZ_HEADERS) the input is five
 *                         lines — method, path, Content-Type,
 *                         Content-Length, Origin; a line "~" means the
 *                         variable is absent — then the body.  The body
 *                         reader hands it out in chunks of at most the
 *                         first body byte + 1 bytes, so short reads and a
 *                         body shorter or longer than declared are tried.
 *
 * The configuration is fixed (written and loaded once): agents
 * sales-agent and support-agent, default sales-agent, CORS for
 * https://www.example.com.  The clock is fixed too.
 *
 * Checked on every request, besides no crash and no leak:
 *   - the head is "Status: N reason", header lines without stray CR/LF
 *     or control characters, ended by a blank line; Content-Length is
 *     the body's length;
 *   - the body is a JSON object: {"error","message"} with the status the
 *     spec gives that code, or on 200 the token fields;
 *   - 500 never happens (no request can make the handler fail);
 *   - the whole email never appears in the answer, the log detail or the
 *     masked log form — except inside the signed token;
 *   - a 200's token verifies with the secret, its metadata carries exactly
 *     the email the request gave (trimmed), the room and identity are the
 *     server's, and the browser gets no canUpdateOwnMetadata;
 *   - with the body variant, only 200, 400 and (over 16 KiB) 413 occur;
 *   - a body the handler parsed as JSON (a 200, or a 400 for a field
 *     rule) is RFC 8259 JSON to any parser: with CT_FUZZ_ACCEPTED set
 *     it is kept for Python's json module (accepted.h,
 *     t/fuzz-regress.sh).
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <jwt.h>

#include "accepted.h"
#include "handler.h"
#include "scrubenv.h"
#include "ct_email.h"
#include "ct_json.h"
#include "check.h"

#define SECRET "fuzz-secret-0123456789abcdef0123456789abcdef"
#define NOW_US 1761761045123456LL   /* 2025-10-29T18:04:05.123456Z */


static struct ct_conf conf;
static struct ct_handler handler;

static void
teardown(void)
{
	ct_handler_free(&handler);
	ct_conf_free(&conf);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char text[] =
		"livekit_url = wss://fuzz.example.livekit.cloud\n"
		"livekit_api_key = APIfuzz\n"
		"livekit_api_secret = " SECRET "\n"
		"agents = sales-agent, support-agent\n"
		"default_agent = sales-agent\n"
		"cors_origin = https://www.example.com\n";
	const char *tmp = getenv("TMPDIR");
	char path[300], err[CT_ERRLEN], warn[CT_ERRLEN];
	int fd;

	(void)argc;
	(void)argv;
	/* Only the file below may configure the handler. */
	scrubenv();
	snprintf(path, sizeof(path), "%s/ct-fuzz-handler.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1) &&
	      close(fd) == 0, "writing the configuration");
	if (ct_conf_load(&conf, path, err) != CT_OK || ct_conf_require_livekit(&conf, err, warn) != CT_OK) {
		fprintf(stderr, "fuzz-handler: configuration: %s\n", err);
		abort();
	}
	unlink(path);
	ct_handler_init(&handler, &conf);
	atexit(teardown);
	return 0;
}

struct body {
	const uint8_t *p;
	size_t len, off, chunk;
};

static long
readbody(void *ctx, char *buf, size_t n)
{
	struct body *b = ctx;

	if (n > b->len - b->off)
		n = b->len - b->off;
	if (n > b->chunk)
		n = b->chunk;
	memcpy(buf, b->p + b->off, n);
	b->off += n;
	return (long)n;
}

static int
contains(const char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* The status the spec gives each error code. */
static int
status_of(const char *code)
{
	static const struct { const char *code; int status; } t[] = {
		{ "invalid_json", 400 }, { "invalid_email", 400 }, { "unknown_agent", 400 },
		{ "invalid_field", 400 }, { "method_not_allowed", 405 },
		{ "length_required", 411 }, { "body_too_large", 413 },
		{ "unsupported_media_type", 415 }, { "server_error", 500 },
		{ "not_found", 404 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].code, code) == 0)
			return t[i].status;
	return -1;
}

static void
checkhead(const struct ct_handler *h)
{
	const char *p = h->head.p, *end;
	char want[64];
	int n = 0;

	CHECK(p != NULL && h->head.len > 4, "a head");
	CHECK(strlen(p) == h->head.len, "no NUL in the head");
	snprintf(want, sizeof(want), "Status: %d ", h->status);
	CHECK(strncmp(p, want, strlen(want)) == 0, "the head starts with Status: N");
	CHECK(h->head.len >= 4 && strcmp(p + h->head.len - 4, "\r\n\r\n") == 0,
	      "the head ends with a blank line");
	for (; *p; p = end + 2) {
		end = strstr(p, "\r\n");
		CHECK(end != NULL, "every header line ends with CRLF");
		if (end == p) {
			CHECK(p[2] == '\0', "nothing after the blank line");
			break;
		}
		for (const char *q = p; q < end; q++)
			CHECK((unsigned char)*q >= 0x20 && *q != 0x7f,
			      "no control character in a header line");
		CHECK(memchr(p, ':', (size_t)(end - p)) != NULL, "header lines are Name: value");
		n++;
	}
	if (h->status != 204) {
		snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", h->body.len);
		CHECK(strstr(h->head.p, want) != NULL, "Content-Length is the body's length");
	}
	if (h->status == 405)
		CHECK(strstr(h->head.p, "\r\nAllow: ") != NULL, "405 has Allow");
}

/* The request's user_email as the rule trims it, or "" when there is
 * none the handler could have accepted. */
static void
reqemail(const uint8_t *body, size_t len, char out[CT_EMAIL_MAX + 1], int *given)
{
	struct json_object *o = NULL, *v;

	out[0] = '\0';
	*given = 0;
	if (ct_json_parse((const char *)body, len, 8, &o, NULL) != CT_OK)
		return;
	if (json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "user_email", &v) &&
	    json_object_is_type(v, json_type_string)) {
		*given = 1;
		if (ct_email_check(json_object_get_string(v),
		                   (size_t)json_object_get_string_len(v), out, NULL) != CT_OK)
			snprintf(out, CT_EMAIL_MAX + 1, "%.*s", json_object_get_string_len(v),
			         json_object_get_string(v));
	}
	json_object_put(o);
}

/* The answer to a 200: the token and what it carries. */
static void
checktoken(struct json_object *resp, const char *email)
{
	struct json_object *meta = NULL, *v;
	const char *tok = ct_json_str(resp, "participantToken"), *s, *room;
	char *video;
	jwt_t *jwt = NULL;

	CHECK(tok != NULL, "participantToken");
	CHECK(ct_json_str(resp, "participant_token") &&
	      strcmp(ct_json_str(resp, "participant_token"), tok) == 0, "participant_token");
	room = ct_json_str(resp, "roomName");
	CHECK(room && strncmp(room, "voice_", 6) == 0, "the server names the room");
	CHECK(jwt_decode(&jwt, tok, (const unsigned char *)SECRET, sizeof(SECRET) - 1) == 0 &&
	      jwt != NULL, "the token verifies with the secret");
	CHECK(jwt_get_alg(jwt) == JWT_ALG_HS256, "HS256");
	CHECK((s = jwt_get_grant(jwt, "iss")) && strcmp(s, "APIfuzz") == 0, "iss is the key");
	CHECK((s = jwt_get_grant(jwt, "sub")) && strncmp(s, "visitor_", 8) == 0 &&
	      strlen(s) == 8 + 16, "the server names the identity");
	CHECK(jwt_get_grant_int(jwt, "exp") - jwt_get_grant_int(jwt, "nbf") == 900, "ttl 900");
	s = jwt_get_grant(jwt, "metadata");
	CHECK(s != NULL && ct_json_parse(s, strlen(s), 4, &meta, NULL) == CT_OK,
	      "metadata is a JSON string");
	CHECK(json_object_object_length(meta) == 2, "metadata holds user_email and session_start");
	CHECK(json_object_object_get_ex(meta, "user_email", &v) &&
	      json_object_is_type(v, json_type_string) &&
	      strcmp(json_object_get_string(v), email) == 0,
	      "the token carries the request's email, trimmed");
	CHECK((s = ct_json_str(meta, "session_start")) && strcmp(s, "2025-10-29T18:04:05.123Z") == 0,
	      "session_start is the mint time");
	video = jwt_get_grants_json(jwt, "video");
	CHECK(video != NULL && strstr(video, "canUpdateOwnMetadata") == NULL,
	      "no canUpdateOwnMetadata");
	CHECK(strstr(video, room) != NULL, "the grant is for the room answered");
	free(video);
	json_object_put(meta);
	jwt_free(jwt);
}

static void
checkanswer(const struct ct_handler *h, const uint8_t *body, size_t blen)
{
	struct json_object *resp = NULL;
	char email[CT_EMAIL_MAX + 1];
	const char *at;
	int given;

	CHECK(h->status != 500, "no request makes the handler fail (500)");
	checkhead(h);
	CHECK(strlen(h->room) < sizeof(h->room) && strlen(h->email) < sizeof(h->email),
	      "log fields terminated");
	if (h->status == 204) {
		CHECK(h->body.len == 0, "a preflight has no body");
		return;
	}
	CHECK(h->body.p && ct_json_parse(h->body.p, h->body.len, 8, &resp, NULL) == CT_OK &&
	      json_object_is_type(resp, json_type_object), "the body is a JSON object");
	reqemail(body, blen, email, &given);
	if (h->status == 200 && h->code == NULL && ct_json_str(resp, "participantToken")) {
		CHECK(given || email[0] == '\0', "no email given, none carried");
		checktoken(resp, email);
		CHECK(strcmp(h->room, ct_json_str(resp, "roomName")) == 0, "the log names the room");
	} else if (h->status != 200) {
		CHECK(h->code && status_of(h->code) == h->status, "the status the spec gives the code");
		CHECK(ct_json_str(resp, "error") && strcmp(ct_json_str(resp, "error"), h->code) == 0,
		      "error is the code");
		CHECK(ct_json_str(resp, "message") != NULL, "a message");
		CHECK(strcmp(h->room, "-") == 0, "no room without a token");
	}
	/* The whole address must not leak (a JWT is base64url: no '@' in it).
	 * Only addresses with a letter or digit either side of the '@' are
	 * looked for, so a fixed message such as "starts with one of
	 * = + - @" is not mistaken for one. */
	if ((at = strchr(email, '@')) != NULL && at > email &&
	    isalnum((unsigned char)at[-1]) && isalnum((unsigned char)at[1])) {
		CHECK(!contains(h->body.p, h->body.len, email), "the email is not in the answer");
		CHECK(!contains(h->head.p, h->head.len, email), "the email is not in the head");
		CHECK(strstr(h->err, email) == NULL, "the email is not in the log detail");
		CHECK(strstr(h->email, email) == NULL, "the log masks the email");
	}
	json_object_put(resp);
}

#ifdef CT_FUZZ_HEADERS
/* Next line of the input as a C string (NULL for "~"). */
static const char *
field(const uint8_t **p, const uint8_t *end, char *buf, size_t cap)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);

	if (n >= cap)
		n = cap - 1;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p = nl ? nl + 1 : end;
	return strcmp(buf, "~") == 0 ? NULL : buf;
}
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_http_req rq = { 0 };
	struct body b = { data, size, 0, SIZE_MAX };
	char clen[32];
#ifdef CT_FUZZ_HEADERS
	char method[64], path[CT_PATH_MAX + 64], ctype[256], cl[64], origin[256];
	const uint8_t *p = data, *end = data + size;

	rq.method = field(&p, end, method, sizeof(method));
	rq.path = field(&p, end, path, sizeof(path));
	rq.content_type = field(&p, end, ctype, sizeof(ctype));
	rq.content_length = field(&p, end, cl, sizeof(cl));
	rq.origin = field(&p, end, origin, sizeof(origin));
	b.p = p;
	b.len = (size_t)(end - p);
	b.chunk = b.len ? (size_t)p[0] + 1 : 1;
	(void)clen;
#else
	snprintf(clen, sizeof(clen), "%zu", size);
	rq.method = "POST";
	rq.path = "/api/connection-details";
	rq.content_type = "application/json";
	rq.content_length = clen;
	rq.origin = "https://www.example.com";
#endif
	rq.read = readbody;
	rq.read_ctx = &b;
	ct_handler_run(&handler, &rq, NOW_US);
	checkanswer(&handler, b.p, b.off);
	/* The JSON parser took the body: a token was minted (a room is
	 * named), or a field rule refused it. */
	if ((handler.status == 200 && strcmp(handler.room, "-") != 0) ||
	    (handler.status == 400 && handler.code != NULL &&
	     strcmp(handler.code, "invalid_json") != 0))
		fuzz_accepted("handler", b.p, b.off);
#ifndef CT_FUZZ_HEADERS
	CHECK((size > CT_BODY_MAX) == (handler.status == 413), "413 exactly when over 16 KiB");
	CHECK(handler.status == 200 || handler.status == 400 || handler.status == 413,
	      "only 200, 400 or 413 for a well-formed POST");
	CHECK(size > CT_BODY_MAX || b.off == size, "the whole body is read");
#endif
	return 0;
}
