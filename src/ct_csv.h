/*
 * ct_csv.h — the daily Salesforce import file (SPEC section 5, "csv").
 *
 * Two pieces: the RFC 4180 writing rules (ct_csv_write_row and friends),
 * and the day's aggregation (struct ct_csv_day), which keeps one small
 * entry per distinct lower(trim(email)) and never the records themselves,
 * so a day of a million calls costs memory in proportion to its callers.
 */
#ifndef CT_CSV_H
#define CT_CSV_H

#include "calltrail.h"
#include "ct_record.h"

/* Salesforce's Email field holds at most 80 characters. */
#define CT_CSV_EMAIL_MAX 80
/* Voice_Qualification_Tier__c is a text field: at most 255 characters
 * (UTF-16 code units, as Salesforce counts them). */
#define CT_CSV_TIER_MAX 255

#define CT_CSV_HEADER "Email,Last_Voice_Session__c,Last_Voice_Call_Date__c," \
                      "Voice_Qualification_Tier__c,Voice_Calls__c"

/*
 * Would a spreadsheet read this cell as a formula or a control?  True when
 * it begins with = + - @, TAB or CR.  Such cells are never rewritten: the
 * caller leaves the whole row out.
 */
int ct_csv_cell_unsafe(const char *s, size_t len);

/* Append one cell to out, quoted (quotes doubled) only when it holds a
 * comma, a quote, CR or LF. */
int ct_csv_write_cell(struct ct_buf *out, const char *s, size_t len);

/* Append n NUL-terminated cells, comma-separated, and a CRLF. */
int ct_csv_write_row(struct ct_buf *out, const char *const *cells, size_t n);

/* Why a call was left out of the day. */
enum ct_csv_skip {
	CT_CSV_TAKEN = 0,
	CT_CSV_NO_EMAIL,    /* empty or blank email */
	CT_CSV_BAD_EMAIL,   /* breaks ct_email_check (ct_csv_day_add only: a
	                       record's email was checked by ct_record_parse,
	                       and the exporter counts those refusals itself) */
	CT_CSV_TOO_LONG,    /* longer than CT_CSV_EMAIL_MAX */
};

struct ct_csv_stats {
	size_t calls;       /* calls offered to the day */
	size_t no_email, bad_email, too_long;
	size_t rows;        /* rows rendered */
	size_t unsafe;      /* rows left out: a cell would begin with = + - @ TAB CR */
	size_t tier_long;   /* rows left out: tier over CT_CSV_TIER_MAX characters */
};

struct ct_csv_day;

int ct_csv_day_new(struct ct_csv_day **d);
void ct_csv_day_free(struct ct_csv_day *d);

/*
 * Count one call.  email is as the record gives it; it is trimmed, checked
 * (ct_email_check, at most CT_CSV_EMAIL_MAX bytes) and lower-cased.  The
 * call that ends last wins the row; on equal end times the larger
 * session_id (byte order) wins, then the larger tier (NULL lowest), so the
 * result never depends on the order calls are added.  tier may be NULL.
 * *skip says whether (and why) the call was left out; that is CT_OK, not
 * an error.  CT_ERR_NOMEM or CT_ERR_INPUT (session_id empty or too long)
 * otherwise.
 */
int ct_csv_day_add(struct ct_csv_day *d, const char *email,
                   const char *session_id, int64_t end_us, const char *tier,
                   enum ct_csv_skip *skip);

/*
 * A call prepared for the aggregation outside any lock: the checks and
 * the lower-casing and hashing of ct_csv_day_add, done by
 * ct_csv_call_prep, so that ct_csv_day_add_calls, which a caller may hold
 * a lock for, only looks up and updates the table.
 */
struct ct_csv_call {
	size_t hash;
	int64_t end_us;
	const char *tier;                  /* not copied: alive until added */
	enum ct_csv_skip skip;             /* CT_CSV_TAKEN, NO_EMAIL or TOO_LONG */
	char email[CT_CSV_EMAIL_MAX + 1];  /* lower-cased */
	char sid[CT_SESSION_ID_MAX + 1];
};

/*
 * Prepare one call.  email must already be what ct_email_check wrote for
 * it (trimmed and valid, or ""), as struct ct_record's email is: it is not
 * checked again, so CT_CSV_BAD_EMAIL never results.  CT_ERR_INPUT when
 * session_id is empty or too long.
 */
int ct_csv_call_prep(struct ct_csv_call *c, const char *email,
                     const char *session_id, int64_t end_us, const char *tier);

/*
 * Count n prepared calls, as ct_csv_day_add would one by one.  CT_ERR_NOMEM leaves d valid; the calls
 * before the failing one are counted.
 */
int ct_csv_day_add_calls(struct ct_csv_day *d, const struct ct_csv_call *c,
                         size_t n);

/*
 * Render the header and one row per email, sorted by email (byte order),
 * into out (reset first).  A row with an unsafe cell, or whose tier is
 * longer than CT_CSV_TIER_MAX characters, is left out (never rewritten
 * or cut) and its winning session id handed to unsafe_cb (may be NULL),
 * in row order.
 * The stats are copied to st (may be NULL).
 */
int ct_csv_day_render(struct ct_csv_day *d, struct ct_buf *out,
                      void (*unsafe_cb)(void *arg, const char *session_id),
                      void *arg, struct ct_csv_stats *st);

#endif
