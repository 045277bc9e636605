/*
 * salesforce.c — calltrail-export salesforce: the day's rows into
 * Salesforce with Bulk API 2.0 (SPEC section 9).
 *
 *   calltrail-export salesforce --day YYYY-MM-DD|yesterday|today
 *                    [--source spool|target] [--out DIR] [--dry-run]
 *
 * The rows are the CSV's rows: csv_day_collect and ct_csv_day_render
 * (the code of `calltrail-export csv`) make the day's file in memory and
 * this command reads it back, so the two can never disagree.  Then: sign
 * in (sf-auth.c), find the records by email with query jobs, update them
 * with ingest jobs (sf-bulk.c), and write DIR/salesforce-results-DAY.csv.
 *
 * Re-running a day sends the same values again: an update sets fields,
 * so a run after a crash at any step ends where one clean run would.
 *
 * The last push of each day is kept for `status` in
 * SPOOL/.salesforce-DAY.json (mode 0600, written by ct_file_put):
 *   {"day": "YYYY-MM-DD", "time": "<RFC 3339 ms>", "source": "spool",
 *    "exit": N, "rows": N, "updated": N, "failed": N, "not_found": N,
 *    "several": N, "message": "<one line, no email, no secret>"}
 *
 * Such files older than keep_days are removed after each push.
 *
 * Exit: 0 every row updated or not found; 64 usage; 65 Salesforce refused
 * rows (listed in the results file); 74 local I/O; 75 what a later run
 * may fix (REQUEST_LIMIT_EXCEEDED, 5xx, timeouts, a Failed or Aborted
 * job); 77 sign-in refused; 78 configuration (ours or the org's: a field
 * or object the integration user cannot use).
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ct_csv.h"
#include "ct_target.h"
#include "export.h"
#include "salesforce.h"
#include "ct_time.h"
#include "ct_json.h"
#include "ct_fs.h"


#define RESULTS_HEADER "email,record_id,outcome,error"

struct row {
	char *cell[5];            /* Email, the four fields: one allocation */
	size_t nrec;
};

struct rec {
	char id[19];              /* 15 or 18 characters */
	size_t row;
	enum sf_outcome o;
	char *error;
};

struct push {
	struct sf s;
	struct row *rows;
	size_t nrows, caprows;
	struct rec *recs;
	size_t nrecs, caprecs;
	int header;               /* the CSV's header row was read */
	char *err;
};

/* sf_csv_each callback over the day's own CSV. */
static int take_row(void *arg, char **cells, size_t n)
{
	struct push *p = arg;
	struct row *r;
	size_t len = 0;
	char *m;

	if (n != 5)
		return ct_seterr(p->err, CT_ERR_INPUT, "the day's CSV: a row of %zu cells", n);
	if (!p->header) {
		/* Email and the four fields, as csv.c names them */
		char h[sizeof(CT_CSV_HEADER)];

		snprintf(h, sizeof(h), "%s,%s,%s,%s,%s", cells[0], cells[1],
		         cells[2], cells[3], cells[4]);
		if (strcmp(h, CT_CSV_HEADER) != 0)
			return ct_seterr(p->err, CT_ERR_INPUT, "the day's CSV: "
			                 "unexpected header");
		p->header = 1;
		return CT_OK;
	}
	if (p->nrows == p->caprows) {
		size_t cap = p->caprows ? 2 * p->caprows : 64;
		struct row *nr = realloc(p->rows, cap * sizeof(*nr));

		if (nr == NULL)
			return ct_seterr(p->err, CT_ERR_NOMEM, "out of memory");
		p->rows = nr;
		p->caprows = cap;
	}
	for (size_t i = 0; i < 5; i++)
		len += strlen(cells[i]) + 1;
	if ((m = malloc(len)) == NULL)
		return ct_seterr(p->err, CT_ERR_NOMEM, "out of memory");
	r = &p->rows[p->nrows++];
	r->nrec = 0;
	for (size_t i = 0; i < 5; i++) {
		r->cell[i] = m;
		m = stpcpy(m, cells[i]) + 1;
	}
	return CT_OK;
}

static int byemail(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->cell[0], ((const struct row *)b)->cell[0]);
}

