/*
 * virtio_rng.c: virtio-rng as an entropy source for the runtime's pool
 * (runtime/random.c). On a CPU without RDRAND the device is the only real
 * entropy: the probe starts it, asks for 64 bytes and waits for them
 * (briefly, bounded), so the application's AT_RANDOM, stack canaries and PIE
 * base (chosen after the drivers start) include them. With RDRAND the pool
 * is already sound, and the device starts ~0.3 s after boot from a runtime
 * timer, because enabling a PCI device stalls the vCPU for milliseconds
 * under TCG; its bytes are mixed in by the first getrandom after they
 * arrive. Then one request stays outstanding
 * and is collected, without waiting, by the first getrandom at least ~2^31
 * TSC cycles (about a second) after the last. The queue is polled: the
 * device raises no interrupt.
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
#include "../runtime/sched.h"

#define RNG_BYTES 64
#define RESEED_CYCLES (1ull << 31)
#define BOOT_WAIT_CYCLES (1ull << 27)	/* ~50 ms at 3 GHz: a bound, normally far less */
#define START_DELAY_CYCLES (1ull << 30) /* ~0.3 s: after boot */
#define AVAIL_F_NO_INTERRUPT 1

struct vrng {
	struct pci_dev pci;
	struct virtio_dev v;
	struct virtq q;
	struct sched_timer start_timer;
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

/* Resets and starts the device, and asks for the first bytes. 0 or -errno. */
static int start(struct vrng *r)
{
	int err;

	if ((err = virtio_init(&r->v, &r->pci, 0)) ||
	    (err = virtq_setup(&r->v, &r->q, 0, 4, VIRTIO_NO_VECTOR)))
		return err;
	if (!(r->buf_pa = pmem_alloc(1)))
		return -ENOMEM;
	r->buf = phys_to_virt(r->buf_pa);
	r->q.avail->flags = AVAIL_F_NO_INTERRUPT;
	virtio_ready(&r->v);
	request(r);
	rng = r;
	random_set_source(vrng_poll);
	return 0;
}

/* The deferred start (RDRAND present); errors are silent: the pool is sound without it. */
static void start_later(struct sched_timer *t)
{
	struct vrng *r = (struct vrng *)((char *)t - __builtin_offsetof(struct vrng, start_timer));

	start(r);
}

static int vrng_probe(struct pci_dev *d)
{
	static int found;
	struct vrng *r;
	uint64_t t0;
	uint32_t got = 0;
	int err;

	if (found++)
		return -ENODEV; /* one is plenty */
	if (!(r = kmalloc(sizeof(*r))))
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->pci = *d;
	if (cpu_features.rdrand) {
		/*
		 * Enabling a PCI device costs milliseconds under TCG (QEMU remaps
		 * guest memory); RDRAND makes the pool sound, so boot does not wait.
		 */
		r->start_timer.fn = start_later;
		sched_timer_set(&r->start_timer, rdtsc() + START_DELAY_CYCLES);
		kprintf("runtime: virtio-rng, starts after boot (RDRAND seeds the pool)\n");
		return 0;
	}
	if ((err = start(r))) {
		kprintf("virtio-rng: setup failed (error %d)\n", err);
		return err;
	}
	for (t0 = rdtsc(); !(got = collect(r)) && rdtsc() - t0 < BOOT_WAIT_CYCLES;)
		__asm__ volatile("pause");
	if (got)
		kprintf("runtime: virtio-rng, %u bytes of entropy at boot\n", got);
	else
		kprintf("runtime: virtio-rng, no entropy yet at boot (taken later)\n");
	return 0;
}

static const struct pci_driver vrng_transitional = {"virtio-rng", 0x1af4, 0x1005, vrng_probe};
static const struct pci_driver vrng_modern = {"virtio-rng", 0x1af4, 0x1044, vrng_probe};

void virtio_rng_register(void)
{
	pci_register(&vrng_transitional);
	pci_register(&vrng_modern);
}
