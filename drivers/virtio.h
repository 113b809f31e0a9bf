/*
 * virtio.h: the virtio 1.x PCI transport (modern capability layout) and
 * split virtqueues. Devices negotiate features here, then talk through
 * queues: buffers go in with virtq_add, come back with virtq_get_used.
 * Every index and length the device hands back is checked before use.
 */
#ifndef VIRTIO_H
#define VIRTIO_H

#include <stddef.h>
#include <stdint.h>

#include "pci.h"

#define VIRTIO_F_VERSION_1 (1ull << 32)
#define VIRTIO_NO_VECTOR 0xffff

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vq_avail {
	uint16_t flags, idx;
	uint16_t ring[];
};

struct vq_used_elem {
	uint32_t id, len;
};

struct vq_used {
	uint16_t flags, idx;
	struct vq_used_elem ring[];
};

/*
 * The driver's own record of a descriptor, kept out of the memory the device
 * sees: the device may rewrite the descriptor table, but the free list and
 * the chains are walked from here only.
 */
struct vq_slot {
	void *cookie;	  /* per head descriptor: what virtq_get_used returns */
	uint32_t written; /* per head: bytes the device may write into the chain */
	uint16_t next;	  /* the free list's or the chain's next descriptor */
	uint16_t count;	  /* per head: descriptors in the chain */
};

struct virtq {
	uint16_t size, index;
	struct vq_desc *desc;
	struct vq_avail *avail;
	volatile struct vq_used *used;
	uint16_t free_head, num_free, last_used;
	volatile uint16_t *notify;
	struct vq_slot *slot; /* size entries */
};

struct virtio_dev {
	struct pci_dev pci;
	volatile uint8_t *common, *isr, *device_cfg;
	volatile uint8_t *notify_base;
	uint32_t notify_mult, notify_len;
	uint64_t features;
};

/* One buffer of a chain: physical address and length; `write` if the device writes it. */
struct vq_buf {
	uint64_t pa;
	uint32_t len;
	int write;
};

/*
 * Resets the device, finds its capability structures, and negotiates:
 * accepts wanted & offered, requires VIRTIO_F_VERSION_1. 0 or -errno.
 */
int virtio_init(struct virtio_dev *v, struct pci_dev *d, uint64_t wanted);
/* Sets up queue `index` (size capped at max_size), interrupts on MSI-X `vector` (or
 * VIRTIO_NO_VECTOR). */
int virtq_setup(struct virtio_dev *v, struct virtq *q, uint16_t index, uint16_t max_size,
		uint16_t msix_entry);
/* DRIVER_OK: the device may start using the queues. */
void virtio_ready(struct virtio_dev *v);
/* Adds a chain; returns 0 or -ENOSPC when the queue is full. */
int virtq_add(struct virtq *q, const struct vq_buf *bufs, int n, void *cookie);
void virtq_kick(struct virtq *q);
/*
 * The next completed chain's cookie and the bytes the device wrote (never
 * more than the chain's writable length), or NULL. Used entries naming a
 * descriptor that is not the head of a chain in flight are skipped.
 */
void *virtq_get_used(struct virtq *q, uint32_t *len);
/* Device-specific configuration space. */
volatile uint8_t *virtio_config(struct virtio_dev *v);

#endif
