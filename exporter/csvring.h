/*
 * csvring.h — internal to calltrail-export csv: a reading thread's
 * io_uring, which opens and reads a batch of spool records in one system
 * call instead of two or three per record (see csvring.c).  Not a
 * library interface.
 */
#ifndef CT_CSVRING_H
#define CT_CSVRING_H

#include <limits.h>
#include <stddef.h>

/* Records opened and read per submission, and the bytes read of each: a
 * record that does not fit is read again the ordinary way (most are
 * about 1 KB; the cap, CT_RECORD_MAX, is 1 MiB). */
#define RING_N     64
#define RING_SLOT  (8 * 1024)

struct csv_ring {
	int fd;                          /* the ring; -1 when closed */
	void *sq, *sqes;                 /* its two mappings (SINGLE_MMAP) */
	void *cq;                        /* the completions, inside sq */
	size_t sqlen, sqeslen;
	unsigned *sqtail, sqmask;
	unsigned *cqhead, *cqtail, cqmask;
	char *buf;                       /* RING_N slots of RING_SLOT bytes */
	int busy;                        /* failed with reads under way */
	/* After csv_ring_read, for each record i of the batch: */
	int open_res[RING_N];            /* >= 0, or -errno of the open */
	int read_res[RING_N];            /* bytes read, or -errno of the read */
};

/* Set up r.  -1 (errno set) when this kernel gives no ring with what it
 * needs (io_uring off, too old, refused by a sandbox): the caller then
 * reads the ordinary way.  r->fd is -1 after a failure. */
int csv_ring_open(struct csv_ring *r);
/* Release r (closes every file the ring still holds). */
void csv_ring_close(struct csv_ring *r);
/* For i < n: open names[i] relative to dfd with oflags, then read up to
 * RING_SLOT bytes of it into r->buf + i * RING_SLOT without waiting for
 * the disk (RWF_NOWAIT); the outcomes land in r->open_res[i] and
 * r->read_res[i] (-ECANCELED when the open failed).  n <= RING_N.
 * 0, or -1 with errno when the ring itself failed. */
int csv_ring_read(struct csv_ring *r, int dfd, const char *const *names,
                  size_t n, int oflags);

#endif
