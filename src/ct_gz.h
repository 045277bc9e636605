/*
 * ct_gz.h — deterministic gzip (gz.c).
 */
#ifndef CT_GZ_H
#define CT_GZ_H

#include "calltrail.h"

/* Deterministic gzip (no name, mtime 0, OS 255, level 6) of data into out
 * (reset first): the same bytes always give the same object. */
int ct_gz_compress(const void *data, size_t len, struct ct_buf *out, char *err);
/* Gunzip one member into out (reset first), at most max bytes. */
int ct_gz_decompress(const void *data, size_t len, size_t max,
                     struct ct_buf *out, char *err);

#endif /* CT_GZ_H */
