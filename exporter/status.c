/*
 * status.c — calltrail-export status [--json]: what waits in the spool.
 *
 * Reads only; takes no lock, so it answers while an upload runs (counts
 * may then be a moment old).  It lists the spool only through the spool's
 * own reader and name rule (ct_spool_dir_open/next, ct_spool.h): the same
 * records upload would claim, reached without following a symlink (one
 * with a record's name is reported on stderr and left out).  Shows new/ and cur/ (count, age of the
 * oldest by mtime), failed/ (count of records and the newest .why lines,
 * cut to WHY_LINE_MAX printable ASCII bytes, since they end up in terminals and
 * cron mail), sent/ (records per day) and SPOOL/.last-run.json, written
 * by upload (format in export.h), and the last Salesforce push of each
 * day, SPOOL/.salesforce-DAY.json (format in salesforce.c).
 *
 * Exit: 0; 74 when the spool itself cannot be read; 64 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ct_spool.h"
#include "export.h"
#include "ct_json.h"
#include "ct_fs.h"

#define WHY_SHOWN 5          /* newest .why files shown */
#define WHY_LINE_MAX 200     /* bytes of each shown */
#define LASTRUN_MAX (64 * 1024)

struct why {
	char name[NAME_MAX + 1];
	char line[WHY_LINE_MAX + 4];
	time_t mtime;
};

struct dirstat {
	size_t count;
	time_t oldest;           /* mtime of the oldest, 0 when empty */
	int missing;
};

/* A reader's complaint about one entry (a symlink with a record's or a
 * day's name): said on stderr, the entry is left out, status goes on. */
static void warn(const char *e)
{
	fprintf(stderr, "calltrail-export status: %s\n", e);
}

/*
 * The next name the spool's reader d gives, or NULL: at the end (*rc is
 * CT_OK) or on an error that ends the listing (*rc and err say which).
 * An entry that cannot be read is warned about and passed over.
 */
static const char *nextname(struct ct_spool_dir *d, int *rc, char *err)
{
	const char *name;

	for (;;) {
		*rc = ct_spool_dir_next(d, &name, err);
		if (*rc == CT_OK)
			return name;
		if (name == NULL)
			return NULL;
		warn(err);
	}
}

/* Count the records of one area (through the spool's reader and name
 * rule) and find the oldest.  An absent directory counts as empty
 * (missing set); any other failure is an error. */
static int scan(struct ct_spool *sp, enum ct_spool_area area, const char *day,
                struct dirstat *ds, char *err)
{
	struct ct_spool_dir d;
	const char *name;
	struct stat st;
	int rc;

