/* fdtable.c: a fixed array; FD_MAX matches RLIMIT_NOFILE's hard limit. */
#include "fdtable.h"

#include "errno.h"

static struct file *files[FD_MAX];
static unsigned char cloexec[FD_MAX];
static int nopen;

int fd_install(struct file *f, int min, int ce)
{
	for (int fd = min < 0 ? 0 : min; fd < FD_MAX; fd++) {
		if (files[fd])
			continue;
		files[fd] = f;
		cloexec[fd] = !!ce;
		nopen++;
		return fd;
	}
	file_put(f);
	return -EMFILE;
}

struct file *fd_get(int fd)
{
	return fd >= 0 && fd < FD_MAX ? files[fd] : 0;
}

int fd_close(int fd)
{
	struct file *f = fd_get(fd);

	if (!f)
		return -EBADF;
	files[fd] = 0;
	nopen--;
	file_put(f);
	return 0;
}

int fd_dup_to(int oldfd, int newfd, int ce)
{
	struct file *f = fd_get(oldfd);

	if (!f || newfd < 0 || newfd >= FD_MAX)
		return -EBADF;
	if (oldfd == newfd)
		return newfd;
	file_get(f);
	if (files[newfd])
		fd_close(newfd);
	files[newfd] = f;
	cloexec[newfd] = !!ce;
	nopen++;
	return newfd;
}

int fd_get_cloexec(int fd)
{
	return fd_get(fd) ? cloexec[fd] : -EBADF;
}

int fd_set_cloexec(int fd, int on)
{
	if (!fd_get(fd))
		return -EBADF;
	cloexec[fd] = !!on;
	return 0;
}

int fd_count(void)
{
	return nopen;
}
