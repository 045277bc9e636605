/*
 * t/export.c — calltrail-export's subcommands called in-process, from
 * exporter/libctexport.a: what they answer to bad arguments, and one real
 * day's CSV built from a spool the test writes itself.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_csv.h"
#include "export.h"
#include "tap.h"
#include "ct_fs.h"

static char top[256];

static void
writefile(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(s, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}

static int
run(int (*cmd)(struct ct_conf *, int, char **), struct ct_conf *c, int argc,
    const char **argv)
{
	fflush(stdout);
	return cmd(c, argc, (char **)argv);
}

int
main(void)
{
	char path[PATH_MAX + 64], conf[PATH_MAX + 64], err[CT_ERRLEN];
	struct ct_conf c;
	struct ct_buf b;
	const char *bad_day[] = { "csv", "--day", "2025-13-40" };
	const char *no_day[] = { "csv" };
	const char *bad_status[] = { "status", "--bogus" };
	const char *day[] = { "csv", "--day", "2025-10-29" };

	plan(7);
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || strlen(tmp) > 200)
		tmp = "/tmp";
	snprintf(top, sizeof(top), "%s/ct-export-XXXXXX", tmp);
	if (mkdtemp(top) == NULL)
		return 99;
	snprintf(conf, sizeof(conf), "%s/calltrail.conf", top);
	snprintf(path, sizeof(path), "spool_dir = %s/spool\ncsv_dir = %s/csv\n"
	         "target = file://%s/archive\n", top, top, top);
	writefile(conf, path);
	ok(ct_conf_load(&c, conf, err) == CT_OK, "configuration loads");

	is_int(EX_USAGE, run(export_csv, &c, 1, no_day), "csv without --day is a usage error");
	is_int(EX_USAGE, run(export_csv, &c, 3, bad_day), "csv --day 2025-13-40 is a usage error");
	is_int(EX_USAGE, run(export_status, &c, 2, bad_status), "status --bogus is a usage error");

	/* One day of two calls from one caller: the later call wins the row. */
	snprintf(path, sizeof(path), "%s/spool", top);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/spool/sent", top);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/spool/sent/2025-10-29", top);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/spool/sent/2025-10-29/1761761045000000000.1.00aa.json", top);
	writefile(path, "{\"session_id\":\"voice_a\",\"user_email\":\" Jane@Acme.com\","
	          "\"start_time\":\"2025-10-29T18:00:00Z\",\"end_time\":\"2025-10-29T18:04:05Z\"}");
	snprintf(path, sizeof(path), "%s/spool/sent/2025-10-29/1761761046000000000.1.00bb.json", top);
	writefile(path, "{\"session_id\":\"voice_b\",\"user_email\":\"jane@acme.com\","
	          "\"start_time\":\"2025-10-29T19:00:00Z\",\"end_time\":\"2025-10-29T19:10:00.250Z\","
	          "\"discovered_signals\":{\"qualification_tier\":\"hot\"}}");
	is_int(0, run(export_csv, &c, 3, day), "csv --day 2025-10-29 builds the day");
	snprintf(path, sizeof(path), "%s/csv/salesforce-leads-2025-10-29.csv", top);
	ct_buf_init(&b, 4096);
	ok(ct_file_read(path, 4096, &b, err) == CT_OK, "the day's file exists");
	is_str(CT_CSV_HEADER "\r\n"
	       "jane@acme.com,voice_b,2025-10-29T19:10:00.250Z,hot,2\r\n",
	       b.p ? b.p : "", "one row: the later call wins, two calls counted");
	ct_buf_free(&b);
	ct_conf_free(&c);
	snprintf(path, sizeof(path), "rm -rf '%s'", top);
	if (system(path) != 0)
		diag("could not remove %s", top);
	return done();
}
