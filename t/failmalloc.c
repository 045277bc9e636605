/*
 * failmalloc.c — see failmalloc.h.  Link it into a test program (its
 * SOURCES) to replace the allocator of that program only.
 */
#include <stddef.h>

#include "failmalloc.h"

#if defined(__SANITIZE_ADDRESS__)
# define FM_OFF 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define FM_OFF 1
# endif
#endif

#ifdef FM_OFF
int failmalloc_available(void) { return 0; }
void failmalloc_fail_at(long n) { (void)n; }
int failmalloc_fired(void) { return 0; }
long failmalloc_live(void) { return 0; }
#else
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* glibc's own allocator, which the replacements forward to. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

/* Tests are single-threaded where they arm a failure; the counters are
 * plain longs updated with the compiler's atomics so that a library
 * thread (libcurl's resolver) cannot tear them. */
static long countdown, fired, live;

int failmalloc_available(void) { return 1; }

void
failmalloc_fail_at(long n)
{
	if (n > 0)
		__atomic_store_n(&fired, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&countdown, n, __ATOMIC_SEQ_CST);
}

int failmalloc_fired(void) { return (int)__atomic_load_n(&fired, __ATOMIC_SEQ_CST); }
long failmalloc_live(void) { return __atomic_load_n(&live, __ATOMIC_SEQ_CST); }

/* The test program's own text: calltrail's code is linked in statically,
 * the libraries (libc, json-c, OpenSSL, libcurl) are shared objects. */
extern char __executable_start, etext;

/* Should this allocation, called from ra, fail?  Only calltrail's own
 * allocations are failed: its error paths are what the tests prove.  A
 * library's are not (json-c 0.16 crashes when its own strdup fails
 * inside json_tokener_parse, which is json-c's to fix). */
static int
fail(const void *ra)
{
	long c = __atomic_load_n(&countdown, __ATOMIC_SEQ_CST);

	if (c <= 0)
		return 0;
	if ((const char *)ra < &__executable_start || (const char *)ra >= &etext)
		return 0;
	if (__atomic_sub_fetch(&countdown, 1, __ATOMIC_SEQ_CST) != 0)
		return 0;
	__atomic_store_n(&fired, 1, __ATOMIC_SEQ_CST);
	return 1;
}

/* The one allocating path, for a call from ra: fail when armed, else
 * count what glibc gives (calloc's a * b when zero is set). */
static void *
take(const void *ra, size_t a, size_t b, int zero)
{
	void *p;

	if (fail(ra)) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = zero ? __libc_calloc(a, b) : __libc_malloc(a)) != NULL)
		__atomic_add_fetch(&live, 1, __ATOMIC_SEQ_CST);
	return p;
}

void *
malloc(size_t n)
{
	return take(__builtin_return_address(0), n, 0, 0);
}

void *
calloc(size_t a, size_t b)
{
	return take(__builtin_return_address(0), a, b, 1);
}

void *
realloc(void *old, size_t n)
{
	if (old == NULL)
		return take(__builtin_return_address(0), n, 0, 0);
	if (n == 0) {
		free(old);
		return NULL;
	}
	if (fail(__builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(old, n);
}

char *
strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = take(__builtin_return_address(0), n, 0, 0);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

char *
strndup(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *p = take(__builtin_return_address(0), n + 1, 0, 0);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void
free(void *p)
{
	if (p == NULL)
		return;
	__atomic_sub_fetch(&live, 1, __ATOMIC_SEQ_CST);
	__libc_free(p);
}
#endif
