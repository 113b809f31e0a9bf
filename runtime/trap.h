/* trap.h: the register frame that entry.S builds for traps and syscalls. */
#ifndef TRAP_H
#define TRAP_H

#include <stdint.h>

struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error; /* vector 0x100 marks a syscall */
	uint64_t rip, cs, rflags, rsp, ss;
};

/* Called by entry.S for every exception and interrupt. */
void trap_handler(struct trapframe *tf);
/* Leaves for ring 3 with the registers in *tf (entry.S). */
__attribute__((noreturn)) void user_enter(struct trapframe *tf);

#endif
