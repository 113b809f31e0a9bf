/*
 * sys_fs.c: file syscalls over the fd table and the ramfs. Data moves
 * between the application and files through a bounce buffer, so file
 * implementations only ever see runtime memory.
 */
#include "errno.h"
#include "fdtable.h"
#include "heap.h"
#include "lib.h"
#include "proc.h"
#include "ramfs.h"
#include "syscall.h"
#include "uaccess.h"
#include "vfs.h"
#include "vm.h"

#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR 0x200
#define AT_EMPTY_PATH 0x1000
#define RENAME_NOREPLACE 1
#define CHUNK 4096
#define IOV_MAX 1024

#define F_DUPFD 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define F_GETLK 5
#define F_SETLK 6
#define F_SETLKW 7
#define F_DUPFD_CLOEXEC 1030
#define FD_CLOEXEC 1
#define FIONREAD 0x541b
#define FIONBIO 0x5421

static int umask_bits = 022;

struct iovec {
	uint64_t base, len;
};

/* ---- data transfer ---- */

static long do_read(struct file *f, uint64_t ubuf, uint64_t len, uint64_t *pos)
{
	char chunk[CHUNK];
	long total = 0;

	if (!f->ops->read)
		return -EINVAL;
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	/* Check the first chunk up front, so data taken from a pipe is never lost to EFAULT. */
	if (!vm_user_ok(ubuf, MIN(len, CHUNK), 1))
		return -EFAULT;
	while ((uint64_t)total < len) {
		size_t want = MIN(len - total, CHUNK);
		long n = f->ops->read(f, chunk, want, pos);

		if (n < 0)
			return total ? total : n;
		if (copy_to_user(ubuf + total, chunk, n))
			return total ? total : -EFAULT;
		total += n;
		if ((size_t)n < want)
			break; /* short read: that is all there is now */
	}
	return total;
}

static long do_write(struct file *f, uint64_t ubuf, uint64_t len, uint64_t *pos)
{
	char chunk[CHUNK];
	long total = 0;

	if (!f->ops->write)
		return -EINVAL;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	while ((uint64_t)total < len) {
		size_t want = MIN(len - total, CHUNK);
		long n;

		if (copy_from_user(chunk, ubuf + total, want))
			return total ? total : -EFAULT;
		n = f->ops->write(f, chunk, want, pos);
		if (n < 0)
			return total ? total : n;
		total += n;
		if ((size_t)n < want)
			break;
	}
	return total;
}

static long vector_io(int write, int fd, uint64_t uiov, uint64_t cnt, uint64_t *pos)
{
	struct file *f = fd_get(fd);
	struct iovec iov;
	long total = 0;

	if (!f)
		return -EBADF;
	if (cnt > IOV_MAX)
		return -EINVAL;
	for (uint64_t i = 0; i < cnt; i++) {
		long n;

		if (copy_from_user(&iov, uiov + i * sizeof(iov), sizeof(iov)))
			return total ? total : -EFAULT;
		if (!iov.len)
			continue;
		n = write ? do_write(f, iov.base, iov.len, pos ? pos : &f->pos)
			  : do_read(f, iov.base, iov.len, pos ? pos : &f->pos);
		if (n < 0)
			return total ? total : n;
		total += n;
		if ((uint64_t)n < iov.len)
			break;
	}
	return total;
}

long sys_read(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);

	return f ? do_read(f, a[1], a[2], &f->pos) : -EBADF;
}

long sys_write(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);

	return f ? do_write(f, a[1], a[2], &f->pos) : -EBADF;
}

long sys_readv(const uint64_t *a)
{
	return vector_io(0, (int)a[0], a[1], a[2], 0);
}

long sys_writev(const uint64_t *a)
{
	return vector_io(1, (int)a[0], a[1], a[2], 0);
}

static int positional(struct file *f, int64_t off)
{
	if (!f)
		return -EBADF;
	if (!f->ops->seekable || !f->ops->seekable(f))
		return -ESPIPE;
	return off < 0 ? -EINVAL : 0;
}

long sys_pread64(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);
	uint64_t pos = a[3];
	int err = positional(f, (int64_t)a[3]);

	return err ? err : do_read(f, a[1], a[2], &pos);
}

