// compat: glibc
/* 64 threads at once, each with its own stack, all joined. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

static void *work(void *arg)
{
	volatile char stack_use[8192];

	stack_use[0] = (char)(uintptr_t)arg;
	return (void *)((uintptr_t)arg * 2 + stack_use[0] - (char)(uintptr_t)arg);
}

int main(void)
{
	pthread_t t[64];
	uintptr_t sum = 0;
	void *r;

	for (uintptr_t i = 0; i < 64; i++)
		if (pthread_create(&t[i], 0, work, (void *)i))
			return printf("pthread_create %lu failed\n", (unsigned long)i), 1;
	for (int i = 0; i < 64; i++) {
		pthread_join(t[i], &r);
		sum += (uintptr_t)r;
	}
	printf("64 threads joined, sum %lu\n", (unsigned long)sum);
	return 0;
}
