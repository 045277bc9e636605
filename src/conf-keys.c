/*
 * conf-keys.c — every key of calltrail.conf and the one check of its
 * value (SPEC section 2), wherever it comes from: conf.c hands each
 * `key = value` line and each environment variable to ct_conf_setval.
 *
 * The keys themselves are the rows of conf-keys.def.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_confint.h"

const struct ct_conf_key ct_conf_keys[CT_CONF_NKEYS] = {
#define CT_CONF_KEY(field, kind, ...) \
	{ #field, K_##kind, offsetof(struct ct_conf, field), __VA_ARGS__ },
#include "conf-keys.def"
#undef CT_CONF_KEY
};

char **
ct_conf_field(struct ct_conf *c, const struct ct_conf_key *k)
{
	return (char **)((char *)c + k->off);
}

int
ct_conf_setstr(char **dst, const char *v)
{
	char *p = strdup(v);

	if (p == NULL)
		return CT_ERR_NOMEM;
	free(*dst);
	*dst = p;
	return CT_OK;
}

static int
is_name(const char *v, int dot)
{
	if (*v == '\0')
		return 0;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '_' && *v != '-' &&
		    !(dot && *v == '.'))
			return 0;
	return 1;
}

int
ct_conf_has_ctl(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 1;
	return 0;
}

static int
prefixed(const char *v, const char *p)
{
	return strncmp(v, p, strlen(p)) == 0;
}

/* Is the authority of URL u (after "http://") a loopback address? */
static int
loopback(const char *u)
{
	static const char *const lb[] = { "localhost", "127.", "[::1]" };
	size_t i;

	for (i = 0; i < sizeof(lb) / sizeof(lb[0]); i++)
		if (prefixed(u, lb[i]) &&
		    (lb[i][strlen(lb[i]) - 1] == '.' ||
		     strchr(":/", u[strlen(lb[i])]) != NULL))
			return 1;
	return 0;
}

/* Split "a, b ,c" into the agents array. */
static int
setlist(struct ct_conf *c, const char *v, const char *where, char *err)
{
	char buf[CT_CONF_LINE_MAX], *tok, *save = NULL;
	size_t i;

	for (i = 0; i < c->nagents; i++)
		free(c->agents[i]);
	c->nagents = 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *e;

		while (isspace((unsigned char)*tok))
			tok++;
		e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*tok == '\0')
			continue;
		if (!is_name(tok, 1) || strlen(tok) > 128)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%sagents: \"%s\" is not an agent name ([A-Za-z0-9_.-], at most 128)",
			    where, tok);
		if (c->nagents == CT_AGENTS_MAX)
			return ct_seterr(err, CT_ERR_CONFIG, "%sagents: more than %d agents",
			                 where, CT_AGENTS_MAX);
		if ((c->agents[c->nagents] = strdup(tok)) == NULL)
			return CT_ERR_NOMEM;
		c->nagents++;
	}
	return CT_OK;
}

