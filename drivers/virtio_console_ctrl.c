/*
 * virtio_console_ctrl.c: see virtio_console_ctrl.h. Compiled into the
 * runtime (freestanding: no libc) and into the host fuzz target, so it
 * uses no library function at all.
 */
#include "virtio_console_ctrl.h"

void vcon_ctrl_init(struct vcon_ctrl *c, uint32_t max_nr_ports, const char *want)
{
	*c = (struct vcon_ctrl){0};
	c->nports = max_nr_ports < VCON_MAX_PORT ? max_nr_ports : VCON_MAX_PORT;
	c->want = want;
	c->port = -1;
}

/* A PORT_NAME's name: the bytes after the header, up to a NUL (QEMU sends one). */
static int name_matches(const struct vcon_ctrl *c, const uint8_t *p, uint32_t n)
{
	uint32_t i;

	while (n && p[n - 1] == 0)
		n--;
	for (i = 0; i < n && c->want[i] && (uint8_t)c->want[i] == p[i]; i++)
		;
	return i == n && !c->want[i];
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int vcon_ctrl_receive(struct vcon_ctrl *c, const uint8_t *buf, uint32_t len, uint32_t size,
		      struct vcon_ctrl_action *a)
{
	struct vcon_ctrl_msg m;
	int ours;

	*a = (struct vcon_ctrl_action){0};
	if (len > size)
		len = size; /* QEMU reports a truncated message's full length */
	if (len < sizeof(m))
		return -1;
	m.id = le32(buf);
	m.event = (uint16_t)(buf[4] | buf[5] << 8);
	m.value = (uint16_t)(buf[6] | buf[7] << 8);
	/* Port 0 and ports beyond the queues we set up are not ours to use. */
	ours = m.id >= 1 && m.id < c->nports;
	if (!ours)
		return 0;
	switch (m.event) {
	case VCON_C_PORT_ADD:
		if (!c->added[m.id]) {
			c->added[m.id] = 1;
			a->reply = 1;
			a->reply_msg = (struct vcon_ctrl_msg){m.id, VCON_C_PORT_READY, 1};
		}
		break;
	case VCON_C_PORT_REMOVE:
		c->added[m.id] = 0;
		if ((int)m.id == c->port) {
			c->port = -1;
			c->host_open = 0;
			a->removed = 1;
		}
		break;
	case VCON_C_PORT_NAME:
		if (c->added[m.id] && c->port < 0 &&
		    name_matches(c, buf + sizeof(m), len - (uint32_t)sizeof(m))) {
			c->port = (int)m.id;
			a->open = 1;
			a->reply = 1;
			a->reply_msg = (struct vcon_ctrl_msg){m.id, VCON_C_PORT_OPEN, 1};
		}
		break;
	case VCON_C_PORT_OPEN:
		if ((int)m.id == c->port) {
			a->host_opened = !c->host_open && m.value;
			c->host_open = m.value != 0;
		}
		break;
	default: /* console port, resize, and anything newer: nothing to do */ break;
	}
	return 0;
}
