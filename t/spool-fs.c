/*
 * t/spool-fs.c — the spool against a hostile file system: the directory
 * reader and its name rule, symlinks planted anywhere in the spool (never
 * followed, always an error naming the path, nothing outside touched),
 * and prune on a clock that is wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_spool.h"
#include "tap.h"

static char base[PATH_MAX - 256], top[PATH_MAX];

/* ok() when got matches the extended regular expression re. */
static int like(const char *got, const char *re, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int like(const char *got, const char *re, const char *fmt, ...)
{
	regex_t r;
	va_list ap;
	int m = regcomp(&r, re, REG_EXTENDED | REG_NOSUB) == 0 &&
	        regexec(&r, got, 0, NULL, 0) == 0;

	regfree(&r);
	va_start(ap, fmt);
	m = okv(m, fmt, ap);
	va_end(ap);
	return m;
}

static const char rec[] = "{\"session_id\":\"s1\",\"start_time\":"
	"\"2025-10-29T18:00:00Z\",\"end_time\":\"2025-10-29T18:05:00Z\"}\n";

static char *at(const char *sub)
{
	static char p[4][PATH_MAX + 64];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/%s", top, sub);
	return p[k];
}

static int exists(const char *sub)
{
	struct stat st;
	return lstat(at(sub), &st) == 0;
}

static void touch(const char *sub)
{
	FILE *f = fopen(at(sub), "w");

	if (f != NULL) {
		fputs(rec, f);
		fclose(f);
	}
}

/* A fresh spool under base/NAME, opened and locked. */
static int fresh(struct ct_spool *s, const char *name)
{
	char err[CT_ERRLEN];

	snprintf(top, sizeof top, "%s/%s", base, name);
	return ct_spool_open(s, top, 1, err) == CT_OK && ct_spool_lock(s, err) == CT_OK;
}

/* Read an area to the end: names joined by ' ' into out; errors counted. */
static int readall(struct ct_spool *s, enum ct_spool_area a, const char *day,
                   char *out, size_t n, int *errs, char *err)
{
	struct ct_spool_dir d;
	const char *name;
	int rc;

	out[0] = '\0';
	*errs = 0;
	if ((rc = ct_spool_dir_open(s, a, day, &d, err)) != CT_OK)
		return rc;
	for (;;) {
		rc = ct_spool_dir_next(&d, &name, err);
		if (rc != CT_OK) {
			(*errs)++;
			if (name == NULL)
				break;
			continue;
		}
		if (name == NULL)
			break;
		strncat(out, name, n - strlen(out) - 1);
		strncat(out, " ", n - strlen(out) - 1);
	}
	ct_spool_dir_close(&d);
	return rc;
}

static void test_reader(void)
{
	struct ct_spool s;
	struct ct_spool_dir d;
	char err[CT_ERRLEN], out[1024];
	int errs;

	ok(fresh(&s, "reader"), "a spool for the reader");
	touch("new/1.1.a.json");
	touch("new/.tmp-x");
	touch("new/1.1.a.json.why");
	touch("new/x.json");
	mkdir(at("new/2.2.b.json"), 0700);
	symlink("/etc/passwd", at("new/3.3.c.json"));
	ok(readall(&s, CT_SPOOL_NEW, NULL, out, sizeof out, &errs, err) == CT_OK,
	   "new/ read to the end");
	is_str("1.1.a.json ", out, "only the regular file with a record's name");
	is_int(1, errs, "a symlink with a record's name is reported");
	ok(ct_spool_dir_open(&s, CT_SPOOL_NEW, NULL, &d, err) == CT_OK, "reopen");
	ok(d.fd >= 0 && strstr(d.path, "/reader/new") != NULL, "fd and path: %s",
	   d.path);
	ct_spool_dir_close(&d);
	ct_spool_dir_close(&d);   /* twice is harmless */

	mkdir(at("sent/2025-10-29"), 0700);
	mkdir(at("sent/2025-02-30"), 0700);
	mkdir(at("sent/notaday"), 0700);
	touch("sent/2025-10-28");
	touch("sent/2025-10-29/4.4.d.json");
	ok(readall(&s, CT_SPOOL_SENT, NULL, out, sizeof out, &errs, err) == CT_OK &&
	   errs == 0, "sent/ read");
	is_str("2025-10-29 ", out, "sent/ gives real days that are directories");
	ok(readall(&s, CT_SPOOL_SENT_DAY, "2025-10-29", out, sizeof out, &errs,
	           err) == CT_OK, "sent/2025-10-29 read");
	is_str("4.4.d.json ", out, "... its record");
	is_int(CT_ERR_NOTFOUND, ct_spool_dir_open(&s, CT_SPOOL_SENT_DAY,
	       "2025-10-30", &d, err), "a missing day is CT_ERR_NOTFOUND");
	is_int(CT_ERR_INPUT, ct_spool_dir_open(&s, CT_SPOOL_SENT_DAY, "../../x",
	       &d, err), "a day that is not a day is CT_ERR_INPUT");
	is_int(CT_ERR_INPUT, ct_spool_dir_open(&s, CT_SPOOL_SENT_DAY, NULL, &d,
	       err), "no day: CT_ERR_INPUT");
	ok(!ct_spool_is_record_name("..") && !ct_spool_is_record_name("a/1.1.a.json") &&
	   !ct_spool_is_record_name("1.1.a.json.why") &&
	   ct_spool_is_record_name("1761761045123456789.4242.9f86d081884c7d65.json"),
	   "the name rule");
	ct_spool_close(&s);
}

/* Plant a symlink as sub pointing at an outside directory holding a
 * record; return that directory's record path. */
static void plant(const char *sub, const char *outside)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof p, "%s/%.64s", base, outside);
	mkdir(p, 0700);
	strncat(p, "/1.1.ab.json", sizeof p - strlen(p) - 1);
	fclose(fopen(p, "w"));
	snprintf(p, sizeof p, "%s/%.64s", base, outside);
	symlink(p, at(sub));
}

