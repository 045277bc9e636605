/*
 * token.c — mint LiveKit access tokens (SPEC section 3).
 *
 * The claims are what LiveKit's server SDKs put in an AccessToken, so
 * LiveKit's TokenVerifier and the LiveKit server accept ours:
 *
 *   iss         API key
 *   sub         <identity_prefix>_<16 hex>          (fresh, CSPRNG)
 *   name        participant_name or display_name
 *   nbf, exp    now, now + token_ttl
 *   metadata    JSON *string* {"user_email":E,"session_start":"…Z"}
 *   attributes  participant_attributes (string->string), when given
 *   video       {room, roomJoin, canPublish, canSubscribe, canPublishData}
 *   roomConfig  {"agents":[{"agentName":A,"metadata":M}]}, when dispatching
 *
 * The video grant deliberately lacks canUpdateOwnMetadata: the browser must
 * not be able to rewrite the email the agent and the exporter rely on.
 * roomConfig carries nothing but agents, in camelCase, because older
 * LiveKit clients parse it strictly and reject unknown keys.
 *
 * The claims are built and serialised by json-c, then signed as a compact
 * JWS: header {"alg":"HS256","typ":"JWT"}, base64url without padding
 * (OpenSSL's encoder), HMAC-SHA256 (OpenSSL) with the API secret.  Why
 * not libjwt: see sign() below.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ct_token.h"

/* Depth allowed when the client's agent metadata is itself JSON. */
#define AGENT_META_DEPTH 8

