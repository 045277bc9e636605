/* t/core.c — the small shared pieces: RFC 3339 times, CSPRNG ids, capped
 * buffers, strict JSON, durable file writes. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "calltrail.h"
#include "tap.h"
#include "ct_ids.h"
#include "ct_time.h"
#include "ct_json.h"
#include "ct_fs.h"

static const struct {
	const char *in;
	long long us;       /* -1: must be refused */
} times[] = {
	{ "1970-01-01T00:00:00Z", 0 },
	{ "2025-10-29T18:04:05.123456", 1761761045123456LL },
	{ "2025-10-29T18:04:05.123456Z", 1761761045123456LL },
	{ "2025-10-29T20:04:05.123456+02:00", 1761761045123456LL },
	{ "2025-10-29T13:34:05.123456-04:30", 1761761045123456LL },
	{ "2025-10-29 18:04:05Z", 1761761045000000LL },
	{ "2025-10-29t18:04:05z", 1761761045000000LL },
	{ "2025-10-29T18:04:05.1Z", 1761761045100000LL },
	{ "2025-10-29T18:04:05.123456789Z", 1761761045123456LL },
	{ "2024-02-29T00:00:00Z", 1709164800000000LL },
	{ "2000-02-29T23:59:59Z", 951868799000000LL },
	{ "1969-12-31T23:59:59.5Z", -500000LL },
	{ "2023-02-29T00:00:00Z", -1 },
	{ "1900-02-29T00:00:00Z", -1 },
	{ "2025-13-01T00:00:00Z", -1 },
	{ "2025-04-31T00:00:00Z", -1 },
	{ "2025-10-29T24:00:00Z", -1 },
	{ "2025-10-29T18:60:00Z", -1 },
	{ "2025-10-29T18:04:60Z", -1 },
	{ "2025-10-29", -1 },
	{ "2025-10-29T18:04Z", -1 },
	{ "2025-10-29T18:04:05.Z", -1 },
	{ "2025-10-29T18:04:05.1234567890Z", -1 },
	{ "2025-10-29T18:04:05+0200", -1 },
	{ "2025-10-29T18:04:05+24:00", -1 },
	{ "2025-10-29T18:04:05Z junk", -1 },
	{ " 2025-10-29T18:04:05Z", -1 },
	{ "", -1 },
	{ "0000-01-01T00:00:00Z", -1 },
	{ "9999-12-31T23:59:59.999Z", 253402300799999000LL },
	{ "9999-12-31T23:00:00-01:00", -1 },
	{ "0001-01-01T00:00:00+00:01", -1 },
	{ "0001-01-01T00:00:00-00:01", -62135596740000000LL },
};

