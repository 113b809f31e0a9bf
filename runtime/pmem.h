/*
 * pmem.h: the physical page allocator. A bitmap over guest RAM, placed in
 * the first free pages after the image. Pages are 4 KiB and returned zeroed.
 */
#ifndef PMEM_H
#define PMEM_H

#include <stdint.h>

#include "layout.h"

struct pmem_region {
	uint64_t base, size;
};

/* Takes the RAM regions and the range [0, reserved_end) that is in use. */
void pmem_init(const struct pmem_region *ram, int nram, uint64_t reserved_end);
/* Allocates n physically contiguous zeroed pages; returns the physical address or 0. */
uint64_t pmem_alloc(unsigned n);
void pmem_free(uint64_t pa, unsigned n);
/* Switches the allocator to the direct map; called once by vm_init. */
void pmem_relocate(void);
uint64_t pmem_free_pages(void);
uint64_t pmem_total_pages(void);
/* The most pages ever in use at once. */
uint64_t pmem_high_water_pages(void);

/*
 * 0 while the bootstrap identity map is live, DMAP_BASE once vm_init has
 * switched to the final page tables (pmem_relocate).
 */
extern uint64_t pmem_dmap_base;

static inline void *phys_to_virt(uint64_t pa)
{
	return (void *)(pa + pmem_dmap_base);
}

static inline uint64_t virt_to_phys(const void *va)
{
	uint64_t v = (uint64_t)va;

	return v >= DMAP_BASE ? v - DMAP_BASE : v; /* the runtime image is identity-mapped */
}

#endif
