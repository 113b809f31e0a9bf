// compat: glibc
/* dup/dup2/dup3 share the offset; fcntl flags and FD_CLOEXEC; lowest free fd is reused. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	const char *path = "/tmp/ukd-compat-dup.txt";
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600), d, flags;
	char buf[8] = {0};

	write(fd, "abcdefgh", 8);
	lseek(fd, 0, SEEK_SET);
	d = dup(fd);
	read(d, buf, 3);
	printf("dup shares offset: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
	printf("dup2 to 50: %d\n", dup2(fd, 50));
	printf("dup3 with O_CLOEXEC to 51: %d, cloexec %d\n", dup3(fd, 51, O_CLOEXEC),
	       fcntl(51, F_GETFD) & FD_CLOEXEC);
	printf("F_DUPFD >= 40: %d\n", fcntl(fd, F_DUPFD, 40));
	flags = fcntl(fd, F_GETFL);
	printf("access mode RDWR: %d\n", (flags & O_ACCMODE) == O_RDWR);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK | O_APPEND);
	printf("O_NONBLOCK set: %d, O_APPEND set: %d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK),
	       !!(fcntl(fd, F_GETFL) & O_APPEND));
	close(d);
	printf("lowest free fd reused: %d\n", dup(fd) == d);
	printf("close bad fd: %d\n", close(999));
	printf("fcntl bad fd: %d\n", fcntl(999, F_GETFD));
	unlink(path);
	return 0;
}
