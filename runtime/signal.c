/*
 * signal.c: the signal frame is the Linux x86-64 one (struct rt_sigframe:
 * return address, ucontext, siginfo, then the xsave area), so libc's
 * ucontext_t, siglongjmp and backtrace code read it as they would on Linux.
 */
#include "signal.h"

#include "console.h"
#include "cpu.h"
#include "errno.h"
#include "layout.h"
#include "lib.h"
#include "proc.h"
#include "syscall.h"
#include "uaccess.h"

#define NSIG 64
#define SIG_DFL 0
#define SIG_IGN 1
#define SA_SIGINFO 0x4
#define SA_ONSTACK 0x08000000
#define SA_RESTORER 0x04000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000
#define SS_ONSTACK 1
#define SS_DISABLE 2
#define MINSIGSTKSZ 2048
#define BIT(s) (1ull << ((s)-1))
#define UNBLOCKABLE (BIT(SIGKILL) | BIT(SIGSTOP))
/* Flags a program may change through sigreturn: CF PF AF ZF SF TF DF OF AC (not IF, IOPL...). */
#define USER_RFLAGS 0x40dd5ull

struct k_sigaction {
	uint64_t handler, flags, restorer, mask;
};

struct k_stack {
	uint64_t sp;
	int32_t flags, pad;
	uint64_t size;
};

struct k_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2, fpstate;
	uint64_t reserved[8];
};

struct k_ucontext {
	uint64_t flags, link;
	struct k_stack stack;
	struct k_sigcontext mc;
	uint64_t sigmask;
};

struct k_siginfo {
	int32_t signo, errnum, code, pad;
	uint64_t addr; /* si_addr for faults; si_pid/si_uid for kill */
	uint8_t rest[128 - 24];
};

struct rt_sigframe {
	uint64_t pretcode;
	struct k_ucontext uc;
	struct k_siginfo info;
};

_Static_assert(sizeof(struct k_ucontext) == 304, "ucontext layout");
_Static_assert(sizeof(struct k_siginfo) == 128, "siginfo layout");

static struct k_sigaction actions[NSIG + 1];
static uint64_t process_pending;

/* Per-thread state lives in struct thread: sig_blocked, sig_pending, altstack. */

static int default_ignores(int sig)
{
	return sig == 17 || sig == 18 || sig == 23 || sig == 28; /* CHLD CONT URG WINCH */
}

static uint64_t deliverable(struct thread *t)
{
	return (t->sig_pending | process_pending) & ~(t->sig_blocked & ~UNBLOCKABLE);
}

int signal_send(struct thread *t, int sig)
{
	if (sig < 0 || sig > NSIG)
		return -EINVAL;
	if (!sig)
		return 0;
	if (actions[sig].handler == SIG_IGN && sig != SIGKILL && sig != SIGSTOP)
		return 0;
	if (actions[sig].handler == SIG_DFL && default_ignores(sig))
		return 0;
	if (t)
		t->sig_pending |= BIT(sig);
	else
		process_pending |= BIT(sig);
	/* A thread sleeping in a blocking call wakes up with EINTR (or restarts: syscall.c). */
	for (struct thread *w = t ? t : sched_current(); w; w = t ? 0 : sched_next_thread(w))
		if (w->state == T_BLOCKED && deliverable(w))
			sched_wake(w, -EINTR);
	return 0;
}

int signal_pending(void)
{
	return deliverable(sched_current()) != 0;
}

static int take_signal(struct thread *t)
{
	uint64_t d = deliverable(t);
	int sig;

	if (!d)
		return 0;
	sig = __builtin_ctzll(d) + 1;
	if (t->sig_pending & BIT(sig))
		t->sig_pending &= ~BIT(sig);
	else
		process_pending &= ~BIT(sig);
	return sig;
}

static void save_context(struct k_ucontext *uc, const struct trapframe *tf, uint64_t mask)
{
	struct k_sigcontext *m = &uc->mc;

	m->r8 = tf->r8, m->r9 = tf->r9, m->r10 = tf->r10, m->r11 = tf->r11;
	m->r12 = tf->r12, m->r13 = tf->r13, m->r14 = tf->r14, m->r15 = tf->r15;
	m->rdi = tf->rdi, m->rsi = tf->rsi, m->rbp = tf->rbp, m->rbx = tf->rbx;
	m->rdx = tf->rdx, m->rax = tf->rax, m->rcx = tf->rcx, m->rsp = tf->rsp;
	m->rip = tf->rip, m->eflags = tf->rflags;
	m->cs = USER_CS, m->ss = USER_DS;
	uc->sigmask = mask;
}

