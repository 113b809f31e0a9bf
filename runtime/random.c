/*
 * random.c: RDRAND where the CPU has it (QEMU's `-cpu max` and real CPUs
 * do). Without it we mix the TSC through splitmix64; that is weak and is
 * said once on the console, so nobody mistakes it for real entropy.
 */
#include "random.h"

#include "console.h"
#include "cpu.h"
#include "lib.h"

static uint64_t fallback_state;

static int rdrand64(uint64_t *v)
{
	uint32_t r[4];
	static int have = -1;

	if (have < 0) {
		cpuid(1, 0, r);
		have = !!(r[2] & (1u << 30));
		if (!have)
			kprintf("runtime: warning: no RDRAND; randomness is weak\n");
	}
	for (int i = 0; have && i < 10; i++) {
		unsigned char ok;

		__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
		if (ok)
			return 1;
	}
	return 0;
}

uint64_t random_u64(void)
{
	uint64_t v, z;

	if (rdrand64(&v))
		return v;
	z = (fallback_state += 0x9e3779b97f4a7c15ull ^ rdtsc());
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void random_fill(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		uint64_t v = random_u64();
		size_t n = MIN(len, sizeof(v));

		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}
