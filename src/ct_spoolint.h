/*
 * ct_spoolint.h — what spool.c and spool-move.c share inside the
 * library; not part of the spool's interface (ct_spool.h).
 */
#ifndef CT_SPOOLINT_H
#define CT_SPOOLINT_H

#include <stdint.h>

/* Build a path into out (PATH_MAX bytes); CT_ERR_TOOBIG when it is cut. */
int ct_spool_mkpath(char *out, char *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Is n a record's NAME (spool.c's format)?  Nothing else reaches a path. */
int ct_spool_valid_name(const char *n);
/* The UTC day number of "YYYY-MM-DD", or -1 when it is not a real date. */
int64_t ct_spool_day_number(const char *d);
/* Rename dir a/name to dir b/name, never replacing (an, bn for messages). */
int ct_spool_moveat(int a, const char *an, int b, const char *bn,
                    const char *name, char *err);
/* Open a spool directory for renameat and fsync. */
int ct_spool_opendirfd(const char *dir, int *fd, char *err);
/* fsync an open directory: the renames into or out of it are durable. */
int ct_spool_syncfd(int fd, const char *dir, char *err);

#endif /* CT_SPOOLINT_H */
