/*
 * since.h: the one parser of `since` times (GET .../logs?since=T, ukctl logs
 * --since T). Pure; fuzzed by tests/fuzz/fuzz_since.c.
 */
#ifndef SINCE_H
#define SINCE_H

#include <stdint.h>

/*
 * Parses s into ms since the epoch: RFC 3339 ("2024-05-01T10:00:00Z",
 * fractions and +HH:MM offsets allowed), a duration before now_ms ("10m",
 * "1h30m", "90s", "500ms", "2d"), or unix seconds ("1714557600",
 * "1714557600.5"). Returns 0 or -EINVAL.
 */
int since_parse(const char *s, int64_t now_ms, int64_t *out);

#endif
