/*
 * since.c: see since.h. Hostile input (an API query): every field is
 * bounded, every number checked before it can overflow.
 */
#define _GNU_SOURCE
#include "since.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* n digits at *p into *v; advances *p. */
static int since_digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		*v = *v * 10 + (**p - '0');
	}
	return 0;
}

/* Milliseconds of a ".123..." fraction at *p (none: 0); advances *p. */
static int64_t since_fraction(const char **p)
{
	int64_t ms = 0, scale = 100;

	if (**p != '.')
		return 0;
	for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, scale /= 10)
		ms += (**p - '0') * scale;
	return ms;
}

static int since_rfc3339(const char *s, int64_t *out)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, oh, om, sign;
	int64_t ms, t;
	const char *p = s;

	if (since_digits(&p, 4, &y) || *p++ != '-' || since_digits(&p, 2, &mo) || *p++ != '-' ||
	    since_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return -EINVAL;
	p++;
	if (since_digits(&p, 2, &h) || *p++ != ':' || since_digits(&p, 2, &mi) || *p++ != ':' ||
	    since_digits(&p, 2, &sec))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	ms = since_fraction(&p);
	if (*p == 'Z' || *p == 'z') {
		oh = om = 0;
		sign = 1;
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (since_digits(&p, 2, &oh) || *p++ != ':' || since_digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	*out = (t - sign * (oh * 3600 + om * 60)) * 1000 + ms;
	return 0;
}

/* "1h30m", "10m", "90s", "500ms", "2d": a duration in ms. */
static int since_duration(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	int64_t total = 0;

	if (!*s)
		return -EINVAL;
	while (*s) {
		int64_t n = 0;
		size_t u, len;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++)
			if ((n = n * 10 + (*s - '0')) > 1000000000)
				return -EINVAL;
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			len = strlen(units[u].unit);
			/* "ms" is tried before "m", so 5ms is never 5 minutes and "s". */
			if (!strncmp(s, units[u].unit, len))
				break;
		}
		if (u == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		s += len;
		total += n * units[u].ms;
	}
	*out = total;
	return 0;
}

int since_parse(const char *s, int64_t now_ms, int64_t *out)
{
	const char *p = s;
	int64_t secs = 0, dur;

	if (!*s || strlen(s) > 64)
		return -EINVAL;
	/* Unix seconds: digits, an optional fraction, nothing else. */
	for (; *p >= '0' && *p <= '9'; p++)
		if ((secs = secs * 10 + (*p - '0')) > 100000000000LL)
			return -EINVAL;
	if (p != s && (!*p || *p == '.')) {
		int64_t ms = since_fraction(&p);

		if (*p)
			return -EINVAL;
		*out = secs * 1000 + ms;
		return 0;
	}
	if (since_rfc3339(s, out) == 0)
		return 0;
	if (since_duration(s, &dur) == 0) {
		*out = now_ms - dur;
		return 0;
	}
	return -EINVAL;
}
