/* The runtime ELF, embedded in ukd so that packing needs no files beside the binary. */
	.section .rodata.runtime, "a"
	.balign 16
	.globl ukd_runtime_elf
ukd_runtime_elf:
	.incbin UKD_RUNTIME_ELF
	.globl ukd_runtime_elf_end
ukd_runtime_elf_end:
	.section .note.GNU-stack, "", @progbits
