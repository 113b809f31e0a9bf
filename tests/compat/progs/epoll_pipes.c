// compat: glibc
/* epoll level- and edge-triggered on pipes and an eventfd, one-shot, and deletion. */
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int main(void)
{
	int ep = epoll_create1(0), p[2], efd = eventfd(0, 0);
	struct epoll_event ev, out[4];
	uint64_t v = 3;
	char buf[8];

	pipe(p);
	ev.events = EPOLLIN;
	ev.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	printf("nothing ready: %d\n", epoll_wait(ep, out, 4, 0));
	write(p[1], "ab", 2);
	write(efd, &v, 8);
	int n = epoll_wait(ep, out, 4, 1000);

	printf("ready: %d (", n);
	unsigned mask = 0;
	for (int i = 0; i < n; i++)
		mask |= out[i].data.u32;
	printf("ids %u)\n", mask);
	n = epoll_wait(ep, out, 4, 0);
	printf("level-triggered pipe again, edge eventfd not: %d id %u\n", n, out[0].data.u32);
	write(efd, &v, 8);
	n = epoll_wait(ep, out, 4, 0);
	printf("new eventfd write is a new edge: %d\n", n);
	read(p[0], buf, 2);
	read(efd, &v, 8);
	printf("eventfd counter was %lu\n", (unsigned long)v);
	printf("drained: %d\n", epoll_wait(ep, out, 4, 0));
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
	write(p[1], "c", 1);
	printf("oneshot fires: %d\n", epoll_wait(ep, out, 4, 0));
	printf("then stays quiet: %d\n", epoll_wait(ep, out, 4, 0));
	printf("del: %d, del again: %d\n", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], 0),
	       epoll_ctl(ep, EPOLL_CTL_DEL, p[0], 0));
	printf("add twice: %d %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev),
	       epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	return 0;
}
