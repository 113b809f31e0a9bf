/*
 * vm.c: 4-level paging. Page-table pages come from pmem and are reached
 * through the direct map. Intermediate entries in the lower half carry the
 * user bit so that leaf entries alone decide what ring 3 may touch.
 */
#include "vm.h"

#include "cpu.h"
#include "errno.h"
#include "layout.h"
#include "lib.h"
#include "pmem.h"
#include "vma.h"

extern char _text_start[], _text_end[], _rodata_end[], _end[];
extern char boot_stack_bottom[];

static uint64_t *pml4;

static void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* The entry for va at `level` (3 = PML4 ... 0 = PT), creating tables on the way. */
static uint64_t *walk(uint64_t va, int level, int create)
{
	uint64_t *table = pml4;

	for (int l = 3; l > level; l--) {
		uint64_t *e = &table[(va >> (12 + 9 * l)) & 511];

		if (!(*e & PTE_P)) {
			uint64_t pa;

			if (!create || !(pa = pmem_alloc(1)))
				return 0;
			*e = pa | PTE_P | PTE_W | (va < DMAP_BASE ? PTE_U : 0);
		}
		if (*e & PTE_PS)
			return 0;
		table = phys_to_virt(*e & PTE_ADDR);
	}
	return &table[(va >> (12 + 9 * level)) & 511];
}

uint64_t *vm_pte(uint64_t va)
{
	return walk(va, 0, 0);
}

static void map_kernel_range(uint64_t start, uint64_t end, uint64_t flags)
{
	for (uint64_t va = start; va < end; va += PAGE_SIZE)
		*walk(va, 0, 1) = va | flags;
}

static void map_dmap(uint64_t ram_top)
{
	uint64_t flags = PTE_P | PTE_W | PTE_NX | PTE_PS;

	if (cpu_features.pdpe1gb) {
		for (uint64_t pa = 0; pa < ram_top; pa += 1ull << 30)
			*walk(DMAP_BASE + pa, 2, 1) = pa | flags;
		return;
	}
	for (uint64_t pa = 0; pa < ram_top; pa += 1ull << 21)
		*walk(DMAP_BASE + pa, 1, 1) = pa | flags;
}

void vm_init(uint64_t ram_top)
{
	uint64_t text = (uint64_t)_text_start, guard = (uint64_t)boot_stack_bottom - PAGE_SIZE;

	pml4 = (uint64_t *)pmem_alloc(1); /* identity-mapped until the switch */
	map_kernel_range(text, (uint64_t)_text_end, PTE_P);
	map_kernel_range((uint64_t)_text_end, (uint64_t)_rodata_end, PTE_P | PTE_NX);
	map_kernel_range((uint64_t)_rodata_end, guard, PTE_P | PTE_W | PTE_NX);
	map_kernel_range(guard + PAGE_SIZE, (uint64_t)_end, PTE_P | PTE_W | PTE_NX);
	map_dmap(ALIGN_UP(ram_top, 1ull << 21));
	__asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)pml4) : "memory");
	pmem_relocate();
	pml4 = phys_to_virt((uint64_t)pml4);
}

/*
 * User page-table entries exist only for pages that were touched (or that
 * the loader filled); vma.c knows what every other address may become.
 */
static uint64_t pte_make(uint64_t pa, int prot)
{
	uint64_t f = PTE_P | PTE_U;

	if (prot & PROT_WRITE)
		f |= PTE_W;
	if (!(prot & PROT_EXEC))
		f |= PTE_NX;
	return pa | f;
}

static int user_range_ok(uint64_t va, uint64_t len)
{
	return va >= USER_MIN && len <= USER_TOP && va <= USER_TOP - len &&
	       (va >= (uint64_t)_end || va + len <= (uint64_t)_text_start);
}

static void set_pte(uint64_t *pte, uint64_t va, uint64_t v)
{
	*pte = v;
	invlpg(va);
}

/* Calls fn on every leaf entry holding a page in [start, end), skipping absent tables whole. */
static void for_each_pte(uint64_t start, uint64_t end, void (*fn)(uint64_t, uint64_t *, uint64_t),
			 uint64_t arg)
{
	for (uint64_t va = start; va < end;) {
		uint64_t *table = pml4;
		int l;

		for (l = 3; l > 0; l--) {
			uint64_t e = table[(va >> (12 + 9 * l)) & 511];

			if (!(e & PTE_P))
				break;
			table = phys_to_virt(e & PTE_ADDR);
		}
		if (l > 0) {
			uint64_t span = 1ull << (12 + 9 * l);

			va = ALIGN_DOWN(va, span) + span;
			continue;
		}
		if (table[(va >> 12) & 511] & PTE_ADDR) /* present, or parked by PROT_NONE */
			fn(va, &table[(va >> 12) & 511], arg);
		va += PAGE_SIZE;
	}
}

static void free_page(uint64_t va, uint64_t *pte, uint64_t arg)
{
	(void)arg;
	pmem_free(*pte & PTE_ADDR, 1);
	set_pte(pte, va, 0);
}

/* PROT_NONE parks the page: not present, but its contents stay for a later mprotect. */
static void reprotect_page(uint64_t va, uint64_t *pte, uint64_t prot)
{
	set_pte(pte, va, prot ? pte_make(*pte & PTE_ADDR, (int)prot) : (*pte & PTE_ADDR));
}

