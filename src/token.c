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
 * The claims are built and serialised by json-c (a tree kept per thread,
 * see struct claims), then signed as a compact JWS: header {"alg":"HS256","typ":"JWT"}, base64url without padding
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
#include "ct_ids.h"
#include "ct_time.h"
#include "ct_json.h"

/* Depth allowed when the client's agent metadata is itself JSON. */
#define AGENT_META_DEPTH 8

/*
 * The claims have the same shape for every token; only the values change.
 * So each thread builds the tree once and then sets its values in place:
 * json-c allocates nothing per token (but when a value outgrows its
 * string), and the text is written into the same buffer each time.  The
 * optional members -- attributes, roomConfig -- are added for one token and
 * taken out again before ct_token_mint returns, whatever happened.
 *
 *   root  {iss, sub, name, nbf, exp, metadata,
 *          video: {room, roomJoin, canPublish, canSubscribe, canPublishData}}
 *   rc    {"agents":[{"agentName":A,"metadata":M}]} and not one key more
 *   md    {"user_email":E,"session_start":S}, our metadata (no client's)
 *
 * The video grant lets the participant join and talk in exactly this room.
 */
struct claims {
	struct json_object *root, *iss, *sub, *name, *nbf, *exp, *meta;
	struct json_object *video, *room;
	struct json_object *rc, *a0, *agent, *ameta;
	struct json_object *md, *md_email, *md_start;
};
static _Thread_local struct claims cl;

static void
claims_free(void)
{
	json_object_put(cl.root);
	json_object_put(cl.rc);
	json_object_put(cl.md);
	memset(&cl, 0, sizeof cl);
}

/* The thread's tree, built on first use; 0, or -1 out of memory. */
static int
claims_tree(void)
{
	struct json_object *agents = NULL, *a = NULL;

	if (cl.root != NULL)
		return 0;
	if ((cl.root = json_object_new_object()) == NULL ||
	    ct_json_add(cl.root, "iss", json_object_new_string(""), &cl.iss) != 0 ||
	    ct_json_add(cl.root, "sub", json_object_new_string(""), &cl.sub) != 0 ||
	    ct_json_add(cl.root, "name", json_object_new_string(""), &cl.name) != 0 ||
	    ct_json_add(cl.root, "nbf", json_object_new_int64(0), &cl.nbf) != 0 ||
	    ct_json_add(cl.root, "exp", json_object_new_int64(0), &cl.exp) != 0 ||
	    ct_json_add(cl.root, "metadata", json_object_new_string(""), &cl.meta) != 0 ||
	    ct_json_add(cl.root, "video", json_object_new_object(), &cl.video) != 0 ||
	    ct_json_add(cl.video, "room", json_object_new_string(""), &cl.room) != 0 ||
	    ct_json_add(cl.video, "roomJoin", json_object_new_boolean(1), NULL) != 0 ||
	    ct_json_add(cl.video, "canPublish", json_object_new_boolean(1), NULL) != 0 ||
	    ct_json_add(cl.video, "canSubscribe", json_object_new_boolean(1), NULL) != 0 ||
	    ct_json_add(cl.video, "canPublishData", json_object_new_boolean(1), NULL) != 0)
		goto fail;
	if ((cl.rc = json_object_new_object()) == NULL ||
	    ct_json_add(cl.rc, "agents", json_object_new_array(), &agents) != 0 ||
	    (a = json_object_new_object()) == NULL ||
	    ct_json_add(a, "agentName", json_object_new_string(""), &cl.agent) != 0 ||
	    ct_json_add(a, "metadata", json_object_new_string(""), &cl.ameta) != 0)
		goto fail;
	if (json_object_array_add(agents, a) != 0)
		goto fail;
	cl.a0 = a;
	a = NULL;
	if ((cl.md = json_object_new_object()) == NULL ||
	    ct_json_add(cl.md, "user_email", json_object_new_string(""), &cl.md_email) != 0 ||
	    ct_json_add(cl.md, "session_start", json_object_new_string(""), &cl.md_start) != 0)
		goto fail;
	return 0;
fail:
	json_object_put(a);
	claims_free();
	return -1;
}

