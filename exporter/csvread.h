/*
 * csvread.h — internal to calltrail-export csv: the state csvday.c (the
 * command) and csvread.c (reading the day's records into the aggregation)
 * share.  Not a library interface.
 */
#ifndef CT_CSVREAD_H
#define CT_CSVREAD_H

#include <limits.h>
#include <pthread.h>

#include "ct_csv.h"
#include "ct_record.h"
#include "ct_spool.h"

/* Threads reading sent/DAY/ at once.  Most of a record's cost is the
 * kernel's (openat + read + close) and json-c's, both of which scale with
 * the cores. */
#define SHARES_MAX  4
/* Names a thread takes from the shared directory stream at once: one lock
 * per CHUNK files, and CHUNK * NAME_MAX bytes of buffer per thread. */
#define CHUNK       256
/* Parsed calls a thread holds before it takes the aggregation's lock
 * once for all of them, and the bytes of their tiers it keeps meanwhile
 * (a tier longer than that is added on its own). */
#define BATCH       64
#define TIERBUF     (16 * 1024)

struct run {
	struct ct_conf *c;
	char day[11];
	pthread_mutex_t lock;      /* guards reported, dir, dir_rc, stop */
	size_t reported;
	struct ct_buf unsafe;      /* " id id ..." for the summary */
	size_t nunsafe;
	/* SPOOL/sent/DAY through the spool's own reader, read once by all
	 * threads together (one pass over the directory, however many
	 * threads): */
	struct ct_spool_dir dir;
	int dir_rc;                /* the reader failed: its code ... */
	char dir_err[CT_ERRLEN];   /* ... and message */
	int stop;                  /* the directory is done, or a share failed */
	/* The day's one aggregation, shared by the threads.  Every thread
	 * sees nearly every caller, so one table each would cost memory
	 * per caller per thread.  A thread adds its calls BATCH at a time,
	 * prepared (lower-cased, hashed) outside the lock, so the lock is
	 * held only for the table's lookups. */
	pthread_mutex_t agglock;
	struct ct_csv_day *agg;
};

/* One thread's share of the day: its read buffer and counts, added to
 * share 0's when every share is done. */
struct share {
	struct run *run;
	const char *dir;           /* SPOOL/sent/DAY, for messages */
	char *rec;                 /* reused read buffer, CT_RECORD_MAX + 1 */
	char (*names)[NAME_MAX + 1];  /* CHUNK names taken from run->dir */
	struct ct_csv_call *batch; /* BATCH calls not yet in run->agg */
	size_t nbatch;
	char *tiers;               /* TIERBUF bytes: the batch's tiers */
	size_t tierlen;
	size_t unreadable;         /* failed to read or ct_record_parse */
	size_t otherday;           /* end_time not on day */
	size_t bademail;           /* valid but for user_email (on day) */
	int rc;
	char err[CT_ERRLEN];
	pthread_t th;
	int started;
};

/* Report one skipped record (the first few; the summary counts all). */
void csv_report(struct run *r, const char *what, const char *why);
/* Parse one record's bytes and queue its call for the aggregation; a bad
 * record is reported and counted.  CT_ERR_NOMEM only. */
int csv_take(struct share *sh, const char *name, const char *buf, size_t len);
/* Add the share's queued calls to the aggregation.  CT_ERR_NOMEM only. */
int csv_flush(struct share *sh);
/* How many threads read the spool (CT_CSV_THREADS overrides). */
unsigned csv_nshares(void);
/* SPOOL/sent/DAY/ into r->agg by n threads; counts summed into sh[0]. */
int csv_from_spool(struct run *r, struct share *sh, unsigned n, char *err);

#endif
