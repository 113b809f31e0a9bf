/*
 * sched.c: threads, run queue, sleeping with deadlines, and the idle loop.
 * The runtime runs with interrupts off; they are on only in ring 3 and
 * while the idle loop halts, so no lock is needed anywhere here.
 */
#include "sched.h"

#include "apic.h"
#include "console.h"
#include "cpu.h"
#include "errno.h"
#include "heap.h"
#include "layout.h"
#include "lib.h"
#include "proc.h"
#include "time.h"
#include "uaccess.h"
#include "vm.h"

#define SLICE_NS 10000000ull /* 10 ms */

void sched_switch(uint64_t *save_ksp, uint64_t new_ksp); /* entry.S */
void sched_first_entry(void);				 /* entry.S */

static struct thread *current, *all_threads, *runq_head, *runq_tail, *timers, *zombie;
static int next_tid = 1, nthreads;
static uint64_t slice_end, dead_cpu_tsc;
static uint32_t fpu_size = 512;
static struct sched_timer *ktimers; /* runtime timers, earliest first */
static void (*idle_hook)(void);

static void arm_timer(void);

static void runq_push(struct thread *t)
{
	t->next = 0;
	if (runq_tail)
		runq_tail->next = t;
	else
		runq_head = t;
	runq_tail = t;
}

static struct thread *runq_pop(void)
{
	struct thread *t = runq_head;

	if (t && !(runq_head = t->next))
		runq_tail = 0;
	return t;
}

static void fpu_save(struct thread *t)
{
	if (cpu_features.xsave)
		__asm__ volatile("xsave (%0)"
				 :
				 : "r"(t->fpu), "a"((uint32_t)cpu_features.xcr0), "d"(0)
				 : "memory");
	else
		__asm__ volatile("fxsave (%0)" : : "r"(t->fpu) : "memory");
}

static void fpu_restore(struct thread *t)
{
	if (cpu_features.xsave)
		__asm__ volatile("xrstor (%0)"
				 :
				 : "r"(t->fpu), "a"((uint32_t)cpu_features.xcr0), "d"(0)
				 : "memory");
	else
		__asm__ volatile("fxrstor (%0)" : : "r"(t->fpu) : "memory");
}

static struct thread *thread_alloc(void)
{
	struct thread *t = kmalloc(sizeof(*t));

	if (!t)
		return 0;
	t->fpu_alloc = kmalloc(fpu_size + 64);
	t->kstack_top = vm_kstack_alloc();
	if (!t->fpu_alloc || !t->kstack_top) {
		if (t->kstack_top)
			vm_kstack_free(t->kstack_top);
		kfree(t->fpu_alloc);
		kfree(t);
		return 0;
	}
	t->fpu = (uint8_t *)ALIGN_UP((uint64_t)t->fpu_alloc, 64);
	t->tid = next_tid++;
	t->all_next = all_threads;
	all_threads = t;
	nthreads++;
	return t;
}

void sched_init(uint64_t kstack_top)
{
	uint32_t r[4];

	if (cpu_features.xsave) {
		cpuid(0xd, 0, r);
		fpu_size = r[1];
	}
	current = thread_alloc();
	if (!current)
		return;
	vm_kstack_free(current->kstack_top); /* the boot-time stack is used instead */
	current->kstack_top = kstack_top;
	current->ran_since = rdtsc();
}

struct thread *sched_current(void)
{
	return current;
}

int sched_nthreads(void)
{
	return nthreads;
}

/* Earliest deadline first; the list is short (one entry per sleeping thread). */
static void timer_add(struct thread *t)
{
	struct thread **p = &timers;

	while (*p && (*p)->deadline <= t->deadline)
		p = &(*p)->timer_next;
	t->timer_next = *p;
	*p = t;
}

static void timer_remove(struct thread *t)
{
	for (struct thread **p = &timers; *p; p = &(*p)->timer_next)
		if (*p == t) {
			*p = t->timer_next;
			return;
		}
}

