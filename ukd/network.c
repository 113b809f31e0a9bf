/*
 * network.c: networks, attachments, taps and their reconciliation (see
 * network.h).
 *
 * Kernel objects are made with ip and ebtables (netcmd.h) on the thread
 * pool; the store and the listeners are the loop thread's.
 */
#define _GNU_SOURCE
#include "network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "instance.h"
#include "log.h"
#include "netcmd.h"
#include "netns.h"
#include "portfwd.h"
#include "util.h"

/* One published port of a stored instance. */
struct network_fwd {
	char instance_id[STORE_INSTANCE_ID_LEN + 1];
	struct portfwd *pf;
	struct network_fwd *next;
};

struct network {
	struct netns *ns;
	char tag[32];
	struct network_fwd *fwds;
};

/* --- addresses --- */

static void network_ip_str(uint32_t ip, char *buf, size_t len)
{
	struct in_addr a = {.s_addr = htonl(ip)};

	inet_ntop(AF_INET, &a, buf, (socklen_t)len);
}

static int network_ip_parse(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	return 0;
}

/* "A.B.C.D/P" with P in 16..30 and no host bits set. */
static int network_cidr_parse(const char *s, uint32_t *net, int *prefix)
{
	char buf[32], *slash, *end;
	long p;

	snprintf(buf, sizeof(buf), "%s", s);
	if (!(slash = strchr(buf, '/')))
		return -EINVAL;
	*slash = 0;
	p = strtol(slash + 1, &end, 10);
	if (*end || slash[1] < '0' || slash[1] > '9' || p < 16 || p > 30 ||
	    network_ip_parse(buf, net) < 0)
		return -EINVAL;
	*prefix = (int)p;
	return (*net & ~(0xffffffffu << (32 - p))) ? -EINVAL : 0;
}

static uint32_t network_mask(int prefix)
{
	return 0xffffffffu << (32 - prefix);
}

/*
 * Locally administered, unicast (02:...), from the id's first five bytes:
 * the same instance always has the same MAC, across runs and restarts.
 */
static void network_mac(const char *id, char mac[18])
{
	snprintf(mac, 18, "02:%.2s:%.2s:%.2s:%.2s:%.2s", id, id + 2, id + 4, id + 6, id + 8);
}

