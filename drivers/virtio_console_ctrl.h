/*
 * virtio_console_ctrl.h: the guest's side of virtio-console's multiport
 * control protocol as a pure state machine, so that what the host sends is
 * checked in one place, and fuzzed on the host (tests/fuzz/fuzz_vcon_ctrl.c).
 * No I/O: the driver (virtio_console.c) feeds it each received control
 * buffer and carries out the actions it returns.
 */
#ifndef VIRTIO_CONSOLE_CTRL_H
#define VIRTIO_CONSOLE_CTRL_H

#include <stddef.h>
#include <stdint.h>

#define VCON_MAX_PORT 2 /* only port 1 is used; port 0 is QEMU's console slot */

/* struct virtio_console_control (little-endian, as x86 is) */
struct vcon_ctrl_msg {
	uint32_t id;
	uint16_t event, value;
};

#define VCON_C_DEVICE_READY 0
#define VCON_C_PORT_ADD 1
#define VCON_C_PORT_REMOVE 2
#define VCON_C_PORT_READY 3
#define VCON_C_PORT_OPEN 6
#define VCON_C_PORT_NAME 7

struct vcon_ctrl {
	uint32_t nports;  /* ports 1..nports-1 have queues; nports <= VCON_MAX_PORT */
	const char *want; /* the name of the port to use */
	uint8_t added[VCON_MAX_PORT];
	int port;      /* the named port, once found, else -1 */
	int host_open; /* the host side of that port is connected */
};

struct vcon_ctrl_action {
	int reply; /* 1: send reply to the device */
	struct vcon_ctrl_msg reply_msg;
	int open;	 /* 1: post receive buffers on ctl->port, then send PORT_OPEN */
	int host_opened; /* 1: the host side just connected */
	int removed;	 /* 1: the port in use went away */
};

/* Initial state: nports from the device's max_nr_ports (capped here), want: the port name. */
void vcon_ctrl_init(struct vcon_ctrl *c, uint32_t max_nr_ports, const char *want);

/*
 * One control buffer from the device: `len` is what the device reported,
 * `size` what the buffer holds (len is clamped to it; the device's word is
 * not trusted). Updates the state and fills *a with what the driver must do.
 * Messages that are short, for ports without queues, or out of order are
 * ignored. Returns 0, or -1 if the buffer was ignored as malformed.
 */
int vcon_ctrl_receive(struct vcon_ctrl *c, const uint8_t *buf, uint32_t len, uint32_t size,
		      struct vcon_ctrl_action *a);

#endif
