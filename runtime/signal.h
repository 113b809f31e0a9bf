/*
 * signal.h: signals as single-process programs use them: handlers set by
 * rt_sigaction run for signals the program sends itself (raise, kill,
 * tgkill), for faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP with siginfo
 * and ucontext) and, later, for SIGTERM from the host; blocked masks and
 * sigaltstack are honoured; rt_sigreturn resumes the interrupted code.
 */
#ifndef SIGNAL_H
#define SIGNAL_H

#include <stdint.h>

#include "sched.h"
#include "trap.h"

#define SIGKILL 9
#define SIGSEGV 11
#define SIGPIPE 13
#define SIGSTOP 19

/* Sends sig to thread t (NULL: the process). 0, or -EINVAL for a bad number. */
int signal_send(struct thread *t, int sig);
/* True if the current thread has a deliverable signal (blocking waits then return -EINTR). */
int signal_pending(void);
/*
 * Before returning to ring 3: runs the handler of a pending signal, or
 * applies its default. syscall_nr is the syscall being returned from (-1:
 * none); if it returned -ERESTARTSYS and a handler runs, the call is
 * restarted after the handler when it has SA_RESTART, else fails with EINTR.
 */
void signal_deliver(struct trapframe *tf, long syscall_nr);
/*
 * A fault in ring 3: if the program handles `sig`, arranges for the handler
 * to run (returns 1); otherwise returns 0 and the caller writes the crash report.
 */
int signal_fault(struct trapframe *tf, int sig, int code, uint64_t addr);
/* ppoll/pselect/epoll_pwait: a temporary mask from user memory (umask 0: keep). */
long signal_swap_mask(uint64_t umask, uint64_t size, uint64_t *old);
void signal_restore_mask(uint64_t old);

#endif
