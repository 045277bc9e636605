/*
 * ct_time.h — times: now, RFC 3339 parsing, the formats of the CSV and the archive (timefmt.c).
 */
#ifndef CT_TIME_H
#define CT_TIME_H

#include "calltrail.h"

#define CT_TIMELEN 32

/* Microseconds since the epoch, now (CLOCK_REALTIME). */
int64_t ct_time_now_us(void);

/*
 * Parse RFC 3339 / ISO 8601 date-time: YYYY-MM-DD, 'T' (or 't' or ' '),
 * HH:MM:SS, optional fraction (1..9 digits, kept to the microsecond),
 * optional 'Z' or ±HH:MM (no offset means UTC).  The whole string must be
 * consumed.  CT_ERR_INPUT on anything else.
 */
int ct_time_parse(const char *s, int64_t *us);

/* "YYYY-MM-DDTHH:MM:SS.sssZ" (UTC, milliseconds). */
void ct_time_format_ms(int64_t us, char out[CT_TIMELEN]);
/* "YYYY-MM-DD" of the UTC day. */
void ct_time_day(int64_t us, char out[11]);

#endif /* CT_TIME_H */
