/*
 * daemon.h: the ukd daemon process: configuration, the state every module
 * of the daemon shares, and its life cycle (start, serve, shut down).
 *
 * Everything in struct daemon belongs to the loop thread; worker threads
 * get copies of what they need.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <stddef.h>
#include <uv.h>

#include "virt.h"

#define DAEMON_ROOT "/var/lib/ukd"
#define DAEMON_SOCKET "/run/ukd/ukd.sock"
#define DAEMON_LIBVIRT "qemu:///system"

struct daemon_cfg {
	const char *root;
	const char *socket;
	const char *libvirt_uri;
	int foreground;
	int log_level;
	const char *accel;     /* "tcg", "kvm" or NULL (detect) */
	size_t image_max;      /* largest image upload, bytes */
	int health_violations; /* protocol violations before a channel is closed (0: default) */
	int health_missed;     /* heartbeat intervals missed before unhealthy (0: default) */
	const char *netns;     /* ukd's network namespace, "none", or NULL (NETNS_DEFAULT) */
	const char *default_subnet; /* uk0's subnet, or NULL (NETWORK_DEFAULT_SUBNET) */
	const char *dns;	    /* dns= for guests, or NULL */
	const char *rng;	    /* virtio-rng in guests: "on", "off", or NULL/"auto" */
	double mem_overcommit;	    /* guest memory / host memory allowed; 0: the default */
	size_t console_max;	    /* disk for an instance's console; 0: CONSOLELOG_MAX_DEFAULT */
	const char *listen;	    /* TCP HOST:PORT for the API, or NULL */
	const char *token;	    /* the bearer token TCP requests must carry (with listen) */
	const void *runtime;	    /* runtime ELF bytes, embedded in ukd (or --runtime) */
	const char *runtime_path;   /* --runtime FILE, or NULL: the embedded one */
	size_t runtime_size;
};

struct instance_op;
struct network;
struct restart_timer;

struct daemon {
	uv_loop_t *loop;
	const struct daemon_cfg *cfg;
	struct store *store;
	struct virt *virt;
	struct http_server *http;
	struct http_server *http_tcp; /* --listen, or NULL */
	uv_signal_t sigterm, sigint;
	uv_timer_t reconnect;
	/* A second look at the domains adopted at connect (daemon.c: daemon_recheck). */
	uv_timer_t recheck;
	struct virt_domain *adopted;
	size_t nadopted;
	int kvm;		 /* guests run under KVM (else TCG) */
	int rng;		 /* guests get a virtio-rng device */
	char accel_reason[256];	 /* why this accelerator */
	int connected;		 /* libvirt is connected and reconciled */
	int connecting;		 /* a connect/reconcile job is in flight */
	int reconnect_ms;	 /* next reconnect delay (backs off) */
	char libvirt_error[512]; /* why not connected */
	struct virt_host host;	 /* versions and capacity, as of the last connect */
	struct instance_op *ops; /* instance operations in flight */
	int ingests;		 /* image uploads being built on workers (api.c) */
	/* Observations the store failed to take, to be written again (instance.c). */
	struct instance_later *laters;
	struct network *net; /* networks, taps, published ports (network.h) */
	int stopping;
	int lock_fd;
	/* Restarts the policies decided (restart.h); restored: the first reconcile re-armed them.
	 */
	struct restart_timer *restarts;
	int restored;
};

/* Runs the daemon until SIGTERM/SIGINT. Returns the process exit status. */
int daemon_run(const struct daemon_cfg *cfg);

/* Queues a libvirt (re)connection and reconciliation, unless one is in flight. */
void daemon_connect(struct daemon *d);

#endif
