/* t/csv.c — the CSV writing rules and the day's aggregation (src/csv.c). */
#include <stdlib.h>
#include <string.h>

#include "ct_csv.h"
#include "tap.h"

#define H CT_CSV_HEADER "\r\n"

/* 2025-10-29T18:04:05.123Z and friends, in microseconds. */
#define T0 1761761045123000LL

static char *cell(const char *s)
{
	static struct ct_buf b;

	ct_buf_free(&b);
	ct_buf_init(&b, 0);
	if (ct_csv_write_cell(&b, s, strlen(s)) != CT_OK)
		return NULL;
	return b.p ? b.p : (char *)"";
}

static char unsafe_seen[512];

static void on_unsafe(void *arg, const char *sid)
{
	(*(int *)arg)++;
	strncat(unsafe_seen, sid, sizeof(unsafe_seen) - strlen(unsafe_seen) - 2);
	strcat(unsafe_seen, " ");
}

/* Render d into a fresh string (caller frees). */
static char *render(struct ct_csv_day *d, struct ct_csv_stats *st, int *nunsafe)
{
	struct ct_buf b;
	char *s;

	ct_buf_init(&b, 0);
	unsafe_seen[0] = '\0';
	if (ct_csv_day_render(d, &b, on_unsafe, nunsafe, st) != CT_OK) {
		ct_buf_free(&b);
		return NULL;
	}
	s = strdup(b.p ? b.p : "");
	ct_buf_free(&b);
	return s;
}

static int add(struct ct_csv_day *d, const char *email, const char *sid,
               int64_t end, const char *tier)
{
	enum ct_csv_skip skip;

	if (ct_csv_day_add(d, email, sid, end, tier, &skip) != CT_OK)
		return -1;
	return (int)skip;
}

static void test_cells(void)
{
	const char *cells[] = { "a", "b,c", "" };
	struct ct_buf b;

	is_str("plain", cell("plain"), "a plain cell is not quoted");
	is_str("", cell(""), "an empty cell stays empty");
	is_str("\"a,b\"", cell("a,b"), "a comma is quoted");
	is_str("\"say \"\"hi\"\"\"", cell("say \"hi\""), "quotes are doubled");
	is_str("\"a\r\nb\"", cell("a\r\nb"), "CR LF are quoted, kept verbatim");
	is_str("\"a\nb\"", cell("a\nb"), "a lone LF is quoted");
	is_str("\"\"\"\"", cell("\""), "a lone quote");
	is_str("caf\xc3\xa9 ok", cell("caf\xc3\xa9 ok"), "UTF-8 and spaces pass as they are");

	ct_buf_init(&b, 0);
	ok(ct_csv_write_row(&b, cells, 3) == CT_OK, "write_row");
	is_str("a,\"b,c\",\r\n", b.p, "a row: comma-separated, CRLF");
	ct_buf_free(&b);

	ok(ct_csv_cell_unsafe("=1+1", 4) && ct_csv_cell_unsafe("+1", 2) &&
	   ct_csv_cell_unsafe("-1", 2) && ct_csv_cell_unsafe("@SUM", 4) &&
	   ct_csv_cell_unsafe("\tx", 2) && ct_csv_cell_unsafe("\rx", 2),
	   "= + - @ TAB CR first are unsafe");
	ok(!ct_csv_cell_unsafe("", 0) && !ct_csv_cell_unsafe("a=1", 3) &&
	   !ct_csv_cell_unsafe(" =1", 3) && !ct_csv_cell_unsafe("\nx", 2),
	   "later, after a space or LF is not unsafe");
}

static void test_empty(void)
{
	struct ct_csv_day *d;
	struct ct_csv_stats st;
	int nu = 0;
	char *s;

	ok(ct_csv_day_new(&d) == CT_OK, "day_new");
	s = render(d, &st, &nu);
	is_str(H, s, "an empty day is the header alone, CRLF-terminated");
	is_int(0, (long long)st.rows, "no rows");
	free(s);
	ct_csv_day_free(d);
}

