/*
 * virtio.c: see virtio.h. Queue memory comes from the page allocator and
 * is handed to the device by physical address; the runtime reaches it
 * through the direct map.
 */
#include "virtio.h"

#include "../runtime/console.h"
#include "../runtime/errno.h"
#include "../runtime/heap.h"
#include "../runtime/lib.h"
#include "../runtime/pmem.h"

#define CAP_VENDOR 0x09
#define CFG_COMMON 1
#define CFG_NOTIFY 2
#define CFG_ISR 3
#define CFG_DEVICE 4

/* struct virtio_pci_common_cfg offsets */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_MSIX 0x10
#define C_NUMQ 0x12
#define C_STATUS 0x14
#define C_Q_SELECT 0x16
#define C_Q_SIZE 0x18
#define C_Q_MSIX 0x1a
#define C_Q_ENABLE 0x1c
#define C_Q_NOFF 0x1e
#define C_Q_DESC 0x20
#define C_Q_DRIVER 0x28
#define C_Q_DEVICE 0x30

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_FAILED 128

#define DESC_NEXT 1
#define DESC_WRITE 2

static void w8(struct virtio_dev *v, int off, uint8_t x)
{
	*(volatile uint8_t *)(v->common + off) = x;
}

static void w16(struct virtio_dev *v, int off, uint16_t x)
{
	*(volatile uint16_t *)(v->common + off) = x;
}

static void w32(struct virtio_dev *v, int off, uint32_t x)
{
	*(volatile uint32_t *)(v->common + off) = x;
}

static void w64(struct virtio_dev *v, int off, uint64_t x)
{
	w32(v, off, (uint32_t)x);
	w32(v, off + 4, (uint32_t)(x >> 32));
}

static uint8_t r8(struct virtio_dev *v, int off)
{
	return *(volatile uint8_t *)(v->common + off);
}

static uint16_t r16(struct virtio_dev *v, int off)
{
	return *(volatile uint16_t *)(v->common + off);
}

static uint32_t r32(struct virtio_dev *v, int off)
{
	return *(volatile uint32_t *)(v->common + off);
}

static int find_caps(struct virtio_dev *v)
{
	for (uint8_t c = pci_find_cap(&v->pci, CAP_VENDOR, 0); c;
	     c = pci_find_cap(&v->pci, CAP_VENDOR, c)) {
		uint8_t type = pci_read8(&v->pci, c + 3), bar = pci_read8(&v->pci, c + 4);
		uint32_t off = pci_read32(&v->pci, c + 8), len = pci_read32(&v->pci, c + 12);
		uint64_t base;
		volatile uint8_t *p;

		if (bar > 5 || !(base = pci_bar_address(&v->pci, bar)) || !len || len > (1u << 20))
			continue;
		if (type == CFG_COMMON && !v->common)
			v->common = pci_map(base + off, len);
		else if (type == CFG_ISR && !v->isr)
			v->isr = pci_map(base + off, len);
		else if (type == CFG_DEVICE && !v->device_cfg)
			v->device_cfg = pci_map(base + off, len);
		else if (type == CFG_NOTIFY && !v->notify_base) {
			p = pci_map(base + off, len);
			v->notify_base = p;
			v->notify_mult = pci_read32(&v->pci, c + 16);
			v->notify_len = len;
		}
	}
	return v->common && v->notify_base ? 0 : -ENODEV;
}

int virtio_init(struct virtio_dev *v, struct pci_dev *d, uint64_t wanted)
{
	uint64_t offered;

	v->pci = *d;
	pci_enable(d);
	if (find_caps(v))
		return -ENODEV;
	w8(v, C_STATUS, 0); /* reset */
	while (r8(v, C_STATUS))
		;
	w8(v, C_STATUS, S_ACK);
	w8(v, C_STATUS, S_ACK | S_DRIVER);
	w32(v, C_DFSELECT, 0);
	offered = r32(v, C_DF);
	w32(v, C_DFSELECT, 1);
	offered |= (uint64_t)r32(v, C_DF) << 32;
	if (!(offered & VIRTIO_F_VERSION_1)) {
		w8(v, C_STATUS, S_FAILED);
		return -ENODEV;
	}
	v->features = offered & (wanted | VIRTIO_F_VERSION_1);
	w32(v, C_GFSELECT, 0);
	w32(v, C_GF, (uint32_t)v->features);
	w32(v, C_GFSELECT, 1);
	w32(v, C_GF, (uint32_t)(v->features >> 32));
	w8(v, C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(r8(v, C_STATUS) & S_FEATURES_OK)) {
		w8(v, C_STATUS, S_FAILED);
		return -ENODEV;
	}
	w16(v, C_MSIX, VIRTIO_NO_VECTOR);
	return 0;
}

static void *alloc_zeroed(size_t bytes, uint64_t *pa)
{
	*pa = pmem_alloc((unsigned)(ALIGN_UP(bytes, PAGE_SIZE) / PAGE_SIZE));
	return *pa ? phys_to_virt(*pa) : 0;
}

