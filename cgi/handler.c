/*
 * handler.c — the HTTP logic of calltrail-token (SPEC section 3).
 *
 *   POST /api/connection-details, POST /api/token   mint a token
 *   GET|HEAD /api/healthz                            {"status":"ok"}
 *   OPTIONS on those paths                           CORS preflight, when
 *                                                    cors_origin is set
 *
 * Everything the client sends is checked before it is used, cheapest
 * first: the path, the method, the declared length (a body over 16 KiB is
 * refused without reading a byte of it), the media type, then the JSON.
 * The body is read only up to the declared length.  The client never names
 * the room, the identity or the metadata: those are the server's, and the
 * metadata carries the email the rest of calltrail trusts.
 *
 * No request can make this fail: every problem becomes a JSON error
 * {"error":CODE,"message":TEXT}, 500 server_error at worst, with the
 * detail kept for the log line only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "handler.h"
#include "ct_email.h"
#include "ct_json.h"

/* Deep enough for room_config.agents[0].metadata, shallow enough that no
 * client can make the parser work hard. */
#define REQ_DEPTH 8

enum route { R_NONE, R_TOKEN, R_HEALTH };

/* The status line of the CGI response; any status of ours but those
 * below is a 500. */
static const char *
statusline(int status)
{
	switch (status) {
	case 200: return "Status: 200 OK\r\n";
	case 204: return "Status: 204 No Content\r\n";
	case 400: return "Status: 400 Bad Request\r\n";
	case 404: return "Status: 404 Not Found\r\n";
	case 405: return "Status: 405 Method Not Allowed\r\n";
	case 411: return "Status: 411 Length Required\r\n";
	case 413: return "Status: 413 Content Too Large\r\n";
	case 415: return "Status: 415 Unsupported Media Type\r\n";
	default:  return "Status: 500 Internal Server Error\r\n";
	}
}

void
ct_handler_init(struct ct_handler *h, const struct ct_conf *conf)
{
	memset(h, 0, sizeof(*h));
	h->conf = conf;
	ct_buf_init(&h->head, 4096);
	ct_buf_init(&h->body, 64 * 1024);
	ct_buf_init(&h->in, CT_BODY_MAX);
}

void
ct_handler_free(struct ct_handler *h)
{
	json_object_put(h->ok);
	h->ok = NULL;
	ct_buf_free(&h->head);
	ct_buf_free(&h->body);
	ct_buf_free(&h->in);
}

/*
 * The head of the response: status, our fixed headers, Allow when the
 * method was wrong, CORS when configured.  A preflight (204) has no body
 * and so no Content-Type.
 */
static int
head(struct ct_handler *h, const char *allow, const char *origin)
{
	const char *cors = h->conf->cors_origin;
	struct ct_buf *b = &h->head;
	int rc;

	ct_buf_reset(b);
	rc = ct_buf_adds(b, statusline(h->status));
	if (rc == CT_OK && h->status != 204 &&
	    (rc = ct_buf_adds(b, "Content-Type: application/json\r\nContent-Length: ")) == CT_OK &&
	    (rc = ct_buf_addu(b, h->body.len)) == CT_OK)
		rc = ct_buf_adds(b, "\r\n");
	if (rc == CT_OK)
		rc = ct_buf_adds(b, "Cache-Control: no-store\r\n");
	if (rc == CT_OK && allow)
		rc = ct_buf_printf(b, "Allow: %s\r\n", allow);
	if (rc == CT_OK && cors && *cors) {
		/* CORS headers go to the configured origin only (or to all
		 * with "*"); any other origin gets none and its browser does
		 * the refusing, so nothing is refused here because of an
		 * Origin (browsers send one on same-origin POSTs too).  Vary
		 * goes to everyone: it keeps caches from handing one origin's
		 * answer to another. */
		int allowed = strcmp(cors, "*") == 0 || (origin && strcmp(origin, cors) == 0);

		if (allowed)
			rc = ct_buf_printf(b, "Access-Control-Allow-Origin: %s\r\n", cors);
		if (rc == CT_OK)
			rc = ct_buf_adds(b, "Vary: Origin\r\n");
		/* The preflight: the form POSTs JSON, so POST and
		 * Content-Type are all it needs; browsers keep the answer
		 * Max-Age seconds (Chromium caps it at 7200). */
		if (rc == CT_OK && allowed && h->status == 204)
			rc = ct_buf_adds(b, "Access-Control-Allow-Methods: POST\r\n"
			                 "Access-Control-Allow-Headers: Content-Type\r\n"
			                 "Access-Control-Max-Age: 600\r\n");
	}
	if (rc == CT_OK)
		rc = ct_buf_adds(b, "\r\n");
	return rc;
}

