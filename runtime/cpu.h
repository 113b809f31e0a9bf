/* cpu.h: x86-64 CPU setup (GDT/TSS/IDT, control registers, MSRs) and helpers. */
#ifndef CPU_H
#define CPU_H

#include <stdint.h>

#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_SFMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101

struct cpu_features {
	int rdrand, smep, smap, xsave, pdpe1gb, invariant_tsc, tsc_deadline;
	uint64_t xcr0; /* extended state the application may use */
};

extern struct cpu_features cpu_features;

/* Fills cpu_features from CPUID; before anything else uses them. */
void cpu_detect(void);
/*
 * Sets up the TSS (ring-0 stack for traps from ring 3, and a separate stack
 * for double faults, NMIs and machine checks), the IDT, the syscall MSRs
 * and FPU/SSE/AVX for ring 3.
 */
void cpu_init(uint64_t kernel_stack_top, uint64_t fault_stack_top);
/* The stack the CPU switches to on entry from ring 3. */
void cpu_set_kernel_stack(uint64_t top);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

/* Runtime access to user pages is allowed only between these two (SMAP). */
static inline void user_access_begin(void)
{
	if (cpu_features.smap)
		__asm__ volatile("stac" ::: "memory");
}

static inline void user_access_end(void)
{
	if (cpu_features.smap)
		__asm__ volatile("clac" ::: "memory");
}

#endif
