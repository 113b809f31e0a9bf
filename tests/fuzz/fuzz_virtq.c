/*
 * fuzz_virtq.c: libFuzzer target for the guest's virtqueue handling
 * (drivers/virtio.c) and the virtio-net driver on top of it
 * (drivers/virtio_net.c, included here so the harness sees its queues), with
 * the fuzzer input playing the device: a buggy or hostile host, or memory
 * corruption.
 *
 * The fake transport: PCI config space, the BAR with the common, notify, ISR
 * and device configuration structures are plain host memory; "physical"
 * addresses are host addresses (pmem_dmap_base 0). The device writes only
 * into memory the driver allocated (an IOMMU's view), so any out-of-bounds
 * access ASan reports is the driver's.
 *
 * Input: an 8-byte header (u16 queue size the device offers, u16 the queue's
 * notify offset, u16 the notify offset multiplier, u16 feature bits), then
 * operations, each an op byte and its arguments (little endian):
 *   0 DELIVER   u16 n, n bytes, u32 len: a well-behaved device writes the n
 *               bytes (virtio_net_hdr and frame) into the next receive buffer,
 *               at most its length, and reports `len` (which may lie)
 *   1 USED      u8 queue, u32 id, u32 len: a raw used-ring entry
 *   2 IDX       u8 queue, u16 idx: sets used->idx
 *   3 DESC      u8 queue, u16 i, u32 len, u16 flags, u16 next: rewrites
 *               descriptor i % size (the device is not supposed to)
 *   4 IRQ       the receive interrupt
 *   5 SEND      u16 n: the driver transmits an n-byte frame
 *   6 TXDONE    the device completes the next transmit buffer
 * Checked: no memory error; every frame handed to the stack is 14..1518
 * bytes; the free-descriptor counts never exceed the queue sizes.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I drivers \
 *	tests/fuzz/fuzz_virtq.c drivers/virtio.c -o fuzz_virtq
 *   ./fuzz_virtq -max_total_time=3600 CORPUS_DIR tests/fuzz/corpus/virtq
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>

#include "../../drivers/virtio_net.c"

/* ---- what the drivers need from the runtime, on the host ---- */

/*
 * All of the driver's memory comes from one arena, page-aligned, each
 * allocation followed by a poisoned guard page, and all of it poisoned again
 * after each input: ASan sees any access outside what the driver holds now,
 * without the cost of its free-list quarantine (10x slower).
 */
#define MAX_ALLOCS 1024
#define ARENA (8u << 20)

static uint8_t arena[ARENA] __attribute__((aligned(4096)));
static size_t arena_used;
static struct alloc {
	uint8_t *p;
	size_t len;
} allocs[MAX_ALLOCS];
static int nallocs;

static void *track(size_t len)
{
	size_t span = ALIGN_UP(len ? len : 1, 4096) + 4096;
	uint8_t *p;

	if (nallocs == MAX_ALLOCS || span > ARENA - arena_used)
		return 0;
	p = arena + arena_used;
	arena_used += span;
	ASAN_UNPOISON_MEMORY_REGION(p, len);
	memset(p, 0, len);
	allocs[nallocs++] = (struct alloc){p, len};
	return p;
}

static void arena_reset(void)
{
	ASAN_POISON_MEMORY_REGION(arena, ARENA);
	arena_used = 0;
	nallocs = 0;
}

/* 1 if [pa, pa+len) lies inside memory the driver allocated: all DMA a device may do. */
static int dma_ok(uint64_t pa, uint64_t len)
{
	for (int i = 0; i < nallocs; i++) {
		uint64_t b = (uint64_t)allocs[i].p;

		if (pa >= b && len <= allocs[i].len && pa - b <= allocs[i].len - len)
			return 1;
	}
	return 0;
}

uint64_t pmem_dmap_base;

uint64_t pmem_alloc(unsigned n)
{
	return (uint64_t)track((size_t)n * 4096);
}

void *kmalloc(size_t size)
{
	return track(size);
}

void kfree(void *p)
{
	(void)p; /* everything is freed after each input */
}

void kprintf(const char *fmt, ...)
{
	(void)fmt;
}

static void (*irq_fn)(void *);
static void *irq_arg;

int irq_alloc(void (*fn)(void *arg), void *arg)
{
	irq_fn = fn;
	irq_arg = arg;
	return 40;
}

/* PCI: four vendor capabilities at 0x40.. pointing into BAR 0. */
#define BAR_BASE 0x40000000ull
#define COMMON_OFF 0x0000
#define NOTIFY_OFF 0x1000
#define NOTIFY_LEN 0x1000
#define ISR_OFF 0x2000
#define DEVCFG_OFF 0x3000
#define BAR_LEN 0x4000

static uint8_t *bar;
static uint32_t notify_mult;
static const struct pci_driver *driver;

static const struct {
	uint8_t type;
	uint32_t off, len;
} caps[4] = {
	{1, COMMON_OFF, 0x38}, {2, NOTIFY_OFF, NOTIFY_LEN}, {3, ISR_OFF, 4}, {4, DEVCFG_OFF, 8}};

uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t from)
{
	(void)d;
	if (id != 0x09)
		return 0;
	return from == 0 ? 0x40 : from < 0x70 ? (uint8_t)(from + 0x10) : 0;
}

uint32_t pci_read32(const struct pci_dev *d, uint8_t off)
{
	int c = (off - 0x40) / 0x10;

	(void)d;
	switch (off & 0xf) {
	case 8: return caps[c].off;
	case 12: return caps[c].len;
	default: return notify_mult; /* 16: notify_off_multiplier */
	}
}

