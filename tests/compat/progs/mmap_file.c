// compat: glibc
/* A private file mapping sees the file's bytes; writes to it stay private; offsets work. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	const char *path = "/tmp/ukd-compat-mmap.bin";
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	char buf[8200], check[4];

	for (int i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	write(fd, buf, sizeof(buf));
	char *m = mmap(0, sizeof(buf), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("mapped: %s, first bytes %.5s, byte 8199 %c\n", m != MAP_FAILED ? "yes" : "no", m,
	       m[8199]);
	m[0] = 'Z';
	pread(fd, check, 1, 0);
	printf("private write not in file: %s\n", check[0] == 'a' ? "yes" : "no");
	char *off = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);
	printf("offset 4096 starts with %c\n", off[0]);
	printf("past EOF in last page is zero: %s\n", off[4096 - 1] == buf[8191] ? "yes" : "no");
	printf("unaligned offset: %s\n",
	       mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 100) == MAP_FAILED ? "EINVAL" : "mapped");
	munmap(m, sizeof(buf));
	munmap(off, 4096);
	close(fd);
	unlink(path);
	return 0;
}
