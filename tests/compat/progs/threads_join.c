// compat: glibc
/* Threads compute in parallel and return values through pthread_join. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

static void *work(void *arg)
{
	uintptr_t n = (uintptr_t)arg, sum = 0;

	for (uintptr_t i = 0; i <= n * 100000; i++)
		sum += i;
	return (void *)sum;
}

int main(void)
{
	pthread_t t[4];
	void *r;

	for (uintptr_t i = 0; i < 4; i++)
		if (pthread_create(&t[i], 0, work, (void *)(i + 1)))
			return printf("pthread_create failed\n"), 1;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		printf("thread %d: %lu\n", i, (unsigned long)(uintptr_t)r);
	}
	return 0;
}
