/*
 * ct_awscred.h — AWS credentials and region, found the way AWS's own SDKs
 * find them (SPEC section 5), for the S3 client.
 *
 * The chain, in order: the environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); the profile (AWS_PROFILE, else
 * "default") in the shared files (AWS_SHARED_CREDENTIALS_FILE,
 * AWS_CONFIG_FILE): static keys or credential_process; a web identity
 * token (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, STS
 * AssumeRoleWithWebIdentity); the container endpoint
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI); EC2 instance
 * metadata, IMDSv2 only (AWS_EC2_METADATA_DISABLED honoured).
 *
 * Temporary credentials are refreshed five minutes before they expire.
 * Nothing here ever writes a credential value into err.
 */
#ifndef CT_AWSCRED_H
#define CT_AWSCRED_H

#include "calltrail.h"

#define CT_AWS_KEY_MAX    256     /* access key id, secret key */
#define CT_AWS_TOKEN_MAX  8192    /* session token */
#define CT_AWS_REFRESH_US (300LL * 1000000)  /* refresh this long before expiry */

struct ct_awscred {
	char access_key[CT_AWS_KEY_MAX];
	char secret_key[CT_AWS_KEY_MAX];
	char token[CT_AWS_TOKEN_MAX];   /* "" : none */
	int64_t expires_us;             /* 0: does not expire (static keys) */
	const char *source;             /* static text naming the source, e.g.
	                                 * "environment", "IMDSv2" */
};

struct ct_awscred_chain;

/* Prepare the chain for c (nothing is fetched yet).  CT_ERR_NOMEM only. */
int ct_awscred_open(const struct ct_conf *c, struct ct_awscred_chain **ch,
                    char *err);

/*
 * The current credentials, in *out (borrowed: valid until the next call
 * or ct_awscred_close).  The first call walks the chain; later calls
 * return the cached credentials unless they expire within
 * CT_AWS_REFRESH_US or force is set (the server answered ExpiredToken),
 * in which case the source that gave them is asked again.
 *   CT_ERR_CONFIG  no source has credentials, or one is misconfigured;
 *   CT_ERR_TEMP    a source could not be reached (worth a later run);
 *   CT_ERR_REMOTE  a source refused (e.g. STS denied the role);
 * err names the source ("IMDSv2: no role attached to the instance").
 */
int ct_awscred_get(struct ct_awscred_chain *ch, int force,
                   const struct ct_awscred **out, char *err);

void ct_awscred_close(struct ct_awscred_chain *ch);

/*
 * The region (SPEC section 5): AWS_REGION, else AWS_DEFAULT_REGION, else
 * c->s3_region, else the profile's region in AWS_CONFIG_FILE, else
 * us-east-1.  CT_ERR_CONFIG when the chosen value is not a region name.
 */
int ct_aws_region(const struct ct_conf *c, char *out, size_t outsz, char *err);

#endif
