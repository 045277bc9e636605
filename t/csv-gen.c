/*
 * csv-gen.c — write N synthetic session records into DIR, fast, for
 * t/csv-big.sh:  csv-gen DIR N DAY EMAILS
 *
 * Record i comes from caller i % EMAILS (mixed case, so the CSV's
 * lower-casing is exercised), ends at DAY 00:00:00 + i ms, so the last
 * call of each caller is the one with the largest i, and carries the tier
 * "t<i % 3>".  Plain open/write/close: the point is a million files in
 * seconds, not durability.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[4096], rec[512];
	long n, emails;

	if (argc != 5 || (n = atol(argv[2])) < 0 || (emails = atol(argv[4])) < 1 ||
	    strlen(argv[3]) != 10) {
		fprintf(stderr, "usage: csv-gen DIR N YYYY-MM-DD EMAILS\n");
		return 64;
	}
	for (long i = 0; i < n; i++) {
		long ms = i % 86400000L;
		int len, fd;

		len = snprintf(rec, sizeof(rec),
		    "{\"session_id\":\"big_%ld\",\"user_email\":\"User%ld@Example.com\","
		    "\"start_time\":\"%sT00:00:00Z\","
		    "\"end_time\":\"%sT%02ld:%02ld:%02ld.%03ldZ\","
		    "\"duration_seconds\":%ld,"
		    "\"discovered_signals\":{\"qualification_tier\":\"t%ld\"}}\n",
		    i, i % emails, argv[3], argv[3], ms / 3600000, ms / 60000 % 60,
		    ms / 1000 % 60, ms % 1000, ms / 1000, i % 3);
		snprintf(path, sizeof(path), "%s/%019ld.%ld.big.json", argv[1], i, i);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    write(fd, rec, (size_t)len) != len || close(fd) != 0) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
