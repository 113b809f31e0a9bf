/*
 * log.h: the daemon's log. One line per message, with a UTC timestamp and
 * the level, to stderr (or the file given to log_open). Safe to call from
 * any thread: each line is one stdio call, which stdio locks.
 */
#ifndef LOG_H
#define LOG_H

#include <stdio.h>

enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* Parses "error", "warn", "info" or "debug". Returns the level, or -EINVAL. */
int log_level_parse(const char *s);

/* Messages above level are dropped. Default: LOG_INFO. */
void log_set_level(enum log_level level);

/* Sends the log to f from now on (the caller keeps f open); NULL = stderr. */
void log_set_file(FILE *f);

__attribute__((format(printf, 2, 3))) void log_msg(enum log_level level, const char *fmt, ...);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
