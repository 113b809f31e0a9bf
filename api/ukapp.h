/*
 * ukapp.h: what an application may tell the ukd health monitor. Link the
 * small static library libukapp.a (api/ukapp.c) and call these from anywhere;
 * they are thread-safe.
 *
 * Inside a ukd unikernel each call is one write to /dev/health, which the
 * runtime's health agent turns into health-protocol frames (api/ukhealth.h):
 * readiness at once, metrics with the next heartbeat, and from there in
 * GET /v1/instances/{id}/health and ukd's /metrics. Run natively on Linux
 * there is no /dev/health: every call is a no-op that returns 0, so the same
 * binary works (and is debugged) as an ordinary process.
 *
 * Every function returns 0, or a negative errno: -EINVAL for a malformed
 * name or reason, -ENOSPC when UKAPP_METRICS_MAX names are in use.
 */
#ifndef UKAPP_H
#define UKAPP_H

#include <stdint.h>

#define UKAPP_METRICS_MAX 16	 /* distinct metric names per instance */
#define UKAPP_METRIC_NAME_MAX 32 /* bytes; [A-Za-z_:][A-Za-z0-9_:]* */
#define UKAPP_REASON_MAX 200	 /* bytes of printable ASCII; longer is cut */

/* The application is ready to serve (also implied by listening on the manifest's port). */
int ukapp_ready(void);
/* The application cannot serve now, for `reason` (may be NULL). */
int ukapp_not_ready(const char *reason);
/* Sets the metric `name` to value. */
int ukapp_metric_set(const char *name, int64_t value);
/* Adds delta to the metric `name` (created at 0); wraps around at 64 bits. */
int ukapp_metric_add(const char *name, int64_t delta);

#endif
