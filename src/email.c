/*
 * email.c — the one email rule shared by the token service, the spool and
 * the CSV.  The grammar is WHATWG's "valid e-mail address" (what a browser's
 * <input type=email> accepts):
 *
 *   email = 1*( atext / "." ) "@" label *( "." label )
 *   atext = ALPHA / DIGIT / "!#$%&'*+/=?^_`{|}~-"
 *   label = let-dig [ [ ldh-str ] let-dig ]   ; at most 63 chars
 *
 * tightened by calltrail: RFC 5321's limits (254 bytes in all, 64 for the
 * local part), at least one dot in the domain (no intranet hosts), and no
 * leading = + - @ so the address can never start a spreadsheet formula.
 */
#include <string.h>

#include "calltrail.h"
#include "ct_email.h"

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int
is_atext(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

/* Check the domain d[0..n): dot-separated labels of letters, digits and
 * inner hyphens, 1..63 chars each, at least two labels. */
static const char *
check_domain(const char *d, size_t n)
{
	size_t i, start = 0;
	int dots = 0;

	if (n == 0)
		return "nothing after the @";
	for (i = 0; i <= n; i++) {
		if (i < n && d[i] != '.') {
			unsigned char c = (unsigned char)d[i];
			if (!is_alnum(c) && c != '-')
				return "a character not allowed in the domain";
			continue;
		}
		/* a label ends at d[i] */
		if (i == start)
			return "an empty label in the domain";
		if (i - start > 63)
			return "a domain label longer than 63 characters";
		if (d[start] == '-' || d[i - 1] == '-')
			return "a domain label that starts or ends with a hyphen";
		if (i < n)
			dots++;
		start = i + 1;
	}
	if (dots == 0)
		return "no dot in the domain";
	return NULL;
}

int
ct_email_check(const char *in, size_t len, char *out, const char **why)
{
	const char *s = in, *at = NULL, *w = NULL;
	size_t n = len, i, local;

	out[0] = '\0';
	while (n && is_ws((unsigned char)s[0])) {
		s++;
		n--;
	}
	while (n && is_ws((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		goto ok;
	if (n > CT_EMAIL_MAX) {
		w = "longer than 254 bytes";
		goto bad;
	}
	if (s[0] != '\0' && strchr("=+-@", s[0])) {
		w = "starts with one of = + - @";
		goto bad;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			w = "a control character";
			goto bad;
		}
		if (c == '@' && at == NULL)
			at = s + i;
	}
	if (at == NULL) {
		w = "no @";
		goto bad;
	}
	local = (size_t)(at - s);
	if (local > CT_EMAIL_LOCAL_MAX) {
		w = "local part longer than 64 bytes";
		goto bad;
	}
	for (i = 0; i < local; i++) {
		if (!is_atext((unsigned char)s[i]) && s[i] != '.') {
			w = "a character not allowed before the @";
			goto bad;
		}
	}
	if ((w = check_domain(at + 1, n - local - 1)) != NULL)
		goto bad;
ok:
	memcpy(out, s, n);
	out[n] = '\0';
	if (why)
		*why = NULL;
	return CT_OK;
bad:
	if (why)
		*why = w;
	return CT_ERR_INPUT;
}
