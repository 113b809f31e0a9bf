/*
 * stats.h: instances' resource usage as libvirt measures it (CPU time,
 * memory, network counters), for GET /v1/instances/{ref}/stats and the
 * per-instance series of GET /metrics. The libvirt calls run on the thread
 * pool; sampling waits on a loop timer, never on a thread.
 */
#ifndef STATS_H
#define STATS_H

#include "daemon.h"
#include "http.h"

/* Longest CPU sample a stats request may ask for (?sample_ms). */
#define STATS_SAMPLE_MAX_MS 10000
#define STATS_SAMPLE_DEFAULT_MS 1000

/*
 * GET /v1/instances/{ref}/stats: reads the counters, waits sample_ms, reads
 * them again and answers with both CPU time and CPU % over the sample
 * (sample_ms 0: one reading, no percentage). 409 if the instance does not run.
 */
void stats_instance(struct daemon *d, struct http_req *req, const char *ref, int sample_ms);

/* GET /metrics: the health monitor's series plus libvirt's counters per instance. */
void stats_metrics(struct daemon *d, struct http_req *req);

#endif
