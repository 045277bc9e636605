/*
 * t/handler.c — calltrail-token's request logic without a web server:
 * every error row of SPEC section 3, the success shape, the fields the
 * client may not set, the agent allow-list, health, CORS, and that the
 * body is never read past its declared length (nor at all when refused).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <jwt.h>

#include "conf-sample.h"
#include "failmalloc.h"
#include "handler.h"
#include "tap.h"
#include "ct_time.h"
#include "ct_json.h"

#define SECRET "handler-secret-0123456789abcdef-0123456789"

static struct ct_conf conf;

/* A body in memory that counts what the handler asked for. */
struct mem {
	const char *p;
	size_t len, off, asked;
	int calls;
};

static long
memread(void *ctx, char *buf, size_t n)
{
	struct mem *m = ctx;
	size_t k = m->len - m->off < n ? m->len - m->off : n;

	m->calls++;
	m->asked += n;
	memcpy(buf, m->p + m->off, k);
	m->off += k;
	return (long)k;
}

struct req {
	const char *method, *path, *ctype, *clen, *body, *origin;
};

static struct ct_handler h;
static struct mem mb;

/* Run one request; clen NULL means "the body's length". */
static void
run(const struct req *r)
{
	char len[32];
	struct ct_http_req rq = { 0 };

	mb = (struct mem){ .p = r->body ? r->body : "", .len = r->body ? strlen(r->body) : 0 };
	snprintf(len, sizeof(len), "%zu", mb.len);
	rq.method = r->method;
	rq.path = r->path;
	rq.content_type = r->ctype;
	rq.content_length = r->clen ? (strcmp(r->clen, "-") == 0 ? NULL : r->clen) : len;
	rq.origin = r->origin;
	rq.read = memread;
	rq.read_ctx = &mb;
	ct_handler_run(&h, &rq, ct_time_now_us());
}

static const char *
errcode(void)
{
	static char code[64];
	struct json_object *o = json_tokener_parse(h.body.p ? h.body.p : "");
	const char *c = o ? ct_json_str(o, "error") : NULL;

	snprintf(code, sizeof(code), "%s", c ? c : "-");
	if (c && !ct_json_str(o, "message"))
		snprintf(code, sizeof(code), "no message");
	json_object_put(o);
	return code;
}

static int
has(const char *line)
{
	return h.head.p && strstr(h.head.p, line) != NULL;
}

#define J "application/json"
#define TOK "/api/connection-details"

