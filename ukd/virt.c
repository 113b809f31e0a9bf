/*
 * virt.c: libvirt driver (see virt.h).
 */
#define _GNU_SOURCE
#include "virt.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ukhealth.h"
#include "util.h"

#define VIRT_QUEUE_MAX 4096

struct virt {
	uv_loop_t *loop;
	char *uri;
	virt_event_fn cb;
	void *opaque;
	uv_async_t async;
	pthread_t thread;
	int thread_started;
	atomic_int quit;
	int wake_timer;
	/* lock guards everything below: workers, the event thread and the loop share it */
	pthread_mutex_t lock;
	virConnectPtr conn;
	int broken; /* the close callback fired: conn is dead */
	int cb_id;
	struct virt_event queue[VIRT_QUEUE_MAX];
	size_t qlen;
	int qoverflow;
};

/* libvirt prints every error to stderr by default; ukd reports them itself. */
static void virt_quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static int virt_err(char *err, size_t errlen, const char *what)
{
	const char *msg = virGetLastErrorMessage();
	virErrorPtr e = virGetLastError();
	int code = e ? e->code : VIR_ERR_INTERNAL_ERROR;

	snprintf(err, errlen, "%s: %s", what, msg ? msg : "unknown libvirt error");
	if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID)
		return -ENOENT;
	if (code == VIR_ERR_SYSTEM_ERROR || code == VIR_ERR_NO_CONNECT || code == VIR_ERR_RPC)
		return -ENOTCONN;
	return -EIO;
}

/* --- events: libvirt's thread to the loop --- */

static void virt_post(struct virt *v, const struct virt_event *ev)
{
	pthread_mutex_lock(&v->lock);
	if (v->qlen < VIRT_QUEUE_MAX)
		v->queue[v->qlen++] = *ev;
	else
		v->qoverflow = 1;
	pthread_mutex_unlock(&v->lock);
	uv_async_send(&v->async);
}

static void virt_drain(uv_async_t *a)
{
	struct virt *v = a->data;
	struct virt_event *evs;
	size_t n;
	int overflow;

	pthread_mutex_lock(&v->lock);
	n = v->qlen;
	overflow = v->qoverflow;
	evs = malloc(n * sizeof(*evs) + 1);
	if (evs)
		memcpy(evs, v->queue, n * sizeof(*evs));
	v->qlen = 0;
	v->qoverflow = 0;
	pthread_mutex_unlock(&v->lock);
	if (!evs)
		n = 0, overflow = 1;
	/*
	 * Lost events are reported like a lost connection: the daemon then
	 * reconciles with libvirt's actual state rather than trusting its own.
	 */
	if (overflow) {
		struct virt_event lost = {.kind = VIRT_EV_DISCONNECTED};

		log_warn("virt: event queue overflowed; reconciling");
		v->cb(&lost, v->opaque);
	}
	for (size_t i = 0; i < n; i++)
		v->cb(&evs[i], v->opaque);
	free(evs);
}

static int virt_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
			     void *opaque)
{
	struct virt_event ev = {.kind = VIRT_EV_OTHER};
	const char *name = virDomainGetName(dom);

	(void)conn;
	/* Other domains on this libvirt are none of ukd's business. */
	if (!name || strncmp(name, VIRT_DOMAIN_PREFIX, strlen(VIRT_DOMAIN_PREFIX)))
		return 0;
	if (virDomainGetUUIDString(dom, ev.uuid) < 0)
		return 0;
	snprintf(ev.name, sizeof(ev.name), "%s", name);
	if (event == VIR_DOMAIN_EVENT_STARTED) {
		ev.kind = VIRT_EV_STARTED;
	} else if (event == VIR_DOMAIN_EVENT_STOPPED) {
		ev.kind = VIRT_EV_STOPPED;
		switch (detail) {
		case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: ev.reason = VIRT_STOP_SHUTDOWN; break;
		case VIR_DOMAIN_EVENT_STOPPED_DESTROYED: ev.reason = VIRT_STOP_DESTROYED; break;
		case VIR_DOMAIN_EVENT_STOPPED_CRASHED: ev.reason = VIRT_STOP_CRASHED; break;
		case VIR_DOMAIN_EVENT_STOPPED_FAILED: ev.reason = VIRT_STOP_FAILED; break;
		default: ev.reason = VIRT_STOP_OTHER;
		}
	} else {
		return 0;
	}
	log_debug("virt: event %d/%d for %s", event, detail, name);
	virt_post(opaque, &ev);
	return 0;
}

