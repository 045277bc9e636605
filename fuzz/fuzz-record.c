/*
 * fuzz-record.c — libFuzzer harness for the session record validator,
 * ct_record_parse (SPEC section 4): the bytes an agent hands to
 * `calltrail-spool put` and the exporter reads back from the spool.
 *
 * Checked on every input: no crash, no leak, and
 *   - an accepted record has a session_id of 1-128 [A-Za-z0-9_.-] that
 *     begins with a letter or digit, times in 1970 or later, an
 *     email that is "" or passes the email rule unchanged, end >= start,
 *     and a day (YYYY-MM-DD) that is end_time's UTC day;
 *   - the times survive the CSV's formatting: formatting end_time to the
 *     millisecond and parsing it back gives the same millisecond;
 *   - a refusal says why in one printable line;
 *   - parsing is deterministic, and freeing twice is safe;
 *   - an accepted record is RFC 8259 JSON to any parser: with
 *     CT_FUZZ_ACCEPTED set it is kept for Python's json module
 *     (accepted.h, t/fuzz-regress.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "accepted.h"
#include "ct_record.h"
#include "ct_email.h"
#include "ct_time.h"
#include "check.h"

static int64_t
floor_ms(int64_t us)
{
	int64_t q = us / 1000;

	if (us % 1000 < 0)
		q--;
	return q * 1000;
}

static void
printable(const char *s, const char *what)
{
	for (; *s; s++)
		CHECK((unsigned char)*s >= 0x20 && *s != 0x7f, what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_record r, r2;
	char err[CT_ERRLEN], err2[CT_ERRLEN], email[CT_EMAIL_MAX + 1];
	char ts[CT_TIMELEN], day[11];
	int64_t back;
	size_t i, n;
	int rc, rc2;

	memset(err, 0x55, sizeof(err));
	rc = ct_record_parse((const char *)data, size, &r, err);
	rc2 = ct_record_parse((const char *)data, size, &r2, err2);
	CHECK(rc == rc2, "parsing twice gives the same answer");
	ct_record_free(&r2);
	if (rc != CT_OK) {
		CHECK(rc == CT_ERR_INPUT || rc == CT_ERR_TOOBIG, "a refusal is INPUT or TOOBIG");
		CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0', "a refusal says why");
		CHECK(strcmp(err, err2) == 0, "the same refusal twice");
		printable(err, "the message is one printable line");
		CHECK(r.root == NULL && r.tier == NULL, "nothing is held after a refusal");
		ct_record_free(&r);
		return 0;
	}
	CHECK(r.root != NULL && json_object_is_type(r.root, json_type_object), "root is an object");
	fuzz_accepted("record", data, size);
	n = strlen(r.session_id);
	CHECK(n >= 1 && n <= CT_SESSION_ID_MAX, "session_id is 1-128 bytes");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r.session_id[i];
		CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-',
		      "session_id is [A-Za-z0-9_.-]");
		CHECK(i > 0 || (c != '_' && c != '.' && c != '-'),
		      "session_id begins with a letter or digit");
	}
	CHECK(r.start_us >= 0 && r.end_us >= 0, "times are in 1970 or later");
	if (r.email[0]) {
		CHECK(ct_email_check(r.email, strlen(r.email), email, NULL) == CT_OK &&
		      strcmp(email, r.email) == 0, "the email passes the rule unchanged");
	}
	CHECK(r.end_us >= r.start_us, "end_time >= start_time");
	ct_time_day(r.end_us, day);
	CHECK(strlen(r.day) == 10 && strcmp(day, r.day) == 0, "day is end_time's UTC day");
	CHECK(r.day[4] == '-' && r.day[7] == '-', "day looks like YYYY-MM-DD");
	/* What the CSV prints must read back as the same instant. */
	ct_time_format_ms(r.end_us, ts);
	CHECK(ct_time_parse(ts, &back) == CT_OK, "a formatted end_time parses");
	CHECK(back == floor_ms(r.end_us), "format_ms/parse round-trips to the millisecond");
	CHECK(strncmp(ts, r.day, 10) == 0, "the formatted time is on the record's day");
	if (r.tier)
		CHECK(strlen(r.tier) == (size_t)json_object_get_string_len(
		          json_object_object_get(json_object_object_get(r.root,
		              "discovered_signals"), "qualification_tier")),
		      "the tier is the whole string");
	ct_record_free(&r);
	ct_record_free(&r);
	return 0;
}