static const struct row {
	struct req r;
	int status;
	const char *code, *header;
} rows[] = {
	{ { "POST", TOK, J, NULL, "{\"user_email\":", NULL }, 400, "invalid_json", NULL },
	{ { "POST", TOK, J, NULL, "[1,2]", NULL }, 400, "invalid_json", NULL },
	{ { "POST", TOK, J, NULL, "\"str\"", NULL }, 400, "invalid_json", NULL },
	{ { "POST", TOK, J, NULL, "", NULL }, 400, "invalid_json", NULL },
	{ { "POST", TOK, J, NULL, "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}", NULL },
	  400, "invalid_json", NULL },
	{ { "POST", TOK, J, NULL, "{} {}", NULL }, 400, "invalid_json", NULL },
	{ { "POST", TOK, J, NULL, "{\"user_email\":\"no-at-sign\"}", NULL }, 400, "invalid_email", NULL },
	{ { "POST", TOK, J, NULL, "{\"user_email\":\"-x@acme.com\"}", NULL }, 400, "invalid_email", NULL },
	{ { "POST", TOK, J, NULL, "{\"user_email\":\"a@localhost\"}", NULL }, 400, "invalid_email", NULL },
	{ { "POST", TOK, J, NULL, "{\"user_email\":5}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"room_config\":{\"agents\":[{\"agent_name\":\"evil\"}]}}", NULL },
	  400, "unknown_agent", NULL },
	{ { "POST", TOK, J, NULL, "{\"room_config\":[]}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"room_config\":{\"agents\":{}}}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"room_config\":{\"agents\":[5]}}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"room_config\":{\"agents\":[{\"agent_name\":1}]}}", NULL },
	  400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"room_config\":{\"agents\":[{\"metadata\":{}}]}}", NULL },
	  400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"participant_name\":true}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"participant_attributes\":\"x\"}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"participant_attributes\":{\"a\":1}}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"participant_attributes\":{\"a\":\"x\\u0000y\"}}", NULL }, 400, "invalid_field", NULL },
	/* strings taken whole: a NUL or control character is refused,
	 * never cut short (issue 12) */
	{ { "POST", TOK, J, NULL, "{\"participant_name\":\"Jane\\u0000Doe\"}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"participant_name\":\"Jane\\u001b[31m\"}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"participant_name\":\"Jane\\u0085\"}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"participant_name\":\"Jane\\u007f\"}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"room_config\":{\"agents\":[{\"agent_name\":\"sales-agent\\u0000junk\"}]}}", NULL },
	  400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"room_config\":{\"agents\":[{\"agent_name\":\"sales-agent\\n\"}]}}", NULL },
	  400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"participant_attributes\":{\"a\":\"x\\ny\"}}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"participant_attributes\":{\"a\\tb\":\"x\"}}", NULL }, 400, "invalid_field", NULL },
	{ { "POST", TOK, J, NULL, "{\"participant_name\":\"Jan\u00e9 \u2603\"}", NULL }, 200, "-", NULL },
	{ { "GET", TOK, NULL, "-", NULL, NULL }, 405, "method_not_allowed", "Allow: POST\r\n" },
	{ { "PUT", "/api/token", J, NULL, "{}", NULL }, 405, "method_not_allowed", "Allow: POST\r\n" },
	{ { "OPTIONS", TOK, NULL, "-", NULL, NULL }, 405, "method_not_allowed", "Allow: POST\r\n" },
	{ { "POST", "/api/healthz", J, NULL, "{}", NULL }, 405, "method_not_allowed", "Allow: GET, HEAD\r\n" },
	{ { "POST", TOK, J, "-", "{}", NULL }, 411, "length_required", NULL },
	{ { "POST", TOK, J, "", "{}", NULL }, 411, "length_required", NULL },
	{ { "POST", TOK, J, "12x", "{}", NULL }, 411, "length_required", NULL },
	{ { "POST", TOK, J, "16385", "{}", NULL }, 413, "body_too_large", NULL },
	{ { "POST", TOK, J, "99999999999999999999", "{}", NULL }, 413, "body_too_large", NULL },
	{ { "POST", TOK, "text/plain", NULL, "{}", NULL }, 415, "unsupported_media_type", NULL },
	{ { "POST", TOK, NULL, NULL, "{}", NULL }, 415, "unsupported_media_type", NULL },
	{ { "POST", TOK, "application/jsonp", NULL, "{}", NULL }, 415, "unsupported_media_type", NULL },
	{ { "POST", TOK, J, "100", "{}", NULL }, 400, "invalid_json", NULL },
	{ { "POST", "/api/other", J, NULL, "{}", NULL }, 404, "not_found", NULL },
	{ { "POST", NULL, J, NULL, "{}", NULL }, 404, "not_found", NULL },
	{ { "POST", "/api/token/", J, NULL, "{}", NULL }, 404, "not_found", NULL },
	{ { "POST", TOK, "Application/JSON; charset=utf-8", NULL, "{}", NULL }, 200, "-", NULL },
	{ { "POST", "/api/token", J, NULL, "{}", NULL }, 200, "-", NULL },
	{ { "GET", "/api/healthz", NULL, "-", NULL, NULL }, 200, "-", NULL },
};

static void
table(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		const char *b = w->r.body ? w->r.body : "";

		run(&w->r);
		ok(h.status == w->status && strcmp(errcode(), w->code) == 0 &&
		   (!w->header || has(w->header)) && has("Cache-Control: no-store\r\n"),
		   "%s %s [%s] %.40s -> %d %s", w->r.method, w->r.path ? w->r.path : "(null)",
		   w->r.ctype ? w->r.ctype : "-", b, w->status, w->code);
		if (h.status != w->status)
			diag("got %d %s", h.status, h.body.p ? h.body.p : "");
		/* Never past the declared length; not at all when refused early. */
		if (w->status == 413 || w->status == 415 || w->status == 411 || w->status == 405 ||
		    w->status == 404)
			ok(mb.calls == 0, "  the body was not read");
	}
}

static struct json_object *
answer(void)
{
	return json_tokener_parse(h.body.p ? h.body.p : "");
}

/* The claims of the token in the last answer. */
static struct json_object *
tokclaims(struct json_object *a)
{
	struct json_object *c = NULL;
	jwt_t *j = NULL;
	char *s;

	if (jwt_decode(&j, ct_json_str(a, "participantToken"), (const unsigned char *)SECRET,
	               (int)strlen(SECRET)) != 0)
		return NULL;
	if ((s = jwt_get_grants_json(j, NULL)) != NULL)
		c = json_tokener_parse(s);
	free(s);
	jwt_free(j);
	return c;
}

