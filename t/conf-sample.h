/*
 * conf-sample.h — the configuration the handler and token tests and the
 * handler benchmark run with (no file, no environment): LiveKit at
 * wss://lk.example.com with key APIkey and the given secret, 15-minute
 * tokens, the default prefixes and display name, the agents sales-agent
 * (the default) and support-agent, CORS for origin ("" for none).  Its
 * strings are literals: never ct_conf_free it.
 */
#ifndef CT_CONF_SAMPLE_H
#define CT_CONF_SAMPLE_H

#include <string.h>

#include "calltrail.h"

static inline void
conf_sample(struct ct_conf *c, char *secret, char *origin)
{
	memset(c, 0, sizeof(*c));
	c->livekit_url = "wss://lk.example.com";
	c->livekit_api_key = "APIkey";
	c->livekit_api_secret = secret;
	c->token_ttl = 900;
	c->room_prefix = "voice";
	c->identity_prefix = "visitor";
	c->display_name = "Visitor";
	c->agents[0] = "sales-agent";
	c->agents[1] = "support-agent";
	c->nagents = 2;
	c->default_agent = "sales-agent";
	c->cors_origin = origin;
}

#endif /* CT_CONF_SAMPLE_H */