long sys_pwrite64(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);
	uint64_t pos = a[3];
	int err = positional(f, (int64_t)a[3]);

	return err ? err : do_write(f, a[1], a[2], &pos);
}

long sys_preadv(const uint64_t *a)
{
	uint64_t pos = a[3];
	int err = positional(fd_get((int)a[0]), (int64_t)a[3]);

	return err ? err : vector_io(0, (int)a[0], a[1], a[2], &pos);
}

long sys_pwritev(const uint64_t *a)
{
	uint64_t pos = a[3];
	int err = positional(fd_get((int)a[0]), (int64_t)a[3]);

	return err ? err : vector_io(1, (int)a[0], a[1], a[2], &pos);
}

long sys_lseek(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);
	struct linux_stat st;
	int64_t off = (int64_t)a[1], base;

	if (!f)
		return -EBADF;
	if (!f->ops->seekable || !f->ops->seekable(f))
		return -ESPIPE;
	switch (a[2]) {
	case 0: base = 0; break;
	case 1: base = (int64_t)f->pos; break;
	case 2:
		if (!f->ops->stat || f->ops->stat(f, &st))
			return -EINVAL;
		base = st.st_size;
		break;
	default: return -EINVAL;
	}
	if (base + off < 0)
		return -EINVAL;
	f->pos = (uint64_t)(base + off);
	return (long)f->pos;
}

/* ---- paths ---- */

/* Copies a user path into a fresh PATH_MAX buffer (kfree it). */
static long get_path(uint64_t upath, char **out)
{
	char *p = kmalloc(PATH_MAX);
	long n;

	if (!p)
		return -ENOMEM;
	n = copy_string_from_user(p, upath, PATH_MAX);
	if (n < 0) {
		kfree(p);
		return n;
	}
	*out = p;
	return n;
}

static long dir_of(int dirfd, struct inode **dir)
{
	struct file *f;

	if (dirfd == AT_FDCWD) {
		*dir = ramfs_cwd();
		return 0;
	}
	if (!(f = fd_get(dirfd)))
		return -EBADF;
	*dir = ramfs_inode_of(f);
	if (!*dir || ((*dir)->mode & S_IFMT) != S_IFDIR)
		return -ENOTDIR;
	return 0;
}

/* Resolves (dirfd, user path); with parent, yields the parent and the last name. */
static long resolve_at(int dirfd, uint64_t upath, int parent, struct inode **out, char *last)
{
	struct inode *dir;
	char *path;
	long err = get_path(upath, &path);

	if (err < 0)
		return err;
	if ((err = path[0] == '/' ? 0 : dir_of(dirfd, &dir)) == 0)
		err = ramfs_resolve(path[0] == '/' ? 0 : dir, path, parent, out, last);
	kfree(path);
	return err;
}

static long do_open(int dirfd, uint64_t upath, int flags, uint32_t mode)
{
	char last[NAME_MAX + 1];
	struct inode *dir, *i;
	struct file *f;
	int err;

	if ((err = (int)resolve_at(dirfd, upath, 1, &dir, last)))
		return err;
	i = ramfs_lookup_child(dir, last);
	if (i && (flags & O_CREAT) && (flags & O_EXCL))
		return -EEXIST;
	if (!i) {
		if (!(flags & O_CREAT))
			return -ENOENT;
		if (!(i = ramfs_create(dir, last, S_IFREG | (mode & 07777 & ~umask_bits), &err)))
			return err;
	}
	if ((err = ramfs_open(i, flags, &f)))
		return err;
	return fd_install(f, 0, flags & O_CLOEXEC);
}

long sys_open(const uint64_t *a)
{
	return do_open(AT_FDCWD, a[0], (int)a[1], (uint32_t)a[2]);
}

long sys_openat(const uint64_t *a)
{
	return do_open((int)a[0], a[1], (int)a[2], (uint32_t)a[3]);
}

long sys_creat(const uint64_t *a)
{
	return do_open(AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, (uint32_t)a[1]);
}

long sys_close(const uint64_t *a)
{
	return fd_close((int)a[0]);
}

static long stat_to_user(struct file *f, struct inode *i, uint64_t ust)
{
	struct linux_stat st;

	if (i)
		ramfs_stat(i, &st);
	else if (!f->ops->stat || f->ops->stat(f, &st))
		return -EINVAL;
	return copy_to_user(ust, &st, sizeof(st));
}

