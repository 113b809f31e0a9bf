/*
 * vma.h: the application's address-space map: which ranges are mapped and
 * with what protection. Page tables hold only pages that were touched; the
 * map says what a fault at any other address may become, so reserving or
 * mapping terabytes costs a list entry, not page tables.
 */
#ifndef VMA_H
#define VMA_H

#include <stdint.h>

struct vma {
	uint64_t start, end; /* page-aligned, end exclusive */
	int prot;
	struct vma *next; /* sorted by start, never overlapping */
};

/* The mapping containing addr, or NULL. */
const struct vma *vma_find(uint64_t addr);
/* Maps [start, end) with prot, replacing whatever was there. 0 or -ENOMEM. */
int vma_map(uint64_t start, uint64_t end, int prot);
/* Unmaps [start, end) (parts may already be unmapped). 0 or -ENOMEM (a split needed memory). */
int vma_unmap(uint64_t start, uint64_t end);
/* Sets prot on [start, end), which must be fully mapped: 0, -ENOMEM otherwise. */
int vma_protect(uint64_t start, uint64_t end, int prot);
/* True if any mapping overlaps [start, end). */
int vma_overlaps(uint64_t start, uint64_t end);
/* A free range of len bytes below `below` and above `above` (top-down first fit), or 0. */
uint64_t vma_find_free(uint64_t len, uint64_t below, uint64_t above);

#endif