static void test_day(void)
{
	struct ct_csv_day *d;
	struct ct_csv_stats st;
	char long_email[100];
	int nu = 0;
	char *s;

	/* 80 characters is Salesforce's limit: 64 + 16 fits, 64 + 17 not. */
	memset(long_email, 'a', 64);
	strcpy(long_email + 64, "@example.com.abc");

	ct_csv_day_new(&d);
	is_int(CT_CSV_TAKEN, add(d, "A@x.com", "s1", T0, "warm"), "first call taken");
	is_int(CT_CSV_TAKEN, add(d, " a@X.com ", "s2", T0 + 1000, "hot, \"very\""),
	       "same email, other case and blanks, taken");
	is_int(CT_CSV_TAKEN, add(d, "a@x.COM", "s0", T0 - 5000000, "cold"),
	       "an older call of the same caller");
	is_int(CT_CSV_TAKEN, add(d, "Zed@example.org", "z1", T0, NULL),
	       "no tier");
	is_int(CT_CSV_TAKEN, add(d, "b@example.org", "b1", T0, "x"), "b");
	is_int(CT_CSV_TAKEN, add(d, "b@example.org", "b2", T0, "y"),
	       "same end time: the larger session id wins");
	is_int(CT_CSV_NO_EMAIL, add(d, "", "n1", T0, NULL), "no email");
	is_int(CT_CSV_NO_EMAIL, add(d, "  ", "n2", T0, NULL), "blank email");
	is_int(CT_CSV_NO_EMAIL, add(d, NULL, "n3", T0, NULL), "NULL email");
	is_int(CT_CSV_BAD_EMAIL, add(d, "not an email", "e1", T0, NULL), "bad email");
	is_int(CT_CSV_BAD_EMAIL, add(d, "=cmd@x.com", "e2", T0, NULL), "formula email");
	is_int(CT_CSV_TAKEN, add(d, long_email, "l0", T0, NULL), "80 characters taken");
	strcpy(long_email + 64, "@example.com.abcd");
	is_int(CT_CSV_TOO_LONG, add(d, long_email, "l1", T0, NULL), "81 characters left out");
	is_int(CT_CSV_TAKEN, add(d, "evil@x.com", "v1", T0, "=HYPERLINK(\"x\")"),
	       "a formula tier is taken (refused at render)");
	is_int(CT_CSV_TAKEN, add(d, "dash@x.com", "-v2", T0, "ok"),
	       "a session id with a leading dash is taken");
	is_int(CT_CSV_TAKEN, add(d, "tab@x.com", "v3", T0, "\tx"), "tab tier");
	is_int(CT_CSV_TAKEN, add(d, "safe@x.com", "v4", T0, "=old"), "old unsafe call");
	is_int(CT_CSV_TAKEN, add(d, "safe@x.com", "v5", T0 + 1, "fine"),
	       "a later safe call wins over an older unsafe one");
	ok(add(d, "q@x.com", "", T0, NULL) < 0, "an empty session id is an error");

	s = render(d, &st, &nu);
	is_str(H
	       "a@x.com,s2,2025-10-29T18:04:05.124Z,\"hot, \"\"very\"\"\",3\r\n"
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	       "@example.com.abc,l0,2025-10-29T18:04:05.123Z,,1\r\n"
	       "b@example.org,b2,2025-10-29T18:04:05.123Z,y,2\r\n"
	       "safe@x.com,v5,2025-10-29T18:04:05.123Z,fine,2\r\n"
	       "zed@example.org,z1,2025-10-29T18:04:05.123Z,,1\r\n",
	       s, "rows: one per lower(trim(email)), latest wins, sorted, quoted, counted");
	is_int(18, (long long)st.calls, "calls counted (not the refused empty id)");
	is_int(3, (long long)st.no_email, "no-email counted");
	is_int(2, (long long)st.bad_email, "bad emails counted");
	is_int(1, (long long)st.too_long, "over-long counted");
	is_int(5, (long long)st.rows, "rows written");
	is_int(3, (long long)st.unsafe, "unsafe rows left out");
	is_int(3, nu, "each unsafe row reported");
	is_str("-v2 v1 v3 ", unsafe_seen, "by session id, in row order (never the email)");
	free(s);
	ct_csv_day_free(d);
}

/* The same calls in another order give the same bytes; a big day grows
 * the table without losing anyone. */
static void test_order_and_growth(void)
{
	struct ct_csv_day *a, *b;
	struct ct_csv_stats st;
	char email[64], sid[32];
	int nu = 0, same;
	char *sa, *sb;

	ct_csv_day_new(&a);
	ct_csv_day_new(&b);
	for (int i = 0; i < 5000; i++) {
		snprintf(email, sizeof(email), "u%d@Example.com", i % 1500);
		snprintf(sid, sizeof(sid), "s%d", i);
		add(a, email, sid, T0 + (i % 7) * 1000, i % 3 ? "t" : "u");
	}
	for (int i = 4999; i >= 0; i--) {
		snprintf(email, sizeof(email), " U%d@example.COM", i % 1500);
		snprintf(sid, sizeof(sid), "s%d", i);
		add(b, email, sid, T0 + (i % 7) * 1000, i % 3 ? "t" : "u");
	}
	sa = render(a, &st, &nu);
	is_int(1500, (long long)st.rows, "1500 distinct callers after growth");
	sb = render(b, NULL, &nu);
	same = sa && sb && strcmp(sa, sb) == 0;
	ok(same, "the order calls arrive in does not change the bytes");
	ok(sa && strstr(sa, "\r\nu0@example.com,s4500,2025-10-29T18:04:05.129Z,u,4\r\n") != NULL,
	   "u0: 4 calls, the latest (end +6 ms) wins");
	free(sa);
	free(sb);
	ct_csv_day_free(a);
	ct_csv_day_free(b);
}

