/*
 * stats.c: instance resource usage from libvirt (see stats.h).
 *
 * A stats request is a small state machine on the loop: read (thread pool)
 * -> wait sample_ms (timer) -> read again (thread pool) -> answer. The
 * request stays valid if the client goes away (http.h), so nothing needs
 * cancelling; a daemon that stops answers 503 at the next step.
 */
#define _GNU_SOURCE
#include "stats.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health.h"
#include "store.h"
#include "util.h"
#include "virt.h"

struct stats_req {
	uv_work_t work;
	uv_timer_t timer;
	struct daemon *d;
	struct http_req *req;
	char id[STORE_INSTANCE_ID_LEN + 1];
	char name[STORE_NAME_MAX];
	char uuid[37]; /* the run's domain; "" for every domain (metrics) */
	int sample_ms;
	int readings;	      /* readings done */
	struct virt_stats s0; /* the first reading */
	int64_t t0_ns;
	struct virt_stats *s; /* the latest reading(s) */
	size_t n;
	int64_t t_ns;
	int ret;
	char err[512];
};

static int64_t stats_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void stats_req_free(uv_handle_t *h)
{
	struct stats_req *r = h->data;

	free(r->s);
	free(r);
}

/* Ends the request: the answer has been sent. */
static void stats_req_end(struct stats_req *r)
{
	uv_close((uv_handle_t *)&r->timer, stats_req_free);
}

static void stats_read_work(uv_work_t *w)
{
	struct stats_req *r = w->data;

	free(r->s);
	r->s = NULL;
	r->ret = virt_stats(r->d->virt, r->uuid[0] ? r->uuid : NULL, &r->s, &r->n, r->err,
			    sizeof(r->err));
	r->t_ns = stats_mono_ns();
}

static void stats_read_done(uv_work_t *w, int status);

static int stats_queue(struct stats_req *r)
{
	return uv_queue_work(r->d->loop, &r->work, stats_read_work, stats_read_done);
}

static void stats_timer_cb(uv_timer_t *t)
{
	struct stats_req *r = t->data;
	int ret;

	if (r->d->stopping) {
		http_respond_error(r->req, 503, "shutting_down", "ukd is shutting down");
		stats_req_end(r);
		return;
	}
	if ((ret = stats_queue(r)) < 0) {
		http_respond_error(r->req, 500, "internal", "cannot queue work: %s",
				   uv_strerror(ret));
		stats_req_end(r);
	}
}

/* The guest's own view of its memory (health heartbeat), when it reports one. */
static json_t *stats_guest_used(struct daemon *d, const char *id)
{
	json_t *h = health_json(d, id), *v;

	v = json_object_get(json_object_get(h, "heartbeat"), "memory_used_bytes");
	v = json_is_integer(v) ? json_incref(v) : NULL;
	json_decref(h);
	return v;
}

static void stats_answer(struct stats_req *r)
{
	const struct virt_stats *s = &r->s[0];
	char now[40], *text = NULL;
	json_t *o, *pct = json_null();

	if (r->readings == 2 && r->t_ns > r->t0_ns) {
		double p =
			(double)(s->cpu_ns - r->s0.cpu_ns) * 100.0 / (double)(r->t_ns - r->t0_ns);

		pct = json_real(s->cpu_ns >= r->s0.cpu_ns ? p : 0.0);
	}
	util_time_str(util_now_ms(), now, sizeof(now));
	o = json_pack("{s:s, s:s, s:s, s:i, s:{s:I, s:o}, s:{s:I, s:I, s:o?}, "
		      "s:{s:i, s:I, s:I, s:I, s:I}}",
		      "id", r->id, "name", r->name, "read", now, "sample_ms",
		      r->readings == 2 ? r->sample_ms : 0, "cpu", "time_ns", (json_int_t)s->cpu_ns,
		      "percent", pct, "memory", "current_bytes", (json_int_t)(s->mem_kib << 10),
		      "max_bytes", (json_int_t)(s->mem_max_kib << 10), "guest_used_bytes",
		      stats_guest_used(r->d, r->id), "network", "interfaces", (int)s->nics,
		      "rx_bytes", (json_int_t)s->rx_bytes, "rx_packets", (json_int_t)s->rx_packets,
		      "tx_bytes", (json_int_t)s->tx_bytes, "tx_packets", (json_int_t)s->tx_packets);
	/* QEMU's RSS only when libvirt knows it: absent rather than a false 0. */
	if (o && s->rss_kib)
		json_object_set_new(json_object_get(o, "memory"), "rss_bytes",
				    json_integer((json_int_t)(s->rss_kib << 10)));
	if (o)
		text = json_dumps(o, JSON_COMPACT);
	if (text)
		http_respond_json(r->req, 200, text);
	else
		http_respond_error(r->req, 500, "internal", "out of memory");
	free(text);
	json_decref(o);
}

