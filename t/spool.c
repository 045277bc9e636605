/*
 * t/spool.c — the spool on disk: put, lock, recover, claim, done, fail,
 * unclaim (one and many at once), prune, and what is left behind when a
 * write fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ct_spool.h"
#include "tap.h"
#include "ct_time.h"
#include "ct_fs.h"

#define NPUTS 10000

static char top[PATH_MAX];

static const char rec[] = "{\"session_id\":\"s1\",\"start_time\":"
	"\"2025-10-29T18:00:00Z\",\"end_time\":\"2025-10-29T18:05:00Z\"}\n";

/* Entries of dir that are not dotfiles; -1 when it cannot be read. */
static int count(const char *sub)
{
	char p[PATH_MAX + 64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", top, sub);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int mode_of(const char *sub)
{
	char p[PATH_MAX + 64];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", top, sub);
	return lstat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static int exists(const char *sub)
{
	return mode_of(sub) >= 0;
}

static void touch(const char *sub, const char *data)
{
	char p[PATH_MAX + 64];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", top, sub);
	if ((f = fopen(p, "w")) != NULL) {
		fputs(data, f);
		fclose(f);
	}
}

static void mkdir_in(const char *sub)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/%s", top, sub);
	mkdir(p, 0700);
}

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_put(void)
{
	struct ct_spool s;
	struct ct_buf b;
	char err[CT_ERRLEN], path[PATH_MAX], want[PATH_MAX + 64];

	ok(ct_spool_open(&s, top, 0, err) == CT_ERR_IO, "open without create: "
	   "a missing spool is an error");
	ok(ct_spool_open(&s, top, 1, err) == CT_OK, "open with create");
	is_int(0710, mode_of(""), "spool dir is 0710 (the group passes through)");
	is_int(03730, mode_of("tmp"), "tmp/ is 3730 (setgid, sticky, group wx)");
	is_int(03730, mode_of("new"), "new/ is 3730");
	is_int(0700, mode_of("cur") & mode_of("sent") & mode_of("failed"),
	       "cur/ sent/ failed/ are 0700");
	is_int(0700, mode_of("cur") | mode_of("sent") | mode_of("failed"),
	       "... exactly");
	ok(ct_spool_put(&s, rec, sizeof(rec) - 1, path, err) == CT_OK, "put");
	snprintf(want, sizeof(want), "%s/new/%s", top, base(path));
	is_str(want, path, "put names the file in new/");
	ct_buf_init(&b, 0);
	ok(ct_file_read(path, 4096, &b, err) == CT_OK && b.len == sizeof(rec) - 1 &&
	   memcmp(b.p, rec, b.len) == 0, "the file in new/ holds the record whole");
	ct_buf_free(&b);
	snprintf(want, sizeof(want), "new/%s", base(path));
	is_int(0640, mode_of(want), "record file is 0640");
	is_int(0, count("tmp"), "nothing left in tmp/");
	ok(strlen(base(path)) > 5 && strspn(base(path), "0123456789") >= 19,
	   "name starts with the unix time in ns: %s", base(path));
	ct_spool_close(&s);
	/* Reopening an existing spool without create works. */
	ok(ct_spool_open(&s, top, 0, err) == CT_OK, "reopen without create");
	ct_spool_close(&s);
}

/* Many puts: every name unique, every file in new/. */
static void test_unique(void)
{
	struct ct_spool s;
	char err[CT_ERRLEN], path[PATH_MAX], **names;
	int i, dup = 0, bad = 0, before = count("new");

	names = calloc(NPUTS, sizeof(*names));
	ok(ct_spool_open(&s, top, 1, err) == CT_OK, "open for %d puts", NPUTS);
	for (i = 0; i < NPUTS; i++) {
		if (ct_spool_put(&s, rec, sizeof(rec) - 1, path, err) != CT_OK) {
			diag("put %d: %s", i, err);
			bad++;
			break;
		}
		names[i] = strdup(base(path));
	}
	ok(bad == 0, "%d puts succeeded", NPUTS);
	if (bad == 0) {
		qsort(names, NPUTS, sizeof(*names), cmpstr);
		for (i = 1; i < NPUTS; i++)
			dup += strcmp(names[i - 1], names[i]) == 0;
	}
	is_int(0, dup, "no two of %d names are the same", NPUTS);
	is_int(before + NPUTS, count("new"), "new/ holds every record");
	is_int(0, count("tmp"), "tmp/ is empty");
	for (i = 0; i < NPUTS; i++)
		free(names[i]);
	free(names);
	ct_spool_close(&s);
}

/* A child process tries the lock: its exit status is the result. */
static int child_lock(void)
{
	struct ct_spool s;
	char err[CT_ERRLEN];
	pid_t pid;
	int st, rc;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (ct_spool_open(&s, top, 0, err) != CT_OK)
			_exit(100);
		rc = ct_spool_lock(&s, err);
		if (rc == CT_ERR_BUSY && strstr(err, "locked") == NULL)
			_exit(101);
		ct_spool_close(&s);
		_exit(rc);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void test_lock(void)
{
	struct ct_spool s;
	char err[CT_ERRLEN], **names = NULL;
	size_t n;

	ok(ct_spool_open(&s, top, 0, err) == CT_OK, "open for the lock");
	ok(ct_spool_claim(&s, &names, &n, err) == CT_ERR_INPUT,
	   "claim without the lock is refused");
	is_int(CT_OK, child_lock(), "lock free: another process takes it");
	ok(ct_spool_lock(&s, err) == CT_OK, "lock");
	is_int(0600, mode_of(".lock"), ".lock is 0600");
	ok(ct_spool_lock(&s, err) == CT_OK, "locking again in the same run is fine");
	is_int(CT_ERR_BUSY, child_lock(), "held: another process gets BUSY");
	ct_spool_close(&s);
	is_int(CT_OK, child_lock(), "released on close: another process takes it");
}

/* Hand-made records with known ages, and things that are not records. */
static void test_claim_cycle(void)
{
	struct ct_spool s;
	char err[CT_ERRLEN], **names = NULL, p[PATH_MAX + 64];
	struct ct_buf b;
	size_t n = 0, nr = 0;

	/* Empty new/ first so the order check sees only our files. */
	snprintf(p, sizeof(p), "rm -rf '%s/new' && mkdir -m 0700 '%s/new'", top, top);
	ok(system(p) == 0, "new/ emptied");
	touch("new/1000.7.cc.json", rec);
	touch("new/99.7.aa.json", rec);
	touch("new/100.7.bb.json", rec);
	touch("new/.hidden.json", rec);
	touch("new/notes.txt", "x");
	touch("new/12.7.zz.json", rec);           /* 'z' is not hex */
	mkdir_in("new/13.7.ab.json");             /* a directory */
	touch("outside.json", rec);
	snprintf(p, sizeof(p), "%s/new/5.7.ab.json", top);
	ok(symlink("../outside.json", p) == 0, "a symlink planted in new/");

	ok(ct_spool_open(&s, top, 0, err) == CT_OK && ct_spool_lock(&s, err) == CT_OK,
	   "open and lock");
	ok(ct_spool_claim(&s, &names, &n, err) == CT_OK, "claim");
	is_int(3, (long long)n, "claim takes only the three records");
	if (n == 3) {
		is_str("99.7.aa.json", names[0], "oldest first (99 < 100 by number)");
		is_str("100.7.bb.json", names[1], "then 100");
		is_str("1000.7.cc.json", names[2], "then 1000");
	} else {
		ok(0, "order"); ok(0, "order"); ok(0, "order");
	}
	ok(names && names[n] == NULL, "the list is NULL-terminated");
	is_int(3, count("cur"), "the three are in cur/");
	is_int(4, count("new"), "the non-records stay in new/ (dotfiles aside)");
	ok(exists("new/.hidden.json"), "a dotfile stays in new/");
	ok(exists("new/5.7.ab.json") && exists("outside.json") &&
	   !exists("cur/5.7.ab.json"), "the symlink was neither followed nor moved");
	ct_spool_names_free(names);
	names = NULL;

	/* A crash now: the next run takes them back with recover. */
	ct_spool_close(&s);
	ok(ct_spool_open(&s, top, 0, err) == CT_OK && ct_spool_lock(&s, err) == CT_OK,
	   "a new run");
	ok(ct_spool_recover(&s, &nr, err) == CT_OK, "recover");
	is_int(3, (long long)nr, "recover moved three back");
	is_int(0, count("cur"), "cur/ is empty");
	ok(ct_spool_claim(&s, &names, &n, err) == CT_OK && n == 3, "claim again");

	/* done / fail / unclaim, one each. */
	ok(ct_spool_done(&s, "99.7.aa.json", "2025-10-29", err) == CT_OK, "done");
	ok(exists("sent/2025-10-29/99.7.aa.json") && !exists("cur/99.7.aa.json"),
	   "done: cur/NAME is now sent/DAY/NAME");
	is_int(0700, mode_of("sent/2025-10-29"), "sent/DAY is 0700");
	ok(ct_spool_done(&s, "100.7.bb.json", "2025-02-30", err) == CT_ERR_INPUT,
	   "done: a day that does not exist is refused");
	ok(ct_spool_done(&s, "../outside.json", "2025-10-29", err) == CT_ERR_INPUT,
	   "done: a name with a path is refused");
	ok(ct_spool_done(&s, "1.1.ab.json", "2025-10-29", err) == CT_ERR_IO,
	   "done: a record not in cur/ is an error");
	ok(ct_spool_fail(&s, "100.7.bb.json", "end_time: before start_time\nx",
	                 err) == CT_OK, "fail");
	ok(exists("failed/100.7.bb.json") && !exists("cur/100.7.bb.json"),
	   "fail: the record is in failed/, never deleted");
	is_int(0600, mode_of("failed/100.7.bb.json.why"), "fail: NAME.why is 0600");
	ct_buf_init(&b, 0);
	snprintf(p, sizeof(p), "%s/failed/100.7.bb.json.why", top);
	ok(ct_file_read(p, 4096, &b, err) == CT_OK, "read NAME.why");
	is_str("end_time: before start_time x\n", b.p ? b.p : "",
	       "fail: NAME.why is the reason on one line");
	ct_buf_free(&b);
	ok(ct_spool_unclaim(&s, "1000.7.cc.json", err) == CT_OK &&
	   exists("new/1000.7.cc.json") && !exists("cur/1000.7.cc.json"),
	   "unclaim: back in new/");
	is_int(0, count("cur"), "cur/ is empty at the end of the run");
	ct_spool_names_free(names);
	ct_spool_close(&s);
}

/* prune: boundaries around keep_days, and names it must not touch. */
static void test_prune(void)
{
	struct ct_spool s;
	char err[CT_ERRLEN], day[11], p[128];
	int64_t now;
	size_t removed = 0;
	int k;

	ct_time_parse("2025-12-05T00:00:01Z", &now);
	for (k = -1; k <= 40; k++) {
		ct_time_day(now - (int64_t)k * 86400 * 1000000, day);
		snprintf(p, sizeof(p), "sent/%s", day);
		mkdir_in(p);
		snprintf(p, sizeof(p), "sent/%s/1.1.ab.json", day);
		touch(p, rec);
	}
	mkdir_in("sent/notaday");
	mkdir_in("sent/2020-02-30");
	mkdir_in("sent/2020-01-01x");
	touch("sent/2020-01-02", "a file, not a day");
	mkdir_in("keepme");
	touch("keepme/1.1.ab.json", rec);
	snprintf(p, sizeof(p), "%s/sent/2020-01-03", top);
	symlink("../keepme", p);

	ok(ct_spool_open(&s, top, 0, err) == CT_OK && ct_spool_lock(&s, err) == CT_OK,
	   "open for prune");
	ok(ct_spool_prune(&s, -1, now, &removed, err) == CT_ERR_INPUT,
	   "prune: negative keep_days refused");
	ok(ct_spool_prune(&s, 35, now, &removed, err) == CT_ERR_IO &&
	   strstr(err, "sent/2020-01-03\" is a symlink"),
	   "prune keep 35 reports the symlinked day: %s", err);
	/* Days -1..40 ago plus 2025-10-29 from the claim test (37 days ago). */
	is_int(5, (long long)removed, "removed the days 36..40 days old");
	ct_time_day(now - 35LL * 86400 * 1000000, day);
	snprintf(p, sizeof(p), "sent/%s", day);
	ok(exists(p), "kept the day exactly 35 days before today (%s)", day);
	ct_time_day(now - 36LL * 86400 * 1000000, day);
	snprintf(p, sizeof(p), "sent/%s", day);
	ok(!exists(p), "removed the day 36 days before today (%s)", day);
	ok(!exists("sent/2025-10-29"), "removed an older day with records in it");
	ok(exists("sent/notaday") && exists("sent/2020-02-30") &&
	   exists("sent/2020-01-01x") && exists("sent/2020-01-02"),
	   "names that are not days are left alone");
	ok(exists("sent/2020-01-03") && exists("keepme/1.1.ab.json"),
	   "a symlinked day is neither followed nor emptied");
	ok(ct_spool_prune(&s, 0, now, &removed, err) == CT_ERR_IO, "prune keep 0");
	is_int(35, (long long)removed, "keep 0 removes every day before today");
	ct_time_day(now, day);
	snprintf(p, sizeof(p), "sent/%s", day);
	ok(exists(p), "today is never removed");
	ct_time_day(now + 86400LL * 1000000, day);
	snprintf(p, sizeof(p), "sent/%s", day);
	ok(exists(p), "a day after today is never removed");
	ct_spool_close(&s);
}

/* done and unclaim for a batch: each record settled on its own (a bad
 * name, a missing record or a bad day fails alone), two days at once. */
static void test_many(void)
{
	struct ct_spool s;
	char err[CT_ERRLEN] = "", p[PATH_MAX + 64], **names = NULL;
	const char *nv[7], *dv[7];
	int st[7], rc;
	size_t n = 0;

	snprintf(p, sizeof(p), "rm -rf '%s/new' '%s/sent/2025-10-29' && "
	         "mkdir -m 0700 '%s/new'", top, top, top);
	ok(system(p) == 0, "many: new/ emptied");
	touch("new/1.7.a1.json", rec);
	touch("new/2.7.a2.json", rec);
	touch("new/3.7.a3.json", rec);
	touch("new/4.7.a4.json", rec);
	touch("new/5.7.a5.json", rec);
	ok(ct_spool_open(&s, top, 0, err) == CT_OK && ct_spool_lock(&s, err) == CT_OK,
	   "many: open and lock");
	ok(ct_spool_claim(&s, &names, &n, err) == CT_OK && n == 5, "many: claim five");
	nv[0] = "1.7.a1.json"; dv[0] = "2025-10-29";
	nv[1] = "2.7.a2.json"; dv[1] = "2025-10-30";
	nv[2] = "3.7.a3.json"; dv[2] = "2025-10-29";
	nv[3] = "../outside.json"; dv[3] = "2025-10-29";
	nv[4] = "9.9.ff.json"; dv[4] = "2025-10-29";       /* not in cur/ */
	nv[5] = "4.7.a4.json"; dv[5] = "2025-02-30";       /* no such day */
	st[6] = 12345;
	rc = ct_spool_done_many(&s, nv, dv, 6, st, err);
	ok(rc != CT_OK && err[0] != '\0', "done_many reports a failure: %s", err);
	ok(st[0] == CT_OK && st[1] == CT_OK && st[2] == CT_OK,
	   "done_many: the good records are done");
	ok(exists("sent/2025-10-29/1.7.a1.json") && exists("sent/2025-10-29/3.7.a3.json") &&
	   exists("sent/2025-10-30/2.7.a2.json"), "done_many: each in its own day");
	is_int(CT_ERR_INPUT, st[3], "done_many: a name with a path fails alone");
	is_int(CT_ERR_IO, st[4], "done_many: a record not in cur/ fails alone");
	is_int(CT_ERR_INPUT, st[5], "done_many: a bad day fails alone");
	ok(exists("cur/4.7.a4.json") && exists("cur/5.7.a5.json") &&
	   !exists("sent/2025-02-30"), "done_many: the refused one stays in cur/");
	is_int(12345, st[6], "done_many writes no status past n");
	ok(ct_spool_done_many(&s, nv, dv, 0, st, err) == CT_OK, "done_many of none");

	nv[0] = "4.7.a4.json";
	nv[1] = "8.8.ee.json";                              /* not in cur/ */
	nv[2] = "5.7.a5.json";
	rc = ct_spool_unclaim_many(&s, nv, 3, st, err);
	ok(rc == CT_ERR_IO && st[0] == CT_OK && st[1] == CT_ERR_IO && st[2] == CT_OK,
	   "unclaim_many: the two in cur/ move, the missing one fails alone");
	ok(exists("new/4.7.a4.json") && exists("new/5.7.a5.json"),
	   "unclaim_many: back in new/");
	is_int(0, count("cur"), "many: cur/ is empty");
	ct_spool_names_free(names);
	ct_spool_close(&s);
}

/* A write that fails half-way (file size limit: works as root too)
 * leaves nothing in tmp/ or new/ and says why. */
static void test_put_fails(void)
{
	struct ct_spool s;
	struct rlimit old, lim;
	char err[CT_ERRLEN] = "", path[PATH_MAX], *big;
	int before, rc;

	big = malloc(64 * 1024);
	memset(big, ' ', 64 * 1024);
	ok(ct_spool_open(&s, top, 0, err) == CT_OK, "open for failing puts");
	before = count("new");
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 4096;
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &lim);
	rc = ct_spool_put(&s, big, 64 * 1024, path, err);
	setrlimit(RLIMIT_FSIZE, &old);
	ok(rc == CT_ERR_IO, "put past the file size limit fails");
	ok(strstr(err, "/tmp/") && strstr(err, "File too large"),
	   "the error names the file and the reason: %s", err);
	is_str("", path, "no path is returned");
	is_int(0, count("tmp"), "nothing left in tmp/");
	is_int(before, count("new"), "nothing added to new/");

	/* new/ gone: the rename fails and the written file is removed. */
	snprintf(path, sizeof(path), "%s/new", top);
	snprintf(big, 64 * 1024, "%s/new.away", top);
	rename(path, big);
	rc = ct_spool_put(&s, rec, sizeof(rec) - 1, path, err);
	ok(rc != CT_OK && strstr(err, "/new"), "put without new/ fails: %s", err);
	is_int(0, count("tmp"), "nothing left in tmp/");
	snprintf(path, sizeof(path), "%s/new", top);
	rename(big, path);
	free(big);
	ct_spool_close(&s);
}

/* recover where a crash left a name in both cur/ and new/ (a claim's
 * rename half undone on a file system without a journal), in a spool of
 * its own. */
static void test_recover_both(void)
{
	struct ct_spool s;
	char err[CT_ERRLEN] = "", a[PATH_MAX + 64], b[PATH_MAX + 64], **names = NULL;
	size_t nr = 0, n = 0, len = strlen(top);

	strncat(top, "-both", sizeof(top) - len - 1);
	ok(ct_spool_open(&s, top, 1, err) == CT_OK && ct_spool_lock(&s, err) == CT_OK,
	   "a spool for names in both cur/ and new/");
	/* The one file under both names. */
	touch("cur/7.7.dd.json", rec);
	snprintf(a, sizeof(a), "%s/cur/7.7.dd.json", top);
	snprintf(b, sizeof(b), "%s/new/7.7.dd.json", top);
	ok(link(a, b) == 0, "one record under cur/ and new/ (hard link)");
	/* Two different files under one name, and an ordinary leftover. */
	touch("cur/8.7.ee.json", rec);
	touch("new/8.7.ee.json", "{\"other\":1}\n");
	touch("cur/9.7.ff.json", rec);
	if (!ok(ct_spool_recover(&s, &nr, err) == CT_OK,
	        "recover goes on past names in both"))
		diag("%s", err);
	is_int(3, (long long)nr, "... and counts the three it dealt with");
	is_int(0, count("cur"), "cur/ is empty");
	ok(exists("new/7.7.dd.json") && exists("new/9.7.ff.json"),
	   "the same file once, in new/, and the leftover back in new/");
	ok(exists("failed/8.7.ee.json") && exists("failed/8.7.ee.json.why") &&
	   exists("new/8.7.ee.json"),
	   "a different file of the same name goes to failed/ with its reason; new/'s stays");
	is_int(3, count("new"), "new/ holds three records");
	ok(ct_spool_claim(&s, &names, &n, err) == CT_OK && n == 3,
	   "the next claim takes all three");
	ct_spool_names_free(names);
	ct_spool_close(&s);
	top[len] = '\0';
}

/* A writer killed between create and rename leaves tmp/NAME: recover
 * removes such a file once it is over 36 hours old (the Maildir rule),
 * never a young one (a writer may still be at it) and never a file that
 * is not a record's name, in a spool of its own. */
static void test_sweep_tmp(void)
{
	struct ct_spool s;
	char err[CT_ERRLEN] = "", p[PATH_MAX + 64];
	struct timespec old[2];
	size_t nr = 0, len = strlen(top);
	const char *aged[] = { "tmp/1.1.aa.json", "tmp/notarecord", "tmp/2.1.bb.json" };

	strncat(top, "-sweep", sizeof(top) - len - 1);
	ok(ct_spool_open(&s, top, 1, err) == CT_OK && ct_spool_lock(&s, err) == CT_OK,
	   "a spool for the tmp/ sweep");
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 37 * 3600;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	for (size_t i = 0; i < 3; i++) {
		touch(aged[i], rec);
		snprintf(p, sizeof(p), "%s/%s", top, aged[i]);
		if (i < 2)
			utimensat(AT_FDCWD, p, old, 0);
	}
	/* The exporter's own temporaries (NAME.why, .last-run.json) of a
	 * killed run: an hour old, in failed/ and the root. */
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 2 * 3600;
	{
		const char *mine[] = { "failed/.tmp-0123456789abcdef", ".tmp-fedcba9876543210",
		                       "failed/.tmp-abc", "failed/.tmp-0123456789abcdef.why" };
		for (size_t i = 0; i < 4; i++) {
			touch(mine[i], rec);
			snprintf(p, sizeof(p), "%s/%s", top, mine[i]);
			utimensat(AT_FDCWD, p, old, 0);
		}
	}
	touch("failed/.tmp-00000000000000ff", rec);
	ok(ct_spool_recover(&s, &nr, err) == CT_OK, "recover");
	ok(!exists("failed/.tmp-0123456789abcdef") && !exists(".tmp-fedcba9876543210"),
	   "a killed run's temporaries in failed/ and the root are removed");
	ok(exists("failed/.tmp-00000000000000ff") && exists("failed/.tmp-abc") &&
	   exists("failed/.tmp-0123456789abcdef.why"),
	   "... not a young one, nor a name of another pattern");
	ok(!exists("tmp/1.1.aa.json"), "a writer's file in tmp/ over 36 hours old is removed");
	ok(exists("tmp/2.1.bb.json"), "... a young one stays");
	ok(exists("tmp/notarecord"), "... and so does an old file that is not a record's name");
	ct_spool_close(&s);
	top[len] = '\0';
}

/* More records waiting than a claim takes: each claim takes the oldest
 * by name (the leading ns timestamp, then the rest), never the first in
 * directory order, in a spool of its own. */
static void test_claim_oldest(void)
{
	struct ct_spool s;
	char err[CT_ERRLEN] = "", sub[64], want[64], **names = NULL;
	size_t n = 0, len = strlen(top), good;
	int i;

	strncat(top, "-oldest", sizeof(top) - len - 1);
	ok(ct_spool_open(&s, top, 1, err) == CT_OK && ct_spool_lock(&s, err) == CT_OK,
	   "a spool for a backlog larger than a claim");
	/* 40 records 1000..1039 created in a scrambled order, the newest
	 * last and first; 1000 twice (pids 2 and 10: byte order decides). */
	for (i = 0; i < 40; i++) {
		int k = (i * 17 + 39) % 40;
		snprintf(sub, sizeof(sub), "new/%d.%d.aa.json", 1000 + k, k == 0 ? 2 : 1);
		touch(sub, rec);
	}
	touch("new/1000.10.aa.json", rec);
	setenv("CT_SPOOL_CLAIM_MAX", "5", 1);
	ok(ct_spool_claim(&s, &names, &n, err) == CT_OK && n == 5,
	   "claim with a limit of 5 takes five");
	good = names != NULL && n == 5 && strcmp(names[0], "1000.10.aa.json") == 0 &&
	       strcmp(names[1], "1000.2.aa.json") == 0;
	for (i = 2; good && i < 5; i++) {
		snprintf(want, sizeof(want), "%d.1.aa.json", 999 + i);
		good = strcmp(names[i], want) == 0;
	}
	if (!ok(good, "... the five oldest by name, oldest first"))
		for (i = 0; names && names[i]; i++)
			diag("claimed %s", names[i]);
	ct_spool_names_free(names);
	names = NULL;
	ok(ct_spool_claim(&s, &names, &n, err) == CT_OK && n == 5 &&
	   strcmp(names[0], "1004.1.aa.json") == 0 && strcmp(names[4], "1008.1.aa.json") == 0,
	   "the next claim takes the next five");
	ct_spool_names_free(names);
	names = NULL;
	unsetenv("CT_SPOOL_CLAIM_MAX");
	ok(ct_spool_claim(&s, &names, &n, err) == CT_OK && n == 31 &&
	   strcmp(names[0], "1009.1.aa.json") == 0 && strcmp(names[30], "1039.1.aa.json") == 0,
	   "without the limit the rest, in order");
	ct_spool_names_free(names);
	ct_spool_close(&s);
	top[len] = '\0';
}

int main(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char cmd[PATH_MAX + 32];

	snprintf(top, sizeof(top), "%s/ct-spool-t.XXXXXX", tmpdir ? tmpdir : "/tmp");
	if (mkdtemp(top) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	/* The spool itself is a fresh subdirectory: open must create it. */
	strncat(top, "/spool", sizeof(top) - strlen(top) - 1);
	test_put();
	test_unique();
	test_lock();
	test_claim_cycle();
	test_prune();
	test_many();
	test_put_fails();
	test_recover_both();
	test_sweep_tmp();
	test_claim_oldest();
	plan(tap_n);
	top[strlen(top) - 6] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (getenv("CT_KEEP_TMP") == NULL && system(cmd) != 0)
		diag("could not remove %s", top);
	return done();
}
