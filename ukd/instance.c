/*
 * instance.c: instance life cycle (see instance.h).
 *
 * An operation (struct instance_op) holds the API request that waits for it
 * and runs libvirt calls as jobs on the libuv thread pool. libvirt's
 * lifecycle events and the jobs' results can arrive in either order (a
 * guest may exit before virDomainCreateXML returns), so each handler reloads
 * the instance from the store and acts on its current state; events are
 * matched to instances by the domain UUID ukd chose for that run, so an
 * event from an earlier run can never touch a later one.
 */
#define _GNU_SOURCE
#include "instance.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "capacity.h"
#include "health.h"
#include "image.h"
#include "log.h"
#include "consolelog.h"
#include "network.h"
#include "qemusock.h"
#include "restart.h"
#include "util.h"

/*
 * Bytes of the command line kept for uk.id=, uk.image=, uk.heartbeat= and the
 * network's ip=/gw=/dns=.
 */
#define INSTANCE_HEALTH_WORDS (160 + NETWORK_CMDLINE_MAX)

enum instance_job_kind {
	JOB_CREATE,
	JOB_SHUTDOWN,
	JOB_DESTROY,
};

struct instance_op {
	struct daemon *d;
	char id[STORE_INSTANCE_ID_LEN + 1];
	enum instance_action kind;
	struct http_req *req; /* answered when the operation ends */
	uv_timer_t timer;     /* stop: the deadline before destroy */
	int timeout_s;
	int jobs; /* libvirt jobs in flight */
	int done; /* answered; freed once no job is in flight */
	int released;
	/* A restart: stopped, now starting again (what the stop's jobs say is ignored). */
	int booting;
	/* A user's stop or kill that waits for this (policy) start to end. */
	struct http_req *then_req;
	enum instance_action then_action;
	int then_timeout_s;
	/* ukd's own kill of a guest that abused its health channel (instance_offender). */
	char offense[256];
	struct instance_op *next;
};

struct instance_job {
	uv_work_t work;
	struct instance_op *op;
	enum instance_job_kind kind;
	struct virt *virt;
	char uuid[37];
	char *xml;
	int ret;
	char err[512];
	int has_tap; /* JOB_CREATE of an attached instance: the run's tap */
	struct network_tap tap;
	/* Its outcome waits for the store, which failed to give the instance back. */
	uv_timer_t later;
	int later_init;
	unsigned later_ms;
};

/* How often a job's outcome waits for a failing store: 0.1 + 0.2 + ... + 3.2 s. */
#define INSTANCE_JOB_LATER_MAX_MS 3200

static void instance_job_queue(struct instance_op *op, enum instance_job_kind kind,
			       const char *uuid, char *xml, const struct network_tap *tap);
static void instance_boot(struct daemon *d, struct instance_op *op, struct store_instance *inst);
static void instance_restart_due(struct daemon *d, const char *id);
static void instance_crash_loop(struct daemon *d, struct store_instance *inst);
static int instance_event(struct daemon *d, const struct virt_event *ev, int late);
static uint32_t instance_heartbeat(const struct store_instance *inst);

/* --- helpers --- */

int instance_active(const struct store_instance *inst)
{
	return !strcmp(inst->observed, STORE_STATE_STARTING) ||
	       !strcmp(inst->observed, STORE_STATE_RUNNING) ||
	       !strcmp(inst->observed, STORE_STATE_STOPPING);
}

static void instance_dir(struct daemon *d, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/instances/%s", d->cfg->root, id);
}

static json_t *instance_time(int64_t ms)
{
	char buf[40];

	if (!ms)
		return json_null();
	util_time_str(ms, buf, sizeof(buf));
	return json_string(buf);
}

json_t *instance_json(const struct store_instance *inst)
{
	json_t *spec = json_loads(inst->spec, 0, NULL), *o;
	char image[80], domain[64], policy[RESTART_POLICY_MAX];
	struct restart_policy rp;

	restart_of_spec(inst->spec, &rp);
	restart_format(&rp, policy, sizeof(policy));
	snprintf(image, sizeof(image), "sha256:%s", inst->image_id);
	snprintf(domain, sizeof(domain), VIRT_DOMAIN_PREFIX "%.12s", inst->id);
	o = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:O?, s:O?, s:O?, s:I, s:o, s:o, s:o?, s:o, "
		"s:o, s:o, s:s, s:O?, s:O?, s:s, s:o}",
		"id", inst->id, "name", inst->name, "image", image, "state", inst->observed,
		"desired_state", inst->desired, "memory_mib", json_object_get(spec, "memory_mib"),
		"args", json_object_get(spec, "args"), "env", json_object_get(spec, "env"),
		"restart_count", (json_int_t)inst->restart_count, "exit_status",
		inst->has_exit_status ? json_integer(inst->exit_status) : json_null(),
		"exit_reason", inst->exit_reason[0] ? json_string(inst->exit_reason) : json_null(),
		"message", inst->message ? json_string(inst->message) : NULL, "created",
		instance_time(inst->created), "started", instance_time(inst->started), "finished",
		instance_time(inst->finished), "domain", domain, "network",
		json_object_get(spec, "network"), "ports", json_object_get(spec, "ports"),
		"restart", policy, "restart_at", instance_time(inst->restart_at));
	/* Shown when set, like network and ports. */
	if (o && json_object_get(spec, "volumes"))
		json_object_set(o, "volumes", json_object_get(spec, "volumes"));
	if (o && json_object_get(spec, "health_interval_ms"))
		json_object_set(o, "health_interval_ms",
				json_object_get(spec, "health_interval_ms"));
	json_decref(spec);
	return o;
}

static void instance_respond(struct http_req *req, int status, const struct store_instance *inst)
{
	http_respond_json_value(req, status, instance_json(inst));
}

static void instance_store_error(struct http_req *req, int ret, const char *ref)
{
	if (ret == -ENOENT)
		http_respond_error(req, 404, "instance_not_found", "no instance %s", ref);
	else if (ret == -EINVAL)
		http_respond_error(req, 409, "ambiguous", "%s matches more than one instance", ref);
	else
		http_respond_error(req, 500, "store_error", "the store failed: %s", strerror(-ret));
}

/* Appends one command-line word, quoted when the runtime's parser needs it. */
static void instance_word(struct util_buf *b, const char *prefix, const char *w)
{
	int quote = !*w && !*prefix;

	for (const char *p = w; *p && !quote; p++)
		quote = strchr(" \t\n\"\\", *p) != NULL;
	if (b->len)
		util_buf_puts(b, " ");
	if (quote)
		util_buf_puts(b, "\"");
	util_buf_puts(b, prefix);
	for (const char *p = w; *p; p++) {
		if (*p == '"' || *p == '\\')
			util_buf_puts(b, "\\");
		util_buf_add(b, p, 1);
	}
	if (quote)
		util_buf_puts(b, "\"");
}

int instance_cmdline(json_t *env, json_t *args, char *out, size_t len)
{
	struct util_buf b = {0};
	const char *k;
	json_t *v;
	size_t i, words = 0;
	int ret = 0;

	json_object_foreach(env, k, v)
	{
		char *w;

		if (asprintf(&w, "%s=%s", k, json_string_value(v)) < 0)
			return -ENOMEM;
		instance_word(&b, "env.", w);
		free(w);
		words++;
	}
	if (args) {
		util_buf_puts(&b, b.len ? " --" : "--");
		words++;
		json_array_foreach(args, i, v)
		{
			instance_word(&b, "", json_string_value(v));
			words++;
		}
	}
	if (b.oom)
		ret = -ENOMEM;
	else if (b.len >= len || b.len > INSTANCE_CMDLINE_MAX || words > INSTANCE_WORDS_MAX)
		ret = -E2BIG;
	else
		snprintf(out, len, "%s", b.s ? b.s : "");
	util_buf_free(&b);
	return ret;
}

/* --- operations --- */

static struct instance_op *instance_op_find(struct daemon *d, const char *id)
{
	for (struct instance_op *op = d->ops; op; op = op->next)
		if (!op->done && !strcmp(op->id, id))
			return op;
	return NULL;
}

static struct instance_op *instance_op_new(struct daemon *d, const char *id,
					   enum instance_action kind, struct http_req *req)
{
	struct instance_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->d = d;
	snprintf(op->id, sizeof(op->id), "%s", id);
	op->kind = kind;
	op->req = req;
	uv_timer_init(d->loop, &op->timer);
	op->timer.data = op;
	op->next = d->ops;
	d->ops = op;
	return op;
}

static void instance_op_free(uv_handle_t *h)
{
	free(h->data);
}

