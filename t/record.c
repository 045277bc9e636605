/*
 * t/record.c — ct_record_parse against the cases in t/data/record/.
 *
 * Each case is a directory holding "input" (the record's bytes, exactly)
 * and "expected": the first line is "ok" or the prefix the error message
 * must start with (e.g. "end_time: before start_time"); further lines
 * "day=…", "session_id=…", "email=…", "tier=…" ("tier=(null)": no tier)
 * check what a successful parse extracted.  The size boundaries are
 * generated here rather than stored (1 MiB files in the tarball).
 *
 * Then allocation failures (t/failmalloc.c): for every N, the Nth
 * allocation calltrail's own code makes while a record is read,
 * validated and counted into a CSV day fails; each must end in
 * CT_ERR_NOMEM (or CT_OK where nothing needed it), with nothing leaked.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_csv.h"
#include "ct_record.h"
#include "failmalloc.h"
#include "tap.h"
#include "ct_fs.h"

#define MAXCASES 256

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int slurp(const char *path, struct ct_buf *b)
{
	char err[CT_ERRLEN];

	if (ct_file_read(path, 2 * CT_RECORD_MAX, b, err) != CT_OK) {
		diag("%s", err);
		return -1;
	}
	return 0;
}

/* Check one "key=value" line of expected against r. */
static void check_field(const char *name, const char *line, struct ct_record *r)
{
	const char *eq = strchr(line, '=');
	const char *want = eq ? eq + 1 : "";
	size_t klen = eq ? (size_t)(eq - line) : strlen(line);

	if (klen == 3 && strncmp(line, "day", 3) == 0)
		is_str(want, r->day, "%s: day", name);
	else if (klen == 10 && strncmp(line, "session_id", 10) == 0)
		is_str(want, r->session_id, "%s: session_id", name);
	else if (klen == 5 && strncmp(line, "email", 5) == 0)
		is_str(want, r->email, "%s: email", name);
	else if (klen == 4 && strncmp(line, "tier", 4) == 0)
		is_str(strcmp(want, "(null)") ? want : NULL, r->tier, "%s: tier",
		       name);
	else
		ok(0, "%s: unknown expectation \"%s\"", name, line);
}

static void run_case(const char *dir, const char *name)
{
	char path[4096], err[CT_ERRLEN] = "", *line, *save = NULL;
	struct ct_buf in, exp;
	struct ct_record r;
	int rc;

	ct_buf_init(&in, 0);
	ct_buf_init(&exp, 0);
	if (snprintf(path, sizeof(path), "%s/%s/input", dir, name) >=
	    (int)sizeof(path) || slurp(path, &in) < 0) {
		ok(0, "%s: read input", name);
		goto out;
	}
	if (snprintf(path, sizeof(path), "%s/%s/expected", dir, name) >=
	    (int)sizeof(path) || slurp(path, &exp) < 0) {
		ok(0, "%s: read expected", name);
		goto out;
	}
	rc = ct_record_parse(in.p, in.len, &r, err);
	line = strtok_r(exp.p, "\n", &save);
	if (line == NULL)
		line = "";
	if (strcmp(line, "ok") == 0) {
		if (!ok(rc == CT_OK, "%s: accepted", name))
			diag("  error: %s", err);
		while (rc == CT_OK && (line = strtok_r(NULL, "\n", &save)) != NULL)
			check_field(name, line, &r);
	} else {
		if (!ok(rc != CT_OK && strncmp(err, line, strlen(line)) == 0,
		        "%s: refused with \"%s...\"", name, line))
			diag("  rc %d, error: %s", rc, err);
	}
	ct_record_free(&r);
out:
	ct_buf_free(&in);
	ct_buf_free(&exp);
}

/* A valid record padded with spaces to exactly size bytes. */
static char *padded(size_t size)
{
	static const char base[] = "{\"session_id\":\"s\",\"start_time\":"
	    "\"2025-01-01T00:00:00Z\",\"end_time\":\"2025-01-01T00:00:01Z\"}";
	char *p = malloc(size);

	if (p == NULL)
		return NULL;
	memset(p, ' ', size);
	memcpy(p, base, sizeof(base) - 1);
	return p;
}

/* What a validation leaves behind, and how it ended: read the record
 * from path as calltrail-spool put does, validate it, and count it into
 * a CSV day as calltrail-export csv does. */