/*
 * Our metadata string {"user_email":E,"session_start":S}, the participant's
 * and, when the client sent none, the agent's.  It points into the
 * thread's tree: valid until the next call in this thread.
 */
static const char *
metadata(const char *email, const char *start)
{
	if (ct_json_set_str(cl.md, "user_email", &cl.md_email, email) != 0 ||
	    ct_json_set_str(cl.md, "session_start", &cl.md_start, start) != 0)
		return NULL;
	return json_object_to_json_string_ext(cl.md, CT_JSON_FLAGS);
}

/*
 * Is k one of our metadata keys in any disguise?  Case, ASCII blanks and
 * controls, '_' and '-' and every non-ASCII byte (a no-break or
 * zero-width space) are ignored, so "USER_EMAIL", "user_email " and
 * "user\u00a0email" are all ours: an agent reading the metadata
 * loosely never meets a second email (SPEC section 3).
 */
static int
ours(const char *k)
{
	char n[16];
	size_t i = 0;

	for (; *k; k++) {
		unsigned char ch = (unsigned char)*k;

		if (ch <= ' ' || ch >= 0x7f || ch == '_' || ch == '-')
			continue;
		if (i == sizeof(n) - 1)
			return 0;
		n[i++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 'a' - 'A' : ch);
	}
	n[i] = '\0';
	return strcmp(n, "useremail") == 0 || strcmp(n, "sessionstart") == 0;
}

/*
 * The agent's metadata string when the client sent its own (client is
 * neither NULL nor ""): the client's agent metadata is kept (its members
 * when it is a JSON object, else the text under "client_metadata"), but
 * user_email and session_start, in any spelling (ours()), are always ours.  Owned by the caller.
 */