/* Frees a finished operation once nothing refers to it any more. */
static void instance_op_release(struct instance_op *op)
{
	struct instance_op **pp;

	if (!op->done || op->jobs || op->released)
		return;
	op->released = 1;
	for (pp = &op->d->ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	uv_close((uv_handle_t *)&op->timer, instance_op_free);
}

struct instance_then {
	uv_timer_t timer;
	struct daemon *d;
	struct http_req *req;
	char id[STORE_INSTANCE_ID_LEN + 1];
	enum instance_action action;
	int timeout_s;
};

static void instance_then_free(uv_handle_t *h)
{
	free(h->data);
}

static void instance_then_run(uv_timer_t *t)
{
	struct instance_then *th = t->data;

	if (th->d->stopping)
		http_respond_error(th->req, 503, "shutting_down", "ukd is shutting down");
	else
		instance_act(th->d, th->req, th->id, th->action, th->timeout_s, 0);
	uv_close((uv_handle_t *)&th->timer, instance_then_free);
}

/* Runs the request that waited for op, on the next turn of the loop. */
static void instance_op_then(struct instance_op *op)
{
	struct instance_then *th;
	struct http_req *req = op->then_req;

	op->then_req = NULL;
	if (!(th = calloc(1, sizeof(*th)))) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	th->d = op->d;
	th->req = req;
	snprintf(th->id, sizeof(th->id), "%s", op->id);
	th->action = op->then_action;
	th->timeout_s = op->then_timeout_s;
	uv_timer_init(op->d->loop, &th->timer);
	th->timer.data = th;
	uv_timer_start(&th->timer, instance_then_run, 0, 0);
}

/* Ends the operation: the answer (already sent, or none) is the caller's. */
static void instance_op_end(struct instance_op *op)
{
	op->done = 1;
	op->req = NULL;
	uv_timer_stop(&op->timer);
	if (op->then_req)
		instance_op_then(op);
	instance_op_release(op);
}

static void instance_op_answer(struct instance_op *op, int status,
			       const struct store_instance *inst)
{
	if (op->req)
		instance_respond(op->req, status, inst);
	op->req = NULL;
	instance_op_end(op);
}

__attribute__((format(printf, 4, 5))) static void
instance_op_fail(struct instance_op *op, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (op->req)
		http_respond_error(op->req, status, code, "%s", msg);
	op->req = NULL;
	instance_op_end(op);
}

/* --- observations the store failed to take --- */

/*
 * A run that started or ended, or a lifecycle event that could not be
 * looked up, while the store failed (an I/O error, no memory, a full
 * disk): written again shortly, backing off, until it goes through or the
 * row has moved on. The user's intent was recorded before (desired state);
 * this keeps the store from claiming "starting" or "stopping" for a run
 * that started or ended. Lost if ukd stops first: the next start's
 * reconciliation asks libvirt instead.
 */
struct instance_later {
	uv_timer_t timer;
	struct daemon *d;
	int is_event;
	struct virt_event ev;	    /* is_event */
	struct store_instance inst; /* else: the row to write */
	char was[16];		    /* its observed state in the store when the write failed */
	char kind[32], detail[128];
	int crash_loop;
	unsigned delay_ms;
	struct instance_later *next;
};

#define INSTANCE_LATER_FIRST_MS 100
#define INSTANCE_LATER_MAX_MS 5000

static void instance_later_closed(uv_handle_t *h)
{
	struct instance_later *l = h->data;

	store_instance_clear(&l->inst);
	free(l);
}

static void instance_later_end(struct instance_later *l)
{
	struct instance_later **pp;

	for (pp = &l->d->laters; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	uv_close((uv_handle_t *)&l->timer, instance_later_closed);
}

static void instance_later_run(uv_timer_t *t)
{
	struct instance_later *l = t->data;
	struct daemon *d = l->d;
	struct store_instance cur;
	int ret;

	if (l->is_event) {
		if (instance_event(d, &l->ev, 1) < 0)
			goto again;
		goto end;
	}
	if ((ret = store_instance_find(d->store, l->inst.id, &cur)) == -ENOENT)
		goto end;
	if (ret < 0)
		goto again;
	ret = strcmp(cur.domain_uuid, l->inst.domain_uuid) || strcmp(cur.observed, l->was);
	store_instance_clear(&cur);
	if (ret)
		goto end; /* something newer was recorded meanwhile */
	if (store_instance_update(d->store, &l->inst, l->kind, l->detail[0] ? l->detail : NULL) < 0)
		goto again;
	log_info("instance %s: %s recorded after all", l->inst.id, l->inst.observed);
	if (l->crash_loop)
		instance_crash_loop(d, &l->inst);
	else if (l->inst.restart_at &&
		 restart_schedule(d, l->inst.id, l->inst.restart_at, instance_restart_due) < 0)
		log_error("instance %s: no memory for its restart timer", l->inst.id);
end:
	instance_later_end(l);
	return;
again:
	l->delay_ms =
		l->delay_ms * 2 > INSTANCE_LATER_MAX_MS ? INSTANCE_LATER_MAX_MS : l->delay_ms * 2;
	uv_timer_start(&l->timer, instance_later_run, l->delay_ms, 0);
}

static struct instance_later *instance_later_new(struct daemon *d)
{
	struct instance_later *l = calloc(1, sizeof(*l));

	if (!l) {
		log_error("out of memory: an observation the store refused is lost until ukd "
			  "restarts");
		return NULL;
	}
	l->d = d;
	l->delay_ms = INSTANCE_LATER_FIRST_MS;
	uv_timer_init(d->loop, &l->timer);
	l->timer.data = l;
	l->next = d->laters;
	d->laters = l;
	uv_timer_start(&l->timer, instance_later_run, l->delay_ms, 0);
	return l;
}

/* inst (its observed state was `was` in the store) is to be written again. */
static void instance_later_record(struct daemon *d, const struct store_instance *inst,
				  const char *was, const char *kind, const char *detail,
				  int crash_loop)
{
	struct instance_later *l;

	/* This observation is newer than one still waiting for the same instance. */
	for (l = d->laters; l; l = l->next)
		if (!l->is_event && !strcmp(l->inst.id, inst->id) &&
		    !uv_is_closing((uv_handle_t *)&l->timer)) {
			uv_timer_stop(&l->timer);
			instance_later_end(l);
			break;
		}
	if (!(l = instance_later_new(d)))
		return;
	l->inst = *inst;
	l->inst.spec = inst->spec ? strdup(inst->spec) : NULL;
	l->inst.message = inst->message ? strdup(inst->message) : NULL;
	snprintf(l->was, sizeof(l->was), "%s", was);
	snprintf(l->kind, sizeof(l->kind), "%s", kind);
	snprintf(l->detail, sizeof(l->detail), "%s", detail ? detail : "");
	l->crash_loop = crash_loop;
	log_warn("instance %s: will record it %s again shortly", inst->id, inst->observed);
}

static void instance_later_close_all(struct daemon *d)
{
	while (d->laters)
		instance_later_end(d->laters);
}

/* --- recording what happened --- */

static const char *instance_stop_reason(struct daemon *d, const char *id, enum virt_stop_reason r)
{
	struct instance_op *op = instance_op_find(d, id);

	if (op && op->offense[0])
		return INSTANCE_REASON_HOSTILE;
	if (op && (op->kind == INSTANCE_STOP || (op->kind == INSTANCE_RESTART && !op->booting)))
		return "stopped";
	if (op && (op->kind == INSTANCE_KILL || op->kind == INSTANCE_DELETE))
		return "killed";
	switch (r) {
	case VIRT_STOP_SHUTDOWN: return "exited";
	case VIRT_STOP_DESTROYED: return "destroyed";
	case VIRT_STOP_CRASHED: return "crashed";
	case VIRT_STOP_FAILED: return "failed";
	default: return "stopped";
	}
}

/* "status 1", "status 139 (panic)", "crashed": what the exited/stopped event says. */
static void instance_exit_detail(const struct store_instance *inst, char *buf, size_t len)
{
	int n;

	if (inst->has_exit_status && !strcmp(inst->exit_reason, "exited"))
		n = snprintf(buf, len, "status %d", inst->exit_status);
	else if (inst->has_exit_status)
		n = snprintf(buf, len, "status %d (%s)", inst->exit_status, inst->exit_reason);
	else
		n = snprintf(buf, len, "%s", inst->exit_reason);
	if (inst->restart_at && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "; restart in %lld ms",
			 (long long)(inst->restart_at - inst->finished));
}

/*
 * Applies the restart policy to a run that just ended by itself (not by a
 * user's stop): sets inst->restart_at when a restart is due, or returns 1
 * when on-failure's limit is reached (crash-loop).
 */
static int instance_plan_restart(struct store_instance *inst, const char *reason)
{
	struct restart_policy p;
	int failed =
		!(inst->has_exit_status && inst->exit_status == 0 && !strcmp(reason, "exited"));

	restart_of_spec(inst->spec, &p);
	if (!restart_wanted(&p, failed))
		return 0;
	/* A run that stayed up long enough starts a new series: backoff and limit from zero. */
	if (inst->started && inst->finished - inst->started >= RESTART_RESET_MS)
		inst->restart_streak = 0;
	if (restart_limit_hit(&p, inst->restart_streak))
		return 1;
	inst->restart_at = inst->finished + restart_delay_ms(inst->restart_streak);
	return 0;
}

static void instance_crash_loop(struct daemon *d, struct store_instance *inst)
{
	char detail[96];
	int ret;

	snprintf(detail, sizeof(detail), "%lld restarts in a row, the policy's limit",
		 (long long)inst->restart_streak);
	snprintf(inst->observed, sizeof(inst->observed), STORE_STATE_CRASH_LOOP);
	free(inst->message);
	inst->message = strdup(detail);
	if ((ret = store_instance_update(d->store, inst, "instance.crash-loop", detail)) < 0)
		log_error("instance %s: cannot record the crash loop: %s", inst->id,
			  strerror(-ret));
	log_warn("instance %s (%s): crash loop: %s; not restarting it", inst->name, inst->id,
		 detail);
}

/* A user's start: a new series for the restart policy, no restart pending any more. */
static void instance_user_start(struct daemon *d, struct store_instance *inst)
{
	restart_cancel(d, inst->id);
	inst->restart_at = 0;
	inst->restart_streak = 0;
	inst->restart_count = 0;
}

static void instance_restart_boot_cb(uv_timer_t *t)
{
	struct instance_op *op = t->data;
	struct store_instance inst;
	int ret;

	if (op->done)
		return;
	if ((ret = store_instance_find(op->d->store, op->id, &inst)) < 0) {
		instance_op_fail(op, 500, "store_error", "instance %s: %s", op->id, strerror(-ret));
		return;
	}
	instance_user_start(op->d, &inst);
	instance_boot(op->d, op, &inst);
	store_instance_clear(&inst);
}

/*
 * A restart's stop is over: the same operation starts the instance again,
 * on the next turn of the loop, once the old run's handles (health channel)
 * are closed.
 */
static void instance_restart_boot(struct instance_op *op, struct store_instance *inst)
{
	(void)inst;
	op->booting = 1;
	uv_timer_start(&op->timer, instance_restart_boot_cb, 0, 0);
}

/*
 * Records that the instance's domain is gone, with the exit status the
 * runtime printed last on the console, if any. Ends a stop or kill that
 * waited for it.
 */
static void instance_exited(struct daemon *d, struct store_instance *inst, const char *reason,
			    const char *message)
{
	struct instance_op *op = instance_op_find(d, inst->id);
	char dir[PATH_MAX], why[64] = "", was[sizeof(inst->observed)];
	struct health_exit hx;
	char detail[128];
	int status, ret, hret, user, crash_loop;

	/* What the guest wrote last is still in the socket: the log first, then its last line. */
	consolelog_unwatch(d, inst->id);
	instance_dir(d, inst->id, dir, sizeof(dir));
	ret = console_exit_status(dir, &status);
	/* The health channel's exit frame is structured and says why: it wins over the log. */
	if ((hret = health_exit_info(d, inst->id, &hx)) == 1) {
		ret = 1;
		status = hx.status;
		if (!strcmp(reason, "exited") && hx.reason != HEALTH_EXIT_NORMAL)
			reason = ukhealth_exit_reason_name(hx.reason);
		if (!message && hx.reason == HEALTH_EXIT_SIGNAL)
			snprintf(why, sizeof(why), "killed by signal %u", hx.signal);
		else if (!message && hx.reason != HEALTH_EXIT_NORMAL)
			snprintf(why, sizeof(why), "%s", ukhealth_exit_reason_name(hx.reason));
		if (!message && why[0])
			message = why;
	}
	if (!message && op && op->offense[0])
		message = op->offense;
	health_unwatch(d, inst->id);
	network_run_ended(d, inst->id, inst->domain_uuid);
	inst->has_exit_status = ret == 1;
	inst->exit_status = ret == 1 ? status : 0;
	snprintf(was, sizeof(was), "%s", inst->observed);
	snprintf(inst->observed, sizeof(inst->observed), STORE_STATE_EXITED);
	snprintf(inst->exit_reason, sizeof(inst->exit_reason), "%s", reason);
	free(inst->message);
	inst->message = message ? strdup(message) : NULL;
	inst->finished = util_now_ms();
	/* The policy decides in the same transaction that records the exit. */
	user = !strcmp(inst->desired, "stopped");
	crash_loop = 0;
	inst->restart_at = 0;
	if (!user && !(op && op->req && !strcmp(reason, "start-failed")))
		crash_loop = instance_plan_restart(inst, reason);
	instance_exit_detail(inst, detail, sizeof(detail));
	if ((ret = store_instance_update(
		     d->store, inst, user ? "instance.stopped" : "instance.exited", detail)) < 0) {
		log_error("instance %s: cannot record its exit: %s", inst->id, strerror(-ret));
		instance_later_record(d, inst, was, user ? "instance.stopped" : "instance.exited",
				      detail, crash_loop);
	}
	log_info("instance %s (%s): %s", inst->name, inst->id, detail);
	if (ret == 0 && crash_loop)
		instance_crash_loop(d, inst);
	else if (ret == 0 && inst->restart_at &&
		 restart_schedule(d, inst->id, inst->restart_at, instance_restart_due) < 0)
		log_error("instance %s: no memory for its restart timer", inst->id);
	if (op && (op->kind == INSTANCE_STOP || op->kind == INSTANCE_KILL))
		instance_op_answer(op, 200, inst);
	else if (op && op->kind == INSTANCE_RESTART && !op->booting)
		instance_restart_boot(op, inst);
}

static void instance_running(struct daemon *d, struct store_instance *inst, const char *kind)
{
	char was[sizeof(inst->observed)];
	int ret;

	snprintf(was, sizeof(was), "%s", inst->observed);
	snprintf(inst->observed, sizeof(inst->observed), STORE_STATE_RUNNING);
	if (!inst->started)
		inst->started = util_now_ms();
	if ((ret = store_instance_update(d->store, inst, kind, NULL)) < 0) {
		log_error("instance %s: cannot record it running: %s", inst->id, strerror(-ret));
		instance_later_record(d, inst, was, kind, NULL, 0);
	}
}

void instance_on_event(struct daemon *d, const struct virt_event *ev)
{
	struct instance_later *l;

	if (instance_event(d, ev, 0) == 0 || !(l = instance_later_new(d)))
		return;
	l->is_event = 1;
	l->ev = *ev;
}

/*
 * A running domain this ukd did not start (it was started before a restart,
 * or while ukd was down) is adopted: its console log and health channel are
 * listened on again, and its QEMU reconnects within a second.
 */
static void instance_adopt_watches(struct daemon *d, const struct store_instance *inst)
{
	health_watch(d, inst->id, inst->image_id, 1);
	health_set_interval(d, inst->id, instance_heartbeat(inst));
	consolelog_watch(d, inst->id, 0);
}

/*
 * Acts on a lifecycle event: 0, or -errno if the store failed (to be tried
 * again). A late one (tried again) adopts nothing: its domain may have
 * ended since.
 */
static int instance_event(struct daemon *d, const struct virt_event *ev, int late)
{
	struct store_instance inst;
	int ret;

	if ((ret = store_instance_by_domain(d->store, ev->uuid, &inst)) == -ENOENT) {
		log_debug("event for domain %s (%s), not a ukd instance run", ev->name, ev->uuid);
		return 0;
	}
	if (ret < 0) {
		log_error("event for domain %s (%s): the store failed: %s; trying again shortly",
			  ev->name, ev->uuid, strerror(-ret));
		return ret;
	}
	if (ev->kind == VIRT_EV_STARTED && !strcmp(inst.observed, STORE_STATE_STARTING)) {
		instance_running(d, &inst, "instance.started");
	} else if (ev->kind == VIRT_EV_STARTED && !late && !instance_active(&inst) &&
		   !instance_op_find(d, inst.id)) {
		/*
		 * ukd died while libvirtd was creating this very run, and its
		 * successor reconciled before the domain was up, so recorded it
		 * as vanished. It runs after all: adopt it rather than leave a
		 * guest running that the store says has ended.
		 */
		log_info("instance %s (%s): domain %s started after reconciliation; adopted",
			 inst.name, inst.id, ev->name);
		inst.has_exit_status = 0;
		inst.exit_reason[0] = 0;
		free(inst.message);
		inst.message = NULL;
		inst.finished = 0;
		/* The run the policy would start instead is this one. */
		restart_cancel(d, inst.id);
		inst.restart_at = 0;
		instance_running(d, &inst, "instance.adopted");
		/* The exit that recorded it closed these. */
		instance_adopt_watches(d, &inst);
	} else if (ev->kind == VIRT_EV_STOPPED && instance_active(&inst))
		instance_exited(d, &inst, instance_stop_reason(d, inst.id, ev->reason), NULL);
	/*
	 * A start no create of this ukd owns (its ukd was killed while libvirtd
	 * started the domain): the reconcile may have left its tap for libvirt
	 * to open; plugged now.
	 */
	if (ev->kind == VIRT_EV_STARTED && instance_active(&inst) && !instance_op_find(d, inst.id))
		network_run_started(d, inst.id, inst.domain_uuid);
	store_instance_clear(&inst);
	return 0;
}

/* --- jobs --- */

static void instance_job_work(uv_work_t *w)
{
	struct instance_job *j = w->data;

	switch (j->kind) {
	case JOB_CREATE:
		if (j->has_tap &&
		    (j->ret = network_tap_create(&j->tap, j->err, sizeof(j->err))) < 0)
			return;
		j->ret = virt_create(j->virt, j->xml, j->err, sizeof(j->err));
		/* QEMU holds the tap now: into ukd's namespace and onto the bridge with it. */
		if (j->has_tap && j->ret == 0 &&
		    (j->ret = network_tap_plug(&j->tap, j->err, sizeof(j->err))) < 0) {
			char err[256];

			virt_destroy(j->virt, j->uuid, err, sizeof(err));
		}
		if (j->has_tap && j->ret < 0) {
			char err[256];

			network_tap_delete(&j->tap, err, sizeof(err));
		}
		break;
	case JOB_SHUTDOWN: j->ret = virt_shutdown(j->virt, j->uuid, j->err, sizeof(j->err)); break;
	case JOB_DESTROY:
		j->ret = virt_destroy(j->virt, j->uuid, j->err, sizeof(j->err));
		/* Gone with the domain, before the answer: `rm` returns with no tap left. */
		if (j->has_tap && (j->ret == 0 || j->ret == -ENOENT)) {
			char err[256];

			network_tap_delete(&j->tap, err, sizeof(err));
		}
		break;
	}
}

static void instance_created(struct instance_op *op, struct instance_job *j,
			     struct store_instance *inst)
{
	int status = op->kind == INSTANCE_CREATE ? 201 : 200;

	if (j->ret < 0) {
		log_error("instance %s: %s", inst->id, j->err);
		if (!strcmp(inst->observed, STORE_STATE_STARTING))
			instance_exited(op->d, inst, "start-failed", j->err);
		instance_op_fail(op, j->ret == -ENOTCONN ? 503 : 500, "start_failed",
				 "instance %s (%s) did not start: %s", inst->name, inst->id,
				 j->err);
		return;
	}
	if (!strcmp(inst->observed, STORE_STATE_STARTING))
		instance_running(op->d, inst, "instance.started");
	log_info("instance %s (%s) started", inst->name, inst->id);
	instance_op_answer(op, status, inst);
}

static void instance_remove(struct instance_op *op, struct store_instance *inst)
{
	char dir[PATH_MAX];
	int ret;

	if ((ret = store_instance_delete(op->d->store, inst->id)) < 0) {
		instance_op_fail(op, 500, "store_error", "cannot delete instance %s: %s", inst->id,
				 strerror(-ret));
		return;
	}
	restart_cancel(op->d, inst->id);
	health_forget(op->d, inst->id);
	consolelog_unwatch(op->d, inst->id);
	network_instance_removed(op->d, inst->id);
	instance_dir(op->d, inst->id, dir, sizeof(dir));
	qemusock_unlink(inst->id, dir);
	if ((ret = util_rmtree(dir)) < 0)
		log_warn("instance %s: cannot remove %s: %s", inst->id, dir, strerror(-ret));
	log_info("instance %s (%s) deleted", inst->name, inst->id);
	if (op->req)
		http_respond(op->req, 204, NULL, "", 0, NULL);
	op->req = NULL;
	instance_op_end(op);
}

/* The domain is gone or refused to go: finish the stop, kill or delete. */
static void instance_destroyed(struct instance_op *op, struct instance_job *j,
			       struct store_instance *inst)
{
	int ret;

	if (j->ret < 0 && j->ret != -ENOENT) {
		/* It may still run: the store must not claim otherwise. */
		log_error("instance %s: %s", inst->id, j->err);
		if (!strcmp(inst->observed, STORE_STATE_STOPPING)) {
			snprintf(inst->observed, sizeof(inst->observed), STORE_STATE_RUNNING);
			if ((ret = store_instance_update(op->d->store, inst, "instance.stop-failed",
							 j->err)) < 0)
				log_error("instance %s: store: %s", inst->id, strerror(-ret));
		}
		instance_op_fail(op, j->ret == -ENOTCONN ? 503 : 500, "stop_failed",
				 "instance %s: %s", inst->id, j->err);
		return;
	}
	if (instance_active(inst))
		instance_exited(op->d, inst,
				op->offense[0] ? INSTANCE_REASON_HOSTILE
				: op->kind == INSTANCE_STOP || op->kind == INSTANCE_RESTART
					? "stopped"
					: "killed",
				NULL);
	if (op->done || op->booting)
		return;
	if (op->kind == INSTANCE_DELETE)
		instance_remove(op, inst);
	else
		instance_op_answer(op, 200, inst);
}

static void instance_stop_deadline(uv_timer_t *t)
{
	struct instance_op *op = t->data;
	struct store_instance inst;

	if (op->done)
		return;
	if (store_instance_find(op->d->store, op->id, &inst) < 0) {
		instance_op_fail(op, 500, "store_error", "instance %s vanished", op->id);
		return;
	}
	log_info("instance %s: still running %d s after the shutdown request; destroying it",
		 inst.id, op->timeout_s);
	instance_job_queue(op, JOB_DESTROY, inst.domain_uuid, NULL, NULL);
	store_instance_clear(&inst);
}

static void instance_shutdown_sent(struct instance_op *op, struct instance_job *j,
				   struct store_instance *inst)
{
	if (j->ret == -ENOENT || !instance_active(inst)) {
		instance_destroyed(op, j, inst);
		return;
	}
	if (j->ret < 0)
		log_warn("instance %s: %s; destroying it", inst->id, j->err);
	if (j->ret < 0 || op->timeout_s == 0)
		instance_job_queue(op, JOB_DESTROY, inst->domain_uuid, NULL, NULL);
	else
		uv_timer_start(&op->timer, instance_stop_deadline, (uint64_t)op->timeout_s * 1000,
			       0);
}

static void instance_job_done(uv_work_t *w, int status);

static void instance_job_freed(uv_handle_t *h)
{
	free(h->data);
}

static void instance_job_free(struct instance_job *j)
{
	free(j->xml);
	if (j->later_init)
		uv_close((uv_handle_t *)&j->later, instance_job_freed);
	else
		free(j);
}

static void instance_job_later_cb(uv_timer_t *t)
{
	struct instance_job *j = t->data;

	instance_job_done(&j->work, 0);
}

/*
 * The store could not give back the instance a job acted on: its outcome
 * (a domain created, shut down or destroyed) is not dropped but acted on
 * again shortly, a few times. 1 if so.
 */
static int instance_job_later(struct instance_job *j)
{
	if (j->later_ms >= INSTANCE_JOB_LATER_MAX_MS)
		return 0;
	if (!j->later_init) {
		uv_timer_init(j->op->d->loop, &j->later);
		j->later.data = j;
		j->later_init = 1;
	}
	j->later_ms = j->later_ms ? j->later_ms * 2 : 100;
	j->op->jobs++;
	uv_timer_start(&j->later, instance_job_later_cb, j->later_ms, 0);
	return 1;
}

static void instance_job_done(uv_work_t *w, int status)
{
	struct instance_job *j = w->data;
	struct instance_op *op = j->op;
	struct store_instance inst;
	int ret;

	(void)status;
	op->jobs--;
	if (op->done || op->d->stopping) {
		op->done = 1;
		goto free_job;
	}
	/* A restart that is starting again: what its stop's jobs say is old news. */
	if (op->booting && j->kind != JOB_CREATE)
		goto free_job;
	if ((ret = store_instance_find(op->d->store, op->id, &inst)) < 0) {
		if (ret != -ENOENT && instance_job_later(j)) {
			log_warn("instance %s: the store failed (%s); its %s job's outcome waits "
				 "%u ms",
				 op->id, strerror(-ret),
				 j->kind == JOB_CREATE	   ? "create"
				 : j->kind == JOB_SHUTDOWN ? "shutdown"
							   : "destroy",
				 j->later_ms);
			return;
		}
		instance_op_fail(op, 500, "store_error", "instance %s: %s", op->id, strerror(-ret));
		goto free_job;
	}
	if (j->kind == JOB_CREATE)
		instance_created(op, j, &inst);
	else if (j->kind == JOB_SHUTDOWN)
		instance_shutdown_sent(op, j, &inst);
	else
		instance_destroyed(op, j, &inst);
	store_instance_clear(&inst);
free_job:
	instance_op_release(op);
	instance_job_free(j);
}

static void instance_job_queue(struct instance_op *op, enum instance_job_kind kind,
			       const char *uuid, char *xml, const struct network_tap *tap)
{
	struct instance_job *j = calloc(1, sizeof(*j));
	int ret;

	if (!j) {
		free(xml);
		instance_op_fail(op, 500, "internal", "out of memory");
		return;
	}
	j->work.data = j;
	j->op = op;
	j->kind = kind;
	j->virt = op->d->virt;
	j->xml = xml;
	if (tap) {
		j->has_tap = 1;
		j->tap = *tap;
	} else if (kind == JOB_DESTROY) {
		j->has_tap = network_run_tap(op->d, op->id, uuid, &j->tap);
	}
	snprintf(j->uuid, sizeof(j->uuid), "%s", uuid);
	if ((ret = uv_queue_work(op->d->loop, &j->work, instance_job_work, instance_job_done)) <
	    0) {
		free(xml);
		free(j);
		instance_op_fail(op, 500, "internal", "cannot queue work: %s", uv_strerror(ret));
		return;
	}
	op->jobs++;
}

/* --- starting --- */

/* The spec's volumes ("HOST:/dev/vdX", checked at create) as the domain's disks. */
static void instance_disks(json_t *volumes, struct virt_spec *vs, const char **disks,
			   const char **targets)
{
	json_t *v;
	size_t i;

	json_array_foreach(volumes, i, v)
	{
		const char *s = json_string_value(v), *colon = s ? strrchr(s, ':') : NULL;

		if (!colon || vs->ndisks == INSTANCE_VOLUMES_MAX)
			continue;
		/* The host path is the string up to the last ':', kept NUL-free in the spec. */
		disks[vs->ndisks] = strndup(s, (size_t)(colon - s));
		targets[vs->ndisks] = colon + 6; /* past ":/dev/" */
		if (disks[vs->ndisks])
			vs->ndisks++;
	}
	vs->disks = disks;
	vs->disk_targets = targets;
}

/* Records the new run ("starting", a fresh domain UUID) and queues its creation. */
static void instance_boot(struct daemon *d, struct instance_op *op, struct store_instance *inst)
{
	char image[PATH_MAX], console[PATH_MAX], cmdline[INSTANCE_CMDLINE_MAX + 1];
	char name[64], uuid[37], health[PATH_MAX], words[NETWORK_CMDLINE_MAX + 1];
	char console_link[PATH_MAX], health_link[PATH_MAX];
	const char *disks[INSTANCE_VOLUMES_MAX], *targets[INSTANCE_VOLUMES_MAX];
	struct network_tap tap;
	struct virt_spec vs = {0};
	json_t *spec = json_loads(inst->spec, 0, NULL);
	struct stat st;
	uint32_t hb = 0;
	char *xml;
	int ret, plen, has_tap;

	image_path(d->cfg->root, inst->image_id, image, sizeof(image));
	if (util_random_uuid(uuid) < 0) {
		instance_op_fail(op, 500, "internal", "no random bytes for a UUID");
		goto free_spec;
	}
	/* The run's tap is named after its domain UUID: network.h says why. */
	if ((has_tap = network_boot(d, inst->id, uuid, &tap, words, sizeof(words))) < 0) {
		instance_op_fail(op, 500, "store_error", "instance %s: no network attachment: %s",
				 inst->id, strerror(-has_tap));
		goto free_spec;
	}
	/* The health agent's words first: who the guest is, and which image it should be. */
	plen = snprintf(cmdline, sizeof(cmdline), "uk.id=%s uk.image=sha256:%s %s", inst->id,
			inst->image_id, words);
	if ((hb = (uint32_t)json_integer_value(json_object_get(spec, "health_interval_ms"))))
		plen += snprintf(cmdline + plen, sizeof(cmdline) - (size_t)plen,
				 "%suk.heartbeat=%u ", plen && cmdline[plen - 1] != ' ' ? " " : "",
				 hb);
	if (!spec || instance_cmdline(json_object_get(spec, "env"), json_object_get(spec, "args"),
				      cmdline + plen, sizeof(cmdline) - (size_t)plen) < 0) {
		instance_op_fail(op, 500, "internal", "instance %s has an unusable spec", inst->id);
		goto free_spec;
	}
	if (stat(image, &st) < 0) {
		instance_op_fail(op, 409, "image_missing",
				 "the image of instance %s (sha256:%s) was deleted", inst->name,
				 inst->image_id);
		goto free_spec;
	}
	snprintf(name, sizeof(name), VIRT_DOMAIN_PREFIX "%.12s", inst->id);
	vs.name = name;
	vs.uuid = uuid;
	vs.instance_id = inst->id;
	vs.image_path = image;
	/* A fresh log per run (its last "exit status" line is this run's), before QEMU connects. */
	if (consolelog_socket_path(d, inst->id, console, sizeof(console)) == 0 &&
	    consolelog_watch(d, inst->id, 1) == 0) {
		/* Short: qemusock.h says why. */
		qemusock_link(console, inst->id, 'c', console_link, sizeof(console_link));
		vs.console_path = console_link;
	}
	if ((ret = health_socket_path(d, inst->id, health, sizeof(health))) == 0 &&
	    (ret = health_watch(d, inst->id, inst->image_id, 0)) == 0) {
		qemusock_link(health, inst->id, 'h', health_link, sizeof(health_link));
		vs.health_path = health_link;
		health_set_interval(d, inst->id, hb);
	} else
		log_warn("instance %s: no health channel: %s", inst->id, strerror(-ret));
	vs.cmdline = cmdline;
	instance_disks(json_object_get(spec, "volumes"), &vs, disks, targets);
	vs.mem_mib = (unsigned)json_integer_value(json_object_get(spec, "memory_mib"));
	vs.kvm = d->kvm;
	vs.rng = d->rng;
	if (has_tap) {
		vs.tap = tap.name;
		vs.mac = tap.mac;
	}
	if (!(xml = virt_domain_xml(&vs))) {
		instance_op_fail(op, 500, "internal", "out of memory");
		goto free_spec;
	}
	snprintf(inst->desired, sizeof(inst->desired), "running");
	snprintf(inst->observed, sizeof(inst->observed), STORE_STATE_STARTING);
	snprintf(inst->domain_uuid, sizeof(inst->domain_uuid), "%s", uuid);
	inst->has_exit_status = 0;
	inst->exit_reason[0] = 0;
	free(inst->message);
	inst->message = NULL;
	inst->started = inst->finished = 0;
	if ((ret = store_instance_update(d->store, inst, "instance.starting", uuid)) < 0) {
		free(xml);
		instance_op_fail(op, 500, "store_error", "cannot record the start: %s",
				 strerror(-ret));
		goto free_spec;
	}
	log_debug("instance %s: domain XML:\n%s", inst->id, xml);
	instance_job_queue(op, JOB_CREATE, uuid, xml, has_tap ? &tap : NULL);
free_spec:
	for (size_t i = 0; i < vs.ndisks; i++)
		free((char *)disks[i]);
	json_decref(spec);
}

/* --- restarts by the policy --- */

/* A restart the policy scheduled is due: a new run, unless something changed meanwhile. */
static void instance_restart_due(struct daemon *d, const char *id)
{
	struct store_instance inst;
	struct instance_op *op;
	char detail[96];
	int64_t delay;
	int ret;

	if (d->stopping || store_instance_find(d->store, id, &inst) < 0)
		return;
	if (!inst.restart_at || strcmp(inst.desired, "running") || instance_active(&inst))
		goto clear;
	/*
	 * Without libvirt there is nothing to start, and the start that ended
	 * this run may still be in flight (a guest can exit before
	 * virDomainCreateXML returns): try again in a moment.
	 */
	if (!d->connected || instance_op_find(d, id)) {
		restart_schedule(d, id, util_now_ms() + (d->connected ? 100 : 1000),
				 instance_restart_due);
		goto clear;
	}
	if (!(op = instance_op_new(d, id, INSTANCE_START, NULL))) {
		restart_schedule(d, id, util_now_ms() + 1000, instance_restart_due);
		goto clear;
	}
	/* The backoff it waited, unless ukd's start brought it back (restart-pending). */
	delay = inst.restart_at - inst.finished;
	inst.restart_count++;
	if (inst.finished && delay == restart_delay_ms(inst.restart_streak))
		snprintf(detail, sizeof(detail), "restart %lld, after %lld ms",
			 (long long)inst.restart_count, (long long)delay);
	else
		snprintf(detail, sizeof(detail), "restart %lld", (long long)inst.restart_count);
	inst.restart_streak++;
	inst.restart_at = 0;
	if ((ret = store_instance_update(d->store, &inst, "instance.restarted", detail)) < 0) {
		instance_op_fail(op, 500, "store_error", "cannot record the restart: %s",
				 strerror(-ret));
		goto clear;
	}
	log_info("instance %s (%s): %s (restart policy)", inst.name, inst.id, detail);
	instance_boot(d, op, &inst);
clear:
	store_instance_clear(&inst);
}

/* --- create --- */

static int instance_name_ok(const char *s)
{
	return image_tag_ok(s) && s[0] != '_' && strlen(s) < 64;
}

static int instance_check_strings(json_t *args, json_t *env, char *err, size_t len)
{
	const char *k;
	json_t *v;
	size_t i;

	json_array_foreach(args, i, v)
	{
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return snprintf(err, len, "args[%zu] must be a string without NUL", i), -1;
	}
	json_object_foreach(env, k, v)
	{
		if (!*k ||
		    strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
			    strlen(k) ||
		    (k[0] >= '0' && k[0] <= '9'))
			return snprintf(err, len, "env name \"%.100s\" is not a valid name", k), -1;
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return snprintf(err, len, "env %s must be a string without NUL", k), -1;
	}
	return 0;
}

/*
 * "volumes": ["HOST_FILE:/dev/vdX", ...]: an absolute path to an existing
 * regular file (a raw disk image), a virtio disk name, neither used twice.
 * Returns 0 or -1 with err set.
 */
static int instance_check_volumes(json_t *vols, char *err, size_t len)
{
	char seen_dev[26] = {0};
	struct stat st, other;
	json_t *v, *w;
	size_t i, k;

	if (!json_is_array(vols))
		return snprintf(err, len, "\"volumes\" must be a list of \"FILE:/dev/vdX\""), -1;
	json_array_foreach(vols, i, v)
	{
		const char *s = json_string_value(v), *colon = s ? strrchr(s, ':') : NULL;
		char path[PATH_MAX];
		size_t plen;

		if (!s || strlen(s) != json_string_length(v) || !colon)
			return snprintf(err, len, "volumes[%zu]: expected \"FILE:/dev/vdX\"", i),
			       -1;
		plen = (size_t)(colon - s);
		if (strncmp(colon + 1, "/dev/vd", 7) || colon[8] < 'a' || colon[8] > 'z' ||
		    colon[9])
			return snprintf(
				       err, len,
				       "volumes[%zu]: \"%.100s\" is not a virtio disk (/dev/vda to "
				       "/dev/vdz)",
				       i, colon + 1),
			       -1;
		if (seen_dev[colon[8] - 'a']++)
			return snprintf(err, len, "volumes[%zu]: %s is given twice", i, colon + 1),
			       -1;
		if (!plen || s[0] != '/' || plen >= sizeof(path))
			return snprintf(err, len,
					"volumes[%zu]: the disk file must be an absolute path", i),
			       -1;
		memcpy(path, s, plen);
		path[plen] = 0;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			return snprintf(err, len,
					"volumes[%zu]: %.200s is not an existing regular file", i,
					path),
			       -1;
		/* The same file twice would be two writers on one disk. */
		for (k = 0; k < i; k++) {
			char p2[PATH_MAX];
			const char *s2 = json_string_value(w = json_array_get(vols, k));
			size_t l2 = (size_t)(strrchr(s2, ':') - s2);

			memcpy(p2, s2, l2);
			p2[l2] = 0;
			if (stat(p2, &other) == 0 && other.st_dev == st.st_dev &&
			    other.st_ino == st.st_ino)
				return snprintf(err, len, "volumes[%zu]: %.200s is attached twice",
						i, path),
				       -1;
		}
	}
	if (json_array_size(vols) > INSTANCE_VOLUMES_MAX)
		return snprintf(err, len,
				"at most %d volume(s): the runtime drives one virtio disk, "
				"/dev/vda",
				INSTANCE_VOLUMES_MAX),
		       -1;
	return 0;
}

int instance_check_body(json_t *body, json_t **spec, const char **image, const char **name,
			int *start, unsigned *mem, char *err, size_t len)
{
	static const char *const known[] = {
		"image", "name",    "memory_mib",	  "args",   "env", "start", "network",
		"ports", "volumes", "health_interval_ms", "restart"};
	struct restart_policy rp = {0};
	char policy[RESTART_POLICY_MAX];
	json_t *v, *args, *env;
	const char *k;

	if ((k = util_json_known_keys(body, known, sizeof(known) / sizeof(known[0]))))
		return snprintf(err, len, "unknown field \"%.100s\"", k), -1;
	if (!json_is_string(v = json_object_get(body, "image")) || !*json_string_value(v))
		return snprintf(err, len, "\"image\" (an image reference) is required"), -1;
	*image = json_string_value(v);
	*name = NULL;
	if ((v = json_object_get(body, "name"))) {
		if (!json_is_string(v) || !instance_name_ok(json_string_value(v)))
			return snprintf(err, len,
					"\"name\" must be 1-63 letters, digits, '.', '_' or '-', "
					"starting with a letter or digit"),
			       -1;
		*name = json_string_value(v);
	}
	*start = 1;
	if ((v = json_object_get(body, "start"))) {
		if (!json_is_boolean(v))
			return snprintf(err, len, "\"start\" must be true or false"), -1;
		*start = json_is_true(v);
	}
	*mem = 0;
	if ((v = json_object_get(body, "memory_mib"))) {
		if (!json_is_integer(v) || json_integer_value(v) < INSTANCE_MEM_MIN ||
		    json_integer_value(v) > INSTANCE_MEM_MAX)
			return snprintf(err, len, "\"memory_mib\" must be an integer from %d to %d",
					INSTANCE_MEM_MIN, INSTANCE_MEM_MAX),
			       -1;
		*mem = (unsigned)json_integer_value(v);
	}
	args = json_object_get(body, "args");
	env = json_object_get(body, "env");
	if ((args && !json_is_array(args) && !json_is_null(args)) || (env && !json_is_object(env)))
		return snprintf(err, len,
				"\"args\" must be a list of strings and \"env\" an "
				"object of strings"),
		       -1;
	if (args && json_is_null(args))
		args = NULL;
	if (instance_check_strings(args, env, err, len) < 0)
		return -1;
	if ((v = json_object_get(body, "restart"))) {
		if (!json_is_string(v))
			return snprintf(err, len,
					"\"restart\" must be a string: no, on-failure[:MAX], "
					"always or unless-stopped"),
			       -1;
		if (restart_parse(json_string_value(v), &rp, err, len) < 0)
			return -1;
	}
	restart_format(&rp, policy, sizeof(policy));
	/* "args" stays absent when not given: the image's default arguments apply. */
	*spec = json_object();
	if (!*spec || (args && json_object_set_new(*spec, "args", json_deep_copy(args)) < 0) ||
	    json_object_set_new(*spec, "env", env ? json_deep_copy(env) : json_object()) < 0 ||
	    json_object_set_new(*spec, "restart", json_string(policy)) < 0)
		return snprintf(err, len, "out of memory"), -1;
	if ((v = json_object_get(body, "volumes")) &&
	    (instance_check_volumes(v, err, len) < 0 ||
	     json_object_set_new(*spec, "volumes", json_deep_copy(v)) < 0))
		return -1;
	if ((v = json_object_get(body, "health_interval_ms"))) {
		if (!json_is_integer(v) || json_integer_value(v) < INSTANCE_HEARTBEAT_MIN_MS ||
		    json_integer_value(v) > HEALTH_INTERVAL_MAX_MS)
			return snprintf(err, len,
					"\"health_interval_ms\" must be an integer from %d to %u",
					INSTANCE_HEARTBEAT_MIN_MS, HEALTH_INTERVAL_MAX_MS),
			       -1;
		json_object_set(*spec, "health_interval_ms", v);
	}
	return 0;
}

void instance_create(struct daemon *d, struct http_req *req, json_t *body)
{
	struct store_instance inst = {0};
	struct store_image img;
	struct instance_op *op;
	struct network_attach *att = NULL;
	char err[512], dir[PATH_MAX], cmdline[INSTANCE_CMDLINE_MAX + 1];
	const char *ref, *name, *code;
	unsigned mem;
	json_t *spec = NULL;
	int start, ret;

	if (instance_check_body(body, &spec, &ref, &name, &start, &mem, err, sizeof(err)) < 0) {
		http_respond_error(req, 422, "invalid_spec", "%s", err);
		return;
	}
	if (instance_cmdline(json_object_get(spec, "env"), json_object_get(spec, "args"), cmdline,
			     sizeof(cmdline) - INSTANCE_HEALTH_WORDS) < 0) {
		http_respond_error(req, 422, "invalid_spec",
				   "args and env exceed the guest command line (%d bytes, %d "
				   "words)",
				   INSTANCE_CMDLINE_MAX, INSTANCE_WORDS_MAX);
		goto free_spec;
	}
	if ((ret = store_image_find(d->store, ref, &img)) < 0) {
		if (ret == -EINVAL)
			http_respond_error(req, 409, "ambiguous", "%s matches more than one image",
					   ref);
		else
			http_respond_error(req, ret == -ENOENT ? 404 : 500, "image_not_found",
					   "no image %s", ref);
		goto free_spec;
	}
	if (start && !d->connected) {
		http_respond_error(req, 503, "libvirt_unavailable", "not connected to libvirt: %s",
				   d->libvirt_error);
		goto free_spec;
	}
	inst.mem_mib = mem ? mem : img.mem_mib;
	json_object_set_new(spec, "memory_mib", json_integer(inst.mem_mib));
	if (start && (ret = capacity_check(d, NULL, inst.mem_mib, err, sizeof(err)))) {
		http_respond_error(req, ret == -ENOSPC ? 507 : 500,
				   ret == -ENOSPC ? "insufficient_capacity" : "internal", "%s",
				   err);
		goto free_spec;
	}
	/* Published ports listen from here on: a taken one is refused before anything exists. */
	if (!(att = calloc(1, sizeof(*att)))) {
		http_respond_error(req, 500, "internal", "out of memory");
		goto free_spec;
	}
	if ((ret = network_prepare(d, body, att, &code, err, sizeof(err)))) {
		http_respond_error(req, ret, code, "%s", err);
		goto free_spec;
	}
	if (util_random_hex(inst.id, STORE_INSTANCE_ID_LEN / 2) < 0) {
		http_respond_error(req, 500, "internal", "no random bytes for an id");
		goto free_spec;
	}
	if (name)
		snprintf(inst.name, sizeof(inst.name), "%s", name);
	else
		snprintf(inst.name, sizeof(inst.name), "%.48s-%.6s", img.name[0] ? img.name : "i",
			 inst.id);
	snprintf(inst.image_id, sizeof(inst.image_id), "%s", img.id);
	snprintf(inst.desired, sizeof(inst.desired), start ? "running" : "stopped");
	snprintf(inst.observed, sizeof(inst.observed), STORE_STATE_CREATED);
	inst.created = util_now_ms();
	if (!(inst.spec = json_dumps(spec, JSON_COMPACT))) {
		http_respond_error(req, 500, "internal", "out of memory");
		goto free_spec;
	}
	/* The directory first: a row whose console directory is missing cannot start. */
	instance_dir(d, inst.id, dir, sizeof(dir));
	if ((ret = util_mkdir(dir, 0755)) < 0) {
		http_respond_error(req, ret == -ENOSPC ? 507 : 500,
				   ret == -ENOSPC ? "insufficient_storage" : "internal",
				   "cannot create %s: %s", dir, strerror(-ret));
		goto free_inst;
	}
	if ((ret = network_insert(d, &inst, att)) < 0) {
		util_rmtree(dir);
		network_attach_free(att);
		if (ret == -EEXIST)
			http_respond_error(req, 409, "name_in_use",
					   "an instance named %s exists already", inst.name);
		else if (ret == -EADDRINUSE)
			http_respond_error(req, 409, "port_in_use",
					   "a published port is taken by another instance");
		else if (ret == -EADDRNOTAVAIL)
			http_respond_error(req, 409, "network_full",
					   "network %s has no free address", att->net.name);
		else if (ret == -ENOSPC)
			http_respond_error(req, 507, "insufficient_storage",
					   "cannot store the instance: the state directory's "
					   "filesystem is full");
		else
			http_respond_error(req, 500, "store_error", "cannot store the instance: %s",
					   strerror(-ret));
		goto free_inst;
	}
	log_info("instance %s (%s) created from sha256:%.12s", inst.name, inst.id, img.id);
	if (!start) {
		instance_respond(req, 201, &inst);
		goto free_inst;
	}
	if (!(op = instance_op_new(d, inst.id, INSTANCE_CREATE, req))) {
		http_respond_error(req, 500, "internal", "out of memory");
		goto free_inst;
	}
	instance_boot(d, op, &inst);
free_inst:
	store_instance_clear(&inst);
free_spec:
	if (att)
		network_attach_free(att);
	free(att);
	json_decref(spec);
}

/* --- actions on an existing instance --- */

static void instance_begin_stop(struct daemon *d, struct instance_op *op,
				struct store_instance *inst, enum instance_job_kind first)
{
	int ret;

	snprintf(inst->desired, sizeof(inst->desired), "stopped");
	snprintf(inst->observed, sizeof(inst->observed), STORE_STATE_STOPPING);
	if ((ret = store_instance_update(d->store, inst, "instance.stopping", NULL)) < 0) {
		instance_op_fail(op, 500, "store_error", "cannot record the stop: %s",
				 strerror(-ret));
		return;
	}
	/*
	 * The runtime ignores ACPI: a graceful stop goes through the health
	 * channel (SIGTERM, then the guest powers off at its deadline, a little
	 * before ours, so its exit frame says how it ended). Without a channel,
	 * the ACPI request and then destroy at the deadline, as before.
	 */
	if (first == JOB_SHUTDOWN && op->timeout_s > 0) {
		unsigned ms = (unsigned)op->timeout_s * 1000;

		/* The guest looks at the channel once a heartbeat interval (1 s): margin for that.
		 */
		unsigned margin = ms / 2 < 2000 ? ms / 2 : 2000;

		if (health_shutdown(d, inst->id, ms - margin) == 0) {
			log_info("instance %s: shutdown sent to the guest (%d s)", inst->id,
				 op->timeout_s);
			uv_timer_start(&op->timer, instance_stop_deadline, ms, 0);
			return;
		}
	}
	instance_job_queue(op, first, inst->domain_uuid, NULL, NULL);
}

/*
 * A stop or kill of an instance that is down but meant to run (a restart
 * pending, a crash loop, or just exited): the user's wish is recorded, so
 * no policy brings it back, "unless-stopped" not even after a ukd restart.
 */
static void instance_stop_idle(struct daemon *d, struct http_req *req, struct store_instance *inst)
{
	int pending = inst->restart_at != 0, ret;

	restart_cancel(d, inst->id);
	inst->restart_at = 0;
	snprintf(inst->desired, sizeof(inst->desired), "stopped");
	if ((ret = store_instance_update(d->store, inst, "instance.stopped",
					 pending ? "pending restart cancelled" : inst->observed)) <
	    0) {
		http_respond_error(req, 500, "store_error", "cannot record the stop: %s",
				   strerror(-ret));
		return;
	}
	instance_respond(req, 200, inst);
}

static void instance_delete_now(struct daemon *d, struct http_req *req, struct store_instance *inst)
{
	struct instance_op *op = instance_op_new(d, inst->id, INSTANCE_DELETE, req);

	if (!op) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	instance_remove(op, inst);
}

void instance_act(struct daemon *d, struct http_req *req, const char *ref,
		  enum instance_action action, int timeout_s, int force)
{
	struct store_instance inst;
	struct instance_op *op;
	int ret, active;

	if ((ret = store_instance_find(d->store, ref, &inst)) < 0) {
		instance_store_error(req, ret, ref);
		return;
	}
	active = instance_active(&inst);
	op = instance_op_find(d, inst.id);
	if (op && action == INSTANCE_KILL && op->kind == INSTANCE_STOP &&
	    uv_is_active((uv_handle_t *)&op->timer)) {
		/*
		 * A kill while a graceful stop waits for the guest (a second
		 * Ctrl-C) cuts the stop's deadline short: the domain is destroyed
		 * now and the stop request answers once it is gone.
		 */
		uv_timer_start(&op->timer, instance_stop_deadline, 0, 0);
		instance_respond(req, 202, &inst);
		goto clear;
	}
	if (op && !op->req && !op->then_req && op->kind == INSTANCE_START &&
	    (action == INSTANCE_STOP || action == INSTANCE_KILL)) {
		/*
		 * A restart the policy began (nobody waits for it): the stop or
		 * kill follows as soon as the start is through, so a restarting
		 * instance can always be stopped.
		 */
		op->then_req = req;
		op->then_action = action;
		op->then_timeout_s = timeout_s;
		goto clear;
	}
	if (op) {
		http_respond_error(req, 409, "busy",
				   "instance %s has another operation in progress", inst.name);
		goto clear;
	}
	if (action == INSTANCE_DELETE && !active) {
		instance_delete_now(d, req, &inst);
		goto clear;
	}
	if (action == INSTANCE_DELETE && !force) {
		http_respond_error(req, 409, "running",
				   "instance %s is %s; stop it first or delete with ?force=1",
				   inst.name, inst.observed);
		goto clear;
	}
	if ((action == INSTANCE_STOP || action == INSTANCE_KILL) && !active &&
	    !strcmp(inst.desired, "running")) {
		instance_stop_idle(d, req, &inst);
		goto clear;
	}
	if (action == INSTANCE_START && active) {
		http_respond_error(req, 409, "running", "instance %s is already %s", inst.name,
				   inst.observed);
		goto clear;
	}
	if ((action == INSTANCE_STOP || action == INSTANCE_KILL) && !active) {
		instance_respond(req, 200, &inst); /* already where the caller wants it */
		goto clear;
	}
	if (!d->connected) {
		http_respond_error(req, 503, "libvirt_unavailable", "not connected to libvirt: %s",
				   d->libvirt_error);
		goto clear;
	}
	if (action == INSTANCE_START || (action == INSTANCE_RESTART && !active)) {
		char err[512];
		json_t *spec = json_loads(inst.spec, 0, NULL);
		unsigned mem = (unsigned)json_integer_value(json_object_get(spec, "memory_mib"));
		int ret;

		json_decref(spec);
		if ((ret = capacity_check(d, inst.id, mem, err, sizeof(err)))) {
			http_respond_error(req, ret == -ENOSPC ? 507 : 500,
					   ret == -ENOSPC ? "insufficient_capacity" : "internal",
					   "%s", err);
			goto clear;
		}
	}
	if (!(op = instance_op_new(d, inst.id, action, req))) {
		http_respond_error(req, 500, "internal", "out of memory");
		goto clear;
	}
	op->timeout_s = timeout_s;
	if (action == INSTANCE_START || (action == INSTANCE_RESTART && !active)) {
		op->booting = 1;
		instance_user_start(d, &inst);
		instance_boot(d, op, &inst);
	} else {
		instance_begin_stop(d, op, &inst,
				    action == INSTANCE_STOP || action == INSTANCE_RESTART
					    ? JOB_SHUTDOWN
					    : JOB_DESTROY);
	}
clear:
	store_instance_clear(&inst);
}

void instance_offender(struct daemon *d, const char *id, const char *why)
{
	struct store_instance inst;
	struct instance_op *op;
	int ret;

	if (d->stopping || store_instance_find(d->store, id, &inst) < 0)
		return;
	/* An operation in flight (a user's stop, a restart) ends this run anyway. */
	if (!instance_active(&inst) || instance_op_find(d, inst.id) || !d->connected) {
		log_warn("instance %s: %s; not destroyed (%s)", inst.id, why,
			 !instance_active(&inst) ? "not running"
			 : d->connected		 ? "another operation in progress"
						 : "libvirt unavailable");
		goto clear;
	}
	if (!(op = instance_op_new(d, inst.id, INSTANCE_KILL, NULL))) {
		log_error("instance %s: %s; cannot destroy it: out of memory", inst.id, why);
		goto clear;
	}
	snprintf(op->offense, sizeof(op->offense), "%s", why);
	/* Not a user's stop: the desired state stays, so the restart policy decides next. */
	snprintf(inst.observed, sizeof(inst.observed), STORE_STATE_STOPPING);
	if ((ret = store_instance_update(d->store, &inst, "instance.stopping", why)) < 0)
		log_error("instance %s: cannot record the stop: %s", inst.id, strerror(-ret));
	log_warn("instance %s (%s): destroying it: %s", inst.name, inst.id, why);
	instance_job_queue(op, JOB_DESTROY, inst.domain_uuid, NULL, NULL);
clear:
	store_instance_clear(&inst);
}

/* --- reconciliation --- */

struct instance_ids {
	char (*ids)[STORE_INSTANCE_ID_LEN + 1];
	size_t n, cap;
};

static int instance_ids_add(struct instance_ids *l, const char *id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p = realloc(l->ids, cap * sizeof(*l->ids));

		if (!p)
			return -ENOMEM;
		l->ids = p;
		l->cap = cap;
	}
	snprintf(l->ids[l->n++], STORE_INSTANCE_ID_LEN + 1, "%s", id);
	return 0;
}

static int instance_collect(const struct store_instance *inst, void *opaque)
{
	return instance_active(inst) ? instance_ids_add(opaque, inst->id) : 0;
}

void instance_recheck(struct daemon *d, const struct virt_domain *was, size_t nwas,
		      const struct virt_domain *now, size_t nnow)
{
	struct store_instance inst;
	size_t i, k;

	for (i = 0; i < nwas; i++) {
		for (k = 0; k < nnow && strcmp(was[i].uuid, now[k].uuid); k++)
			;
		if (k < nnow || store_instance_by_domain(d->store, was[i].uuid, &inst) < 0)
			continue;
		if (instance_active(&inst) && !instance_op_find(d, inst.id)) {
			log_warn("instance %s (%s): domain %s ended without an event; recorded",
				 inst.name, inst.id, was[i].name);
			instance_exited(d, &inst, "vanished",
					"the domain ended while ukd was restarting");
		}
		store_instance_clear(&inst);
	}
}

/* The heartbeat interval the instance's spec asks for (0: the runtime's default). */
static uint32_t instance_heartbeat(const struct store_instance *inst)
{
	json_t *spec = json_loads(inst->spec, 0, NULL);
	uint32_t ms = (uint32_t)json_integer_value(json_object_get(spec, "health_interval_ms"));

	json_decref(spec);
	return ms;
}

static void instance_reconcile_one(struct daemon *d, const char *id, const struct virt_domain *doms,
				   size_t n)
{
	struct store_instance inst;
	size_t i;

	/* An operation in flight owns the instance; it records the outcome itself. */
	if (instance_op_find(d, id) || store_instance_find(d->store, id, &inst) < 0)
		return;
	for (i = 0; i < n; i++)
		if (!strcmp(doms[i].uuid, inst.domain_uuid))
			break;
	if (i < n) {
		if (strcmp(inst.observed, STORE_STATE_RUNNING)) {
			instance_running(d, &inst, "instance.adopted");
		} else {
			store_event_add(d->store, "instance.adopted", inst.id, doms[i].name);
		}
		log_info("instance %s (%s): domain %s is running; adopted", inst.name, inst.id,
			 doms[i].name);
		instance_adopt_watches(d, &inst);
	} else {
		char dir[PATH_MAX];
		int status;

		/* It ended while nobody watched: a final status on the console says how. */
		instance_dir(d, inst.id, dir, sizeof(dir));
		instance_exited(d, &inst,
				console_exit_status(dir, &status) == 1 ? "exited" : "vanished",
				"the domain ended while ukd was not watching");
	}
	store_instance_clear(&inst);
}

/*
 * After a reconcile: re-arms restarts the store has pending (they survive a
 * ukd restart), and once per ukd start brings back "always" instances that
 * are down and "unless-stopped" ones no user stopped (restart.h).
 */
static void instance_restore_one(struct daemon *d, const char *id)
{
	struct store_instance inst;
	struct restart_policy p;
	int ret;

	if (instance_op_find(d, id) || restart_pending(d, id) ||
	    store_instance_find(d->store, id, &inst) < 0)
		return;
	if (instance_active(&inst))
		goto clear;
	if (inst.restart_at && !strcmp(inst.desired, "running")) {
		restart_schedule(d, id, inst.restart_at, instance_restart_due);
		goto clear;
	}
	restart_of_spec(inst.spec, &p);
	if (d->restored || strcmp(inst.observed, STORE_STATE_EXITED) ||
	    !(p.mode == RESTART_ALWAYS ||
	      (p.mode == RESTART_UNLESS_STOPPED && !strcmp(inst.desired, "running"))))
		goto clear;
	snprintf(inst.desired, sizeof(inst.desired), "running");
	inst.restart_at = util_now_ms();
	ret = store_instance_update(d->store, &inst, "instance.restart-pending",
				    p.mode == RESTART_ALWAYS
					    ? "ukd started; policy always"
					    : "ukd started; policy unless-stopped");
	if (ret == 0)
		restart_schedule(d, id, inst.restart_at, instance_restart_due);
clear:
	store_instance_clear(&inst);
}

static int instance_collect_all(const struct store_instance *inst, void *opaque)
{
	return instance_ids_add(opaque, inst->id);
}

/*
 * A create killed between making its directory and storing its row (the
 * directory comes first) leaves a directory that no instance owns: removed
 * here. Creates run on the loop, so none is between the two steps now.
 */
static void instance_sweep_dirs(struct daemon *d)
{
	char path[PATH_MAX];
	struct store_instance inst;
	struct dirent *e;
	DIR *dir;
	int ret;

	util_pathf(path, sizeof(path), "%s/instances", d->cfg->root);
	if (!(dir = opendir(path)))
		return;
	while ((e = readdir(dir))) {
		if (strlen(e->d_name) != STORE_INSTANCE_ID_LEN ||
		    !util_is_hex(e->d_name, STORE_INSTANCE_ID_LEN))
			continue;
		if ((ret = store_instance_find(d->store, e->d_name, &inst)) == 0)
			store_instance_clear(&inst);
		if (ret != -ENOENT)
			continue;
		instance_dir(d, e->d_name, path, sizeof(path));
		log_info("instance directory %s belongs to no instance (a create cut short); "
			 "removed",
			 path);
		qemusock_unlink(e->d_name, path);
		util_rmtree(path);
	}
	closedir(dir);
}

void instance_reconcile(struct daemon *d, const struct virt_domain *doms, size_t n)
{
	struct instance_ids l = {0};
	struct store_instance inst;

	if (store_instance_list(d->store, instance_collect, &l) < 0) {
		log_error("reconcile: cannot list instances");
		free(l.ids);
		return;
	}
	for (size_t i = 0; i < l.n; i++)
		instance_reconcile_one(d, l.ids[i], doms, n);
	free(l.ids);
	instance_sweep_dirs(d);
	/* Domains that carry ukd's metadata but match no live run: reported, never killed. */
	for (size_t i = 0; i < n; i++) {
		int known = doms[i].instance_id[0] &&
			    store_instance_by_domain(d->store, doms[i].uuid, &inst) == 0;

		if (known) {
			known = !strcmp(inst.id, doms[i].instance_id);
			store_instance_clear(&inst);
		}
		if (known)
			continue;
		log_warn("reconcile: domain %s (%s) carries ukd metadata (instance %s) but is no "
			 "instance run ukd knows; leaving it alone",
			 doms[i].name, doms[i].uuid,
			 doms[i].instance_id[0] ? doms[i].instance_id : "?");
		store_event_add(d->store, "domain.unknown", doms[i].instance_id, doms[i].name);
	}
	l = (struct instance_ids){0};
	if (store_instance_list(d->store, instance_collect_all, &l) < 0)
		log_error("reconcile: cannot restore restart policies");
	for (size_t i = 0; i < l.n; i++)
		instance_restore_one(d, l.ids[i]);
	free(l.ids);
	d->restored = 1;
}

void instance_shutdown(struct daemon *d)
{
	instance_later_close_all(d);
	/* Answers are dropped: the HTTP server is closing; the guests keep running. */
	for (struct instance_op *op = d->ops, *next; op; op = next) {
		next = op->next;
		if (!op->done) {
			if (op->req)
				http_respond_error(op->req, 503, "shutting_down",
						   "ukd is shutting down");
			op->req = NULL;
			instance_op_end(op);
		}
	}
}
