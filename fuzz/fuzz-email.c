/*
 * fuzz-email.c — libFuzzer harness for the one email rule, ct_email_check.
 *
 * Beyond "does not crash", every answer is checked against what the rule
 * promises (calltrail.h, SPEC section 3), and against an independent,
 * deliberately naive reading of the same grammar written here: the two
 * must agree on every input.  An accepted address must be
 *   - at most 254 bytes, local part at most 64, exactly one '@';
 *   - free of control characters and of surrounding whitespace;
 *   - not starting with = + - @ (it would start a spreadsheet formula);
 *   - a fixed point: checking the output again gives the same output;
 * and its mask (what the logs show) must keep only the first character
 * of the local part.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calltrail.h"
#include "ct_email.h"
#include "check.h"

static int
ws(unsigned char c)   /* WHATWG "ASCII whitespace" */
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int
alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The reference: WHATWG's valid e-mail address plus calltrail's limits,
 * spelled out one rule at a time.  1 when s[0..n) (already trimmed) is
 * acceptable. */
static int
reference(const uint8_t *s, size_t n)
{
	size_t i, at = n, labels = 0, lab = 0;

	if (n == 0)
		return 1;
	if (n > 254 || s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == '@') {
			at = i;
			break;
		}
	if (at == n || at == 0 || at > 64)
		return 0;
	for (i = 0; i < at; i++)
		if (!alnum(s[i]) && (s[i] == '\0' || !strchr(".!#$%&'*+/=?^_`{|}~-", s[i])))
			return 0;
	/* domain: label *("." label), label = let-dig [*ldh let-dig], <= 63 */
	for (i = at + 1; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (lab == 0 || lab > 63 || s[i - lab] == '-' || s[i - 1] == '-')
				return 0;
			labels++;
			lab = 0;
			continue;
		}
		if (!alnum(s[i]) && s[i] != '-')
			return 0;
		lab++;
	}
	return labels >= 2;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[CT_EMAIL_MAX + 1], again[CT_EMAIL_MAX + 1], mask[CT_MASKLEN];
	const uint8_t *s = data;
	const char *why = "unset", *why2;
	size_t n = size, len, i, ats = 0;
	int rc;

	rc = ct_email_check((const char *)data, size, out, &why);
	while (n && ws(s[0])) {
		s++;
		n--;
	}
	while (n && ws(s[n - 1]))
		n--;
	CHECK((rc == CT_OK) == reference(s, n), "ct_email_check agrees with the reference grammar");
	if (rc != CT_OK) {
		CHECK(rc == CT_ERR_INPUT, "a refusal is CT_ERR_INPUT");
		CHECK(why != NULL && why[0] != '\0', "a refusal says why");
		return 0;
	}
	CHECK(why == NULL, "why is NULL on success");
	len = strlen(out);
	CHECK(len == n && memcmp(out, s, n) == 0, "the output is the input, trimmed");
	if (len == 0)
		return 0;
	CHECK(len <= CT_EMAIL_MAX, "at most 254 bytes");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];
		CHECK(c >= 0x20 && c != 0x7f, "no control characters");
		CHECK(c < 0x80, "ASCII only (the WHATWG grammar has no UTF-8)");
		if (c == '@') {
			CHECK(i <= CT_EMAIL_LOCAL_MAX, "local part at most 64 bytes");
			ats++;
		}
	}
	CHECK(ats == 1, "exactly one @");
	CHECK(!ws((unsigned char)out[0]) && !ws((unsigned char)out[len - 1]), "trimmed");
	CHECK(!strchr("=+-@", out[0]), "does not start with = + - @");
	CHECK(strchr(strchr(out, '@'), '.') != NULL, "a dot in the domain");
	rc = ct_email_check(out, len, again, &why2);
	CHECK(rc == CT_OK && strcmp(out, again) == 0, "checking the output again gives it back");
	/* The log form "j***@acme.com": only the first character of the
	 * local part survives, whatever the rest was. */
	ct_email_mask(out, mask, sizeof(mask));
	CHECK(mask[0] == out[0] && strncmp(mask + 1, "***@", 4) == 0 &&
	      strcmp(mask + 4, strchr(out, '@')) == 0, "the mask is j***@domain");
	return 0;
}