/* Calls prepared (ct_csv_call_prep) and added in batches, as the exporter
 * does, give the same bytes and counts as ct_csv_day_add one by one, for
 * emails as ct_email_check leaves them: "" and over 80 bytes included. */
static void test_batches(void)
{
	struct ct_csv_day *a, *b;
	struct ct_csv_call c[37];
	struct ct_csv_stats sa_st, sb_st;
	char email[128], sid[32], tier[8];
	size_t nc = 0;
	int nu = 0, bad = 0;
	char *sa, *sb;

	ct_csv_day_new(&a);
	ct_csv_day_new(&b);
	for (int i = 0; i < 9000; i++) {
		if (i % 101 == 0)
			email[0] = '\0';
		else if (i % 211 == 0)
			snprintf(email, sizeof(email), "%060d@d%024d.example.com", i, i);
		else
			snprintf(email, sizeof(email), "U%d@Example.com", i % 2500);
		snprintf(sid, sizeof(sid), "s%d", i % 4000);
		snprintf(tier, sizeof(tier), "t%d", i % 5);
		add(a, email, sid, T0 + (i % 11) * 1000, i % 7 ? tier : NULL);
		/* The tier is not copied: each call's own buffer, alive until
		 * the batch is added. */
		if (ct_csv_call_prep(&c[nc], email, sid, T0 + (i % 11) * 1000,
		                     i % 7 ? strdup(tier) : NULL) != CT_OK)
			bad++;
		if (++nc == 37 || i == 8999) {
			if (ct_csv_day_add_calls(b, c, nc) != CT_OK)
				bad++;
			for (size_t k = 0; k < nc; k++)
				free((char *)c[k].tier);
			nc = 0;
		}
	}
	ok(bad == 0, "prep and add_calls succeed");
	ok(ct_csv_call_prep(&c[0], "a@b.c", "", T0, NULL) == CT_ERR_INPUT,
	   "prep refuses an empty session id");
	sa = render(a, &sa_st, &nu);
	sb = render(b, &sb_st, &nu);
	ok(sa && sb && strcmp(sa, sb) == 0, "batches give the same bytes as one by one");
	ok(sa_st.calls == sb_st.calls && sa_st.no_email == sb_st.no_email &&
	   sa_st.too_long == sb_st.too_long && sa_st.rows == sb_st.rows,
	   "and the same counts (calls %zu, no email %zu, too long %zu, rows %zu)",
	   sb_st.calls, sb_st.no_email, sb_st.too_long, sb_st.rows);
	is_int(2500, (long long)sb_st.rows, "2500 callers");
	free(sa);
	free(sb);
	ct_csv_day_free(a);
	ct_csv_day_free(b);
}

/* A tier longer than Salesforce's 255-character text field leaves the
 * row out like an unsafe one, never cut; characters are UTF-16 units. */
static void test_tier_limit(void)
{
	struct ct_csv_day *d;
	struct ct_csv_stats st;
	char t255[256], t256[257], e128[4 * 128 + 1], u255[2 * 255 + 1];
	int nu = 0;
	char *s;

	memset(t255, 'a', 255);
	t255[255] = '\0';
	memset(t256, 'a', 256);
	t256[256] = '\0';
	for (int i = 0; i < 128; i++)
		memcpy(e128 + 4 * i, "\xf0\x9f\x98\x80", 4);
	e128[4 * 128] = '\0';
	for (int i = 0; i < 255; i++)
		memcpy(u255 + 2 * i, "\xc3\xa9", 2);
	u255[2 * 255] = '\0';
	ct_csv_day_new(&d);
	add(d, "a@x.com", "a1", T0, t255);
	add(d, "b@x.com", "b1", T0, t256);
	add(d, "c@x.com", "c1", T0, e128);
	add(d, "d@x.com", "d1", T0, u255);
	s = render(d, &st, &nu);
	is_int(2, (long long)st.rows, "tiers of 255 characters (1- or 2-byte) are written");
	is_int(2, (long long)st.tier_long, "a 256-character tier, and 128 4-byte ones, are too long");
	is_int(0, (long long)st.unsafe, "... counted apart from unsafe cells");
	is_str("b1 c1 ", unsafe_seen, "... and reported by session id");
	ok(s && strstr(s, t255) && !strstr(s, t256) && !strstr(s, "b@x.com"),
	   "the row is left out, never cut");
	free(s);
	ct_csv_day_free(d);
}

int main(void)
{
	plan(56);
	test_tier_limit();
	test_cells();
	test_empty();
	test_day();
	test_order_and_growth();
	test_batches();
	return done();
}
