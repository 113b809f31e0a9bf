// compat: glibc
/* Create, write, read back, append, seek, truncate, stat and unlink a file in /tmp. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	const char *path = "/tmp/ukd-compat-files_basic.txt";
	char buf[64] = {0};
	struct stat st;
	int fd;

	unlink(path);
	fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0640);
	printf("open O_CREAT|O_EXCL: %s\n", fd >= 0 ? "ok" : "failed");
	printf("write: %zd\n", write(fd, "hello, file\n", 12));
	printf("lseek to 7: %ld\n", (long)lseek(fd, 7, SEEK_SET));
	printf("read: %zd \"%.5s\"\n", read(fd, buf, 5), buf);
	printf("pwrite at 20: %zd\n", pwrite(fd, "gap", 3, 20));
	fstat(fd, &st);
	printf("size %ld, regular %d, mode %o\n", (long)st.st_size, S_ISREG(st.st_mode),
	       st.st_mode & 0777);
	memset(buf, 'x', sizeof(buf));
	printf("pread hole: %zd, byte 12 is zero: %s\n", pread(fd, buf, 23, 0),
	       buf[12] == 0 ? "yes" : "no");
	close(fd);
	printf("open O_EXCL again: %s\n",
	       open(path, O_CREAT | O_EXCL | O_RDWR, 0640) < 0 ? "EEXIST" : "opened");
	fd = open(path, O_WRONLY | O_APPEND);
	write(fd, "END", 3);
	close(fd);
	stat(path, &st);
	printf("after append size %ld\n", (long)st.st_size);
	printf("truncate to 5: %d\n", truncate(path, 5));
	stat(path, &st);
	printf("size now %ld\n", (long)st.st_size);
	fd = open(path, O_RDWR | O_TRUNC);
	fstat(fd, &st);
	printf("O_TRUNC size %ld\n", (long)st.st_size);
	close(fd);
	printf("unlink: %d, stat after: %d\n", unlink(path), stat(path, &st));
	return 0;
}
