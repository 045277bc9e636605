/*
 * driver.c — replays inputs through a libFuzzer harness without libFuzzer.
 *
 * Each harness (fuzz/fuzz-*.c) defines LLVMFuzzerTestOneInput and maybe
 * LLVMFuzzerInitialize.  Linked with clang's -fsanitize=fuzzer they are
 * fuzzers (scripts/fuzz.sh); linked with this main() by any C compiler
 * they replay the files named on the command line, so the seed corpora
 * and every input that once crashed run in `make check` (t/fuzz-regress.sh)
 * and stay fixed.
 *
 * Usage: replay-HARNESS FILE|DIR...   (a directory: every regular file in
 * it).  Exits 0 when every input ran; a broken invariant aborts, as it
 * would under the fuzzer; 2 when an input cannot be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The biggest input any harness is fuzzed with is 64 KiB; leave room. */
#define INPUT_MAX (4L * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int
runfile(const char *path)
{
	FILE *f;
	uint8_t *buf;
	long n;
	int rc = 2;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 2;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > INPUT_MAX ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "%s: cannot size it (or over %ld bytes)\n", path, INPUT_MAX);
		goto out;
	}
	/* Exactly n bytes, not NUL-terminated, as libFuzzer gives them: a
	 * sanitizer build sees any read past the end. */
	if ((buf = malloc(n ? (size_t)n : 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "%s: read failed\n", path);
		free(buf);
		goto out;
	}
	fprintf(stderr, "replay %s (%ld bytes)\n", path, n);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	rc = 0;
out:
	fclose(f);
	return rc;
}

static int
rundir(const char *dir)
{
	struct dirent **ents;
	char path[4096];
	int i, n, rc = 0;
	struct stat st;

	/* Sorted, so a run is the same run every time. */
	if ((n = scandir(dir, &ents, NULL, alphasort)) < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 2;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    runfile(path) != 0)
			rc = 2;
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int
main(int argc, char **argv)
{
	struct stat st;
	int i, rc = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (rundir(argv[i]) != 0)
				rc = 2;
		} else if (runfile(argv[i]) != 0) {
			rc = 2;
		}
	}
	return rc;
}