static void
success(void)
{
	struct req r = { "POST", TOK, J, NULL,
		"{\"user_email\":\"  Jane.Doe@acme.com \",\"participant_name\":\"Jane\","
		"\"room_name\":\"my-room\",\"participant_identity\":\"admin\","
		"\"participant_metadata\":\"{\\\"user_email\\\":\\\"evil@x.com\\\"}\","
		"\"participant_attributes\":{\"plan\":\"pro\"},"
		"\"room_config\":{\"agents\":[{\"agent_name\":\"support-agent\",\"metadata\":\"hi\"}]}}",
		NULL };
	struct json_object *a, *c, *md, *v;
	char cl[64];
	size_t n = 0;

	run(&r);
	is_int(200, h.status, "a full request answers 200");
	ok(has("Status: 200 OK\r\n") && has("Content-Type: application/json\r\n"),
	   "Status and Content-Type headers");
	snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", h.body.len);
	ok(has(cl), "Content-Length matches the body");
	ok(h.head.len >= 4 && memcmp(h.head.p + h.head.len - 4, "\r\n\r\n", 4) == 0,
	   "the head ends with a blank line");
	ok(!has("Access-Control"), "no CORS headers without cors_origin");
	a = answer();
	json_object_object_foreach(a, k, val) {
		(void)k;
		(void)val;
		n++;
	}
	is_int(6, (long long)n, "six fields in the answer");
	is_str("wss://lk.example.com", ct_json_str(a, "serverUrl"), "serverUrl");
	is_str("wss://lk.example.com", ct_json_str(a, "server_url"), "server_url");
	ok(ct_json_str(a, "participantToken") && ct_json_str(a, "participant_token") &&
	   strcmp(ct_json_str(a, "participantToken"), ct_json_str(a, "participant_token")) == 0,
	   "participantToken and participant_token are the same token");
	is_str("Jane", ct_json_str(a, "participantName"), "participantName");
	c = tokclaims(a);
	ok(c != NULL, "the token verifies with the secret");
	v = json_object_object_get(c, "video");
	is_str(ct_json_str(a, "roomName"), ct_json_str(v, "room"), "roomName is the token's room");
	ok(strcmp(ct_json_str(a, "roomName"), "my-room") != 0 &&
	   strncmp(ct_json_str(a, "roomName"), "voice_", 6) == 0, "room_name from the client ignored");
	ok(strncmp(ct_json_str(c, "sub"), "visitor_", 8) == 0, "participant_identity ignored");
	md = json_tokener_parse(ct_json_str(c, "metadata"));
	is_str("Jane.Doe@acme.com", ct_json_str(md, "user_email"),
	       "participant_metadata ignored; the email is trimmed");
	json_object_put(md);
	is_str("pro", ct_json_str(json_object_object_get(c, "attributes"), "plan"), "attributes passed");
	v = json_object_array_get_idx(json_object_object_get(
		json_object_object_get(c, "roomConfig"), "agents"), 0);
	is_str("support-agent", ct_json_str(v, "agentName"), "an allowed agent is dispatched");
	is_str(ct_json_str(a, "roomName"), h.room, "the log line gets the room");
	is_str("J***@acme.com", h.email, "the log line gets the masked email");
	json_object_put(c);
	json_object_put(a);
	ok(mb.asked <= mb.len, "never asked for more than the declared length");
}

static const char *
agent_of_answer(void)
{
	static char name[64];
	struct json_object *a = answer(), *c = tokclaims(a), *rc, *v = NULL;

	if (json_object_object_get_ex(c, "roomConfig", &rc))
		v = json_object_array_get_idx(json_object_object_get(rc, "agents"), 0);
	snprintf(name, sizeof(name), "%s", v ? ct_json_str(v, "agentName") : "(none)");
	json_object_put(c);
	json_object_put(a);
	return name;
}

