/*
 * health.h: ukd's health monitor. One channel per running instance: ukd
 * listens on ROOT/instances/ID/health.sock and the guest's virtio-console
 * port HEALTH_PORT_NAME (QEMU's chardev, libvirt <channel type='unix'
 * mode='connect'> with reconnect; COM2 in domains of older ukds, on the same
 * path) connects to it. Bytes go through the checked reader of api/ukhealth.c;
 * what the guest reports (hello, heartbeats, readiness, metrics, panic,
 * exit) is kept in memory, per instance and bounded, and shown by
 * GET /v1/instances/{id}/health. Transitions (ready, unhealthy, panic) are
 * logged and appended to the store's event log.
 *
 * Why ukd listens and QEMU connects (not the reverse): a socket QEMU listens
 * on exists only once the domain runs, and bytes the guest writes before ukd
 * connects are lost; when ukd listens first, QEMU connects while libvirt
 * still sets the domain up, before the first guest instruction, so the hello
 * is never missed. After a ukd restart QEMU reconnects (every second) to the
 * new listener and ukd asks for a fresh hello with a ping.
 *
 * Hostile guests: the reader's memory is fixed (nothing a guest sends
 * allocates). Input is budgeted per instance and per second: past
 * HEALTH_RATE_FRAMES frames or HEALTH_RATE_BYTES bytes ukd stops reading the
 * channel until the next second (backpressure: QEMU stops taking bytes from
 * the guest, so a flood slows its sender only), and the guest's events
 * (ready, not-ready, panic) beyond HEALTH_RATE_EVENTS a second are counted,
 * not recorded. After cfg->health_violations protocol violations (reason
 * "protocol: ...") or HEALTH_FLOOD_WINDOWS seconds in a row over budget
 * (reason "flood: ...") the channel is closed, the instance is "unhealthy"
 * and ukd destroys it (instance_offender: exit_reason "health-abuse", a
 * failure for the restart policy). A hello with an unknown protocol version
 * closes the channel and marks it unhealthy, without destroying it. After
 * cfg->health_missed heartbeat intervals without a heartbeat it is
 * "unhealthy" (reason "missed heartbeats") until heartbeats resume.
 *
 * Everything runs on the daemon's loop thread.
 */
#ifndef UKD_HEALTH_H
#define UKD_HEALTH_H

#include <jansson.h>
#include <stddef.h>

#include "daemon.h"
#include "ukhealth.h"

#define HEALTH_VIOLATIONS_DEFAULT 16
#define HEALTH_MISSED_DEFAULT 3
/*
 * Per instance and second. A well-behaved guest sends at most 100 heartbeats
 * a second (HEALTH_INTERVAL_MIN_MS) of at most HEALTH_FRAME_MAX bytes.
 */
#define HEALTH_RATE_FRAMES 1000u
#define HEALTH_RATE_BYTES (1024u << 10)
#define HEALTH_RATE_EVENTS 5u	/* each is a synchronous store commit on the loop */
#define HEALTH_FLOOD_WINDOWS 5u /* seconds in a row over budget: a flood */

/* ROOT/instances/ID/health.sock into buf; -ENAMETOOLONG if it does not fit a unix socket. */
int health_socket_path(struct daemon *d, const char *id, char *buf, size_t len);

/*
 * Starts a fresh watch of the instance's channel (listening socket created,
 * earlier state dropped), for a domain about to start; `adopted`: the domain
 * already runs (ukd restarted), so ask it to say hello again. 0 or -errno.
 */
int health_watch(struct daemon *d, const char *id, const char *image_id, int adopted);

/*
 * The heartbeat interval the guest was told (uk.heartbeat=) after
 * health_watch; 0 is the runtime's default. Missed-heartbeat detection
 * scales with it: unhealthy after --health-missed intervals without one.
 */
void health_set_interval(struct daemon *d, const char *id, uint32_t interval_ms);

/*
 * Reads whatever the guest already wrote (synchronously), then closes the
 * channel; what the guest reported stays readable. For a domain that ended.
 */
void health_unwatch(struct daemon *d, const char *id);

/* Forgets the instance (deleted). */
void health_forget(struct daemon *d, const char *id);

/*
 * Asks the guest for a graceful shutdown: SIGTERM to the application, power-off
 * after deadline_ms. 0 if sent, or if it will be once the guest can hear it (a
 * guest still booting, or adopted and not yet heard from by this ukd: it goes
 * out with what is left of the deadline at the guest's first frame); -ENOTCONN
 * without a channel to the guest.
 */
int health_shutdown(struct daemon *d, const char *id, unsigned deadline_ms);

/* The exit frame the guest sent in its current or last run: 1 (and *out), or 0. */
int health_exit_info(struct daemon *d, const char *id, struct health_exit *out);

/* The health document of GET /v1/instances/{id}/health (new reference), or NULL (OOM). */
json_t *health_json(struct daemon *d, const char *id);

/*
 * The Prometheus text exposition of every watched instance's last heartbeat
 * and application metrics (GET /metrics) into b; labels: instance (id).
 */
struct util_buf;
void health_metrics_text(struct daemon *d, struct util_buf *b);

/* Closes every channel at daemon shutdown (guests keep running). */
void health_close_all(struct daemon *d);

#endif
