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
 * EX_OK, EX_USAGE, EX_IOERR, EX_TEMPFAIL and EX_CONFIG, the only ones
 * calltrail-export returns (calltrail-export.8, EXIT STATUS). */
#include <sysexits.h>
#include "calltrail.h"
#include "ct_record.h"

/* A gzipped record: deflate's worst case for CT_RECORD_MAX fits. */
#define GZ_MAX (CT_RECORD_MAX + 64 * 1024)

int export_upload(struct ct_conf *c, int argc, char **argv);
int export_csv(struct ct_conf *c, int argc, char **argv);
int export_status(struct ct_conf *c, int argc, char **argv);

#endif