static int outside_has(const char *outside, const char *name)
{
	char p[PATH_MAX + 128];
	struct stat st;

	snprintf(p, sizeof p, "%s/%s/%s", base, outside, name);
	return lstat(p, &st) == 0;
}

static void test_symlinks(void)
{
	struct ct_spool s;
	struct ct_spool_dir d;
	char err[CT_ERRLEN] = "", **names = NULL;
	size_t n = 0, removed = 0;
	int64_t now;

	ct_time_parse("2026-01-10T12:00:00Z", &now);

	/* sent/ a symlink: prune refuses and deletes nothing out there. */
	ok(fresh(&s, "sym-sent"), "a spool whose sent/ will be a symlink");
	rmdir(at("sent"));
	plant("sent", "out-sent");
	mkdir(at("../out-sent/2020-01-01"), 0700);
	is_int(CT_ERR_IO, ct_spool_prune(&s, 35, now, &removed, err),
	       "prune with a symlinked sent/ fails");
	like(err, "sym-sent/sent\" is a symlink", "... naming it: %s", err);
	ok(outside_has("out-sent", "2020-01-01") && removed == 0,
	   "... and removes nothing outside the spool");
	is_int(CT_ERR_IO, ct_spool_dir_open(&s, CT_SPOOL_SENT, NULL, &d, err),
	       "the reader refuses a symlinked sent/");
	is_int(CT_ERR_IO, ct_spool_dir_open(&s, CT_SPOOL_SENT_DAY, "2020-01-01", &d,
	       err), "... and a day under it");
	touch("cur/5.5.e.json");
	is_int(CT_ERR_IO, ct_spool_done(&s, "5.5.e.json", "2020-01-01", err),
	       "done into a symlinked sent/ fails");
	ok(exists("cur/5.5.e.json") && !outside_has("out-sent/2020-01-01", "5.5.e.json"),
	   "... the record stays in cur/, nothing moved out");
	ct_spool_close(&s);

	/* sent/DAY a symlink. */
	ok(fresh(&s, "sym-day"), "a spool with a symlinked sent/DAY");
	plant("sent/2026-01-09", "out-day");
	touch("cur/6.6.f.json");
	is_int(CT_ERR_IO, ct_spool_done(&s, "6.6.f.json", "2026-01-09", err),
	       "done into a symlinked sent/DAY fails");
	like(err, "sent/2026-01-09\" is a symlink", "... naming it: %s", err);
	ok(exists("cur/6.6.f.json") && !outside_has("out-day", "6.6.f.json"),
	   "... the record stays in cur/");
	ct_time_parse("2027-01-10T12:00:00Z", &now);
	plant("sent/2025-01-01", "out-old");
	is_int(CT_ERR_IO, ct_spool_prune(&s, 0, now, &removed, err),
	       "prune meets symlinked days");
	ok(outside_has("out-old", "1.1.ab.json") && outside_has("out-day", "1.1.ab.json")
	   && exists("sent/2025-01-01"), "... and neither empties nor removes them");
	is_int(CT_ERR_IO, ct_spool_dir_open(&s, CT_SPOOL_SENT_DAY, "2026-01-09", &d,
	       err), "the reader refuses a symlinked sent/DAY");
	ct_spool_close(&s);

	/* failed/ a symlink. */
	ok(fresh(&s, "sym-failed"), "a spool with a symlinked failed/");
	rmdir(at("failed"));
	plant("failed", "out-failed");
	touch("cur/7.7.a.json");
	is_int(CT_ERR_IO, ct_spool_fail(&s, "7.7.a.json", "bad", err),
	       "fail into a symlinked failed/ fails");
	like(err, "failed\" is a symlink", "... naming it: %s", err);
	ok(exists("cur/7.7.a.json") && !outside_has("out-failed", "7.7.a.json") &&
	   !outside_has("out-failed", "7.7.a.json.why"), "... nothing written outside");
	is_int(CT_ERR_IO, ct_spool_dir_open(&s, CT_SPOOL_FAILED, NULL, &d, err),
	       "the reader refuses a symlinked failed/");
	ct_spool_close(&s);

	/* new/ and cur/ symlinks: claim and put refuse. */
	ok(fresh(&s, "sym-cur"), "a spool with a symlinked cur/");
	rmdir(at("cur"));
	plant("cur", "out-cur");
	touch("new/8.8.a.json");
	ok(ct_spool_claim(&s, &names, &n, err) == CT_ERR_IO && strstr(err, "cur\" is a symlink"),
	   "claim into a symlinked cur/ fails: %s", err);
	ok(exists("new/8.8.a.json") && !outside_has("out-cur", "8.8.a.json"),
	   "... the record stays in new/");
	ok(ct_spool_recover(&s, &n, err) == CT_ERR_IO, "recover from a symlinked cur/ fails");
	ok(outside_has("out-cur", "1.1.ab.json"), "... taking nothing from outside");
	ct_spool_close(&s);
	ok(fresh(&s, "sym-new"), "a spool with a symlinked new/");
	ct_spool_close(&s);
	rmdir(at("new"));
	plant("new", "out-new");
	is_int(CT_ERR_IO, ct_spool_open(&s, top, 1, err), "open(create) refuses a symlinked new/");
	like(err, "new\" is a symlink", "... naming it: %s", err);
	ok(ct_spool_open(&s, top, 0, err) == CT_OK, "open without create");
	{
		char path[PATH_MAX];
		is_int(CT_ERR_IO, ct_spool_put(&s, rec, sizeof rec - 1, path, err),
		       "put into a symlinked new/ fails");
	}
	ct_spool_close(&s);
}

