/*
 * virtio_blk.c: virtio-blk as /dev/vda. Requests are synchronous for the
 * caller: the thread sleeps until the device's interrupt completes them,
 * so other threads (and an idle vCPU) go on meanwhile. Byte-granular reads
 * and writes are mapped onto whole 512-byte sectors through a bounce page;
 * fsync sends a FLUSH, so data an application has fsync'ed survives a
 * power-off.
 */
#include "pci.h"
#include "virtio.h"

#include "../runtime/console.h"
#include "../runtime/errno.h"
#include "../runtime/heap.h"
#include "../runtime/irq.h"
#include "../runtime/lib.h"
#include "../runtime/pmem.h"
#include "../runtime/ramfs.h"
#include "../runtime/sched.h"
#include "../runtime/vfs.h"

#define F_FLUSH (1ull << 9)
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define SECTOR 512
#define CHUNK 65536 /* bytes per request */

struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
};

struct vblk {
	struct virtio_dev v;
	struct virtq q;
	uint64_t sectors;
	struct waitq waiters;
	/* One request in flight at a time (a mutex in effect: single vCPU, no preemption here). */
	int busy;
	struct blk_req *req;
	uint8_t *status, *buf;
	uint64_t req_pa, status_pa, buf_pa;
	volatile int done;
};

static struct vblk *disk;

static void vblk_irq(void *arg)
{
	struct vblk *b = arg;
	uint32_t len;

	while (virtq_get_used(&b->q, &len))
		b->done = 1;
	waitq_wake(&b->waiters, 1 << 30, 0, 0);
}

/* One request of up to CHUNK bytes to or from b->buf. 0 or -EIO. */
static int submit(struct vblk *b, uint32_t type, uint64_t sector, uint32_t bytes)
{
	struct vq_buf bufs[3];
	int n = 0;

	while (b->busy)
		sched_block(&b->waiters, 0);
	b->busy = 1;
	b->req->type = type;
	b->req->reserved = 0;
	b->req->sector = sector;
	*b->status = 0xff;
	bufs[n++] = (struct vq_buf){b->req_pa, sizeof(struct blk_req), 0};
	if (bytes)
		bufs[n++] = (struct vq_buf){b->buf_pa, bytes, type == T_IN};
	bufs[n++] = (struct vq_buf){b->status_pa, 1, 1};
	b->done = 0;
	if (virtq_add(&b->q, bufs, n, b)) {
		b->busy = 0;
		return -EIO;
	}
	virtq_kick(&b->q);
	while (!b->done)
		sched_block(&b->waiters, 0);
	b->busy = 0;
	waitq_wake(&b->waiters, 1 << 30, 0, 0);
	return *b->status == 0 ? 0 : -EIO;
}

static long vblk_rw(struct file *f, void *data, size_t len, uint64_t *pos, int write)
{
	struct vblk *b = f->priv;
	uint64_t size = b->sectors * SECTOR, done = 0;

	if (*pos >= size)
		return write ? -ENOSPC : 0;
	len = MIN(len, size - *pos);
	while (done < len) {
		uint64_t at = *pos + done, first = ALIGN_DOWN(at, SECTOR), off = at - first;
		uint32_t span = (uint32_t)MIN(ALIGN_UP(off + (len - done), SECTOR), CHUNK);
		uint64_t n = MIN(span - off, len - done);
		int err;

		span = (uint32_t)MIN(span, size - first);
		/* A partial sector is read first, so a write keeps its other bytes. */
		if ((!write || off || n % SECTOR) && (err = submit(b, T_IN, first / SECTOR, span)))
			return done ? (long)done : err;
		if (write) {
			memcpy(b->buf + off, (const uint8_t *)data + done, n);
			if ((err = submit(b, T_OUT, first / SECTOR, span)))
				return done ? (long)done : err;
		} else {
			memcpy((uint8_t *)data + done, b->buf + off, n);
		}
		done += n;
	}
	*pos += done;
	return (long)done;
}

static long vblk_read(struct file *f, void *buf, size_t len, uint64_t *pos)
{
	return vblk_rw(f, buf, len, pos, 0);
}

static long vblk_write(struct file *f, const void *buf, size_t len, uint64_t *pos)
{
	return vblk_rw(f, (void *)buf, len, pos, 1);
}

static int vblk_fsync(struct file *f)
{
	struct vblk *b = f->priv;

	return b->v.features & F_FLUSH ? submit(b, T_FLUSH, 0, 0) : 0;
}

static int vblk_stat(struct file *f, struct linux_stat *st)
{
	struct vblk *b = f->priv;

	*st = (struct linux_stat){0};
	st->st_mode = S_IFBLK | 0660;
	st->st_rdev = (254 << 8) | 0;
	st->st_size = (int64_t)(b->sectors * SECTOR);
	st->st_blksize = SECTOR;
	st->st_nlink = 1;
	return 0;
}

static int yes(struct file *f)
{
	(void)f;
	return 1;
}

static unsigned ready(struct file *f)
{
	(void)f;
	return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
}

static const struct file_ops vblk_ops = {
	.read = vblk_read,
	.write = vblk_write,
	.stat = vblk_stat,
	.poll = ready,
	.seekable = yes,
	.fsync = vblk_fsync,
};

static int vblk_probe(struct pci_dev *d)
{
	struct vblk *b = kmalloc(sizeof(*b));
	int vector, err;
	uint64_t page;

	if (!b || disk)
		return -ENODEV; /* one disk for now: /dev/vda */
	vector = irq_alloc(vblk_irq, b);
	if (vector < 0)
		return vector;
	if ((err = virtio_init(&b->v, d, F_FLUSH)) ||
	    (err = pci_msix_route(d, 0, (uint8_t)vector)) ||
	    (err = virtq_setup(&b->v, &b->q, 0, 16, 0)))
		goto err_setup;
	page = pmem_alloc(1);
	b->buf_pa = pmem_alloc(CHUNK / PAGE_SIZE);
	if (!page || !b->buf_pa) {
		err = -ENOMEM;
		goto err_setup;
	}
	b->req_pa = page;
	b->status_pa = page + 64;
	b->req = phys_to_virt(page);
	b->status = (uint8_t *)phys_to_virt(page) + 64;
	b->buf = phys_to_virt(b->buf_pa);
	b->sectors = *(volatile uint64_t *)virtio_config(&b->v);
	virtio_ready(&b->v);
	disk = b;
	kprintf("runtime: virtio-blk /dev/vda, %lu MiB%s\n", b->sectors / 2048,
		b->v.features & F_FLUSH ? ", flush" : "");
	return 0;
err_setup:
	kprintf("virtio-blk: setup failed (error %d)\n", err);
	return err;
}

/* After the ramfs exists: /dev/vda for the disk found at probe time. */
void virtio_blk_publish(void)
{
	if (disk && ramfs_add_device_priv("vda", &vblk_ops, disk))
		kprintf("runtime: cannot create /dev/vda\n");
}

static const struct pci_driver vblk_transitional = {"virtio-blk", 0x1af4, 0x1001, vblk_probe};
static const struct pci_driver vblk_modern = {"virtio-blk", 0x1af4, 0x1042, vblk_probe};

void virtio_blk_register(void)
{
	pci_register(&vblk_transitional);
	pci_register(&vblk_modern);
}