int
main(void)
{
	size_t i, n = sizeof(times) / sizeof(times[0]);
	char ts[CT_TIMELEN], day[11], a[64], b[64], err[CT_ERRLEN];
	char dir[] = "/tmp/ct-core-XXXXXX", path[300];
	struct json_object *o;
	struct ct_buf buf;
	struct stat st;
	int64_t us;

	plan((int)n + 60 + 30 + 25);
	for (i = 0; i < n; i++) {
		int rc = ct_time_parse(times[i].in, &us);
		if (times[i].us == -1)
			is_int(CT_ERR_INPUT, rc, "time refused: \"%s\"", times[i].in);
		else
			ok(rc == CT_OK && us == times[i].us, "time \"%s\" = %lld (got %lld)",
			   times[i].in, times[i].us, rc == CT_OK ? (long long)us : -1LL);
	}
	ct_time_format_ms(1761761045123456LL, ts);
	is_str("2025-10-29T18:04:05.123Z", ts, "format with milliseconds, truncated");
	ct_time_format_ms(-500000LL, ts);
	is_str("1969-12-31T23:59:59.500Z", ts, "format before the epoch");
	ct_time_format_ms(-62135596800LL * 1000000 + 7000, ts);
	is_str("0001-01-01T00:00:00.007Z", ts, "format pads every field");
	ct_time_format_ms(253402300800LL * 1000000, ts);
	is_str("10000-01-01T00:00:00.000Z", ts, "a fifth year digit is written, not cut");
	ct_time_day(1761781445000000LL - 1, day);
	is_str("2025-10-29", day, "day of 23:44 UTC");
	ct_time_parse("2025-10-30T01:30:00+02:00", &us);
	ct_time_day(us, day);
	is_str("2025-10-29", day, "day is the UTC day, not the local one");
	ct_time_day(-62135596800LL * 1000000, day);
	is_str("0001-01-01", day, "day pads every field");
	ct_time_day(253402300800LL * 1000000 - 1, day);
	is_str("9999-12-31", day, "day of the last instant");
	ct_time_day(-1, day);
	is_str("1969-12-31", day, "day before the epoch");

	/* ids */
	is_int(CT_OK, ct_id_hex(a, 8), "hex id");
	ok(strlen(a) == 16 && strspn(a, "0123456789abcdef") == 16, "16 lower-case hex");
	ct_id_hex(b, 8);
	ok(strcmp(a, b) != 0, "two ids differ");
	is_int(CT_OK, ct_id_base32(a, 12), "base32 id");
	ok(strlen(a) == 12 && strspn(a, "abcdefghijklmnopqrstuvwxyz234567") == 12,
	   "12 base32 chars");
	is_int(CT_ERR_TOOBIG, ct_id_hex(a, 65), "id size capped");
	{
		/* Ids come from a per-thread pool: a forked child must not
		 * hand out what its parent also will. */
		int fds[2], wst;
		char kid[17] = "";
		pid_t pid;

		ct_id_hex(a, 8);   /* the pool is filled */
		if (pipe(fds) != 0 || (pid = fork()) < 0) {
			ok(0, "pipe and fork");
		} else {
			if (pid == 0) {
				ct_id_hex(kid, 8);
				_exit(write(fds[1], kid, 16) == 16 ? 0 : 1);
			}
			(void)!read(fds[0], kid, 16);
			waitpid(pid, &wst, 0);
			ct_id_hex(b, 8);
			ok(strlen(kid) == 16 && strcmp(kid, b) != 0,
			   "a forked child draws other ids than its parent");
			close(fds[0]);
			close(fds[1]);
		}
	}

	/* capped buffer */
	ct_buf_init(&buf, 8);
	is_int(CT_OK, ct_buf_adds(&buf, "12345678"), "fill to the cap");
	is_int(CT_ERR_TOOBIG, ct_buf_adds(&buf, "9"), "one byte over is refused");
	is_int(8, (long long)buf.len, "nothing appended on refusal");
	is_int(CT_ERR_TOOBIG, ct_buf_printf(&buf, "%d", 1), "printf honours the cap");
	is_str("12345678", buf.p, "a refused printf leaves the text as it was");
	ct_buf_free(&buf);
	/* printf formats into the free space, and again after growing when
	 * the text does not fit; addu writes decimal. */
	ct_buf_init(&buf, 0);
	is_int(CT_OK, ct_buf_printf(&buf, "%s=%d;", "a", 1), "printf into an empty buffer");
	is_int(CT_OK, ct_buf_printf(&buf, "%300s", "x"), "printf past the free space grows");
	is_int(CT_OK, ct_buf_addu(&buf, 18446744073709551615ULL), "addu");
	is_int(CT_OK, ct_buf_addu(&buf, 0), "addu of 0");
	ok(buf.len == 4 + 300 + 20 + 1 && strncmp(buf.p, "a=1;   ", 7) == 0 && buf.p[303] == 'x' &&
	   strcmp(buf.p + 304, "184467440737095516150") == 0 && buf.p[buf.len] == '\0',
	   "printf and addu append exactly their text");
	ct_buf_free(&buf);

	/* strict JSON */
	is_int(CT_OK, ct_json_parse("{\"a\":1} \n", 9, 8, &o, err), "object with trailing blank");
	json_object_put(o);
	is_int(CT_ERR_INPUT, ct_json_parse("{\"a\":1} x", 9, 8, &o, err), "trailing data refused");
	is_int(CT_ERR_INPUT, ct_json_parse("{\"a\":1,}", 8, 8, &o, err), "trailing comma refused");
	is_int(CT_ERR_INPUT, ct_json_parse("[[[[1]]]]", 9, 3, &o, err), "depth capped");
	ok(strstr(err, "deeper") != NULL, "... and says so");
	is_int(CT_ERR_INPUT, ct_json_parse("\"\xff\"", 3, 8, &o, err), "invalid UTF-8 refused");
	is_int(CT_ERR_INPUT, ct_json_parse("{\"a\":1}\0", 8, 8, &o, err), "NUL byte refused");
	is_int(CT_ERR_INPUT, ct_json_parse("\"\xc0\xaf\"", 4, 8, &o, err), "overlong UTF-8 refused");
	is_int(CT_ERR_INPUT, ct_json_parse("\"\xed\xa0\x80\"", 5, 8, &o, err), "encoded surrogate refused");
	is_int(CT_ERR_INPUT, ct_json_parse("\"\xf4\x90\x80\x80\"", 6, 8, &o, err), "above U+10FFFF refused");
	is_int(CT_OK, ct_json_parse("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 11, 8, &o, err), "2-, 3- and 4-byte UTF-8 accepted");
	json_object_put(o);
	is_int(CT_ERR_INPUT, ct_json_parse("[NaN]", 5, 8, &o, err), "NaN refused");
	is_int(CT_ERR_INPUT, ct_json_parse("{\"a\":-Infinity}", 15, 8, &o, err), "-Infinity refused");
	is_int(CT_ERR_INPUT, ct_json_parse("[1e999]", 7, 8, &o, err), "a number beyond double refused");
	/* RFC 8259 and nothing more (json-c's strict mode takes each of
	 * these); the accepted ones are its edge cases. */
	{
		static const struct { const char *in; int rc; } strict[] = {
			{ "{'a':1}", CT_ERR_INPUT },
			{ "{\"a\":'b'}", CT_ERR_INPUT },
			{ "[\"a\tb\"]", CT_ERR_INPUT },
			{ "[\"a\nb\"]", CT_ERR_INPUT },
			{ "[\"a\x7f\"]", CT_OK },
			{ "[\"a\x1f" "b\"]", CT_ERR_INPUT },
			{ "[1.]", CT_ERR_INPUT },
			{ "[1.e5]", CT_ERR_INPUT },
			{ "[00]", CT_ERR_INPUT },
			{ "[-01]", CT_ERR_INPUT },
			{ "[.5]", CT_ERR_INPUT },
			{ "[+1]", CT_ERR_INPUT },
			{ "[-]", CT_ERR_INPUT },
			{ "[1e]", CT_ERR_INPUT },
			{ "[Infinity]", CT_ERR_INPUT },
			{ "[nan]", CT_ERR_INPUT },
			{ "[truex]", CT_ERR_INPUT },
			{ "[True]", CT_ERR_INPUT },
			{ "[0x10]", CT_ERR_INPUT },
			{ "[\"\\x\"]", CT_ERR_INPUT },
			{ "[\"\\u12g4\"]", CT_ERR_INPUT },
			{ "[1]\fx", CT_ERR_INPUT },
			{ "\f[1]", CT_ERR_INPUT },
			{ "[1]\v", CT_ERR_INPUT },
			{ "[/*c*/1]", CT_ERR_INPUT },
			{ "{\"a\":1}{\"b\":2}", CT_ERR_INPUT },
			{ "[-0, 0.5, -1.25e+10, 1E-2, 10, 0e0]", CT_OK },
			{ "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\ude00\"]", CT_OK },
			{ " {\"a\" : [ true , false , null ] }\r\n", CT_OK },
			{ "\"\"", CT_OK },
		};
		for (i = 0; i < sizeof(strict) / sizeof(strict[0]); i++) {
			int rc = ct_json_parse(strict[i].in, strlen(strict[i].in), 8,
			                       &o, err);
			char shown[64];
			size_t k;

			/* The name on one TAP line: control characters as '?'. */
			for (k = 0; strict[i].in[k] && k < sizeof(shown) - 1; k++)
				shown[k] = (unsigned char)strict[i].in[k] < 0x20 ||
				           strict[i].in[k] == 0x7f ? '?' : strict[i].in[k];
			shown[k] = '\0';
			is_int(strict[i].rc, rc, "strict JSON: %s %s",
			       strict[i].rc == CT_OK ? "accepts" : "refuses", shown);
			if (rc == CT_OK)
				json_object_put(o);
			else if (strict[i].rc != CT_OK)
				ok(strncmp(err, "not valid JSON", 14) == 0 ||
				   strncmp(err, "data after", 10) == 0,
				   "... saying why: %s", err);
		}
	}
	ct_json_parse("{\"a\":\"x\\u0000y\",\"b\":\"ok\"}", 25, 8, &o, err);
	ok(ct_json_str(o, "a") == NULL && strcmp(ct_json_str(o, "b"), "ok") == 0,
	   "a string with an embedded NUL reads as absent");
	json_object_put(o);

	/* No state passes from one document to the next: a document cut
	 * off after a high surrogate must not join the next document's low
	 * surrogate into a character that document never held.  The same
	 * document parses the same after any other. */
	{
		const char *next = "[\"\\udc00\",\"\\u00e9\"]";
		const char *cut[] = { "[\"\\ud800", "[\"\\ud83d\"", "{\"a\":1", "\"\\ud800\"" };
		char want[64], got[64];

		is_int(CT_OK, ct_json_parse(next, strlen(next), 8, &o, err),
		       "a lone low surrogate parses");
		snprintf(want, sizeof(want), "%s", json_object_to_json_string(o));
		json_object_put(o);
		for (size_t k = 0; k < sizeof(cut) / sizeof(cut[0]); k++) {
			ct_json_parse(cut[k], strlen(cut[k]), 8, &o, err);
			json_object_put(o);
			is_int(CT_OK, ct_json_parse(next, strlen(next), 8, &o, err),
			       "parses after another document");
			snprintf(got, sizeof(got), "%s", json_object_to_json_string(o));
			json_object_put(o);
			ok(strcmp(want, got) == 0, "... into the same value");
			if (strcmp(want, got) != 0)
				diag("after %s: %s, wanted %s", cut[k], got, want);
		}
	}

	/* The depth limit is json-c's: a value inside n brackets needs
	 * maxdepth > n, whether or not ct_json_parse gives json-c a smaller
	 * stack for a shallower document.  Brackets in strings do not nest. */
	{
		char doc[64];
		int nb, m, rc, agree = 1;

		for (m = 2; m <= 6; m++)
			for (nb = 1; nb <= 7; nb++) {
				snprintf(doc, sizeof(doc), "%.*s1%.*s", nb, "[[[[[[[[",
				         nb, "]]]]]]]]");
				rc = ct_json_parse(doc, strlen(doc), m, &o, err);
				if (rc == CT_OK)
					json_object_put(o);
				if ((rc == CT_OK) != (nb < m) ||
				    (rc != CT_OK && strstr(err, "deeper") == NULL)) {
					agree = 0;
					diag("%s at depth %d: %s", doc, m, rc == CT_OK ? "ok" : err);
				}
			}
		ok(agree, "n brackets around a value need a depth above n, 1 <= n <= 7");
		snprintf(doc, sizeof(doc), "{\"a\":[{\"b\":\"[[[[{{{{\"}]}");
		rc = ct_json_parse(doc, strlen(doc), 4, &o, err);
		is_int(CT_OK, rc, "brackets in a string do not count as nesting");
		if (rc == CT_OK)
			json_object_put(o);
		rc = ct_json_parse("[1]]][[[[[[[[1]]]]]]]]", 22, 3, &o, err);
		ok(rc == CT_ERR_INPUT && strstr(err, "deeper") == NULL,
		   "an extra closing bracket is refused as such: %s", err);
	}
	/* One pass finds the first bad byte; the message still names the
	 * worst fault: a NUL anywhere, then bad UTF-8 anywhere, then the
	 * token. */
	ct_json_parse("[x,\"\xff\"]", 7, 8, &o, err);
	is_str("invalid UTF-8 at byte 4", err, "bad UTF-8 after a bad token: the UTF-8 named");
	ct_json_parse("[x]\0", 4, 8, &o, err);
	is_str("NUL byte in the document", err, "a NUL after a bad token: the NUL named");
	ct_json_parse("[1,\"a\x01\"]", 8, 8, &o, err);
	is_str("not valid JSON: unexpected byte 0x01 at byte 5 (RFC 8259)", err,
	       "a raw control character: its byte and offset");

	/* durable file write */
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/x/y/z", dir);
	is_int(CT_OK, ct_mkdirs(path, 0750, err), "mkdirs");
	snprintf(path, sizeof(path), "%s/x/y/z/f", dir);
	is_int(CT_OK, ct_file_put(path, "hello", 5, 0640, err), "file_put");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640 && st.st_size == 5,
	   "file_put: mode 0640, whole content");
	ct_buf_init(&buf, 4);
	is_int(CT_ERR_TOOBIG, ct_file_read(path, 4, &buf, err), "file_read honours its cap");
	ct_buf_free(&buf);
	unlink(path);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		diag("cleanup failed");
	return done();
}
