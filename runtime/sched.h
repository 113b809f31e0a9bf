/*
 * sched.h: the application's threads on one vCPU. Cooperative: a thread
 * runs until it blocks, yields, or its time slice ends at a timer interrupt
 * or a syscall. Each thread has its own kernel stack (with a guard page),
 * its own FS base (TLS) and its own FPU/SSE/AVX state. When nothing can
 * run, the vCPU halts with a one-shot timer armed for the next deadline, or
 * none: an idle guest takes no interrupts.
 */
#ifndef SCHED_H
#define SCHED_H

#include <stdint.h>

#include "trap.h"

enum thread_state { T_RUNNABLE, T_BLOCKED, T_DEAD };

struct waitq {
	struct thread *head;
};

struct thread {
	int tid;
	enum thread_state state;
	uint64_t kstack_top;
	uint64_t ksp; /* saved kernel stack pointer while switched out */
	uint64_t fs_base;
	uint8_t *fpu; /* 64-byte aligned xsave/fxsave area */
	void *fpu_alloc;
	uint64_t clear_child_tid;
	struct thread *next;	  /* run queue or wait queue */
	struct waitq *waiting_on; /* the queue it sleeps on, if any */
	uint64_t deadline;	  /* TSC deadline of its timeout; 0: none */
	struct thread *timer_next;
	int wake_result;		   /* 0, or -ETIMEDOUT */
	uint64_t wait_key, wait_bitset;	   /* futex wait */
	uint64_t cpu_tsc, ran_since;	   /* CPU time used */
	uint64_t sig_blocked, sig_pending; /* signal.c */
	uint64_t saved_mask; /* rt_sigsuspend: the mask to restore after the handler */
	int restore_mask;
	uint64_t alt_sp, alt_size; /* sigaltstack */
	struct thread *all_next;
	struct trapframe first; /* a new thread's first user context */
};

/* Makes the running boot context thread 1 (the application's main thread). */
void sched_init(uint64_t kstack_top);
struct thread *sched_current(void);
int sched_nthreads(void);

/*
 * A new thread that starts in ring 3 with the registers in *tf and the given
 * FS base, inheriting the caller's FPU state. Returns it, or NULL (-ENOMEM).
 */
struct thread *sched_spawn(const struct trapframe *tf, uint64_t fs_base);
/* Lets other runnable threads run first. */
void sched_yield(void);
/*
 * Blocks the current thread on q (may be NULL: a pure sleep) until
 * sched_wake, or until the TSC reaches deadline (0: no deadline).
 * Returns 0 if woken, -ETIMEDOUT if the deadline passed.
 */
int sched_block(struct waitq *q, uint64_t deadline);
/* Makes a blocked thread runnable with the given result. */
void sched_wake(struct thread *t, int result);
/* Wakes up to n threads on q for which match(t, arg) is true (match NULL: all). Returns how many.
 */
int waitq_wake(struct waitq *q, int n, int (*match)(struct thread *, uint64_t), uint64_t arg);
/* Ends the current thread; the process ends with `status` when it was the last. */
__attribute__((noreturn)) void sched_exit_thread(int status);

/* Timer interrupt: wakes expired sleepers; from ring 3, may switch threads. */
void sched_timer_interrupt(int from_user);
/* Before returning from a syscall: switch if the time slice is used up. */
void sched_syscall_exit(void);

/* The registers of the current thread's syscall (top of its kernel stack). */
struct trapframe *sched_user_frame(void);
struct thread *sched_find(int tid);
/* Iterates over all threads: sched_next_thread(NULL) is the first. */
struct thread *sched_next_thread(struct thread *t);
/* The current thread's FPU/SSE/AVX state to its save area (t->fpu), and back from user memory. */
uint32_t sched_fpu_size(void);
void sched_fpu_save_current(void);
/* Loads FPU state from an application buffer (sanitized first); 0 or -EFAULT. */
int sched_fpu_load_current(uint64_t uaddr);

/*
 * A runtime-side one-shot timer (no periodic tick): fn runs once the TSC
 * reaches deadline, with interrupts off, from the timer interrupt, the idle
 * loop or a yield, never in the middle of other runtime code. fn may re-arm
 * its timer. Setting deadline 0 cancels; setting an armed timer moves it.
 */
struct sched_timer {
	uint64_t deadline;
	void (*fn)(struct sched_timer *t);
	struct sched_timer *next;
};
void sched_timer_set(struct sched_timer *t, uint64_t deadline);
/* fn runs each time the vCPU has nothing to run, just before it halts. */
void sched_set_idle_hook(void (*fn)(void));

uint64_t sched_process_cpu_tsc(void);
uint64_t sched_thread_cpu_tsc(void);

#endif