uint8_t pci_read8(const struct pci_dev *d, uint8_t off)
{
	(void)d;
	return (off & 0xf) == 3 ? caps[(off - 0x40) / 0x10].type : 0; /* type; BAR 0 */
}

uint64_t pci_bar_address(const struct pci_dev *d, int n)
{
	(void)d;
	return n == 0 ? BAR_BASE : 0;
}

/* Each structure gets its own allocation of exactly its length, so ASan sees overruns. */
void *pci_map(uint64_t pa, uint64_t len)
{
	uint8_t *p = track(len);

	if (p)
		memcpy(p, bar + (pa - BAR_BASE), len);
	return p;
}

void pci_enable(const struct pci_dev *d)
{
	(void)d;
}

int pci_msix_route(struct pci_dev *d, unsigned entry, uint8_t vector)
{
	(void)d, (void)entry, (void)vector;
	return 0;
}

void pci_register(const struct pci_driver *drv)
{
	driver = drv;
}

/* ---- the stack's side: checks what the driver hands it ---- */

static uint8_t sink[MAX_FRAME];

static void receive(void *ctx, const void *frame, size_t len)
{
	(void)ctx;
	if (len < 14 || len > MAX_FRAME)
		abort();
	/* Read every byte: ASan checks the driver's frame buffer. */
	memcpy(sink, frame, len);
}

/* ---- the device ---- */

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		if (in->left) {
			v |= (uint64_t)*in->p++ << (8 * i);
			in->left--;
		}
	return v;
}

/* The device's own cursor into each queue's available ring. */
static uint16_t seen[2];

/* The next buffer the driver made available on q (0 rx, 1 tx), or -1. */
static int next_avail(struct virtq *q, int which)
{
	uint16_t head;

	if (!q->size || q->avail->idx == seen[which])
		return -1;
	head = q->avail->ring[seen[which]++ % q->size];
	return head < q->size ? head : -1;
}

static void push_used(struct virtq *q, uint32_t id, uint32_t len)
{
	uint16_t idx = q->used->idx;

	q->used->ring[idx % q->size].id = id;
	q->used->ring[idx % q->size].len = len;
	q->used->idx = (uint16_t)(idx + 1);
}

static void deliver(struct vnet *n, struct input *in)
{
	uint16_t len = (uint16_t)take(in, 2), avail = (uint16_t)MIN(len, in->left);
	const uint8_t *bytes = in->p;
	int head = next_avail(&n->rx, 0);
	uint32_t reported;

	in->p += avail, in->left -= avail;
	reported = (uint32_t)take(in, 4);
	if (head < 0)
		return;
	/* The descriptor may have been rewritten (op DESC): DMA only into the driver's memory. */
	struct vq_desc d = n->rx.desc[head];
	uint32_t w = MIN((uint32_t)avail, d.len);
	if ((d.flags & 2) && dma_ok(d.addr, w))
		memcpy((void *)d.addr, bytes, w);
	push_used(&n->rx, (uint32_t)head, reported);
}

static void run(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint16_t qsize = (uint16_t)take(&in, 2), noff = (uint16_t)take(&in, 2);
	uint16_t features;
	struct pci_dev dev = {.vendor = 0x1af4, .device = 0x1041};
	struct vnet *n;
	uint8_t buf[2048];

	notify_mult = (uint32_t)take(&in, 2);
	features = (uint16_t)take(&in, 2);
	/* Common configuration as the device shows it (plain memory: what is written reads back).
	 */
	memset(bar, 0, BAR_LEN);
	*(uint32_t *)(bar + COMMON_OFF + 0x04) = 1u | features; /* both feature words: VERSION_1 */
	*(uint16_t *)(bar + COMMON_OFF + 0x12) = 2;		/* num_queues */
	*(uint16_t *)(bar + COMMON_OFF + 0x18) = qsize;
	*(uint16_t *)(bar + COMMON_OFF + 0x1e) = noff;
	memcpy(bar + DEVCFG_OFF, "\x52\x54\x00\x12\x34\x56", 6);
	irq_arg = 0;
	seen[0] = seen[1] = 0;
	virtio_net_register();
	if (driver->probe(&dev) || !irq_arg)
		return;
	n = irq_arg; /* vnet_probe's irq argument is its struct vnet */
	n->nd.receive = receive;
	while (in.left) {
		uint8_t op = (uint8_t)take(&in, 1) % 7;
		struct virtq *q;
		int head;

		switch (op) {
		case 0: deliver(n, &in); break;
		case 1:
			q = take(&in, 1) & 1 ? &n->tx : &n->rx;
			push_used(q, (uint32_t)take(&in, 4), (uint32_t)take(&in, 4));
			break;
		case 2:
			q = take(&in, 1) & 1 ? &n->tx : &n->rx;
			q->used->idx = (uint16_t)take(&in, 2);
			break;
		case 3: {
			struct vq_desc *d;

			q = take(&in, 1) & 1 ? &n->tx : &n->rx;
			d = &q->desc[take(&in, 2) % q->size];
			d->len = (uint32_t)take(&in, 4);
			d->flags = (uint16_t)take(&in, 2);
			d->next = (uint16_t)take(&in, 2);
			break;
		}
		case 4: irq_fn(irq_arg); break;
		case 5: {
			uint16_t len = (uint16_t)(take(&in, 2) % sizeof(buf));

			memset(buf, 0x5a, len);
			n->nd.transmit(&n->nd, buf, len);
			break;
		}
		case 6:
			if ((head = next_avail(&n->tx, 1)) >= 0)
				push_used(&n->tx, (uint32_t)head, 0);
			break;
		}
		if (n->rx.num_free > n->rx.size || n->tx.num_free > n->tx.size)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t b[BAR_LEN];

	bar = b;
	arena_reset();
	run(data, size);
	return 0;
}
