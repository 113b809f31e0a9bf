/*
 * boot.S: PVH entry. The VMM starts us in 32-bit protected mode, paging off,
 * with %ebx pointing at struct hvm_start_info. We stamp the TSC, build a
 * bootstrap identity map of the first GiB, enter long mode and call
 * boot_main(start_info_paddr). boot_main replaces these page tables.
 */
#include "layout.h"

	.section .note.Xen, "a", @note
	.align 4
	.long 4			/* name size */
	.long 4			/* desc size */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start
	.align 4

	.section .text.boot, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cld
	rdtsc
	movl %eax, boot_tsc0
	movl %edx, boot_tsc0 + 4
	movl %ebx, boot_start_info
	movl $boot_stack_top, %esp

	/* PML4[0] -> PDPT, PDPT[0] -> PD, PD: 512 x 2 MiB identity. */
	movl $boot_pdpt, %eax
	orl $3, %eax
	movl %eax, boot_pml4
	movl $boot_pd, %eax
	orl $3, %eax
	movl %eax, boot_pdpt
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax		/* present, writable, 2 MiB */
	movl %eax, boot_pd(,%ecx,8)
	movl $0, boot_pd+4(,%ecx,8)
	incl %ecx
	cmpl $512, %ecx
	jne 1b

	movl %cr4, %eax
	orl $(1 << 5), %eax	/* PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx	/* EFER */
	rdmsr
	orl $((1 << 8) | (1 << 11)), %eax	/* LME, NXE */
	wrmsr
	movl %cr0, %eax
	orl $0x80010001, %eax	/* PG, WP, PE */
	movl %eax, %cr0
	lgdt gdt_ptr
	ljmp $KERNEL_CS, $long_entry

	.code64
long_entry:
	movw $KERNEL_DS, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movabsq $boot_stack_top, %rsp
	xorl %ebp, %ebp
	movl boot_start_info(%rip), %edi
	call boot_main
2:	cli
	hlt
	jmp 2b

	/* Writable: loading the task register marks its descriptor busy. */
	.section .data
	.align 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 kernel code 64 */
	.quad 0x00cf92000000ffff	/* 0x10 kernel data */
	.quad 0x00cff2000000ffff	/* 0x18 user data */
	.quad 0x00affa000000ffff	/* 0x20 user code 64 */
	.globl gdt_tss
gdt_tss:
	.quad 0, 0			/* 0x28 TSS, filled by cpu_init */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

	.section .bss
	.align 4096
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pd:	.skip 4096
	.globl boot_stack_bottom
boot_stack_guard:	.skip 4096	/* unmapped by vm_init: guard page */
boot_stack_bottom:	.skip 16384
	.globl boot_stack_top
boot_stack_top:
	.align 8
	.globl boot_tsc0
boot_tsc0:	.quad 0
	.globl boot_start_info
boot_start_info:	.quad 0