/* sf_query callback: a record whose Email matches one of the rows. */
static int found(void *arg, const char *id, const char *email)
{
	struct push *p = arg;
	char low[CT_CSV_EMAIL_MAX + 1];
	struct row key, *r;
	size_t n = strlen(email), k = strlen(id);

	if (k != 15 && k != 18)
		return ct_seterr(p->err, CT_ERR_REMOTE, "query results: an Id of %zu "
		                 "characters", k);
	if (n > CT_CSV_EMAIL_MAX)
		return CT_OK;
	/* Salesforce compares emails case-insensitively; the rows are
	 * lower-case ASCII (the email rules allow nothing else). */
	for (size_t i = 0; i <= n; i++)
		low[i] = email[i] >= 'A' && email[i] <= 'Z' ? (char)(email[i] + 32) : email[i];
	key.cell[0] = low;
	if ((r = bsearch(&key, p->rows, p->nrows, sizeof(*r), byemail)) == NULL)
		return CT_OK;
	if (p->nrecs == p->caprecs) {
		size_t cap = p->caprecs ? 2 * p->caprecs : 64;
		struct rec *nr = realloc(p->recs, cap * sizeof(*nr));

		if (nr == NULL)
			return ct_seterr(p->err, CT_ERR_NOMEM, "out of memory");
		p->recs = nr;
		p->caprecs = cap;
	}
	memset(&p->recs[p->nrecs], 0, sizeof(p->recs[0]));
	memcpy(p->recs[p->nrecs].id, id, k + 1);
	p->recs[p->nrecs].row = (size_t)(r - p->rows);
	p->nrecs++;
	return CT_OK;
}

static int byid(const void *a, const void *b)
{
	return strcmp(((const struct rec *)a)->id, ((const struct rec *)b)->id);
}

static int byrow(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->row != y->row)
		return x->row < y->row ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Query every row's email, SOQL statements under s->soql_max. */
static int find_records(struct push *p, char *err)
{
	struct ct_buf q;
	size_t i = 0, w = 0;
	int rc = CT_OK;

	ct_buf_init(&q, 0);
	while (i < p->nrows && rc == CT_OK) {
		size_t start = i, base;

		ct_buf_reset(&q);
		rc = ct_buf_printf(&q, "SELECT Id, Email FROM %s WHERE %sEmail IN (",
		                   p->s.c->salesforce_object,
		                   strcmp(p->s.c->salesforce_object, "Lead") == 0
		                   ? "IsConverted = false AND " : "");
		base = q.len;
		for (; rc == CT_OK && i < p->nrows; i++) {
			size_t before = q.len;

			if (q.len > base)
				rc = ct_buf_add(&q, ",", 1);
			if (rc == CT_OK)
				rc = sf_soql_str(&q, p->rows[i].cell[0]);
			if (rc == CT_OK && q.len + 1 > p->s.soql_max && i > start) {
				q.len = before;   /* this one starts the next query */
				q.p[q.len] = '\0';
				break;
			}
		}
		if (rc == CT_OK)
			rc = ct_buf_add(&q, ")", 1);
		if (rc != CT_OK) {
			rc = ct_seterr(err, rc, "out of memory");
			break;
		}
		rc = sf_query(&p->s, q.p, found, p, err);
	}
	ct_buf_free(&q);
	if (rc != CT_OK)
		return rc;
	/* one record per id, even if two queries returned it */
	qsort(p->recs, p->nrecs, sizeof(*p->recs), byid);
	for (size_t k = 0; k < p->nrecs; k++)
		if (w == 0 || strcmp(p->recs[k].id, p->recs[w - 1].id) != 0)
			p->recs[w++] = p->recs[k];
	p->nrecs = w;
	for (size_t k = 0; k < p->nrecs; k++)
		p->rows[p->recs[k].row].nrec++;
	return CT_OK;
}

/* sf_ingest callback: one record's outcome. */
static int result(void *arg, enum sf_outcome o, const char *id,
                  const char *error)
{
	struct push *p = arg;
	struct rec key, *r;

	snprintf(key.id, sizeof(key.id), "%s", id);
	if ((r = bsearch(&key, p->recs, p->nrecs, sizeof(*r), byid)) == NULL)
		return CT_OK;
	r->o = o;
	free(r->error);
	r->error = NULL;
	if (error[0] && (r->error = strdup(error)) == NULL)
		return ct_seterr(p->err, CT_ERR_NOMEM, "out of memory");
	return CT_OK;
}