/* Set body to a json-c object's text. */
static int
settext(struct ct_handler *h, struct json_object *o)
{
	const char *s;
	size_t n;

	ct_buf_reset(&h->body);
	if ((s = json_object_to_json_string_length(o, CT_JSON_FLAGS, &n)) == NULL)
		return CT_ERR_NOMEM;
	return ct_buf_add(&h->body, s, n);
}

/* The same, and the object is consumed. */
static int
setjson(struct ct_handler *h, struct json_object *o)
{
	int rc = o != NULL ? settext(h, o) : CT_ERR_NOMEM;

	json_object_put(o);
	return rc;
}

/* The last resort when even building an answer failed: static bytes. */
static void
fallback(struct ct_handler *h)
{
	static const char b[] = "{\"error\":\"server_error\",\"message\":\"internal error\"}";

	h->status = 500;
	h->code = "server_error";
	ct_buf_reset(&h->body);
	ct_buf_reset(&h->head);
	if (ct_buf_add(&h->body, b, sizeof(b) - 1) != CT_OK || head(h, NULL, NULL) != CT_OK) {
		/* Out of memory twice over: send nothing rather than crash;
		 * the web server turns an empty answer into a 502. */
		ct_buf_reset(&h->body);
		ct_buf_reset(&h->head);
	}
}

/* An error answer {"error":code,"message":msg}. */
static void
fail(struct ct_handler *h, int status, const char *code, const char *msg,
     const char *allow, const char *origin)
{
	struct json_object *o = json_object_new_object();

	h->status = status;
	h->code = code;
	if (o == NULL ||
	    json_object_object_add(o, "error", json_object_new_string(code)) != 0 ||
	    json_object_object_add(o, "message", json_object_new_string(msg)) != 0) {
		json_object_put(o);
		fallback(h);
		return;
	}
	if (setjson(h, o) != CT_OK || head(h, allow, origin) != CT_OK)
		fallback(h);
}

static enum route
route(const char *path)
{
	if (path == NULL)
		return R_NONE;
	if (strcmp(path, "/api/connection-details") == 0 || strcmp(path, "/api/token") == 0)
		return R_TOKEN;
	if (strcmp(path, "/api/healthz") == 0)
		return R_HEALTH;
	return R_NONE;
}

/* "application/json", any case, optionally followed by parameters. */
static int
is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Content-Length: digits only, at most 9 of them (anything bigger is far
 * over the cap anyway).  -1 when absent or malformed. */
static long
declared(const char *s)
{
	long n = 0;
	size_t i;

	if (s == NULL || *s == '\0')
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (i >= 9)
			return CT_BODY_MAX + 1L;
		n = n * 10 + (s[i] - '0');
	}
	return n;
}

/* Read exactly len bytes of body into h->in; -1 when it ends early, -2
 * when memory ran out (ours, not the client's fault). */
static int
readbody(struct ct_handler *h, const struct ct_http_req *rq, size_t len)
{
	char chunk[4096];
	long n;

	ct_buf_reset(&h->in);
	while (h->in.len < len) {
		size_t want = len - h->in.len;

		if (rq->read == NULL)
			return -1;
		if (want > sizeof(chunk))
			want = sizeof(chunk);
		if ((n = rq->read(rq->read_ctx, chunk, want)) <= 0)
			return -1;
		if (ct_buf_add(&h->in, chunk, (size_t)n) != CT_OK)
			return -2;
	}
	return 0;
}

/*
 * A string taken whole: no NUL (json-c keeps "\u0000" in a string whose
 * C reading would stop there) and no control character, C0, DEL or C1
 * (U+0080..U+009F, "\xc2\x80".."\xc2\x9f" in UTF-8).  A name or an
 * attribute is shown to people and read by C code downstream.
 */