static void test_clock(void)
{
	struct ct_spool s;
	char err[CT_ERRLEN] = "";
	size_t removed = 9;
	int64_t now;

	ok(fresh(&s, "clock"), "a spool for the clock");
	mkdir(at("sent/2026-01-01"), 0700);
	mkdir(at("sent/2026-02-01"), 0700);
	mkdir(at("sent/2026-03-01"), 0700);
	touch("sent/2026-01-01/1.1.a.json");

	/* Behind: earlier than the newest day filed. */
	ct_time_parse("2026-02-15T12:00:00Z", &now);
	is_int(CT_ERR_INPUT, ct_spool_prune(&s, 0, now, &removed, err),
	       "a clock before the newest day filed: refused");
	like(err, "clock says 2026-02-15.*newest day filed.*2026-03-01.*not pruning",
	     "... saying why: %s", err);
	ok(removed == 0 && exists("sent/2026-01-01") && exists("sent/2026-02-01"),
	   "... nothing removed");
	/* One day of slack: an agent's end_time just past midnight. */
	ct_time_parse("2026-02-28T23:59:00Z", &now);
	is_int(CT_OK, ct_spool_prune(&s, 60, now, &removed, err),
	       "the day before the newest day filed is plausible");
	/* Before 1970. */
	is_int(CT_ERR_INPUT, ct_spool_prune(&s, 35, -86400000000LL, &removed, err),
	       "a clock before 1970: refused");
	like(err, "before 1970", "... saying so, not blaming keep_days: %s", err);
	ok(exists("sent/2026-01-01"), "... nothing removed");
	/* Two years ahead: only what the records call old goes. */
	ct_time_parse("2028-03-01T12:00:00Z", &now);
	is_int(CT_OK, ct_spool_prune(&s, 35, now, &removed, err),
	       "a clock two years ahead");
	is_int(1, (long long)removed, "... removes only the day over 35 days before "
	       "the newest filed");
	ok(!exists("sent/2026-01-01") && exists("sent/2026-02-01") &&
	   exists("sent/2026-03-01"), "... sent/2026-02-01 and later stay");
	ct_spool_close(&s);
}

int main(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char cmd[PATH_MAX + 32];

	snprintf(base, sizeof(base), "%s/ct-spool-fs.XXXXXX", tmpdir ? tmpdir : "/tmp");
	if (mkdtemp(base) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_reader();
	test_symlinks();
	test_clock();
	plan(tap_n);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (getenv("CT_KEEP_TMP") == NULL && system(cmd) != 0)
		diag("could not remove %s", base);
	return done();
}
