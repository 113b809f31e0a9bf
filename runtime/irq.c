/* irq.c: a table of device-interrupt handlers, vectors 0x30-0xef. */
#include "irq.h"

#include "apic.h"
#include "errno.h"

#define FIRST 0x30
#define LAST 0xef

static struct {
	void (*fn)(void *arg);
	void *arg;
} handlers[LAST + 1];
static unsigned next = FIRST;
static int quiet;

int irq_alloc(void (*fn)(void *arg), void *arg)
{
	if (next > LAST)
		return -ENOSPC;
	handlers[next].fn = fn;
	handlers[next].arg = arg;
	return (int)next++;
}

int irq_dispatch(unsigned vector)
{
	if (vector < FIRST || vector > LAST || !handlers[vector].fn)
		return 0;
	handlers[vector].fn(handlers[vector].arg);
	apic_eoi();
	return 1;
}

void irq_quiesce(void)
{
	quiet = 1;
	apic_eoi_all();
}

int irq_quiesced(void)
{
	return quiet;
}

void irq_halt_until(uint64_t tsc)
{
	apic_timer_arm_at(tsc);
	/* sti;hlt is atomic: an interrupt between them still ends the hlt. */
	__asm__ volatile("sti; hlt; cli" ::: "memory");
}
