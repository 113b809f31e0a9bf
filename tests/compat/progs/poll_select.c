// compat: glibc
/* poll and select on pipes: timeouts, readiness, POLLHUP, POLLNVAL. */
#include <poll.h>
#include <stdio.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static long ms_since(struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(void)
{
	int p[2];
	struct pollfd pfd[3];
	struct timespec t0;
	fd_set rd, wr;
	struct timeval tv = {0, 50000};

	pipe(p);
	pfd[0] = (struct pollfd){p[0], POLLIN, 0};
	pfd[1] = (struct pollfd){p[1], POLLOUT, 0};
	pfd[2] = (struct pollfd){77, POLLIN, 0};
	printf("poll: %d, revents %x %x %x\n", poll(pfd, 3, 0), pfd[0].revents, pfd[1].revents,
	       pfd[2].revents);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	printf("poll timeout: %d\n", poll(pfd, 1, 60));
	long el = ms_since(&t0);
	printf("waited about 60 ms: %s\n", el >= 55 && el < 2000 ? "yes" : "no");
	write(p[1], "a", 1);
	printf("poll readable: %d revents %x\n", poll(pfd, 1, -1), pfd[0].revents);
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(p[0], &rd);
	FD_SET(p[1], &wr);
	printf("select: %d, read set %d, write set %d\n", select(p[1] + 1, &rd, &wr, 0, &tv),
	       FD_ISSET(p[0], &rd), FD_ISSET(p[1], &wr));
	close(p[1]);
	char c;
	read(p[0], &c, 1);
	printf("poll after writer closed: %d revents %x\n", poll(pfd, 1, 0), pfd[0].revents);
	FD_ZERO(&rd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tv = (struct timeval){0, 40000};
	printf("select timeout: %d\n", select(0, 0, 0, 0, &tv));
	el = ms_since(&t0);
	printf("waited about 40 ms: %s\n", el >= 35 && el < 2000 ? "yes" : "no");
	return 0;
}
