/*
 * ct_spool.h — the session spool (SPEC section 4; the on-disk format is
 * described at the top of spool.c).  Writers (calltrail-spool put) and the
 * exporter share only the file system: Maildir-style tmp/ -> new/, the
 * exporter claims new/ -> cur/ and moves each record on to sent/DAY/ or
 * failed/, holding .lock (flock) while it runs.
 *
 * The module is layered, each file calling only those below it:
 *   spool-dir.c   paths, the name rule, opening a spool directory from the
 *                 root by O_NOFOLLOW descriptors, the directory reader,
 *                 ct_spool_open/close and the owner check;
 *   spool.c       put and the lock;
 *   spool-move.c  every move (claim, recover, done, unclaim, fail) through
 *                 one mover, and the tmp/ sweep;
 *   spool-prune.c prune and its clock rule.
 * Nobody else walks the spool: status and the CSV reader use
 * ct_spool_dir_open/next/close.
 */
#ifndef CT_SPOOL_H
#define CT_SPOOL_H

#include <limits.h>
#include <stdint.h>

#include "calltrail.h"

struct ct_spool {
	char *dir;
	int lockfd;    /* -1 unless ct_spool_lock succeeded */
	int rootfd;    /* the spool directory (O_PATH); -1 when not open */
};

/* Modes of SPEC section 4: the exporter's user owns the spool, agents in
 * its group may only pass through the root and drop records into tmp/ and
 * new/ (setgid: the records carry the group; sticky and no read: an agent
 * cannot list or remove another's). */
#define CT_SPOOL_ROOT_MODE   0710
#define CT_SPOOL_DROP_MODE   03730   /* tmp/, new/ */
#define CT_SPOOL_PRIV_MODE   0700    /* cur/, sent/, sent/DAY, failed/ */
#define CT_SPOOL_RECORD_MODE 0640    /* a record as put writes it */
#define CT_SPOOL_FILE_MODE   0600    /* .lock, NAME.why, the exporter's files */

/* Open dir (followed if it is a symlink: it is the configured path).
 * create is 0 (only dir must exist), CT_SPOOL_CREATE_ALL (the exporter:
 * make dir (0710) and its subdirectories (tmp/ new/ 3730, cur/ sent/
 * failed/ 0700) where missing) or CT_SPOOL_CREATE_DROP (a writer: dir,
 * tmp/ and new/ only — the rest too when the caller owns dir, never
 * needing them otherwise).  A subdirectory that is a symlink is
 * CT_ERR_IO naming it. */
#define CT_SPOOL_CREATE_ALL  1
#define CT_SPOOL_CREATE_DROP 2
int ct_spool_open(struct ct_spool *s, const char *dir, int create, char *err);
/* Release the lock and the descriptors; safe on a spool never opened when
 * it was zeroed or initialised with CT_SPOOL_INIT. */
void ct_spool_close(struct ct_spool *s);
#define CT_SPOOL_INIT { NULL, -1, -1 }

/*
 * Is the caller (effective uid) the owner of the spool at dir?  CT_OK when
 * it is, or when dir does not exist yet (whoever creates it owns it).
 * CT_ERR_PERM when not: err names the owner and says to run as them
 * ("sudo -u calltrail ..."); *owner (may be NULL) gets the owner's uid.
 * CT_ERR_IO when dir cannot be examined.  Touches nothing.
 */
int ct_spool_check_owner(const char *dir, uid_t *owner, char *err);

/* Write one record by the Maildir rule (tmp/NAME, fsync, rename to
 * new/NAME, fsync new/ or, when new/ cannot be opened for that, syncfs).
 * The new path goes to path (PATH_MAX bytes).  The caller has validated
 * data.  The record is created 0640. */
int ct_spool_put(struct ct_spool *s, const void *data, size_t len,
                 char *path, char *err);

/* flock .lock without waiting; CT_ERR_BUSY when another run holds it. */
int ct_spool_lock(struct ct_spool *s, char *err);

/* Move everything in cur/ back to new/ (a crashed run's leftovers);
 * *n counts them. */
int ct_spool_recover(struct ct_spool *s, size_t *n, char *err);

/* Move every file of new/ into cur/ and return their names, sorted
 * (oldest first), in a NULL-terminated array (free with ct_spool_names_free).
 * At most CT_SPOOL_CLAIM_MAX per call (bounded memory; the environment's
 * CT_SPOOL_CLAIM_MAX may lower it, for tests): the oldest by name, the
 * rest stays in new/ for the next call.  recover and claim need the lock
 * (CT_ERR_INPUT without it). */
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

/*
 * Remove sent/DAY directories older than keep_days before the earlier of
 * today (UTC day of now_us) and the newest day filed in sent/: a clock
 * that runs ahead never prunes what the records do not call old.  A clock
 * before 1970 or more than a day before the newest day filed is
 * implausible: nothing is removed and CT_ERR_INPUT says why.  A day
 * counts here only when it was filed into (its mtime) no more than a day
 * before it began: a record that ends in the future (an agent's clock,
 * a year like 2099) says nothing about this host's clock.  *removed counts the days
 * removed.  A symlinked sent/ or sent/DAY is CT_ERR_IO naming it, and
 * nothing outside the spool is ever removed.
 */
int ct_spool_prune(struct ct_spool *s, int keep_days, int64_t now_us,
                   size_t *removed, char *err);

/* ---- reading the spool: the one directory reader ------------------- */

enum ct_spool_area {
	CT_SPOOL_NEW, CT_SPOOL_CUR, CT_SPOOL_FAILED, CT_SPOOL_SENT,
	CT_SPOOL_SENT_DAY
};

struct ct_spool_dir {
	int fd;              /* the directory, for openat(fd, name, O_RDONLY|O_NOFOLLOW|O_CLOEXEC) */
	char path[PATH_MAX]; /* for messages */
	/* private */
	void *dir_;          /* the DIR stream over fd */
	int area_;
};

/*
 * Open one spool directory, reached from the spool root by O_NOFOLLOW
 * descriptors (a symlink is CT_ERR_IO naming the path); day only for
 * CT_SPOOL_SENT_DAY ("YYYY-MM-DD", a real date, else CT_ERR_INPUT).
 * CT_ERR_NOTFOUND when it does not exist.  d->fd is -1 after a failure,
 * and ct_spool_dir_close is then harmless.
 */
int ct_spool_dir_open(struct ct_spool *s, enum ct_spool_area area,
                      const char *day, struct ct_spool_dir *d, char *err);
/*
 * Next entry that passes the name rule (record names; in CT_SPOOL_SENT,
 * day names); *name NULL at the end.  *name points into the reader and
 * stays valid until the next call.  Entries whose type (d_type, or
 * fstatat when the file system does not say) is not a regular file (in
 * CT_SPOOL_SENT: not a directory) are skipped silently — except a
 * symlink with a valid name, which is CT_ERR_IO naming its path (*name
 * set to it); the caller may go on calling next after that.  Not
 * thread-safe: callers sharing one reader lock around it.
 */
int ct_spool_dir_next(struct ct_spool_dir *d, const char **name, char *err);
void ct_spool_dir_close(struct ct_spool_dir *d);

/* The name rule: is n a record's NAME ("<ns>.<pid>.<hex>.json")?  Nothing
 * else in new/, cur/, sent/DAY/ or failed/ is a record. */
int ct_spool_is_record_name(const char *n);
/* The UTC day number of a sent/ day name "YYYY-MM-DD" (a real date), or -1
 * when n is not one. */
int64_t ct_spool_day_number(const char *n);

#endif