/* json-c's flags for compact output; no "\/" so URLs stay readable. */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Add key: a new string; 0 or -1 when json-c runs out of memory. */
static int
addstr(struct json_object *o, const char *key, const char *val)
{
	struct json_object *v = json_object_new_string(val);

	if (v == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

static int
addobj(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/*
 * The metadata string of the participant ({"user_email","session_start"})
 * or, when client is set, of the agent: the client's own agent metadata is
 * kept (its members when it is a JSON object, else the text under
 * "client_metadata"), but user_email and session_start are always ours.
 */
static char *
metadata(const char *email, const char *start, const char *client)
{
	struct json_object *o = NULL, *cj = NULL;
	char perr[CT_ERRLEN];
	const char *s;
	char *out = NULL;

	if (client != NULL && *client != '\0' &&
	    ct_json_parse(client, strlen(client), AGENT_META_DEPTH, &cj, perr) == CT_OK &&
	    json_object_is_type(cj, json_type_object)) {
		/* Take the client's object as the base, minus our keys. */
		o = cj;
		cj = NULL;
		json_object_object_del(o, "user_email");
		json_object_object_del(o, "session_start");
	} else {
		if ((o = json_object_new_object()) == NULL)
			goto out;
		if (client != NULL && *client != '\0' &&
		    addstr(o, "client_metadata", client) != 0)
			goto out;
	}
	if (addstr(o, "user_email", email) != 0 ||
	    addstr(o, "session_start", start) != 0)
		goto out;
	if ((s = json_object_to_json_string_ext(o, JSON_FLAGS)) != NULL)
		out = strdup(s);
out:
	json_object_put(cj);
	json_object_put(o);
	return out;
}

/* A copy of the attributes after checking they are string->string. */
static int
attrs(struct json_object *in, struct json_object **out, char *err)
{
	struct json_object *o;
	size_t total = 0;

	*out = NULL;
	if (!json_object_is_type(in, json_type_object))
		return ct_seterr(err, CT_ERR_INPUT, "participant_attributes: must be an object");
	if ((o = json_object_new_object()) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "participant_attributes: out of memory");
	json_object_object_foreach(in, k, v) {
		if (!json_object_is_type(v, json_type_string)) {
			json_object_put(o);
			return ct_seterr(err, CT_ERR_INPUT,
			                 "participant_attributes: values must be strings");
		}
		total += strlen(k) + (size_t)json_object_get_string_len(v);
		if (total > CT_TOKEN_ATTRS_MAX) {
			json_object_put(o);
			return ct_seterr(err, CT_ERR_INPUT,
			                 "participant_attributes: more than %d bytes",
			                 CT_TOKEN_ATTRS_MAX);
		}
		if (addobj(o, k, json_object_get(v)) != 0) {
			json_object_put(o);
			return ct_seterr(err, CT_ERR_NOMEM, "participant_attributes: out of memory");
		}
	}
	*out = o;
	return CT_OK;
}

/* Fresh room and identity names from the CSPRNG. */
static int
names(const struct ct_conf *c, int64_t now_us, struct ct_token *t,
                 char *err)
{
	char r32[CT_TOKEN_ROOM_RAND + 1], hex[2 * CT_TOKEN_ID_RAND + 1];
	int n;

	if (ct_id_base32(r32, CT_TOKEN_ROOM_RAND) != CT_OK ||
	    ct_id_hex(hex, CT_TOKEN_ID_RAND) != CT_OK)
		return ct_seterr(err, CT_ERR_CRYPTO, "token: the CSPRNG failed");
	n = snprintf(t->room, sizeof t->room, "%s_%" PRId64 "_%s",
	             c->room_prefix, now_us / 1000000, r32);
	if (n < 0 || (size_t)n >= sizeof t->room)
		return ct_seterr(err, CT_ERR_CONFIG, "room_prefix: too long for a room name");
	n = snprintf(t->identity, sizeof t->identity, "%s_%s", c->identity_prefix, hex);
	if (n < 0 || (size_t)n >= sizeof t->identity)
		return ct_seterr(err, CT_ERR_CONFIG, "identity_prefix: too long for an identity");
	return CT_OK;
}

/* The video grant: join and talk in exactly this room, nothing more. */
static struct json_object *
video(const char *room)
{
	struct json_object *v = json_object_new_object();

	if (v == NULL)
		return NULL;
	if (addstr(v, "room", room) != 0 ||
	    addobj(v, "roomJoin", json_object_new_boolean(1)) != 0 ||
	    addobj(v, "canPublish", json_object_new_boolean(1)) != 0 ||
	    addobj(v, "canSubscribe", json_object_new_boolean(1)) != 0 ||
	    addobj(v, "canPublishData", json_object_new_boolean(1)) != 0) {
		json_object_put(v);
		return NULL;
	}
	return v;
}

/* {"agents":[{"agentName":A,"metadata":M}]} and not one key more. */
static struct json_object *
roomconfig(const char *agent, const char *meta)
{
	struct json_object *rc = NULL, *arr = NULL, *a = NULL;

	if ((rc = json_object_new_object()) == NULL ||
	    (arr = json_object_new_array()) == NULL ||
	    (a = json_object_new_object()) == NULL)
		goto out;
	if (addstr(a, "agentName", agent) != 0 || addstr(a, "metadata", meta) != 0)
		goto out;
	if (json_object_array_add(arr, a) != 0)
		goto out;
	a = NULL;
	if (json_object_object_add(rc, "agents", arr) != 0)
		goto out;
	return rc;
out:
	json_object_put(a);
	json_object_put(arr);
	json_object_put(rc);
	return NULL;
}

/*
 * Signing.  libjwt 1.10 re-parses every claim we give it with jansson,
 * dumps it again, base64-encodes with its own coder and looks up HMAC by
 * name for every token: two thirds of a mint (bench/README.md has the
 * profile).  So the claims are serialised once, by json-c, and signed
 * here with OpenSSL: EVP_EncodeBlock for base64 (then the url-safe
 * alphabet, no padding, RFC 7515 section 2) and an HMAC-SHA256 context
 * keyed once per thread and reset per token.  libjwt stays in the tests
 * (t/token.c decodes and verifies every token with it), so a second
 * implementation checks this one; LiveKit's TokenVerifier checks both in
 * t/token-nginx.sh.
 */
#define HMAC_LEN 32

/* One keyed HMAC per thread: the key schedule is done once, and each
 * token starts from it (EVP_MAC_init with a NULL key resets to it). */
static _Thread_local EVP_MAC *hmac_alg;
static _Thread_local EVP_MAC_CTX *hmac_ctx;
static _Thread_local char *hmac_secret;     /* a copy: which key ctx holds */

void
ct_token_thread_done(void)
{
	EVP_MAC_CTX_free(hmac_ctx);
	EVP_MAC_free(hmac_alg);
	if (hmac_secret) {
		OPENSSL_cleanse(hmac_secret, strlen(hmac_secret));
		free(hmac_secret);
	}
	hmac_ctx = NULL;
	hmac_alg = NULL;
	hmac_secret = NULL;
}

/* The thread's HMAC context for secret, ready for EVP_MAC_update. */
static EVP_MAC_CTX *
hmac_for(const char *secret)
{
	OSSL_PARAM params[2];
	char *copy;

	if (hmac_ctx && strcmp(hmac_secret, secret) == 0)
		return EVP_MAC_init(hmac_ctx, NULL, 0, NULL) == 1 ? hmac_ctx : NULL;
	ct_token_thread_done();
	if ((copy = strdup(secret)) == NULL ||
	    (hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (hmac_ctx = EVP_MAC_CTX_new(hmac_alg)) == NULL) {
		free(copy);
		ct_token_thread_done();
		return NULL;
	}
	hmac_secret = copy;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(hmac_ctx, (const unsigned char *)secret, strlen(secret), params) != 1) {
		ct_token_thread_done();
		return NULL;
	}
	return hmac_ctx;
}

/* base64url of n bytes at out (room for 4 * ceil(n / 3) + 1); returns
 * the length written, without padding, NUL-terminated. */
static size_t
b64url(char *out, const void *in, size_t n)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	size_t i;

	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (i = 0; i < (size_t)len; i++)
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	return (size_t)len;
}

/*
 * The compact JWS of claims (a JSON object's text): header
 * {"alg":"HS256","typ":"JWT"}, HMAC-SHA256 with the API secret.
 */
static int
sign(const char *secret, const char *claims, char **jwt, char *err)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char mac[HMAC_LEN];
	size_t n = strlen(claims), cap, len, maclen = 0;
	EVP_MAC_CTX *ctx;
	char *out;

	*jwt = NULL;
	if (n > (size_t)INT_MAX / 2)
		return ct_seterr(err, CT_ERR_INPUT, "token: claims too large");
	cap = 4 * ((sizeof hdr - 1 + 2) / 3) + 1 + 4 * ((n + 2) / 3) + 1 + 4 * ((HMAC_LEN + 2) / 3) + 1;
	if ((out = malloc(cap)) == NULL)
		return ct_seterr(err, CT_ERR_NOMEM, "token: out of memory");
	len = b64url(out, hdr, sizeof hdr - 1);
	out[len++] = '.';
	len += b64url(out + len, claims, n);
	if ((ctx = hmac_for(secret)) == NULL ||
	    EVP_MAC_update(ctx, (const unsigned char *)out, len) != 1 ||
	    EVP_MAC_final(ctx, mac, &maclen, sizeof mac) != 1 || maclen != HMAC_LEN) {
		free(out);
		return ct_seterr(err, CT_ERR_CRYPTO, "token: HMAC-SHA256 failed");
	}
	out[len++] = '.';
	b64url(out + len, mac, sizeof mac);
	OPENSSL_cleanse(mac, sizeof mac);
	*jwt = out;
	return CT_OK;
}

int
ct_token_mint(const struct ct_conf *c, const struct ct_token_req *rq,
              int64_t now_us, struct ct_token *t, char *err)
{
	struct json_object *obj = NULL, *at = NULL;
	char start[CT_TIMELEN];
	char *pmeta = NULL, *ameta = NULL;
	const char *claims;
	const char *email = rq->email ? rq->email : "";
	int rc;

	memset(t, 0, sizeof *t);
	t->name = rq->name && *rq->name ? rq->name : c->display_name;
	if (strlen(t->name) > CT_TOKEN_NAME_MAX) {
		rc = ct_seterr(err, CT_ERR_INPUT, "participant_name: more than %d bytes",
		               CT_TOKEN_NAME_MAX);
		goto out;
	}
	if (rq->attributes && (rc = attrs(rq->attributes, &at, err)) != CT_OK)
		goto out;
	if ((rc = names(c, now_us, t, err)) != CT_OK)
		goto out;

	ct_time_format_ms(now_us, start);
	rc = CT_ERR_NOMEM;
	if ((pmeta = metadata(email, start, NULL)) == NULL)
		goto out;
	if ((obj = json_object_new_object()) == NULL ||
	    addstr(obj, "iss", c->livekit_api_key) != 0 ||
	    addstr(obj, "sub", t->identity) != 0 ||
	    addstr(obj, "name", t->name) != 0 ||
	    addobj(obj, "nbf", json_object_new_int64(now_us / 1000000)) != 0 ||
	    addobj(obj, "exp", json_object_new_int64(now_us / 1000000 + c->token_ttl)) != 0 ||
	    addstr(obj, "metadata", pmeta) != 0 ||
	    addobj(obj, "video", video(t->room)) != 0)
		goto out;
	if (at != NULL) {
		if (json_object_object_add(obj, "attributes", at) != 0)
			goto out;
		at = NULL;
	}
	if (rq->agent && *rq->agent) {
		if ((ameta = metadata(email, start, rq->agent_metadata)) == NULL ||
		    addobj(obj, "roomConfig", roomconfig(rq->agent, ameta)) != 0)
			goto out;
	}
	if ((claims = json_object_to_json_string_ext(obj, JSON_FLAGS)) == NULL)
		goto out;
	rc = sign(c->livekit_api_secret, claims, &t->jwt, err);
out:
	if (rc == CT_ERR_NOMEM)
		ct_seterr(err, rc, "token: out of memory building the claims");
	if (rc != CT_OK)
		ct_token_free(t);
	free(pmeta);
	free(ameta);
	json_object_put(at);
	json_object_put(obj);
	return rc;
}

void
ct_token_free(struct ct_token *t)
{
	free(t->jwt);
	t->jwt = NULL;
}