static void waitq_remove(struct thread *t)
{
	if (!t->waiting_on)
		return;
	for (struct thread **p = &t->waiting_on->head; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	t->waiting_on = 0;
}

void sched_wake(struct thread *t, int result)
{
	if (t->state != T_BLOCKED)
		return;
	waitq_remove(t);
	if (t->deadline)
		timer_remove(t);
	t->deadline = 0;
	t->wake_result = result;
	t->state = T_RUNNABLE;
	runq_push(t);
}

int waitq_wake(struct waitq *q, int n, int (*match)(struct thread *, uint64_t), uint64_t arg)
{
	int woken = 0;
	struct thread *t = q->head, *next;

	for (; t && woken < n; t = next) {
		next = t->next;
		if (match && !match(t, arg))
			continue;
		sched_wake(t, 0);
		woken++;
	}
	return woken;
}

static void expire_timers(void)
{
	uint64_t now = rdtsc();

	while (timers && timers->deadline <= now)
		sched_wake(timers, -ETIMEDOUT);
	while (ktimers && ktimers->deadline <= now) {
		struct sched_timer *k = ktimers;

		ktimers = k->next;
		k->deadline = 0;
		k->fn(k); /* may re-arm k */
	}
}

void sched_timer_set(struct sched_timer *t, uint64_t deadline)
{
	struct sched_timer **p;

	for (p = &ktimers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	t->deadline = deadline;
	if (deadline) {
		for (p = &ktimers; *p && (*p)->deadline <= deadline; p = &(*p)->next)
			;
		t->next = *p;
		*p = t;
	}
	arm_timer();
}

void sched_set_idle_hook(void (*fn)(void))
{
	idle_hook = fn;
}

/* One one-shot timer for whichever comes first: the next deadline or the slice end. */
static void arm_timer(void)
{
	uint64_t now = rdtsc(), when = timers ? timers->deadline : 0;

	if (ktimers && (!when || ktimers->deadline < when))
		when = ktimers->deadline;
	if (runq_head && (!when || slice_end < when))
		when = slice_end;
	apic_timer_arm_at(when && when <= now ? now + 1 : when);
}

static void switch_to(struct thread *next)
{
	struct thread *prev = current;
	uint64_t now = rdtsc();

	prev->cpu_tsc += now - prev->ran_since;
	next->ran_since = now;
	slice_end = now + time_ns_to_tsc(SLICE_NS);
	if (next == prev)
		return;
	prev->fs_base = rdmsr(MSR_FS_BASE);
	fpu_save(prev);
	current = next;
	wrmsr(MSR_FS_BASE, next->fs_base);
	fpu_restore(next);
	cpu_set_kernel_stack(next->kstack_top);
	sched_switch(&prev->ksp, next->ksp);
	/* Back in prev: a thread that died before us left its stack to free. */
	if (zombie) {
		vm_kstack_free(zombie->kstack_top);
		kfree(zombie->fpu_alloc);
		kfree(zombie);
		zombie = 0;
	}
}

/* Picks the next thread, halting the vCPU while there is none. */
static void schedule(void)
{
	struct thread *next;

	for (;;) {
		expire_timers();
		if ((next = runq_pop()))
			break;
		if (idle_hook) {
			idle_hook();
			if (runq_head)
				continue;
		}
		arm_timer();
		/* sti;hlt is atomic: an interrupt between them still ends the hlt. */
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	}
	switch_to(next);
	arm_timer();
}

void sched_yield(void)
{
	expire_timers();
	if (!runq_head)
		return;
	runq_push(current);
	schedule();
}

int sched_block(struct waitq *q, uint64_t deadline)
{
	struct thread *t = current;

	t->state = T_BLOCKED;
	t->wake_result = 0;
	if (q) { /* FIFO: the longest waiter is woken first */
		struct thread **p = &q->head;

		while (*p)
			p = &(*p)->next;
		t->next = 0;
		*p = t;
		t->waiting_on = q;
	}
	t->deadline = deadline;
	if (deadline)
		timer_add(t);
	schedule();
	return t->wake_result;
}

void sched_exit_thread(int status)
{
	struct thread *t = current, **p;

	if (nthreads == 1)
		proc_exit(status);
	for (p = &all_threads; *p; p = &(*p)->all_next)
		if (*p == t) {
			*p = t->all_next;
			break;
		}
	nthreads--;
	dead_cpu_tsc += t->cpu_tsc + (rdtsc() - t->ran_since);
	t->state = T_DEAD;
	zombie = t; /* freed by the next thread, once we are off this stack */
	schedule();
	__builtin_unreachable();
}

struct thread *sched_spawn(const struct trapframe *tf, uint64_t fs_base)
{
	struct thread *t = thread_alloc();
	uint64_t *sp;

	if (!t)
		return 0;
	t->first = *tf;
	t->fs_base = fs_base;
	t->sig_blocked = current->sig_blocked;
	fpu_save(t); /* the child starts with the parent's FPU state, as on Linux */
	/* A stack that sched_switch "returns" through into sched_first_entry. */
	sp = (uint64_t *)t->kstack_top;
	*--sp = 0;
	*--sp = 0; /* keeps the stack 16-byte aligned at sched_first_entry's call */
	*--sp = (uint64_t)sched_first_entry;
	for (int i = 0; i < 6; i++)
		*--sp = 0; /* rbx, rbp, r12-r15 */
	t->ksp = (uint64_t)sp;
	t->state = T_RUNNABLE;
	runq_push(t);
	return t;
}

/* Where a new thread begins, on its own kernel stack (called from entry.S). */
__attribute__((noreturn)) void sched_thread_start(void)
{
	struct thread *t = current;

	if (zombie) {
		vm_kstack_free(zombie->kstack_top);
		kfree(zombie->fpu_alloc);
		kfree(zombie);
		zombie = 0;
	}
	arm_timer();
	user_enter(&t->first);
}

void sched_timer_interrupt(int from_user)
{
	expire_timers();
	if (from_user && runq_head && rdtsc() >= slice_end)
		sched_yield();
	else
		arm_timer();
}

void sched_syscall_exit(void)
{
	if (runq_head && rdtsc() >= slice_end)
		sched_yield();
}

struct trapframe *sched_user_frame(void)
{
	return (struct trapframe *)(current->kstack_top - sizeof(struct trapframe));
}

struct thread *sched_find(int tid)
{
	for (struct thread *t = all_threads; t; t = t->all_next)
		if (t->tid == tid)
			return t;
	return 0;
}

struct thread *sched_next_thread(struct thread *t)
{
	return t ? t->all_next : all_threads;
}

uint32_t sched_fpu_size(void)
{
	return fpu_size;
}

void sched_fpu_save_current(void)
{
	fpu_save(current);
}

int sched_fpu_load_current(uint64_t uaddr)
{
	uint8_t *a = current->fpu;
	uint32_t *mxcsr = (uint32_t *)(a + 24);

	if (copy_from_user(a, uaddr, fpu_size))
		return -EFAULT;
	/* Bits that would make xrstor fault in the runtime are cleared, as Linux does. */
	*mxcsr &= 0xffff;
	if (cpu_features.xsave) {
		uint64_t *hdr = (uint64_t *)(a + 512);

		hdr[0] &= cpu_features.xcr0; /* XSTATE_BV */
		for (int i = 1; i < 8; i++)
			hdr[i] = 0; /* XCOMP_BV and reserved */
	}
	fpu_restore(current);
	return 0;
}

uint64_t sched_process_cpu_tsc(void)
{
	uint64_t sum = dead_cpu_tsc;

	for (struct thread *t = all_threads; t; t = t->all_next)
		sum += t->cpu_tsc;
	return sum + (rdtsc() - current->ran_since);
}

uint64_t sched_thread_cpu_tsc(void)
{
	return current->cpu_tsc + (rdtsc() - current->ran_since);
}
