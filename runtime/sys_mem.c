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
#include "fdtable.h"
#include "pmem.h"
#include "ramfs.h"
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

/* File mappings are private copies of a ramfs file: there is no page cache to share. */
static int check_file(int fd, uint64_t off, int prot, int flags)
{
	struct file *f = fd_get(fd);
	struct inode *i = f ? ramfs_inode_of(f) : 0;

	if (!f)
		return -EBADF;
	if (!i || (i->mode & S_IFMT) != S_IFREG)
		return -ENODEV;
	if (off % PAGE_SIZE)
		return -EINVAL;
	if ((flags & MAP_SHARED) && (prot & PROT_WRITE))
		return -ENODEV; /* writes could not reach the file */
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return -EACCES;
	return 0;
}

static int fill_from_file(int fd, uint64_t off, uint64_t addr, uint64_t len, int prot)
{
	struct inode *i = ramfs_inode_of(fd_get(fd));

	for (uint64_t done = 0; done < len && off + done < i->size; done += PAGE_SIZE) {
		uint64_t pa = pmem_alloc(1), n = MIN(PAGE_SIZE, i->size - off - done);
		int err;

		if (!pa)
			return -ENOMEM;
		memcpy(phys_to_virt(pa), i->data + off + done, n);
		if ((err = vm_user_map(addr + done, pa, prot))) {
			pmem_free(pa, 1);
			return err;
		}
	}
	return 0;
}

long sys_mmap(const uint64_t *a)
{
	uint64_t addr = a[0], len = ALIGN_UP(a[1], PAGE_SIZE);
	int prot = (int)a[2], flags = (int)a[3], err;

	if (!a[1] || len < a[1] || (addr % PAGE_SIZE))
		return -EINVAL;
	if (!(flags & MAP_ANONYMOUS) && (err = check_file((int)a[4], a[5], prot, flags)))
		return err;
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
	/* Like Linux's heuristic overcommit: no single mapping beyond all of RAM. */
	if ((prot & 7) && len / PAGE_SIZE > pmem_total_pages())
		return -ENOMEM;
	if ((err = vm_user_alloc(addr, len, prot & 7)) < 0)
		return err;
	if (!(flags & MAP_ANONYMOUS) &&
	    (err = fill_from_file((int)a[4], a[5], addr, len, prot & 7))) {
		vm_user_free(addr, len);
		return err;
	}
	return (long)addr;
}

#define MREMAP_MAYMOVE 1

long sys_mremap(const uint64_t *a)
{
	uint64_t old = a[0], old_len = ALIGN_UP(a[1], PAGE_SIZE),
		 new_len = ALIGN_UP(a[2], PAGE_SIZE);
	const struct vma *v = vma_find(old);
	uint64_t to;
	int prot, err;

	if (old % PAGE_SIZE || !new_len || (a[3] & ~(uint64_t)MREMAP_MAYMOVE))
		return -EINVAL;
	if (!v || v->end < old + old_len)
		return -EFAULT; /* the old range must be one mapping */
	prot = v->prot;
	if (new_len <= old_len) {
		if (new_len < old_len)
			vm_user_free(old + new_len, old_len - new_len);
		return (long)old;
	}
	if (!vma_overlaps(old + old_len, old + new_len) &&
	    vm_user_alloc(old + old_len, new_len - old_len, prot) == 0)
		return (long)old; /* grown in place */
	if (!(a[3] & MREMAP_MAYMOVE))
		return -ENOMEM;
	if (!(to = vma_find_free(new_len, proc.mmap_top, MMAP_FLOOR)))
		return -ENOMEM;
	if ((err = vm_user_alloc(to, new_len, prot)))
		return err;
	vm_user_move(old, to, old_len);
	vm_user_free(old, old_len);
	return (long)to;
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
