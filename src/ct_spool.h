/*
 * ct_spool.h — the session spool (SPEC section 4; the on-disk format is
 * described at the top of spool.c).  Writers (calltrail-spool put) and the
 * exporter share only the file system: Maildir-style tmp/ -> new/, the
 * exporter claims new/ -> cur/ and moves each record on to sent/DAY/ or
 * failed/, holding .lock (flock) while it runs.
 */
#ifndef CT_SPOOL_H
#define CT_SPOOL_H

#include "calltrail.h"

struct ct_spool {
	char *dir;
	int lockfd;    /* -1 unless ct_spool_lock succeeded */
};

/* Open dir; when create is set make it (mode 0700) and its subdirectories
 * if missing.  CT_ERR_IO with err naming the path otherwise. */
int ct_spool_open(struct ct_spool *s, const char *dir, int create, char *err);
void ct_spool_close(struct ct_spool *s);

/* Write one record by the Maildir rule (tmp/NAME, fsync, rename to
 * new/NAME, fsync new/).  The new path goes to path (PATH_MAX bytes).
 * The caller has validated data. */
int ct_spool_put(struct ct_spool *s, const void *data, size_t len,
                 char *path, char *err);

/* flock .lock without waiting; CT_ERR_BUSY when another run holds it. */
int ct_spool_lock(struct ct_spool *s, char *err);

/* Move everything in cur/ back to new/ (a crashed run's leftovers);
 * *n counts them. */
int ct_spool_recover(struct ct_spool *s, size_t *n, char *err);

/* Move every file of new/ into cur/ and return their names, sorted
 * (oldest first), in a NULL-terminated array (free with ct_spool_names_free).
 * At most CT_SPOOL_CLAIM_MAX per call (bounded memory); the rest stays in
 * new/ for the next call.  recover and claim need the lock (CT_ERR_INPUT
 * without it). */
#define CT_SPOOL_CLAIM_MAX 100000
int ct_spool_claim(struct ct_spool *s, char ***names, size_t *n, char *err);
void ct_spool_names_free(char **names);

/* cur/NAME -> sent/DAY/NAME (DAY created 0700), durably. */
int ct_spool_done(struct ct_spool *s, const char *name, const char *day, char *err);
/* cur/NAME -> failed/NAME with failed/NAME.why holding why + "\n". */
int ct_spool_fail(struct ct_spool *s, const char *name, const char *why, char *err);
/* cur/NAME -> new/NAME: left for the next run. */
int ct_spool_unclaim(struct ct_spool *s, const char *name, char *err);

/*
 * ct_spool_done and ct_spool_unclaim for n records at once (names[i],
 * days[i]): every rename first, then one fsync of each destination
 * directory and one of cur/, so a batch costs a few fsyncs instead of two
 * per record.  status (n ints, filled in) says per record: CT_OK only once
 * its move is durable.  A record that fails does not stop the others.
 * Returns CT_OK or the first failure, described in err.
 */
int ct_spool_done_many(struct ct_spool *s, const char *const *names,
                       const char *const *days, size_t n, int *status,
                       char *err);
int ct_spool_unclaim_many(struct ct_spool *s, const char *const *names,
                          size_t n, int *status, char *err);

/* Remove sent/DAY directories older than keep_days before today (UTC
 * day of now_us); *removed counts the days removed. */
int ct_spool_prune(struct ct_spool *s, int keep_days, int64_t now_us,
                   size_t *removed, char *err);

#endif
