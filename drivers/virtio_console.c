/*
 * virtio_console.c: see virtio_console.h. One device, multiport required.
 *
 * Queues: the control pair (2: receive, 3: transmit) and the data pair of
 * ports 1..VCON_MAX_PORT-1 (port p: 2p+2 and 2p+3). Port 0 is QEMU's reserved
 * console slot, never a named port; virtio 1.x wants every queue set up
 * before DRIVER_OK, so the few data pairs are set up at probe time, before
 * the names are known, and only the named port gets receive buffers. ukd
 * puts the health port at 1, as does QEMU's numbering when it is alone.
 *
 * The host is trusted less than it looks: every length it reports is
 * clamped to the buffer it filled; control messages go through one checked
 * state machine (virtio_console_ctrl.c, fuzzed) that range-checks port ids,
 * compares names only within the bytes received and ignores messages for
 * ports we did not set up.
 */
#include "virtio_console.h"

#include "pci.h"
#include "virtio.h"
#include "virtio_console_ctrl.h"

#include "../runtime/console.h"
#include "../runtime/cpu.h"
#include "../runtime/errno.h"
#include "../runtime/heap.h"
#include "../runtime/irq.h"
#include "../runtime/lib.h"
#include "../runtime/pmem.h"
#include "../runtime/time.h"

#define F_MULTIPORT (1ull << 1)

#define QSIZE 16
#define CTRL_BUF 128 /* a control message and a port name */
#define CTRL_NBUF 16 /* QEMU drops control messages when no buffer is posted */
#define RX_BUF 512
#define RX_NBUF 8
#define TX_WAIT_NS 200000000ull	  /* how long a write waits for the device */
#define PROBE_WAIT_NS 50000000ull /* for the port names, at boot */
/*
 * For a control message: one that does not leave loses the port (a
 * PORT_READY or PORT_OPEN the device never sees), and under TCG on a loaded
 * host QEMU's main loop can be away for more than TX_WAIT_NS.
 */
#define CTRL_WAIT_NS 2000000000ull

struct vcon {
	struct virtio_dev v;
	struct vcon_ctrl ctl; /* the control protocol's state (virtio_console_ctrl.h) */
	struct virtq cq_rx, cq_tx, rx[VCON_MAX_PORT], tx[VCON_MAX_PORT];
	/* Pages: control receive buffers then the control message out; data in; data out. */
	uint8_t *ctrl, *rxb, *txb;
	uint64_t ctrl_pa, rxb_pa, txb_pa;
	int ctrl_busy, tx_busy; /* a buffer still owned by the device */
	int rx_posted;		/* the port's receive buffers are with the device */
	int host_seen;		/* the host side was connected at some time in this run */
	uint8_t *cur;		/* receive buffer being read */
	uint32_t cur_len, cur_off;
	void (*notify)(int event);
};

static struct vcon *dev;

/* Reclaims `q`'s one outstanding buffer, waiting up to `ns`. 1 if free. */
static int tx_reclaim(struct virtq *q, int *busy, uint64_t ns)
{
	uint64_t until = 0;
	uint32_t len;

	while (*busy) {
		if (virtq_get_used(q, &len)) {
			*busy = 0;
			break;
		}
		if (!until)
			until = rdtsc() + time_ns_to_tsc(ns);
		else if (rdtsc() > until)
			return 0;
		__asm__ volatile("pause");
	}
	return 1;
}

/* Hands len bytes at pa to the device on q (its previous buffer reclaimed first). */
static int tx_post(struct virtq *q, int *busy, uint64_t pa, uint32_t len)
{
	struct vq_buf b = {pa, len, 0};

	if (!tx_reclaim(q, busy, TX_WAIT_NS) || virtq_add(q, &b, 1, busy))
		return -1;
	*busy = 1;
	virtq_kick(q);
	return 0;
}

/* Sends len bytes at pa on q and waits (up to ns) for the device to take them. */
static int tx_sync(struct virtq *q, int *busy, uint64_t pa, uint32_t len, uint64_t ns)
{
	if (tx_post(q, busy, pa, len))
		return -1;
	return tx_reclaim(q, busy, ns) ? 0 : -1;
}

static void ctrl_send(struct vcon *c, uint32_t id, uint16_t event, uint16_t value)
{
	struct vcon_ctrl_msg *m = (struct vcon_ctrl_msg *)(c->ctrl + CTRL_NBUF * CTRL_BUF);

	if (!tx_reclaim(&c->cq_tx, &c->ctrl_busy, CTRL_WAIT_NS))
		return;
	*m = (struct vcon_ctrl_msg){id, event, value};
	if (tx_sync(&c->cq_tx, &c->ctrl_busy, c->ctrl_pa + CTRL_NBUF * CTRL_BUF, sizeof(*m),
		    CTRL_WAIT_NS))
		kprintf("virtio-console: the device did not take a control message\n");
}

static int post(struct virtq *q, uint8_t *base, uint64_t base_pa, uint8_t *buf, uint32_t size)
{
	struct vq_buf b = {base_pa + (uint64_t)(buf - base), size, 1};

	return virtq_add(q, &b, 1, buf);
}

