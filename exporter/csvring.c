/*
 * csvring.c — calltrail-export csv: a reading thread's io_uring.
 *
 * Reading a day of spool records is one openat, one read and one close
 * per record, and on this kind of machine most of the cost of those is
 * entering and leaving the kernel, not the work inside it.  An io_uring
 * takes a batch of RING_N records in one io_uring_enter: per record, an
 * openat into a slot of the ring's own file table (a "direct
 * descriptor", never in the process's fd table), linked to a read from
 * that slot.  No close is needed: the next batch's openat into the same
 * slot replaces the file, and closing the ring releases the last ones.
 *
 * The ring only ever takes the easy case.  Its reads are RWF_NOWAIT, so
 * a record not in the page cache (or a FIFO someone left in sent/)
 * comes back EAGAIN rather than waiting; csvread.c sends anything that
 * was not read whole and cleanly through the ordinary path, which
 * decides what it is.
 *
 * liburing is not among calltrail's dependencies; the three system calls
 * are used as <linux/io_uring.h> describes them.  A kernel without what
 * this needs (io_uring disabled or refused by a sandbox, older than 6.1)
 * fails csv_ring_open, and the caller reads the ordinary way.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "csvring.h"

#ifdef HAVE_LINUX_IO_URING_H
#include <linux/io_uring.h>
#endif

#if defined(HAVE_LINUX_IO_URING_H) && defined(__NR_io_uring_setup) && \
    defined(IORING_SETUP_DEFER_TASKRUN) && defined(RWF_NOWAIT)

/* An open and a read per record: the submission queue holds a batch. */
#define ENTRIES  (2 * RING_N)

static int setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int enter(int fd, unsigned submit, unsigned wait)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, wait,
	                    IORING_ENTER_GETEVENTS, NULL, 0);
}

static int reg(int fd, unsigned op, void *arg, unsigned n)
{
	return (int)syscall(__NR_io_uring_register, fd, op, arg, n);
}

int csv_ring_open(struct csv_ring *r)
{
	struct io_uring_params p;
	struct io_uring_rsrc_register files;
	size_t cqlen;
	char *sq;
	int e;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	memset(&p, 0, sizeof(p));
	/* One thread submits, and completions are handled only when it
	 * waits for them (6.1): no task work interrupting the parsing.
	 * SUBMIT_ALL: an entry the kernel refuses still leaves the rest
	 * submitted, each with its own completion. */
	p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
	          IORING_SETUP_DEFER_TASKRUN;
	if ((r->fd = setup(ENTRIES, &p)) < 0)
		goto fail;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP) ||
	    !(p.features & IORING_FEAT_NODROP) || p.sq_entries < ENTRIES ||
	    p.cq_entries < ENTRIES) {
		errno = ENOSYS;
		goto fail;
	}
	r->sqlen = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cqlen = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (cqlen > r->sqlen)
		r->sqlen = cqlen;
	r->sqeslen = p.sq_entries * sizeof(struct io_uring_sqe);
	/* SINGLE_MMAP: the two rings share one mapping. */
	r->sq = mmap(NULL, r->sqlen, PROT_READ | PROT_WRITE,
	             MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (r->sq == MAP_FAILED) {
		r->sq = NULL;
		goto fail;
	}
	r->sqes = mmap(NULL, r->sqeslen, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED) {
		r->sqes = NULL;
		goto fail;
	}
	sq = r->sq;             /* the completion queue too */
	r->sqtail = (unsigned *)(sq + p.sq_off.tail);
	r->sqmask = *(unsigned *)(sq + p.sq_off.ring_mask);
	r->cqhead = (unsigned *)(sq + p.cq_off.head);
	r->cqtail = (unsigned *)(sq + p.cq_off.tail);
	r->cqmask = *(unsigned *)(sq + p.cq_off.ring_mask);
	r->cq = sq + p.cq_off.cqes;
	/* The submission queue is an array of indexes into the entries:
	 * entry i always sits at index i. */
	for (unsigned i = 0; i < p.sq_entries; i++)
		((unsigned *)(sq + p.sq_off.array))[i] = i;
	/* RING_N empty slots for the opened files (5.19). */
	memset(&files, 0, sizeof(files));
	files.nr = RING_N;
	files.flags = IORING_RSRC_REGISTER_SPARSE;
	if (reg(r->fd, IORING_REGISTER_FILES2, &files, sizeof(files)) < 0)
		goto fail;
	/* Zeroed: memory checkers do not see the kernel's writes. */
	if ((r->buf = calloc(RING_N, RING_SLOT)) == NULL)
		goto fail;
	return 0;
fail:
	e = errno;
	csv_ring_close(r);
	errno = e;
	return -1;
}