/* Ingest jobs for every record found, each under s->upload_max bytes. */
static int update_records(struct push *p, size_t *jobs, char *err)
{
	struct ct_buf csv;
	size_t k = 0;
	int rc = CT_OK;

	ct_buf_init(&csv, 0);
	while (k < p->nrecs && rc == CT_OK) {
		size_t first = k;

		ct_buf_reset(&csv);
		/* Id, then the CSV's four field columns (its header minus Email) */
		rc = ct_buf_printf(&csv, "Id%s\r\n", strchr(CT_CSV_HEADER, ','));
		for (; rc == CT_OK && k < p->nrecs; k++) {
			struct row *r = &p->rows[p->recs[k].row];
			const char *cells[5] = { p->recs[k].id, r->cell[1], r->cell[2],
			                         r->cell[3], r->cell[4] };
			size_t before = csv.len;

			if ((rc = ct_csv_write_row(&csv, cells, 5)) != CT_OK)
				break;
			if (csv.len > p->s.upload_max && k > first) {
				csv.len = before;
				csv.p[csv.len] = '\0';
				break;
			}
		}
		if (rc != CT_OK) {
			rc = ct_seterr(err, rc, "out of memory");
			break;
		}
		rc = sf_ingest(&p->s, csv.p, csv.len, result, p, err);
		(*jobs)++;
	}
	ct_buf_free(&csv);
	return rc;
}

static const char *outcome(enum sf_outcome o)
{
	switch (o) {
	case SF_UPDATED:     return "updated";
	case SF_FAILED:      return "failed";
	case SF_UNPROCESSED: return "unprocessed";
	default:             return "no result";
	}
}

/* DIR/salesforce-results-DAY.csv: every row, one line per record. */
static int write_results(struct push *p, const char *path, char *err)
{
	struct ct_buf b;
	size_t k = 0;
	int rc;

	ct_buf_init(&b, 0);
	qsort(p->recs, p->nrecs, sizeof(*p->recs), byrow);
	rc = ct_buf_adds(&b, RESULTS_HEADER "\r\n");
	for (size_t i = 0; rc == CT_OK && i < p->nrows; i++) {
		if (p->rows[i].nrec == 0) {
			const char *c[4] = { p->rows[i].cell[0], "", "not found", "" };

			rc = ct_csv_write_row(&b, c, 4);
			continue;
		}
		for (; rc == CT_OK && k < p->nrecs && p->recs[k].row == i; k++) {
			const char *c[4] = { p->rows[i].cell[0], p->recs[k].id,
			                     outcome(p->recs[k].o),
			                     p->recs[k].error ? p->recs[k].error : "" };

			rc = ct_csv_write_row(&b, c, 4);
		}
	}
	if (rc != CT_OK)
		rc = ct_seterr(err, rc, "out of memory");
	else
		rc = ct_file_put(path, b.p, b.len, 0640, err);
	ct_buf_free(&b);
	qsort(p->recs, p->nrecs, sizeof(*p->recs), byid);
	return rc;
}

struct counts { size_t rows, updated, failed, notfound, several, retry; };

/* Remove SPOOL/.salesforce-DAY.json of days older than keep_days, as
 * upload prunes sent/DAY: one small file a day would pile up forever. */
