/*
 * network.h: guest networks, instances' attachments and published ports.
 *
 * A network (name, IPv4 subnet, gateway) is a Linux bridge in ukd's
 * namespace (netns.h) holding the gateway address; "uk0" always exists, with
 * the subnet of --default-subnet. An attached instance holds, for its whole
 * life, an address from ukd's allocator (in the store, allocated in the same
 * transaction that creates the instance, so never twice and never lost) and
 * a MAC derived from its id; both go to the guest on its command line
 * (ip=ADDR/PREFIX gw=GW [dns=DNS]) and the MAC into its domain XML.
 *
 * Each run of an attached instance has a tap, named after the run's domain
 * UUID so that cleaning up one run can never touch the next: created in the
 * host's namespace (libvirt's QEMU opens it there by name), then, once QEMU
 * holds it, moved into ukd's namespace and enslaved to the bridge; it is
 * deleted when the run ends. An ebtables chain in ukd's namespace drops
 * every frame from the tap whose source MAC, IPv4 source or ARP sender is
 * not the instance's own, before the bridge learns from it: a compromised
 * guest can neither impersonate nor poison the others.
 *
 * Bridges and taps carry an alias naming this ukd (its state directory),
 * so that reconciliation touches only what it made, even in a namespace
 * shared with another ukd.
 *
 * Published ports (portfwd.h) live as long as their instance.
 */
#ifndef NETWORK_H
#define NETWORK_H

#include <jansson.h>
#include <stddef.h>

#include "daemon.h"
#include "http.h"
#include "store.h"

#define NETWORK_DEFAULT "uk0"
#define NETWORK_DEFAULT_SUBNET "10.87.0.0/16"
#define NETWORK_PORTS_MAX 32
/* Words the network adds to the guest's command line, at most. */
#define NETWORK_CMDLINE_MAX 80

struct network;

/* What a worker needs to create, plug or delete one run's tap. */
struct network_tap {
	char name[STORE_IFNAME_MAX];
	char bridge[STORE_IFNAME_MAX];
	char mac[18];
	char ip[16];
	char ns[64]; /* "" when bridges are in the host's namespace */
	char tag[32];
};

/* An instance's network request, checked and with its ports already listening. */
struct network_attach {
	int attached;
	struct store_nic nic;
	struct store_network net;
	struct store_port ports[NETWORK_PORTS_MAX];
	struct portfwd *fwd[NETWORK_PORTS_MAX];
	size_t nports;
};

/*
 * Opens the namespace, makes sure uk0 exists with the configured subnet,
 * creates the bridges of the stored networks and listens on the stored
 * published ports. Blocks: call at startup. Returns 0 or -errno (logged).
 */
int network_start(struct daemon *d);
void network_stop(struct daemon *d);

/* The REST API: /v1/networks[/NAME]. Each answers req. */
void network_api_list(struct daemon *d, struct http_req *req);
void network_api_get(struct daemon *d, struct http_req *req, const char *name);
void network_api_create(struct daemon *d, struct http_req *req, json_t *body);
void network_api_delete(struct daemon *d, struct http_req *req, const char *name);

/*
 * The checked parsers of what clients send, without a daemon (the fuzz
 * target tests/fuzz/fuzz_json.c calls them). network_parse fills n from a
 * POST /v1/networks body: 0, or -1 with err set (a 422). network_port_parse
 * reads one published port, "[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]" or
 * an object with those fields: 0 or -EINVAL.
 */
int network_parse(json_t *body, struct store_network *n, char *err, size_t len);
int network_port_parse(json_t *v, struct store_port *p);

/*
 * Checks an instance request's "network" and "ports" and listens on the
 * ports. Returns 0, or an HTTP status (4xx/5xx) with code and err set.
 * att is to be passed to network_insert, then network_attach_free.
 */
int network_prepare(struct daemon *d, json_t *body, struct network_attach *att, const char **code,
		    char *err, size_t errlen);

/*
 * Stores inst with its attachment (one transaction; the spec gains
 * "network" and "ports"); on success the listeners belong to the instance.
 * Returns what store_instance_insert_nic returns.
 */
int network_insert(struct daemon *d, struct store_instance *inst, struct network_attach *att);

/* Closes listeners that network_insert did not adopt. */
void network_attach_free(struct network_attach *att);

/*
 * For a run of instance id with domain UUID uuid: 1 with the tap, the MAC
 * and the command-line words ("ip=... gw=... " into words) if the instance
 * is attached, 0 if not, -errno on a store failure.
 */
int network_boot(struct daemon *d, const char *id, const char *uuid, struct network_tap *tap,
		 char *words, size_t len);

/* Blocking (worker threads): the three steps of a tap's life. 0 or -errno with err. */
int network_tap_create(const struct network_tap *t, char *err, size_t errlen);
int network_tap_plug(const struct network_tap *t, char *err, size_t errlen);
int network_tap_delete(const struct network_tap *t, char *err, size_t errlen);

/* 1 with the tap of that run (name and namespace) if the instance is attached, else 0. */
int network_run_tap(struct daemon *d, const char *id, const char *uuid, struct network_tap *tap);

/*
 * A run started that no create of this ukd owns (adopted while libvirtd was
 * starting it): its tap, if still where libvirt opened it, is plugged (in the
 * background).
 */
void network_run_started(struct daemon *d, const char *id, const char *uuid);

/* A run of an attached instance ended: its tap goes (in the background). */
void network_run_ended(struct daemon *d, const char *id, const char *uuid);

/* The instance is deleted (the store dropped its address and ports): its listeners go. */
void network_instance_removed(struct daemon *d, const char *id);

/*
 * After instance_reconcile: brings bridges, taps and their filters in line
 * with the store, in the background; then calls done(d).
 */
void network_reconcile(struct daemon *d, void (*done)(struct daemon *d));

#endif
