/*
 * syscall.c: dispatch through one table built from syscall_list.h. An
 * unknown number returns -ENOSYS, is counted, and is named on the console
 * the first time it is seen; it never crashes the application.
 */
#include "syscall.h"

#include "console.h"
#include "errno.h"
#include "sched.h"
#include "signal.h"
#include "syscall_names.h"

#define NSYSCALLS 512
#define SYS_RT_SIGRETURN 15

typedef long syscall_fn(const uint64_t *args);

static syscall_fn *const table[NSYSCALLS] = {
#define SYSCALL(nr, name) [nr] = sys_##name,
#include "syscall_list.h"
#undef SYSCALL
};

static uint64_t unknown_count;
static uint32_t unknown_by_nr[NSYSCALLS];

static long unknown(uint64_t nr)
{
	unknown_count++;
	if (nr >= NSYSCALLS) {
		kprintf("runtime: syscall %lu does not exist: ENOSYS\n", nr);
		return -ENOSYS;
	}
	if (!unknown_by_nr[nr]++) {
		kprintf("runtime: syscall %s (%lu) is not implemented: ENOSYS\n",
			syscall_name((unsigned)nr), nr);
	}
	return -ENOSYS;
}

void syscall_dispatch(struct trapframe *tf)
{
	uint64_t nr = tf->rax;
	uint64_t args[6] = {tf->rdi, tf->rsi, tf->rdx, tf->r10, tf->r8, tf->r9};

	tf->rax = (uint64_t)(nr < NSYSCALLS && table[nr] ? table[nr](args) : unknown(nr));
	sched_syscall_exit();
	/* rt_sigreturn's result is the interrupted context's rax: never a restart request. */
	signal_deliver(tf, nr == SYS_RT_SIGRETURN ? -1 : (long)nr);
	if (nr != SYS_RT_SIGRETURN && (long)tf->rax == -ERESTARTSYS) {
		/* No handler ran (another thread took the signal, or it was ignored): go on. */
		tf->rax = nr;
		tf->rip -= 2; /* back onto the 2-byte `syscall` instruction */
	}
}

void syscall_report_unknown(void)
{
	if (!unknown_count)
		return;
	kprintf("runtime: %lu calls to unimplemented syscalls:", unknown_count);
	for (unsigned nr = 0; nr < NSYSCALLS; nr++)
		if (unknown_by_nr[nr])
			kprintf(" %s x%u", syscall_name(nr), unknown_by_nr[nr]);
	kprintf("\n");
}

uint64_t syscall_unknown_count(void)
{
	return unknown_count;
}
