/*
 * heap.h: the runtime's own allocator (never used for application memory).
 * Small blocks come from per-size free lists, large ones are whole pages.
 */
#ifndef HEAP_H
#define HEAP_H

#include <stddef.h>

/* Zeroed memory, 16-byte aligned, or NULL. */
void *kmalloc(size_t size);
void kfree(void *p);

#endif
