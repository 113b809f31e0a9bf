/* syscall.h: the syscall table and its handlers. */
#ifndef SYSCALL_H
#define SYSCALL_H

#include <stdint.h>

#include "trap.h"

#define SYSCALL(nr, name) long sys_##name(const uint64_t *args);
#include "syscall_list.h"
#undef SYSCALL

/* Called by entry.S with the caller's registers; the result goes to tf->rax. */
void syscall_dispatch(struct trapframe *tf);
/* How many calls to unimplemented syscalls returned -ENOSYS. */
uint64_t syscall_unknown_count(void);
/* Prints the per-number counts of unimplemented syscalls (at exit), if there were any. */
void syscall_report_unknown(void);

#endif
