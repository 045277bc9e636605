/*
 * csvday.c — calltrail-export csv: the day's Salesforce import file.
 *
 *   calltrail-export csv --day YYYY-MM-DD|yesterday|today [--out DIR]
 *                        [--source spool|target]
 *
 * Reads the day's exported records — SPOOL/sent/DAY/ (this host's), or
 * the target's sessions/year=/month=/day= partition (every host's) — and
 * folds each into the aggregation of src/csv.c, which keeps one entry per
 * caller and never the records, so memory follows the callers, not the
 * calls.  The file is written by tmp + rename (ct_file_put), mode 0640,
 * and, with csv_upload = yes, stored in the target too.
 *
 * Decisions:
 *   - A day with no records (SPOOL/sent/DAY absent, or an empty partition)
 *     writes the header-only file and exits 0: "no calls" is an answer
 *     the Salesforce import can take, and cron stays quiet.
 *   - A record that fails ct_record_parse, or whose end_time falls on
 *     another day, is reported and skipped, never fatal.
 *   - The same record stored twice in sent/ (two puts of the same bytes)
 *     counts twice; its winning row is the same either way.
 *
 * Exit: 0 done; 64 usage; 74 local I/O (spool or csv_dir unreadable or
 * unwritable, target refusing); 75 target temporarily failing; 78 config.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvread.h"
#include "csvtarget.h"
#include "ct_target.h"
#include "export.h"
#include "ct_time.h"
#include "ct_fs.h"
#include "ct_gz.h"

/* Unsafe rows named in the summary line. */
#define UNSAFE_IDS  10

static void on_unsafe(void *arg, const char *sid)
{
	struct run *r = arg;

	if (r->nunsafe++ < UNSAFE_IDS)
		ct_buf_printf(&r->unsafe, " %s", sid);
	else if (r->nunsafe == UNSAFE_IDS + 1)
		ct_buf_adds(&r->unsafe, " ...");
}

/* YYYY-MM-DD (a real date), yesterday or today (UTC) into day. */
static int parseday(const char *s, char day[11])
{
	char iso[32];
	int64_t us, now = ct_time_now_us();

	if (strcmp(s, "today") == 0) {
		ct_time_day(now, day);
		return 0;
	}
	if (strcmp(s, "yesterday") == 0) {
		ct_time_day(now - 86400LL * 1000000, day);
		return 0;
	}
	if (strlen(s) != 10)
		return -1;
	snprintf(iso, sizeof(iso), "%sT00:00:00Z", s);
	if (ct_time_parse(iso, &us) != CT_OK)
		return -1;
	/* 2025-02-30 would normalise to March: only a round trip is a date. */
	ct_time_day(us, day);
	return strcmp(day, s) == 0 ? 0 : -1;
}

const char *csv_dayargs(const char *dayarg, const char *source, char day[11])
{
	if (dayarg == NULL)
		return "--day is required";
	if (parseday(dayarg, day) != 0)
		return "--day: not YYYY-MM-DD (a real date), yesterday or today";
	if (strcmp(source, "spool") != 0 && strcmp(source, "target") != 0)
		return "--source: spool or target";
	return NULL;
}

