/*
 * layout.h: the guest's address-space layout and segment selectors, shared
 * by assembly and C.
 *
 *   0 .. 64 KiB             never mapped (NULL dereferences fault)
 *   1 MiB .. _end           the runtime, identity-mapped, supervisor-only
 *   64 KiB .. 128 TiB       the application (ring 3): its ELF, brk, mmap, stack
 *   DMAP_BASE + phys        all guest RAM, supervisor-only, never executable
 */
#ifndef LAYOUT_H
#define LAYOUT_H

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS 0x1b
#define USER_CS 0x23
#define TSS_SEL 0x28

#define PAGE_SIZE 4096
#define DMAP_BASE 0xffff888000000000
#define USER_TOP 0x00007ffffffff000
#define USER_MIN 0x10000

#define KSTACK_SIZE 16384
#define KSTACK_REGION 0xffffc90000000000
#define MMIO_REGION 0xffffc80000000000 /* device registers, uncached */
#define APIC_VA MMIO_REGION

#endif
