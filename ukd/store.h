/*
 * store.h: ukd's durable state in sqlite: images, instances and an
 * append-only event log.
 *
 * The database runs in WAL mode with synchronous=FULL, so a mutation is on
 * disk when its function returns 0: the API acknowledges nothing the store
 * could still lose. Every mutating function is one transaction that also
 * appends its event, so the event log never disagrees with the tables.
 * The schema is versioned; store_open applies missing migrations and refuses
 * a database written by a newer ukd.
 *
 * A store is used from one thread (the daemon's loop thread).
 * Functions return 0 or a negative errno: -ENOENT (no such row), -EEXIST
 * (unique name taken), -EINVAL (bad reference), -EIO (sqlite failed; logged).
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_IMAGE_ID_LEN 64	 /* sha256, lowercase hex */
#define STORE_INSTANCE_ID_LEN 32 /* 128 random bits, lowercase hex */
#define STORE_NAME_MAX 128	 /* image/instance names and tags, with the NUL */

struct store;

struct store_image {
	char id[STORE_IMAGE_ID_LEN + 1];
	char name[STORE_NAME_MAX]; /* "" when another image took the name:tag */
	char tag[STORE_NAME_MAX];
	int64_t size;
	unsigned mem_mib; /* what the image's manifest asks for */
	int64_t created;  /* ms since the epoch */
};

/* Instance states, as the API shows them. */
#define STORE_STATE_CREATED "created"
#define STORE_STATE_STARTING "starting"
#define STORE_STATE_RUNNING "running"
#define STORE_STATE_STOPPING "stopping"
#define STORE_STATE_EXITED "exited"
/* Exited, and the restart policy's limit is reached: it is not restarted again. */
#define STORE_STATE_CRASH_LOOP "crash-loop"

struct store_instance {
	char id[STORE_INSTANCE_ID_LEN + 1];
	char name[STORE_NAME_MAX];
	char image_id[STORE_IMAGE_ID_LEN + 1];
	char *spec;	      /* JSON, malloc'd */
	char desired[16];     /* "running" or "stopped" */
	char observed[16];    /* STORE_STATE_* */
	char domain_uuid[37]; /* of the current (or last) libvirt domain, or "" */
	int64_t restart_count;
	int has_exit_status;
	int exit_status;
	char exit_reason[32];		    /* "" while none */
	char *message;			    /* malloc'd detail for humans, or NULL */
	int64_t created, started, finished; /* ms since the epoch; 0 = never */
	int64_t restart_at;		    /* a restart by the policy is due then; 0 = none */
	int64_t restart_streak;		    /* restarts since a run stayed up (restart.h) */
	unsigned mem_mib; /* the spec's memory_mib, for capacity.c without parsing the spec */
};

int store_open(const char *path, struct store **out);

/*
 * A number that grows with every row inserted, changed or deleted through
 * this store (sqlite3_total_changes64): while it stays the same, so do the
 * tables. ukd is the database's only writer.
 */
int64_t store_changes(struct store *st);
void store_close(struct store *st);

/* Schema version the running binary writes. */
int store_schema_version(void);

/*
 * Records an image, or updates the name:tag of an existing one. A name:tag
 * held by another image moves to this one (the other keeps its digest).
 */
int store_image_put(struct store *st, const struct store_image *img);

/*
 * Finds an image by reference: "sha256:HEX", a full or >= 12-digit prefix of
 * the hex digest, "NAME:TAG" or "NAME" (tag "latest"). -ENOENT if none;
 * -EINVAL if a prefix is ambiguous.
 */
int store_image_find(struct store *st, const char *ref, struct store_image *out);

typedef int (*store_image_cb)(const struct store_image *img, void *opaque);
int store_image_list(struct store *st, store_image_cb cb, void *opaque);

/* Number of instances whose spec names the image, or -errno. */
int store_image_users(struct store *st, const char *id);
int store_image_delete(struct store *st, const char *id);

/* Inserts a new instance; -EEXIST if its name is taken. Appends event "instance.created". */
int store_instance_insert(struct store *st, const struct store_instance *inst);

/* Writes every field of inst and appends event kind (with detail, may be NULL). */
int store_instance_update(struct store *st, const struct store_instance *inst, const char *kind,
			  const char *detail);

