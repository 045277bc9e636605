/*
 * tap.h — the smallest TAP producer that does the job (names after
 * c-tap-harness).  Header-only: each test program includes it once.
 *
 *   plan(n); ok(cond, "what"); is_int(want, got, "what");
 *   is_str(want, got, "what"); diag("fmt", ...); return done();
 */
#ifndef CT_TAP_H
#define CT_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned;

static void plan(int n) { tap_planned = n; printf("1..%d\n", n); fflush(stdout); }

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputs("\n", stdout);
	va_end(ap);
	fflush(stdout);
}

static int okv(int cond, const char *fmt, va_list ap)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	fputs("\n", stdout);
	fflush(stdout);
	return cond;
}

static int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	okv(cond, fmt, ap);
	va_end(ap);
	return cond;
}

static int is_int(long long want, long long got, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), unused));
static int is_int(long long want, long long got, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	okv(want == got, fmt, ap);
	va_end(ap);
	if (want != got)
		diag("  wanted: %lld\n#      got: %lld", want, got);
	return want == got;
}

static int is_str(const char *want, const char *got, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), unused));
static int is_str(const char *want, const char *got, const char *fmt, ...)
{
	int same = (want == NULL && got == NULL) ||
	           (want && got && strcmp(want, got) == 0);
	va_list ap;
	va_start(ap, fmt);
	okv(same, fmt, ap);
	va_end(ap);
	if (!same)
		diag("  wanted: %s\n#      got: %s", want ? want : "(null)",
		     got ? got : "(null)");
	return same;
}

/* Exit status for main(): non-zero when any test failed or the count is off. */
static int done(void) __attribute__((unused));
static int done(void)
{
	if (tap_planned && tap_n != tap_planned)
		diag("planned %d tests but ran %d", tap_planned, tap_n);
	return tap_failed || (tap_planned && tap_n != tap_planned);
}

#endif
