/*
 * health_transport.h: the health agent's byte channel to the host. The
 * agent (health.c) sees only struct health_transport; health_start() takes
 * the first one present: the virtio-console port (health_virtio.c), else
 * COM2 (health_uart.c), which raw-QEMU setups and domains defined before
 * the virtio channel still use.
 */
#ifndef HEALTH_TRANSPORT_H
#define HEALTH_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

enum health_transport_event {
	HEALTH_TP_DATA = 1,	 /* host bytes wait to be read */
	HEALTH_TP_CONNECTED = 2, /* the host (re)connected: what was written meanwhile is lost */
};

struct health_transport {
	const char *name;
	/* 1 if the device is there (then the other ops may be used), else 0. */
	int (*probe)(void);
	/*
	 * Writes buf, polled and bounded; returns how many leading bytes left:
	 * len, 0 (dropped), or (COM2, the host stopped reading mid-frame) a
	 * part, whose rest the caller must send before any other byte.
	 */
	size_t (*write)(const uint8_t *buf, size_t len);
	/* Waits (bounded) until everything written has left the device. */
	void (*flush)(void);
	/* Non-blocking: copies what has arrived (at most len bytes); returns the count. */
	size_t (*read)(uint8_t *buf, size_t len);
	/*
	 * Optional: an interrupt-driven transport calls fn(enum
	 * health_transport_event) from its interrupt handler (interrupts off),
	 * so host messages are handled at once. Without it the agent looks
	 * for them at idle entry and at each heartbeat.
	 */
	void (*set_notify)(void (*fn)(int event));
	/*
	 * Optional, for a transport that knows whether the host listens: 1 if
	 * no host is connected now (*ever: one was, earlier in this run: a
	 * restarting ukd); then wait_host halts (the exit path only:
	 * irq_quiesce) until one is connected (0) or the TSC reaches until (-1).
	 */
	int (*host_away)(int *ever);
	int (*wait_host)(uint64_t until);
};

/* A virtio-console port named org.ukd.health.0, interrupt-driven. */
extern const struct health_transport health_virtio;
/* COM2, a 16550 at I/O port 0x2f8, polled both ways (no interrupt). */
extern const struct health_transport health_uart_com2;

#endif
