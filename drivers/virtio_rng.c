/*
 * virtio_rng.c: virtio-rng as an entropy source for the runtime's pool
 * (runtime/random.c). One 64-byte request is made at probe time and waited
 * for briefly, so the application's AT_RANDOM, stack canaries and PIE base
 * (chosen after the drivers start) already include the host's entropy; then
 * one request stays outstanding and is collected, without waiting, by the
 * next getrandom at least ~2^31 TSC cycles (about a second) after the last.
 * The queue is polled: the device raises no interrupt.
 */
#include "pci.h"
#include "virtio.h"

#include "../runtime/console.h"
#include "../runtime/cpu.h"
#include "../runtime/errno.h"
#include "../runtime/heap.h"
#include "../runtime/lib.h"
#include "../runtime/pmem.h"
#include "../runtime/random.h"

#define RNG_BYTES 64
#define RESEED_CYCLES (1ull << 31)
#define BOOT_WAIT_CYCLES (1ull << 27) /* ~50 ms at 3 GHz: a bound, normally far less */
#define AVAIL_F_NO_INTERRUPT 1

struct vrng {
	struct virtio_dev v;
	struct virtq q;
	uint8_t *buf;
	uint64_t buf_pa, next_tsc, total;
	int pending;
};

static struct vrng *rng;

static void request(struct vrng *r)
{
	struct vq_buf b = {r->buf_pa, RNG_BYTES, 1};

	if (virtq_add(&r->q, &b, 1, r))
		return;
	virtq_kick(&r->q);
	r->pending = 1;
	r->next_tsc = rdtsc() + RESEED_CYCLES;
}

/* Mixes a completed request into the pool; returns the bytes it brought. */
static uint32_t collect(struct vrng *r)
{
	uint32_t len;

	if (!r->pending || !virtq_get_used(&r->q, &len))
		return 0;
	r->pending = 0;
	len = MIN(len, RNG_BYTES);
	random_mix(r->buf, len);
	memset(r->buf, 0, RNG_BYTES);
	r->total += len;
	return len;
}

static void vrng_poll(void)
{
	collect(rng);
	if (!rng->pending && rdtsc() >= rng->next_tsc)
		request(rng);
}

static int vrng_probe(struct pci_dev *d)
{
	struct vrng *r;
	uint64_t t0;
	uint32_t got = 0;
	int err;

	if (rng)
		return -ENODEV; /* one is plenty */
	if (!(r = kmalloc(sizeof(*r))))
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	if ((err = virtio_init(&r->v, d, 0)) ||
	    (err = virtq_setup(&r->v, &r->q, 0, 4, VIRTIO_NO_VECTOR)))
		goto err_setup;
	if (!(r->buf_pa = pmem_alloc(1))) {
		err = -ENOMEM;
		goto err_setup;
	}
	r->buf = phys_to_virt(r->buf_pa);
	r->q.avail->flags = AVAIL_F_NO_INTERRUPT;
	virtio_ready(&r->v);
	request(r);
	for (t0 = rdtsc(); !(got = collect(r)) && rdtsc() - t0 < BOOT_WAIT_CYCLES;)
		__asm__ volatile("pause");
	rng = r;
	random_set_source(vrng_poll);
	if (got)
		kprintf("runtime: virtio-rng, %u bytes of entropy at boot\n", got);
	else
		kprintf("runtime: virtio-rng, no entropy yet at boot (taken later)\n");
	return 0;
err_setup:
	kprintf("virtio-rng: setup failed (error %d)\n", err);
	kfree(r);
	return err;
}

static const struct pci_driver vrng_transitional = {"virtio-rng", 0x1af4, 0x1005, vrng_probe};
static const struct pci_driver vrng_modern = {"virtio-rng", 0x1af4, 0x1044, vrng_probe};

void virtio_rng_register(void)
{
	pci_register(&vrng_transitional);
	pci_register(&vrng_modern);
}