static char *
client_metadata(const char *email, const char *start, const char *client)
{
	struct json_object *o = NULL, *cj = NULL;
	char perr[CT_ERRLEN];
	const char *s;
	char *out = NULL;

	if (ct_json_parse(client, strlen(client), AGENT_META_DEPTH, &cj, perr) == CT_OK &&
	    json_object_is_type(cj, json_type_object)) {
		/* Take the client's object as the base, minus our keys
		 * in every spelling (deleting the current member of the
		 * walk is safe: the macro holds the next one). */
		o = cj;
		cj = NULL;
		json_object_object_foreach(o, k, v) {
			(void)v;
			if (ours(k))
				json_object_object_del(o, k);
		}
	} else {
		if ((o = json_object_new_object()) == NULL ||
		    ct_json_add(o, "client_metadata", json_object_new_string(client), NULL) != 0)
			goto out;
	}
	if (ct_json_add(o, "user_email", json_object_new_string(email), NULL) != 0 ||
	    ct_json_add(o, "session_start", json_object_new_string(start), NULL) != 0)
		goto out;
	if ((s = json_object_to_json_string_ext(o, CT_JSON_FLAGS)) != NULL)
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
		if (ct_json_add(o, k, json_object_get(v), NULL) != 0) {
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

static void
hmac_free(void)
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

void
ct_token_thread_done(void)
{
	hmac_free();
	claims_free();
}

/* The thread's HMAC context for secret, ready for EVP_MAC_update. */
static EVP_MAC_CTX *
hmac_for(const char *secret)
{
	OSSL_PARAM params[2];
	char *copy;

	if (hmac_ctx && strcmp(hmac_secret, secret) == 0)
		return EVP_MAC_init(hmac_ctx, NULL, 0, NULL) == 1 ? hmac_ctx : NULL;
	hmac_free();
	if ((copy = strdup(secret)) == NULL ||
	    (hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (hmac_ctx = EVP_MAC_CTX_new(hmac_alg)) == NULL) {
		free(copy);
		hmac_free();
		return NULL;
	}
	hmac_secret = copy;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(hmac_ctx, (const unsigned char *)secret, strlen(secret), params) != 1) {
		hmac_free();
		return NULL;
	}
	return hmac_ctx;
}

size_t
ct_b64url(char *out, const void *in, size_t n)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	size_t i;

	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (i = 0; i < (size_t)len; i++) {
		char ch = out[i];       /* a select, not a branch: vectorisable */

		out[i] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
	}
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
	len = ct_b64url(out, hdr, sizeof hdr - 1);
	out[len++] = '.';
	len += ct_b64url(out + len, claims, n);
	if ((ctx = hmac_for(secret)) == NULL ||
	    EVP_MAC_update(ctx, (const unsigned char *)out, len) != 1 ||
	    EVP_MAC_final(ctx, mac, &maclen, sizeof mac) != 1 || maclen != HMAC_LEN) {
		free(out);
		return ct_seterr(err, CT_ERR_CRYPTO, "token: HMAC-SHA256 failed");
	}
	out[len++] = '.';
	ct_b64url(out + len, mac, sizeof mac);
	OPENSSL_cleanse(mac, sizeof mac);
	*jwt = out;
	return CT_OK;
}

int
ct_token_mint(const struct ct_conf *c, const struct ct_token_req *rq,
              int64_t now_us, struct ct_token *t, char *err)
{
	struct json_object *at = NULL;
	char start[CT_TIMELEN];
	char *cmeta = NULL;
	const char *pmeta, *claims;
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
	if (claims_tree() != 0 || (pmeta = metadata(email, start)) == NULL)
		goto out;
	if (ct_json_set_str(cl.root, "iss", &cl.iss, c->livekit_api_key) != 0 ||
	    ct_json_set_str(cl.root, "sub", &cl.sub, t->identity) != 0 ||
	    ct_json_set_str(cl.root, "name", &cl.name, t->name) != 0 ||
	    !json_object_set_int64(cl.nbf, now_us / 1000000) ||
	    !json_object_set_int64(cl.exp, now_us / 1000000 + c->token_ttl) ||
	    ct_json_set_str(cl.root, "metadata", &cl.meta, pmeta) != 0 ||
	    ct_json_set_str(cl.video, "room", &cl.room, t->room) != 0)
		goto out;
	if (at != NULL) {
		if (json_object_object_add(cl.root, "attributes", at) != 0)
			goto out;
		at = NULL;
	}
	if (rq->agent && *rq->agent) {
		/* The agent's metadata is ours (the same text as the
		 * participant's) unless the client sent its own. */
		if (rq->agent_metadata && *rq->agent_metadata &&
		    (cmeta = client_metadata(email, start, rq->agent_metadata)) == NULL)
			goto out;
		if (ct_json_set_str(cl.a0, "agentName", &cl.agent, rq->agent) != 0 ||
		    ct_json_set_str(cl.a0, "metadata", &cl.ameta, cmeta ? cmeta : pmeta) != 0 ||
		    ct_json_add(cl.root, "roomConfig", json_object_get(cl.rc), NULL) != 0)
			goto out;
	}
	if ((claims = json_object_to_json_string_ext(cl.root, CT_JSON_FLAGS)) == NULL)
		goto out;
	rc = sign(c->livekit_api_secret, claims, &t->jwt, err);
out:
	if (rc == CT_ERR_NOMEM)
		ct_seterr(err, rc, "token: out of memory building the claims");
	if (rc != CT_OK)
		ct_token_free(t);
	if (cl.root != NULL) {
		/* The tree again as every token starts from it. */
		json_object_object_del(cl.root, "attributes");
		json_object_object_del(cl.root, "roomConfig");
	}
	free(cmeta);
	json_object_put(at);
	return rc;
}

void
ct_token_free(struct ct_token *t)
{
	free(t->jwt);
	t->jwt = NULL;
}
