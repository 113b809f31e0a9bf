/*
 * logtime.h: when an instance's console bytes were written, so that logs can
 * be asked for `since` a time.
 *
 * QEMU writes the console log itself (ukd/console.h), so its lines carry no
 * timestamps. ukd watches each running instance's directory (inotify,
 * through libuv) and, at most every LOGTIME_PERIOD_MS while the log grows,
 * appends "MS SIZE" to ROOT/instances/ID/console.idx: the log held SIZE bytes
 * at MS (ms since the epoch). A byte is then known to have been written
 * within LOGTIME_PERIOD_MS of the time recorded after it. Output written
 * while ukd was not running is dated when ukd next sees the log grow.
 */
#ifndef LOGTIME_H
#define LOGTIME_H

#include <stdint.h>

#include "daemon.h"

#define LOGTIME_PERIOD_MS 50

/*
 * Starts recording the instance's console log times. fresh: a new run, whose
 * new log starts a new index. Returns 0 or -errno (logs then lack times).
 */
int logtime_watch(struct daemon *d, const char *id, int fresh);

/* Records the log's final size and stops watching (the run ended). */
void logtime_unwatch(struct daemon *d, const char *id);

/* Stops every watch (daemon shutdown). */
void logtime_close_all(struct daemon *d);

/*
 * The offset in the instance's console log (in instance directory dir) from
 * which on the bytes were written at or after since_ms: the size recorded
 * last before since_ms (0 if none). May start a little early, never late.
 */
long long logtime_offset(const char *dir, int64_t since_ms);

#endif