static int check_prot(int prot)
{
	return (prot & PROT_WRITE) && (prot & PROT_EXEC) ? -EACCES : 0;
}

int vm_user_map(uint64_t va, uint64_t pa, int prot)
{
	uint64_t *pte;

	if (check_prot(prot))
		return -EACCES;
	if (!user_range_ok(va, PAGE_SIZE) || !(pte = walk(va, 0, 1)))
		return -ENOMEM;
	if (*pte & PTE_ADDR)
		pmem_free(*pte & PTE_ADDR, 1);
	set_pte(pte, va, pte_make(pa, prot));
	return 0;
}

int vm_user_alloc(uint64_t va, uint64_t len, int prot)
{
	if (check_prot(prot))
		return -EACCES;
	if (!user_range_ok(va, len))
		return -ENOMEM;
	if (vma_map(va, va + len, prot))
		return -ENOMEM;
	for_each_pte(va, va + len, free_page, 0);
	return 0;
}

void vm_user_free(uint64_t va, uint64_t len)
{
	if (!user_range_ok(va, len))
		return;
	for_each_pte(va, va + len, free_page, 0);
	vma_unmap(va, va + len);
}

int vm_user_protect(uint64_t va, uint64_t len, int prot)
{
	int err;

	if (check_prot(prot))
		return -EACCES;
	if (!user_range_ok(va, len))
		return -ENOMEM;
	if ((err = vma_protect(va, va + len, prot)))
		return err;
	for_each_pte(va, va + len, reprotect_page, prot);
	return 0;
}

/* Moves one page's entry by `delta` bytes (mremap); the target has no page yet. */
static void move_page(uint64_t va, uint64_t *pte, uint64_t delta)
{
	uint64_t *to = walk(va + delta, 0, 1), v = *pte;

	set_pte(pte, va, 0);
	if (to)
		set_pte(to, va + delta, v);
	else
		pmem_free(v & PTE_ADDR, 1); /* out of memory for a page table: the data is lost */
}

int vm_user_move(uint64_t from, uint64_t to, uint64_t len)
{
	if (!user_range_ok(from, len) || !user_range_ok(to, len))
		return -EINVAL;
	for_each_pte(from, from + len, move_page, to - from);
	return 0;
}

void vm_user_discard(uint64_t va, uint64_t len)
{
	if (user_range_ok(va, len))
		for_each_pte(va, va + len, free_page, 0);
}

int vm_user_fault(uint64_t va, int write, int exec)
{
	const struct vma *v = user_range_ok(va, 1) ? vma_find(va) : 0;
	uint64_t *pte, pa;

	if (!v || !v->prot || (write && !(v->prot & PROT_WRITE)) ||
	    (exec && !(v->prot & PROT_EXEC)))
		return -EFAULT;
	if (!(pte = walk(va, 0, 1)))
		return -ENOMEM;
	if (*pte & PTE_P)
		return 0;	    /* already there: the fault was about something else */
	if ((pa = *pte & PTE_ADDR)) /* parked by PROT_NONE: the same page comes back */
		;
	else if (!(pa = pmem_alloc(1)))
		return -ENOMEM;
	set_pte(pte, ALIGN_DOWN(va, PAGE_SIZE), pte_make(pa, v->prot));
	return 0;
}

int vm_user_ok(uint64_t va, uint64_t len, int write)
{
	uint64_t need = PTE_P | PTE_U | (write ? PTE_W : 0);

	if (len == 0)
		return 1;
	if (!user_range_ok(va, len))
		return 0;
	for (uint64_t p = ALIGN_DOWN(va, PAGE_SIZE); p < va + len; p += PAGE_SIZE) {
		uint64_t *pte = walk(p, 0, 0);

		if ((!pte || (*pte & need) != need) && vm_user_fault(p, write, 0))
			return 0;
	}
	return 1;
}

void vm_map_mmio(uint64_t va, uint64_t pa)
{
	uint64_t *pte = walk(va, 0, 1);

	if (pte)
		set_pte(pte, va, pa | PTE_P | PTE_W | PTE_PCD | PTE_PWT | PTE_NX);
}

static uint64_t kstack_next = KSTACK_REGION;
static uint64_t kstack_free_list[64];
static unsigned kstack_nfree;

void vm_kstack_free(uint64_t top)
{
	if (kstack_nfree < 64)
		kstack_free_list[kstack_nfree++] = top;
}

uint64_t vm_kstack_alloc(void)
{
	if (kstack_nfree)
		return kstack_free_list[--kstack_nfree];
	uint64_t va = kstack_next + PAGE_SIZE; /* the page below stays unmapped: guard */

	for (uint64_t off = 0; off < KSTACK_SIZE; off += PAGE_SIZE) {
		uint64_t pa = pmem_alloc(1), *pte = walk(va + off, 0, 1);

		if (!pa || !pte)
			return 0;
		*pte = pa | PTE_P | PTE_W | PTE_NX;
	}
	kstack_next += KSTACK_SIZE + PAGE_SIZE;
	return va + KSTACK_SIZE;
}