/* By full id, a >= 6-digit id prefix, or name. -EINVAL if a prefix is ambiguous. */
int store_instance_find(struct store *st, const char *ref, struct store_instance *out);
int store_instance_by_domain(struct store *st, const char *uuid, struct store_instance *out);

typedef int (*store_instance_cb)(const struct store_instance *inst, void *opaque);
int store_instance_list(struct store *st, store_instance_cb cb, void *opaque);
int store_instance_delete(struct store *st, const char *id);

/* Frees what store_instance_find & co. allocated in inst (not inst itself). */
void store_instance_clear(struct store_instance *inst);

/* Appends one event on its own. */
int store_event_add(struct store *st, const char *kind, const char *subject, const char *detail);

struct store_event {
	int64_t seq;  /* increasing, never reused */
	int64_t time; /* ms since the epoch */
	char kind[64];
	char subject[STORE_NAME_MAX]; /* an instance or image id, a network name, or "" */
	char name[STORE_NAME_MAX];    /* the subject's name when it was recorded, or "" */
	const char *detail;	      /* valid during the callback only; may be NULL */
};

typedef int (*store_event_cb)(const struct store_event *ev, void *opaque);

/*
 * Calls cb for at most limit events with seq > after and time >= since_ms,
 * of subject (NULL: all), oldest first.
 */
int store_event_list(struct store *st, int64_t after, int64_t since_ms, const char *subject,
		     int limit, store_event_cb cb, void *opaque);

/* --- networks, addresses and published ports (network.h explains them) --- */

#define STORE_NET_ID_LEN 16 /* 64 random bits, lowercase hex */
#define STORE_IFNAME_MAX 16 /* IFNAMSIZ */

struct store_network {
	char name[STORE_NAME_MAX];
	char id[STORE_NET_ID_LEN + 1];
	uint32_t subnet; /* host byte order */
	int prefix;
	uint32_t gateway;
	char bridge[STORE_IFNAME_MAX];
	int64_t created;
};

/* An instance's attachment: its network, address and MAC. */
struct store_nic {
	char instance_id[STORE_INSTANCE_ID_LEN + 1];
	char network[STORE_NAME_MAX];
	uint32_t ip;
	char mac[18];
};

struct store_port {
	char instance_id[STORE_INSTANCE_ID_LEN + 1];
	char proto[4]; /* "tcp" or "udp" */
	char host_ip[46];
	unsigned host_port, guest_port;
};

/* -EEXIST if the name or the bridge is taken. Appends "network.created". */
int store_network_insert(struct store *st, const struct store_network *net);
int store_network_find(struct store *st, const char *name, struct store_network *out);
typedef int (*store_network_cb)(const struct store_network *net, void *opaque);
int store_network_list(struct store *st, store_network_cb cb, void *opaque);
/* Number of instances attached to the network, or -errno. */
int store_network_users(struct store *st, const char *name);
/* -EBUSY if an instance is still attached. Appends "network.deleted". */
int store_network_delete(struct store *st, const char *name);

/*
 * Inserts a new instance together with its attachment and ports, in one
 * transaction: nic->ip is allocated here (the first free address at or after
 * the network's cursor, so a released address is reused as late as
 * possible), and written back; then fill (may be NULL) may rewrite inst
 * (its spec) knowing the address, before the row is written. -EADDRNOTAVAIL when the subnet is
 * full, -ENOSPC when the disk is, -EADDRINUSE when a port is published already, -EEXIST when the
 * name is taken. nic may be NULL (no network): then this is store_instance_insert.
 */
typedef int (*store_nic_fill)(struct store_instance *inst, const struct store_nic *nic,
			      void *opaque);
int store_instance_insert_nic(struct store *st, struct store_instance *inst, struct store_nic *nic,
			      const struct store_port *ports, size_t nports, store_nic_fill fill,
			      void *opaque);

/* The instance's attachment; -ENOENT if it has none. */
int store_nic_get(struct store *st, const char *instance_id, struct store_nic *out);
typedef int (*store_nic_cb)(const struct store_nic *nic, void *opaque);
int store_nic_list(struct store *st, store_nic_cb cb, void *opaque);

/* Published ports of one instance (instance_id) or of all (NULL), in insertion order. */
typedef int (*store_port_cb)(const struct store_port *port, void *opaque);
int store_port_list(struct store *st, const char *instance_id, store_port_cb cb, void *opaque);

#endif
