// compat: glibc
/* Producer and consumer threads over a pipe: 1 MiB through a 64 KiB buffer, checksummed. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static int fds[2];

static void *producer(void *arg)
{
	unsigned char buf[1000];

	(void)arg;
	for (int i = 0; i < 1048; i++) {
		for (int j = 0; j < 1000; j++)
			buf[j] = (unsigned char)(i + j);
		for (int off = 0; off < 1000;)
			off += (int)write(fds[1], buf + off, 1000 - off);
	}
	close(fds[1]);
	return 0;
}

int main(void)
{
	unsigned char buf[4096];
	unsigned long sum = 0, total = 0;
	pthread_t t;
	ssize_t n;

	pipe(fds);
	pthread_create(&t, 0, producer, 0);
	while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sum = sum * 31 + buf[i];
		total += (unsigned long)n;
	}
	pthread_join(t, 0);
	printf("read %lu bytes until EOF, checksum %lu\n", total, sum);
	return 0;
}