long sys_fstat(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);

	return f ? stat_to_user(f, 0, a[1]) : -EBADF;
}

static long stat_at(int dirfd, uint64_t upath, uint64_t ust, int flags)
{
	struct inode *i;
	char c;
	long err;

	if ((flags & AT_EMPTY_PATH) && !copy_from_user(&c, upath, 1) && !c)
		return dirfd == AT_FDCWD ? stat_to_user(0, ramfs_cwd(), ust)
		       : fd_get(dirfd)	 ? stat_to_user(fd_get(dirfd), 0, ust)
					 : -EBADF;
	if ((err = resolve_at(dirfd, upath, 0, &i, 0)))
		return err;
	return stat_to_user(0, i, ust);
}

long sys_newfstatat(const uint64_t *a)
{
	return stat_at((int)a[0], a[1], a[2], (int)a[3]);
}

long sys_stat(const uint64_t *a)
{
	return stat_at(AT_FDCWD, a[0], a[1], 0);
}

long sys_lstat(const uint64_t *a)
{
	return stat_at(AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW);
}

struct statx_ts {
	int64_t sec;
	uint32_t nsec;
	int32_t pad;
};

struct statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, pad0;
	uint64_t ino, size, blocks, attributes_mask;
	struct statx_ts atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare[14];
};

long sys_statx(const uint64_t *a)
{
	struct linux_stat st;
	struct statx sx = {0};
	struct file *f = fd_get((int)a[0]);
	struct inode *i = 0;
	char c;
	long err;

	if (((int)a[2] & AT_EMPTY_PATH) && !copy_from_user(&c, a[1], 1) && !c) {
		if (!f)
			return -EBADF;
		if (!(i = ramfs_inode_of(f)) && (!f->ops->stat || f->ops->stat(f, &st)))
			return -EINVAL;
	} else if ((err = resolve_at((int)a[0], a[1], 0, &i, 0))) {
		return err;
	}
	if (i)
		ramfs_stat(i, &st);
	sx.mask = 0x7ff; /* STATX_BASIC_STATS */
	sx.blksize = (uint32_t)st.st_blksize;
	sx.nlink = (uint32_t)st.st_nlink;
	sx.mode = (uint16_t)st.st_mode;
	sx.ino = st.st_ino;
	sx.size = (uint64_t)st.st_size;
	sx.blocks = (uint64_t)st.st_blocks;
	sx.atime = sx.ctime = sx.mtime =
		(struct statx_ts){st.st_mtime, (uint32_t)st.st_mtime_ns, 0};
	sx.rdev_major = (uint32_t)(st.st_rdev >> 8);
	sx.rdev_minor = (uint32_t)(st.st_rdev & 0xff);
	sx.dev_minor = (uint32_t)st.st_dev;
	return copy_to_user(a[4], &sx, sizeof(sx));
}

long sys_getdents64(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);
	uint64_t len = MIN(a[2], 65536);
	char *buf;
	long n;

	if (!f)
		return -EBADF;
	if (!f->ops->getdents)
		return -ENOTDIR;
	if (!(buf = kmalloc(len)))
		return -ENOMEM;
	n = f->ops->getdents(f, buf, len, &f->pos);
	if (n > 0 && copy_to_user(a[1], buf, (size_t)n))
		n = -EFAULT;
	kfree(buf);
	return n;
}

static long mkdir_at(int dirfd, uint64_t upath, uint32_t mode)
{
	char last[NAME_MAX + 1];
	struct inode *dir;
	int err;

	if ((err = (int)resolve_at(dirfd, upath, 1, &dir, last)))
		return err;
	if (!strcmp(last, ".") || !strcmp(last, ".."))
		return -EEXIST;
	return ramfs_create(dir, last, S_IFDIR | (mode & 07777 & ~umask_bits), &err) ? 0 : err;
}

long sys_mkdir(const uint64_t *a)
{
	return mkdir_at(AT_FDCWD, a[0], (uint32_t)a[1]);
}

long sys_mkdirat(const uint64_t *a)
{
	return mkdir_at((int)a[0], a[1], (uint32_t)a[2]);
}

