/*
 * spool.c — the session spool on disk (SPEC section 4): its format
 * (below), put and the lock.  The module's layers are in ct_spool.h:
 * spool-dir.c below this file (names, directories, the reader),
 * spool-move.c (every move, the sweep) and spool-prune.c (prune) beside
 * it; these three never call each other.
 *
 * ON-DISK FORMAT
 *
 * The spool is one directory (default $localstatedir/spool/calltrail)
 * owned by the exporter's user; agents run as their own users in the
 * spool's group:
 *
 *   (root)          0710   the group may pass through, not list
 *   tmp/NAME        3730   being written by a writer; never read by anyone
 *   new/NAME        3730   complete and immutable, waiting for export
 *   cur/NAME        0700   claimed by the exporter that holds .lock
 *   sent/YYYY-MM-DD/NAME   exported; the day is end_time's UTC day;
 *                   0700   removed by prune after keep_days
 *   failed/NAME     0700   refused by the exporter, never deleted ...
 *   failed/NAME.why        ... beside one line saying why (0600)
 *   .lock           0600   empty file, flock(LOCK_EX) by the running exporter
 *   .last-run.json  0600   the last upload's summary (upload.c, status.c)
 *
 * tmp/ and new/ are setgid (every record carries the spool's group) and,
 * like Postfix's maildrop, sticky with group write and search only: an
 * agent creates files there but can neither list nor remove others'.
 * The exporter's directories are its own alone.  ct_spool_open(create)
 * makes missing directories with these modes; a packaged install makes
 * them with tmpfiles.d.  calltrail-export refuses to run as anyone but
 * the spool's owner (ct_spool_check_owner), so it never leaves files
 * another user owns.
 *
 * NAME is "<unix ns>.<pid>.<16 lower-case hex>.json", for example
 * "1761761045123456789.4242.9f86d081884c7d65.json": unique without any
 * coordination (a clock, the process and 64 CSPRNG bits), and sortable by
 * age (the leading number).  A record file holds exactly the bytes the
 * agent handed over — one JSON object of at most 1 MiB — created 0640.
 *
 * Every directory below the root is reached from the root's descriptor,
 * one component at a time with O_NOFOLLOW: a symlinked tmp/, new/, cur/,
 * sent/, sent/DAY or failed/ is an error naming it, never a way out of
 * the spool.  Only regular files whose name passes the name rule
 * (ct_spool_is_record_name) are records; a symlink with a record's name
 * is an error, dotfiles and anything else are left alone.  Everybody who
 * lists the spool does it through ct_spool_dir_open/next (spool-dir.c).
 *
 * TRANSITIONS
 *
 * Each step is one rename(2) (atomic; RENAME_NOREPLACE where the file
 * system has it, so an existing record is never overwritten).  Every
 * move after put goes through the one mover of spool-move.c: all renames
 * of the batch, then one fsync of each destination directory, then one
 * of the source; no record is reported moved before those fsyncs
 * succeeded, so a crash at any moment leaves a record in one of new/,
 * cur/, sent/DAY/ or failed/ (or, between the two fsyncs, under one name
 * in two of them, which recover settles):
 *
 *   put      tmp/NAME -> new/NAME       write, fsync, rename, fsync new/
 *                                       (syncfs when new/ is not readable)
 *   claim    new/NAME -> cur/NAME       lock held; oldest first
 *   recover  cur/NAME -> new/NAME       lock held; a crashed run's leftovers
 *   unclaim  cur/NAME -> new/NAME       left for the next run
 *   done     cur/NAME -> sent/DAY/NAME  after the side effect is confirmed
 *   fail     cur/NAME -> failed/NAME    NAME.why is written first, so a
 *                                       crash leaves the record in cur/
 *                                       (retried), never in failed/ unsaid
 *   prune    sent/DAY removed when DAY < min(today, newest DAY) - keep_days,
 *            never on a clock before 1970 or before the newest DAY;
 *            a DAY counts only when filed into (its mtime) at most a day
 *            before it began: not one of a record ending in the future
 *
 * A writer that died between create and rename leaves tmp/NAME behind;
 * recover removes such files once they are 36 hours old (the Maildir
 * rule), because no writer takes that long.  It also removes the
 * exporter's own temporaries (".tmp-<16 hex>" of NAME.why in failed/ and
 * of .last-run.json in the root) a killed run left, once an hour old.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "ct_spoolint.h"
#include "ct_ids.h"
#include "ct_fs.h"

/*
 * Write one record by the Maildir rule, with the durable-write primitive:
 * tmp/NAME created 0640, written, fsynced, renamed to new/NAME (never
 * over another), new/ made durable.  Both directories are reached with
 * O_PATH descriptors, which need only search permission (an agent).  On
 * any failure nothing is left in tmp/ or new/, and err names the path and
 * the system's reason ("No space left on device").
 */
