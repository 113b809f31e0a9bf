// compat: glibc
/* A thread blocks in epoll_wait until another thread writes to a pipe, 100 times. */
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

static int p[2];

static void *writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		usleep(1000);
		write(p[1], "x", 1);
	}
	return 0;
}

int main(void)
{
	int ep = epoll_create1(0), got = 0;
	struct epoll_event ev = {EPOLLIN | EPOLLET, {.u32 = 7}}, out;
	pthread_t t;
	char c;

	pipe(p);
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	pthread_create(&t, 0, writer, 0);
	while (got < 100) {
		if (epoll_wait(ep, &out, 1, 5000) != 1)
			return printf("timed out after %d\n", got), 1;
		while (got < 100 && read(p[0], &c, 1) == 1 && ++got % 100)
			if (got % 10 == 0)
				break;
	}
	pthread_join(t, 0);
	printf("received %d bytes via epoll\n", got);
	return 0;
}
