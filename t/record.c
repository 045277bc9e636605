/*
 * t/record.c — ct_record_parse against the cases in t/data/record/.
 *
 * Each case is a directory holding "input" (the record's bytes, exactly)
 * and "expected": the first line is "ok" or the prefix the error message
 * must start with (e.g. "end_time: before start_time"); further lines
 * "day=…", "session_id=…", "email=…", "tier=…" ("tier=(null)": no tier)
 * check what a successful parse extracted.  The size boundaries are
 * generated here rather than stored (1 MiB files in the tarball).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_record.h"
#include "tap.h"

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
	plan(tap_n);   /* at the end: the cases decide the count */
	return done();
}
