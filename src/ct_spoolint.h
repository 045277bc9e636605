/*
 * ct_spoolint.h — what spool-dir.c (the bottom layer) gives spool.c,
 * spool-move.c and spool-prune.c inside the library; not part of the
 * spool's interface (ct_spool.h).  Those three never call each other.
 */
#ifndef CT_SPOOLINT_H
#define CT_SPOOLINT_H

#include "ct_spool.h"

/*
 * Open rel ("new", "sent", "sent/2025-10-29") below the spool's root, one
 * component at a time with O_NOFOLLOW, so no symlink inside the spool is
 * ever followed: a symlink is CT_ERR_IO naming its path, a missing
 * directory CT_ERR_NOTFOUND.  flags: O_RDONLY (to read or fsync it) or
 * O_PATH (to reach names in it: needs search permission only).  path
 * (PATH_MAX) gets "SPOOL/rel" for messages; it may be NULL.
 */
int ct_spool_subdir(const struct ct_spool *s, const char *rel, int flags,
                    int *fd, char *path, char *err);
/* Rename dir a/name to dir b/name, never replacing (an, bn for messages). */
int ct_spool_moveat(int a, const char *an, int b, const char *bn,
                    const char *name, char *err);
/* fsync an open directory: the renames into or out of it are durable. */
int ct_spool_syncfd(int fd, const char *dir, char *err);
/* Keep the first failure of a batch in rc and err (a later one is
 * dropped; CT_OK never replaces a failure). */
void ct_spool_keep(int *rc, char *err, int code, const char *e);

#endif /* CT_SPOOLINT_H */
