/*
 * vma.c: a sorted list of mappings. Neighbours with the same protection are
 * merged, so typical programs keep a few dozen entries.
 */
#include "vma.h"

#include "errno.h"
#include "heap.h"

static struct vma *head;

const struct vma *vma_find(uint64_t addr)
{
	for (struct vma *v = head; v && v->start <= addr; v = v->next)
		if (addr < v->end)
			return v;
	return 0;
}

int vma_overlaps(uint64_t start, uint64_t end)
{
	for (struct vma *v = head; v && v->start < end; v = v->next)
		if (v->end > start)
			return 1;
	return 0;
}

/* Makes sure no mapping straddles addr. */
static int split_at(uint64_t addr)
{
	for (struct vma *v = head; v && v->start < addr; v = v->next) {
		struct vma *n;

		if (addr >= v->end)
			continue;
		if (!(n = kmalloc(sizeof(*n))))
			return -ENOMEM;
		*n = (struct vma){addr, v->end, v->prot, v->next};
		v->end = addr;
		v->next = n;
		return 0;
	}
	return 0;
}

static void merge(void)
{
	for (struct vma *v = head; v && v->next;) {
		struct vma *n = v->next;

		if (v->end == n->start && v->prot == n->prot) {
			v->end = n->end;
			v->next = n->next;
			kfree(n);
		} else {
			v = n;
		}
	}
}

int vma_unmap(uint64_t start, uint64_t end)
{
	struct vma **p = &head;

	if (split_at(start) || split_at(end))
		return -ENOMEM;
	while (*p) {
		struct vma *v = *p;

		if (v->start >= start && v->end <= end) {
			*p = v->next;
			kfree(v);
		} else {
			p = &v->next;
		}
	}
	return 0;
}

int vma_map(uint64_t start, uint64_t end, int prot)
{
	struct vma **p = &head, *n = kmalloc(sizeof(*n));

	if (!n || vma_unmap(start, end)) {
		kfree(n);
		return -ENOMEM;
	}
	while (*p && (*p)->start < start)
		p = &(*p)->next;
	*n = (struct vma){start, end, prot, *p};
	*p = n;
	merge();
	return 0;
}

int vma_protect(uint64_t start, uint64_t end, int prot)
{
	uint64_t at = start;

	for (const struct vma *v = head; v && at < end; v = v->next)
		if (v->start <= at && v->end > at)
			at = v->end;
	if (at < end)
		return -ENOMEM; /* as Linux: a hole in the range */
	if (split_at(start) || split_at(end))
		return -ENOMEM;
	for (struct vma *v = head; v; v = v->next)
		if (v->start >= start && v->end <= end)
			v->prot = prot;
	merge();
	return 0;
}

uint64_t vma_find_free(uint64_t len, uint64_t below, uint64_t above)
{
	uint64_t top = below;

	/* Try [top - len, top); if a mapping is in the way, retry just below it. */
	for (;;) {
		struct vma *v;

		if (top < above || top - above < len)
			return 0;
		for (v = head; v; v = v->next)
			if (v->end > top - len && v->start < top)
				break;
		if (!v)
			return top - len;
		top = v->start;
	}
}
