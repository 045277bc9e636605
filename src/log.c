/* log.c — one line per event on stderr, each written by a single write(2)
 * so that the lines of several worker processes never interleave:
 *   2025-10-29T18:04:05.123Z calltrail-token[4242]: MESSAGE
 * Only masked emails ever reach a log (ct_email_mask). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "calltrail.h"
#include "ct_time.h"

static const char *progname = "calltrail";
/* getpid(2) once per process, not once per line: a forked child learns
 * its own at the fork. */
static long pid;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
forked(void)
{
	pid = (long)getpid();
}

static void
pid_init(void)
{
	pid = (long)getpid();
	pthread_atfork(NULL, NULL, forked);
}

void
ct_log_init(const char *name)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
}

/* This thread's held lines (ct_log_hold). */
static _Thread_local struct {
	int on;
	size_t len;
	char buf[CT_LOG_HELD];
} held;

void
ct_log_hold(void)
{
	held.on = 1;
}

void
ct_log_flush(void)
{
	if (held.len > 0)
		(void)!write(STDERR_FILENO, held.buf, held.len);
	held.len = 0;
}

void
ct_vlog(const char *fmt, va_list ap)
{
	char line[2048], ts[CT_TIMELEN];
	int n, m;

	pthread_once(&once, pid_init);
	ct_time_format_ms(ct_time_now_us(), ts);
	n = snprintf(line, sizeof(line), "%s %s[%ld]: ", ts, progname, pid);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	/* A long message is cut, visibly, rather than split over lines. */
	if ((size_t)(n + m) >= sizeof(line) - 1) {
		memcpy(line + sizeof(line) - 5, "...", 3);
		n = (int)sizeof(line) - 2;
	} else {
		n += m;
	}
	line[n++] = '\n';
	if (!held.on) {
		(void)!write(STDERR_FILENO, line, (size_t)n);
		return;
	}
	if (held.len + (size_t)n > sizeof held.buf)
		ct_log_flush();
	memcpy(held.buf + held.len, line, (size_t)n);
	held.len += (size_t)n;
}

void
ct_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ct_vlog(fmt, ap);
	va_end(ap);
}

void
ct_email_mask(const char *email, char *out, size_t outsz)
{
	const char *at;
	size_t o = 0;

	if (outsz < 8) {
		if (outsz)
			out[0] = '\0';
		return;
	}
	if (email == NULL || email[0] == '\0') {
		snprintf(out, outsz, "-");
		return;
	}
	at = strrchr(email, '@');
	if (at == NULL || at == email) {
		snprintf(out, outsz, "***");
		return;
	}
	/* The domain is a company's, not a person's: keep it for support.
	 * Bytes that could forge a log line are replaced. */
	out[o++] = (unsigned char)email[0] < 0x21 || email[0] == 0x7f ? '?' : email[0];
	memcpy(out + o, "***", 3);
	o += 3;
	for (; *at && o < outsz - 1; at++)
		out[o++] = (unsigned char)*at < 0x20 || *at == 0x7f ? '?' : *at;
	out[o] = '\0';
}
