/*
 * logtime.h: when an instance's console bytes were written, so that logs can
 * be asked for `since` a time, and where the rotated log begins.
 *
 * Offsets here are a run's console offsets: bytes since the run's first
 * console byte, counted across rotations (ukd/consolelog.h). The index,
 * ROOT/instances/ID/console.idx, is text:
 *
 *   base B     (first line, optional) console.log's first byte is offset B;
 *              console.log.1 holds the bytes just before it
 *   MS OFF     the run had written OFF bytes at MS (ms since the epoch)
 *
 * ukd (consolelog.c) appends "MS OFF" at most every LOGTIME_PERIOD_MS while
 * the log grows, so a byte is known to have been written within
 * LOGTIME_PERIOD_MS of the time recorded after it. Its size is bounded: at
 * every rotation, and whenever it outgrows LOGTIME_IDX_MAX, the index is
 * rewritten (a new file renamed over the old) without the entries of bytes
 * no longer on disk; the newest entries stay, older ones are thinned (every
 * other one dropped, as often as needed) to fit: older times get coarser,
 * and a lookup may start earlier, never later. Everything here runs on the daemon's loop thread.
 */
#ifndef LOGTIME_H
#define LOGTIME_H

#include <stdint.h>

#define LOGTIME_PERIOD_MS 50
#define LOGTIME_IDX_MAX (64u << 10)

/*
 * The base offset of the run's console.log in instance directory dir (the
 * "base" line of console.idx; 0 without one).
 */
long long logtime_base(const char *dir);

/* Appends "ms off" to the open index fd. Returns the bytes written or -errno. */
int logtime_append(int fd, int64_t ms, long long off);

/*
 * Rewrites dir's index with the base line `base` and the entries whose
 * offset is at least `oldest` (thinned as logtime.h says), and returns a
 * new append-only fd for it (the old fd is closed by the caller), or -errno.
 */
int logtime_rewrite(const char *dir, long long base, long long oldest);

/*
 * The offset in the instance's console (in instance directory dir) from
 * which on the bytes were written at or after since_ms: the offset recorded
 * last before since_ms (0 if none). May start a little early, never late.
 */
long long logtime_offset(const char *dir, int64_t since_ms);

#endif
