/* json.c — strict JSON in: RFC 8259 and nothing more (json-c's own
 * strict mode is not: see scan), one value, valid UTF-8, bounded
 * depth, nothing after it.  Everything calltrail reads from a client or a
 * file — the token body, spool records, archived objects — goes through
 * ct_json_parse, so the rules are the same everywhere. */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "calltrail.h"
#include "ct_json.h"

/* The length of the well-formed UTF-8 sequence (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF) that starts at s[i], or 0.
 * json-c's own check only refuses impossible bytes.  The one UTF-8 rule:
 * scan uses it inside strings, utf8_bad over a refused document. */
static size_t
utf8_seq(const unsigned char *s, size_t i, size_t len)
{
	unsigned char c = s[i];
	unsigned lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		if (c == 0xe0)
			lo = 0xa0;          /* overlong */
		else if (c == 0xed)
			hi = 0x9f;          /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		if (c == 0xf0)
			lo = 0x90;          /* overlong */
		else if (c == 0xf4)
			hi = 0x8f;          /* above U+10FFFF */
	} else
		return 0;
	if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi)
		return 0;
	for (size_t k = 2; k <= n; k++)
		if (s[i + k] < 0x80 || s[i + k] > 0xbf)
			return 0;
	return n + 1;
}

/* The offset of the first byte of s that is not well-formed UTF-8, or
 * len.  Only for the message about a document scan refused. */
static size_t
utf8_bad(const unsigned char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_seq(s, i, len)) == 0)
			return i;
		i += n;
	}
	return len;
}

/* RFC 8259 has no NaN or Infinity; json-c's strict mode lets them
 * through (scan refuses the words) and turns 1e999 into one, so look for
 * them in the tree when a number had a fraction or an exponent (json-c
 * keeps any other number an integer, clamped). */