static void stats_metrics_answer(struct stats_req *r);

static void stats_read_done(uv_work_t *w, int status)
{
	struct stats_req *r = w->data;

	(void)status;
	if (!r->uuid[0]) {
		stats_metrics_answer(r);
		stats_req_end(r);
		return;
	}
	if (r->ret < 0) {
		if (r->ret == -ENOENT)
			http_respond_error(r->req, 409, "not_running", "instance %s is not running",
					   r->name);
		else if (r->ret == -ENOTCONN)
			http_respond_error(r->req, 503, "libvirt_unavailable", "%s", r->err);
		else
			http_respond_error(r->req, 500, "libvirt_error", "%s", r->err);
		stats_req_end(r);
		return;
	}
	if (++r->readings == 1 && r->sample_ms > 0) {
		r->s0 = r->s[0];
		r->t0_ns = r->t_ns;
		uv_timer_start(&r->timer, stats_timer_cb, (uint64_t)r->sample_ms, 0);
		return;
	}
	stats_answer(r);
	stats_req_end(r);
}

static struct stats_req *stats_req_new(struct daemon *d, struct http_req *req)
{
	struct stats_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->d = d;
	r->req = req;
	r->work.data = r;
	uv_timer_init(d->loop, &r->timer);
	r->timer.data = r;
	return r;
}

void stats_instance(struct daemon *d, struct http_req *req, const char *ref, int sample_ms)
{
	struct store_instance inst;
	struct stats_req *r;
	int ret;

	if ((ret = store_instance_find(d->store, ref, &inst)) < 0) {
		if (ret == -ENOENT)
			http_respond_error(req, 404, "instance_not_found", "no instance %s", ref);
		else if (ret == -EINVAL)
			http_respond_error(req, 409, "ambiguous",
					   "%s matches more than one instance", ref);
		else
			http_respond_error(req, 500, "store_error", "the store failed");
		return;
	}
	if (strcmp(inst.observed, STORE_STATE_RUNNING) || !inst.domain_uuid[0]) {
		http_respond_error(req, 409, "not_running", "instance %s is %s, not running",
				   inst.name, inst.observed);
		goto clear;
	}
	if (!d->connected) {
		http_respond_error(req, 503, "libvirt_unavailable", "not connected to libvirt: %s",
				   d->libvirt_error);
		goto clear;
	}
	if (!(r = stats_req_new(d, req))) {
		http_respond_error(req, 500, "internal", "out of memory");
		goto clear;
	}
	snprintf(r->id, sizeof(r->id), "%s", inst.id);
	snprintf(r->name, sizeof(r->name), "%s", inst.name);
	snprintf(r->uuid, sizeof(r->uuid), "%s", inst.domain_uuid);
	r->sample_ms = sample_ms;
	if ((ret = stats_queue(r)) < 0) {
		http_respond_error(req, 500, "internal", "cannot queue work: %s", uv_strerror(ret));
		stats_req_end(r);
	}
clear:
	store_instance_clear(&inst);
}

/* --- metrics --- */

struct stats_series {
	const char *name, *type, *help;
	size_t off;
	unsigned long long scale; /* multiplier (KiB -> bytes) */
};

