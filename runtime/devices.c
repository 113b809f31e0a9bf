/*
 * devices.c: the console is COM1 (stdin reads as end-of-file, as for a
 * service started with </dev/null; stdout and stderr are unbuffered so
 * nothing is lost at a crash); the others behave as on Linux.
 */
#include "devices.h"

#include "console.h"
#include "errno.h"
#include "fdtable.h"
#include "lib.h"
#include "random.h"
#include "ramfs.h"

#define TIOCGWINSZ 0x5413
#define TCGETS 0x5401

static long eof_read(struct file *f, void *buf, size_t len, uint64_t *pos)
{
	(void)f, (void)buf, (void)len, (void)pos;
	return 0;
}

static long console_write_op(struct file *f, const void *buf, size_t len, uint64_t *pos)
{
	(void)f, (void)pos;
	console_write(buf, len);
	return (long)len;
}

static int chr_stat(struct file *f, struct linux_stat *st)
{
	*st = (struct linux_stat){0};
	st->st_mode = S_IFCHR | 0666;
	st->st_rdev = (uint64_t)(uintptr_t)f->ops & 0xffff;
	st->st_blksize = 4096;
	st->st_nlink = 1;
	return 0;
}

static long console_ioctl(struct file *f, unsigned long cmd, uint64_t arg)
{
	(void)f, (void)cmd, (void)arg;
	return -ENOTTY; /* a serial log, not an interactive terminal */
}

static unsigned always_ready(struct file *f)
{
	(void)f;
	return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
}

static long null_write(struct file *f, const void *buf, size_t len, uint64_t *pos)
{
	(void)f, (void)buf, (void)pos;
	return (long)len;
}

static long zero_read(struct file *f, void *buf, size_t len, uint64_t *pos)
{
	(void)f, (void)pos;
	memset(buf, 0, len);
	return (long)len;
}

static long random_read(struct file *f, void *buf, size_t len, uint64_t *pos)
{
	(void)f, (void)pos;
	random_fill(buf, len);
	return (long)len;
}

static const struct file_ops console_ops = {
	.read = eof_read,
	.write = console_write_op,
	.stat = chr_stat,
	.ioctl = console_ioctl,
	.poll = always_ready,
};

static const struct file_ops null_ops = {
	.read = eof_read,
	.write = null_write,
	.stat = chr_stat,
	.poll = always_ready,
};

static const struct file_ops zero_ops = {
	.read = zero_read,
	.write = null_write,
	.stat = chr_stat,
	.poll = always_ready,
};

static const struct file_ops random_ops = {
	.read = random_read,
	.write = null_write, /* accepted and ignored, as for unprivileged writers on Linux */
	.stat = chr_stat,
	.poll = always_ready,
};

void devices_init(void)
{
	ramfs_add_device("console", &console_ops);
	ramfs_add_device("tty", &console_ops);
	ramfs_add_device("null", &null_ops);
	ramfs_add_device("zero", &zero_ops);
	ramfs_add_device("random", &random_ops);
	ramfs_add_device("urandom", &random_ops);
	for (int fd = 0; fd < 3; fd++) {
		struct file *f = file_new(&console_ops, 0, fd == 0 ? O_RDONLY : O_WRONLY);

		if (f)
			fd_install(f, fd, 0);
	}
}