static void open_port(struct vcon *c, int id)
{
	if (c->rx_posted++)
		return; /* the port came back (removed, added again): its buffers are still there */
	for (int i = 0; i < RX_NBUF; i++)
		if (post(&c->rx[id], c->rxb, c->rxb_pa, c->rxb + i * RX_BUF, RX_BUF))
			return;
	virtq_kick(&c->rx[id]);
}

/* Takes every control message the device has delivered, and does what it asks. */
static void ctrl_poll(struct vcon *c)
{
	uint8_t *buf, msg[CTRL_BUF];
	uint32_t len;
	int got = 0;

	while ((buf = virtq_get_used(&c->cq_rx, &len))) {
		struct vcon_ctrl_action a;

		len = MIN(len, CTRL_BUF);
		memcpy(msg, buf, len);
		/* Repost first: the reply below may make the device send more at once. */
		post(&c->cq_rx, c->ctrl, c->ctrl_pa, buf, CTRL_BUF);
		got = 1;
		if (vcon_ctrl_receive(&c->ctl, msg, len, CTRL_BUF, &a))
			continue;
		if (a.open)
			open_port(c, c->ctl.port); /* receive buffers before PORT_OPEN */
		if (a.reply)
			ctrl_send(c, a.reply_msg.id, a.reply_msg.event, a.reply_msg.value);
		if (a.removed)
			kprintf("virtio-console: the health port was removed\n");
		if (a.host_opened)
			c->host_seen = 1;
		if (a.host_opened && c->notify)
			c->notify(VCON_EV_HOST_OPEN);
	}
	if (got)
		virtq_kick(&c->cq_rx);
}

static int rx_pending(struct vcon *c)
{
	int p = c->ctl.port;

	return p > 0 && (c->cur || c->rx[p].last_used != c->rx[p].used->idx);
}

static void vcon_irq(void *arg)
{
	struct vcon *c = arg;

	ctrl_poll(c);
	if (rx_pending(c) && c->notify)
		c->notify(VCON_EV_DATA);
}

static int port_ready(void)
{
	return dev && dev->ctl.port > 0;
}