	memset(ds, 0, sizeof(*ds));
	if ((rc = ct_spool_dir_open(sp, area, day, &d, err)) != CT_OK) {
		if (rc != CT_ERR_NOTFOUND)
			return rc;
		ds->missing = 1;
		return CT_OK;
	}
	while ((name = nextname(&d, &rc, err)) != NULL) {
		if (fstatat(d.fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;   /* moved on since readdir */
		ds->count++;
		if (ds->oldest == 0 || st.st_mtime < ds->oldest)
			ds->oldest = st.st_mtime;
	}
	ct_spool_dir_close(&d);
	return rc;
}

/* The first line of a .why file, printable ASCII only, at most WHY_LINE_MAX. */
static void readwhy(int dfd, const char *name, char *line)
{
	char buf[WHY_LINE_MAX + 1];
	ssize_t n = -1;
	size_t i, o = 0;
	int fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) >= 0) {
		n = read(fd, buf, sizeof(buf));
		close(fd);
	}
	if (n < 0) {
		strcpy(line, "(unreadable)");
		return;
	}
	for (i = 0; i < (size_t)n && i < WHY_LINE_MAX && buf[i] != '\n'; i++)
		line[o++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	if (i == WHY_LINE_MAX && (size_t)n > WHY_LINE_MAX && buf[WHY_LINE_MAX] != '\n')
		line[o++] = '.', line[o++] = '.', line[o++] = '.';
	line[o] = '\0';
}

/* failed/: count the records, keep the WHY_SHOWN newest NAME.why files
 * (each record's own, beside it). */
static int scanfailed(struct ct_spool *sp, size_t *count, struct why *w,
                      size_t *nw, char *err)
{
	struct ct_spool_dir d;
	char whyname[NAME_MAX + 1];
	const char *name;
	struct stat st;
	size_t k;
	int rc;

	*count = *nw = 0;
	if ((rc = ct_spool_dir_open(sp, CT_SPOOL_FAILED, NULL, &d, err)) != CT_OK)
		return rc == CT_ERR_NOTFOUND ? CT_OK : rc;
	while ((name = nextname(&d, &rc, err)) != NULL) {
		(*count)++;
		if (snprintf(whyname, sizeof whyname, "%s.why", name) >= (int)sizeof whyname ||
		    fstatat(d.fd, whyname, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		/* Insertion into the short newest-first list (ties by name,
		 * so the output does not depend on readdir order). */
		for (k = 0; k < *nw; k++)
			if (st.st_mtime > w[k].mtime ||
			    (st.st_mtime == w[k].mtime && strcmp(name, w[k].name) > 0))
				break;
		if (k >= WHY_SHOWN)
			continue;
		if (*nw < WHY_SHOWN)
			(*nw)++;
		memmove(&w[k + 1], &w[k], (*nw - 1 - k) * sizeof(*w));
		snprintf(w[k].name, sizeof(w[k].name), "%s", name);
		w[k].mtime = st.st_mtime;
		readwhy(d.fd, whyname, w[k].line);
	}
	ct_spool_dir_close(&d);
	return rc;
}

static int bystr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sent/: the day directories (the reader's day names), sorted, each with
 * its record count, into the JSON object days (day -> count). */
static int scansent(struct ct_spool *sp, struct json_object *days, char *err)
{
	struct ct_spool_dir d;
	const char *name;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if ((rc = ct_spool_dir_open(sp, CT_SPOOL_SENT, NULL, &d, err)) != CT_OK)
		return rc == CT_ERR_NOTFOUND ? CT_OK : rc;
	while ((name = nextname(&d, &rc, err)) != NULL) {
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nn));
			if (nn == NULL) {
				rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
				goto out;
			}
			names = nn;
		}
		if ((names[n] = strdup(name)) == NULL) {
			rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	if (rc != CT_OK)
		goto out;
	if (n > 1)
		qsort(names, n, sizeof(*names), bystr);
	for (size_t i = 0; i < n && rc == CT_OK; i++) {
		struct dirstat ds;

		if ((rc = scan(sp, CT_SPOOL_SENT_DAY, names[i], &ds, err)) == CT_OK &&
		    !ds.missing)
			json_object_object_add(days, names[i],
			                       json_object_new_int64((int64_t)ds.count));
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	ct_spool_dir_close(&d);
	return rc;
}

/* SPOOL/.last-run.json as an object, or NULL when there is none (or it
 * is not the object upload writes: then *bad is set). */
static struct json_object *lastrun(const char *spool, int *bad)
{
	char path[PATH_MAX], err[CT_ERRLEN];
	struct json_object *o = NULL;
	struct ct_buf b;

	*bad = 0;
	ct_buf_init(&b, 0);
	snprintf(path, sizeof(path), "%s/.last-run.json", spool);
	if (access(path, F_OK) != 0)
		goto out;
	if (ct_file_read(path, LASTRUN_MAX, &b, err) != CT_OK ||
	    ct_json_parse(b.p ? b.p : "", b.len, 4, &o, err) != CT_OK ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
		*bad = 1;
	}
out:
	ct_buf_free(&b);
	return o;
}

/* "3d04h", "12m05s": an age a person reads at a glance. */
static void fmtage(long s, char *out, size_t n)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, n, "%ldd%02ldh", s / 86400, s / 3600 % 24);
	else if (s >= 3600)
		snprintf(out, n, "%ldh%02ldm", s / 3600, s / 60 % 60);
	else
		snprintf(out, n, "%ldm%02lds", s / 60, s % 60);
}

static struct json_object *queue(const struct dirstat *ds, time_t now)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "count", json_object_new_int64((int64_t)ds->count));
	/* A clock set back makes files look younger than now: 0, never
	 * a negative age. */
	json_object_object_add(o, "oldest_age_seconds", ds->count
	    ? json_object_new_int64(now > ds->oldest ? (int64_t)(now - ds->oldest) : 0)
	    : NULL);
	return o;
}

