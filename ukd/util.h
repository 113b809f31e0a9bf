/*
 * util.h: small helpers the daemon's modules share: time, random ids,
 * growable strings, directory trees.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (wall clock, for records). */
int64_t util_now_ms(void);

/* Formats ms since the epoch as RFC 3339 UTC with milliseconds into buf (>= 32 bytes). */
void util_time_str(int64_t ms, char *buf, size_t len);

/* Fills hex (2*n+1 bytes) with n random bytes from getrandom, hex encoded. Returns 0 or -errno. */
int util_random_hex(char *hex, size_t n);

/* A random (version 4) UUID string, 36 characters plus NUL. Returns 0 or -errno. */
int util_random_uuid(char out[37]);

/* Returns 1 if s is exactly len lowercase hex digits, else 0. */
int util_is_hex(const char *s, size_t len);

/* A growable, always NUL-terminated string. A failed append sets oom and keeps the rest. */
struct util_buf {
	char *s;
	size_t len, cap;
	int oom;
};

void util_buf_add(struct util_buf *b, const void *data, size_t len);
void util_buf_puts(struct util_buf *b, const char *s);
__attribute__((format(printf, 2, 3))) void util_buf_printf(struct util_buf *b, const char *fmt,
							   ...);
/* Appends s with the five XML special characters escaped. */
void util_buf_xml(struct util_buf *b, const char *s);
void util_buf_free(struct util_buf *b);

/*
 * snprintf for paths: returns 0, or -ENAMETOOLONG (buf then holds "") if the
 * result did not fit. Root directories are bounded at startup, so callers
 * treat a failure as an internal error.
 */
__attribute__((format(printf, 3, 4))) int util_pathf(char *buf, size_t len, const char *fmt, ...);

/* mkdir with mode, succeeding if it is already a directory. Returns 0 or -errno. */
int util_mkdir(const char *path, unsigned mode);

/* Removes a directory tree without following symlinks. Returns 0 or -errno. */
int util_rmtree(const char *path);

/* fsyncs the directory holding path (after a rename into it). Returns 0 or -errno. */
int util_sync_parent(const char *path);

struct json_t; /* jansson's json_t */

/*
 * Returns the first key of the JSON object obj that is not among the n
 * strings of known, or NULL if every key is known.
 */
const char *util_json_known_keys(struct json_t *obj, const char *const *known, size_t n);

#endif
