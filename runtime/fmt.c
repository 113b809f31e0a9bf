/* fmt.c: a small vsnprintf; see fmt.h for what it supports. */
#include "fmt.h"

#include <stdint.h>

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, int upper, int neg, int width,
		    char pad, int left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	int total = n;

	for (; !left && total < width; total++)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
	for (; left && total < width; total++)
		put(o, ' ');
}

static void put_str(struct out *o, const char *s, int prec, int width, int left)
{
	int n = 0;

	if (!s)
		s = "(null)";
	while ((prec < 0 || n < prec) && s[n])
		n++;
	for (int i = n; !left && i < width; i++)
		put(o, ' ');
	for (int i = 0; i < n; i++)
		put(o, s[i]);
	for (int i = n; left && i < width; i++)
		put(o, ' ');
}

static uint64_t get_arg(va_list *ap, int lng, int sgn, int *neg)
{
	int64_t s;

	*neg = 0;
	if (!sgn)
		return lng ? va_arg(*ap, uint64_t) : va_arg(*ap, unsigned);
	s = lng ? va_arg(*ap, int64_t) : va_arg(*ap, int);
	if (s < 0) {
		*neg = 1;
		return -(uint64_t)s;
	}
	return (uint64_t)s;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};
	va_list aq;

	va_copy(aq, ap);
	for (; *fmt; fmt++) {
		int lng = 0, width = 0, prec = -1, left = 0, neg;
		char pad = ' ';
		uint64_t v;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		for (; *fmt == '0' || *fmt == '-'; fmt++)
			*fmt == '0' ? (pad = '0') : (left = 1);
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		if (fmt[0] == '.' && fmt[1] == '*') {
			prec = va_arg(aq, int);
			fmt += 2;
		}
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng = 1;
		switch (*fmt) {
		case 'd':
		case 'i':
			v = get_arg(&aq, lng, 1, &neg);
			put_num(&o, v, 10, 0, neg, width, pad, left);
			break;
		case 'u':
			v = get_arg(&aq, lng, 0, &neg);
			put_num(&o, v, 10, 0, 0, width, pad, left);
			break;
		case 'x':
		case 'X':
			v = get_arg(&aq, lng, 0, &neg);
			put_num(&o, v, 16, *fmt == 'X', 0, width, pad, left);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uintptr_t)va_arg(aq, void *), 16, 0, 0, width, pad, left);
			break;
		case 's': put_str(&o, va_arg(aq, const char *), prec, width, left); break;
		case 'c': put(&o, (char)va_arg(aq, int)); break;
		case '%': put(&o, '%'); break;
		default:
			put(&o, '%');
			if (!*fmt)
				goto out;
			put(&o, *fmt);
		}
	}
out:
	va_end(aq);
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
