/*
 * accepted.h — for the record and handler harnesses: keep every input the
 * code under test accepted as JSON, so that a second, strict JSON parser
 * can read it (issue 12.6: whatever calltrail accepts, any RFC 8259
 * parser must read).
 *
 * With CT_FUZZ_ACCEPTED=DIR in the environment, fuzz_accepted() writes
 * the input to DIR/HARNESS-HASH.json (one file per distinct input);
 * without it, it does nothing.  t/fuzz-regress.sh sets it for the replay
 * programs and hands DIR to Python's json module (t/fuzz-strict.py);
 * scripts/fuzz.sh does the same with each harness's final corpus.  A
 * file that cannot be written aborts: a property that silently checked
 * nothing would be worse than none.
 */
#ifndef CT_FUZZ_ACCEPTED_H
#define CT_FUZZ_ACCEPTED_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void
fuzz_accepted(const char *harness, const uint8_t *data, size_t size)
{
	const char *dir = getenv("CT_FUZZ_ACCEPTED");
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a: a name, not security */
	char path[4096];
	int fd;

	if (dir == NULL || *dir == '\0')
		return;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ULL;
	if (snprintf(path, sizeof(path), "%s/%s-%016llx.json", dir, harness,
	             (unsigned long long)h) >= (int)sizeof(path) ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "fuzz: cannot write an accepted input to %s\n", dir);
		abort();
	}
	if (write(fd, data, size) != (ssize_t)size || close(fd) != 0) {
		fprintf(stderr, "fuzz: writing %s failed\n", path);
		abort();
	}
}

#endif
