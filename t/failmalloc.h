/*
 * failmalloc.h — allocation-failure injection for the unit tests
 * (jansson's test_chaos.c habit).  t/failmalloc.c replaces malloc,
 * calloc, realloc and free for the whole test program (glibc lets a
 * program replace them), so "the Nth allocation fails" reaches every
 * allocation calltrail's code makes on a path.
 *
 *   if (!failmalloc_available()) skip...;
 *   for (n = 1; ; n++) {
 *           long live = failmalloc_live();
 *           failmalloc_fail_at(n);           // the nth allocation from now fails
 *           rc = operation();
 *           failmalloc_fail_at(0);
 *           ...rc is CT_OK or CT_ERR_NOMEM, failmalloc_live() == live...
 *           if (!failmalloc_fired()) break;  // n was past the last allocation
 *   }
 *
 * Only allocations called from the test program's own code fail (the
 * library under test is linked in statically; libc, json-c, OpenSSL and
 * libcurl are shared objects and allocate undisturbed): malloc, calloc,
 * realloc, strdup and strndup.
 *
 * Under AddressSanitizer (which owns malloc itself) nothing is replaced
 * and failmalloc_available() is 0: those tests skip there and run in the
 * release build.
 */
#ifndef CT_FAILMALLOC_H
#define CT_FAILMALLOC_H

int failmalloc_available(void);
/* The nth allocation from now fails (1: the next one); 0: none fails. */
void failmalloc_fail_at(long n);
/* Did the failure armed by the last failmalloc_fail_at(n > 0) happen?
 * (Disarming with 0 keeps the answer.) */
int failmalloc_fired(void);
/* Blocks allocated and not yet freed (malloc, calloc, realloc of NULL). */
long failmalloc_live(void);

#endif