/* Builds the frame and points the thread at the handler; 0, or -EFAULT if the stack is bad. */
static int setup_frame(struct trapframe *tf, int sig, int code, uint64_t addr)
{
	struct thread *t = sched_current();
	struct k_sigaction *act = &actions[sig];
	struct rt_sigframe frame = {0};
	uint64_t sp = tf->rsp - 128, fp; /* skip the red zone */
	uint32_t fpu_size = sched_fpu_size();
	int on_alt = t->alt_size && tf->rsp - t->alt_sp <= t->alt_size;

	if ((act->flags & SA_ONSTACK) && t->alt_size && !on_alt)
		sp = t->alt_sp + t->alt_size;
	fp = ALIGN_DOWN(sp - fpu_size, 64);
	sp = ALIGN_DOWN(fp - sizeof(frame), 16) - 8; /* as if `call`ed: rsp+8 is 16-aligned */
	frame.pretcode = act->restorer;
	frame.uc.stack = (struct k_stack){
		t->alt_sp, on_alt ? SS_ONSTACK : (t->alt_size ? 0 : SS_DISABLE), 0, t->alt_size};
	save_context(&frame.uc, tf, t->restore_mask ? t->saved_mask : t->sig_blocked);
	t->restore_mask = 0;
	frame.uc.mc.fpstate = fp;
	frame.uc.mc.cr2 = addr;
	frame.uc.mc.trapno = tf->vector < 32 ? tf->vector : 0;
	frame.uc.mc.err = tf->vector < 32 ? tf->error : 0;
	frame.info.signo = sig;
	frame.info.code = code;
	frame.info.addr = code > 0 ? addr : 1; /* faults: si_addr; else si_pid = 1 */
	sched_fpu_save_current();
	if (copy_to_user(fp, sched_current()->fpu, fpu_size) ||
	    copy_to_user(sp, &frame, sizeof(frame)))
		return -EFAULT;
	tf->rip = act->handler;
	t->sig_blocked |= act->mask | (act->flags & SA_NODEFER ? 0 : BIT(sig));
	t->sig_blocked &= ~UNBLOCKABLE;
	if (act->flags & SA_RESETHAND)
		act->handler = SIG_DFL;
	tf->rsp = sp;
	tf->rdi = (uint64_t)sig;
	tf->rsi = sp + __builtin_offsetof(struct rt_sigframe, info);
	tf->rdx = sp + __builtin_offsetof(struct rt_sigframe, uc);
	tf->rax = 0;
	tf->rflags &= ~(1ull << 10 | 1ull << 8); /* DF and TF clear in the handler */
	return 0;
}

static int has_handler(int sig)
{
	return actions[sig].handler != SIG_DFL && actions[sig].handler != SIG_IGN;
}

void signal_deliver(struct trapframe *tf, long syscall_nr)
{
	int sig;

	while ((sig = take_signal(sched_current()))) {
		if (actions[sig].handler == SIG_IGN && sig != SIGKILL)
			continue;
		if (!has_handler(sig) || sig == SIGKILL) {
			if (default_ignores(sig))
				continue;
			proc_kill(sig);
		}
		if (!(actions[sig].flags & SA_RESTORER)) {
			kprintf("runtime: handler for signal %d has no SA_RESTORER; cannot return\n",
				sig);
			proc_kill(sig);
		}
		if (syscall_nr >= 0 && (long)tf->rax == -ERESTARTSYS) {
			if (actions[sig].flags & SA_RESTART) {
				tf->rax = (uint64_t)
					syscall_nr; /* the handler returns into `syscall` */
				tf->rip -= 2;
			} else {
				tf->rax = (uint64_t)-EINTR;
			}
		}
		if (setup_frame(tf, sig, 0, 0)) {
			kprintf("runtime: no room for a signal frame (stack at 0x%lx)\n", tf->rsp);
			proc_kill(SIGSEGV);
		}
		return; /* one handler at a time; the next runs after it returns */
	}
}

int signal_fault(struct trapframe *tf, int sig, int code, uint64_t addr)
{
	struct thread *t = sched_current();

	/* A blocked or unhandled fault cannot be ignored: the caller kills the process. */
	if (!has_handler(sig) || (t->sig_blocked & BIT(sig)) || !(actions[sig].flags & SA_RESTORER))
		return 0;
	return setup_frame(tf, sig, code, addr) == 0;
}

long sys_rt_sigreturn(const uint64_t *a)
{
	struct trapframe *tf = sched_user_frame();
	struct rt_sigframe frame;
	struct k_sigcontext *m = &frame.uc.mc;

	(void)a;
	if (copy_from_user(&frame, tf->rsp - 8, sizeof(frame)) || m->rip >= USER_TOP ||
	    m->rsp >= USER_TOP)
		proc_kill(SIGSEGV); /* a corrupt frame: as Linux does */
	tf->r8 = m->r8, tf->r9 = m->r9, tf->r10 = m->r10, tf->r11 = m->r11;
	tf->r12 = m->r12, tf->r13 = m->r13, tf->r14 = m->r14, tf->r15 = m->r15;
	tf->rdi = m->rdi, tf->rsi = m->rsi, tf->rbp = m->rbp, tf->rbx = m->rbx;
	tf->rdx = m->rdx, tf->rcx = m->rcx, tf->rsp = m->rsp, tf->rip = m->rip;
	tf->rflags = (tf->rflags & ~USER_RFLAGS) | (m->eflags & USER_RFLAGS) | (1ull << 9);
	sched_current()->sig_blocked = frame.uc.sigmask & ~UNBLOCKABLE;
	if (m->fpstate && sched_fpu_load_current(m->fpstate))
		proc_kill(SIGSEGV);
	return (long)m->rax; /* the dispatcher puts this in rax */
}

