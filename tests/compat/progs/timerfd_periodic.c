// compat: glibc
/* A periodic timerfd: expirations arrive about every 20 ms; read returns the count; poll waits. */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec it = {{0, 20000000}, {0, 20000000}}, cur;
	struct timespec t0, t1;
	uint64_t n, total = 0;
	struct pollfd p = {fd, POLLIN, 0};

	clock_gettime(CLOCK_MONOTONIC, &t0);
	timerfd_settime(fd, 0, &it, 0);
	for (int i = 0; i < 5; i++) {
		read(fd, &n, 8);
		total += n;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("5 reads, expirations >= 5: %s, took about 100 ms: %s\n", total >= 5 ? "yes" : "no",
	       ms >= 95 && ms < 3000 ? "yes" : "no");
	printf("poll waits for next: %d revents %x\n", poll(&p, 1, 1000), p.revents);
	timerfd_gettime(fd, &cur);
	printf("interval kept: %ld ns\n", cur.it_interval.tv_nsec);
	it = (struct itimerspec){{0, 0}, {0, 0}};
	timerfd_settime(fd, 0, &it, 0);
	printf("disarmed poll: %d\n", poll(&p, 1, 50));
	int nb = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	printf("nonblocking read unarmed: %zd\n", read(nb, &n, 8));
	return 0;
}