static long unlink_at(int dirfd, uint64_t upath, int flags)
{
	char last[NAME_MAX + 1];
	struct inode *dir;
	int err;

	if (flags & ~AT_REMOVEDIR)
		return -EINVAL;
	if ((err = (int)resolve_at(dirfd, upath, 1, &dir, last)))
		return err;
	return ramfs_unlink(dir, last, flags & AT_REMOVEDIR);
}

long sys_unlink(const uint64_t *a)
{
	return unlink_at(AT_FDCWD, a[0], 0);
}

long sys_rmdir(const uint64_t *a)
{
	return unlink_at(AT_FDCWD, a[0], AT_REMOVEDIR);
}

long sys_unlinkat(const uint64_t *a)
{
	return unlink_at((int)a[0], a[1], (int)a[2]);
}

static long rename_at(int odfd, uint64_t oldp, int ndfd, uint64_t newp, unsigned flags)
{
	char olast[NAME_MAX + 1], nlast[NAME_MAX + 1];
	struct inode *odir, *ndir;
	int err;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	if ((err = (int)resolve_at(odfd, oldp, 1, &odir, olast)) ||
	    (err = (int)resolve_at(ndfd, newp, 1, &ndir, nlast)))
		return err;
	return ramfs_rename(odir, olast, ndir, nlast, flags & RENAME_NOREPLACE);
}

long sys_rename(const uint64_t *a)
{
	return rename_at(AT_FDCWD, a[0], AT_FDCWD, a[1], 0);
}

long sys_renameat(const uint64_t *a)
{
	return rename_at((int)a[0], a[1], (int)a[2], a[3], 0);
}

long sys_renameat2(const uint64_t *a)
{
	return rename_at((int)a[0], a[1], (int)a[2], a[3], (unsigned)a[4]);
}

long sys_ftruncate(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);

	if (!f)
		return -EBADF;
	if ((int64_t)a[1] < 0 || !f->ops->truncate || (f->flags & O_ACCMODE) == O_RDONLY)
		return -EINVAL;
	return f->ops->truncate(f, a[1]);
}

long sys_truncate(const uint64_t *a)
{
	struct inode *i;
	long err;

	if ((int64_t)a[1] < 0)
		return -EINVAL;
	if ((err = resolve_at(AT_FDCWD, a[0], 0, &i, 0)))
		return err;
	return ramfs_truncate(i, a[1]);
}

long sys_fsync(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);

	if (!f)
		return -EBADF;
	return f->ops->fsync ? f->ops->fsync(f) : -EINVAL;
}

long sys_fdatasync(const uint64_t *a)
{
	return sys_fsync(a);
}

/* ---- descriptors ---- */

long sys_dup(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);

	if (!f)
		return -EBADF;
	file_get(f);
	return fd_install(f, 0, 0);
}

long sys_dup2(const uint64_t *a)
{
	if (!fd_get((int)a[0]))
		return -EBADF;
	return fd_dup_to((int)a[0], (int)a[1], 0);
}

long sys_dup3(const uint64_t *a)
{
	if (a[0] == a[1] || (a[2] & ~(uint64_t)O_CLOEXEC))
		return -EINVAL;
	return fd_dup_to((int)a[0], (int)a[1], a[2] & O_CLOEXEC);
}

struct flock {
	int16_t type, whence;
	int64_t start, len;
	int32_t pid;
};

long sys_fcntl(const uint64_t *a)
{
	int fd = (int)a[0];
	struct file *f = fd_get(fd);
	struct flock fl;
	const int settable = O_APPEND | O_NONBLOCK;

	if (!f)
		return -EBADF;
	switch (a[1]) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if (a[2] >= FD_MAX)
			return -EINVAL;
		file_get(f);
		return fd_install(f, (int)a[2], a[1] == F_DUPFD_CLOEXEC);
	case F_GETFD: return fd_get_cloexec(fd) ? FD_CLOEXEC : 0;
	case F_SETFD: return fd_set_cloexec(fd, a[2] & FD_CLOEXEC);
	case F_GETFL: return f->flags;
	case F_SETFL: f->flags = (f->flags & ~settable) | ((int)a[2] & settable); return 0;
	case F_GETLK:
		/* One process: no other owner can hold a lock. */
		if (copy_from_user(&fl, a[2], sizeof(fl)))
			return -EFAULT;
		fl.type = 2; /* F_UNLCK */
		return copy_to_user(a[2], &fl, sizeof(fl));
	case F_SETLK:
	case F_SETLKW: return 0;
	default: return -EINVAL;
	}
}