static long num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (long)json_object_get_int64(v) : 0;
}

static void text(const char *spool, struct json_object *all, time_t now,
                 const struct dirstat *nw, const struct dirstat *cur,
                 const struct why *w, size_t nwhy, int lastbad)
{
	struct json_object *sent, *failed, *last;
	char age[32], clean[WHY_LINE_MAX + 1];
	const char *msg;

	printf("spool    %s\n", spool);
	fmtage((long)(now - nw->oldest), age, sizeof(age));
	printf("new      %zu waiting%s%s\n", nw->count, nw->count ? ", oldest " : "",
	       nw->count ? age : "");
	fmtage((long)(now - cur->oldest), age, sizeof(age));
	printf("cur      %zu claimed%s%s%s\n", cur->count,
	       cur->count ? ", oldest " : "", cur->count ? age : "",
	       cur->count ? " (an upload is running, or one crashed)" : "");
	json_object_object_get_ex(all, "failed", &failed);
	printf("failed   %ld\n", num(failed, "count"));
	for (size_t i = 0; i < nwhy; i++)
		printf("         %s: %s\n", w[i].name, w[i].line);
	json_object_object_get_ex(all, "sent", &sent);
	printf("sent     %s\n", json_object_object_length(sent) ? "" : "nothing");
	json_object_object_foreach(sent, day, cnt)
		printf("         %s %ld\n", day, (long)json_object_get_int64(cnt));
	if (!json_object_object_get_ex(all, "last_run", &last) || last == NULL) {
		printf("last run %s\n", lastbad ? "unreadable .last-run.json" : "never");
		return;
	}
	/* The message may quote a server's reply: printable ASCII only. */
	if ((msg = ct_json_str(last, "message")) != NULL) {
		size_t i;
		for (i = 0; msg[i] && i < WHY_LINE_MAX; i++)
			clean[i] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? msg[i] : '?';
		clean[i] = '\0';
		msg = clean;
	}
	printf("last run %s exit %ld: stored %ld, refused %ld, retried %ld, "
	       "left %ld%s%s\n",
	       ct_json_str(last, "time") ? ct_json_str(last, "time") : "?",
	       num(last, "exit"), num(last, "stored"), num(last, "refused"),
	       num(last, "retried"), num(last, "left"),
	       msg && *msg ? " - " : "", msg ? msg : "");
}

/* ---- salesforce pushes (salesforce.c writes SPOOL/.salesforce-DAY.json;
 * the format is at the top of salesforce.c) ---------------------------- */

#define SF_DAYS_SHOWN 60

static int sfname(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return n == strlen(".salesforce-YYYY-MM-DD.json") &&
	       strncmp(de->d_name, ".salesforce-", 12) == 0 &&
	       strcmp(de->d_name + n - 5, ".json") == 0;
}

/* {"DAY": {the push's object}, ...} for the newest SF_DAYS_SHOWN days. */
static struct json_object *sfpushes(const char *spool)
{
	struct json_object *all = json_object_new_object();
	struct dirent **names = NULL;
	int n = scandir(spool, &names, sfname, alphasort);

	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], err[CT_ERRLEN], day[11];
		struct json_object *o = NULL;
		struct ct_buf b;

		ct_buf_init(&b, 0);
		snprintf(day, sizeof(day), "%s", names[i]->d_name + 12);
		snprintf(path, sizeof(path), "%s/%s", spool, names[i]->d_name);
		if (i >= n - SF_DAYS_SHOWN &&
		    ct_file_read(path, LASTRUN_MAX, &b, err) == CT_OK &&
		    ct_json_parse(b.p ? b.p : "", b.len, 4, &o, err) == CT_OK &&
		    json_object_is_type(o, json_type_object))
			json_object_object_add(all, day, o);
		else
			json_object_put(o);
		ct_buf_free(&b);
		free(names[i]);
	}
	free(names);
	return all;
}

