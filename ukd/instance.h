/*
 * instance.h: instances' life cycle, on the daemon's loop: create, start,
 * stop, kill and delete them through libvirt, record what libvirt reports
 * (lifecycle events), and reconcile the store with libvirt's domains.
 *
 * The store is the truth the API shows; libvirt is the truth about what
 * runs. Each operation updates the store before it acts (desired state,
 * "starting"/"stopping") and again with what actually happened, and answers
 * the API request only then. One operation at a time per instance: a second
 * one meanwhile is refused with 409.
 */
#ifndef INSTANCE_H
#define INSTANCE_H

#include <jansson.h>

#include "daemon.h"
#include "http.h"
#include "store.h"
#include "virt.h"

enum instance_action {
	INSTANCE_CREATE,
	INSTANCE_START,
	INSTANCE_STOP,
	INSTANCE_KILL,
	INSTANCE_DELETE,
	INSTANCE_RESTART,
};

/* Longest command line the runtime reads (runtime/boot.c), and its word limit. */
#define INSTANCE_CMDLINE_MAX 4095
#define INSTANCE_WORDS_MAX 255
#define INSTANCE_MEM_MIN 8
#define INSTANCE_MEM_MAX (1 << 20)
/* Disks per instance: the runtime drives one virtio-blk disk today (/dev/vda). */
#define INSTANCE_VOLUMES_MAX 1
/* Shortest heartbeat interval ukd asks of a guest (the runtime accepts 10 ms). */
#define INSTANCE_HEARTBEAT_MIN_MS 100

/* POST /v1/instances with a parsed JSON body (borrowed). Answers req. */
void instance_create(struct daemon *d, struct http_req *req, json_t *body);

/*
 * start / stop (timeout_s) / kill / delete (force) / restart (a graceful stop
 * within timeout_s, then a start) the instance named by ref. Answers req.
 * A user's start or restart begins a new series for the restart policy
 * (restart_count and the backoff from zero); a stop or kill cancels a
 * restart the policy had scheduled (restart.h).
 */
void instance_act(struct daemon *d, struct http_req *req, const char *ref,
		  enum instance_action action, int timeout_s, int force);

/*
 * The exit_reason of a run ukd destroyed because its guest abused the health
 * channel (ukd/health.h): a failure for the restart policy.
 */
#define INSTANCE_REASON_HOSTILE "health-abuse"

/*
 * ukd's verdict on a hostile guest (health.c): destroys the running domain
 * (event instance.stopping, then instance.exited with exit_reason
 * INSTANCE_REASON_HOSTILE and `why` as the message) without touching the
 * desired state, so the instance's restart policy decides what follows.
 * Nothing if it is not running or another operation is in flight.
 */
void instance_offender(struct daemon *d, const char *id, const char *why);

/* A libvirt lifecycle event, on the loop thread. */
void instance_on_event(struct daemon *d, const struct virt_event *ev);

/*
 * Brings the store in line with the running domains that carry ukd's
 * metadata: adopts the ones it knows, marks instances whose domain is gone
 * as exited, and reports (never kills) domains it does not know. Then
 * re-arms the restarts the store says are pending and, the first time
 * after ukd started, restarts "always" and "unless-stopped" instances that
 * are down (restart.h).
 */
void instance_reconcile(struct daemon *d, const struct virt_domain *doms, size_t n);

/*
 * A second look, a few seconds after a reconcile: a domain in the reconcile's
 * list (was) that is gone from a fresh one (now) has ended, even if no
 * event said so (a destroy that a killed ukd began can finish between the
 * listing and the reconcile); its instance, if still active, is recorded as
 * exited. Domains that started since are not in was, so they are never
 * taken for gone.
 */
void instance_recheck(struct daemon *d, const struct virt_domain *was, size_t nwas,
		      const struct virt_domain *now, size_t nnow);

/*
 * The API's view of an instance (new reference), or NULL when out of memory.
 * A function of the row alone: GET /v1/instances reuses its text while the
 * row is unchanged (listing.h).
 */
json_t *instance_json(const struct store_instance *inst);

/* 1 if the instance may have a running domain (starting, running, stopping). */
int instance_active(const struct store_instance *inst);

/*
 * Builds the guest command line "env.K=V ... [-- ARGS...]" from a spec's
 * env (object) and args (array or NULL), quoting words as the runtime's
 * parser reads them. Returns 0, or -E2BIG past the runtime's limits.
 */
int instance_cmdline(json_t *env, json_t *args, char *out, size_t len);

/*
 * Checks a POST /v1/instances body's fields and builds the stored spec (new
 * reference in *spec; image and name borrow from body). Returns 0, or -1 with
 * err set (a 422). No daemon needed: tests/fuzz/fuzz_json.c drives it.
 */
int instance_check_body(json_t *body, json_t **spec, const char **image, const char **name,
			int *start, unsigned *mem, char *err, size_t len);

/* Drops timers and pending answers at daemon shutdown; the guests keep running. */
void instance_shutdown(struct daemon *d);

#endif
