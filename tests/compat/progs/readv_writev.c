// compat: glibc
/* Scatter/gather I/O on a file: writev, readv, preadv, pwritev. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

int main(void)
{
	const char *path = "/tmp/ukd-compat-iov.txt";
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	char a[6] = {0}, b[8] = {0};
	struct iovec w[3] = {{"alpha ", 6}, {"beta ", 5}, {"gamma\n", 6}};
	struct iovec r[2] = {{a, 5}, {b, 7}};

	printf("writev: %zd\n", writev(fd, w, 3));
	lseek(fd, 0, SEEK_SET);
	printf("readv: %zd [%s] [%s]\n", readv(fd, r, 2), a, b);
	printf("pwritev: %zd\n", pwritev(fd, w, 1, 100));
	printf("preadv: %zd [%s]\n", preadv(fd, r, 1, 100), a);
	printf("offset unchanged: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
	unlink(path);
	return 0;
}
