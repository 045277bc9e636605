/*
 * t/token.c — ct_token_mint: decode what it mints and check every claim
 * of SPEC section 3, byte for byte where the bytes matter (the header,
 * base64url without padding), and that names never repeat.
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <jwt.h>
#include <openssl/evp.h>

#include "ct_token.h"
#include "conf-sample.h"
#include "tap.h"
#include "ct_time.h"

#define SECRET "test-secret-0123456789abcdef-0123456789"
#define NOW_US 1761761045123456LL   /* 2025-10-29T18:04:05.123Z */
#define NOW    1761761045LL

static struct ct_conf conf;

static void
setup(void)
{
	conf_sample(&conf, SECRET, "");
}

/* base64url (no padding) to bytes, through OpenSSL's decoder. */
static char *
b64url(const char *s, size_t n)
{
	char *in = malloc(n + 4), *out = malloc(n + 4);
	size_t i, m = n;
	int len;

	for (i = 0; i < n; i++)
		in[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (m % 4)
		in[m++] = '=';
	in[m] = '\0';
	len = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)in, (int)m);
	free(in);
	if (len < 0) {
		free(out);
		return NULL;
	}
	len -= (int)(m - n);   /* EVP_DecodeBlock counts the padding as zeros */
	out[len] = '\0';
	return out;
}

static int
matches(const char *re, const char *s)
{
	regex_t r;
	int m;

	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	m = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return m;
}

/* The claims of a token, after libjwt verified its signature. */
static struct json_object *
claims(const char *tok, const char *secret)
{
	struct json_object *o = NULL;
	jwt_t *j = NULL;
	char *s;

	if (jwt_decode(&j, tok, (const unsigned char *)secret, (int)strlen(secret)) != 0)
		return NULL;
	if ((s = jwt_get_grants_json(j, NULL)) != NULL)
		o = json_tokener_parse(s);
	free(s);
	jwt_free(j);
	return o;
}

static const char *
str(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
	       ? json_object_get_string(v) : NULL;
}

