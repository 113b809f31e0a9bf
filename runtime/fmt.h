/* fmt.h: printf-style formatting for the console (no floating point). */
#ifndef FMT_H
#define FMT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Supports %d %i %u %x %X %p %s %c %% with the l, ll and z length
 * modifiers, a '0' or '-' flag, a field width and "%.*s". Always
 * NUL-terminates when size > 0; returns the length it wanted to write.
 */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
