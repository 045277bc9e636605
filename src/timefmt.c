/*
 * timefmt.c — RFC 3339 time stamps in and out.  Times are int64
 * microseconds since the epoch, UTC.  Civil dates are converted with
 * Howard Hinnant's days_from_civil, so no timegm()/TZ state is involved
 * and every year 0001..9999 works the same.
 */
#include <stdio.h>
#include <string.h>

#include "calltrail.h"
#include "ct_time.h"

int64_t
ct_time_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
days_from_civil(int y, int m, int d)
{
	int era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z */
#define CT_TIME_MIN_US (-62135596800LL * 1000000)
#define CT_TIME_MAX_US (253402300800LL * 1000000)

static int
mdays(int y, int m)
{
	static const int n[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : n[m - 1];
}

/* Read exactly n digits. */
static int
digits(const char **s, int n, int *v)
{
	*v = 0;
	while (n--) {
		if (**s < '0' || **s > '9')
			return -1;
		*v = *v * 10 + (**s - '0');
		(*s)++;
	}
	return 0;
}

int
ct_time_parse(const char *s, int64_t *us)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0, scale = 100000;
	int nfrac = 0;

	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) ||
	    *s++ != '-' || digits(&s, 2, &d))
		return CT_ERR_INPUT;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return CT_ERR_INPUT;
	s++;
	if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) ||
	    *s++ != ':' || digits(&s, 2, &sec))
		return CT_ERR_INPUT;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			if (++nfrac > 9)
				return CT_ERR_INPUT;
			frac += (*s - '0') * scale;
			scale /= 10;
			s++;
		}
		if (nfrac == 0)
			return CT_ERR_INPUT;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) ||
		    oh > 23 || om > 59)
			return CT_ERR_INPUT;
	}
	if (*s != '\0')
		return CT_ERR_INPUT;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays(y, mo) ||
	    h > 23 || mi > 59 || sec > 59)
		return CT_ERR_INPUT;
	*us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
	       sign * (oh * 3600 + om * 60)) * 1000000 + frac;
	/* The offset can carry an instant out of 0001..9999 in UTC, where
	 * every calltrail date (keys, CSV) is written with four digits. */
	if (*us < CT_TIME_MIN_US || *us >= CT_TIME_MAX_US)
		return CT_ERR_INPUT;
	return CT_OK;
}

/* Split us into civil fields, flooring so times before 1970 work too. */
static void
split(int64_t us, int *y, int *mo, int *d, int *h, int *mi, int *s, int *ms)
{
	int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
	int64_t rem = us - secs * 1000000;
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t sod = secs - days * 86400;

	civil_from_days(days, y, mo, d);
	*h = (int)(sod / 3600);
	*mi = (int)(sod / 60 % 60);
	*s = (int)(sod % 60);
	*ms = (int)(rem / 1000);
}

/* v (0 <= v < 10^w) in w digits at p; returns p + w. */
static char *
putdigits(char *p, int v, int w)
{
	for (int i = w - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + w;
}

void
ct_time_format_ms(int64_t us, char out[CT_TIMELEN])
{
	int y, mo, d, h, mi, s, ms;
	char *p = out;

	split(us, &y, &mo, &d, &h, &mi, &s, &ms);
	if (y < 0 || y > 9999) {
		snprintf(out, CT_TIMELEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		         y, mo, d, h, mi, s, ms);
		return;
	}
	/* Once per token and per log line: digits by hand, not snprintf. */
	p = putdigits(p, y, 4);
	*p++ = '-';
	p = putdigits(p, mo, 2);
	*p++ = '-';
	p = putdigits(p, d, 2);
	*p++ = 'T';
	p = putdigits(p, h, 2);
	*p++ = ':';
	p = putdigits(p, mi, 2);
	*p++ = ':';
	p = putdigits(p, s, 2);
	*p++ = '.';
	p = putdigits(p, ms, 3);
	*p++ = 'Z';
	*p = '\0';
}

void
ct_time_day(int64_t us, char out[11])
{
	int y, mo, d, h, mi, s, ms;

	char *p = out;

	/* Once per record in the CSV and the exporter: digits by hand, as
	 * ct_time_format_ms (snprintf was ~1,700 instructions a call). */
	split(us, &y, &mo, &d, &h, &mi, &s, &ms);
	p = putdigits(p, (int)((unsigned)y % 10000u), 4);
	*p++ = '-';
	p = putdigits(p, mo, 2);
	*p++ = '-';
	p = putdigits(p, d, 2);
	*p = '\0';
}
