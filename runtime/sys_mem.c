/*
 * sys_mem.c: brk, mmap (anonymous), munmap, mprotect, madvise. Memory comes
 * on first touch; PIE, brk, mmap and the stack live in separate randomised
 * regions (see loader.c).
 */
#include "errno.h"
#include "layout.h"
#include "lib.h"
#include "proc.h"
#include "syscall.h"
#include "vm.h"
#include "vma.h"

#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_FIXED_NOREPLACE 0x100000
#define BRK_MAX (1ull << 36)
#define MMAP_FLOOR                                                                     \
	(1ull << 32) /* mmap never goes below 4 GiB: room for brk and non-PIE programs \
		      */

long sys_brk(const uint64_t *a)
{
	uint64_t want = a[0], old = ALIGN_UP(proc.brk, PAGE_SIZE), new = ALIGN_UP(want, PAGE_SIZE);

	if (want < proc.brk_start || want - proc.brk_start > BRK_MAX)
		return (long)proc.brk;
	if (new > old && vm_user_alloc(old, new - old, PROT_READ | PROT_WRITE) < 0)
		return (long)proc.brk;
	if (new < old)
		vm_user_free(new, old - new);
	proc.brk = want;
	return (long)want;
}

long sys_mmap(const uint64_t *a)
{
	uint64_t addr = a[0], len = ALIGN_UP(a[1], PAGE_SIZE);
	int prot = (int)a[2], flags = (int)a[3], err;

	if (!a[1] || len < a[1] || (addr % PAGE_SIZE))
		return -EINVAL;
	if (!(flags & MAP_ANONYMOUS))
		return (int64_t)a[4] < 0 ? -EBADF : -ENODEV;
	if ((flags & (MAP_SHARED | MAP_PRIVATE)) == 0)
		return -EINVAL;
	if (flags & MAP_FIXED_NOREPLACE) {
		if (addr + len < addr || vma_overlaps(addr, addr + len))
			return -EEXIST;
	} else if (!(flags & MAP_FIXED)) {
		/* The hint is ignored: top-down first fit below the stack, as Linux does by
		 * default. */
		if (!(addr = vma_find_free(len, proc.mmap_top, MMAP_FLOOR)))
			return -ENOMEM;
	}
	if ((err = vm_user_alloc(addr, len, prot & 7)) < 0)
		return err;
	return (long)addr;
}

long sys_munmap(const uint64_t *a)
{
	if (a[0] % PAGE_SIZE || !a[1])
		return -EINVAL;
	vm_user_free(a[0], ALIGN_UP(a[1], PAGE_SIZE));
	return 0;
}

long sys_mprotect(const uint64_t *a)
{
	if (a[0] % PAGE_SIZE)
		return -EINVAL;
	return vm_user_protect(a[0], ALIGN_UP(a[1], PAGE_SIZE), (int)a[2] & 7);
}

#define MADV_DONTNEED 4
#define MADV_FREE 8

long sys_madvise(const uint64_t *a)
{
	if (a[0] % PAGE_SIZE)
		return -EINVAL;
	if (a[2] == MADV_DONTNEED || a[2] == MADV_FREE)
		vm_user_discard(a[0], ALIGN_UP(a[1], PAGE_SIZE));
	return 0; /* other advice changes nothing we could do better */
}