long sys_ioctl(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);
	int on;

	if (!f)
		return -EBADF;
	if (a[1] == FIONBIO) {
		if (copy_from_user(&on, a[2], sizeof(on)))
			return -EFAULT;
		f->flags = on ? f->flags | O_NONBLOCK : f->flags & ~O_NONBLOCK;
		return 0;
	}
	if (f->ops->ioctl)
		return f->ops->ioctl(f, (unsigned long)a[1], a[2]);
	if (a[1] == FIONREAD && ramfs_inode_of(f)) {
		struct inode *i = ramfs_inode_of(f);
		int n = (int)(i->size > f->pos ? MIN(i->size - f->pos, 0x7fffffff) : 0);

		return copy_to_user(a[2], &n, sizeof(n));
	}
	return -ENOTTY;
}

/* ---- working directory, permissions, links ---- */

long sys_getcwd(const uint64_t *a)
{
	char *buf = kmalloc(PATH_MAX);
	int n;

	if (!buf)
		return -ENOMEM;
	n = ramfs_path_of(ramfs_cwd(), buf, MIN(a[1], PATH_MAX));
	if (n > 0 && copy_to_user(a[0], buf, (size_t)n))
		n = -EFAULT;
	kfree(buf);
	return n;
}

static long chdir_to(struct inode *i)
{
	if ((i->mode & S_IFMT) != S_IFDIR)
		return -ENOTDIR;
	ramfs_set_cwd(i);
	return 0;
}

long sys_chdir(const uint64_t *a)
{
	struct inode *i;
	long err = resolve_at(AT_FDCWD, a[0], 0, &i, 0);

	return err ? err : chdir_to(i);
}

long sys_fchdir(const uint64_t *a)
{
	struct file *f = fd_get((int)a[0]);
	struct inode *i = f ? ramfs_inode_of(f) : 0;

	return f ? (i ? chdir_to(i) : -ENOTDIR) : -EBADF;
}

long sys_umask(const uint64_t *a)
{
	int old = umask_bits;

	umask_bits = (int)(a[0] & 0777);
	return old;
}

static long access_at(int dirfd, uint64_t upath, int mode)
{
	struct inode *i;
	long err;

	if (mode & ~7)
		return -EINVAL;
	if ((err = resolve_at(dirfd, upath, 0, &i, 0)))
		return err;
	/* We run as root: only execute needs a mode bit. */
	if ((mode & 1) && !(i->mode & 0111) && (i->mode & S_IFMT) != S_IFDIR)
		return -EACCES;
	return 0;
}

long sys_access(const uint64_t *a)
{
	return access_at(AT_FDCWD, a[0], (int)a[1]);
}

long sys_faccessat(const uint64_t *a)
{
	return access_at((int)a[0], a[1], (int)a[2]);
}

long sys_faccessat2(const uint64_t *a)
{
	return access_at((int)a[0], a[1], (int)a[2]);
}

static long readlink_at(int dirfd, uint64_t path, uint64_t buf, uint64_t size)
{
	char p[32];
	long n = copy_string_from_user(p, path, sizeof(p));
	size_t len = strlen(proc.exe);
	struct inode *i;

	if ((int64_t)size <= 0)
		return -EINVAL;
	if (n >= 0 && !strcmp(p, "/proc/self/exe")) {
		len = MIN(len, size);
		return copy_to_user(buf, proc.exe, len) ? -EFAULT : (long)len;
	}
	/* There are no symbolic links in the ramfs: an existing name is not one. */
	n = resolve_at(dirfd, path, 0, &i, 0);
	return n ? n : -EINVAL;
}

long sys_readlink(const uint64_t *a)
{
	return readlink_at(AT_FDCWD, a[0], a[1], a[2]);
}

long sys_readlinkat(const uint64_t *a)
{
	return readlink_at((int)a[0], a[1], a[2], a[3]);
}
