/*
 * virtio_net.c: virtio-net with mergeable receive buffers. Receive buffers
 * are 2 KiB halves of pages, all posted up front; the interrupt drains the
 * used ring, hands frames to the stack and reposts the buffers. Transmit
 * copies each frame behind a zeroed virtio_net_hdr into a per-descriptor
 * buffer; finished transmissions are reclaimed lazily on the next send, so
 * the transmit queue needs no interrupt.
 */
#include "netdev.h"
#include "pci.h"
#include "virtio.h"

#include "../runtime/console.h"
#include "../runtime/errno.h"
#include "../runtime/heap.h"
#include "../runtime/irq.h"
#include "../runtime/lib.h"
#include "../runtime/pmem.h"

#define F_MAC (1ull << 5)
#define F_STATUS (1ull << 16)
#define F_MRG_RXBUF (1ull << 15)
#define HDR 12 /* struct virtio_net_hdr with num_buffers (always, under VERSION_1) */
#define BUF 2048
#define QSIZE 256
#define MAX_FRAME (1514 + 4)

struct vnet {
	struct netdev nd;
	struct virtio_dev v;
	struct virtq rx, tx;
	uint8_t *rx_buf[QSIZE];
	uint64_t rx_pa[QSIZE];
	uint8_t *tx_buf[QSIZE];
	uint64_t tx_pa[QSIZE];
	uint8_t frame[MAX_FRAME]; /* reassembly of a frame split over merged buffers */
};

static struct netdev *first;

struct netdev *netdev_first(void)
{
	return first;
}

void netdev_register(struct netdev *nd)
{
	if (!first)
		first = nd;
}

static int post_rx(struct vnet *n, int i)
{
	struct vq_buf b = {n->rx_pa[i], BUF, 1};

	return virtq_add(&n->rx, &b, 1, n->rx_buf[i]);
}

static int buf_index(struct vnet *n, const uint8_t *buf)
{
	for (int i = 0; i < QSIZE; i++)
		if (n->rx_buf[i] == buf)
			return i;
	return -1;
}

/* Takes one frame (possibly several merged buffers) off the used ring. */
static int receive_one(struct vnet *n)
{
	uint32_t len, total = 0;
	uint8_t *buf = virtq_get_used(&n->rx, &len);
	uint16_t nbufs;
	int ok = 1;

	if (!buf)
		return 0;
	nbufs = (uint16_t)(buf[10] | buf[11] << 8);
	for (uint16_t k = 0; k < nbufs || k == 0; k++) {
		uint32_t off = k == 0 ? HDR : 0;

		if (k > 0 && !(buf = virtq_get_used(&n->rx, &len))) {
			ok = 0; /* fewer buffers than the header said: a partial frame */
			break;
		}
		if (len > BUF || len < off || total + (len - off) > sizeof(n->frame))
			ok = 0; /* too long or malformed: dropped, buffers still recycled */
		else
			memcpy(n->frame + total, buf + off, len - off), total += len - off;
		post_rx(n, buf_index(n, buf));
	}
	if (ok && total >= 14 && n->nd.receive) {
		n->nd.rx_packets++;
		n->nd.rx_bytes += total;
		n->nd.receive(n->nd.ctx, n->frame, total);
	} else {
		n->nd.rx_dropped++;
	}
	return 1;
}

static void vnet_irq(void *arg)
{
	struct vnet *n = arg;

	while (receive_one(n))
		;
	virtq_kick(&n->rx);
}

static void reclaim_tx(struct vnet *n)
{
	uint32_t len;

	while (virtq_get_used(&n->tx, &len))
		;
}

static int vnet_transmit(struct netdev *nd, const void *frame, size_t len)
{
	struct vnet *n = (struct vnet *)nd;
	struct vq_buf b;
	int slot;

	if (len > MAX_FRAME) {
		nd->tx_dropped++;
		return -EMSGSIZE;
	}
	reclaim_tx(n);
	if (!n->tx.num_free) {
		nd->tx_dropped++;
		return -ENOSPC;
	}
	slot = n->tx.free_head;
	memset(n->tx_buf[slot], 0, HDR);
	memcpy(n->tx_buf[slot] + HDR, frame, len);
	b = (struct vq_buf){n->tx_pa[slot], (uint32_t)(HDR + len), 0};
	if (virtq_add(&n->tx, &b, 1, n->tx_buf[slot]))
		return -ENOSPC;
	virtq_kick(&n->tx);
	nd->tx_packets++;
	nd->tx_bytes += len;
	return 0;
}

static int alloc_buffers(uint8_t **va, uint64_t *pa, int count)
{
	for (int i = 0; i < count; i += 2) {
		uint64_t page = pmem_alloc(1);

		if (!page)
			return -ENOMEM;
		for (int h = 0; h < 2 && i + h < count; h++) {
			pa[i + h] = page + (uint64_t)h * BUF;
			va[i + h] = (uint8_t *)phys_to_virt(page) + h * BUF;
		}
	}
	return 0;
}

static int vnet_probe(struct pci_dev *d)
{
	struct vnet *n = kmalloc(sizeof(*n));
	int vector = irq_alloc(vnet_irq, n), err;

	if (!n || vector < 0)
		return -ENOMEM;
	if ((err = virtio_init(&n->v, d, F_MAC | F_MRG_RXBUF | F_STATUS)))
		return err;
	if ((err = pci_msix_route(d, 0, (uint8_t)vector)) ||
	    (err = virtq_setup(&n->v, &n->rx, 0, QSIZE, 0)) ||
	    (err = virtq_setup(&n->v, &n->tx, 1, QSIZE, VIRTIO_NO_VECTOR)))
		goto err_setup;
	n->tx.avail->flags = 1; /* VRING_AVAIL_F_NO_INTERRUPT: we reclaim on send */
	if ((err = alloc_buffers(n->rx_buf, n->rx_pa, n->rx.size)) ||
	    (err = alloc_buffers(n->tx_buf, n->tx_pa, n->tx.size)))
		goto err_setup;
	for (int i = 0; i < n->rx.size; i++)
		post_rx(n, i);
	for (int i = 0; i < 6; i++)
		n->nd.mac[i] =
			n->v.features & F_MAC ? virtio_config(&n->v)[i] : (uint8_t)(i ? i : 2);
	n->nd.mtu = 1500;
	n->nd.transmit = vnet_transmit;
	virtio_ready(&n->v);
	virtq_kick(&n->rx);
	netdev_register(&n->nd);
	kprintf("runtime: virtio-net %02x:%02x:%02x:%02x:%02x:%02x, %u rx buffers\n", n->nd.mac[0],
		n->nd.mac[1], n->nd.mac[2], n->nd.mac[3], n->nd.mac[4], n->nd.mac[5], n->rx.size);
	return 0;
err_setup:
	kprintf("virtio-net: setup failed (error %d)\n", err);
	return err;
}

static const struct pci_driver vnet_transitional = {"virtio-net", 0x1af4, 0x1000, vnet_probe};
static const struct pci_driver vnet_modern = {"virtio-net", 0x1af4, 0x1041, vnet_probe};

void virtio_net_register(void)
{
	pci_register(&vnet_transitional);
	pci_register(&vnet_modern);
}
