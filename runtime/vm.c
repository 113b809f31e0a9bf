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
 * A user PTE records the protection it was given in software bits 52-54,
 * so that a page which is reserved (PROT_NONE) or not yet touched (no
 * physical page: demand paging) still knows what it may become.
 */
#define PTE_PROT_SHIFT 52

static uint64_t pte_make(uint64_t pa, int prot)
{
	uint64_t f = PTE_U | PTE_OWNED | (uint64_t)prot << PTE_PROT_SHIFT;

	if (pa && prot)
		f |= PTE_P;
	if (prot & PROT_WRITE)
		f |= PTE_W;
	if (!(prot & PROT_EXEC))
		f |= PTE_NX;
	return pa | f;
}

static int pte_prot(uint64_t pte)
{
	return (int)(pte >> PTE_PROT_SHIFT) & 7;
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

int vm_user_map(uint64_t va, uint64_t pa, int prot)
{
	uint64_t *pte;

	if ((prot & PROT_WRITE) && (prot & PROT_EXEC))
		return -EACCES;
	if (!user_range_ok(va, PAGE_SIZE) || !(pte = walk(va, 0, 1)))
		return -ENOMEM;
	if (*pte & PTE_OWNED)
		vm_user_free(va, PAGE_SIZE);
	set_pte(pte, va, pte_make(pa, prot));
	return 0;
}

int vm_user_alloc(uint64_t va, uint64_t len, int prot)
{
	if ((prot & PROT_WRITE) && (prot & PROT_EXEC))
		return -EACCES;
	if (!user_range_ok(va, len))
		return -ENOMEM;
	for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
		uint64_t *pte = walk(va + off, 0, 1);

		if (!pte) {
			vm_user_free(va, off);
			return -ENOMEM;
		}
		if (*pte & PTE_OWNED)
			vm_user_free(va + off, PAGE_SIZE);
		set_pte(pte, va + off, pte_make(0, prot));
	}
	return 0;
}

void vm_user_free(uint64_t va, uint64_t len)
{
	if (!user_range_ok(va, len))
		return;
	for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
		uint64_t *pte = walk(va + off, 0, 0);

		if (!pte || !(*pte & PTE_OWNED))
			continue;
		if (*pte & PTE_ADDR)
			pmem_free(*pte & PTE_ADDR, 1);
		set_pte(pte, va + off, 0);
	}
}

int vm_user_protect(uint64_t va, uint64_t len, int prot)
{
	if ((prot & PROT_WRITE) && (prot & PROT_EXEC))
		return -EACCES;
	if (!user_range_ok(va, len))
		return -ENOMEM;
	for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
		uint64_t *pte = walk(va + off, 0, 0);

		if (!pte || !(*pte & PTE_OWNED))
			return -ENOMEM; /* as Linux: the whole range must be mapped */
	}
	for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
		uint64_t *pte = walk(va + off, 0, 0);

		set_pte(pte, va + off, pte_make(*pte & PTE_ADDR, prot));
	}
	return 0;
}

void vm_user_discard(uint64_t va, uint64_t len)
{
	if (!user_range_ok(va, len))
		return;
	for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
		uint64_t *pte = walk(va + off, 0, 0);

		if (!pte || !(*pte & PTE_OWNED) || !(*pte & PTE_ADDR))
			continue;
		pmem_free(*pte & PTE_ADDR, 1);
		set_pte(pte, va + off, pte_make(0, pte_prot(*pte)));
	}
}

int vm_user_fault(uint64_t va, int write, int exec)
{
	uint64_t *pte = user_range_ok(va, 1) ? walk(va, 0, 0) : 0, pa;
	int prot;

	if (!pte || !(*pte & PTE_OWNED))
		return -EFAULT;
	prot = pte_prot(*pte);
	if (!prot || (write && !(prot & PROT_WRITE)) || (exec && !(prot & PROT_EXEC)))
		return -EFAULT;
	if (*pte & PTE_P)
		return 0; /* already there: the fault was about something else */
	if (!(pa = pmem_alloc(1)))
		return -ENOMEM;
	set_pte(pte, ALIGN_DOWN(va, PAGE_SIZE), pte_make(pa, prot));
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

static uint64_t kstack_next = KSTACK_REGION;

uint64_t vm_kstack_alloc(void)
{
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
