/*
 * record.c — validation of the session record (SPEC section 4).
 *
 * The agent writes the record; calltrail only checks the fields it relies
 * on and keeps every other byte as it came.  Both the writer
 * (calltrail-spool put) and the exporter run the same checks, so a record
 * the spool accepted is never refused later for a rule that changed.
 *
 * Decisions the table in the spec leaves open (documented in
 * calltrail-spool(1) as well):
 *   - user_email absent is the same as "" (the visitor gave none); present,
 *     it must be a string — null, a number or an object is refused.
 *   - Optional fields that are present must have their type: null is not
 *     "absent" (an agent that means "none" leaves the key out).
 *   - Duplicate keys: ct_json_parse keeps the last value of a repeated
 *     member (json-c's behaviour), so the last one is the one checked and
 *     used; the stored bytes still hold both.
 *   - Error messages name the field and the rule, never the field's value,
 *     so an email address never reaches a log through them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ct_record.h"
#include "ct_email.h"
#include "ct_time.h"
#include "ct_json.h"

/* The top-level members the rules look at, found in one pass over the
 * record's object (json-c keeps one value per key: the last), instead of
 * one hashed lookup per rule.  The rules ask for them by index (enum
 * mem), not by name: a name lookup was a string compare per rule. */
enum mem {
	M_SESSION_ID, M_USER_EMAIL, M_START_TIME, M_END_TIME, M_DURATION,
	M_USER_METADATA, M_SIGNALS, M_METRICS, M_TOOL_CALLS, NKNOWN
};
static const char *const known[NKNOWN] = {
	"session_id", "user_email", "start_time", "end_time",
	"duration_seconds", "user_metadata", "discovered_signals",
	"metrics_summary", "tool_calls",
};

struct members {
	struct json_object *v[NKNOWN];
	int present[NKNOWN];
};

static void members_of(struct json_object *root, struct members *m)
{
	memset(m, 0, sizeof(*m));
	json_object_object_foreach(root, k, v) {
		for (size_t i = 0; i < NKNOWN; i++) {
			if (k[0] == known[i][0] && strcmp(k, known[i]) == 0) {
				m->v[i] = v;
				m->present[i] = 1;
				break;
			}
		}
	}
}

/* Member i of the record, or NULL when absent.  A JSON null is reported
 * as present (*present = 1) so "null" can be refused, not ignored. */
static struct json_object *member(const struct members *m, enum mem i,
                                  int *present)
{
	*present = m->present[i];
	return m->v[i];
}

/* Does the string value v hold a NUL ("\u0000") that C would stop at? */
static int has_nul(struct json_object *v)
{
	return strlen(json_object_get_string(v)) !=
	       (size_t)json_object_get_string_len(v);
}

/* ASCII letter or digit, whatever the locale. */
static int isalnumc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

static int check_session_id(const struct members *root, struct ct_record *r,
                            char *err)
{
	struct json_object *v;
	const char *s;
	size_t i, len;
	int present;

	v = member(root, M_SESSION_ID, &present);
	if (!present)
		return ct_seterr(err, CT_ERR_INPUT, "session_id: required");
	if (!json_object_is_type(v, json_type_string))
		return ct_seterr(err, CT_ERR_INPUT, "session_id: must be a string");
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len < 1 || len > CT_SESSION_ID_MAX)
		return ct_seterr(err, CT_ERR_INPUT,
		                 "session_id: must be 1-%d of [A-Za-z0-9_.-]",
		                 CT_SESSION_ID_MAX);
	/* The id becomes part of an object key and a CSV cell: only the
	 * characters a LiveKit room name from calltrail-token can hold, and
	 * first a letter or digit, so that no id makes a hidden object
	 * (".", "..", ".tmp-…") or a cell a spreadsheet would evaluate. */
	if (!isalnumc((unsigned char)s[0]))
		return ct_seterr(err, CT_ERR_INPUT,
		                 "session_id: must begin with a letter or digit");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnumc(c) && c != '_' && c != '.' && c != '-')
			return ct_seterr(err, CT_ERR_INPUT,
			                 "session_id: must be 1-%d of [A-Za-z0-9_.-]",
			                 CT_SESSION_ID_MAX);
	}
	memcpy(r->session_id, s, len);
	r->session_id[len] = '\0';
	return CT_OK;
}

static int check_email(const struct members *root, struct ct_record *r, char *err)
{
	struct json_object *v;
	const char *why = NULL;
	int present;

	v = member(root, M_USER_EMAIL, &present);
	if (!present) {
		r->email[0] = '\0';
		return CT_OK;
	}
	if (!json_object_is_type(v, json_type_string))
		return ct_seterr(err, CT_ERR_INPUT, "user_email: must be a string");
	if (ct_email_check(json_object_get_string(v),
	                   (size_t)json_object_get_string_len(v),
	                   r->email, &why) != CT_OK)
		return ct_seterr(err, CT_ERR_INPUT, "user_email: %s",
		                 why ? why : "not a valid email address");
	return CT_OK;
}

static int check_time(const struct members *root, enum mem i, int64_t *us,
                      char *err)
{
	const char *key = known[i];
	struct json_object *v;
	int present;

	v = member(root, i, &present);
	if (!present)
		return ct_seterr(err, CT_ERR_INPUT, "%s: required", key);
	if (!json_object_is_type(v, json_type_string))
		return ct_seterr(err, CT_ERR_INPUT, "%s: must be a string", key);
	/* An embedded \u0000 would hide the rest from the C parser. */
	if (has_nul(v) || ct_time_parse(json_object_get_string(v), us) != CT_OK)
		return ct_seterr(err, CT_ERR_INPUT,
		                 "%s: not an RFC 3339 date-time "
		                 "(e.g. 2025-10-29T18:04:05.123Z)", key);
	/* Before 1970 (in UTC) a record has no sent/YYYY-MM-DD day to be
	 * filed under; ct_time_parse already refuses years past 9999. */
	if (*us < 0)
		return ct_seterr(err, CT_ERR_INPUT,
		                 "%s: year outside 1970-9999 (UTC)", key);
	return CT_OK;
}

