/*
 * pmem.c: bitmap page allocator. One bit per 4 KiB page of the physical
 * address range up to the top of RAM; a set bit means "not available"
 * (in use, or not RAM at all). Allocation is next-fit from a hint.
 */
#include "pmem.h"

#include "lib.h"

uint64_t pmem_dmap_base;
static uint64_t *bitmap;
static uint64_t npages, nfree, ntotal, hint, high_water;

static int test(uint64_t pg)
{
	return bitmap[pg / 64] >> (pg % 64) & 1;
}

static void set(uint64_t pg, int used)
{
	if (used)
		bitmap[pg / 64] |= 1ull << (pg % 64);
	else
		bitmap[pg / 64] &= ~(1ull << (pg % 64));
}

/* Runs before the direct map exists: the bootstrap map covers the first GiB. */
void pmem_init(const struct pmem_region *ram, int nram, uint64_t reserved_end)
{
	uint64_t top = 0, bitmap_pa = 0, bytes;

	for (int i = 0; i < nram; i++)
		top = MAX(top, ram[i].base + ram[i].size);
	npages = top / PAGE_SIZE;
	bytes = ALIGN_UP((npages + 63) / 64 * 8, PAGE_SIZE);
	reserved_end = ALIGN_UP(reserved_end, PAGE_SIZE);
	for (int i = 0; i < nram && !bitmap_pa; i++) {
		uint64_t b = MAX(ALIGN_UP(ram[i].base, PAGE_SIZE), reserved_end);

		if (b + bytes <= ram[i].base + ram[i].size)
			bitmap_pa = b;
	}
	bitmap = (uint64_t *)bitmap_pa; /* identity-mapped at this point */
	memset(bitmap, 0xff, bytes);
	for (int i = 0; i < nram; i++) {
		uint64_t first = ALIGN_UP(ram[i].base, PAGE_SIZE) / PAGE_SIZE;
		uint64_t last = (ram[i].base + ram[i].size) / PAGE_SIZE;

		for (uint64_t pg = first; pg < last; pg++) {
			uint64_t pa = pg * PAGE_SIZE;

			if (pa < reserved_end || (pa >= bitmap_pa && pa < bitmap_pa + bytes))
				continue;
			set(pg, 0);
			nfree++;
		}
	}
	ntotal = nfree;
	hint = 0;
}

/* Called once the direct map is live; the bitmap must then be reached through it. */
void pmem_relocate(void)
{
	pmem_dmap_base = DMAP_BASE;
	bitmap = phys_to_virt((uint64_t)bitmap);
}

static uint64_t find_run(uint64_t from, uint64_t to, unsigned n)
{
	uint64_t run = 0;

	for (uint64_t pg = from; pg < to; pg++) {
		if (!(pg % 64) && bitmap[pg / 64] == ~0ull && pg + 64 <= to) {
			run = 0;
			pg += 63;
			continue;
		}
		run = test(pg) ? 0 : run + 1;
		if (run == n)
			return pg + 1 - n;
	}
	return 0;
}

uint64_t pmem_alloc(unsigned n)
{
	uint64_t pg;

	if (n == 0 || n > nfree)
		return 0;
	pg = find_run(hint, npages, n);
	if (!pg)
		pg = find_run(0, npages, n);
	if (!pg)
		return 0;
	for (unsigned i = 0; i < n; i++)
		set(pg + i, 1);
	nfree -= n;
	if (ntotal - nfree > high_water)
		high_water = ntotal - nfree;
	hint = pg + n;
	memset(phys_to_virt(pg * PAGE_SIZE), 0, (uint64_t)n * PAGE_SIZE);
	return pg * PAGE_SIZE;
}

void pmem_free(uint64_t pa, unsigned n)
{
	uint64_t pg = pa / PAGE_SIZE;

	for (unsigned i = 0; i < n; i++) {
		if (pg + i >= npages || !test(pg + i))
			continue; /* a double free is ignored rather than corrupting the count */
		set(pg + i, 0);
		nfree++;
	}
}

uint64_t pmem_free_pages(void)
{
	return nfree;
}

uint64_t pmem_high_water_pages(void)
{
	return high_water;
}

uint64_t pmem_total_pages(void)
{
	return ntotal;
}
