/*
 * ct_record.h — the session record the agent hands to calltrail.
 *
 * A record is one JSON object of at most 1 MiB (SPEC section 4).  Only the
 * fields below are checked; every other field is kept as it is, and the
 * bytes stored and exported are always the bytes received.
 */
#ifndef CT_RECORD_H
#define CT_RECORD_H

#include "calltrail.h"
#include "ct_email.h"

#define CT_RECORD_MAX      (1024 * 1024)
#define CT_SESSION_ID_MAX  128

struct ct_record {
	struct json_object *root;          /* owned; NULL after free */
	char session_id[CT_SESSION_ID_MAX + 1];
	char email[CT_EMAIL_MAX + 1];      /* trimmed as given; "" if none */
	int64_t start_us, end_us;          /* UTC microseconds */
	char day[11];                      /* YYYY-MM-DD of end_time, UTC */
	const char *tier;                  /* discovered_signals.qualification_tier
	                                      (points into root) or NULL */
	int email_bad;                     /* refused for user_email alone */
};

/*
 * Parse and validate one record from buf[0..len).  CT_ERR_INPUT (or
 * CT_ERR_TOOBIG) with err naming the field that breaks the rules, e.g.
 * "session_id: must be 1-128 of [A-Za-z0-9_.-]"; CT_ERR_NOMEM.  When
 * user_email is the only rule broken, r->email_bad is 1 and session_id,
 * start_us, end_us and day are filled (the CSV counts such a call).  The
 * caller frees r with ct_record_free whatever this returns.
 */
int ct_record_parse(const char *buf, size_t len, struct ct_record *r, char *err);
void ct_record_free(struct ct_record *r);

#endif