int vcon_write(const uint8_t *buf, size_t len)
{
	struct vcon *c = dev;

	if (port_ready() && !c->ctl.host_open)
		ctrl_poll(c); /* a PORT_OPEN may wait there: interrupts are off in here */
	if (!port_ready() || !c->ctl.host_open)
		return -1;
	while (len) {
		uint32_t n = (uint32_t)MIN(len, PAGE_SIZE);

		if (!tx_reclaim(&c->tx[c->ctl.port], &c->tx_busy, TX_WAIT_NS))
			return -1;
		memcpy(c->txb, buf, n);
		if (tx_post(&c->tx[c->ctl.port], &c->tx_busy, c->txb_pa, n))
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

int vcon_flush(void)
{
	struct vcon *c = dev;

	if (!port_ready())
		return 0;
	return tx_reclaim(&c->tx[c->ctl.port], &c->tx_busy, TX_WAIT_NS) ? 0 : -1;
}

size_t vcon_read(uint8_t *buf, size_t len)
{
	struct vcon *c = dev;
	size_t n = 0;
	int reposted = 0;

	if (!port_ready())
		return 0;
	while (n < len) {
		uint32_t take;

		if (!c->cur) {
			if (!(c->cur = virtq_get_used(&c->rx[c->ctl.port], &c->cur_len)))
				break;
			c->cur_len = MIN(c->cur_len, RX_BUF); /* never past the buffer */
			c->cur_off = 0;
		}
		take = (uint32_t)MIN(len - n, c->cur_len - c->cur_off);
		memcpy(buf + n, c->cur + c->cur_off, take);
		n += take;
		c->cur_off += take;
		if (c->cur_off == c->cur_len) {
			post(&c->rx[c->ctl.port], c->rxb, c->rxb_pa, c->cur, RX_BUF);
			c->cur = 0;
			reposted = 1;
		}
	}
	if (reposted)
		virtq_kick(&c->rx[c->ctl.port]);
	return n;
}

void vcon_set_notify(void (*fn)(int event))
{
	if (dev)
		dev->notify = fn;
}

int vcon_host_away(int *ever)
{
	struct vcon *c = dev;

	*ever = 0;
	if (port_ready() && !c->ctl.host_open)
		ctrl_poll(c);
	if (!port_ready())
		return 0;
	*ever = c->host_seen;
	return !c->ctl.host_open;
}

/*
 * Woken by the control queue's interrupt (PORT_OPEN), and at least once a
 * second whatever happens, so a lost interrupt costs a second, not the wait.
 */
#define HOST_WAIT_TICK_NS 1000000000ull

int vcon_wait_host(uint64_t until)
{
	struct vcon *c = dev;
	uint64_t now, tick = time_ns_to_tsc(HOST_WAIT_TICK_NS);

	if (!port_ready())
		return -1;
	c->notify = 0; /* the caller decides what to send once the host is back */
	irq_quiesce();
	for (;;) {
		ctrl_poll(c);
		if (!port_ready())
			return -1;
		if (c->ctl.host_open)
			return 0;
		if ((now = rdtsc()) >= until)
			return -1;
		irq_halt_until(until - now > tick ? now + tick : until);
	}
}

static int alloc_page(uint8_t **va, uint64_t *pa)
{
	*pa = pmem_alloc(1);
	*va = *pa ? phys_to_virt(*pa) : 0;
	return *pa ? 0 : -ENOMEM;
}

static int setup_queues(struct vcon *c)
{
	int err;

	if ((err = virtq_setup(&c->v, &c->cq_rx, 2, QSIZE, 0)) ||
	    (err = virtq_setup(&c->v, &c->cq_tx, 3, QSIZE, VIRTIO_NO_VECTOR)))
		return err;
	for (uint32_t p = 1; p < c->ctl.nports; p++)
		if ((err = virtq_setup(&c->v, &c->rx[p], (uint16_t)(2 * p + 2), QSIZE, 0)) ||
		    (err = virtq_setup(&c->v, &c->tx[p], (uint16_t)(2 * p + 3), QSIZE,
				       VIRTIO_NO_VECTOR)))
			return err;
	if ((err = alloc_page(&c->ctrl, &c->ctrl_pa)) || (err = alloc_page(&c->rxb, &c->rxb_pa)) ||
	    (err = alloc_page(&c->txb, &c->txb_pa)))
		return err;
	for (int i = 0; i < CTRL_NBUF; i++)
		if ((err = post(&c->cq_rx, c->ctrl, c->ctrl_pa, c->ctrl + i * CTRL_BUF, CTRL_BUF)))
			return err;
	return 0;
}

/*
 * Interrupts are off at boot, so the handshake is polled: DEVICE_READY makes
 * the device announce its ports; each answered PORT_READY brings its name
 * (and PORT_OPEN if the host is connected). Under TCG the device answers
 * within the notify, so the first look finds the port (and the boot does
 * not pay for the TSC calibration a deadline needs); under KVM it answers
 * from QEMU's I/O thread, hence the bounded wait.
 */
static void handshake(struct vcon *c)
{
	uint64_t until;

	virtq_kick(&c->cq_rx);
	ctrl_send(c, 0, VCON_C_DEVICE_READY, 1);
	ctrl_poll(c);
	if (c->ctl.port > 0)
		return;
	until = rdtsc() + time_ns_to_tsc(PROBE_WAIT_NS);
	while (c->ctl.port < 0 && rdtsc() < until) {
		__asm__ volatile("pause");
		ctrl_poll(c);
	}
}

/* The device's setup and handshake, at the first vcon_present(). */
static void vcon_start(struct pci_dev *d)
{
	struct vcon *c;
	int vector, err;
	uint32_t max_ports;

	if (!(c = kmalloc(sizeof(*c)))) { /* zeroed */
		err = -ENOMEM;
		goto err_setup;
	}
	if ((err = virtio_init(&c->v, d, F_MULTIPORT)))
		goto err_setup;
	if (!(c->v.features & F_MULTIPORT) || !virtio_config(&c->v)) {
		err = -ENODEV; /* no names without the control queues */
		goto err_setup;
	}
	max_ports = *(volatile uint32_t *)(virtio_config(&c->v) + 4);
	vcon_ctrl_init(&c->ctl, max_ports, VCON_HEALTH_PORT_NAME);
	if ((vector = irq_alloc(vcon_irq, c)) < 0) {
		err = vector;
		goto err_setup;
	}
	if ((err = pci_msix_route(d, 0, (uint8_t)vector)) || (err = setup_queues(c)))
		goto err_setup;
	virtio_ready(&c->v);
	dev = c;
	handshake(c);
	if (c->ctl.port > 0)
		kprintf("runtime: virtio-console port %d '%s'%s\n", c->ctl.port,
			VCON_HEALTH_PORT_NAME, c->ctl.host_open ? "" : " (host not connected yet)");
	return;
err_setup:
	kprintf("virtio-console: setup failed (error %d)\n", err);
}

/*
 * At boot the device is only noted: setting it up costs several ms under
 * TCG (every register access is a VM exit), so it happens at first use,
 * after the application has started (the health agent's first frame).
 */
static struct pci_dev found;
static int have_dev, started;

static int vcon_probe(struct pci_dev *d)
{
	if (have_dev)
		return -ENODEV; /* one device */
	found = *d;
	have_dev = 1;
	return 0;
}

int vcon_present(void)
{
	if (have_dev && !started) {
		started = 1;
		vcon_start(&found);
	}
	return dev && dev->ctl.port > 0;
}

static const struct pci_driver vcon_transitional = {"virtio-console", 0x1af4, 0x1003, vcon_probe};
static const struct pci_driver vcon_modern = {"virtio-console", 0x1af4, 0x1043, vcon_probe};

void virtio_console_register(void)
{
	pci_register(&vcon_transitional);
	pci_register(&vcon_modern);
}