static void
agents(void)
{
	struct req r = { "POST", TOK, J, NULL, "{\"user_email\":\"a@b.co\"}", NULL };

	run(&r);
	is_str("sales-agent", agent_of_answer(), "no agent named: the default_agent");
	r.body = "{\"room_config\":{\"agents\":[]}}";
	run(&r);
	is_str("sales-agent", agent_of_answer(), "an empty agents list: the default_agent");
	r.body = "{\"room_config\":{\"agents\":[{\"agent_name\":\"\"}]}}";
	run(&r);
	is_str("sales-agent", agent_of_answer(), "an empty agent_name: the default_agent");
	conf.default_agent = "";
	r.body = "{}";
	run(&r);
	is_str("(none)", agent_of_answer(), "default_agent empty: no roomConfig");
	r.body = "{\"room_config\":{\"agents\":[{\"agent_name\":\"support-agent\"}]}}";
	run(&r);
	is_str("support-agent", agent_of_answer(), "a named allowed agent still dispatched");
	conf.default_agent = "sales-agent";
}

static void
cors_and_health(void)
{
	struct req opt = { "OPTIONS", TOK, NULL, "-", NULL, "https://www.example.com" };
	struct req post = { "POST", TOK, J, NULL, "{}", "https://www.example.com" };
	struct req other = { "POST", TOK, J, NULL, "{}", "https://evil.example" };
	struct req health = { "HEAD", "/api/healthz", NULL, "-", NULL, NULL };

	run(&health);
	ok(h.status == 200 && strcmp(h.body.p, "{\"status\":\"ok\"}") == 0, "HEAD /api/healthz is 200");
	conf.cors_origin = "https://www.example.com";
	run(&opt);
	ok(h.status == 204 && has("Access-Control-Allow-Origin: https://www.example.com\r\n") &&
	   has("Access-Control-Allow-Methods: POST") && has("Access-Control-Allow-Headers: Content-Type") &&
	   has("Vary: Origin\r\n") && !has("Content-Type:"), "OPTIONS preflight: 204 with CORS headers");
	run(&post);
	ok(h.status == 200 && has("Access-Control-Allow-Origin: https://www.example.com\r\n") &&
	   has("Vary: Origin\r\n"), "a POST from the origin gets Access-Control-Allow-Origin");
	run(&other);
	ok(h.status == 200 && !has("Access-Control-Allow-Origin") && has("Vary: Origin\r\n"),
	   "another origin gets no Access-Control-Allow-Origin");
	conf.cors_origin = "";
}

static void
bodies(void)
{
	static char big[CT_BODY_MAX + 1];
	struct req r = { "POST", TOK, J, NULL, big, NULL };
	size_t n;

	/* Exactly 16 KiB is allowed (and then it is a long name: invalid_field). */
	n = (size_t)snprintf(big, sizeof(big), "{\"participant_name\":\"");
	memset(big + n, 'x', CT_BODY_MAX - n - 2);
	memcpy(big + CT_BODY_MAX - 2, "\"}", 3);
	run(&r);
	ok(h.status == 400 && strcmp(errcode(), "invalid_field") == 0 && mb.off == CT_BODY_MAX,
	   "a 16384-byte body is read whole (and its 16 KiB name refused)");
	/* A body longer than declared: only the declared bytes are read. */
	r.body = "{}   trailing bytes the client sent past its Content-Length";
	r.clen = "2";
	run(&r);
	ok(h.status == 200 && mb.asked == 2, "only the declared bytes are read");
	/* The handler keeps serving after all this. */
	r.body = "{}";
	r.clen = NULL;
	run(&r);
	is_int(200, h.status, "the same handler keeps serving");
}

#define O "https://www.example.com"

/* CORS (SPEC sections 3 and 8): the preflight names exactly what the form
 * needs, only to cors_origin; any other origin, or none, gets no CORS
 * header at all and is still served (the browser does the refusing). */