int ct_spool_put(struct ct_spool *s, const void *data, size_t len,
                 char *path, char *err)
{
	char rnd[17], name[NAME_MAX + 1], tmpdir[PATH_MAX], newdir[PATH_MAX];
	struct timespec ts;
	struct ct_dw w;
	int tfd = -1, nfd = -1, rc;

	path[0] = '\0';
	w.fd = -1;
	w.name[0] = '\0';
	if ((rc = ct_id_hex(rnd, 8)) != CT_OK) {
		ct_seterr(err, rc, "spool put: no random bytes: %s", ct_strerror(rc));
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, sizeof(name), "%llu.%ld.%s.json",
	         (unsigned long long)ts.tv_sec * 1000000000ULL +
	         (unsigned long long)ts.tv_nsec, (long)getpid(), rnd);
	if ((rc = ct_spool_subdir(s, "tmp", O_PATH, &tfd, tmpdir, err)) != CT_OK ||
	    (rc = ct_spool_subdir(s, "new", O_PATH, &nfd, newdir, err)) != CT_OK)
		goto out;
	if (snprintf(path, PATH_MAX, "%s/%s", newdir, name) >= PATH_MAX) {
		rc = ct_seterr(err, CT_ERR_TOOBIG, "path too long under \"%.200s\"",
		               s->dir);
		goto out;
	}
	if ((rc = ct_dw_open(&w, tfd, tmpdir, name, CT_SPOOL_RECORD_MODE,
	                     err)) != CT_OK ||
	    (rc = ct_dw_write(&w, data, len, err)) != CT_OK ||
	    (rc = ct_dw_sync(&w, err)) != CT_OK)
		goto out;
	if ((rc = ct_dw_commit(&w, nfd, newdir, name, CT_DW_NOREPLACE,
	                       err)) != CT_OK) {
		/* Renamed, but new/ could not be made durable: take the record
		 * back.  The caller is told "failed" and keeps it, so it must
		 * not also be exported. */
		if (w.name[0] == '\0')
			(void)unlinkat(nfd, name, 0);
		goto out;
	}
	rc = CT_OK;
out:
	ct_dw_abort(&w);
	if (rc != CT_OK)
		path[0] = '\0';
	if (tfd >= 0)
		close(tfd);
	if (nfd >= 0)
		close(nfd);
	return rc;
}

/* Take .lock without waiting; held until ct_spool_close. */
int ct_spool_lock(struct ct_spool *s, char *err)
{
	int fd = -1, rc;

	if (s->lockfd >= 0)
		return CT_OK;
	if (s->rootfd < 0)
		return ct_seterr(err, CT_ERR_INPUT, "spool is not open");
	fd = openat(s->rootfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	            CT_SPOOL_FILE_MODE);
	if (fd < 0) {
		rc = ct_seterr(err, CT_ERR_IO, "open \"%s/.lock\" failed: %s", s->dir,
		               strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			rc = ct_seterr(err, CT_ERR_BUSY,
			               "spool \"%s\" is locked by another run", s->dir);
		else
			rc = ct_seterr(err, CT_ERR_IO, "flock \"%s/.lock\" failed: %s",
			               s->dir, strerror(errno));
		goto out;
	}
	s->lockfd = fd;
	fd = -1;
	rc = CT_OK;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}