static int validate_once(const char *path)
{
	char err[CT_ERRLEN];
	struct ct_csv_day *d = NULL;
	struct ct_csv_stats st;
	struct ct_record r;
	struct ct_buf in, out;
	enum ct_csv_skip skip;
	int rc;

	memset(&r, 0, sizeof(r));
	ct_buf_init(&in, CT_RECORD_MAX);
	ct_buf_init(&out, 0);
	if ((rc = ct_file_read(path, CT_RECORD_MAX, &in, err)) != CT_OK)
		goto out;
	if ((rc = ct_record_parse(in.p, in.len, &r, err)) != CT_OK)
		goto out;
	if ((rc = ct_csv_day_new(&d)) != CT_OK)
		goto out;
	if ((rc = ct_csv_day_add(d, r.email, r.session_id, r.end_us, r.tier,
	                         &skip)) != CT_OK)
		goto out;
	rc = ct_csv_day_render(d, &out, NULL, NULL, &st);
out:
	ct_csv_day_free(d);
	ct_record_free(&r);
	ct_buf_free(&in);
	ct_buf_free(&out);
	return rc;
}

static void failmalloc_cases(const char *dir)
{
	char path[4096];
	long n, live, fired = 0;
	int bad = 0, rc;

	if (!failmalloc_available()) {
		for (int k = 0; k < 3; k++)
			ok(1, "# SKIP allocation failures: not under AddressSanitizer");
		return;
	}
	if (snprintf(path, sizeof(path), "%s/ok-full/input", dir) >=
	    (int)sizeof(path) ||
	    !ok(validate_once(path) == CT_OK, "ok-full read, validated, counted"))
		return;
	for (n = 1; n < 10000; n++) {
		live = failmalloc_live();
		failmalloc_fail_at(n);
		rc = validate_once(path);
		failmalloc_fail_at(0);
		if (!failmalloc_fired())
			break;
		fired++;
		if (rc != CT_ERR_NOMEM || failmalloc_live() != live) {
			if (bad++ == 0)
				diag("allocation %ld failed: rc %d, %ld blocks leaked",
				     n, rc, failmalloc_live() - live);
		}
	}
	diag("%ld allocations failed one at a time", fired);
	ok(fired > 0, "allocation failures: some allocation was failed");
	ok(bad == 0, "allocation failures: each ends in CT_ERR_NOMEM, nothing leaked");
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	char dir[4096], *names[MAXCASES], err[CT_ERRLEN], *p;
	struct ct_record r;
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/t/data/record", top ? top : ".");
	if ((d = opendir(dir)) == NULL) {
		printf("Bail out! cannot open %s\n", dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL && n < MAXCASES)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), cmpstr);
	diag("%zu cases in %s", n, dir);
	ok(n >= 30, "at least 30 data cases");
	for (i = 0; i < n; i++) {
		run_case(dir, names[i]);
		free(names[i]);
	}

	/* Size boundaries: exactly 1 MiB is a record, one byte more is not. */
	p = padded(CT_RECORD_MAX + 1);
	ok(p && ct_record_parse(p, CT_RECORD_MAX, &r, err) == CT_OK,
	   "size: exactly %d bytes accepted", CT_RECORD_MAX);
	ct_record_free(&r);
	ok(p && ct_record_parse(p, CT_RECORD_MAX + 1, &r, err) == CT_ERR_TOOBIG &&
	   strncmp(err, "record: larger than", 19) == 0,
	   "size: %d bytes refused as too big", CT_RECORD_MAX + 1);
	ct_record_free(&r);
	free(p);

	/* Freeing twice, and freeing after a refusal, are both safe. */
	ok(ct_record_parse("{}", 2, &r, err) == CT_ERR_INPUT, "{} refused");
	ct_record_free(&r);
	ct_record_free(&r);
	ok(r.root == NULL, "free after refusal leaves nothing");

	/* A record that breaks only the email rule says so (the CSV counts
	 * it as "bad email"), with its day; one that breaks another rule
	 * too does not. */
	{
		static const char be[] = "{\"session_id\":\"s\",\"user_email\":"
		    "\"nope\",\"start_time\":\"2025-01-01T00:00:00Z\","
		    "\"end_time\":\"2025-01-02T00:00:01Z\"}";
		static const char be2[] = "{\"session_id\":\"s\",\"user_email\":"
		    "\"nope\",\"start_time\":\"2025-01-01T00:00:00Z\","
		    "\"end_time\":\"2024-01-02T00:00:01Z\"}";

		ok(ct_record_parse(be, sizeof(be) - 1, &r, err) == CT_ERR_INPUT &&
		   r.email_bad && strcmp(r.day, "2025-01-02") == 0 &&
		   strncmp(err, "user_email:", 11) == 0 && r.root == NULL,
		   "email alone bad: refused, email_bad, day filled");
		ct_record_free(&r);
		ok(ct_record_parse(be2, sizeof(be2) - 1, &r, err) == CT_ERR_INPUT &&
		   !r.email_bad && strncmp(err, "end_time:", 9) == 0,
		   "email and end_time bad: not email_bad, end_time named");
		ct_record_free(&r);
	}
	failmalloc_cases(dir);
	plan(tap_n);   /* at the end: the cases decide the count */
	return done();
}