static int
keys(struct json_object *o, const char *want)
{
	char got[512] = "";

	json_object_object_foreach(o, k, v) {
		(void)v;
		if (got[0])
			strcat(got, ",");
		strcat(got, k);
	}
	if (strcmp(got, want) != 0)
		diag("keys: %s", got);
	return strcmp(got, want) == 0;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void
full_token(void)
{
	struct ct_token_req rq = { .email = "jane.doe@acme.com", .agent = "sales-agent" };
	struct json_object *c, *v, *md, *rc, *a0;
	struct ct_token t;
	char err[CT_ERRLEN], *hdr, want_start[CT_TIMELEN];
	const char *dot;

	is_int(CT_OK, ct_token_mint(&conf, &rq, NOW_US, &t, err), "mint with email and agent");
	dot = strchr(t.jwt, '.');
	hdr = b64url(t.jwt, (size_t)(dot - t.jwt));
	is_str("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", hdr, "header bytes are LiveKit's");
	free(hdr);
	ok(strpbrk(t.jwt, "=+/") == NULL, "base64url without padding");
	ok(matches("^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}$", t.jwt),
	   "three parts, a 32-byte signature");
	ok(claims(t.jwt, "wrong-secret-wrong-secret-wrong-secret") == NULL,
	   "a wrong secret does not verify");
	c = claims(t.jwt, SECRET);
	ok(c != NULL, "the secret verifies it");
	ok(keys(c, "exp,iss,metadata,name,nbf,roomConfig,sub,video"), "exactly the claims of the table");
	is_str("APIkey", str(c, "iss"), "iss is the API key");
	is_str(t.identity, str(c, "sub"), "sub is the identity");
	ok(matches("^visitor_[0-9a-f]{16}$", t.identity), "identity is visitor_<16 hex>");
	is_str("Visitor", str(c, "name"), "name falls back to display_name");
	is_str("Visitor", t.name, "t.name says so too");
	json_object_object_get_ex(c, "nbf", &v);
	is_int(NOW, json_object_get_int64(v), "nbf is now");
	json_object_object_get_ex(c, "exp", &v);
	is_int(NOW + 900, json_object_get_int64(v), "exp is now + token_ttl");
	ok(matches("^voice_1761761045_[a-z2-7]{12}$", t.room), "room is voice_<unix s>_<12 base32>");

	md = str(c, "metadata") ? json_tokener_parse(str(c, "metadata")) : NULL;
	ok(md != NULL && keys(md, "user_email,session_start"), "metadata is a JSON string of two keys");
	is_str("jane.doe@acme.com", str(md, "user_email"), "metadata.user_email");
	ct_time_format_ms(NOW_US, want_start);
	is_str("2025-10-29T18:04:05.123Z", want_start, "session_start format");
	is_str(want_start, str(md, "session_start"), "metadata.session_start is now, UTC, ms");
	json_object_put(md);

	ok(json_object_object_get_ex(c, "video", &v) &&
	   keys(v, "canPublish,canPublishData,canSubscribe,room,roomJoin"),
	   "video grant has exactly room, roomJoin, canPublish, canSubscribe, canPublishData");
	is_str(t.room, str(v, "room"), "video.room is the room");
	ok(json_object_get_boolean(json_object_object_get(v, "roomJoin")) &&
	   json_object_get_boolean(json_object_object_get(v, "canPublish")) &&
	   json_object_get_boolean(json_object_object_get(v, "canSubscribe")) &&
	   json_object_get_boolean(json_object_object_get(v, "canPublishData")),
	   "every grant is true");
	ok(!json_object_object_get_ex(v, "canUpdateOwnMetadata", NULL),
	   "no canUpdateOwnMetadata: the browser cannot rewrite the email");

	ok(json_object_object_get_ex(c, "roomConfig", &rc) && keys(rc, "agents"),
	   "roomConfig holds agents and nothing else");
	a0 = json_object_array_get_idx(json_object_object_get(rc, "agents"), 0);
	is_int(1, (long long)json_object_array_length(json_object_object_get(rc, "agents")),
	       "one agent");
	ok(a0 && keys(a0, "agentName,metadata"), "agent has agentName and metadata (camelCase)");
	is_str("sales-agent", str(a0, "agentName"), "agentName");
	md = str(a0, "metadata") ? json_tokener_parse(str(a0, "metadata")) : NULL;
	is_str("jane.doe@acme.com", str(md, "user_email"), "agent metadata carries the same user_email");
	json_object_put(md);
	json_object_put(c);
	ct_token_free(&t);
	ok(t.jwt == NULL, "ct_token_free clears the token");
	ct_token_free(&t);
}

static void
variants(void)
{
	struct ct_token_req rq = { 0 };
	struct json_object *c, *at, *md, *a0;
	struct ct_token t;
	char err[CT_ERRLEN], *big;

	/* No agent, no email, a name, attributes, another TTL. */
	conf.token_ttl = 3600;
	at = json_tokener_parse("{\"plan\":\"pro\",\"utm\":\"x\"}");
	rq.name = "Jane";
	rq.attributes = at;
	is_int(CT_OK, ct_token_mint(&conf, &rq, NOW_US, &t, err), "mint without email or agent");
	c = claims(t.jwt, SECRET);
	ok(!json_object_object_get_ex(c, "roomConfig", NULL), "no agent: no roomConfig");
	is_str("Jane", str(c, "name"), "participant_name is the name");
	is_int(3600, json_object_get_int64(json_object_object_get(c, "exp")) -
	       json_object_get_int64(json_object_object_get(c, "nbf")), "exp - nbf is token_ttl");
	md = json_tokener_parse(str(c, "metadata"));
	is_str("", str(md, "user_email"), "no email: user_email is \"\"");
	json_object_put(md);
	is_str("{\"plan\":\"pro\",\"utm\":\"x\"}",
	       json_object_to_json_string_ext(json_object_object_get(c, "attributes"),
	                                      JSON_C_TO_STRING_PLAIN),
	       "attributes are passed as given");
	json_object_put(c);
	ct_token_free(&t);
	json_object_put(at);
	conf.token_ttl = 900;

	/* The client's agent metadata: kept, but user_email is ours. */
	rq = (struct ct_token_req){ .email = "a@b.co", .agent = "sales-agent",
	        .agent_metadata = "{\"topic\":\"pricing\",\"user_email\":\"evil@x.com\"}" };
	is_int(CT_OK, ct_token_mint(&conf, &rq, NOW_US, &t, err), "mint with agent metadata");
	c = claims(t.jwt, SECRET);
	a0 = json_object_array_get_idx(json_object_object_get(
		json_object_object_get(c, "roomConfig"), "agents"), 0);
	md = json_tokener_parse(str(a0, "metadata"));
	is_str("a@b.co", str(md, "user_email"), "the client cannot set the agent's user_email");
	is_str("pricing", str(md, "topic"), "the client's own agent metadata is kept");
	json_object_put(md);
	json_object_put(c);
	ct_token_free(&t);

	/* ... in every spelling of the server's keys (issue 12) */
	rq.agent_metadata = "{\"USER_EMAIL\":\"e1@x.com\",\"user_email \":\"e2@x.com\","
	                    "\" User-Email\":\"e3@x.com\",\"user\u00a0email\":\"e4@x.com\","
	                    "\"Session_Start\":\"1999\",\"topic\":\"pricing\"}";
	is_int(CT_OK, ct_token_mint(&conf, &rq, NOW_US, &t, err), "mint with disguised keys");
	c = claims(t.jwt, SECRET);
	a0 = json_object_array_get_idx(json_object_object_get(
		json_object_object_get(c, "roomConfig"), "agents"), 0);
	md = json_tokener_parse(str(a0, "metadata"));
	ok(md && keys(md, "topic,user_email,session_start"),
	   "every case and spacing variant of user_email and session_start dropped: %s",
	   str(a0, "metadata"));
	is_str("a@b.co", str(md, "user_email"), "... and ours is the only email");
	json_object_put(md);
	json_object_put(c);
	ct_token_free(&t);

	rq.agent_metadata = "plain words";
	is_int(CT_OK, ct_token_mint(&conf, &rq, NOW_US, &t, err), "mint with text agent metadata");
	c = claims(t.jwt, SECRET);
	a0 = json_object_array_get_idx(json_object_object_get(
		json_object_object_get(c, "roomConfig"), "agents"), 0);
	md = json_tokener_parse(str(a0, "metadata"));
	is_str("plain words", str(md, "client_metadata"), "text agent metadata kept as client_metadata");
	json_object_put(md);
	json_object_put(c);
	ct_token_free(&t);

	/* What it refuses. */
	at = json_tokener_parse("{\"n\":5}");
	rq = (struct ct_token_req){ .attributes = at };
	is_int(CT_ERR_INPUT, ct_token_mint(&conf, &rq, NOW_US, &t, err), "attributes must be strings");
	ok(t.jwt == NULL, "nothing minted on error");
	json_object_put(at);
	big = malloc(CT_TOKEN_ATTRS_MAX + 2);
	memset(big, 'x', CT_TOKEN_ATTRS_MAX);
	big[CT_TOKEN_ATTRS_MAX] = '\0';
	at = json_object_new_object();
	json_object_object_add(at, "k", json_object_new_string(big));
	rq.attributes = at;
	is_int(CT_ERR_INPUT, ct_token_mint(&conf, &rq, NOW_US, &t, err), "attributes over 16 KiB refused");
	json_object_put(at);
	big[CT_TOKEN_ATTRS_MAX - 1] = '\0';
	at = json_object_new_object();
	json_object_object_add(at, "k", json_object_new_string(big));
	rq.attributes = at;
	is_int(CT_OK, ct_token_mint(&conf, &rq, NOW_US, &t, err), "attributes of exactly 16 KiB accepted");
	ct_token_free(&t);
	json_object_put(at);
	big[129] = '\0';
	rq = (struct ct_token_req){ .name = big };
	is_int(CT_ERR_INPUT, ct_token_mint(&conf, &rq, NOW_US, &t, err), "a name over 128 bytes refused");
	big[128] = '\0';
	is_int(CT_OK, ct_token_mint(&conf, &rq, NOW_US, &t, err), "a name of 128 bytes accepted");
	ct_token_free(&t);
	memset(big, 'p', 300);
	big[300] = '\0';
	conf.room_prefix = big;
	rq = (struct ct_token_req){ 0 };
	is_int(CT_ERR_CONFIG, ct_token_mint(&conf, &rq, NOW_US, &t, err), "a room_prefix too long refused");
	ok(strstr(err, SECRET) == NULL, "errors never hold the secret");
	conf.room_prefix = "voice";
	free(big);
}

/*
 * ct_token_mint keeps the claims tree per thread and only sets its values:
 * nothing of one token may show in the next one -- not the optional
 * members, not a longer value, not what a refused mint had added.
 */
static void
reuse(void)
{
	struct ct_token_req rq = { 0 };
	struct json_object *c, *at, *md;
	struct ct_token t;
	char err[CT_ERRLEN];

	at = json_tokener_parse("{\"plan\":\"pro\"}");
	rq = (struct ct_token_req){ .email = "a.very.long.address.indeed@example-company.com",
	        .name = "Someone With A Long Name", .agent = "sales-agent", .attributes = at };
	is_int(CT_OK, ct_token_mint(&conf, &rq, NOW_US, &t, err), "reuse: a mint with everything");
	ct_token_free(&t);
	json_object_put(at);
	at = json_tokener_parse("{\"n\":5}");
	rq = (struct ct_token_req){ .email = "x@y.co", .agent = "sales-agent", .attributes = at };
	is_int(CT_ERR_INPUT, ct_token_mint(&conf, &rq, NOW_US, &t, err), "reuse: a refused mint");
	json_object_put(at);

	rq = (struct ct_token_req){ .email = "b@c.io" };
	is_int(CT_OK, ct_token_mint(&conf, &rq, NOW_US + 5000000, &t, err), "reuse: a plain mint after them");
	c = claims(t.jwt, SECRET);
	ok(keys(c, "exp,iss,metadata,name,nbf,sub,video"),
	   "reuse: no attributes or roomConfig left from the mints before");
	is_str(conf.display_name, str(c, "name"), "reuse: the name is this token's");
	is_int(NOW_US / 1000000 + 5, json_object_get_int64(json_object_object_get(c, "nbf")),
	       "reuse: nbf is this token's");
	md = json_tokener_parse(str(c, "metadata"));
	is_str("b@c.io", str(md, "user_email"), "reuse: a shorter email replaces a longer one whole");
	json_object_put(md);
	is_str(t.room, str(json_object_object_get(c, "video"), "room"), "reuse: the video room is this token's");
	json_object_put(c);
	ct_token_free(&t);

	/* An email, then none: json-c 0.16 would lose the email's buffer if
	 * "" were set in place (the sanitizer and valgrind runs see leaks). */
	rq = (struct ct_token_req){ .email = "" };
	is_int(CT_OK, ct_token_mint(&conf, &rq, NOW_US, &t, err), "reuse: a mint without email after one with");
	c = claims(t.jwt, SECRET);
	md = json_tokener_parse(str(c, "metadata"));
	is_str("", str(md, "user_email"), "reuse: and its user_email is \"\"");
	ok(keys(c, "exp,iss,metadata,name,nbf,sub,video"), "reuse: with the same claims");
	json_object_put(md);
	json_object_put(c);
	ct_token_free(&t);
}

static void
unique(void)
{
	enum { N = 1000 };
	static char rooms[N][CT_TOKEN_ROOM_MAX], ids[N][CT_TOKEN_ID_MAX];
	struct ct_token_req rq = { .email = "x@example.org", .agent = "sales-agent" };
	struct ct_token t;
	char err[CT_ERRLEN];
	int i, okc = 0, dupr = 0, dupi = 0;

	for (i = 0; i < N; i++) {
		if (ct_token_mint(&conf, &rq, NOW_US, &t, err) == CT_OK)
			okc++;
		memcpy(rooms[i], t.room, sizeof(t.room));
		memcpy(ids[i], t.identity, sizeof(t.identity));
		ct_token_free(&t);
	}
	qsort(rooms, N, sizeof(rooms[0]), cmp);
	qsort(ids, N, sizeof(ids[0]), cmp);
	for (i = 1; i < N; i++) {
		dupr += strcmp(rooms[i - 1], rooms[i]) == 0;
		dupi += strcmp(ids[i - 1], ids[i]) == 0;
	}
	is_int(N, okc, "1000 mints in the same second");
	is_int(0, dupr, "no room name twice");
	is_int(0, dupi, "no identity twice");
}

int
main(void)
{
	plan(65);
	setup();
	full_token();
	variants();
	reuse();
	unique();
	return done();
}
