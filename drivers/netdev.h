/*
 * netdev.h: what a network driver offers the network stack (runtime/net.c):
 * a MAC address, a way to send a frame, and a callback for received ones.
 * Frames are plain Ethernet frames in runtime memory; the driver copies.
 */
#ifndef NETDEV_H
#define NETDEV_H

#include <stddef.h>
#include <stdint.h>

struct netdev {
	uint8_t mac[6];
	uint16_t mtu;
	/* Queues one frame for sending; 0, or -ENOSPC when the device is full. */
	int (*transmit)(struct netdev *nd, const void *frame, size_t len);
	/* Set by the stack: called from the device's interrupt for every received frame. */
	void (*receive)(void *ctx, const void *frame, size_t len);
	void *ctx;
	/* counters */
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, rx_dropped, tx_dropped;
};

/* The first network device found at boot, or NULL. */
struct netdev *netdev_first(void);
void netdev_register(struct netdev *nd);

#endif
