/*
 * sys_thread.c: clone/clone3 for threads, futex, thread exit, sleeping.
 * Processes (fork, vfork, execve) are not supported: one image runs one
 * program, so those return -ENOSYS and the program's fallback path runs.
 */
#include "cpu.h"
#include "errno.h"
#include "futex.h"
#include "layout.h"
#include "lib.h"
#include "proc.h"
#include "sched.h"
#include "syscall.h"
#include "time.h"
#include "trap.h"
#include "uaccess.h"

#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_VFORK 0x4000
#define CLONE_THREAD 0x10000
#define CLONE_SYSVSEM 0x40000
#define CLONE_SETTLS 0x80000
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_DETACHED 0x400000
#define CLONE_CHILD_SETTID 0x1000000
#define THREAD_FLAGS (CLONE_VM | CLONE_THREAD | CLONE_SIGHAND)
#define ALLOWED_FLAGS                                                           \
	(THREAD_FLAGS | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM | CLONE_SETTLS | \
	 CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_CHILD_SETTID)

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE 128
#define FUTEX_CLOCK_REALTIME 256
#define TIMER_ABSTIME 1

struct timespec {
	int64_t sec, nsec;
};

static long do_clone(uint64_t flags, uint64_t stack, uint64_t ptid, uint64_t ctid, uint64_t tls)
{
	struct trapframe tf = *sched_user_frame();
	struct thread *t;
	uint32_t tid;

	if ((flags & THREAD_FLAGS) != THREAD_FLAGS || (flags & ~(ALLOWED_FLAGS | 0xff)))
		return -ENOSYS; /* fork, vfork, posix_spawn: one program per image */
	if (!stack)
		return -EINVAL;
	tf.rax = 0;
	tf.rsp = stack;
	t = sched_spawn(&tf, flags & CLONE_SETTLS ? tls : rdmsr(MSR_FS_BASE));
	if (!t)
		return -ENOMEM;
	tid = (uint32_t)t->tid;
	if (flags & CLONE_CHILD_CLEARTID)
		t->clear_child_tid = ctid;
	if ((flags & CLONE_PARENT_SETTID) && copy_to_user(ptid, &tid, 4))
		return -EFAULT;
	if ((flags & CLONE_CHILD_SETTID) && copy_to_user(ctid, &tid, 4))
		return -EFAULT;
	return tid;
}

long sys_clone(const uint64_t *a)
{
	return do_clone(a[0], a[1], a[2], a[3], a[4]);
}

struct clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

long sys_clone3(const uint64_t *a)
{
	struct clone_args ca = {0};

	if (a[1] < sizeof(ca) - 8 * 0 || a[1] > 4096)
		return -EINVAL;
	if (copy_from_user(&ca, a[0], sizeof(ca)))
		return -EFAULT;
	if (ca.exit_signal || !ca.stack || !ca.stack_size)
		return ca.exit_signal ? -ENOSYS : -EINVAL;
	return do_clone(ca.flags, ca.stack + ca.stack_size, ca.parent_tid, ca.child_tid, ca.tls);
}

long sys_fork(const uint64_t *a)
{
	(void)a;
	return -ENOSYS;
}

long sys_vfork(const uint64_t *a)
{
	return sys_fork(a);
}

long sys_execve(const uint64_t *a)
{
	return sys_fork(a);
}

long sys_exit(const uint64_t *a)
{
	struct thread *t = sched_current();
	uint32_t zero = 0;

	/* pthread_join waits on this: clear the tid and wake the joiner. */
	if (t->clear_child_tid && !copy_to_user(t->clear_child_tid, &zero, 4))
		futex_wake(t->clear_child_tid, 1, ~0u);
	sched_exit_thread((int)a[0]);
}

long sys_set_tid_address(const uint64_t *a)
{
	sched_current()->clear_child_tid = a[0];
	return sched_current()->tid;
}

long sys_gettid(const uint64_t *a)
{
	(void)a;
	return sched_current()->tid;
}

long sys_sched_yield(const uint64_t *a)
{
	(void)a;
	sched_yield();
	return 0;
}

/* A user timespec as a TSC deadline: relative to now, or absolute on `clock`. */
static long deadline_of(uint64_t uts, int absolute, int clock, uint64_t *deadline)
{
	struct timespec ts;
	int64_t ns, now;

	if (copy_from_user(&ts, uts, sizeof(ts)))
		return -EFAULT;
	if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
		return -EINVAL;
	ns = ts.sec > 1000000000ll * 100 ? INT64_MAX / 2 : ts.sec * 1000000000ll + ts.nsec;
	if (absolute) {
		now = time_now_ns(clock);
		if (now < 0)
			return now;
		ns = ns > now ? ns - now : 0;
	}
	*deadline = rdtsc() + time_ns_to_tsc((uint64_t)ns) + 1;
	return 0;
}

long sys_futex(const uint64_t *a)
{
	int op = (int)a[1] & ~(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME);
	int clock = ((int)a[1] & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	uint64_t deadline = 0;
	long err;

	switch (op) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		if (a[3] && (err = deadline_of(a[3], op == FUTEX_WAIT_BITSET, clock, &deadline)))
			return err;
		return futex_wait(a[0], (uint32_t)a[2], deadline,
				  op == FUTEX_WAIT ? ~0u : (uint32_t)a[5]);
	case FUTEX_WAKE: return futex_wake(a[0], (int)a[2], ~0u);
	case FUTEX_WAKE_BITSET: return futex_wake(a[0], (int)a[2], (uint32_t)a[5]);
	case FUTEX_REQUEUE: return futex_requeue(a[0], (int)a[2], (int)a[3], a[4], 0, 0);
	case FUTEX_CMP_REQUEUE:
		return futex_requeue(a[0], (int)a[2], (int)a[3], a[4], 1, (uint32_t)a[5]);
	default: return -ENOSYS;
	}
}

static long sleep_until(uint64_t deadline)
{
	while (rdtsc() < deadline)
		if (sched_block(0, deadline) == -EINTR)
			return -EINTR;
	return 0;
}

long sys_nanosleep(const uint64_t *a)
{
	uint64_t deadline;
	long err = deadline_of(a[0], 0, CLOCK_MONOTONIC, &deadline);

	return err ? err : sleep_until(deadline);
}

long sys_clock_nanosleep(const uint64_t *a)
{
	uint64_t deadline;
	long err;

	if (time_now_ns((int)a[0]) < 0 || a[0] == CLOCK_THREAD_CPUTIME_ID)
		return -EINVAL;
	err = deadline_of(a[2], a[1] & TIMER_ABSTIME, (int)a[0], &deadline);
	return err ? err : sleep_until(deadline);
}

/* Sleeps until a signal arrives, without using the CPU meanwhile. */
long sys_pause(const uint64_t *a)
{
	(void)a;
	while (sched_block(0, 0) != -EINTR)
		;
	return -EINTR;
}
