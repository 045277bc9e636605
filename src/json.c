/* json.c — strict JSON in: RFC 8259 and nothing more (json-c's own
 * strict mode is not: see lex_bad), one value, valid UTF-8, bounded
 * depth, nothing after it.  Everything calltrail reads from a client or a
 * file — the token body, spool records, archived objects — goes through
 * ct_json_parse, so the rules are the same everywhere. */
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "calltrail.h"
#include "ct_json.h"

/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF.  json-c's own check only refuses impossible bytes.
 * Returns the offset of the first bad byte, or len. */
static size_t
utf8_bad(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c;
		size_t n;
		unsigned lo = 0x80, hi = 0xbf;
		uint64_t w;

		/* Eight ASCII bytes at a time: records are nearly all ASCII,
		 * and this loop was a few per cent of the CSV's CPU. */
		if (len - i >= 8) {
			memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080u) == 0) {
				i += 8;
				continue;
			}
		}
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
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
			return i;
		if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return i;
		i += n + 1;
	}
	return len;
}

/* RFC 8259 has no NaN or Infinity; json-c's strict mode lets them
 * through (and turns 1e999 into one), so look for them in the tree. */
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
 * strings, "1.", "1.e5", "00", "-01", NaN and Infinity.  This pass checks
 * every token outside and inside strings (the grammar that joins them —
 * nesting, commas, colons — is json-c's, which is strict about it).
 * Returns the offset of the first byte that no RFC 8259 token allows
 * there, or len.  UTF-8 is utf8_bad's.
 */
/* Bytes that end a run of plain bytes inside a string: the quote, the
 * backslash and the control characters RFC 8259 wants escaped. */
static const unsigned char strstop[256] = {
	[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
	[0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1,
	[0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1,
	[0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
	[0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1,
	[0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

/* Are the 8 bytes at p plain string bytes (none in strstop)?  The
 * "has a byte less than n" test of Bit Twiddling Hacks, on the bytes and
 * on their XOR with '"' and '\\' (a zero byte is one less than 1); bytes
 * of 0x80 and above never count as less.  As utf8_bad, 8 at a time. */
static int
plain8(const char *p)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	uint64_t w, q, b;

	memcpy(&w, p, 8);
	q = w ^ (ones * '"');
	b = w ^ (ones * '\\');
	return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
	        ((b - ones) & ~b)) & high ? 0 : 1;
}

static size_t
lex_bad(const char *s, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case ' ': case '\t': case '\n': case '\r':
		case '{': case '}': case '[': case ']': case ':': case ',':
			i++;
			continue;
		case '"':
			for (i++; i < len && s[i] != '"'; i++) {
				/* Most of a record is plain string bytes. */
				while (len - i >= 8 && plain8(s + i))
					i += 8;
				while (i < len && !strstop[(unsigned char)s[i]])
					i++;
				if (i == len || s[i] == '"')
					break;
				if ((unsigned char)s[i] < 0x20)
					return i;   /* raw control character */
				if (++i == len)
					return i;
				if (s[i] == 'u') {
					for (k = 1; k <= 4; k++)
						if (i + k >= len ||
						    !strchr("0123456789abcdefABCDEF", s[i + k]) ||
						    s[i + k] == '\0')
							return i;
					i += 4;
				} else if (!strchr("\"\\/bfnrt", s[i]) || s[i] == '\0')
					return i;
			}
			if (i == len)
				return i;   /* unterminated: json-c says "truncated" */
			i++;
			continue;
		case 't': case 'f': case 'n': {
			const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
			size_t n = strlen(w);

			if (len - i < n || memcmp(s + i, w, n) != 0)
				return i;
			i += n;
			break;
		}
		default:
			/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
			if (c == '-')
				i++;
			if (i < len && s[i] == '0')
				i++;
			else if (i < len && s[i] >= '1' && s[i] <= '9')
				while (i < len && s[i] >= '0' && s[i] <= '9')
					i++;
			else
				return i;
			if (i < len && s[i] == '.') {
				if (++i == len || s[i] < '0' || s[i] > '9')
					return i;
				while (i < len && s[i] >= '0' && s[i] <= '9')
					i++;
			}
			if (i < len && (s[i] == 'e' || s[i] == 'E')) {
				if (++i < len && (s[i] == '+' || s[i] == '-'))
					i++;
				if (i == len || s[i] < '0' || s[i] > '9')
					return i;
				while (i < len && s[i] >= '0' && s[i] <= '9')
					i++;
			}
			break;
		}
		/* A number or literal ends at a delimiter: "00", "1x" and
		 * "truex" are one bad token, not two good ones. */
		if (i < len && !strchr(" \t\n\r{}[]:,\"", s[i]))
			return i;
	}
	return len;
}

int
ct_json_parse(const char *buf, size_t len, int maxdepth,
              struct json_object **out, char *err)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	enum json_tokener_error jerr;
	size_t end;
	int rc = CT_ERR_INPUT;

	*out = NULL;
	if (len == 0) {
		ct_seterr(err, rc, "empty document");
		goto out;
	}
	if (len > (size_t)INT32_MAX) {
		rc = ct_seterr(err, CT_ERR_TOOBIG, "document too large");
		goto out;
	}
	/* json-c would stop at a raw NUL and call the rest "trailing". */
	if (memchr(buf, '\0', len) != NULL) {
		ct_seterr(err, rc, "NUL byte in the document");
		goto out;
	}
	if ((end = utf8_bad((const unsigned char *)buf, len)) != len) {
		ct_seterr(err, rc, "invalid UTF-8 at byte %zu", end);
		goto out;
	}
	if ((end = lex_bad(buf, len)) != len) {
		ct_seterr(err, rc, "not valid JSON: unexpected byte 0x%02x at "
		          "byte %zu (RFC 8259)", (unsigned char)buf[end], end);
		goto out;
	}
	c_locale();
	if ((tok = json_tokener_new_ex(maxdepth)) == NULL) {
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
	if (nonfinite(o)) {
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