static int
nonfinite(struct json_object *o)
{
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		return !isfinite(json_object_get_double(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (nonfinite(json_object_array_get_idx(o, i)))
				return 1;
		return 0;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (nonfinite(v))
				return 1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

/*
 * json-c 0.16 switches to a "C" LC_NUMERIC around every parse (duplocale,
 * newlocale, uselocale, freelocale).  Unless the thread's locale already
 * is glibc's static C locale object, each of those allocates and takes
 * glibc's one process-wide locale lock for writing: three exclusive locks
 * per document, which threads parsing at once (the CSV's readers) queue on
 * (~100,000 futex calls per million records).  calltrail never calls
 * setlocale, so the global locale is "C" already: the first parse in a
 * thread makes the C object the thread's own, which changes nothing any
 * function prints or parses, and json-c's calls then return it without
 * the lock or an allocation.  newlocale gives that static object for "C"
 * (nothing to free); when it fails, parsing works as before.
 */
static _Thread_local int c_locale_set;

static void
c_locale(void)
{
	locale_t c;

	if (c_locale_set)
		return;
	c_locale_set = 1;
	if ((c = newlocale(LC_ALL_MASK, "C", (locale_t)0)) != (locale_t)0)
		uselocale(c);
}

/*
 * RFC 8259's tokens, which json-c's strict mode does not hold a document
 * to: it takes single-quoted strings, raw control characters inside
 * strings, "1.", "1.e5", "00", "-01", NaN and Infinity.  scan checks, in
 * one pass over the bytes, every token outside and inside strings and the
 * UTF-8 inside strings (outside them only ASCII is a token); the grammar
 * that joins the tokens — nesting, commas, colons — is json-c's, which is
 * strict about it.
 */

/* What a byte is to scan: C_STOP ends a run of plain bytes inside a
 * string (the quote, the backslash, the control characters RFC 8259
 * wants escaped, and the first byte of a UTF-8 sequence: utf8_seq's);
 * C_DELIM may follow a number or a literal; C_HEX and C_ESC may follow a
 * backslash ('u' then four C_HEX). */
enum { C_STOP = 1, C_DELIM = 2, C_HEX = 4, C_ESC = 8 };

/* What a byte starts outside a string (T_BAD: nothing RFC 8259 allows). */
enum { T_BAD, T_SKIP, T_OPEN, T_CLOSE, T_STR, T_LIT, T_NUM };

static unsigned char cls[256], tok1[256];

static void
tables_init(void)
{
	const char *p;
	int c;

	for (c = 0; c < 0x20; c++)
		cls[c] = C_STOP;
	for (c = 0x80; c < 0x100; c++)
		cls[c] = C_STOP;
	cls['"'] |= C_STOP;
	cls['\\'] |= C_STOP;
	for (p = " \t\n\r{}[]:,\""; *p; p++)
		cls[(unsigned char)*p] |= C_DELIM;
	for (p = "0123456789abcdefABCDEF"; *p; p++)
		cls[(unsigned char)*p] |= C_HEX;
	for (p = "\"\\/bfnrt"; *p; p++)
		cls[(unsigned char)*p] |= C_ESC;
	for (p = " \t\n\r:,"; *p; p++)
		tok1[(unsigned char)*p] = T_SKIP;
	tok1['{'] = tok1['['] = T_OPEN;
	tok1['}'] = tok1[']'] = T_CLOSE;
	tok1['"'] = T_STR;
	tok1['t'] = tok1['f'] = tok1['n'] = T_LIT;
	for (p = "-0123456789"; *p; p++)
		tok1[(unsigned char)*p] = T_NUM;
}

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* The C_STOP bytes among the 8 at p, as the high bit of each: the "has a
 * byte less than n" test of Bit Twiddling Hacks on the bytes (< 0x20) and
 * on their XOR with '"' and '\\' (a zero byte is one less than 1), and
 * any high bit.  A borrow only runs from a flagged byte to the ones
 * after it, so the first flagged byte is exact.  Records are nearly all
 * ASCII, and most of a record is plain string bytes. */
static uint64_t
stop8(const char *p)
{
	const uint64_t ones = 0x0101010101010101u;
	uint64_t w;

	memcpy(&w, p, 8);
	return ((w - ones * 0x20) | ((w ^ ones * '"') - ones) |
	        ((w ^ ones * '\\') - ones) | w) & ones * 0x80;
}

#define DIGIT(c) ((unsigned char)((c) - '0') <= 9)

/*
 * Returns the offset of the first byte that no RFC 8259 token (or no
 * well-formed UTF-8 in a string) allows there, or len.  *nest is the
 * deepest nesting of brackets, *frac whether a number has a fraction or
 * an exponent (only those become doubles, which can overflow to Inf).
 */
static size_t
scan(const char *s, size_t len, int *nest, int *frac)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	int d = 0;

	*nest = 0;
	*frac = 0;
	while (i < len) {
		unsigned char c = u[i];

		switch (tok1[c]) {
		case T_SKIP:
			i++;
			continue;
		case T_OPEN:
			if (++d > *nest)
				*nest = d;
			i++;
			continue;
		case T_CLOSE:
			if (d > 0)  /* json-c refuses the extra one */
				d--;
			i++;
			continue;
		case T_STR:
			for (i++;;) {
				uint64_t m;

				/* To the next C_STOP byte, 8 bytes at a time. */
				while (len - i >= 8 && (m = stop8(s + i)) == 0)
					i += 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				if (len - i >= 8)
					i += (size_t)__builtin_ctzll(m) / 8;
#endif
				while (i < len && !(cls[u[i]] & C_STOP))
					i++;
				if (i == len)
					return i;   /* unterminated: json-c says "truncated" */
				c = u[i];
				if (c == '"')
					break;
				if (c >= 0x80) {
					if ((n = utf8_seq(u, i, len)) == 0)
						return i;
					i += n;
				} else if (c == '\\') {
					if (++i == len)
						return i;
					if (u[i] == 'u') {
						if (len - i <= 4 || !(cls[u[i + 1]] & C_HEX) ||
						    !(cls[u[i + 2]] & C_HEX) ||
						    !(cls[u[i + 3]] & C_HEX) ||
						    !(cls[u[i + 4]] & C_HEX))
							return i;
						i += 5;
					} else if (cls[u[i]] & C_ESC)
						i++;
					else
						return i;
				} else
					return i;   /* raw control character */
			}
			i++;
			continue;
		case T_LIT: {
			const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
			size_t wl = c == 'f' ? 5 : 4;

			if (len - i < wl || memcmp(s + i, w, wl) != 0)
				return i;
			i += wl;
			break;
		}
		case T_NUM:
			/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
			if (c == '-')
				i++;
			if (i < len && s[i] == '0')
				i++;
			else if (i < len && s[i] >= '1' && s[i] <= '9')
				while (i < len && DIGIT(s[i]))
					i++;
			else
				return i;
			if (i < len && s[i] == '.') {
				*frac = 1;
				if (++i == len || !DIGIT(s[i]))
					return i;
				while (i < len && DIGIT(s[i]))
					i++;
			}
			if (i < len && (s[i] == 'e' || s[i] == 'E')) {
				*frac = 1;
				if (++i < len && (s[i] == '+' || s[i] == '-'))
					i++;
				if (i == len || !DIGIT(s[i]))
					return i;
				while (i < len && DIGIT(s[i]))
					i++;
			}
			break;
		default:
			return i;
		}
		/* A number or literal ends at a delimiter: "00", "1x" and
		 * "truex" are one bad token, not two good ones. */
		if (i < len && !(cls[u[i]] & C_DELIM))
			return i;
	}
	return len;
}

/* Say why scan refused buf at byte end, as the separate checks this
 * replaced did, in their order: a NUL anywhere, then the first byte of
 * bad UTF-8 anywhere, then the first bad token. */
static int
refused(const char *buf, size_t len, size_t end, char *err)
{
	const char *nul = memchr(buf, '\0', len);
	size_t bad;

	if (nul != NULL)
		return ct_seterr(err, CT_ERR_INPUT, "NUL byte in the document");
	if ((bad = utf8_bad((const unsigned char *)buf, len)) != len)
		return ct_seterr(err, CT_ERR_INPUT, "invalid UTF-8 at byte %zu", bad);
	return ct_seterr(err, CT_ERR_INPUT, "not valid JSON: unexpected byte "
	                 "0x%02x at byte %zu (RFC 8259)",
	                 (unsigned char)buf[end], end);
}

int
ct_json_parse(const char *buf, size_t len, int maxdepth,
              struct json_object **out, char *err)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	enum json_tokener_error jerr;
	size_t end;
	int rc = CT_ERR_INPUT, nest, frac;

	*out = NULL;
	if (len == 0) {
		ct_seterr(err, rc, "empty document");
		goto out;
	}
	if (len > (size_t)INT32_MAX) {
		rc = ct_seterr(err, CT_ERR_TOOBIG, "document too large");
		goto out;
	}
	/* A raw NUL (json-c would stop there and call the rest "trailing")
	 * is a byte no token allows, in a string or out of one. */
	pthread_once(&tables_once, tables_init);
	if ((end = scan(buf, len, &nest, &frac)) != len) {
		refused(buf, len, end, err);
		goto out;
	}
	c_locale();
	/* json-c allocates its stack for the depth it is given, on every
	 * document: give it the depth this one needs (a value inside n
	 * brackets sits at level n), never more than maxdepth, so that it
	 * still refuses, and says so, what is nested too deep. */
	if ((tok = json_tokener_new_ex(nest < maxdepth ? nest + 1 : maxdepth)) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (o == NULL || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			ct_seterr(err, rc, "truncated JSON");
		else if (jerr == json_tokener_error_depth)
			ct_seterr(err, rc, "JSON nested deeper than %d", maxdepth);
		else
			ct_seterr(err, rc, "not valid JSON: %s at byte %zu",
			          json_tokener_error_desc(jerr),
			          json_tokener_get_parse_end(tok));
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		char c = buf[end];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			ct_seterr(err, rc, "data after the JSON value at byte %zu", end);
			goto out;
		}
	}
	if (frac && nonfinite(o)) {
		ct_seterr(err, rc, "not valid JSON: NaN or Infinity is not a number");
		goto out;
	}
	*out = o;
	o = NULL;
	rc = CT_OK;
out:
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

/* A string with an embedded NUL ("\u0000") is treated as absent: C code
 * downstream would otherwise see a shorter string than the JSON holds. */
const char *
ct_json_str(struct json_object *obj, const char *key)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}

int
ct_json_add(struct json_object *obj, const char *key, struct json_object *v,
            struct json_object **keep)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	if (keep != NULL)
		*keep = v;
	return 0;
}

int
ct_json_set_str(struct json_object *obj, const char *key,
                struct json_object **v, const char *s)
{
	if (*s != '\0')
		return json_object_set_string(*v, s) ? 0 : -1;
	/* json-c 0.16 sets "" over a heap buffer by marking the string
	 * inline, and the buffer is lost: replace the value instead (the
	 * member keeps its place in obj). */
	return ct_json_add(obj, key, json_object_new_string(""), v);
}