long sys_rt_sigaction(const uint64_t *a)
{
	int sig = (int)a[0];
	struct k_sigaction act;

	if (sig < 1 || sig > NSIG || a[3] != 8)
		return -EINVAL;
	if (a[2] && copy_to_user(a[2], &actions[sig], sizeof(act)))
		return -EFAULT;
	if (!a[1])
		return 0;
	if (sig == SIGKILL || sig == SIGSTOP)
		return -EINVAL;
	if (copy_from_user(&act, a[1], sizeof(act)))
		return -EFAULT;
	act.mask &= ~UNBLOCKABLE;
	actions[sig] = act;
	return 0;
}

static long change_mask(int how, uint64_t set)
{
	uint64_t *blocked = &sched_current()->sig_blocked;

	switch (how) {
	case 0: *blocked |= set; break;
	case 1: *blocked &= ~set; break;
	case 2: *blocked = set; break;
	default: return -EINVAL;
	}
	*blocked &= ~UNBLOCKABLE;
	return 0;
}

long sys_rt_sigprocmask(const uint64_t *a)
{
	uint64_t set, old = sched_current()->sig_blocked;

	if (a[3] != 8)
		return -EINVAL;
	if (a[1]) {
		long err;

		if (copy_from_user(&set, a[1], 8))
			return -EFAULT;
		if ((err = change_mask((int)a[0], set)))
			return err;
	}
	if (a[2] && copy_to_user(a[2], &old, 8))
		return -EFAULT;
	return 0;
}

long sys_rt_sigpending(const uint64_t *a)
{
	struct thread *t = sched_current();
	uint64_t set = (t->sig_pending | process_pending) & t->sig_blocked;

	if (a[1] != 8)
		return -EINVAL;
	return copy_to_user(a[0], &set, 8);
}

long sys_rt_sigsuspend(const uint64_t *a)
{
	struct thread *t = sched_current();
	uint64_t set;

	if (a[1] != 8)
		return -EINVAL;
	if (copy_from_user(&set, a[0], 8))
		return -EFAULT;
	/* The handler must run with the temporary mask, then the old one returns via sigreturn. */
	t->saved_mask = t->sig_blocked;
	t->restore_mask = 1;
	t->sig_blocked = set & ~UNBLOCKABLE;
	while (!signal_pending())
		sched_block(0, 0);
	return -EINTR;
}

long signal_swap_mask(uint64_t umask, uint64_t size, uint64_t *old)
{
	uint64_t set;

	*old = sched_current()->sig_blocked;
	if (!umask)
		return 0;
	if (size != 8)
		return -EINVAL;
	if (copy_from_user(&set, umask, 8))
		return -EFAULT;
	sched_current()->sig_blocked = set & ~UNBLOCKABLE;
	return 0;
}

void signal_restore_mask(uint64_t old)
{
	sched_current()->sig_blocked = old;
}

long sys_sigaltstack(const uint64_t *a)
{
	struct thread *t = sched_current();
	struct k_stack ss, old = {t->alt_sp, t->alt_size ? 0 : SS_DISABLE, 0, t->alt_size};

	if (a[1] && copy_to_user(a[1], &old, sizeof(old)))
		return -EFAULT;
	if (!a[0])
		return 0;
	if (copy_from_user(&ss, a[0], sizeof(ss)))
		return -EFAULT;
	if (ss.flags & SS_DISABLE) {
		t->alt_sp = t->alt_size = 0;
		return 0;
	}
	if (ss.flags & ~SS_ONSTACK)
		return -EINVAL;
	if (ss.size < MINSIGSTKSZ)
		return -ENOMEM;
	t->alt_sp = ss.sp;
	t->alt_size = ss.size;
	return 0;
}

/* kill, tkill, tgkill: the only process is us (pid 1); threads are by tid. */
static long send_to(int64_t pid, int64_t tid, int64_t sig)
{
	struct thread *t = 0;

	if (pid != 1 && pid != 0 && pid != -1)
		return -ESRCH;
	if (tid > 0 && !(t = sched_find(tid)))
		return -ESRCH;
	return signal_send(t, (int)sig);
}

long sys_kill(const uint64_t *a)
{
	return send_to((int64_t)a[0], 0, (int64_t)a[1]);
}

long sys_tkill(const uint64_t *a)
{
	return send_to(1, (int64_t)a[0], (int64_t)a[1]);
}

long sys_tgkill(const uint64_t *a)
{
	return send_to((int64_t)a[0], (int64_t)a[1], (int64_t)a[2]);
}
