/*
 * events.h: GET /v1/events, the store's append-only event log as JSON lines
 * (application/x-ndjson), one object per event, oldest first:
 *   {"id":12,"time":"2026-01-01T10:00:00.000Z","type":"instance.exited",
 *    "subject":"ID","name":"web","detail":"status 1; restart in 100 ms"}
 * Query: since=ID (events after that id, to resume a stream) or
 * since=TIME (RFC 3339 UTC, or a duration ago: 30s, 10m, 2h, 1d);
 * instance=REF (one instance's events); follow=1 (a chunked stream that
 * stays open and carries new events as they are recorded).
 */
#ifndef EVENTS_H
#define EVENTS_H

#include <stdint.h>

#include "daemon.h"
#include "http.h"

/*
 * Parses a since= value (API input) at time now_ms: sets *after (an event
 * id: all digits) or *since_ms (ms since the epoch: anything since_parse
 * takes, as for the logs); the other is left 0. 0 or -EINVAL.
 */
int events_parse_since(const char *s, int64_t now_ms, int64_t *after, int64_t *since_ms);

/* Answers GET /v1/events (req). */
void events_api_get(struct daemon *d, struct http_req *req);

#endif