static int
clean(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f ||
		    (ch == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
		     (unsigned char)s[i + 1] <= 0x9f))
			return 0;
	}
	return 1;
}

/*
 * Member key of o when it has type t: 1.  Absent or null: 0 (every field
 * is optional).  Any other type: -1.
 */
static int
member(struct json_object *o, const char *key, enum json_type t,
       struct json_object **v)
{
	*v = NULL;
	if (!json_object_object_get_ex(o, key, v) || *v == NULL)
		return 0;
	return json_object_is_type(*v, t) ? 1 : -1;
}

/*
 * room_config.agents[0].{agent_name,metadata}, as LiveKit's clients send
 * them.  A field of the wrong shape is invalid_field; no agents at all
 * leaves *name NULL.
 */
static const char *
agentreq(struct json_object *req, const char **name, const char **meta)
{
	struct json_object *rc, *agents, *a0, *v;
	int m;

	*name = *meta = NULL;
	if ((m = member(req, "room_config", json_type_object, &rc)) <= 0)
		return m < 0 ? "room_config: must be an object" : NULL;
	if ((m = member(rc, "agents", json_type_array, &agents)) <= 0)
		return m < 0 ? "room_config.agents: must be an array" : NULL;
	if (json_object_array_length(agents) == 0)
		return NULL;
	a0 = json_object_array_get_idx(agents, 0);
	if (!json_object_is_type(a0, json_type_object))
		return "room_config.agents[0]: must be an object";
	if ((m = member(a0, "agent_name", json_type_string, &v)) < 0 ||
	    (m > 0 && (json_object_get_string_len(v) > CT_TOKEN_AGENT_MAX ||
	               !clean(json_object_get_string(v), (size_t)json_object_get_string_len(v)))))
		return "room_config.agents[0].agent_name: must be a string of at most 128 bytes "
		       "without control characters";
	if (m > 0)
		*name = json_object_get_string(v);
	if ((m = member(a0, "metadata", json_type_string, &v)) < 0 ||
	    (m > 0 && json_object_get_string_len(v) > CT_TOKEN_AGENT_META_MAX))
		return "room_config.agents[0].metadata: must be a string of at most 8192 bytes";
	if (m > 0)
		*meta = json_object_get_string(v);
	return NULL;
}

/* participant_attributes: an object of strings, 16 KiB at most. */
static const char *
attrsreq(struct json_object *req, struct json_object **attrs)
{
	static const char msg[] =
		"participant_attributes: must be an object of strings of at most 16384 bytes "
		"without control characters";
	size_t total = 0;
	int m;

	if ((m = member(req, "participant_attributes", json_type_object, attrs)) <= 0)
		return m < 0 ? msg : NULL;
	json_object_object_foreach(*attrs, k, v) {
		/* A NUL ("\u0000") would be cut by C readers and is refused by
		 * JWT libraries built on jansson: refuse it, and every other
		 * control character, in keys and values. */
		if (!json_object_is_type(v, json_type_string) || !clean(k, strlen(k)) ||
		    !clean(json_object_get_string(v), (size_t)json_object_get_string_len(v)))
			return msg;
		total += strlen(k) + (size_t)json_object_get_string_len(v);
		if (total > CT_TOKEN_ATTRS_MAX)
			return msg;
	}
	return NULL;
}

/*
 * A compact JWS is base64url and dots only: nothing in it needs escaping,
 * so json-c is told to write it as it is (json_object_set_serializer)
 * instead of scanning its ~1.3 KB byte by byte, twice per answer.  Any
 * other string keeps json-c's own escaping.
 */
static int
jws_json(struct json_object *o, struct printbuf *pb, int level, int flags)
{
	(void)level;
	(void)flags;
	if (printbuf_memappend(pb, "\"", 1) < 0 ||
	    printbuf_memappend(pb, json_object_get_string(o), json_object_get_string_len(o)) < 0 ||
	    printbuf_memappend(pb, "\"", 1) < 0)
		return -1;
	return 0;
}

/*
 * The 200 answer has the same members every time: the tree is built once
 * per handler, and each answer only sets its values (no json-c allocation
 * per request).  Both the camelCase and the snake_case names.
 */
