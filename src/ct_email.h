/*
 * ct_email.h — the one email rule of calltrail (email.c).
 */
#ifndef CT_EMAIL_H
#define CT_EMAIL_H

#include "calltrail.h"

#define CT_EMAIL_MAX       254
#define CT_EMAIL_LOCAL_MAX 64

/*
 * The one email rule of calltrail.  Trims ASCII whitespace from in[0..len),
 * then checks: at most 254 bytes, local part at most 64, the WHATWG
 * input type=email grammar, at least one dot in the domain, no control
 * characters, first character not one of = + - @.  The trimmed address
 * goes to out (CT_EMAIL_MAX + 1 bytes).  An empty (or all-blank) input
 * is CT_OK with out = "".  CT_ERR_INPUT otherwise, with *why (static
 * text, never the address) saying which rule broke.
 */
int ct_email_check(const char *in, size_t len, char *out, const char **why);

#endif /* CT_EMAIL_H */
