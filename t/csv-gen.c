/*
 * csv-gen.c — write N synthetic session records into DIR, fast, for
 * t/csv-big.sh, t/csv-day.sh and bench/run:  csv-gen DIR N DAY EMAILS
 *
 * Record i comes from caller i % EMAILS (mixed case, so the CSV's
 * lower-casing is exercised), ends at DAY 00:00:00 + i ms, so the last
 * call of each caller is the one with the largest i, and carries the tier
 * "t<i % 3>".  Plain open/write/close: the point is a million files in
 * seconds, not durability.
 *
 * The files are written by one process per CPU (CT_CSV_GEN_JOBS
 * overrides, 1-16), process k taking the records i with i % jobs == k:
 * nearly all of the time is the kernel's, creating inodes and directory
 * entries, and a day written faster is a day less of which the host has
 * paged out again before the export reads it.  The files are the same
 * whatever the number of processes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define JOBS_MAX 16

/* Write records k, k + jobs, k + 2 * jobs, ... below n.  0 or 1. */
static int gen(const char *dir, long n, const char *day, long emails,
               long k, long jobs)
{
	char path[4096], rec[512];

	for (long i = k; i < n; i += jobs) {
		long ms = i % 86400000L;
		int len, fd;

		len = snprintf(rec, sizeof(rec),
		    "{\"session_id\":\"big_%ld\",\"user_email\":\"User%ld@Example.com\","
		    "\"start_time\":\"%sT00:00:00Z\","
		    "\"end_time\":\"%sT%02ld:%02ld:%02ld.%03ldZ\","
		    "\"duration_seconds\":%ld,"
		    "\"discovered_signals\":{\"qualification_tier\":\"t%ld\"}}\n",
		    i, i % emails, day, day, ms / 3600000, ms / 60000 % 60,
		    ms / 1000 % 60, ms % 1000, ms / 1000, i % 3);
		/* A record's name by the spool's rule (<ns>.<pid>.<hex>.json):
		 * the exporter's reader passes nothing else. */
		snprintf(path, sizeof(path), "%s/%019ld.%ld.0.json", dir, i, i);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    write(fd, rec, (size_t)len) != len || close(fd) != 0) {
			perror(path);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *e = getenv("CT_CSV_GEN_JOBS");
	long n, emails, jobs;
	int bad = 0, st;

	if (argc != 5 || (n = atol(argv[2])) < 0 || (emails = atol(argv[4])) < 1 ||
	    strlen(argv[3]) != 10) {
		fprintf(stderr, "usage: csv-gen DIR N YYYY-MM-DD EMAILS\n");
		return 64;
	}
	jobs = e && *e ? atol(e) : sysconf(_SC_NPROCESSORS_ONLN);
	if (jobs < 1)
		jobs = 1;
	if (jobs > JOBS_MAX)
		jobs = JOBS_MAX;
	if (jobs > n)
		jobs = n > 0 ? n : 1;
	if (jobs == 1)
		return gen(argv[1], n, argv[3], emails, 0, 1);
	fflush(NULL);
	for (long k = 0; k < jobs; k++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(gen(argv[1], n, argv[3], emails, k, jobs));
		if (pid < 0) {
			perror("fork");
			bad = 1;
			break;
		}
	}
	/* Every child started is waited for, so none outlives csv-gen. */
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	return bad;
}