static int
ok_tree(struct ct_handler *h)
{
	if (h->ok != NULL)
		return 0;
	if ((h->ok = json_object_new_object()) == NULL ||
	    ct_json_add(h->ok, "serverUrl", json_object_new_string(""), &h->ok_url) != 0 ||
	    ct_json_add(h->ok, "roomName", json_object_new_string(""), &h->ok_room) != 0 ||
	    ct_json_add(h->ok, "participantName", json_object_new_string(""), &h->ok_name) != 0 ||
	    ct_json_add(h->ok, "participantToken", json_object_new_string(""), &h->ok_tok) != 0 ||
	    ct_json_add(h->ok, "server_url", json_object_new_string(""), &h->ok_url2) != 0 ||
	    ct_json_add(h->ok, "participant_token", json_object_new_string(""), &h->ok_tok2) != 0) {
		json_object_put(h->ok);
		h->ok = NULL;
		return -1;
	}
	return 0;
}

/* 200 with the token. */
static void
success(struct ct_handler *h, const struct ct_token *t, const char *origin)
{
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
	const char *url = h->conf->livekit_url;
	json_object_to_json_string_fn *jws = t->jwt[strspn(t->jwt, b64url)] == '\0' ? jws_json : NULL;

	h->status = 200;
	h->code = NULL;
	if (ok_tree(h) != 0 ||
	    ct_json_set_str(h->ok, "serverUrl", &h->ok_url, url) != 0 ||
	    ct_json_set_str(h->ok, "roomName", &h->ok_room, t->room) != 0 ||
	    ct_json_set_str(h->ok, "participantName", &h->ok_name, t->name) != 0 ||
	    ct_json_set_str(h->ok, "participantToken", &h->ok_tok, t->jwt) != 0 ||
	    ct_json_set_str(h->ok, "server_url", &h->ok_url2, url) != 0 ||
	    ct_json_set_str(h->ok, "participant_token", &h->ok_tok2, t->jwt) != 0) {
		fallback(h);
		return;
	}
	json_object_set_serializer(h->ok_tok, jws, NULL, NULL);
	json_object_set_serializer(h->ok_tok2, jws, NULL, NULL);
	if (settext(h, h->ok) != CT_OK || head(h, NULL, origin) != CT_OK)
		fallback(h);
}

/* The token route once the body is in h->in. */
static void
token(struct ct_handler *h, const char *origin, int64_t now_us)
{
	struct json_object *req = NULL, *v, *attrs = NULL;
	struct ct_token_req tr = { 0 };
	struct ct_token t = { 0 };
	char email[CT_EMAIL_MAX + 1];
	const char *why, *name = NULL, *agent, *meta;
	int m, rc;

	if ((rc = ct_json_parse(h->in.p, h->in.len, REQ_DEPTH, &req, h->err)) == CT_ERR_NOMEM) {
		fail(h, 500, "server_error", "internal error", NULL, origin);
		goto out;
	}
	if (rc != CT_OK || !json_object_is_type(req, json_type_object)) {
		fail(h, 400, "invalid_json", "the body must be a JSON object", NULL, origin);
		goto out;
	}
	if ((m = member(req, "user_email", json_type_string, &v)) < 0) {
		fail(h, 400, "invalid_field", "user_email: must be a string", NULL, origin);
		goto out;
	}
	email[0] = '\0';
	if (m > 0 && ct_email_check(json_object_get_string(v),
	                            (size_t)json_object_get_string_len(v),
	                            email, &why) != CT_OK) {
		snprintf(h->email, sizeof(h->email), "(invalid)");
		snprintf(h->err, sizeof(h->err), "user_email: %s", why);
		fail(h, 400, "invalid_email", h->err, NULL, origin);
		goto out;
	}
	ct_email_mask(email, h->email, sizeof(h->email));
	if ((m = member(req, "participant_name", json_type_string, &v)) < 0 ||
	    (m > 0 && (json_object_get_string_len(v) > CT_TOKEN_NAME_MAX ||
	               !clean(json_object_get_string(v), (size_t)json_object_get_string_len(v))))) {
		fail(h, 400, "invalid_field", "participant_name: must be a string of at most "
		     "128 bytes without control characters", NULL, origin);
		goto out;
	}
	if (m > 0)
		name = json_object_get_string(v);
	if ((why = attrsreq(req, &attrs)) != NULL || (why = agentreq(req, &agent, &meta)) != NULL) {
		fail(h, 400, "invalid_field", why, NULL, origin);
		goto out;
	}
	/* An agent the client names must be one we run; none named means
	 * the default (which may be none at all). */
	if (agent && *agent) {
		if (!ct_conf_agent_allowed(h->conf, agent)) {
			fail(h, 400, "unknown_agent",
			     "room_config.agents[0].agent_name: not an agent this service dispatches",
			     NULL, origin);
			goto out;
		}
	} else {
		agent = h->conf->default_agent;
	}
	tr.email = email;
	tr.name = name;
	tr.agent = agent;
	tr.agent_metadata = meta;
	tr.attributes = attrs;
	if ((rc = ct_token_mint(h->conf, &tr, now_us, &t, h->err)) != CT_OK) {
		if (rc == CT_ERR_INPUT)
			fail(h, 400, "invalid_field", h->err, NULL, origin);
		else
			fail(h, 500, "server_error", "the token could not be minted", NULL, origin);
		goto out;
	}
	memcpy(h->room, t.room, sizeof(h->room));
	success(h, &t, origin);
out:
	ct_token_free(&t);
	json_object_put(req);
}

