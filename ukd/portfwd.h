/*
 * portfwd.h: published ports. A listener in the host's namespace
 * (HOST_IP:HOST_PORT, TCP or UDP) relays each connection or datagram flow to
 * GUEST_IP:GUEST_PORT through a socket made in ukd's namespace (netns.h).
 *
 * Why a user-space proxy and not kernel NAT: NAT from the host's namespace
 * into ukd's needs a veth pair between the two and netfilter rules in the
 * host's namespace (DNAT, plus route_localnet for 127.0.0.1), i.e. a path
 * from every guest towards the host that the rules must then close again,
 * and state in the host's tables that a crashed ukd leaves behind. The proxy
 * adds no route at all, dies with ukd, and cannot be misconfigured into an
 * open door. Its cost per request is two syscalls per direction (read and a
 * direct write, uv_try_write) plus a share of epoll_wait, and two wake-ups:
 * against a TCG guest, the bottleneck, requests/s through the published port
 * come near a client in ukd's namespace hitting the guest directly; against a
 * fast server they halve on a 2-core host (tests/bench/portfwd_bench.py and
 * docs/networking.md, which also measures kernel NAT and a BPF sockmap).
 *
 * Everything runs on the loop thread.
 */
#ifndef PORTFWD_H
#define PORTFWD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "netns.h"

/* Bytes queued towards one side before the other side's reads pause. */
#define PORTFWD_HIGH_WATER (1u << 20)
/* UDP: flows (distinct client addresses) per port, and their idle lifetime. */
#define PORTFWD_UDP_FLOWS 256
#define PORTFWD_UDP_IDLE_MS 60000

struct portfwd;

/*
 * Binds and listens on host_ip:host_port (proto "tcp" or "udp") and relays
 * to guest_ip:guest_port. -EADDRINUSE if the port is taken; err says so.
 */
int portfwd_open(struct portfwd **out, uv_loop_t *loop, struct netns *ns, const char *proto,
		 const char *host_ip, unsigned host_port, uint32_t guest_ip, unsigned guest_port,
		 char *err, size_t errlen);

/* Sets the guest's address (host byte order) for the connections to come. */
void portfwd_set_guest(struct portfwd *f, uint32_t guest_ip);

/* Closes the listener and every relayed connection; frees f once libuv is done. */
void portfwd_close(struct portfwd *f);

/*
 * Whether the guest behind f runs. While it does not (created, stopped, exited)
 * the port stays held for the instance, and a TCP client is reset at once
 * instead of waiting for a guest that is not there; datagrams are dropped.
 */
void portfwd_set_running(struct portfwd *f, int running);

/* Connections (TCP) or flows (UDP) relayed now. */
size_t portfwd_active(const struct portfwd *f);

#endif