/* A tag naming this ukd: an FNV-1a hash of its state directory. */
static void network_tag(const char *root, char *tag, size_t len)
{
	uint32_t h = 2166136261u;

	for (const char *p = root; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(tag, len, "ukd:%08x", h);
}

static const char *network_ns_name(struct daemon *d)
{
	return netns_name(d->net->ns);
}

/* --- kernel objects (blocking: worker threads, or startup) --- */

/*
 * Taps and their chains are changed by several worker threads at once: a
 * run's start or destroy, the removal of an ended run's tap, a reconcile. One
 * at a time, or a reconcile that saw a run's tap plugs it (chain included)
 * while the removal of the run that has just ended deletes it, and the chain
 * outlives the tap (ukd killed mid-remove, found by reliability.crash seed 7).
 */
static pthread_mutex_t network_links_lock = PTHREAD_MUTEX_INITIALIZER;

/* Creates the bridge if missing and gives it the gateway address. */
static int network_bridge_ensure(const char *ns, const char *tag, const char *bridge,
				 uint32_t gateway, int prefix, char *err, size_t errlen)
{
	char lines[512], gw[16];
	int ret;

	network_ip_str(gateway, gw, sizeof(gw));
	snprintf(lines, sizeof(lines), "link add name %s type bridge\n", bridge);
	ret = netcmd_ip_batch(ns, lines, err, errlen);
	if (ret < 0 && ret != -EEXIST)
		return ret;
	/* replace: idempotent, so the same lines repair a half-made bridge. */
	snprintf(lines, sizeof(lines),
		 "link set dev %s alias %s\n"
		 "addr replace %s/%d dev %s\n"
		 "link set dev %s up\n",
		 bridge, tag, gw, prefix, bridge, bridge);
	return netcmd_ip_batch(ns, lines, err, errlen);
}

static int network_link_delete(const char *ns, const char *name, char *err, size_t errlen)
{
	char lines[64];
	int ret;

	snprintf(lines, sizeof(lines), "link del dev %s\n", name);
	ret = netcmd_ip_batch(ns, lines, err, errlen);
	return ret == -ENOENT ? 0 : ret;
}

static const char *network_tap_ns(const struct network_tap *t)
{
	return t->ns[0] ? t->ns : NULL;
}

int network_tap_create(const struct network_tap *t, char *err, size_t errlen)
{
	uint64_t t0 = uv_hrtime();
	char lines[256];
	int ret;

	/* libvirt opens it by name and hands QEMU the fd; it stays down until plugged. */
	snprintf(lines, sizeof(lines),
		 "tuntap add dev %s mode tap\n"
		 "link set dev %s alias %s\n",
		 t->name, t->name, t->tag);
	pthread_mutex_lock(&network_links_lock);
	ret = netcmd_ip_batch(NULL, lines, err, errlen);
	pthread_mutex_unlock(&network_links_lock);
	log_debug("network: tap %s created in %.1f ms", t->name, (uv_hrtime() - t0) / 1e6);
	return ret;
}

static int network_filter_delete(const struct network_tap *t, char *err, size_t errlen)
{
	char lines[256];
	int ret;

	snprintf(lines, sizeof(lines), "-D PREROUTING -i %s -j %s\n", t->name, t->name);
	ret = netcmd_ebtables(network_tap_ns(t), lines, err, errlen);
	if (ret < 0 && ret != -ENOENT && !strstr(err, "Bad rule"))
		return ret;
	snprintf(lines, sizeof(lines), "-F %s\n-X %s\n", t->name, t->name);
	ret = netcmd_ebtables(network_tap_ns(t), lines, err, errlen);
	return ret == -ENOENT || (ret < 0 && strstr(err, "doesn't exist")) ? 0 : ret;
}

/*
 * The anti-spoofing chain, in the nat table's PREROUTING: that hook runs
 * before the bridge learns source MACs, so a dropped frame teaches it
 * nothing. IPv4 and ARP from the instance's own MAC and address pass;
 * everything else (other addresses, IPv6, other ethertypes) is dropped.
 */
static int network_filter_add(const struct network_tap *t, char *err, size_t errlen)
{
	char lines[1024];

	snprintf(lines, sizeof(lines),
		 ":%s DROP\n"
		 "-A PREROUTING -i %s -j %s\n"
		 "-A %s -p IPv4 -s %s --ip-src %s -j ACCEPT\n"
		 "-A %s -p ARP -s %s --arp-ip-src %s --arp-mac-src %s -j ACCEPT\n"
		 "-A %s -j DROP\n",
		 t->name, t->name, t->name, t->name, t->mac, t->ip, t->name, t->mac, t->ip, t->mac,
		 t->name);
	return netcmd_ebtables(network_tap_ns(t), lines, err, errlen);
}

/* moved: the tap is in ukd's namespace already (a reconcile repairing a live run). */
static int network_tap_plug_from(const struct network_tap *t, int moved, char *err, size_t errlen)
{
	uint64_t t0 = uv_hrtime();
	char lines[256];
	int ret;

	/*
	 * The filter first: the tap carries nothing before its chain is in
	 * place. A fresh run's tap has no chain yet (a reconcile removes any
	 * old one before calling this).
	 */
	if ((ret = network_filter_add(t, err, errlen)) < 0)
		return ret;
	if (t->ns[0] && !moved) {
		/* QEMU's fd keeps working across the move (HOST-NOTES.md). */
		snprintf(lines, sizeof(lines), "link set dev %s netns %s\n", t->name, t->ns);
		if ((ret = netcmd_ip_batch(NULL, lines, err, errlen)) < 0)
			return ret;
	}
	snprintf(lines, sizeof(lines),
		 "link set dev %s master %s\n"
		 "link set dev %s up\n",
		 t->name, t->bridge, t->name);
	ret = netcmd_ip_batch(network_tap_ns(t), lines, err, errlen);
	log_debug("network: tap %s plugged into %s in %.1f ms", t->name, t->bridge,
		  (uv_hrtime() - t0) / 1e6);
	return ret;
}

int network_tap_plug(const struct network_tap *t, char *err, size_t errlen)
{
	int ret;

	pthread_mutex_lock(&network_links_lock);
	ret = network_tap_plug_from(t, 0, err, errlen);
	pthread_mutex_unlock(&network_links_lock);
	return ret;
}

/* network_tap_delete with network_links_lock held. */
static int network_tap_remove(const struct network_tap *t, char *err, size_t errlen)
{
	int ret = network_filter_delete(t, err, errlen), r;

	/* Wherever it is: in ukd's namespace normally, in the host's if a crash came between. */
	if (t->ns[0] && (r = network_link_delete(t->ns, t->name, err, errlen)) < 0 && !ret)
		ret = r;
	if ((r = network_link_delete(NULL, t->name, err, errlen)) < 0 && !ret)
		ret = r;
	return ret;
}

int network_tap_delete(const struct network_tap *t, char *err, size_t errlen)
{
	int ret;

	pthread_mutex_lock(&network_links_lock);
	ret = network_tap_remove(t, err, errlen);
	pthread_mutex_unlock(&network_links_lock);
	return ret;
}

/* --- background jobs --- */

enum network_job_kind {
	NETJOB_BRIDGE_ADD,
	NETJOB_BRIDGE_DEL,
	NETJOB_TAP_DEL,
	NETJOB_TAP_STARTED,
	NETJOB_RECONCILE,
};

struct network_job {
	uv_work_t work;
	struct daemon *d;
	enum network_job_kind kind;
	struct http_req *req;
	struct store_network net;
	struct network_tap tap;
	char ns[64], tag[32];
	/* reconcile: what the store says should exist */
	struct store_network *nets;
	size_t nnets;
	struct network_tap *taps;
	size_t ntaps;
	void (*done)(struct daemon *d);
	int ret;
	char err[512];
};

static json_t *network_json(struct daemon *d, const struct store_network *n)
{
	char subnet[24], gw[16], created[40];
	int users = store_network_users(d->store, n->name);

	network_ip_str(n->subnet, subnet, sizeof(subnet));
	snprintf(subnet + strlen(subnet), sizeof(subnet) - strlen(subnet), "/%d", n->prefix);
	network_ip_str(n->gateway, gw, sizeof(gw));
	util_time_str(n->created, created, sizeof(created));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:i, s:s}", "name", n->name, "id", n->id,
			 "subnet", subnet, "gateway", gw, "bridge", n->bridge, "namespace",
			 network_ns_name(d), "instances", users < 0 ? 0 : users, "created",
			 created);
}

/* Lists ip's links (-j -d) in ns; NULL on failure (err set). */
static json_t *network_links(const char *ns, char *err, size_t errlen)
{
	const char *with_ns[] = {"ip", "-n", ns, "-j", "-d", "link", "show", NULL};
	const char *here[] = {"ip", "-j", "-d", "link", "show", NULL};
	json_t *links;
	char *out;

	if (netcmd_run(ns ? with_ns : here, NULL, &out, err, errlen) < 0)
		return NULL;
	links = json_loads(out, 0, NULL);
	free(out);
	if (!json_is_array(links)) {
		json_decref(links);
		snprintf(err, errlen, "ip -j link show: unexpected output");
		return NULL;
	}
	return links;
}