void
ct_handler_run(struct ct_handler *h, const struct ct_http_req *rq, int64_t now_us)
{
	const char *method = rq->method ? rq->method : "";
	const char *origin = rq->origin;
	const char *cors = h->conf->cors_origin;
	enum route r = route(rq->path);
	long len;
	int rc;

	h->status = 500;
	h->code = NULL;
	h->err[0] = '\0';
	strcpy(h->room, "-");
	strcpy(h->email, "-");
	len = declared(rq->content_length);

	if (r == R_NONE) {
		fail(h, 404, "not_found", "no such endpoint", NULL, origin);
		return;
	}
	if (strcmp(method, "OPTIONS") == 0 && cors && *cors) {
		h->status = 204;
		h->code = NULL;
		ct_buf_reset(&h->body);
		if (head(h, NULL, origin) != CT_OK)
			fallback(h);
		return;
	}
	if (r == R_HEALTH) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
			fail(h, 405, "method_not_allowed", "use GET", "GET, HEAD", origin);
			return;
		}
		h->status = 200;
		ct_buf_reset(&h->body);
		if (ct_buf_adds(&h->body, "{\"status\":\"ok\"}") != CT_OK ||
		    head(h, NULL, origin) != CT_OK)
			fallback(h);
		return;
	}
	if (strcmp(method, "POST") != 0) {
		fail(h, 405, "method_not_allowed", "use POST", "POST", origin);
		return;
	}
	if (len < 0) {
		fail(h, 411, "length_required", "a Content-Length is required", NULL, origin);
		return;
	}
	if (len > CT_BODY_MAX) {
		fail(h, 413, "body_too_large", "the body is larger than 16384 bytes", NULL, origin);
		return;
	}
	if (!is_json_type(rq->content_type)) {
		fail(h, 415, "unsupported_media_type", "the body must be application/json",
		     NULL, origin);
		return;
	}
	if ((rc = readbody(h, rq, (size_t)len)) == -2) {
		snprintf(h->err, sizeof(h->err), "body: out of memory");
		fail(h, 500, "server_error", "internal error", NULL, origin);
		return;
	}
	if (rc != 0) {
		snprintf(h->err, sizeof(h->err), "body: shorter than its Content-Length");
		fail(h, 400, "invalid_json", "the body ended before its Content-Length", NULL, origin);
		return;
	}
	token(h, origin, now_us);
}

void
ct_handler_log(const struct ct_handler *h, int64_t micros)
{
	ct_log("status=%d us=%lld room=%s email=%s%s%s%s%s", h->status, (long long)micros,
	       h->room, h->email,
	       h->code ? " error=" : "", h->code ? h->code : "",
	       h->err[0] ? " detail=" : "", h->err);
}
