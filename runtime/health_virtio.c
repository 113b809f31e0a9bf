/*
 * health_virtio.c: the virtio-console port org.ukd.health.0 as the health
 * transport (drivers/virtio_console.h). Unlike COM2, a frame leaves in one
 * device notification instead of one trap per byte, and host bytes raise an
 * interrupt, so a shutdown reaches a busy application without waiting for
 * a heartbeat or an idle vCPU.
 */
#include "health_transport.h"

#include "../drivers/virtio_console.h"

_Static_assert((int)VCON_EV_DATA == (int)HEALTH_TP_DATA &&
		       (int)VCON_EV_HOST_OPEN == (int)HEALTH_TP_CONNECTED,
	       "the driver's events are the transport's");

/* Writes leave without waiting; before power-off the last one must be taken. */
static void virtio_flush(void)
{
	vcon_flush();
}

/* A frame is one buffer on the queue: it leaves whole or not at all. */
static size_t virtio_write(const uint8_t *buf, size_t len)
{
	return vcon_write(buf, len) < 0 ? 0 : len;
}

const struct health_transport health_virtio = {
	.name = "virtio-console",
	.probe = vcon_present,
	.write = virtio_write,
	.flush = virtio_flush,
	.read = vcon_read,
	.set_notify = vcon_set_notify,
	.host_away = vcon_host_away,
	.wait_host = vcon_wait_host,
};
