/*
 * console.h: reading an instance's console log (the guest's COM1). ukd
 * writes it (ukd/consolelog.h) as ROOT/instances/ID/console.log, rotated
 * to console.log.1; offsets are the run's console offsets (logtime.h), so a
 * reader goes on across rotations. The guest is untrusted: the log is read
 * in bounded pieces and its content is only ever matched, never interpreted.
 * Functions take the instance directory.
 */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <stddef.h>

/* The most of a log's end that console_tail returns. */
#define CONSOLE_TAIL_MAX (4u << 20)

/*
 * Finds the status in the last "exit status N" line among the log's last
 * 64 KiB (the runtime prints it just before powering off). Returns 1 and sets
 * *status, 0 if there is none, or -errno.
 */
int console_exit_status(const char *dir, int *status);

/*
 * The last lines of the log (all if lines < 0), with '\r' removed, at most
 * CONSOLE_TAIL_MAX bytes; *out is malloc'd and NUL-terminated. *end (if not
 * NULL) is the offset just past what was read, where a follower goes on. A
 * missing log is empty. Returns 0 or -errno.
 */
int console_tail(const char *dir, long lines, char **out, size_t *len, long long *end);

/*
 * As console_tail, but only what the log holds from offset off on
 * (logtime.h finds it), starting at a line boundary: a line that began
 * before off is left out.
 */
int console_since(const char *dir, long long off, long lines, char **out, size_t *len,
		  long long *end);

/*
 * Reads what the log holds from *off on (at most max bytes), '\r' removed,
 * and advances *off. Offsets before the oldest byte still on disk (rotated
 * away) go on from the oldest one; a log that ends before *off was replaced
 * by a new run's: reading restarts at 0. A missing log reads as empty.
 * Returns 0 or -errno; *out is malloc'd.
 */
int console_read_from(const char *dir, long long *off, size_t max, char **out, size_t *len);

/* Removes '\r' and NUL bytes in place; returns the new length. */
size_t console_clean(char *s, size_t len);

#endif
