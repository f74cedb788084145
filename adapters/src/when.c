/* when.c — RFC 3339 times, dates and Unix seconds → ms since the epoch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "deconf/err.h"
#include "intext.h"
#include "when.h"

static int fixed_digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's method). */
static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int time_fail(char *why, size_t why_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int time_fail(char *why, size_t why_size, const char *fmt, ...)
{
	va_list ap;

	if (why_size) {
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return DECONF_E_INVAL;
}

int adp_when_parse(const char *s, size_t len, int64_t *ms, char *why, size_t why_size)
{
	int y, mo, d, h = 0, mi = 0, se = 0, oh, om;
	int64_t secs, frac_ms = 0, off = 0;
	size_t i;

	adp_intext_trim(&s, &len);
	if (!len)
		return time_fail(why, why_size, "empty");
	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == len) {
		int64_t v = 0;

		if (len > 12)
			goto too_big;
		for (i = 0; i < len; i++)
			v = v * 10 + (s[i] - '0');
		if (v > ADP_WHEN_MAX_SECONDS)
			goto too_big;
		*ms = v * 1000;
		return 0;
	}
	if (len < 10 || !fixed_digits(s, 4, &y) || s[4] != '-' || !fixed_digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !fixed_digits(s + 8, 2, &d) || (len > 10 && !strchr("Tt ", s[10])))
		return time_fail(why, why_size,
				 "not a time: expected RFC 3339 (2026-11-01T12:00:00Z), "
				 "a date (2026-11-01) or Unix seconds");
	if (mo < 1 || mo > 12)
		return time_fail(why, why_size, "month %02d out of range", mo);
	if (d < 1 || d > days_in_month(y, mo))
		return time_fail(why, why_size, "day %02d out of range for %04d-%02d", d, y, mo);
	secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400;
	if (len > 10) {
		if (len < 19 || !fixed_digits(s + 11, 2, &h) || s[13] != ':' ||
		    !fixed_digits(s + 14, 2, &mi) || s[16] != ':' || !fixed_digits(s + 17, 2, &se))
			return time_fail(why, why_size, "expected the time of day as HH:MM:SS");
		if (h > 23)
			return time_fail(why, why_size, "hour %02d out of range", h);
		if (mi > 59)
			return time_fail(why, why_size, "minute %02d out of range", mi);
		if (se > 60)
			return time_fail(why, why_size, "second %02d out of range", se);
		i = 19;
		if (i < len && s[i] == '.') {
			size_t start = ++i;

			for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
				if (i - start < 3)
					frac_ms = frac_ms * 10 + (s[i] - '0');
			if (i == start)
				return time_fail(why, why_size, "expected digits after the decimal point");
			for (size_t k = i - start; k < 3; k++)
				frac_ms *= 10;
		}
		if (i == len)
			return time_fail(why, why_size,
					 "no time zone: add Z (UTC) or an offset like +02:00");
		if (s[i] == 'Z' || s[i] == 'z') {
			i++;
		} else if (s[i] == '+' || s[i] == '-') {
			if (len - i < 6 || !fixed_digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
			    !fixed_digits(s + i + 4, 2, &om))
				return time_fail(why, why_size, "expected the zone offset as +HH:MM");
			if (oh > 23 || om > 59)
				return time_fail(why, why_size, "zone offset out of range");
			off = (s[i] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
			i += 6;
		} else {
			return time_fail(why, why_size,
					 "expected Z or an offset like +02:00 after the time");
		}
		if (i != len)
			return time_fail(why, why_size, "unexpected text after the time zone");
		secs += h * 3600 + mi * 60 + se - off;
	}
	if (secs < 0)
		return time_fail(why, why_size, "before 1970");
	if (secs > ADP_WHEN_MAX_SECONDS)
		goto too_big;
	*ms = secs * 1000 + frac_ms;
	return 0;
too_big:
	return time_fail(why, why_size,
			 "out of range: Unix time in seconds expected (not milliseconds), "
			 "at most year 9999");
}