int virtq_setup(struct virtio_dev *v, struct virtq *q, uint16_t index, uint16_t max_size,
		uint16_t msix_entry)
{
	uint64_t dpa, apa, upa, aoff, uoff, notify_off;
	uint16_t size;

	if (index >= r16(v, C_NUMQ))
		return -ENODEV;
	w16(v, C_Q_SELECT, index);
	size = r16(v, C_Q_SIZE);
	/* Split queues are powers of two: the free-running ring indices wrap with them. */
	if (!size || (size & (size - 1)))
		return -ENODEV;
	if (size > max_size)
		size = max_size; /* max_size is a power of two too */
	/* The device's word for where this queue's doorbell is: inside the notify structure. */
	notify_off = (uint64_t)r16(v, C_Q_NOFF) * v->notify_mult;
	if (notify_off + sizeof(uint16_t) > v->notify_len)
		return -ENODEV;
	q->size = size;
	q->index = index;
	/*
	 * A small queue's three parts share one page (descriptors 16-byte,
	 * available ring 2-byte, used ring 4-byte aligned), so a device with
	 * several small queues costs a page per queue, not three.
	 */
	aoff = 16u * size;
	uoff = ALIGN_UP(aoff + 6u + 2u * size, 4);
	if (uoff + 6u + 8u * size <= PAGE_SIZE && (q->desc = alloc_zeroed(PAGE_SIZE, &dpa))) {
		apa = dpa + aoff;
		upa = dpa + uoff;
		q->avail = (struct vq_avail *)((uint8_t *)q->desc + aoff);
		q->used = (struct vq_used *)((uint8_t *)q->desc + uoff);
	} else {
		q->desc = alloc_zeroed(16u * size, &dpa);
		q->avail = alloc_zeroed(6u + 2u * size, &apa);
		q->used = alloc_zeroed(6u + 8u * size, &upa);
	}
	q->slot = kmalloc(sizeof(*q->slot) * size); /* zeroed */
	if (!q->desc || !q->avail || !q->used || !q->slot)
		return -ENOMEM;
	for (uint16_t i = 0; i < size; i++)
		q->slot[i].next = (uint16_t)(i + 1);
	q->free_head = 0;
	q->num_free = size;
	w16(v, C_Q_SIZE, size);
	w64(v, C_Q_DESC, dpa);
	w64(v, C_Q_DRIVER, apa);
	w64(v, C_Q_DEVICE, upa);
	w16(v, C_Q_MSIX, msix_entry);
	if (msix_entry != VIRTIO_NO_VECTOR && r16(v, C_Q_MSIX) != msix_entry)
		return -EIO; /* the device could not take the vector */
	q->notify = (volatile uint16_t *)(v->notify_base + notify_off);
	w16(v, C_Q_ENABLE, 1);
	return 0;
}

void virtio_ready(struct virtio_dev *v)
{
	w8(v, C_STATUS, r8(v, C_STATUS) | S_DRIVER_OK);
}

volatile uint8_t *virtio_config(struct virtio_dev *v)
{
	return v->device_cfg;
}

int virtq_add(struct virtq *q, const struct vq_buf *bufs, int n, void *cookie)
{
	uint16_t head = q->free_head, i = head, last = head;
	uint32_t written = 0;

	if (n <= 0 || q->num_free < n)
		return -ENOSPC;
	/* Links come from q->slot, never from the table the device can write. */
	for (int k = 0; k < n; k++) {
		struct vq_desc *d = &q->desc[i];

		d->addr = bufs[k].pa;
		d->len = bufs[k].len;
		d->flags =
			(uint16_t)((bufs[k].write ? DESC_WRITE : 0) | (k + 1 < n ? DESC_NEXT : 0));
		d->next = q->slot[i].next;
		if (bufs[k].write)
			written += bufs[k].len;
		last = i;
		i = q->slot[i].next;
	}
	q->free_head = q->slot[last].next;
	q->num_free = (uint16_t)(q->num_free - n);
	q->slot[head].cookie = cookie;
	q->slot[head].written = written;
	q->slot[head].count = (uint16_t)n;
	q->avail->ring[q->avail->idx % q->size] = head;
	__atomic_thread_fence(__ATOMIC_RELEASE); /* the ring entry before the index */
	q->avail->idx++;
	return 0;
}

void virtq_kick(struct virtq *q)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(q->used->flags & 1)) /* VRING_USED_F_NO_NOTIFY */
		*q->notify = q->index;
}

void *virtq_get_used(struct virtq *q, uint32_t *len)
{
	/* At most a ring's worth per call, however far the device moves used->idx. */
	for (uint16_t tries = 0; tries < q->size && q->last_used != q->used->idx; tries++) {
		uint32_t id, written;
		uint16_t i;
		void *cookie;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		/* Each field read once: the device may change them under us. */
		id = q->used->ring[q->last_used % q->size].id;
		written = q->used->ring[q->last_used % q->size].len;
		q->last_used++;
		if (id >= q->size || !q->slot[id].cookie)
			continue; /* a device bug: never trust an index we did not hand out */
		cookie = q->slot[id].cookie;
		q->slot[id].cookie = 0;
		*len = MIN(written, q->slot[id].written); /* never past the buffers */
		/* Return the chain to the free list. */
		i = (uint16_t)id;
		for (uint16_t k = 1; k < q->slot[id].count; k++)
			i = q->slot[i].next;
		q->slot[i].next = q->free_head;
		q->free_head = (uint16_t)id;
		q->num_free = (uint16_t)(q->num_free + q->slot[id].count);
		return cookie;
	}
	return 0;
}