void csv_ring_close(struct csv_ring *r)
{
	if (r->sqes != NULL)
		munmap(r->sqes, r->sqeslen);
	if (r->sq != NULL)
		munmap(r->sq, r->sqlen);
	if (r->fd >= 0)
		close(r->fd);
	/* A ring that failed with reads under way may still write into its
	 * buffer after the close: it is left allocated, never reused. */
	if (!r->busy)
		free(r->buf);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

int csv_ring_read(struct csv_ring *r, int dfd, const char *const *names,
                  size_t n, int oflags)
{
	struct io_uring_sqe *sqes = r->sqes, *s;
	struct io_uring_cqe *cqes = r->cq;
	unsigned tail = *r->sqtail, head, want = 2 * (unsigned)n;
	int got;

	if (n == 0 || n > RING_N) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		s = &sqes[tail++ & r->sqmask];
		memset(s, 0, sizeof(*s));
		s->opcode = IORING_OP_OPENAT;
		s->fd = dfd;
		s->addr = (uint64_t)(uintptr_t)names[i];
		s->open_flags = (uint32_t)oflags;
		s->file_index = (uint32_t)i + 1;     /* slot i, 1-based here */
		s->flags = IOSQE_IO_LINK;            /* no read if it fails */
		s->user_data = 2 * i;
		r->open_res[i] = r->read_res[i] = -ECANCELED;

		s = &sqes[tail++ & r->sqmask];
		memset(s, 0, sizeof(*s));
		s->opcode = IORING_OP_READ;
		s->fd = (int)i;                      /* slot i */
		s->flags = IOSQE_FIXED_FILE;
		s->addr = (uint64_t)(uintptr_t)(r->buf + i * RING_SLOT);
		s->len = RING_SLOT;
		s->off = 0;
		s->rw_flags = RWF_NOWAIT;
		s->user_data = 2 * i + 1;
	}
	__atomic_store_n(r->sqtail, tail, __ATOMIC_RELEASE);

	/* Submit all, and wait until every submitted entry has completed:
	 * each posts exactly one completion (a read after a failed open
	 * too, as -ECANCELED).  A signal may end a wait early; the
	 * completions still come.  The wait counts every completion not yet
	 * taken, so it is always for all of them. */
	got = enter(r->fd, want, want);
	if (got < 0)
		return -1;     /* nothing was submitted */
	head = *r->cqhead;
	while (__atomic_load_n(r->cqtail, __ATOMIC_ACQUIRE) - head < (unsigned)got)
		if (enter(r->fd, 0, (unsigned)got) < 0 && errno != EINTR) {
			/* Reads may still land in r->buf: csv_ring_close must
			 * not free it. */
			r->busy = 1;
			return -1;
		}
	if ((unsigned)got != want) {
		errno = EIO;   /* SUBMIT_ALL: not expected; give the ring up */
		return -1;
	}
	for (unsigned k = 0; k < want; k++) {
		const struct io_uring_cqe *c = &cqes[(head + k) & r->cqmask];
		uint64_t ud = c->user_data;

		if (ud < want) {
			if (ud % 2 == 0)
				r->open_res[ud / 2] = c->res;
			else
				r->read_res[ud / 2] = c->res;
		}
	}
	__atomic_store_n(r->cqhead, head + want, __ATOMIC_RELEASE);
	return 0;
}

#else /* no io_uring here: every record is read the ordinary way */

int csv_ring_open(struct csv_ring *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	errno = ENOSYS;
	return -1;
}

void csv_ring_close(struct csv_ring *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

int csv_ring_read(struct csv_ring *r, int dfd, const char *const *names,
                  size_t n, int oflags)
{
	(void)r;
	(void)dfd;
	(void)names;
	(void)n;
	(void)oflags;
	errno = ENOSYS;
	return -1;
}

#endif
