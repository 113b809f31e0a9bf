/*
 * netns.h: ukd's network namespace, and sockets made inside it.
 *
 * Guest networks live in a namespace ukd owns (default "ukd", a name under
 * /run/netns as `ip netns` keeps them, so tools can enter it): no route
 * leads there from the host's namespace, so guests reach the host only
 * through what ukd forwards. netns_open creates it when missing, brings lo
 * up and switches IP forwarding off in it (networks must not route to each
 * other) and IPv6 off (guests have no IPv6; link-local chatter would only
 * be noise to filter).
 *
 * The loop thread stays in the host's namespace (that is where published
 * ports listen). A socket belongs to the namespace it was made in, for
 * life, so the proxy's guest-side sockets are made by one dedicated thread
 * that setns()'d into ukd's namespace once: it keeps a small pool of TCP
 * sockets ready, so an accepted connection normally gets its guest-side
 * socket without waiting for the thread.
 *
 * With no namespace (`--netns none`) sockets are made on the caller's
 * thread, in the host's namespace, where the bridges then are too.
 */
#ifndef NETNS_H
#define NETNS_H

#include <stddef.h>
#include <uv.h>

#define NETNS_DEFAULT "ukd"
/* TCP sockets kept ready in the namespace. */
#define NETNS_POOL 16

struct netns;

/* A request for one socket (SOCK_STREAM or SOCK_DGRAM, AF_INET, non-blocking). */
struct netns_req {
	int type;
	int fd; /* the socket, or -errno; the callback owns it */
	void (*cb)(struct netns_req *r);
	void *data;
	struct netns_req *next;
};

/*
 * Opens (creating if needed) the namespace name, or none when name is NULL.
 * Blocks (runs ip): call at startup. Returns 0 or -errno with err set.
 */
int netns_open(struct netns **out, uv_loop_t *loop, const char *name, char *err, size_t errlen);

/* The namespace's name, or NULL for the host's namespace. */
const char *netns_name(const struct netns *ns);

/*
 * Makes a socket in the namespace and calls r->cb on the loop thread, maybe
 * before returning. r must stay valid until then.
 */
void netns_socket(struct netns *ns, struct netns_req *r);

/* Stops the thread; pending requests get -ECANCELED. Leaves the namespace in place. */
void netns_close(struct netns *ns);

#endif