static void virt_on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct virt *v = opaque;
	struct virt_event ev = {.kind = VIRT_EV_DISCONNECTED};

	(void)conn;
	log_warn("virt: connection to libvirt lost (reason %d)", reason);
	pthread_mutex_lock(&v->lock);
	v->broken = 1;
	pthread_mutex_unlock(&v->lock);
	virt_post(v, &ev);
}

static void virt_wake(int timer, void *opaque)
{
	(void)opaque;
	virEventUpdateTimeout(timer, -1);
}

static void *virt_thread(void *arg)
{
	struct virt *v = arg;

	while (!atomic_load(&v->quit))
		if (virEventRunDefaultImpl() < 0)
			log_error("virt: event loop: %s", virGetLastErrorMessage());
	return NULL;
}

static void virt_closed(uv_handle_t *h)
{
	struct virt *v = h->data;

	pthread_mutex_destroy(&v->lock);
	free(v->uri);
	free(v);
}

int virt_new(struct virt **out, uv_loop_t *loop, const char *uri, virt_event_fn cb, void *opaque)
{
	static int registered;
	struct virt *v = calloc(1, sizeof(*v));
	int ret;

	if (!v || !(v->uri = strdup(uri))) {
		free(v);
		return -ENOMEM;
	}
	v->loop = loop;
	v->cb = cb;
	v->opaque = opaque;
	v->cb_id = -1;
	pthread_mutex_init(&v->lock, NULL);
	virSetErrorFunc(NULL, virt_quiet);
	/* Once per process, and before the first connection. */
	if (!registered) {
		if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
			ret = -EIO;
			goto free_v;
		}
		registered = 1;
	}
	/* A timer that never fires by itself: virt_free arms it to wake the thread. */
	if ((v->wake_timer = virEventAddTimeout(-1, virt_wake, NULL, NULL)) < 0) {
		ret = -EIO;
		goto free_v;
	}
	if ((ret = uv_async_init(loop, &v->async, virt_drain)) < 0)
		goto remove_timer;
	v->async.data = v;
	/* Events alone must not keep the loop alive: shutdown ends when the rest is done. */
	uv_unref((uv_handle_t *)&v->async);
	if ((ret = -pthread_create(&v->thread, NULL, virt_thread, v)) < 0)
		goto close_async;
	v->thread_started = 1;
	*out = v;
	return 0;
close_async:
	virEventRemoveTimeout(v->wake_timer);
	/* v holds the async handle: virt_closed frees it once libuv is done. */
	uv_close((uv_handle_t *)&v->async, virt_closed);
	return ret;
remove_timer:
	virEventRemoveTimeout(v->wake_timer);
free_v:
	free(v->uri);
	free(v);
	return ret;
}

/*
 * Closes a connection taken out of v. Called without v->lock held: these are
 * RPCs, and the event thread must stay free to take the lock meanwhile.
 */
static void virt_drop_conn(virConnectPtr conn, int cb_id)
{
	if (!conn)
		return;
	if (cb_id >= 0)
		virConnectDomainEventDeregisterAny(conn, cb_id);
	virConnectUnregisterCloseCallback(conn, virt_on_close);
	virConnectClose(conn);
}

