/*
 * ct_confint.h — what conf-keys.c (every key and the check of its value)
 * gives conf.c (the file, the environment, the secret) inside the
 * library; not part of the configuration's interface (calltrail.h).
 */
#ifndef CT_CONFINT_H
#define CT_CONFINT_H

#include <stddef.h>

#include "calltrail.h"

/* How a key's value is checked (conf-keys.c's ct_conf_setval). */
enum ct_conf_kind { K_STR, K_URL, K_NAME, K_TEXT, K_SECRET, K_SECRETFILE,
                    K_LIST, K_AGENT, K_ORIGIN, K_PATH, K_TARGET, K_ENDPOINT,
                    K_REGION, K_INT, K_BOOL, K_CHOICE, K_OPTPATH, K_LOGINURL,
                    K_VERSION };

struct ct_conf_key {
	const char *name;
	enum ct_conf_kind kind;
	size_t off;           /* offsetof the field in struct ct_conf */
	long lo, hi;          /* K_INT bounds; else the value's length */
	const char *env;      /* a foreign variable name honoured, or NULL */
	const char *choices;  /* K_CHOICE: "|a|b|" ("||" allows empty) */
};

/* Each key's index in ct_conf_keys: CT_CONF_KEY_livekit_url, ... */
enum {
#define CT_CONF_KEY(field, ...) CT_CONF_KEY_##field,
#include "conf-keys.def"
#undef CT_CONF_KEY
	CT_CONF_NKEYS
};

/* Every key of calltrail.conf (conf-keys.def), in its order. */
extern const struct ct_conf_key ct_conf_keys[CT_CONF_NKEYS];

/* The key named name, or NULL. */
const struct ct_conf_key *ct_conf_findkey(const char *name);

/* The char * field of c that a string key k fills. */
char **ct_conf_field(struct ct_conf *c, const struct ct_conf_key *k);

/*
 * Check v for key k and store it in c.  where ("FILE:LINE: " or
 * "environment VAR: ") starts err.  A K_SECRET value is never echoed.
 */
int ct_conf_setval(struct ct_conf *c, const struct ct_conf_key *k,
                   const char *v, const char *where, char *err);

/* Replace *dst by a copy of v: CT_OK or CT_ERR_NOMEM (*dst unchanged). */
int ct_conf_setstr(char **dst, const char *v);

/* Does v hold a control character (below 0x20, or 0x7f)? */
int ct_conf_has_ctl(const char *v);

#endif /* CT_CONFINT_H */
