// compat: glibc
/* eventfd counters, semaphore mode, blocking read woken by another thread. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int efd;

static void *poster(void *arg)
{
	uint64_t one = 1;

	(void)arg;
	usleep(20000);
	write(efd, &one, 8);
	return 0;
}

int main(void)
{
	uint64_t v;
	int sem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	pthread_t t;

	for (int i = 0; i < 4; i++)
		printf("semaphore read %d: %zd\n", i, read(sem, &v, 8));
	efd = eventfd(0, 0);
	pthread_create(&t, 0, poster, 0);
	printf("blocking read: %zd value %lu\n", read(efd, &v, 8), (unsigned long)v);
	pthread_join(t, 0);
	v = 5;
	write(efd, &v, 8);
	write(efd, &v, 8);
	read(efd, &v, 8);
	printf("counter sums writes: %lu\n", (unsigned long)v);
	printf("short read: %zd\n", read(efd, &v, 4));
	return 0;
}