void virt_free(struct virt *v)
{
	virConnectPtr old;
	int old_id;

	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	old = v->conn;
	old_id = v->cb_id;
	v->conn = NULL;
	v->cb_id = -1;
	pthread_mutex_unlock(&v->lock);
	virt_drop_conn(old, old_id);
	if (v->thread_started) {
		atomic_store(&v->quit, 1);
		virEventUpdateTimeout(v->wake_timer, 0);
		pthread_join(v->thread, NULL);
	}
	virEventRemoveTimeout(v->wake_timer);
	uv_close((uv_handle_t *)&v->async, virt_closed);
}

/* --- blocking calls --- */

int virt_connected(struct virt *v)
{
	int ok;

	pthread_mutex_lock(&v->lock);
	ok = v->conn && !v->broken;
	pthread_mutex_unlock(&v->lock);
	return ok;
}

int virt_connect(struct virt *v, char *err, size_t errlen)
{
	virConnectPtr conn, old;
	int id, old_id;

	if (virt_connected(v))
		return 0;
	if (!(conn = virConnectOpen(v->uri))) {
		virt_err(err, errlen, v->uri);
		return -ENOTCONN;
	}
	/* Keepalives notice a dead libvirtd; they need the event loop we run. */
	virConnectSetKeepAlive(conn, 5, 3);
	id = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
					      VIR_DOMAIN_EVENT_CALLBACK(virt_on_lifecycle), v,
					      NULL);
	if (id < 0) {
		virt_err(err, errlen, "registering for domain events");
		virConnectClose(conn);
		return -EIO;
	}
	virConnectRegisterCloseCallback(conn, virt_on_close, v, NULL);
	pthread_mutex_lock(&v->lock);
	old = v->conn;
	old_id = v->cb_id;
	v->conn = conn;
	v->cb_id = id;
	v->broken = 0;
	pthread_mutex_unlock(&v->lock);
	virt_drop_conn(old, old_id);
	return 0;
}

/* A reference to the live connection, or NULL; release with virConnectClose. */
static virConnectPtr virt_conn(struct virt *v, char *err, size_t errlen)
{
	virConnectPtr c = NULL;

	pthread_mutex_lock(&v->lock);
	if (v->conn && !v->broken && virConnectRef(v->conn) == 0)
		c = v->conn;
	pthread_mutex_unlock(&v->lock);
	if (!c)
		snprintf(err, errlen, "not connected to libvirt (%s)", v->uri);
	return c;
}

int virt_create(struct virt *v, const char *xml, char *err, size_t errlen)
{
	virConnectPtr c = virt_conn(v, err, errlen);
	virDomainPtr dom;
	int ret = 0;

	if (!c)
		return -ENOTCONN;
	if (!(dom = virDomainCreateXML(c, xml, 0)))
		ret = virt_err(err, errlen, "creating the domain");
	else
		virDomainFree(dom);
	virConnectClose(c);
	return ret == -ENOENT ? -EIO : ret;
}

static int virt_with_domain(struct virt *v, const char *uuid, int (*op)(virDomainPtr),
			    const char *what, char *err, size_t errlen)
{
	virConnectPtr c = virt_conn(v, err, errlen);
	virDomainPtr dom;
	int ret = 0;

	if (!c)
		return -ENOTCONN;
	if (!(dom = virDomainLookupByUUIDString(c, uuid))) {
		ret = virt_err(err, errlen, "looking up the domain");
	} else {
		if (op(dom) < 0)
			ret = virt_err(err, errlen, what);
		virDomainFree(dom);
	}
	virConnectClose(c);
	return ret;
}

int virt_shutdown(struct virt *v, const char *uuid, char *err, size_t errlen)
{
	return virt_with_domain(v, uuid, virDomainShutdown, "shutting down", err, errlen);
}

int virt_destroy(struct virt *v, const char *uuid, char *err, size_t errlen)
{
	return virt_with_domain(v, uuid, virDomainDestroy, "destroying", err, errlen);
}

