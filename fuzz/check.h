/*
 * check.h — for every harness: CHECK(c, what) aborts, naming the harness's
 * file, the property (what) and the condition, when c is false, so the
 * fuzzer records the input that broke it (scripts/fuzz.sh greps the
 * "invariant broken" line).
 */
#ifndef CT_FUZZ_CHECK_H
#define CT_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c, what) do { if (!(c)) { \
	fprintf(stderr, "%s: invariant broken: %s (%s)\n", __FILE__, what, #c); \
	abort(); } } while (0)

#endif /* CT_FUZZ_CHECK_H */
