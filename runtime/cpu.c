/*
 * cpu.c: one-time CPU setup. The GDT itself lives in boot.S; here we add the
 * TSS (ring-3 -> ring-0 stack and an emergency stack for double faults), the
 * IDT (all 256 vectors go through entry.S to trap.c), the syscall MSRs, and
 * the control-register bits that let the application use SSE/AVX while the
 * runtime stays on general registers.
 */
#include "cpu.h"

#include "layout.h"
#include "lib.h"

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap_base;
} __attribute__((packed));

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

struct cpu_features cpu_features;

extern uint64_t gdt[];
extern uint64_t gdt_tss[];
extern const char trap_stub_base[];
extern uint8_t smap_on;
void syscall_entry(void);
extern uint64_t syscall_kstack_top;

static struct tss tss;
static struct idt_entry idt[256];

#define CR0_MP (1u << 1)
#define CR0_EM (1u << 2)
#define CR0_NE (1u << 5)
#define CR4_OSFXSR (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define CR4_OSXSAVE (1u << 18)
#define CR4_SMEP (1u << 20)
#define CR4_SMAP (1u << 21)

void cpu_detect(void)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	cpu_features.rdrand = !!(r[2] & (1u << 30));
	cpu_features.xsave = !!(r[2] & (1u << 26));
	cpu_features.tsc_deadline = !!(r[2] & (1u << 24));
	cpuid(7, 0, r);
	cpu_features.smep = !!(r[1] & (1u << 7));
	cpu_features.smap = !!(r[1] & (1u << 20));
	cpuid(0x80000001, 0, r);
	cpu_features.pdpe1gb = !!(r[3] & (1u << 26));
	cpuid(0x80000007, 0, r);
	cpu_features.invariant_tsc = !!(r[3] & (1u << 8));
}

static void set_gate(int vec, uint64_t handler, int ist)
{
	struct idt_entry *e = &idt[vec];

	e->off_lo = (uint16_t)handler;
	e->off_mid = (uint16_t)(handler >> 16);
	e->off_hi = (uint32_t)(handler >> 32);
	e->sel = KERNEL_CS;
	e->ist = (uint8_t)ist;
	e->type = 0x8e; /* present, DPL 0, interrupt gate */
	e->zero = 0;
}

static void load_tss(uint64_t kernel_stack_top, uint64_t fault_stack_top)
{
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;

	cpu_set_kernel_stack(kernel_stack_top);
	tss.ist[0] = fault_stack_top;
	tss.iomap_base = sizeof(tss); /* no I/O permission bitmap: ring 3 has no ports */
	gdt_tss[0] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
		     ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt_tss[1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
}

static void load_idt(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) ptr = {sizeof(idt) - 1, (uint64_t)idt};

	for (int v = 0; v < 256; v++)
		set_gate(v, (uint64_t)trap_stub_base + 16 * v, v == 2 || v == 8 || v == 18 ? 1 : 0);
	__asm__ volatile("lidt %0" : : "m"(ptr));
}

/* FPU, SSE and (where present) AVX state for the application. */
static void init_fpu(void)
{
	uint64_t cr0, cr4;
	uint32_t r[4];

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	cr0 = (cr0 & ~(uint64_t)CR0_EM) | CR0_MP | CR0_NE;
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
	if (cpu_features.xsave)
		cr4 |= CR4_OSXSAVE;
	if (cpu_features.smep)
		cr4 |= CR4_SMEP;
	if (cpu_features.smap) {
		cr4 |= CR4_SMAP;
		smap_on = 1;
	}
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
	__asm__ volatile("fninit");
	if (!cpu_features.xsave)
		return;
	cpuid(0xd, 0, r);
	/* x87, SSE, AVX (bits 0-2); AVX-512 state is not enabled. */
	cpu_features.xcr0 = r[0] & 0x7;
	__asm__ volatile("xsetbv" : : "c"(0), "a"((uint32_t)cpu_features.xcr0), "d"(0));
}

void cpu_set_kernel_stack(uint64_t top)
{
	tss.rsp[0] = top;
	syscall_kstack_top = top;
}

void cpu_init(uint64_t kernel_stack_top, uint64_t fault_stack_top)
{
	load_tss(kernel_stack_top, fault_stack_top);
	load_idt();
	init_fpu();
	/* syscall: kernel CS/SS from STAR[47:32]; IF, TF, DF, AC cleared on entry. */
	wrmsr(MSR_STAR, (uint64_t)KERNEL_CS << 32 | (uint64_t)(USER_DS - 3 - 8) << 48);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_SFMASK, (1u << 9) | (1u << 8) | (1u << 10) | (1u << 18));
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1); /* SCE */
	/* Mask the legacy PICs: their default vectors collide with exceptions. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	/*
	 * Stop the PIT's periodic channel 0 (firmware leaves it at 18.2 Hz):
	 * masked or not, the VMM would wake up for every tick. Mode 0 without a
	 * count written never fires.
	 */
	outb(0x43, 0x30);
}
