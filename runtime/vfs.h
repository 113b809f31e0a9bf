/*
 * vfs.h: files. An open file is a struct file with an ops table (what kind
 * of thing it is: console, ramfs file or directory, device, pipe, eventfd,
 * timerfd, epoll, later sockets); the fd table (fdtable.h) maps numbers to
 * files. Path names resolve in the ramfs (ramfs.h), which also holds the
 * device nodes.
 */
#ifndef VFS_H
#define VFS_H

#include <stddef.h>
#include <stdint.h>

#include "sched.h"

/* open flags (Linux values) */
#define O_ACCMODE 3
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_EXCL 0200
#define O_NOCTTY 0400
#define O_TRUNC 01000
#define O_APPEND 02000
#define O_NONBLOCK 04000
#define O_DIRECTORY 0200000
#define O_NOFOLLOW 0400000
#define O_CLOEXEC 02000000
#define O_PATH 010000000

/* poll events (Linux values) */
#define POLLIN 0x001
#define POLLPRI 0x002
#define POLLOUT 0x004
#define POLLERR 0x008
#define POLLHUP 0x010
#define POLLNVAL 0x020
#define POLLRDNORM 0x040
#define POLLWRNORM 0x100
#define POLLRDHUP 0x2000

#define S_IFMT 0170000
#define S_IFIFO 0010000
#define S_IFCHR 0020000
#define S_IFDIR 0040000
#define S_IFBLK 0060000
#define S_IFREG 0100000
#define S_IFLNK 0120000
#define S_IFSOCK 0140000

struct linux_stat {
	uint64_t st_dev, st_ino, st_nlink;
	uint32_t st_mode, st_uid, st_gid, pad0;
	uint64_t st_rdev;
	int64_t st_size, st_blksize, st_blocks;
	int64_t st_atime, st_atime_ns, st_mtime, st_mtime_ns, st_ctime, st_ctime_ns;
	int64_t unused[3];
};

struct file;

/* Every member is optional; a missing one gives the Linux error for "not supported here". */
struct file_ops {
	/* Byte I/O at *pos (the file's offset, or a pread/pwrite offset); buffers are runtime
	 * memory. */
	long (*read)(struct file *f, void *buf, size_t len, uint64_t *pos);
	long (*write)(struct file *f, const void *buf, size_t len, uint64_t *pos);
	int (*stat)(struct file *f, struct linux_stat *st);
	long (*ioctl)(struct file *f, unsigned long cmd, uint64_t arg);
	/* Current readiness (POLLIN/POLLOUT/POLLHUP...), never blocking. */
	unsigned (*poll)(struct file *f);
	/* For poll-style waits: the TSC time at which readiness will change by itself (timerfd). */
	uint64_t (*deadline)(struct file *f);
	int (*truncate)(struct file *f, uint64_t len);
	/* Directory listing: fills struct linux_dirent64 records from index *pos. */
	long (*getdents)(struct file *f, void *buf, size_t len, uint64_t *pos);
	int (*seekable)(struct file *f);
	int (*fsync)(struct file *f);
	void (*release)(struct file *f);
};

struct file {
	const struct file_ops *ops;
	int refs;
	int flags;    /* O_ACCMODE | O_APPEND | O_NONBLOCK ... */
	uint64_t pos; /* shared by dup'ed descriptors, as on Linux */
	void *priv;   /* the inode, pipe, eventfd... */
	uint64_t seq; /* bumped on every readiness change (edge-triggered epoll) */
};

struct file *file_new(const struct file_ops *ops, void *priv, int flags);
void file_get(struct file *f);
void file_put(struct file *f);

/*
 * Readiness changed somewhere: every thread blocked in poll/select/epoll
 * (or in a blocking read/write that waits via vfs_wait) looks again.
 */
void vfs_notify(struct file *f);
/*
 * Blocks the caller until some vfs_notify or until deadline (TSC; 0 none).
 * Returns 0 or -ETIMEDOUT. Callers re-check their condition in a loop.
 */
int vfs_wait(uint64_t deadline);

#endif
