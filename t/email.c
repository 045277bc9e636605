/* t/email.c — the email rule, table-driven: WHATWG's valid e-mail address
 * grammar, RFC 5321's length limits, and calltrail's own additions. */
#include <string.h>

#include "calltrail.h"
#include "tap.h"
#include "ct_email.h"

static const struct {
	const char *in;
	int valid;
	const char *trimmed;   /* NULL: same as in */
	const char *what;
} cases[] = {
	{ "jane@acme.com", 1, NULL, "plain" },
	{ "Jane.Doe@Acme.COM", 1, NULL, "mixed case kept as given" },
	{ "j@a.co", 1, NULL, "shortest sensible" },
	{ "first.last@sub.example.org", 1, NULL, "subdomain" },
	{ "user+tag@example.com", 1, NULL, "plus tag" },
	{ "user_name@example.com", 1, NULL, "underscore" },
	{ "o'brien@example.ie", 1, NULL, "apostrophe" },
	{ "x!#$%&'*/=?^_`{|}~y@example.com", 1, NULL, "every atext symbol" },
	{ "a.b.c@example.com", 1, NULL, "dots in local" },
	{ "a..b@example.com", 1, NULL, "WHATWG allows consecutive dots" },
	{ "a.@example.com", 1, NULL, "WHATWG allows trailing dot in local" },
	{ ".a@example.com", 1, NULL, "WHATWG allows leading dot in local" },
	{ "1234@example.com", 1, NULL, "digits local" },
	{ "user@123.example", 1, NULL, "digit label" },
	{ "user@a-b.example.com", 1, NULL, "hyphen inside label" },
	{ "user@xn--bcher-kva.example", 1, NULL, "punycode label" },
	{ "user@example.co.uk", 1, NULL, "three labels" },
	{ "  jane@acme.com  ", 1, "jane@acme.com", "spaces trimmed" },
	{ "\011jane@acme.com\015\012", 1, "jane@acme.com", "tab CR LF trimmed" },
	{ "\014jane@acme.com\012", 1, "jane@acme.com", "form feed trimmed" },
	{ "", 1, "", "empty allowed" },
	{ "   ", 1, "", "blank allowed, becomes empty" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", 1, NULL, "local part of 64" },
	{ "u@bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.com", 1, NULL, "label of 63" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", 1, NULL, "254 bytes in all" },
	{ "~tilde@example.com", 1, NULL, "tilde first" },
	{ "_u@example.com", 1, NULL, "underscore first" },
	{ "u@EXAMPLE.COM", 1, NULL, "upper-case domain" },
	{ "user@sub-1.sub-2.example", 1, NULL, "several hyphenated labels" },
	{ "a/b@example.com", 1, NULL, "slash in local" },
	{ "plainaddress", 0, NULL, "no @" },
	{ "@example.com", 0, NULL, "nothing before @" },
	{ "user@", 0, NULL, "nothing after @" },
	{ "user@localhost", 0, NULL, "no dot in domain" },
	{ "user@@example.com", 0, NULL, "two @" },
	{ "us@er@example.com", 0, NULL, "@ in local" },
	{ "user name@example.com", 0, NULL, "space inside" },
	{ "user@exa mple.com", 0, NULL, "space in domain" },
	{ "\"quoted\"@example.com", 0, NULL, "quoted local (RFC 5322, not WHATWG)" },
	{ "user(comment)@example.com", 0, NULL, "comment" },
	{ "user@[192.168.0.1]", 0, NULL, "address literal" },
	{ "user@-example.com", 0, NULL, "label starts with hyphen" },
	{ "user@example-.com", 0, NULL, "label ends with hyphen" },
	{ "user@example..com", 0, NULL, "empty label" },
	{ "user@.example.com", 0, NULL, "leading dot in domain" },
	{ "user@example.com.", 0, NULL, "trailing dot in domain" },
	{ "user@exam_ple.com", 0, NULL, "underscore in domain" },
	{ "user@u\303\261icode.com", 0, NULL, "non-ASCII domain" },
	{ "\303\274ser@example.com", 0, NULL, "non-ASCII local" },
	{ "=cmd@example.com", 0, NULL, "leading =" },
	{ "+cmd@example.com", 0, NULL, "leading +" },
	{ "-cmd@example.com", 0, NULL, "leading -" },
	{ "@cmd@example.com", 0, NULL, "leading @" },
	{ "  =cmd@example.com", 0, NULL, "leading = after trim" },
	{ "user\001@example.com", 0, NULL, "control char" },
	{ "user@exa\177mple.com", 0, NULL, "DEL" },
	{ "us\011er@example.com", 0, NULL, "inner tab" },
	{ "user@exa\012mple.com", 0, NULL, "inner newline" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", 0, NULL, "local part of 65" },
	{ "u@bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.com", 0, NULL, "label of 64" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", 0, NULL, "255 bytes" },
	{ "user@example,com", 0, NULL, "comma in domain" },
	{ "user;x@example.com", 0, NULL, "semicolon" },
	{ "user<x>@example.com", 0, NULL, "angle brackets" },
	{ "user\\@example.com", 0, NULL, "backslash" },
	{ "user@example.com>", 0, NULL, "trailing >" },
	{ "<user@example.com>", 0, NULL, "angle-addr" },
	{ "user@exa%mple.com", 0, NULL, "percent in domain" },
};

int
main(void)
{
	size_t i, n = sizeof(cases) / sizeof(cases[0]);
	char out[CT_EMAIL_MAX + 1], mask[CT_MASKLEN];
	const char *why;

	plan((int)n + 6);
	for (i = 0; i < n; i++) {
		int rc = ct_email_check(cases[i].in, strlen(cases[i].in), out, &why);
		if (cases[i].valid)
			ok(rc == CT_OK && strcmp(out, cases[i].trimmed ? cases[i].trimmed :
			   cases[i].in) == 0, "valid: %s", cases[i].what);
		else
			ok(rc == CT_ERR_INPUT && why != NULL, "refused: %s (%s)",
			   cases[i].what, why ? why : "no reason");
	}
	/* the length is honoured: bytes after len are not part of the input */
	ok(ct_email_check("jane@acme.comXXXX", 13, out, &why) == CT_OK &&
	   strcmp(out, "jane@acme.com") == 0, "only len bytes are read");
	ok(ct_email_check("jane@acme.com\0evil", 19, out, &why) == CT_ERR_INPUT,
	   "an embedded NUL is refused");
	ct_email_mask("jane@acme.com", mask, sizeof(mask));
	is_str("j***@acme.com", mask, "mask keeps the first letter and the domain");
	ct_email_mask("", mask, sizeof(mask));
	is_str("-", mask, "mask of no email");
	ct_email_mask("nodomain", mask, sizeof(mask));
	is_str("***", mask, "mask without @");
	ct_email_mask("j@a.com\nfake line", mask, sizeof(mask));
	ok(strchr(mask, '\n') == NULL, "mask never lets a newline into a log");
	return done();
}
