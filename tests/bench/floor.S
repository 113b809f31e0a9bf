/*
 * floor.S: the do-nothing PVH kernel the boot benchmark compares against.
 * It writes one line to COM1 and exits through isa-debug-exit, so QEMU's
 * process time for it is the floor any guest booted the same way pays.
 */
	.section .note.Xen, "a", @note
	.align 4
	.long 4, 4, 18		/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start
	.align 4

	.text
	.code32
	.globl _start
_start:
	movl $msg, %esi
1:	movb (%esi), %al
	testb %al, %al
	jz 2f
	movw $0x3f8, %dx
	outb %al, %dx
	incl %esi
	jmp 1b
2:	movw $0xf4, %dx
	xorl %eax, %eax
	outb %al, %dx		/* QEMU exits with status 1 */
3:	hlt
	jmp 3b

	.section .rodata
msg:	.asciz "floor\nexit status 0\n"
	.section .note.GNU-stack, "", @progbits
