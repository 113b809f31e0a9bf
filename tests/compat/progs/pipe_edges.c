// compat: glibc
/* Pipe edge cases: non-blocking EAGAIN, EOF after close, EPIPE with SIGPIPE ignored, FIONREAD. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int p[2], n = 0;
	char c, two[2];

	pipe2(p, O_NONBLOCK);
	printf("empty read: %zd %s\n", read(p[0], &c, 1), errno == EAGAIN ? "EAGAIN" : "?");
	write(p[1], "xyz", 3);
	ioctl(p[0], FIONREAD, &n);
	printf("FIONREAD: %d\n", n);
	close(p[1]);
	printf("read after writer closed: %zd\n", read(p[0], &c, 1));
	read(p[0], two, 2);
	printf("then EOF: %zd\n", read(p[0], &c, 1));
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	pipe(p);
	close(p[0]);
	printf("write with no reader: %zd %s\n", write(p[1], "x", 1),
	       errno == EPIPE ? "EPIPE" : "?");
	pipe(p);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	long total = 0;
	char big[4096] = {0};
	for (;;) {
		ssize_t w = write(p[1], big, sizeof(big));
		if (w < 0)
			break;
		total += w;
	}
	printf("pipe capacity %ld, then %s\n", total, errno == EAGAIN ? "EAGAIN" : "?");
	return 0;
}