static const char *network_link_kind(json_t *link)
{
	return json_string_value(json_object_get(json_object_get(link, "linkinfo"), "info_kind"));
}

static int network_link_ours(json_t *link, const char *tag)
{
	const char *alias = json_string_value(json_object_get(link, "ifalias"));

	return alias && !strcmp(alias, tag);
}

static const struct network_tap *network_tap_find(const struct network_job *j, const char *name)
{
	for (size_t i = 0; i < j->ntaps; i++)
		if (!strcmp(j->taps[i].name, name))
			return &j->taps[i];
	return NULL;
}

/*
 * 1 if some process holds the tap named name open (a tun fd's fdinfo says
 * "iff:\tNAME"): libvirt or QEMU has it, and it can move namespaces. A tap
 * nobody holds must stay where libvirt will look for it by name: moved away,
 * libvirt's open would create a new, unplugged tap of that name instead.
 */
static int network_tap_attached(const char *name)
{
	DIR *proc = opendir("/proc"), *fds;
	struct dirent *p, *f;
	char path[PATH_MAX], link[64], want[40], buf[512];
	int found = 0;

	if (!proc)
		return 1; /* cannot tell: as before, plugged */
	snprintf(want, sizeof(want), "iff:\t%s\n", name);
	while (!found && (p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		if (!(fds = opendir(path)))
			continue;
		while (!found && (f = readdir(fds))) {
			ssize_t n;
			FILE *fi;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, f->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n < 0 || (link[n] = 0, strcmp(link, "/dev/net/tun")))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", p->d_name, f->d_name);
			if (!(fi = fopen(path, "r")))
				continue;
			n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, fi);
			fclose(fi);
			buf[n > 0 ? n : 0] = 0;
			found = strstr(buf, want) != NULL;
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/* One namespace's taps and bridges against the store's view. */
static void network_reconcile_links(struct network_job *j, const char *ns)
{
	json_t *links = network_links(ns, j->err, sizeof(j->err)), *l;
	char err[512];
	size_t i;

	if (!links) {
		log_error("network: reconcile: %s", j->err);
		return;
	}
	json_array_foreach(links, i, l)
	{
		const char *name = json_string_value(json_object_get(l, "ifname"));
		const char *kind = network_link_kind(l);
		const struct network_tap *t;
		struct network_tap dead = {0};
		size_t k;

		if (!name || !kind || !network_link_ours(l, j->tag))
			continue;
		if (!strcmp(kind, "bridge")) {
			for (k = 0; k < j->nnets; k++)
				if (!strcmp(j->nets[k].bridge, name))
					break;
			if (k < j->nnets)
				continue;
			log_info("network: reconcile: removing bridge %s (no such network)", name);
			if (network_link_delete(ns, name, err, sizeof(err)) < 0)
				log_error("network: %s", err);
		} else if (!strcmp(kind, "tun")) {
			if ((t = network_tap_find(j, name))) {
				int moved = ns && !strcmp(ns, j->ns);

				if (t->ns[0] && !moved && !network_tap_attached(name)) {
					/* Its domain is still starting: plugged at its start event.
					 */
					log_info("network: reconcile: tap %s not open yet; plugged "
						 "when its domain has started",
						 name);
					continue;
				}
				/* A live run's tap: (re)plugged, filter included; idempotent. */
				network_filter_delete(t, err, sizeof(err));
				if (network_tap_plug_from(t, moved, err, sizeof(err)) < 0)
					log_error("network: reconcile: tap %s: %s", name, err);
				continue;
			}
			log_info("network: reconcile: removing tap %s (its run is over)", name);
			snprintf(dead.name, sizeof(dead.name), "%s", name);
			snprintf(dead.ns, sizeof(dead.ns), "%s", j->ns);
			if (network_tap_remove(&dead, err, sizeof(err)) < 0)
				log_error("network: %s", err);
		}
	}
	json_decref(links);
}

/*
 * A run started that no create of this ukd plugged (its create's ukd was
 * killed): its tap, if it is in the host's namespace, is plugged now. The
 * reconcile leaves one there for libvirt to open; and if a reconcile that ran
 * before the domain was listed removed it as an ended run's, libvirt opened a
 * new one of that name (untagged: tagged here). Elsewhere it is plugged
 * already. With network_links_lock held.
 */
static int network_tap_started(const struct network_tap *t, char *err, size_t errlen)
{
	char lines[256];
	int ret;

	/* Most often its create's plug moved it away already. */
	if (!t->ns[0] || !if_nametoindex(t->name))
		return 0;
	snprintf(lines, sizeof(lines), "link set dev %s alias %s\n", t->name, t->tag);
	if ((ret = netcmd_ip_batch(NULL, lines, err, errlen)) < 0)
		return ret;
	network_filter_delete(t, err, errlen);
	if ((ret = network_tap_plug_from(t, 0, err, errlen)) < 0)
		return ret;
	log_info("network: tap %s: its domain has started; plugged", t->name);
	return 0;
}

static void network_job_work(uv_work_t *w)
{
	struct network_job *j = w->data;
	const char *ns = j->ns[0] ? j->ns : NULL;

	pthread_mutex_lock(&network_links_lock);
	switch (j->kind) {
	case NETJOB_BRIDGE_ADD:
		j->ret = network_bridge_ensure(ns, j->tag, j->net.bridge, j->net.gateway,
					       j->net.prefix, j->err, sizeof(j->err));
		break;
	case NETJOB_BRIDGE_DEL:
		j->ret = network_link_delete(ns, j->net.bridge, j->err, sizeof(j->err));
		break;
	case NETJOB_TAP_DEL: j->ret = network_tap_remove(&j->tap, j->err, sizeof(j->err)); break;
	case NETJOB_TAP_STARTED:
		j->ret = network_tap_started(&j->tap, j->err, sizeof(j->err));
		break;
	case NETJOB_RECONCILE:
		for (size_t i = 0; i < j->nnets; i++)
			if (network_bridge_ensure(ns, j->tag, j->nets[i].bridge, j->nets[i].gateway,
						  j->nets[i].prefix, j->err, sizeof(j->err)) < 0)
				log_error("network: bridge %s: %s", j->nets[i].bridge, j->err);
		network_reconcile_links(j, ns);
		if (ns)
			network_reconcile_links(j, NULL);
		break;
	}
	pthread_mutex_unlock(&network_links_lock);
}

static void network_job_done(uv_work_t *w, int status)
{
	struct network_job *j = w->data;
	struct daemon *d = j->d;
	int ret;

	(void)status;
	switch (j->kind) {
	case NETJOB_BRIDGE_ADD:
		if (j->ret == 0) {
			log_info("network %s created (bridge %s)", j->net.name, j->net.bridge);
			http_respond_json_value(j->req, 201, network_json(d, &j->net));
			break;
		}
		/* No network without its bridge: the row goes again. */
		if ((ret = store_network_delete(d->store, j->net.name)) < 0)
			log_error("network %s: cannot drop it again: %s", j->net.name,
				  strerror(-ret));
		http_respond_error(j->req, 500, "network_failed", "cannot create bridge %s: %s",
				   j->net.bridge, j->err);
		break;
	case NETJOB_BRIDGE_DEL:
		/* The row is gone already; a bridge left behind goes at the next reconcile. */
		if (j->ret < 0)
			log_warn("network %s: bridge %s: %s", j->net.name, j->net.bridge, j->err);
		log_info("network %s deleted", j->net.name);
		http_respond(j->req, 204, NULL, "", 0, NULL);
		break;
	case NETJOB_TAP_DEL:
	case NETJOB_TAP_STARTED:
		if (j->ret < 0)
			log_warn("network: tap %s: %s", j->tap.name, j->err);
		break;
	case NETJOB_RECONCILE:
		if (j->done)
			j->done(d);
		break;
	}
	free(j->nets);
	free(j->taps);
	free(j);
}

static struct network_job *network_job_new(struct daemon *d, enum network_job_kind kind)
{
	struct network_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->work.data = j;
	j->d = d;
	j->kind = kind;
	snprintf(j->ns, sizeof(j->ns), "%s", network_ns_name(d) ? network_ns_name(d) : "");
	snprintf(j->tag, sizeof(j->tag), "%s", d->net->tag);
	return j;
}

static int network_job_queue(struct network_job *j)
{
	int ret = uv_queue_work(j->d->loop, &j->work, network_job_work, network_job_done);

	if (ret < 0) {
		free(j->nets);
		free(j->taps);
		free(j);
	}
	return ret;
}

/* --- the API --- */

static int network_list_add(const struct store_network *n, void *opaque)
{
	void **ctx = opaque;

	return json_array_append_new(ctx[1], network_json(ctx[0], n)) < 0 ? -ENOMEM : 0;
}

void network_api_list(struct daemon *d, struct http_req *req)
{
	json_t *a = json_array();
	void *ctx[2] = {d, a};

	if (!a || store_network_list(d->store, network_list_add, ctx) < 0) {
		json_decref(a);
		http_respond_error(req, 500, "store_error", "cannot list networks");
		return;
	}
	http_respond_json_value(req, 200, a);
}

static int network_lookup(struct daemon *d, struct http_req *req, const char *name,
			  struct store_network *n)
{
	int ret = store_network_find(d->store, name, n);

	if (ret == -ENOENT)
		http_respond_error(req, 404, "network_not_found", "no network %s", name);
	else if (ret < 0)
		http_respond_error(req, 500, "store_error", "the store failed");
	return ret;
}

void network_api_get(struct daemon *d, struct http_req *req, const char *name)
{
	struct store_network n;

	if (network_lookup(d, req, name, &n) == 0)
		http_respond_json_value(req, 200, network_json(d, &n));
}

struct network_overlap {
	const struct store_network *n;
	char other[STORE_NAME_MAX];
	int clash_bridge;
};

static int network_overlap_cb(const struct store_network *o, void *opaque)
{
	struct network_overlap *ov = opaque;
	int p = o->prefix < ov->n->prefix ? o->prefix : ov->n->prefix;

	/* Two subnets overlap when they agree on the shorter prefix. */
	if ((o->subnet & network_mask(p)) == (ov->n->subnet & network_mask(p)) ||
	    !strcmp(o->bridge, ov->n->bridge)) {
		ov->clash_bridge = !strcmp(o->bridge, ov->n->bridge);
		snprintf(ov->other, sizeof(ov->other), "%s", o->name);
		return -EEXIST;
	}
	return 0;
}

static int network_name_ok(const char *s)
{
	return image_name_ok(s) && strlen(s) < 64;
}

static int network_ifname_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < STORE_IFNAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

int network_parse(json_t *body, struct store_network *n, char *err, size_t len)
{
	static const char *const known[] = {"name", "subnet", "gateway", "bridge"};
	const char *k, *name, *subnet, *gw, *br;

	if ((k = util_json_known_keys(body, known, sizeof(known) / sizeof(known[0]))))
		return snprintf(err, len, "unknown field \"%.100s\"", k), -1;
	name = json_string_value(json_object_get(body, "name"));
	subnet = json_string_value(json_object_get(body, "subnet"));
	gw = json_string_value(json_object_get(body, "gateway"));
	br = json_string_value(json_object_get(body, "bridge"));
	if (!name || !network_name_ok(name))
		return snprintf(err, len,
				"\"name\" must be 1-63 lowercase letters, digits, '.', '_' or "
				"'-'"),
		       -1;
	if (!subnet || network_cidr_parse(subnet, &n->subnet, &n->prefix) < 0)
		return snprintf(err, len,
				"\"subnet\" must be an IPv4 network A.B.C.D/P with P from 16 to "
				"30 and no host bits"),
		       -1;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->gateway = n->subnet + 1;
	if ((json_object_get(body, "gateway") && !gw) ||
	    (gw &&
	     (network_ip_parse(gw, &n->gateway) < 0 ||
	      (n->gateway & network_mask(n->prefix)) != n->subnet || n->gateway == n->subnet ||
	      n->gateway == (n->subnet | ~network_mask(n->prefix)))))
		return snprintf(err, len, "\"gateway\" must be a host address inside the subnet"),
		       -1;
	if ((json_object_get(body, "bridge") && !br) || (br && !network_ifname_ok(br)))
		return snprintf(err, len,
				"\"bridge\" must be an interface name: 1-15 letters, digits, "
				"'_' or '-'"),
		       -1;
	if (util_random_hex(n->id, STORE_NET_ID_LEN / 2) < 0)
		return snprintf(err, len, "no random bytes"), -1;
	if (br)
		snprintf(n->bridge, sizeof(n->bridge), "%s", br);
	else
		snprintf(n->bridge, sizeof(n->bridge), "ukbr%.8s", n->id);
	n->created = util_now_ms();
	return 0;
}

void network_api_create(struct daemon *d, struct http_req *req, json_t *body)
{
	struct store_network n = {0};
	struct network_overlap ov = {.n = &n};
	struct network_job *j;
	char err[512];
	int ret;

	if (network_parse(body, &n, err, sizeof(err)) < 0) {
		http_respond_error(req, 422, "invalid_network", "%s", err);
		return;
	}
	if ((ret = store_network_list(d->store, network_overlap_cb, &ov)) == -EEXIST) {
		if (ov.clash_bridge)
			http_respond_error(req, 409, "bridge_in_use",
					   "network %s uses bridge %s already", ov.other, n.bridge);
		else
			http_respond_error(req, 409, "subnet_overlap",
					   "the subnet overlaps network %s's", ov.other);
		return;
	}
	if (ret < 0 || (ret = store_network_insert(d->store, &n)) < 0) {
		if (ret == -EEXIST)
			http_respond_error(req, 409, "network_exists", "network %s exists already",
					   n.name);
		else
			http_respond_error(req, 500, "store_error", "cannot store the network");
		return;
	}
	if (!(j = network_job_new(d, NETJOB_BRIDGE_ADD))) {
		store_network_delete(d->store, n.name);
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	j->req = req;
	j->net = n;
	if (network_job_queue(j) < 0) {
		store_network_delete(d->store, n.name);
		http_respond_error(req, 500, "internal", "cannot queue work");
	}
}

void network_api_delete(struct daemon *d, struct http_req *req, const char *name)
{
	struct store_network n;
	struct network_job *j;
	int users, ret;

	if (network_lookup(d, req, name, &n) < 0)
		return;
	if ((users = store_network_users(d->store, name)) != 0) {
		if (users < 0)
			http_respond_error(req, 500, "store_error", "the store failed");
		else
			http_respond_error(req, 409, "network_in_use",
					   "network %s has %d instance(s) attached; remove them "
					   "first",
					   name, users);
		return;
	}
	if ((ret = store_network_delete(d->store, name)) < 0) {
		if (ret == -EBUSY)
			http_respond_error(req, 409, "network_in_use", "network %s is in use",
					   name);
		else
			http_respond_error(req, 500, "store_error", "cannot delete: %s",
					   strerror(-ret));
		return;
	}
	if (!(j = network_job_new(d, NETJOB_BRIDGE_DEL))) {
		http_respond(req, 204, NULL, "", 0, NULL);
		return;
	}
	j->req = req;
	j->net = n;
	if (network_job_queue(j) < 0)
		http_respond(req, 204, NULL, "", 0, NULL);
}

/* --- instances --- */

int network_port_parse(json_t *v, struct store_port *p)
{
	char buf[96], *proto, *a, *b, *c, *end;
	unsigned long hp, gp;

	memset(p, 0, sizeof(*p));
	if (json_is_object(v)) {
		json_t *hi = json_object_get(v, "host_ip"), *pr = json_object_get(v, "proto");

		snprintf(buf, sizeof(buf), "%s:%lld:%lld/%s",
			 json_is_string(hi) ? json_string_value(hi) : "127.0.0.1",
			 (long long)json_integer_value(json_object_get(v, "host_port")),
			 (long long)json_integer_value(json_object_get(v, "guest_port")),
			 json_is_string(pr) ? json_string_value(pr) : "tcp");
	} else if (json_is_string(v) && json_string_length(v) < sizeof(buf)) {
		snprintf(buf, sizeof(buf), "%s", json_string_value(v));
	} else {
		return -EINVAL;
	}
	snprintf(p->proto, sizeof(p->proto), "tcp");
	if ((proto = strchr(buf, '/'))) {
		*proto++ = 0;
		if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
			return -EINVAL;
		snprintf(p->proto, sizeof(p->proto), "%s", proto);
	}
	/* Split at the last two colons: HOST_IP may be left out. */
	if (!(c = strrchr(buf, ':')))
		return -EINVAL;
	*c++ = 0;
	b = strrchr(buf, ':');
	if (b) {
		*b++ = 0;
		a = buf;
	} else {
		b = buf;
		a = "127.0.0.1";
	}
	hp = strtoul(b, &end, 10);
	if (*end || !*b || *b < '0' || *b > '9' || hp < 1 || hp > 65535)
		return -EINVAL;
	gp = strtoul(c, &end, 10);
	if (*end || !*c || *c < '0' || *c > '9' || gp < 1 || gp > 65535)
		return -EINVAL;
	{
		uint32_t ip;

		if (network_ip_parse(a, &ip) < 0)
			return -EINVAL;
	}
	snprintf(p->host_ip, sizeof(p->host_ip), "%.45s", a);
	p->host_port = (unsigned)hp;
	p->guest_port = (unsigned)gp;
	return 0;
}

int network_prepare(struct daemon *d, json_t *body, struct network_attach *att, const char **code,
		    char *err, size_t errlen)
{
	json_t *net = json_object_get(body, "network"), *ports = json_object_get(body, "ports"), *v;
	const char *name = NETWORK_DEFAULT;
	size_t i;
	int ret;

	memset(att, 0, sizeof(*att));
	*code = "invalid_spec";
	if (ports && !json_is_array(ports) && !json_is_null(ports))
		return snprintf(err, errlen, "\"ports\" must be a list"), 422;
	if (net && !json_is_null(net) && !json_is_string(net))
		return snprintf(err, errlen, "\"network\" must be a network's name"), 422;
	/* No network and no ports: no NIC (a unikernel that needs none costs no tap). */
	if ((!net || json_is_null(net)) && json_array_size(ports) == 0)
		return 0;
	if (json_is_string(net))
		name = json_string_value(net);
	if (json_array_size(ports) > NETWORK_PORTS_MAX)
		return snprintf(err, errlen, "at most %d published ports", NETWORK_PORTS_MAX), 422;
	json_array_foreach(ports, i, v)
	{
		if (network_port_parse(v, &att->ports[i]) < 0)
			return snprintf(err, errlen,
					"ports[%zu]: expected [HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|"
					"/udp] with an IPv4 HOST_IP and ports from 1 to 65535",
					i),
			       422;
		for (size_t k = 0; k < i; k++)
			if (att->ports[k].host_port == att->ports[i].host_port &&
			    !strcmp(att->ports[k].proto, att->ports[i].proto))
				return snprintf(err, errlen, "ports[%zu]: host port %u/%s twice", i,
						att->ports[i].host_port, att->ports[i].proto),
				       422;
	}
	att->nports = i;
	if ((ret = store_network_find(d->store, name, &att->net)) < 0) {
		*code = ret == -ENOENT ? "network_not_found" : "store_error";
		return snprintf(err, errlen, "no network %s", name), ret == -ENOENT ? 404 : 500;
	}
	att->attached = 1;
	snprintf(att->nic.network, sizeof(att->nic.network), "%s", name);
	/* Listening now: a taken port is refused before anything is stored. */
	for (i = 0; i < att->nports; i++) {
		struct store_port *p = &att->ports[i];

		/* The guest address is not known yet: set when the forward is adopted. */
		ret = portfwd_open(&att->fwd[i], d->loop, d->net->ns, p->proto, p->host_ip,
				   p->host_port, 0, p->guest_port, err, errlen);
		if (ret < 0) {
			/* Closed before the answer goes out: the client may reuse them at once. */
			network_attach_free(att);
			*code = ret == -EADDRINUSE ? "port_in_use" : "port_failed";
			return ret == -EADDRINUSE || ret == -EACCES ? 409 : 422;
		}
	}
	return 0;
}

void network_attach_free(struct network_attach *att)
{
	for (size_t i = 0; i < att->nports; i++)
		portfwd_close(att->fwd[i]);
	memset(att->fwd, 0, sizeof(att->fwd));
}

/* Records the attachment in the spec, so the instance's JSON shows it (store_nic_fill). */
static int network_spec(struct store_instance *inst, const struct store_nic *nic, void *opaque)
{
	const struct network_attach *att = opaque;
	json_t *spec = json_loads(inst->spec, 0, NULL), *ports = json_array();
	char ip[16], gw[16], *text = NULL;

	network_ip_str(nic->ip, ip, sizeof(ip));
	network_ip_str(att->net.gateway, gw, sizeof(gw));
	for (size_t i = 0; ports && i < att->nports; i++)
		json_array_append_new(ports, json_pack("{s:s, s:i, s:i, s:s}", "host_ip",
						       att->ports[i].host_ip, "host_port",
						       (int)att->ports[i].host_port, "guest_port",
						       (int)att->ports[i].guest_port, "proto",
						       att->ports[i].proto));
	if (spec && ports &&
	    json_object_set_new(spec, "network",
				json_pack("{s:s, s:s, s:i, s:s, s:s}", "name", att->net.name, "ip",
					  ip, "prefix", att->net.prefix, "gateway", gw, "mac",
					  nic->mac)) == 0 &&
	    json_object_set(spec, "ports", ports) == 0)
		text = json_dumps(spec, JSON_COMPACT);
	json_decref(spec);
	json_decref(ports);
	if (!text)
		return -ENOMEM;
	free(inst->spec);
	inst->spec = text;
	return 0;
}

int network_insert(struct daemon *d, struct store_instance *inst, struct network_attach *att)
{
	struct network_fwd *f;
	char *plain;
	int ret;

	if (!att->attached)
		return store_instance_insert(d->store, inst);
	network_mac(inst->id, att->nic.mac);
	snprintf(att->nic.instance_id, sizeof(att->nic.instance_id), "%s", inst->id);
	/* A failed insert leaves the caller's spec as it was. */
	if (!(plain = strdup(inst->spec)))
		return -ENOMEM;
	ret = store_instance_insert_nic(d->store, inst, &att->nic, att->ports, att->nports,
					network_spec, att);
	if (ret < 0) {
		free(inst->spec);
		inst->spec = plain;
		return ret;
	}
	free(plain);
	for (size_t i = 0; i < att->nports; i++) {
		if (!(f = calloc(1, sizeof(*f)))) {
			log_error("instance %s: out of memory for a forward", inst->id);
			continue;
		}
		snprintf(f->instance_id, sizeof(f->instance_id), "%s", inst->id);
		f->pf = att->fwd[i];
		portfwd_set_guest(f->pf, att->nic.ip);
		att->fwd[i] = NULL;
		f->next = d->net->fwds;
		d->net->fwds = f;
	}
	return 0;
}

/* Marks the published ports of instance id as having a guest behind them, or not. */
static void network_fwd_running(struct daemon *d, const char *id, int running)
{
	for (struct network_fwd *f = d->net->fwds; f; f = f->next)
		if (!strcmp(f->instance_id, id))
			portfwd_set_running(f->pf, running);
}

/* The tap a run had, named after its domain's uuid. */
static void network_tap_name(const char *uuid, char *name, size_t len)
{
	char hex[16];
	size_t k = 0;

	for (const char *p = uuid; *p && k < 13; p++)
		if (*p != '-')
			hex[k++] = *p;
	hex[k] = 0;
	snprintf(name, len, "uk%.13s", hex);
}

/* The tap of run uuid of instance id and its network: 1, 0 (no NIC) or -errno. */
static int network_tap_of(struct daemon *d, const char *id, const char *uuid,
			  struct network_tap *tap, struct store_network *net)
{
	struct store_nic nic;
	int ret;

	if ((ret = store_nic_get(d->store, id, &nic)) == -ENOENT)
		return 0;
	if (ret < 0 || (ret = store_network_find(d->store, nic.network, net)) < 0)
		return ret;
	memset(tap, 0, sizeof(*tap));
	network_tap_name(uuid, tap->name, sizeof(tap->name));
	snprintf(tap->bridge, sizeof(tap->bridge), "%s", net->bridge);
	snprintf(tap->mac, sizeof(tap->mac), "%s", nic.mac);
	network_ip_str(nic.ip, tap->ip, sizeof(tap->ip));
	snprintf(tap->ns, sizeof(tap->ns), "%s", network_ns_name(d) ? network_ns_name(d) : "");
	snprintf(tap->tag, sizeof(tap->tag), "%s", d->net->tag);
	return 1;
}

/* The network words for the command line and the tap of this run. */
int network_boot(struct daemon *d, const char *id, const char *uuid, struct network_tap *tap,
		 char *words, size_t len)
{
	struct store_network net;
	char gw[16];
	int ret;

	words[0] = 0;
	if ((ret = network_tap_of(d, id, uuid, tap, &net)) <= 0)
		return ret;
	network_ip_str(net.gateway, gw, sizeof(gw));
	network_fwd_running(d, id, 1);
	snprintf(words, len, "ip=%s/%d gw=%s %s%s%s", tap->ip, net.prefix, gw,
		 d->cfg->dns ? "dns=" : "", d->cfg->dns ? d->cfg->dns : "", d->cfg->dns ? " " : "");
	return 1;
}

int network_run_tap(struct daemon *d, const char *id, const char *uuid, struct network_tap *tap)
{
	struct store_nic nic;

	if (!uuid[0] || store_nic_get(d->store, id, &nic) < 0)
		return 0;
	memset(tap, 0, sizeof(*tap));
	network_tap_name(uuid, tap->name, sizeof(tap->name));
	snprintf(tap->ns, sizeof(tap->ns), "%s", network_ns_name(d) ? network_ns_name(d) : "");
	snprintf(tap->tag, sizeof(tap->tag), "%s", d->net->tag);
	return 1;
}

void network_run_ended(struct daemon *d, const char *id, const char *uuid)
{
	struct store_nic nic;
	struct network_job *j;

	network_fwd_running(d, id, 0);
	if (!uuid[0] || store_nic_get(d->store, id, &nic) < 0 ||
	    !(j = network_job_new(d, NETJOB_TAP_DEL)))
		return;
	network_tap_name(uuid, j->tap.name, sizeof(j->tap.name));
	snprintf(j->tap.ns, sizeof(j->tap.ns), "%s", j->ns);
	if (network_job_queue(j) < 0)
		log_warn("instance %s: cannot queue the removal of its tap", id);
}

void network_run_started(struct daemon *d, const char *id, const char *uuid)
{
	struct store_network net;
	struct network_job *j;

	if (!uuid[0] || !(j = network_job_new(d, NETJOB_TAP_STARTED)))
		return;
	if (network_tap_of(d, id, uuid, &j->tap, &net) <= 0) {
		free(j);
		return;
	}
	/* A run adopted here was recorded ended, which closed its forwards to the guest. */
	network_fwd_running(d, id, 1);
	if (network_job_queue(j) < 0)
		log_warn("instance %s: cannot queue the plugging of its tap", id);
}

void network_instance_removed(struct daemon *d, const char *id)
{
	for (struct network_fwd **pp = &d->net->fwds, *f; (f = *pp);) {
		if (strcmp(f->instance_id, id)) {
			pp = &f->next;
			continue;
		}
		*pp = f->next;
		portfwd_close(f->pf);
		free(f);
	}
}

/* --- reconciliation --- */

struct network_snap {
	struct daemon *d;
	struct network_job *j;
	size_t cap;
};

static int network_snap_net(const struct store_network *n, void *opaque)
{
	struct network_job *j = opaque;
	void *p = realloc(j->nets, (j->nnets + 1) * sizeof(*j->nets));

	if (!p)
		return -ENOMEM;
	j->nets = p;
	j->nets[j->nnets++] = *n;
	return 0;
}

/* Live runs of attached instances: their taps must exist, plugged. */
static int network_snap_inst(const struct store_instance *inst, void *opaque)
{
	struct network_snap *s = opaque;
	struct network_job *j = s->j;
	struct network_tap t;
	struct store_network net;
	int ret;

	if (!instance_active(inst) || !inst->domain_uuid[0])
		return 0;
	if ((ret = network_tap_of(s->d, inst->id, inst->domain_uuid, &t, &net)) <= 0)
		return ret;
	network_fwd_running(s->d, inst->id, 1);
	if (j->ntaps == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *p = realloc(j->taps, cap * sizeof(*j->taps));

		if (!p)
			return -ENOMEM;
		j->taps = p;
		s->cap = cap;
	}
	j->taps[j->ntaps++] = t;
	return 0;
}

void network_reconcile(struct daemon *d, void (*done)(struct daemon *d))
{
	struct network_job *j = network_job_new(d, NETJOB_RECONCILE);
	struct network_snap s = {.d = d, .j = j};

	if (!j || store_network_list(d->store, network_snap_net, j) < 0 ||
	    store_instance_list(d->store, network_snap_inst, &s) < 0) {
		log_error("network: reconcile: cannot read the store");
		if (j) {
			free(j->nets);
			free(j->taps);
			free(j);
		}
		done(d);
		return;
	}
	j->done = done;
	if (network_job_queue(j) < 0)
		done(d);
}

/* --- start and stop --- */

static int network_default(struct daemon *d)
{
	const char *cidr = d->cfg->default_subnet ? d->cfg->default_subnet : NETWORK_DEFAULT_SUBNET;
	struct store_network n = {0}, old;
	int ret;

	if (network_cidr_parse(cidr, &n.subnet, &n.prefix) < 0) {
		log_error("--default-subnet %s: expected A.B.C.D/P, P from 16 to 30", cidr);
		return -EINVAL;
	}
	if ((ret = store_network_find(d->store, NETWORK_DEFAULT, &old)) == 0) {
		if (old.subnet == n.subnet && old.prefix == n.prefix)
			return 0;
		if (store_network_users(d->store, NETWORK_DEFAULT) != 0) {
			log_warn("network %s keeps its subnet: instances are attached to it",
				 NETWORK_DEFAULT);
			return 0;
		}
		log_info("network %s: subnet changes to %s", NETWORK_DEFAULT, cidr);
		if ((ret = store_network_delete(d->store, NETWORK_DEFAULT)) < 0)
			return ret;
	} else if (ret != -ENOENT) {
		return ret;
	}
	snprintf(n.name, sizeof(n.name), NETWORK_DEFAULT);
	n.gateway = n.subnet + 1;
	if ((ret = util_random_hex(n.id, STORE_NET_ID_LEN / 2)) < 0)
		return ret;
	snprintf(n.bridge, sizeof(n.bridge), "ukbr%.8s", n.id);
	n.created = util_now_ms();
	return store_network_insert(d->store, &n);
}

static int network_open_fwd(const struct store_port *p, void *opaque)
{
	struct daemon *d = opaque;
	struct store_instance inst;
	struct store_nic nic;
	struct network_fwd *f;
	char err[256];
	int ret;

	if (store_nic_get(d->store, p->instance_id, &nic) < 0 || !(f = calloc(1, sizeof(*f))))
		return 0;
	ret = portfwd_open(&f->pf, d->loop, d->net->ns, p->proto, p->host_ip, p->host_port, nic.ip,
			   p->guest_port, err, sizeof(err));
	if (ret < 0) {
		/* Someone took the port while ukd was down: said loudly, the rest goes on. */
		log_error("instance %s: %s", p->instance_id, err);
		store_event_add(d->store, "port.unavailable", p->instance_id, err);
		free(f);
		return 0;
	}
	snprintf(f->instance_id, sizeof(f->instance_id), "%s", p->instance_id);
	if (store_instance_find(d->store, p->instance_id, &inst) == 0) {
		portfwd_set_running(f->pf, instance_active(&inst));
		store_instance_clear(&inst);
	}
	f->next = d->net->fwds;
	d->net->fwds = f;
	return 0;
}

int network_start(struct daemon *d)
{
	const char *name = d->cfg->netns ? d->cfg->netns : NETNS_DEFAULT;
	char err[512];
	int ret;

	if (!(d->net = calloc(1, sizeof(*d->net))))
		return -ENOMEM;
	network_tag(d->cfg->root, d->net->tag, sizeof(d->net->tag));
	if (!strcmp(name, "none"))
		name = NULL;
	if ((ret = netns_open(&d->net->ns, d->loop, name, err, sizeof(err))) < 0) {
		log_error("network namespace %s: %s", name ? name : "(host)", err);
		goto free_net;
	}
	if ((ret = network_default(d)) < 0) {
		log_error("cannot set up network %s: %s", NETWORK_DEFAULT, strerror(-ret));
		goto close_ns;
	}
	/* Bridges now, so that published ports lead somewhere; taps after libvirt's reconcile. */
	{
		struct network_job j = {.d = d};

		snprintf(j.ns, sizeof(j.ns), "%s", name ? name : "");
		snprintf(j.tag, sizeof(j.tag), "%s", d->net->tag);
		if ((ret = store_network_list(d->store, network_snap_net, &j)) == 0)
			for (size_t i = 0; i < j.nnets; i++)
				if ((ret = network_bridge_ensure(
					     name, j.tag, j.nets[i].bridge, j.nets[i].gateway,
					     j.nets[i].prefix, err, sizeof(err))) < 0)
					log_error("network %s: %s", j.nets[i].name, err);
		free(j.nets);
	}
	store_port_list(d->store, NULL, network_open_fwd, d);
	log_info("networks in %s (tag %s)", name ? name : "the host's namespace", d->net->tag);
	return 0;
close_ns:
	netns_close(d->net->ns);
free_net:
	free(d->net);
	d->net = NULL;
	return ret;
}

void network_stop(struct daemon *d)
{
	if (!d->net)
		return;
	for (struct network_fwd *f = d->net->fwds, *next; f; f = next) {
		next = f->next;
		portfwd_close(f->pf);
		free(f);
	}
	netns_close(d->net->ns);
	free(d->net);
	d->net = NULL;
}