static int usage(const char *why)
{
	fprintf(stderr, "calltrail-export csv: %s\n"
	        "usage: calltrail-export [-c FILE] csv --day YYYY-MM-DD|yesterday|today"
	        " [--out DIR] [--source spool|target]\n", why);
	return EX_USAGE;
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]; NULL when not this option. */
static const char *optval(int argc, char **argv, int *i, const char *name,
                          int *missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

/* Map a library error to the exit status calltrail-export.8 documents. */
static int exitcode(int rc)
{
	switch (rc) {
	case CT_ERR_TEMP:   return EX_TEMPFAIL;
	case CT_ERR_CONFIG: return EX_CONFIG;
	default:            return EX_IOERR;
	}
}

int csv_day_collect(struct ct_conf *c, const char *day, struct ct_target *t,
                    struct ct_csv_day **agg, struct csv_left *left, char *err)
{
	struct share sh[SHARES_MAX];
	unsigned nsh = t ? 1 : csv_nshares();
	struct run r;
	int rc;

	memset(&r, 0, sizeof(r));
	memset(sh, 0, sizeof(sh));
	r.c = c;
	snprintf(r.day, sizeof(r.day), "%s", day);
	pthread_mutex_init(&r.lock, NULL);
	pthread_mutex_init(&r.agglock, NULL);
	ct_buf_init(&r.unsafe, 0);
	*agg = NULL;
	if ((rc = ct_csv_day_new(&r.agg)) != CT_OK) {
		ct_seterr(err, rc, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < nsh; i++) {
		sh[i].run = &r;
		if ((sh[i].rec = malloc(CT_RECORD_MAX + 1)) == NULL ||
		    (sh[i].names = malloc(CHUNK * sizeof(*sh[i].names))) == NULL ||
		    (sh[i].batch = malloc(BATCH * sizeof(*sh[i].batch))) == NULL ||
		    (sh[i].tiers = malloc(TIERBUF)) == NULL) {
			rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = t ? csv_from_target(&r, &sh[0], t, err) : csv_from_spool(&r, sh, nsh, err);
	if (rc == CT_OK) {
		*agg = r.agg;
		r.agg = NULL;
		left->unreadable = sh[0].unreadable;
		left->otherday = sh[0].otherday;
		left->bademail = sh[0].bademail;
	}
out:
	ct_csv_day_free(r.agg);
	for (unsigned i = 0; i < SHARES_MAX; i++) {
		free(sh[i].rec);
		free(sh[i].names);
		free(sh[i].batch);
		free(sh[i].tiers);
	}
	pthread_mutex_destroy(&r.lock);
	pthread_mutex_destroy(&r.agglock);
	ct_buf_free(&r.unsafe);
	return rc;
}

int export_csv(struct ct_conf *c, int argc, char **argv)
{
	const char *dayarg = NULL, *outdir = NULL, *source = "spool", *v, *why;
	char err[CT_ERRLEN] = "", path[PATH_MAX], key[CT_TARGET_KEYLEN] = "";
	struct ct_target *t = NULL;
	struct ct_csv_stats st;
	struct csv_left left = { 0 };
	struct ct_buf out;
	struct ct_obj obj;
	struct run r;
	int ex = 0, rc, putrc = CT_OK, dfd;

	memset(&r, 0, sizeof(r));
	r.c = c;
	pthread_mutex_init(&r.lock, NULL);
	pthread_mutex_init(&r.agglock, NULL);
	ct_buf_init(&out, 0);
	ct_buf_init(&r.unsafe, 0);
	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: calltrail-export [-c FILE] csv --day "
			       "YYYY-MM-DD|yesterday|today [--out DIR] "
			       "[--source spool|target]\n");
			goto out;
		}
		if ((v = optval(argc, argv, &i, "--day", &missing)) != NULL)
			dayarg = v;
		else if ((v = optval(argc, argv, &i, "--out", &missing)) != NULL)
			outdir = v;
		else if ((v = optval(argc, argv, &i, "--source", &missing)) != NULL)
			source = v;
		else {
			ex = usage(missing ? "an option needs a value"
			                   : "unknown argument");
			goto out;
		}
	}
	if ((why = csv_dayargs(dayarg, source, r.day)) != NULL) {
		ex = usage(why);
		goto out;
	}
	if (outdir == NULL)
		outdir = c->csv_dir;
	if (outdir == NULL || outdir[0] == '\0') {
		fprintf(stderr, "calltrail-export csv: csv_dir: empty\n");
		ex = EX_CONFIG;
		goto out;
	}
	if (strcmp(source, "target") == 0 || c->csv_upload) {
		if ((rc = ct_target_open(c, &t, err)) != CT_OK) {
			ex = exitcode(rc);
			goto fail;
		}
	}
	rc = csv_day_collect(c, r.day, strcmp(source, "target") == 0 ? t : NULL,
	                     &r.agg, &left, err);
	if (rc == CT_OK)
		rc = ct_csv_day_render(r.agg, &out, on_unsafe, &r, &st);
	if (rc != CT_OK) {
		ex = exitcode(rc);
		goto fail;
	}

	snprintf(path, sizeof(path), "%s/salesforce-leads-%s.csv", outdir, r.day);
	/* With csv_upload the target gets the file first: a bucket in
	 * another region (CT_ERR_CONFIG) must stop the run with no file
	 * written (SPEC 5), and storing first leaves nothing to undo — no
	 * earlier day's file clobbered and then removed.  Any other store
	 * failure (a refusal, the store down) still writes the local file,
	 * so sales ops have the day while the upload waits for a rerun; the
	 * run then exits with the store's code. */
	if (c->csv_upload) {
		memset(&obj, 0, sizeof(obj));
		ct_target_key(CT_KEY_LEADS, r.day, NULL, NULL, key, sizeof(key));
		obj.key = key;
		obj.data = out.p;
		obj.len = out.len;
		obj.content_type = "text/csv";
		if ((putrc = ct_target_put(t, &obj, 1, err)) == CT_ERR_CONFIG) {
			ct_seterr(err, putrc, "storing %s in %s failed, no file "
			          "written: %s", key, ct_target_name(t), obj.err);
			ex = exitcode(putrc);
			goto fail;
		}
	}
	/* A run killed between create and rename left its temporary there
	 * (fsutil's pattern, nothing else): gone once an hour old. */
	if ((dfd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		ct_tmp_sweep(dfd, 3600);
		close(dfd);
	}
	if ((rc = ct_mkdirs(outdir, 0700, err)) != CT_OK ||
	    (rc = ct_file_put(path, out.p, out.len, 0640, err)) != CT_OK) {
		ex = exitcode(rc == CT_ERR_CONFIG ? CT_ERR_IO : rc);
		goto fail;
	}
	if (putrc != CT_OK) {
		ct_seterr(err, putrc, "%s written, but storing %s in %s "
		          "failed: %s", path, key, ct_target_name(t), obj.err);
		ex = exitcode(putrc);
		goto fail;
	}

	/* One line: what was written, from how much, and what was left out
	 * and why (unsafe rows by session id, never by email).  A day with
	 * no call at all says nothing (the file is still written): the timer
	 * and cron run this daily, and cron mails every line. */
	if (st.calls + left.unreadable + left.otherday + left.bademail == 0)
		goto out;
	printf("csv %s (%s): wrote %zu row%s to %s%s%s; read %zu calls; left out: "
	       "no email %zu, bad email %zu, email over %d chars %zu, "
	       "unsafe cell %zu, tier over %d chars %zu%s%s%s, unreadable %zu, "
	       "other day %zu\n",
	       r.day, source, st.rows, st.rows == 1 ? "" : "s", path,
	       c->csv_upload ? " and " : "", c->csv_upload ? key : "",
	       st.calls + left.unreadable + left.otherday + left.bademail,
	       st.no_email, st.bad_email + left.bademail,
	       CT_CSV_EMAIL_MAX, st.too_long, st.unsafe, CT_CSV_TIER_MAX,
	       st.tier_long,
	       r.nunsafe ? " (sessions:" : "", r.nunsafe ? r.unsafe.p : "",
	       r.nunsafe ? ")" : "", left.unreadable, left.otherday);
	fflush(stdout);
	goto out;
fail:
	fprintf(stderr, "calltrail-export csv: %s\n", err);
out:
	ct_target_close(t);
	ct_csv_day_free(r.agg);
	pthread_mutex_destroy(&r.lock);
	pthread_mutex_destroy(&r.agglock);
	ct_buf_free(&out);
	ct_buf_free(&r.unsafe);
	return ex;
}
