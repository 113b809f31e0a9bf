/* trap.c: exceptions and interrupts. */
#include "trap.h"

#include "apic.h"
#include "console.h"
#include "crash.h"
#include "errno.h"
#include "health.h"
#include "irq.h"
#include "pmem.h"
#include "proc.h"
#include "sched.h"
#include "signal.h"
#include "vm.h"

#define VEC_PF 14

void trap_handler(struct trapframe *tf)
{
	/* A ring-3 page fault may be a demand page (lazy mmap, brk or stack). */
	if (tf->vector == VEC_PF && (tf->cs & 3) == 3 && !(tf->error & 1)) {
		uint64_t addr;
		int err;

		__asm__ volatile("mov %%cr2, %0" : "=r"(addr));
		err = vm_user_fault(addr, !!(tf->error & 2), !!(tf->error & 16));
		if (err == 0)
			return;
		if (err == -ENOMEM) {
			kprintf("runtime: out of memory (%lu KiB in use); killing the application\n",
				(pmem_total_pages() - pmem_free_pages()) * 4);
			health_note_oom();
			proc_kill(9);
		}
	}
	if (tf->vector < 32)
		crash_exception(tf); /* returns only when a signal handler takes over */
	if (irq_quiesced()) { /* the exit path halts for a while: an interrupt only wakes it */
		if (tf->vector == APIC_TIMER_VECTOR)
			apic_timer_fired();
		if (tf->vector != APIC_SPURIOUS_VECTOR)
			apic_eoi();
		return;
	}
	if (tf->vector == APIC_TIMER_VECTOR) {
		apic_timer_fired();
		apic_eoi();
		sched_timer_interrupt((tf->cs & 3) == 3);
	}
	irq_dispatch((unsigned)tf->vector);
	if ((tf->cs & 3) == 3)
		signal_deliver(tf, -1);
	/* Anything else is spurious: no other interrupt source is enabled. */
}