int
ct_conf_setval(struct ct_conf *c, const struct ct_conf_key *k, const char *v,
               const char *where, char *err)
{
	char **dst = ct_conf_field(c, k);
	size_t n = strlen(v);
	char *end;
	long l;

	if (ct_conf_has_ctl(v))
		return ct_seterr(err, CT_ERR_CONFIG, "%s%s: control character in the value",
		                 where, k->name);
	switch (k->kind) {
	case K_INT:
		errno = 0;
		l = strtol(v, &end, 10);
		if (errno || end == v || *end || l < k->lo || l > k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not a whole number from %ld to %ld",
			    where, k->name, v, k->lo, k->hi);
		if (k->off == offsetof(struct ct_conf, token_ttl))
			c->token_ttl = l;
		else
			*(int *)((char *)c + k->off) = (int)l;
		return CT_OK;
	case K_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
			c->csv_upload = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
			c->csv_upload = 0;
		else
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not yes or no", where, k->name, v);
		return CT_OK;
	case K_LIST:
		return setlist(c, v, where, err);
	case K_SECRETFILE:
		/* Only noted: ct_conf_require_livekit opens it. */
		if (v[0] != '/' || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: must be an absolute path", where, k->name);
		break;
	case K_SECRET:
		/* never echo the value */
		if (n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG, "%s%s: longer than %ld bytes",
			                 where, k->name, k->hi);
		break;
	case K_URL:
		if (!(prefixed(v, "wss://") || prefixed(v, "ws://") ||
		      prefixed(v, "https://") || prefixed(v, "http://")) ||
		    strchr(v, ' ') || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not a wss://, ws://, https:// or http:// URL",
			    where, k->name, v);
		break;
	case K_ENDPOINT:
		if (n && (!(prefixed(v, "https://") || prefixed(v, "http://")) ||
		          strchr(v, ' ') || n > (size_t)k->hi))
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not an http:// or https:// URL",
			    where, k->name, v);
		break;
	case K_ORIGIN:
		if (n && (!(prefixed(v, "https://") || prefixed(v, "http://")) ||
		          strchr(v, ' ') || strchr(strstr(v, "//") + 2, '/') ||
		          n > (size_t)k->hi))
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not an origin like https://www.example.com",
			    where, k->name, v);
		break;
	case K_NAME:
	case K_AGENT:
		if ((n || k->kind == K_NAME) &&
		    (!is_name(v, k->kind == K_AGENT) || n > (size_t)k->hi))
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" must be 1 to %ld of [A-Za-z0-9_-%s]",
			    where, k->name, v, k->hi, k->kind == K_AGENT ? "." : "");
		break;
	case K_TEXT:
	case K_STR:
		if (n < (size_t)k->lo || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG, "%s%s: must be %ld to %ld bytes",
			                 where, k->name, k->lo, k->hi);
		break;
	case K_PATH:
		if (v[0] != '/' || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not an absolute path", where, k->name, v);
		break;
	case K_TARGET:
		if (!(prefixed(v, "file:///") || (prefixed(v, "s3://") && v[5] &&
		      v[5] != '/')) || strchr(v, ' ') || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is neither file:///DIR nor s3://BUCKET/PREFIX",
			    where, k->name, v);
		break;
	case K_CHOICE: {
		char pat[40];

		snprintf(pat, sizeof(pat), "|%s|", v);
		if (n > (size_t)k->hi || strstr(k->choices, pat) == NULL)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not one of %s", where, k->name, v,
			    k->choices);
		break;
	}
	case K_OPTPATH:
		if (n && (v[0] != '/' || n > (size_t)k->hi))
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not an absolute path", where, k->name, v);
		break;
	case K_LOGINURL:
		/* https, or http only to this host (a test stand-in) */
		if (!(prefixed(v, "https://") ||
		      (prefixed(v, "http://") && loopback(v + 7))) ||
		    strchr(v, ' ') || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not an https:// URL (http:// only for "
			    "a loopback address)", where, k->name, v);
		break;
	case K_VERSION:
		l = strtol(v, &end, 10);
		if (!isdigit((unsigned char)v[0]) || *end != '.' ||
		    !isdigit((unsigned char)end[1]) ||
		    strspn(end + 1, "0123456789") != strlen(end + 1) ||
		    n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not an API version like 62.0",
			    where, k->name, v);
		break;
	case K_REGION:
		for (end = (char *)v; *end; end++)
			if (!islower((unsigned char)*end) && !isdigit((unsigned char)*end) &&
			    *end != '-')
				break;
		/* empty: the chain's region (ct_aws_region) */
		if (*end || n > (size_t)k->hi)
			return ct_seterr(err, CT_ERR_CONFIG,
			    "%s%s: \"%s\" is not a region name like us-east-1",
			    where, k->name, v);
		break;
	}
	return ct_conf_setstr(dst, v) == CT_OK ? CT_OK :
	       ct_seterr(err, CT_ERR_NOMEM, "%s%s: out of memory", where, k->name);
}

const struct ct_conf_key *
ct_conf_findkey(const char *name)
{
	size_t i;

	for (i = 0; i < CT_CONF_NKEYS; i++)
		if (strcmp(ct_conf_keys[i].name, name) == 0)
			return &ct_conf_keys[i];
	return NULL;
}

