/* err.c — error codes and the err[CT_ERRLEN] convention. */
#include <stdio.h>

#include "calltrail.h"

const char *
ct_strerror(int code)
{
	switch (code) {
	case CT_OK:           return "success";
	case CT_ERR_NOMEM:    return "out of memory";
	case CT_ERR_INPUT:    return "invalid input";
	case CT_ERR_IO:       return "I/O error";
	case CT_ERR_CONFIG:   return "configuration error";
	case CT_ERR_CRYPTO:   return "cryptography error";
	case CT_ERR_TOOBIG:   return "too large";
	case CT_ERR_BUSY:     return "busy";
	case CT_ERR_TEMP:     return "temporary failure";
	case CT_ERR_REMOTE:   return "refused by the remote end";
	case CT_ERR_NOTFOUND: return "not found";
	case CT_ERR_PERM:     return "not permitted";
	}
	return "unknown error";
}

/* Messages longer than CT_ERRLEN are cut, but always end in "..." so the
 * cut is visible. */
int
ct_seterr(char *err, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	n = vsnprintf(err, CT_ERRLEN, fmt, ap);
	va_end(ap);
	if (n >= CT_ERRLEN)
		snprintf(err + CT_ERRLEN - 4, 4, "...");
	return code;
}
