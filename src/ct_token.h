/*
 * ct_token.h — LiveKit access tokens (SPEC section 3).
 *
 * calltrail-token mints the same JWT LiveKit's own server SDKs mint, with
 * one addition that is the point of the product: the visitor's email rides
 * in the participant metadata (and in the dispatched agent's metadata), and
 * the browser gets no grant that would let it rewrite either.
 */
#ifndef CT_TOKEN_H
#define CT_TOKEN_H

#include "calltrail.h"

#define CT_TOKEN_NAME_MAX    128          /* participant_name, bytes */
#define CT_TOKEN_ATTRS_MAX   (16 * 1024)  /* participant_attributes, bytes */
#define CT_TOKEN_AGENT_MAX   128          /* agent_name, bytes */
#define CT_TOKEN_AGENT_META_MAX (8 * 1024)  /* the client's agent metadata */
#define CT_TOKEN_ROOM_MAX    256          /* room name incl. NUL */
#define CT_TOKEN_ID_MAX      256          /* identity incl. NUL */
#define CT_TOKEN_ROOM_RAND   12           /* base32 chars in a room name */
#define CT_TOKEN_ID_RAND     8            /* random bytes (16 hex) in an identity */

/* What a request asks for; every pointer is borrowed for the call. */
struct ct_token_req {
	const char *email;           /* validated (ct_email_check); "" or NULL: none */
	const char *name;            /* participant_name; NULL or "": display_name */
	const char *agent;           /* agent to dispatch (already allowed);
	                                NULL or "": no roomConfig */
	const char *agent_metadata;  /* the client's agent metadata, or NULL */
	struct json_object *attributes; /* object of string->string, or NULL */
};

/* A minted token.  room and identity are fresh for every mint. */
struct ct_token {
	char room[CT_TOKEN_ROOM_MAX];
	char identity[CT_TOKEN_ID_MAX];
	const char *name;            /* the name in the token (borrowed from the
	                                request or the configuration) */
	char *jwt;                   /* owned: ct_token_free */
};

/*
 * Mint a token for one visitor at now_us (microseconds since the epoch):
 * a new room <room_prefix>_<unix seconds>_<12 base32>, a new identity
 * <identity_prefix>_<16 hex>, and the claims of SPEC section 3 signed
 * HS256 with the API secret.  The caller has validated the request (email
 * rules, sizes, agent allow-list); this only refuses what it cannot encode
 * (CT_ERR_INPUT: attributes not string->string, or a name over 128 bytes;
 * CT_ERR_CONFIG: a prefix too long for a room name).  On CT_OK the caller
 * owns t->jwt and frees it with ct_token_free; on error t holds nothing.
 * err never holds the secret, the token or the email.
 */
int ct_token_mint(const struct ct_conf *c, const struct ct_token_req *rq,
                  int64_t now_us, struct ct_token *t, char *err);

/* Free what ct_token_mint allocated; safe on a zeroed or freed token. */
void ct_token_free(struct ct_token *t);

/*
 * ct_token_mint keeps per thread one keyed HMAC-SHA256 context (the key
 * schedule once, not per token) and the json-c tree of the claims (built
 * once, its values set per token).  A thread that minted calls this before
 * it ends to free them; minting again afterwards simply builds new ones.
 */
void ct_token_thread_done(void);

/*
 * base64url without padding (RFC 7515 section 2), the JWT encoding: n
 * bytes of in to out, which has room for 4 * ceil(n / 3) + 1 bytes (OpenSSL's
 * EVP_EncodeBlock, then the url-safe alphabet).  Returns the length
 * written; out is NUL-terminated.  Every JWT calltrail signs uses it.
 */
size_t ct_b64url(char *out, const void *in, size_t n);

#endif /* CT_TOKEN_H */