static void sftext(struct json_object *all)
{
	struct json_object *sf;

	if (!json_object_object_get_ex(all, "salesforce", &sf) ||
	    json_object_object_length(sf) == 0)
		return;
	json_object_object_foreach(sf, day, p) {
		const char *msg = ct_json_str(p, "message");
		char clean[WHY_LINE_MAX + 1];
		size_t i;

		for (i = 0; msg && msg[i] && i < WHY_LINE_MAX; i++)
			clean[i] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? msg[i] : '?';
		clean[i] = '\0';
		printf("salesforce %s exit %ld: rows %ld, updated %ld, failed %ld, "
		       "not found %ld, several %ld (%s)%s%s\n", day, num(p, "exit"),
		       num(p, "rows"), num(p, "updated"), num(p, "failed"),
		       num(p, "not_found"), num(p, "several"),
		       ct_json_str(p, "time") ? ct_json_str(p, "time") : "?",
		       clean[0] ? " - " : "", clean);
	}
}

int export_status(struct ct_conf *c, int argc, char **argv)
{
	char err[CT_ERRLEN] = "";
	struct json_object *all = NULL, *o, *arr, *sent;
	struct dirstat nw, cur;
	struct why w[WHY_SHOWN + 1];
	size_t nfailed = 0, nwhy = 0;
	time_t now = time(NULL);
	int json = 0, lastbad = 0, ex = 0;
	struct ct_spool sp = CT_SPOOL_INIT;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: calltrail-export [-c FILE] status [--json]\n");
			return 0;
		} else {
			fprintf(stderr, "calltrail-export status: unknown argument \"%s\"\n"
			        "usage: calltrail-export [-c FILE] status [--json]\n", argv[i]);
			return EX_USAGE;
		}
	}
	if (ct_spool_open(&sp, c->spool_dir, 0, err) != CT_OK) {
		fprintf(stderr, "calltrail-export status: spool \"%s\" cannot be read: "
		        "%s\n", c->spool_dir, err);
		return EX_IOERR;
	}
	all = json_object_new_object();
	sent = json_object_new_object();
	if (scan(&sp, CT_SPOOL_NEW, NULL, &nw, err) != CT_OK ||
	    scan(&sp, CT_SPOOL_CUR, NULL, &cur, err) != CT_OK ||
	    scanfailed(&sp, &nfailed, w, &nwhy, err) != CT_OK ||
	    scansent(&sp, sent, err) != CT_OK)
		goto fail;

	json_object_object_add(all, "spool", json_object_new_string(c->spool_dir));
	json_object_object_add(all, "new", queue(&nw, now));
	json_object_object_add(all, "cur", queue(&cur, now));
	o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int64((int64_t)nfailed));
	arr = json_object_new_array();
	for (size_t i = 0; i < nwhy; i++) {
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(w[i].name));
		json_object_object_add(e, "why", json_object_new_string(w[i].line));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "recent", arr);
	json_object_object_add(all, "failed", o);
	json_object_object_add(all, "sent", sent);
	sent = NULL;
	json_object_object_add(all, "last_run", lastrun(c->spool_dir, &lastbad));
	json_object_object_add(all, "salesforce", sfpushes(c->spool_dir));

	if (json)
		printf("%s\n", json_object_to_json_string_ext(all,
		       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		text(c->spool_dir, all, now, &nw, &cur, w, nwhy, lastbad);
	if (!json)
		sftext(all);
	goto out;
fail:
	fprintf(stderr, "calltrail-export status: %s\n", err);
	ex = EX_IOERR;
out:
	json_object_put(sent);
	json_object_put(all);
	ct_spool_close(&sp);
	return ex;
}
