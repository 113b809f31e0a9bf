/*
 * sys_io.c: file-descriptor syscalls for the console. Until the VFS lands,
 * fds 0, 1 and 2 are the console: stdout and stderr write to COM1, stdin
 * reads as end-of-file (like a service started with </dev/null).
 */
#include "console.h"
#include "errno.h"
#include "lib.h"
#include "syscall.h"
#include "uaccess.h"

#define TIOCGWINSZ 0x5413
#define TCGETS 0x5401
#define S_IFCHR 0020000
#define AT_EMPTY_PATH 0x1000

struct linux_stat {
	uint64_t st_dev, st_ino, st_nlink;
	uint32_t st_mode, st_uid, st_gid, pad0;
	uint64_t st_rdev;
	int64_t st_size, st_blksize, st_blocks;
	int64_t st_atime, st_atime_ns, st_mtime, st_mtime_ns, st_ctime, st_ctime_ns;
	int64_t unused[3];
};

struct iovec {
	uint64_t base, len;
};

static int is_console(uint64_t fd)
{
	return fd <= 2;
}

/* Writes user memory to the console in chunks, so no buffer needs to hold it all. */
static long console_write_user(uint64_t buf, uint64_t len)
{
	char chunk[256];

	for (uint64_t done = 0; done < len;) {
		size_t n = MIN(len - done, sizeof(chunk));

		if (copy_from_user(chunk, buf + done, n))
			return done ? (long)done : -EFAULT;
		console_write(chunk, n);
		done += n;
	}
	return (long)len;
}

long sys_write(const uint64_t *a)
{
	if (!is_console(a[0]))
		return -EBADF;
	return console_write_user(a[1], a[2]);
}

long sys_read(const uint64_t *a)
{
	return a[0] == 0 ? 0 : -EBADF;
}

long sys_writev(const uint64_t *a)
{
	struct iovec iov;
	long total = 0;

	if (!is_console(a[0]))
		return -EBADF;
	if (a[2] > 1024)
		return -EINVAL;
	for (uint64_t i = 0; i < a[2]; i++) {
		long n;

		if (copy_from_user(&iov, a[1] + i * sizeof(iov), sizeof(iov)))
			return total ? total : -EFAULT;
		if ((n = console_write_user(iov.base, iov.len)) < 0)
			return total ? total : n;
		total += n;
	}
	return total;
}

long sys_readv(const uint64_t *a)
{
	return a[0] == 0 ? 0 : -EBADF;
}

long sys_close(const uint64_t *a)
{
	return is_console(a[0]) ? 0 : -EBADF;
}

long sys_lseek(const uint64_t *a)
{
	return is_console(a[0]) ? -ESPIPE : -EBADF;
}

long sys_ioctl(const uint64_t *a)
{
	if (!is_console(a[0]))
		return -EBADF;
	/* The console is a serial log, not an interactive terminal. */
	return -ENOTTY;
}

static long stat_console(uint64_t fd, uint64_t out)
{
	struct linux_stat st = {0};

	if (!is_console(fd))
		return -EBADF;
	st.st_mode = S_IFCHR | 0620;
	st.st_rdev = (4 << 8) | 64; /* ttyS0 */
	st.st_blksize = 1024;
	st.st_nlink = 1;
	return copy_to_user(out, &st, sizeof(st));
}

long sys_fstat(const uint64_t *a)
{
	return stat_console(a[0], a[1]);
}

long sys_newfstatat(const uint64_t *a)
{
	char c;

	if (!(a[3] & AT_EMPTY_PATH) || copy_from_user(&c, a[1], 1) || c)
		return -ENOENT; /* no file system yet */
	return stat_console(a[0], a[2]);
}
