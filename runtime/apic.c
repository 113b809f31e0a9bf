/*
 * apic.c: xAPIC through MMIO (QEMU's TCG has neither x2APIC nor the
 * TSC-deadline mode, so this is the portable choice), timer in one-shot
 * mode with a divider of 16. Its frequency is measured once against the
 * TSC/PIT calibration in time.c.
 */
#include "apic.h"

#include "cpu.h"
#include "layout.h"
#include "time.h"
#include "vm.h"

#define MSR_APIC_BASE 0x1b
#define REG_EOI 0x0b0
#define REG_ISR 0x100 /* 8 registers of 32 vectors each, 16 bytes apart */
#define REG_SVR 0x0f0
#define REG_LVT_TIMER 0x320
#define REG_TIMER_INIT 0x380
#define REG_TIMER_CUR 0x390
#define REG_TIMER_DIV 0x3e0
#define LVT_MASKED (1u << 16)
#define DIV_16 0x3
#define LVT_TSC_DEADLINE (2u << 17)
#define MSR_TSC_DEADLINE 0x6e0

static volatile uint32_t *apic;
static int tsc_deadline_mode;
/*
 * What the timer is armed for (0: nothing), and whether its LVT is set up for
 * one-shot interrupts. Under TCG every write to these registers re-programs a
 * QEMU timer and wakes QEMU's main loop, and the scheduler asks for the same
 * deadline several times per wake-up: only a change is written.
 */
static uint64_t armed_tsc;
static int lvt_oneshot;
static uint64_t apic_hz = 62500000; /* QEMU's 1 GHz bus / 16 until measured */

static void wr(uint32_t reg, uint32_t v)
{
	apic[reg / 4] = v;
}

static uint32_t rd(uint32_t reg)
{
	return apic[reg / 4];
}

void apic_init(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE) & ~0xfffull;

	vm_map_mmio(APIC_VA, base);
	apic = (volatile uint32_t *)APIC_VA;
	wrmsr(MSR_APIC_BASE, base | (1u << 11)); /* globally enabled */
	wr(REG_SVR, 0x100 | APIC_SPURIOUS_VECTOR);
	wr(REG_TIMER_DIV, DIV_16);
	wr(REG_LVT_TIMER, LVT_MASKED | APIC_TIMER_VECTOR);
	wr(REG_TIMER_INIT, 0);
	if (cpu_features.tsc_deadline) {
		wr(REG_LVT_TIMER, LVT_TSC_DEADLINE | APIC_TIMER_VECTOR);
		tsc_deadline_mode = 1;
	}
}

void apic_eoi(void)
{
	wr(REG_EOI, 0);
}

void apic_eoi_all(void)
{
	/* Each EOI ends the highest-priority vector in service: at most 256 of them. */
	for (int n = 0; n < 256; n++) {
		int any = 0;

		for (uint32_t i = 0; i < 8; i++)
			any |= rd(REG_ISR + i * 0x10) != 0;
		if (!any)
			return;
		apic_eoi();
	}
}

void apic_timer_fired(void)
{
	armed_tsc = 0;
}

void apic_timer_arm_at(uint64_t tsc)
{
	uint64_t now = rdtsc(), ns, count;

	if (tsc == armed_tsc && (!tsc || tsc > now))
		return; /* armed for that already, and not fired yet */
	armed_tsc = tsc;
	if (tsc_deadline_mode) {
		wrmsr(MSR_TSC_DEADLINE, tsc); /* 0 disarms */
		return;
	}
	if (!tsc) {
		wr(REG_TIMER_INIT, 0);
		return;
	}
	ns = tsc > now ? time_tsc_to_ns(tsc - now) : 1;
	count = ns / 1000 * apic_hz / 1000000 + 1;
	if (count > 0xffffffffu)
		count = 0xffffffffu; /* wakes early; the scheduler re-arms */
	if (!lvt_oneshot)
		wr(REG_LVT_TIMER, APIC_TIMER_VECTOR); /* one-shot, unmasked */
	lvt_oneshot = 1;
	wr(REG_TIMER_INIT, (uint32_t)count);
}

void apic_timer_count_start(void)
{
	if (tsc_deadline_mode)
		return; /* no count-down to calibrate */
	armed_tsc = 0;
	lvt_oneshot = 0;
	wr(REG_LVT_TIMER, LVT_MASKED | APIC_TIMER_VECTOR);
	wr(REG_TIMER_INIT, 0xffffffffu);
}

uint32_t apic_timer_count_read(void)
{
	return tsc_deadline_mode ? 0 : 0xffffffffu - rd(REG_TIMER_CUR);
}

void apic_timer_count_stop(void)
{
	if (!tsc_deadline_mode)
		wr(REG_TIMER_INIT, 0);
	armed_tsc = 0;
}

void apic_set_frequency(uint64_t hz)
{
	if (hz)
		apic_hz = hz;
}
