/* log.c: timestamped, levelled log lines. */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

static enum log_level log_level = LOG_INFO;
static FILE *log_file;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *s)
{
	for (int i = LOG_ERROR; i <= LOG_DEBUG; i++)
		if (!strcmp(s, log_names[i]))
			return i;
	return -EINVAL;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

void log_set_file(FILE *f)
{
	log_file = f;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line, so lines from different threads never interleave. */
	fprintf(log_file ? log_file : stderr, "%s.%03ldZ ukd[%s]: %s\n", ts, now.tv_nsec / 1000000,
		log_names[level], line);
	fflush(log_file ? log_file : stderr);
}
