/*
 * virtio_console.h: virtio-console (QEMU's virtio-serial-pci), reduced to
 * what the runtime needs: one port, found by its name, as a byte channel.
 * libvirt's <channel type='unix'><target type='virtio' name='NAME'/> is
 * such a named port; names travel in the multiport control protocol, which
 * the driver therefore speaks (DEVICE_READY, PORT_ADD, PORT_READY,
 * PORT_NAME, PORT_OPEN). The health agent is the one user
 * (runtime/health_virtio.c).
 *
 * Writes are synchronous and polled (the exit and crash paths must flush
 * without interrupts); reads take what the device has delivered. Received
 * bytes and host (re)connections raise an MSI-X interrupt, which calls the
 * notify function, so the reader wakes even while the application computes.
 */
#ifndef VIRTIO_CONSOLE_H
#define VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "ukhealth.h"

/* The port the health agent uses (ukd names it so in the domain XML). */
#define VCON_HEALTH_PORT_NAME HEALTH_PORT_NAME

enum vcon_event {
	VCON_EV_DATA = 1,      /* bytes from the host wait to be read */
	VCON_EV_HOST_OPEN = 2, /* the host side (QEMU's chardev) connected */
};

/*
 * 1 if a port named VCON_HEALTH_PORT_NAME was found and opened, else 0. The
 * first call sets the device up (polled handshake, interrupts off), so the
 * boot does not pay for it; call it after the application has started.
 */
int vcon_present(void);
/*
 * Hands all of buf to the port without waiting for the device to take the
 * last page of it (under TCG the device runs in QEMU's main loop: waiting
 * would spin the vCPU through a main-loop round at every heartbeat). 0, or
 * -1 if the bytes were dropped: no host connected (QEMU would discard them),
 * or the device kept the previous buffer too long.
 */
int vcon_write(const uint8_t *buf, size_t len);
/* Waits (bounded) until the device has taken the last write. 0, or -1 if it did not. */
int vcon_flush(void);
/* Non-blocking: copies up to len received bytes; returns the count. */
size_t vcon_read(uint8_t *buf, size_t len);
/* fn(event) from the device interrupt (interrupts off, as for every handler). */
void vcon_set_notify(void (*fn)(int event));
/*
 * 1 if the port is there and its host side is not connected now (the
 * control messages the device has delivered are looked at first), else 0.
 * *ever: the host side was connected at some time in this run (so a
 * listener went away and may come back: ukd restarting, QEMU reconnecting),
 * unlike a port nobody listens to (a null chardev).
 */
int vcon_host_away(int *ever);
/*
 * For the exit path only: halts the vCPU until the host side of the port
 * connects or the TSC reaches `until`. Calls irq_quiesce() first, so from
 * then on interrupts only end the halt (no handler runs, none ever again).
 * 0 once connected, -1 at `until` or if the port went away.
 */
int vcon_wait_host(uint64_t until);

#endif
