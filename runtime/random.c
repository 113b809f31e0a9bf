/*
 * random.c: one entropy pool, a ChaCha20 key. Output is the ChaCha20
 * keystream under that key, and the key is replaced by fresh keystream after
 * every request (fast key erasure), so earlier output cannot be recovered
 * from the state. RDRAND (QEMU's `-cpu max` and real CPUs have it) is mixed
 * in on every request; virtio-rng, when the VM has one, is mixed in at boot
 * (before the application's AT_RANDOM and PIE base are chosen) and then
 * about once a second. Nothing here ever waits: getrandom never blocks.
 * Without RDRAND the TSC seeds the pool until virtio-rng's entropy arrives;
 * that is weak and said once on the console.
 */
#include "random.h"

#include "console.h"
#include "cpu.h"
#include "lib.h"

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(a, b, c, d)                                                                     \
	(a += b, d ^= a, d = ROTL(d, 16), c += d, b ^= c, b = ROTL(b, 12), a += b, d ^= a, \
	 d = ROTL(d, 8), c += d, b ^= c, b = ROTL(b, 7))

static uint32_t key[8];
static uint64_t counter;
static int seeded;
static void (*source_poll)(void);
static uint64_t mixed_bytes;

static int rdrand64(uint64_t *v)
{
	uint32_t r[4];
	static int have = -1;

	if (have < 0) {
		cpuid(1, 0, r);
		have = !!(r[2] & (1u << 30));
		if (!have)
			kprintf("runtime: warning: no RDRAND; randomness is weak without virtio-rng\n");
	}
	for (int i = 0; have && i < 10; i++) {
		unsigned char ok;

		__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
		if (ok)
			return 1;
	}
	return 0;
}

/* One 64-byte ChaCha20 block (RFC 8439 layout; the nonce is the block counter). */
static void chacha_block(uint64_t ctr, uint32_t out[16])
{
	uint32_t x[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};

	memcpy(&x[4], key, sizeof(key));
	x[12] = (uint32_t)ctr;
	x[13] = (uint32_t)(ctr >> 32);
	x[14] = x[15] = 0;
	memcpy(out, x, sizeof(x));
	for (int i = 0; i < 10; i++) {
		QR(x[0], x[4], x[8], x[12]), QR(x[1], x[5], x[9], x[13]);
		QR(x[2], x[6], x[10], x[14]), QR(x[3], x[7], x[11], x[15]);
		QR(x[0], x[5], x[10], x[15]), QR(x[1], x[6], x[11], x[12]);
		QR(x[2], x[7], x[8], x[13]), QR(x[3], x[4], x[9], x[14]);
	}
	for (int i = 0; i < 16; i++)
		out[i] += x[i];
}

/* A memset the compiler cannot drop as a dead store. */
static void wipe(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* Replaces the key with fresh keystream: the old key (and output) cannot be recomputed. */
static void rekey(void)
{
	uint32_t b[16];

	chacha_block(counter++, b);
	memcpy(key, b, sizeof(key));
	wipe(b, sizeof(b));
}

static void mix_u64(unsigned at, uint64_t v)
{
	key[at % 8] ^= (uint32_t)v;
	key[(at + 1) % 8] ^= (uint32_t)(v >> 32);
}

void random_mix(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	mixed_bytes += len;
	for (size_t i = 0; i < len; i++) {
		key[i / 4 % 8] ^= (uint32_t)p[i] << (i % 4 * 8);
		if (i % 32 == 31)
			rekey();
	}
	rekey();
}

void random_set_source(void (*poll)(void))
{
	source_poll = poll;
}

static void seed(void)
{
	uint64_t v;

	for (int i = 0; i < 4; i++)
		mix_u64(2u * (unsigned)i, rdrand64(&v) ? v : rdtsc() * 0x9e3779b97f4a7c15ull);
	rekey();
	seeded = 1;
}

void random_fill(void *buf, size_t len)
{
	unsigned char *p = buf;
	uint32_t b[16];
	uint64_t v;

	if (!seeded)
		seed();
	if (source_poll)
		source_poll(); /* may call random_mix */
	mix_u64((unsigned)counter, rdrand64(&v) ? v : rdtsc());
	while (len) {
		size_t n = MIN(len, sizeof(b));

		chacha_block(counter++, b);
		memcpy(p, b, n);
		p += n;
		len -= n;
	}
	wipe(b, sizeof(b));
	rekey();
}

uint64_t random_u64(void)
{
	uint64_t v;

	random_fill(&v, sizeof(v));
	return v;
}

void random_report(void)
{
	if (source_poll)
		kprintf("runtime: virtio-rng: %lu bytes of entropy mixed in\n", mixed_bytes);
}