static int check_duration(const struct members *root, char *err)
{
	struct json_object *v;
	double d;
	int present;

	v = member(root, M_DURATION, &present);
	if (!present)
		return CT_OK;
	if (json_object_is_type(v, json_type_int)) {
		/* Compare as an integer: a huge uint64 must not wrap negative. */
		if (json_object_get_int64(v) < 0)
			return ct_seterr(err, CT_ERR_INPUT,
			                 "duration_seconds: must be a finite number >= 0");
		return CT_OK;
	}
	if (!json_object_is_type(v, json_type_double))
		return ct_seterr(err, CT_ERR_INPUT,
		                 "duration_seconds: must be a number");
	d = json_object_get_double(v);
	if (!isfinite(d) || d < 0)
		return ct_seterr(err, CT_ERR_INPUT,
		                 "duration_seconds: must be a finite number >= 0");
	return CT_OK;
}

/* An optional member that, when present, must be of type t. */
static int check_type(const struct members *m, enum mem key,
                      enum json_type t, const char *tname, char *err)
{
	struct json_object *v;
	int present;

	v = member(m, key, &present);
	if (present && !json_object_is_type(v, t))
		return ct_seterr(err, CT_ERR_INPUT, "%s: must be %s", known[key], tname);
	return CT_OK;
}

/*
 * Parse and validate buf[0..len) into r.  See ct_record.h.  r is cleared
 * first, so ct_record_free is safe on it whatever this returns.
 */
int ct_record_parse(const char *buf, size_t len, struct ct_record *r, char *err)
{
	struct json_object *root = NULL, *sig, *tier;
	struct members m;
	int rc, present;

	memset(r, 0, sizeof(*r));
	if (err)
		err[0] = '\0';
	if (len > CT_RECORD_MAX) {
		rc = ct_seterr(err, CT_ERR_TOOBIG,
		               "record: larger than %d bytes", CT_RECORD_MAX);
		goto out;
	}
	if ((rc = ct_json_parse(buf, len, CT_JSON_DEPTH, &root, err)) != CT_OK) {
		/* Keep the parser's detail but say which thing it was about. */
		char detail[CT_ERRLEN];
		snprintf(detail, sizeof(detail), "%s", err ? err : "");
		rc = ct_seterr(err, rc == CT_ERR_NOMEM ? CT_ERR_NOMEM : CT_ERR_INPUT,
		               "record: %s", detail);
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		rc = ct_seterr(err, CT_ERR_INPUT, "record: must be a JSON object");
		goto out;
	}
	members_of(root, &m);
	if ((rc = check_session_id(&m, r, err)) != CT_OK ||
	    (rc = check_time(&m, M_START_TIME, &r->start_us, err)) != CT_OK ||
	    (rc = check_time(&m, M_END_TIME, &r->end_us, err)) != CT_OK)
		goto out;
	if (r->end_us < r->start_us) {
		rc = ct_seterr(err, CT_ERR_INPUT, "end_time: before start_time");
		goto out;
	}
	/* The day the record belongs to is the day the call ended, in UTC:
	 * that is where the exporter files it and which CSV counts it. */
	ct_time_day(r->end_us, r->day);
	if ((rc = check_duration(&m, err)) != CT_OK ||
	    (rc = check_type(&m, M_USER_METADATA, json_type_object, "an object", err)) != CT_OK ||
	    (rc = check_type(&m, M_SIGNALS, json_type_object, "an object", err)) != CT_OK ||
	    (rc = check_type(&m, M_METRICS, json_type_object, "an object", err)) != CT_OK ||
	    (rc = check_type(&m, M_TOOL_CALLS, json_type_array, "an array", err)) != CT_OK)
		goto out;
	sig = member(&m, M_SIGNALS, &present);
	/* One lookup for the tier: present, it must be a string without a
	 * NUL (what ct_json_str would refuse as absent). */
	if (present && json_object_object_get_ex(sig, "qualification_tier", &tier)) {
		if (!json_object_is_type(tier, json_type_string)) {
			rc = ct_seterr(err, CT_ERR_INPUT,
			               "discovered_signals.qualification_tier: "
			               "must be a string");
			goto out;
		}
		if (has_nul(tier)) {
			rc = ct_seterr(err, CT_ERR_INPUT,
			               "discovered_signals.qualification_tier: "
			               "must not contain NUL");
			goto out;
		}
		r->tier = json_object_get_string(tier);
	}
	/* user_email is checked last: a record that breaks only its rule
	 * is refused like any other, but the CSV counts it as "bad email"
	 * (r->email_bad, with r->day and r->session_id filled), not as
	 * unreadable. */
	if ((rc = check_email(&m, r, err)) != CT_OK) {
		r->email_bad = 1;
		goto out;
	}
	r->root = root;
	root = NULL;
	rc = CT_OK;
out:
	if (root)
		json_object_put(root);
	if (rc != CT_OK)
		r->tier = NULL;
	return rc;
}

/* Release what ct_record_parse allocated; safe to call twice. */
void ct_record_free(struct ct_record *r)
{
	if (r->root)
		json_object_put(r->root);
	r->root = NULL;
	r->tier = NULL;
}