static const struct stats_series stats_series[] = {
	{"ukd_instance_vm_cpu_seconds_total", "counter",
	 "CPU time of the instance's VM (vCPU and QEMU)", offsetof(struct virt_stats, cpu_ns), 0},
	{"ukd_instance_vm_memory_bytes", "gauge", "memory given to the instance's VM",
	 offsetof(struct virt_stats, mem_kib), 1024},
	{"ukd_instance_vm_memory_max_bytes", "gauge", "most memory the instance's VM may have",
	 offsetof(struct virt_stats, mem_max_kib), 1024},
	{"ukd_instance_vm_rss_bytes", "gauge", "host memory the instance's QEMU holds (RSS)",
	 offsetof(struct virt_stats, rss_kib), 1024},
	{"ukd_instance_network_receive_bytes_total", "counter", "bytes the instance received",
	 offsetof(struct virt_stats, rx_bytes), 1},
	{"ukd_instance_network_receive_packets_total", "counter", "packets the instance received",
	 offsetof(struct virt_stats, rx_packets), 1},
	{"ukd_instance_network_transmit_bytes_total", "counter", "bytes the instance sent",
	 offsetof(struct virt_stats, tx_bytes), 1},
	{"ukd_instance_network_transmit_packets_total", "counter", "packets the instance sent",
	 offsetof(struct virt_stats, tx_packets), 1},
};

#define STATS_NSERIES (sizeof(stats_series) / sizeof(stats_series[0]))

/* The running instances' (domain uuid, id, name), to label libvirt's records. */
struct stats_runs {
	struct stats_run {
		char uuid[37], id[STORE_INSTANCE_ID_LEN + 1], name[STORE_NAME_MAX];
	} * v;
	size_t n, cap;
};

static int stats_collect_run(const struct store_instance *inst, void *opaque)
{
	struct stats_runs *l = opaque;

	if (strcmp(inst->observed, STORE_STATE_RUNNING) || !inst->domain_uuid[0])
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		void *p = realloc(l->v, cap * sizeof(*l->v));

		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	snprintf(l->v[l->n].uuid, sizeof(l->v[l->n].uuid), "%s", inst->domain_uuid);
	snprintf(l->v[l->n].id, sizeof(l->v[l->n].id), "%s", inst->id);
	snprintf(l->v[l->n].name, sizeof(l->v[l->n].name), "%s", inst->name);
	l->n++;
	return 0;
}

static const struct stats_run *stats_run_of(const struct stats_runs *l, const char *uuid)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].uuid, uuid))
			return &l->v[i];
	return NULL;
}

static void stats_metrics_text(struct stats_req *r, struct util_buf *b)
{
	struct stats_runs runs = {0};

	if (r->ret < 0 || store_instance_list(r->d->store, stats_collect_run, &runs) < 0) {
		free(runs.v);
		return;
	}
	for (size_t k = 0; k < STATS_NSERIES; k++) {
		const struct stats_series *m = &stats_series[k];

		util_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
				m->type);
		for (size_t i = 0; i < r->n; i++) {
			const struct stats_run *run = stats_run_of(&runs, r->s[i].uuid);
			unsigned long long v =
				*(const unsigned long long *)((const char *)&r->s[i] + m->off);

			if (!run || (m->off == offsetof(struct virt_stats, rss_kib) && !v))
				continue;
			util_buf_printf(b, "%s{instance=\"%s\",name=\"%s\"} ", m->name, run->id,
					run->name);
			if (m->scale)
				util_buf_printf(b, "%llu\n", v * m->scale);
			else
				util_buf_printf(b, "%.9f\n", (double)v / 1e9);
		}
	}
	free(runs.v);
}

static void stats_metrics_answer(struct stats_req *r)
{
	struct util_buf b = {0};

	health_metrics_text(r->d, &b);
	stats_metrics_text(r, &b);
	if (b.oom)
		http_respond_error(r->req, 500, "internal", "out of memory");
	else
		http_respond(r->req, 200, "text/plain; version=0.0.4", b.s ? b.s : "", b.len, NULL);
	util_buf_free(&b);
}

void stats_metrics(struct daemon *d, struct http_req *req)
{
	struct stats_req *r;

	if (!(r = stats_req_new(d, req))) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	/* Without libvirt the health series still answer. */
	if (!d->connected) {
		r->ret = -ENOTCONN;
		stats_metrics_answer(r);
		stats_req_end(r);
		return;
	}
	if (stats_queue(r) < 0) {
		r->ret = -ENOMEM;
		stats_metrics_answer(r);
		stats_req_end(r);
	}
}