static void prune_last(struct ct_conf *c)
{
	char oldest[11];
	struct dirent *de;
	DIR *d;

	ct_time_day(ct_time_now_us() - (int64_t)c->keep_days * 86400 * 1000000, oldest);
	if ((d = opendir(c->spool_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n != strlen(".salesforce-YYYY-MM-DD.json") ||
		    strncmp(de->d_name, ".salesforce-", 12) != 0 ||
		    strcmp(de->d_name + n - 5, ".json") != 0 ||
		    strncmp(de->d_name + 12, oldest, 10) >= 0)
			continue;
		(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* SPOOL/.salesforce-DAY.json for status (format at the top). */
static void keep_last(struct ct_conf *c, const char *day, const char *source,
                      int ex, const struct counts *n, const char *msg)
{
	struct json_object *o = json_object_new_object();
	char path[PATH_MAX], now[CT_TIMELEN], err[CT_ERRLEN], line[SF_ERRTXT];
	const char *js;

	ct_time_format_ms(ct_time_now_us(), now);
	sf_clean(msg, line, sizeof(line));
	if (o == NULL ||
	    ct_json_add(o, "day", json_object_new_string(day), NULL) ||
	    ct_json_add(o, "time", json_object_new_string(now), NULL) ||
	    ct_json_add(o, "source", json_object_new_string(source), NULL) ||
	    ct_json_add(o, "exit", json_object_new_int(ex), NULL) ||
	    ct_json_add(o, "rows", json_object_new_int64((int64_t)n->rows), NULL) ||
	    ct_json_add(o, "updated", json_object_new_int64((int64_t)n->updated), NULL) ||
	    ct_json_add(o, "failed", json_object_new_int64((int64_t)n->failed), NULL) ||
	    ct_json_add(o, "not_found", json_object_new_int64((int64_t)n->notfound), NULL) ||
	    ct_json_add(o, "several", json_object_new_int64((int64_t)n->several), NULL) ||
	    ct_json_add(o, "message", json_object_new_string(line), NULL) ||
	    (js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) == NULL) {
		fprintf(stderr, "calltrail-export salesforce: out of memory\n");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/.salesforce-%s.json", c->spool_dir, day);
	if (ct_file_put(path, js, strlen(js), 0600, err) != CT_OK)
		fprintf(stderr, "calltrail-export salesforce: warning: %s\n", err);
	else
		prune_last(c);
out:
	json_object_put(o);
}

static int usage(const char *why)
{
	fprintf(stderr, "calltrail-export salesforce: %s\n"
	        "usage: calltrail-export [-c FILE] salesforce --day YYYY-MM-DD|"
	        "yesterday|today [--source spool|target] [--out DIR] [--dry-run]\n",
	        why);
	return EX_USAGE;
}

static int exitcode(int rc, const struct sf *s)
{
	switch (rc) {
	case CT_OK:         return 0;
	case CT_ERR_TEMP:
	case CT_ERR_TOOBIG: return EX_TEMPFAIL;  /* a reply over our cap: not
	                                          * the admin's configuration */
	case CT_ERR_CONFIG:
	case CT_ERR_CRYPTO: return EX_CONFIG;
	case CT_ERR_REMOTE: return s->denied ? EX_NOPERM : EX_CONFIG;
	default:            return EX_IOERR;
	}
}

int export_salesforce(struct ct_conf *c, int argc, char **argv)
{
	const char *dayarg = NULL, *outdir = NULL, *source = "spool", *why;
	char err[CT_ERRLEN] = "", day[11], path[PATH_MAX], mask[CT_MASKLEN];
	struct ct_csv_day *agg = NULL;
	struct ct_target *t = NULL;
	struct counts n = { 0, 0, 0, 0, 0, 0 };
	struct ct_buf csv;
	struct push p;
	struct csv_left left = { 0 };
	size_t jobs = 0;
	int dry = 0, ex = 0, rc, opened = 0, pushed = 0;

	memset(&p, 0, sizeof(p));
	p.err = err;
	ct_buf_init(&csv, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = strncmp(a, "--day", 5) == 0 ? &dayarg
		                  : strncmp(a, "--out", 5) == 0 ? &outdir
		                  : strncmp(a, "--source", 8) == 0 ? &source : NULL;
		size_t k = slot == &source ? 8 : 5;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			printf("usage: calltrail-export [-c FILE] salesforce --day "
			       "YYYY-MM-DD|yesterday|today [--source spool|target] "
			       "[--out DIR] [--dry-run]\n");
			goto out;
		}
		if (strcmp(a, "--dry-run") == 0) {
			dry = 1;
		} else if (slot && a[k] == '=') {
			*slot = a + k + 1;
		} else if (slot && a[k] == '\0' && i + 1 < argc) {
			*slot = argv[++i];
		} else {
			ex = usage(slot && a[k] == '\0' ? "an option needs a value"
			                                : "unknown argument");
			goto out;
		}
	}
	if ((why = csv_dayargs(dayarg, source, day)) != NULL) {
		ex = usage(why);
		goto out;
	}
	if (outdir == NULL)
		outdir = c->csv_dir;
	if (outdir == NULL || outdir[0] == '\0') {
		fprintf(stderr, "calltrail-export salesforce: csv_dir: empty "
		        "(where the results file goes; or --out DIR)\n");
		ex = EX_CONFIG;
		goto out;
	}

	/* The rows: exactly what `calltrail-export csv` writes. */
	if (strcmp(source, "target") == 0 && (rc = ct_target_open(c, &t, err)) != CT_OK)
		goto fail;
	if ((rc = csv_day_collect(c, day, t, &agg, &left, err)) != CT_OK ||
	    (rc = ct_csv_day_render(agg, &csv, NULL, NULL, NULL)) != CT_OK ||
	    (rc = sf_csv_each(csv.p ? csv.p : "", csv.len, take_row, &p, err)) != CT_OK)
		goto fail;
	n.rows = p.nrows;

	if ((rc = sf_open(&p.s, c, err)) != CT_OK)
		goto fail;
	opened = 1;
	pushed = !dry;
	if ((rc = sf_signin(&p.s, err)) != CT_OK ||
	    (p.nrows > 0 && (rc = find_records(&p, err)) != CT_OK))
		goto fail;
	for (size_t i = 0; i < p.nrows; i++) {
		n.notfound += p.rows[i].nrec == 0;
		n.several += p.rows[i].nrec > 1;
	}
	if (dry) {
		for (size_t k = 0; k < p.nrecs; k++) {
			ct_email_mask(p.rows[p.recs[k].row].cell[0], mask, sizeof(mask));
			printf("would update %s %s (%s)\n", c->salesforce_object,
			       p.recs[k].id, mask);
		}
		printf("salesforce %s (%s, dry run): rows %zu, records to update %zu, "
		       "not found %zu, emails on several records %zu\n", day, source,
		       n.rows, p.nrecs, n.notfound, n.several);
		goto out;
	}
	if (p.nrecs > 0 && (rc = update_records(&p, &jobs, err)) != CT_OK)
		goto fail;
	for (size_t k = 0; k < p.nrecs; k++) {
		n.updated += p.recs[k].o == SF_UPDATED;
		n.failed += p.recs[k].o != SF_UPDATED;
		n.retry += p.recs[k].o == SF_UNPROCESSED || p.recs[k].o == SF_NONE;
	}
	snprintf(path, sizeof(path), "%s/salesforce-results-%s.csv", outdir, day);
	if ((rc = ct_mkdirs(outdir, 0700, err)) != CT_OK ||
	    (rc = write_results(&p, path, err)) != CT_OK) {
		rc = rc == CT_ERR_NOMEM ? rc : CT_ERR_IO;
		goto fail;
	}
	ex = n.retry ? EX_TEMPFAIL : n.failed ? EX_DATAERR : 0;
	snprintf(err, sizeof(err), "%zu job%s; %s", jobs, jobs == 1 ? "" : "s",
	         n.retry ? "some records were not processed: run again"
	                 : n.failed ? "Salesforce refused some rows (see the "
	                              "results file)" : "done");
	printf("salesforce %s (%s): rows %zu, records updated %zu, failed %zu, "
	       "not found %zu, emails on several records %zu; results in %s\n",
	       day, source, n.rows, n.updated, n.failed, n.notfound, n.several, path);
	goto out;
fail:
	ex = exitcode(rc, &p.s);
	fprintf(stderr, "calltrail-export salesforce: %s\n", err);
out:
	if (pushed)
		keep_last(c, day, source, ex, &n, err);
	fflush(stdout);
	if (opened)
		sf_close(&p.s);
	ct_target_close(t);
	ct_csv_day_free(agg);
	ct_buf_free(&csv);
	for (size_t i = 0; i < p.nrows; i++)
		free(p.rows[i].cell[0]);
	free(p.rows);
	for (size_t k = 0; k < p.nrecs; k++)
		free(p.recs[k].error);
	free(p.recs);
	return ex;
}