/* The id attribute of ukd's metadata element: exactly 32 lowercase hex digits. */
static void virt_parse_meta(const char *xml, char id[33])
{
	const char *p = strstr(xml, " id=");

	id[0] = 0;
	if (!p || (p[4] != '"' && p[4] != '\''))
		return;
	p += 5;
	if (strlen(p) < 33 || p[32] != p[-1])
		return;
	memcpy(id, p, 32);
	id[32] = 0;
	if (!util_is_hex(id, 32))
		id[0] = 0;
}

int virt_list(struct virt *v, struct virt_domain **out, size_t *n, char *err, size_t errlen)
{
	virConnectPtr c = virt_conn(v, err, errlen);
	virDomainPtr *doms = NULL;
	struct virt_domain *list;
	int count;
	size_t k = 0;

	if (!c)
		return -ENOTCONN;
	count = virConnectListAllDomains(c, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (count < 0) {
		virt_err(err, errlen, "listing domains");
		virConnectClose(c);
		return -EIO;
	}
	list = calloc((size_t)count + 1, sizeof(*list));
	for (int i = 0; i < count; i++) {
		char *meta;

		if (list && (meta = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT,
							 VIRT_NS_URI, 0))) {
			struct virt_domain *d = &list[k++];

			virt_parse_meta(meta, d->instance_id);
			snprintf(d->name, sizeof(d->name), "%s", virDomainGetName(doms[i]));
			virDomainGetUUIDString(doms[i], d->uuid);
			free(meta);
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	virConnectClose(c);
	if (!list)
		return -ENOMEM;
	*out = list;
	*n = k;
	return 0;
}

int virt_version(struct virt *v, char *buf, size_t len, char *err, size_t errlen)
{
	virConnectPtr c = virt_conn(v, err, errlen);
	unsigned long ver;
	int ret = 0;

	if (!c)
		return -ENOTCONN;
	if (virConnectGetLibVersion(c, &ver) < 0)
		ret = virt_err(err, errlen, "libvirt version");
	else
		snprintf(buf, len, "%lu.%lu.%lu", ver / 1000000, ver / 1000 % 1000, ver % 1000);
	virConnectClose(c);
	return ret;
}

static void virt_version_str(unsigned long ver, char *buf, size_t len)
{
	snprintf(buf, len, "%lu.%lu.%lu", ver / 1000000, ver / 1000 % 1000, ver % 1000);
}

int virt_host_info(struct virt *v, struct virt_host *out, char *err, size_t errlen)
{
	virConnectPtr c = virt_conn(v, err, errlen);
	virNodeInfo node;
	unsigned long ver;
	const char *type;

	memset(out, 0, sizeof(*out));
	if (!c)
		return -ENOTCONN;
	/* Each fact is optional: a driver that lacks one leaves it out, not the rest. */
	if (virConnectGetLibVersion(c, &ver) == 0)
		virt_version_str(ver, out->libvirt_version, sizeof(out->libvirt_version));
	if ((type = virConnectGetType(c)))
		snprintf(out->hypervisor, sizeof(out->hypervisor), "%s", type);
	if (virConnectGetVersion(c, &ver) == 0 && ver)
		virt_version_str(ver, out->hypervisor_version, sizeof(out->hypervisor_version));
	if (virNodeGetInfo(c, &node) == 0) {
		out->cpus = node.cpus;
		out->memory_kib = node.memory;
	}
	virConnectClose(c);
	return 0;
}

/* One record of virConnectGetAllDomainStats into s; a missing counter stays 0. */
static void virt_stats_record(virDomainStatsRecordPtr r, struct virt_stats *s)
{
	unsigned long long v;
	unsigned nics = 0;
	char key[64];

	memset(s, 0, sizeof(*s));
	virDomainGetUUIDString(r->dom, s->uuid);
	virTypedParamsGetULLong(r->params, r->nparams, "cpu.time", &s->cpu_ns);
	virTypedParamsGetULLong(r->params, r->nparams, "balloon.current", &s->mem_kib);
	virTypedParamsGetULLong(r->params, r->nparams, "balloon.maximum", &s->mem_max_kib);
	virTypedParamsGetULLong(r->params, r->nparams, "balloon.rss", &s->rss_kib);
	virTypedParamsGetUInt(r->params, r->nparams, "net.count", &nics);
	s->nics = nics;
	for (unsigned i = 0; i < nics && i < 64; i++) {
		static const char *const names[] = {"rx.bytes", "rx.pkts", "tx.bytes", "tx.pkts"};
		unsigned long long *dst[] = {&s->rx_bytes, &s->rx_packets, &s->tx_bytes,
					     &s->tx_packets};

		for (size_t k = 0; k < 4; k++) {
			snprintf(key, sizeof(key), "net.%u.%s", i, names[k]);
			if (virTypedParamsGetULLong(r->params, r->nparams, key, &v) == 1)
				*dst[k] += v;
		}
	}
}

int virt_stats(struct virt *v, const char *uuid, struct virt_stats **out, size_t *n, char *err,
	       size_t errlen)
{
	const unsigned what =
		VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_INTERFACE;
	virConnectPtr c = virt_conn(v, err, errlen);
	virDomainStatsRecordPtr *recs = NULL;
	virDomainPtr doms[2] = {NULL, NULL};
	int count, ret = 0;

	*out = NULL;
	*n = 0;
	if (!c)
		return -ENOTCONN;
	if (uuid) {
		if (!(doms[0] = virDomainLookupByUUIDString(c, uuid))) {
			ret = virt_err(err, errlen, "looking up the domain");
			goto close;
		}
		count = virDomainListGetStats(doms, what, &recs,
					      VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
	} else {
		count = virConnectGetAllDomainStats(c, what, &recs,
						    VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
	}
	if (count < 0) {
		ret = virt_err(err, errlen, "reading domain statistics");
		goto free_dom;
	}
	if (uuid && count == 0) {
		snprintf(err, errlen, "the domain is not running");
		ret = -ENOENT;
		goto free_recs;
	}
	if (!(*out = calloc((size_t)count + 1, sizeof(**out)))) {
		ret = -ENOMEM;
		goto free_recs;
	}
	for (int i = 0; i < count; i++)
		virt_stats_record(recs[i], &(*out)[i]);
	*n = (size_t)count;
free_recs:
	virDomainStatsRecordListFree(recs);
free_dom:
	if (doms[0])
		virDomainFree(doms[0]);
close:
	virConnectClose(c);
	return ret;
}

/* --- domain XML --- */

char *virt_domain_xml(const struct virt_spec *s)
{
	struct util_buf b = {0};

	util_buf_printf(&b, "<domain type='%s'>\n  <name>", s->kvm ? "kvm" : "qemu");
	util_buf_xml(&b, s->name);
	util_buf_puts(&b, "</name>\n  <uuid>");
	util_buf_xml(&b, s->uuid);
	util_buf_puts(&b, "</uuid>\n  <metadata><" VIRT_NS_PREFIX ":instance xmlns:" VIRT_NS_PREFIX
			  "='" VIRT_NS_URI "' id='");
	util_buf_xml(&b, s->instance_id);
	util_buf_printf(&b,
			"'/></metadata>\n"
			"  <memory unit='MiB'>%u</memory>\n"
			"  <vcpu>1</vcpu>\n"
			"  <os><type arch='x86_64' machine='pc'>hvm</type>\n"
			"    <loader type='rom'>" VIRT_QBOOT "</loader>\n"
			"    <kernel>",
			s->mem_mib);
	util_buf_xml(&b, s->image_path);
	util_buf_puts(&b, "</kernel>\n    <cmdline>");
	util_buf_xml(&b, s->cmdline);
	util_buf_puts(&b, "</cmdline>\n  </os>\n");
	/* kvm: see HOST-NOTES.md for why arch-capabilities must go. */
	util_buf_puts(&b, s->kvm ? "  <cpu mode='host-passthrough'><feature policy='disable' "
				   "name='arch-capabilities'/></cpu>\n"
				 : "  <cpu mode='maximum'/>\n");
	util_buf_puts(&b, "  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>"
			  "<on_crash>destroy</on_crash>\n"
			  "  <devices>\n"
			  "    <controller type='usb' model='none'/>\n"
			  "    <memballoon model='none'/>\n");
	/*
	 * COM1, the console (port 0 said outright; old domains had COM2 too):
	 * to ukd's socket, which writes and rotates the log (consolelog.h says
	 * why not a file); QEMU reconnects every second after a ukd restart.
	 * The short aliases (QEMU's chardev ids "charua-c", "charua-h") keep
	 * QEMU 7.2's first connect error short: qemusock.h says why.
	 */
	if (s->console_path) {
		util_buf_puts(&b, "    <serial type='unix'><source mode='connect' path='");
		util_buf_xml(&b, s->console_path);
		util_buf_puts(&b, "'><reconnect enabled='yes' timeout='1'/></source>"
				  "<target port='0'/><alias name='ua-c'/></serial>\n");
	}
	/*
	 * The health channel (ukd/health.h) is a named virtio-console port:
	 * QEMU connects to ukd's socket, and reconnects every second after a
	 * ukd restart. A frame crosses in one virtio notification where COM2
	 * trapped per byte, and host messages interrupt the guest. Port 1 said
	 * outright (the runtime sets up ports 1-3 only); ports='4' keeps QEMU's
	 * controller from creating 31 ports' worth of queues.
	 */
	if (s->health_path) {
		util_buf_puts(&b, "    <controller type='virtio-serial' index='0' ports='4'/>\n"
				  "    <channel type='unix'><source mode='connect' path='");
		util_buf_xml(&b, s->health_path);
		util_buf_puts(&b, "'><reconnect enabled='yes' timeout='1'/></source>"
				  "<target type='virtio' name='" HEALTH_PORT_NAME "'/>"
				  "<address type='virtio-serial' controller='0' bus='0' port='1'/>"
				  "<alias name='ua-h'/></channel>\n");
	}
	for (size_t i = 0; i < s->ndisks; i++) {
		util_buf_puts(&b, "    <disk type='file' device='disk'><driver name='qemu' "
				  "type='raw'/><source file='");
		util_buf_xml(&b, s->disks[i]);
		util_buf_puts(&b, "'/><target dev='");
		util_buf_xml(&b, s->disk_targets[i]);
		util_buf_puts(&b, "' bus='virtio'/></disk>\n");
	}
	/*
	 * managed='no': ukd made the tap (and moves it into its namespace once
	 * QEMU holds it); libvirt only opens it. A libvirt-made tap would be
	 * created and deleted by libvirt in the host's namespace, where ukd
	 * could not enslave it to a bridge in its own before the guest runs.
	 */
	if (s->tap) {
		util_buf_puts(&b, "    <interface type='ethernet'><target dev='");
		util_buf_xml(&b, s->tap);
		util_buf_puts(&b, "' managed='no'/><model type='virtio'/><mac address='");
		util_buf_xml(&b, s->mac);
		util_buf_puts(&b, "'/></interface>\n");
	}
	/* Entropy for the guest's getrandom and AT_RANDOM (drivers/virtio_rng.c). */
	if (s->rng)
		util_buf_puts(&b, "    <rng model='virtio'><backend model='random'>/dev/urandom"
				  "</backend></rng>\n");
	util_buf_puts(&b, "  </devices>\n</domain>\n");
	if (b.oom) {
		util_buf_free(&b);
		return NULL;
	}
	return b.s;
}
