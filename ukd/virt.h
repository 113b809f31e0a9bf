/*
 * virt.h: ukd's libvirt driver. Builds domain XML for an instance, runs the
 * blocking libvirt calls (from worker threads, never from the loop), and
 * delivers libvirt's lifecycle events into the daemon's libuv loop.
 *
 * libvirt's default event loop runs on a dedicated thread (libvirt needs one
 * for events and keepalives); its callbacks only queue events and wake the
 * libuv loop with a uv_async, so every event is handled on the loop thread.
 *
 * The connection may be lost (libvirtd restarts): virt then reports
 * VIRT_EV_DISCONNECTED and calls fail with -ENOTCONN until virt_connect
 * succeeds again.
 */
#ifndef VIRT_H
#define VIRT_H

#include <stddef.h>
#include <uv.h>

/* ukd's XML namespace for its <metadata> element in domains. */
#define VIRT_NS_URI "https://ukd.dev/xmlns/instance/1"
#define VIRT_NS_PREFIX "ukd"
#define VIRT_DOMAIN_PREFIX "ukd-"
#define VIRT_QBOOT "/usr/share/qemu/qboot.rom"

enum virt_event_kind {
	VIRT_EV_STARTED,
	VIRT_EV_STOPPED,
	VIRT_EV_OTHER,
	VIRT_EV_DISCONNECTED,
};

/* Why a domain stopped (from libvirt's STOPPED detail). */
enum virt_stop_reason {
	VIRT_STOP_SHUTDOWN, /* the guest powered off */
	VIRT_STOP_DESTROYED,
	VIRT_STOP_CRASHED,
	VIRT_STOP_FAILED,
	VIRT_STOP_OTHER,
};

struct virt_event {
	enum virt_event_kind kind;
	enum virt_stop_reason reason; /* VIRT_EV_STOPPED */
	char uuid[37];
	char name[64];
};

typedef void (*virt_event_fn)(const struct virt_event *ev, void *opaque);

struct virt;

/* What a domain is made of. */
struct virt_spec {
	const char *name;	 /* libvirt domain name */
	const char *uuid;	 /* libvirt domain UUID, chosen by ukd */
	const char *instance_id; /* goes into ukd's <metadata> */
	const char *image_path;
	const char *console_path; /* COM1's socket (ukd listens, consolelog.h), or NULL: none */
	const char *health_path;  /* the health channel's socket (ukd listens), or NULL */
	const char *cmdline;
	unsigned mem_mib;
	int kvm;	 /* 1: <domain type='kvm'>; 0: TCG */
	int rng;	 /* a virtio-rng device fed from the host's /dev/urandom */
	const char *tap; /* a virtio NIC on this existing tap (network.h), or NULL */
	const char *mac;
	/* Raw disk images as virtio-blk disks: host files and targets ("vda"), in order. */
	const char *const *disks;
	const char *const *disk_targets;
	size_t ndisks;
};

/* A running domain that carries ukd's metadata. */
struct virt_domain {
	char uuid[37];
	char name[64];
	char instance_id[33]; /* "" if the metadata did not parse */
};

/*
 * virt_new starts libvirt's event thread and the uv_async that feeds cb on
 * loop. Call once, on the loop thread, before any worker uses libvirt.
 */
int virt_new(struct virt **out, uv_loop_t *loop, const char *uri, virt_event_fn cb, void *opaque);

/* Stops the event thread, closes the connection; the async handle closes on the loop. */
void virt_free(struct virt *v);

/*
 * The calls below block: run them from worker threads. They return 0 or
 * -errno with a message in err (errlen bytes).
 */

/* Opens the connection (if not open) and registers for lifecycle events. */
int virt_connect(struct virt *v, char *err, size_t errlen);
int virt_connected(struct virt *v);

/* Creates and starts a transient domain from its XML. */
int virt_create(struct virt *v, const char *xml, char *err, size_t errlen);

/* Asks the guest to power off (ACPI). -ENOENT if the domain is not running. */
int virt_shutdown(struct virt *v, const char *uuid, char *err, size_t errlen);

/* Stops the domain at once. -ENOENT if it is not running. */
int virt_destroy(struct virt *v, const char *uuid, char *err, size_t errlen);

/* The running domains that carry ukd's metadata; *out is malloc'd. */
int virt_list(struct virt *v, struct virt_domain **out, size_t *n, char *err, size_t errlen);

/* libvirt's version as "major.minor.micro" into buf. */
int virt_version(struct virt *v, char *buf, size_t len, char *err, size_t errlen);

/* A running domain's resource counters, as libvirt reads them from QEMU and the host. */
struct virt_stats {
	char uuid[37];
	unsigned long long cpu_ns;	/* vCPU + QEMU time, cumulative (cpu.time) */
	unsigned long long mem_kib;	/* current guest memory (balloon.current) */
	unsigned long long mem_max_kib; /* its maximum (balloon.maximum) */
	unsigned long long rss_kib;	/* QEMU's resident set (balloon.rss), 0 if unknown */
	unsigned long long rx_bytes, rx_packets, tx_bytes, tx_packets; /* all NICs */
	unsigned nics;
};

/*
 * Counters of the running domain uuid (-ENOENT if it does not run), or with
 * uuid NULL of every running domain (one virConnectGetAllDomainStats call).
 * *out is malloc'd (*n entries, possibly none).
 */
int virt_stats(struct virt *v, const char *uuid, struct virt_stats **out, size_t *n, char *err,
	       size_t errlen);

/* What libvirt reports about itself and the host (for GET /v1/system/info). */
struct virt_host {
	char libvirt_version[32];    /* "9.0.0" */
	char hypervisor[32];	     /* libvirt's driver name, "QEMU" */
	char hypervisor_version[32]; /* "7.2.0" */
	unsigned cpus;		     /* host CPUs */
	unsigned long long memory_kib;
};

/* Fills out (zeroed first); a fact libvirt does not give stays empty/0. */
int virt_host_info(struct virt *v, struct virt_host *out, char *err, size_t errlen);

/* The domain XML for spec (malloc'd), or NULL when out of memory. Pure. */
char *virt_domain_xml(const struct virt_spec *spec);

#endif
