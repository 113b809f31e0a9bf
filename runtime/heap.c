/*
 * heap.c: size classes of 32..2048 bytes carved from pages, each block
 * preceded by a 16-byte header naming its class; bigger requests take whole
 * pages from pmem and record the page count in the header instead.
 */
#include "heap.h"

#include "lib.h"
#include "pmem.h"

#define NCLASS 7 /* 32, 64, ..., 2048 */
#define HDR 16

struct free_block {
	struct free_block *next;
};

static struct free_block *free_list[NCLASS];

static int size_class(size_t total)
{
	for (int c = 0; c < NCLASS; c++)
		if (total <= (32u << c))
			return c;
	return -1;
}

static int refill(int c)
{
	uint64_t pa = pmem_alloc(1);
	size_t bs = 32u << c;
	char *page;

	if (!pa)
		return -1;
	page = phys_to_virt(pa);
	for (size_t off = 0; off + bs <= PAGE_SIZE; off += bs) {
		struct free_block *b = (struct free_block *)(page + off);

		b->next = free_list[c];
		free_list[c] = b;
	}
	return 0;
}

void *kmalloc(size_t size)
{
	size_t total = size + HDR;
	int c = size_class(total);
	uint64_t *hdr;

	if (size > (1ull << 32))
		return 0;
	if (c < 0) {
		unsigned n = (unsigned)((total + PAGE_SIZE - 1) / PAGE_SIZE);
		uint64_t pa = pmem_alloc(n);

		if (!pa)
			return 0;
		hdr = phys_to_virt(pa);
		hdr[0] = 0x1000 + n;
		return (char *)hdr + HDR;
	}
	if (!free_list[c] && refill(c) < 0)
		return 0;
	hdr = (uint64_t *)free_list[c];
	free_list[c] = free_list[c]->next;
	memset(hdr, 0, 32u << c);
	hdr[0] = (uint64_t)c;
	return (char *)hdr + HDR;
}

void kfree(void *p)
{
	uint64_t *hdr;
	int c;

	if (!p)
		return;
	hdr = (uint64_t *)((char *)p - HDR);
	if (hdr[0] >= 0x1000) {
		pmem_free(virt_to_phys(hdr), (unsigned)(hdr[0] - 0x1000));
		return;
	}
	c = (int)hdr[0]; /* read before the link overwrites it */
	((struct free_block *)hdr)->next = free_list[c];
	free_list[c] = (struct free_block *)hdr;
}
