/*
 * entry.S: every way into the runtime from the CPU. Exceptions and
 * interrupts arrive through 256 small stubs that build a struct trapframe
 * (trap.h) and call trap_handler; the `syscall` instruction arrives at
 * syscall_entry, which builds the same frame on the kernel stack and calls
 * syscall_dispatch. Both return to ring 3 with iretq: sysretq aborts the VM
 * on hosts whose KVM emulates ring 0 (HOST-NOTES.md), iretq works everywhere.
 */
#include "layout.h"

/* With SMAP on, the runtime must not run with EFLAGS.AC set by ring 3. */
.macro clac_if_smap
	testb $1, smap_on(%rip)
	jz 1f
	clac
1:
.endm

.macro push_regs
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
.endm

	.text
	.align 16
	.globl trap_stub_base
trap_stub_base:
	.set vec, 0
	.rept 256
	.align 16
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp trap_common
	.set vec, vec + 1
	.endr

trap_common:
	push_regs
	cld
	clac_if_smap
	movq %rsp, %rdi
	call trap_handler
	.globl trap_return
trap_return:
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp		/* vector, error code */
	iretq

/*
 * syscall: %rcx = user %rip, %r11 = user %rflags, %rsp still the user's.
 * Interrupts are off (SFMASK) and there is one vCPU, so a plain global is
 * a safe place to park the user %rsp while we switch stacks.
 */
	.globl syscall_entry
syscall_entry:
	movq %rsp, syscall_user_rsp(%rip)
	movq syscall_kstack_top(%rip), %rsp
	pushq $USER_DS
	pushq syscall_user_rsp(%rip)
	pushq %r11
	pushq $USER_CS
	pushq %rcx
	pushq $0		/* error code */
	pushq $0x100		/* "vector": a syscall */
	push_regs
	cld
	clac_if_smap
	movq %rsp, %rdi
	call syscall_dispatch
	jmp trap_return

/* user_enter(frame): leave for ring 3 with the registers in *frame. */
	.globl user_enter
user_enter:
	movq %rdi, %rsp
	jmp trap_return

	.data
	.align 8
	.globl syscall_kstack_top
syscall_kstack_top:	.quad 0
syscall_user_rsp:	.quad 0
	.globl smap_on
smap_on:	.byte 0

/*
 * sched_switch(&prev->ksp, next_ksp): saves the callee-saved registers on
 * the current kernel stack, switches stacks, and restores the next
 * thread's. Everything else is caller-saved by the C ABI.
 */
	.text
	.globl sched_switch
sched_switch:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

/* A new thread's first "return" from sched_switch lands here. */
	.globl sched_first_entry
sched_first_entry:
	call sched_thread_start
	ud2
