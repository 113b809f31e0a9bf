/*
 * pipe.c: pipes as 64 KiB ring buffers. Readers and writers block through
 * vfs_wait (so poll/epoll see the same notifications); PIPE_BUF-sized
 * writes are atomic.
 */
#include "errno.h"
#include "fdtable.h"
#include "heap.h"
#include "lib.h"
#include "proc.h"
#include "signal.h"
#include "syscall.h"
#include "uaccess.h"
#include "vfs.h"

#define PIPE_SIZE 65536
#define PIPE_BUF 4096
#define FIONREAD 0x541b

struct pipe {
	uint8_t *buf;
	uint32_t head, count;
	int readers, writers;
	struct file *ends[2]; /* read end, write end (cleared on release) */
};

/* Both ends' readiness changes together: edge-triggered epoll watches either. */
static void notify_ends(struct pipe *p)
{
	if (p->ends[0])
		p->ends[0]->seq++;
	if (p->ends[1])
		p->ends[1]->seq++;
	vfs_notify(0);
}

static long pipe_read(struct file *f, void *dst, size_t len, uint64_t *pos)
{
	struct pipe *p = f->priv;
	size_t n;

	(void)pos;
	while (!p->count) {
		if (!p->writers)
			return 0;
		if (f->flags & O_NONBLOCK)
			return -EAGAIN;
		if (vfs_wait(0) == -EINTR)
			return -ERESTARTSYS;
	}
	n = MIN(len, p->count);
	for (size_t i = 0; i < n; i++)
		((uint8_t *)dst)[i] = p->buf[(p->head + i) % PIPE_SIZE];
	p->head = (uint32_t)((p->head + n) % PIPE_SIZE);
	p->count -= (uint32_t)n;
	notify_ends(p);
	return (long)n;
}

static long pipe_write(struct file *f, const void *src, size_t len, uint64_t *pos)
{
	struct pipe *p = f->priv;
	size_t done = 0;

	(void)pos;
	while (done < len) {
		size_t room = PIPE_SIZE - p->count, n;

		if (!p->readers) {
			if (!done)
				signal_send(sched_current(), SIGPIPE); /* fatal unless handled */
			return done ? (long)done : -EPIPE;
		}
		/* Atomic up to PIPE_BUF: wait for room for all of a small write. */
		if (!room || (len - done <= PIPE_BUF && room < len - done)) {
			if (f->flags & O_NONBLOCK)
				return done ? (long)done : -EAGAIN;
			if (vfs_wait(0) == -EINTR)
				return done ? (long)done : -ERESTARTSYS;
			continue;
		}
		n = MIN(room, len - done);
		for (size_t i = 0; i < n; i++)
			p->buf[(p->head + p->count + i) % PIPE_SIZE] =
				((const uint8_t *)src)[done + i];
		p->count += (uint32_t)n;
		done += n;
		notify_ends(p);
	}
	return (long)done;
}

static unsigned pipe_poll(struct file *f)
{
	struct pipe *p = f->priv;
	unsigned ev = 0;

	if ((f->flags & O_ACCMODE) == O_RDONLY) {
		if (p->count)
			ev |= POLLIN | POLLRDNORM;
		if (!p->writers)
			ev |= POLLHUP;
	} else {
		if (p->count < PIPE_SIZE)
			ev |= POLLOUT | POLLWRNORM;
		if (!p->readers)
			ev |= POLLERR;
	}
	return ev;
}

static int pipe_stat(struct file *f, struct linux_stat *st)
{
	*st = (struct linux_stat){0};
	st->st_mode = S_IFIFO | 0600;
	st->st_ino = (uint64_t)(uintptr_t)f->priv & 0xffffff;
	st->st_nlink = 1;
	st->st_blksize = 4096;
	return 0;
}

static long pipe_ioctl(struct file *f, unsigned long cmd, uint64_t arg)
{
	int n = (int)((struct pipe *)f->priv)->count;

	if (cmd != FIONREAD)
		return -ENOTTY;
	return copy_to_user(arg, &n, sizeof(n));
}

static void pipe_release(struct file *f)
{
	struct pipe *p = f->priv;

	if ((f->flags & O_ACCMODE) == O_RDONLY)
		p->readers--, p->ends[0] = 0;
	else
		p->writers--, p->ends[1] = 0;
	notify_ends(p); /* the other end may now see EOF or EPIPE */
	if (!p->readers && !p->writers) {
		kfree(p->buf);
		kfree(p);
	}
}

static const struct file_ops pipe_ops = {
	.read = pipe_read,
	.write = pipe_write,
	.stat = pipe_stat,
	.ioctl = pipe_ioctl,
	.poll = pipe_poll,
	.release = pipe_release,
};

long sys_pipe2(const uint64_t *a)
{
	int fds[2], flags = (int)a[1];
	struct file *r, *w;
	struct pipe *p;

	if (flags & ~(O_NONBLOCK | O_CLOEXEC))
		return -EINVAL;
	if (!(p = kmalloc(sizeof(*p))) || !(p->buf = kmalloc(PIPE_SIZE))) { /* kmalloc zeroes */
		kfree(p);
		return -ENOMEM;
	}
	p->readers = p->writers = 1;
	if (!(r = file_new(&pipe_ops, p, O_RDONLY | (flags & O_NONBLOCK)))) {
		kfree(p->buf);
		kfree(p);
		return -ENOMEM;
	}
	if (!(w = file_new(&pipe_ops, p, O_WRONLY | (flags & O_NONBLOCK)))) {
		p->writers = 0;
		file_put(r); /* frees the pipe with it */
		return -ENOMEM;
	}
	p->ends[0] = r;
	p->ends[1] = w;
	if ((fds[0] = fd_install(r, 0, flags & O_CLOEXEC)) < 0) {
		file_put(w);
		return fds[0];
	}
	if ((fds[1] = fd_install(w, 0, flags & O_CLOEXEC)) < 0) {
		fd_close(fds[0]);
		return fds[1];
	}
	if (copy_to_user(a[0], fds, sizeof(fds))) {
		fd_close(fds[0]);
		fd_close(fds[1]);
		return -EFAULT;
	}
	return 0;
}

long sys_pipe(const uint64_t *a)
{
	uint64_t args[6] = {a[0], 0};

	return sys_pipe2(args);
}
