/*
 * vm.h: page tables. One address space: the runtime's pages are
 * supervisor-only (identity-mapped image, direct map of RAM), the
 * application's are user pages in the lower half. No page is ever both
 * writable and executable.
 */
#ifndef VM_H
#define VM_H

#include <stdint.h>

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4

/* Builds and loads the final page tables covering RAM up to ram_top. */
void vm_init(uint64_t ram_top);

/* The last-level entry for va, or NULL if no page table covers it. */
uint64_t *vm_pte(uint64_t va);

/*
 * User ranges (page-aligned). vm_user_alloc maps zeroed pages
 * lazily: memory comes on first touch (demand paging); PROT_NONE reserves;
 * vm_user_free unmaps and frees; vm_user_protect changes permissions.
 * All return 0 or -errno; W+X is refused with -EACCES.
 */
int vm_user_alloc(uint64_t va, uint64_t len, int prot);
void vm_user_free(uint64_t va, uint64_t len);
int vm_user_protect(uint64_t va, uint64_t len, int prot);
/* Moves the pages of [from, from+len) to `to` (mapped by the caller, empty). */
int vm_user_move(uint64_t from, uint64_t to, uint64_t len);
/* Gives the pages' memory back; they read as zero when touched again (MADV_DONTNEED). */
void vm_user_discard(uint64_t va, uint64_t len);
/* Maps the page at pa (already owned by the caller) at va. */
int vm_user_map(uint64_t va, uint64_t pa, int prot);

/*
 * Handles a ring-3 page fault (or a runtime access on the application's
 * behalf) at va: gives a demand page its memory if its protection allows
 * the access. 0 if the access may be retried, else -EFAULT or -ENOMEM.
 */
int vm_user_fault(uint64_t va, int write, int exec);

/* Maps one page of device registers at va (supervisor, uncached, not executable). */
void vm_map_mmio(uint64_t va, uint64_t pa);

/*
 * A kernel stack with an unmapped guard page below it; returns its top or 0.
 * Freed stacks are kept and handed out again.
 */
uint64_t vm_kstack_alloc(void);
void vm_kstack_free(uint64_t top);

/*
 * True if every page of [va, va+len) is a present user page (and writable
 * if `write`). The runtime checks this before touching application memory.
 */
int vm_user_ok(uint64_t va, uint64_t len, int write);

#endif
