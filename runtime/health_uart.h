/*
 * health_uart.h: the health agent's transport. The agent (health.c) sees
 * only struct health_transport, so the virtio-console port that replaces
 * COM2 later is one more ops table, not a change to the agent.
 */
#ifndef HEALTH_UART_H
#define HEALTH_UART_H

#include <stddef.h>
#include <stdint.h>

struct health_transport {
	const char *name;
	/* 1 if the device is there (then the other ops may be used), else 0. */
	int (*probe)(void);
	/* Writes all of buf, polled. 0, or -1 if the device stayed busy (bytes dropped). */
	int (*write)(const uint8_t *buf, size_t len);
	/* Waits (bounded) until everything written has left the device. */
	void (*flush)(void);
	/* Non-blocking: copies what has arrived (at most len bytes); returns the count. */
	size_t (*read)(uint8_t *buf, size_t len);
};

/* COM2, a 16550 at I/O port 0x2f8, polled both ways (no interrupt). */
extern const struct health_transport health_uart_com2;

#endif
