/*
 * export.h — the subcommands of calltrail-export.  main.c parses the
 * global options (-c FILE), loads the configuration and hands the rest of
 * argv (argv[0] is the subcommand's name) to one of these.  Each returns
 * the process exit status (sysexits codes, see calltrail-export.8).
 *
 * The result of the last upload run is kept in SPOOL/.last-run.json,
 * written by upload and read by status:
 *   {"time": "<RFC 3339 ms>", "exit": N, "stored": N, "refused": N,
 *    "retried": N, "left": N, "message": "<one line>"}
 */
#ifndef CT_EXPORT_H
#define CT_EXPORT_H

/* The exit codes, defined once for every subcommand: sysexits.h's
 * EX_OK, EX_USAGE, EX_DATAERR (salesforce: rows refused), EX_IOERR,
 * EX_TEMPFAIL, EX_NOPERM (not the spool's owner; salesforce: sign-in
 * refused) and EX_CONFIG, the only ones calltrail-export returns
 * (calltrail-export.8, EXIT STATUS). */
#include <sysexits.h>
#include "calltrail.h"
#include "ct_record.h"

/* A gzipped record: deflate's worst case for CT_RECORD_MAX fits. */
#define GZ_MAX (CT_RECORD_MAX + 64 * 1024)

int export_upload(struct ct_conf *c, int argc, char **argv);
int export_csv(struct ct_conf *c, int argc, char **argv);
int export_status(struct ct_conf *c, int argc, char **argv);
int export_salesforce(struct ct_conf *c, int argc, char **argv);

struct ct_target;
struct ct_csv_day;

/* The day's records left out before they reach the aggregation (which
 * counts the rest in struct ct_csv_stats). */
struct csv_left {
	size_t unreadable;   /* unreadable, or refused by ct_record_parse */
	size_t otherday;     /* end_time on another day */
	size_t bademail;     /* refused for their email alone */
};

/*
 * The day's rows, computed once for csv and salesforce (csvday.c): the
 * day's records — SPOOL/sent/DAY/, or the target's day= partition when t
 * is not NULL — folded into a new aggregation *agg (the caller frees it
 * with ct_csv_day_free; render it with ct_csv_day_render).  Records left
 * out are reported on stderr and counted in *left.  CT_OK, or CT_ERR_*
 * with err.
 */
int csv_day_collect(struct ct_conf *c, const char *day, struct ct_target *t,
                    struct ct_csv_day **agg, struct csv_left *left, char *err);

/*
 * The --day and --source of `csv` and `salesforce`: day filled from
 * dayarg (YYYY-MM-DD, a real date, yesterday or today, UTC); NULL, or
 * the usage message that refuses them (dayarg NULL is "required").
 */
const char *csv_dayargs(const char *dayarg, const char *source, char day[11]);

#endif
