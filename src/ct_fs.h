/*
 * ct_fs.h — files: the durable-write primitive and small file helpers (fsutil.c).
 */
#ifndef CT_FS_H
#define CT_FS_H

#include "calltrail.h"

/* write(2) all of buf, retrying short writes and EINTR. */
int ct_write_full(int fd, const void *buf, size_t len);
/* fsync a directory so a rename or create in it is durable. */
int ct_fsync_dir(const char *dir, char *err);
/* mkdir -p with mode for every directory created. */
int ct_mkdirs(const char *path, mode_t mode, char *err);
/* Read a whole file of at most max bytes into b (b is reset first); the
 * last component is never followed if it is a symlink. */
int ct_file_read(const char *path, size_t max, struct ct_buf *b, char *err);
/* The same for dirfd/name; label names it in messages. */
int ct_file_read_at(int dirfd, const char *name, const char *label, size_t max,
                    struct ct_buf *b, char *err);

/*
 * The durable-write primitive (fsutil.c): ct_dw_open creates a new file in
 * dirfd (O_EXCL, O_NOFOLLOW, exactly mode) named name, or, name NULL, a
 * fresh temporary ".tmp-<16 hex>" (ct_tmp_name says which names those
 * are: a sweep may delete those and nothing else); ct_dw_write;
 * ct_dw_sync fsyncs and closes it; ct_dw_commit renames it to todir/to
 * (CT_DW_NOREPLACE: never over an existing file) and fsyncs todir — or,
 * when the caller may not open todir for reading, syncfs(2)s the file
 * system — unless CT_DW_NOSYNCDIR (a caller that fsyncs each directory
 * once for a batch).  ct_dw_abort closes and removes the file unless it
 * was renamed: call it after any failure.  dirpath and todirpath only
 * name the directories in messages.
 */
#define CT_TMP_PREFIX ".tmp-"
#define CT_DW_NOREPLACE 1
#define CT_DW_NOSYNCDIR 2
struct ct_dw {
	int fd;                 /* the open file, -1 once closed */
	int dirfd;              /* its directory (borrowed) */
	char name[256];         /* its name there; "" once renamed or removed */
	char dir[4096];         /* dirpath, for messages */
};
int ct_tmp_name(const char *name);
/* Remove from the open directory dirfd the regular files ct_tmp_name
 * calls temporaries that are more than age seconds old: left by a writer
 * killed between create and rename.  Nothing else is ever removed; best
 * effort (a file that stays costs only its space). */
void ct_tmp_sweep(int dirfd, long age);
int ct_dw_open(struct ct_dw *w, int dirfd, const char *dirpath, const char *name,
               mode_t mode, char *err);
int ct_dw_write(struct ct_dw *w, const void *data, size_t len, char *err);
int ct_dw_sync(struct ct_dw *w, char *err);
int ct_dw_commit(struct ct_dw *w, int todir, const char *todirpath, const char *to,
                 int flags, char *err);
void ct_dw_abort(struct ct_dw *w);
/* renameat2(RENAME_NOREPLACE), or where the file system lacks it a check
 * then renameat: never over an existing name.  -1 with errno (EEXIST). */
int ct_rename_noreplace(int olddir, const char *old, int newdir, const char *new);
/* The whole primitive for one file: dirfd/name durably replaced by data
 * (a temporary beside it, write, fsync, rename, fsync dirfd). */
int ct_file_put_at(int dirfd, const char *dirpath, const char *name,
                   const void *data, size_t len, mode_t mode, char *err);
/* ct_file_put_at for a path (its directory is opened, following the path
 * as given: for paths the administrator configured). */
int ct_file_put(const char *path, const void *data, size_t len, mode_t mode,
                char *err);

#endif /* CT_FS_H */