static void
cors_preflight(void)
{
	struct req opt = { "OPTIONS", TOK, NULL, "-", NULL, O };
	struct req optother = { "OPTIONS", TOK, NULL, "-", NULL, "https://evil.example" };
	struct req optslash = { "OPTIONS", TOK, NULL, "-", NULL, "https://www.example.com/" };
	struct req optnone = { "OPTIONS", "/api/token", NULL, "-", NULL, NULL };
	struct req refused = { "POST", TOK, J, NULL, "{\"user_email\":\"no-at-sign\"}", O };
	struct req evilok = { "POST", TOK, J, NULL, "{\"user_email\":\"jane@acme.com\"}",
	                      "https://evil.example" };

	conf.cors_origin = O;
	run(&opt);
	ok(h.status == 204 && h.body.len == 0, "preflight from cors_origin: 204, no body");
	ok(has("Access-Control-Allow-Origin: https://www.example.com\r\n") &&
	   has("Access-Control-Allow-Methods: POST\r\n") &&
	   has("Access-Control-Allow-Headers: Content-Type\r\n") &&
	   has("Access-Control-Max-Age: 600\r\n") && has("Vary: Origin\r\n"),
	   "preflight: origin, POST, Content-Type, max age, Vary: Origin");
	run(&optother);
	ok(h.status == 204 && !has("Access-Control-") && has("Vary: Origin\r\n"),
	   "preflight from another origin: no CORS header at all");
	run(&optslash);
	ok(!has("Access-Control-"), "an origin that differs by a trailing slash is another origin");
	run(&optnone);
	ok(h.status == 204 && !has("Access-Control-"), "OPTIONS without Origin: no CORS header");
	run(&refused);
	ok(h.status == 400 && strcmp(errcode(), "invalid_email") == 0 &&
	   has("Access-Control-Allow-Origin: https://www.example.com\r\n") &&
	   !has("Access-Control-Allow-Methods"),
	   "a refusal reaches the allowed origin's page (its error readable)");
	run(&evilok);
	ok(h.status == 200 && !has("Access-Control-") && h.room[0] != '-',
	   "a POST from another origin is still served: never refused for its Origin");
	conf.cors_origin = "*";
	run(&optother);
	ok(has("Access-Control-Allow-Origin: *\r\n") && has("Access-Control-Allow-Methods: POST\r\n"),
	   "cors_origin = *: every origin is allowed");
	conf.cors_origin = "";
	run(&opt);
	ok(h.status == 405 && !has("Access-Control-"), "no cors_origin: OPTIONS is 405, no CORS header");
}
#undef O

/*
 * For every N, the Nth allocation calltrail makes while handling a
 * request fails (issue 11): the answer is the token or a clean 500
 * server_error (an empty answer only when even that could not be built),
 * nothing leaks, nothing crashes.  The handler and the thread's token
 * tree are built afresh each round so their first-use allocations fail
 * too.
 */
static void
nomem(void)
{
	struct req r = { "POST", TOK, J, NULL,
		"{\"user_email\":\"Jane.Doe@Acme.com\",\"participant_name\":\"Jane\","
		"\"participant_attributes\":{\"plan\":\"pro\",\"src\":\"form\"},"
		"\"room_config\":{\"agents\":[{\"agent_name\":\"support-agent\","
		"\"metadata\":\"{\\\"topic\\\":\\\"pricing\\\",\\\"USER_EMAIL\\\":\\\"x@y.z\\\"}\"}]}}",
		NULL };
	int n, bad = 0, leaks = 0, oks = 0, fails = 0;
	long live;

	if (!failmalloc_available()) {
		for (n = 0; n < 3; n++)
			printf("ok %d # SKIP allocation failures cannot be injected (sanitizer build)\n",
			       ++tap_n);
		return;
	}
	ct_handler_free(&h);
	ct_token_thread_done();
	for (n = 1; n < 10000; n++) {
		live = failmalloc_live();
		ct_handler_init(&h, &conf);
		failmalloc_fail_at(n);
		run(&r);
		failmalloc_fail_at(0);
		if (h.status == 200 && strcmp(errcode(), "-") == 0)
			oks++;
		else if (h.status == 500 && (h.head.len == 0 || strcmp(errcode(), "server_error") == 0))
			fails++;
		else if (bad++ == 0)
			diag("allocation %d failed: %d %s", n, h.status, h.body.p ? h.body.p : "");
		ct_handler_free(&h);
		ct_token_thread_done();
		if (failmalloc_live() != live && leaks++ == 0)
			diag("allocation %d failed: %ld blocks leaked", n, failmalloc_live() - live);
		if (!failmalloc_fired())
			break;
	}
	diag("%d allocations failed in turn: %d answers 500, then the token", n - 1, fails);
	ok(n > 1 && fails == n - 1 && oks == 1, "every failed allocation is a 500 server_error");
	is_int(0, bad, "... never another answer");
	is_int(0, leaks, "... and never a leak");
	ct_handler_init(&h, &conf);
}

int
main(void)
{
	conf_sample(&conf, SECRET, "");
	ct_log_init("handler-t");
	ct_handler_init(&h, &conf);
	table();
	success();
	agents();
	cors_and_health();
	bodies();
	cors_preflight();

	nomem();
	ct_handler_free(&h);
	(void)plan;   /* the table decides the count: the plan comes last */
	printf("1..%d\n", tap_n);
	return done();
}
