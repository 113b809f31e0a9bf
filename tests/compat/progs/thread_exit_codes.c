// compat: glibc
/* pthread_exit from a thread, exit status of the process from another thread's exit(). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *early(void *arg)
{
	pthread_exit((void *)((uintptr_t)arg + 1));
	return 0;
}

static void *ender(void *arg)
{
	(void)arg;
	printf("ender calls exit(7)\n");
	fflush(stdout);
	exit(7);
}

int main(void)
{
	pthread_t t;
	void *r;

	pthread_create(&t, 0, early, (void *)41);
	pthread_join(t, &r);
	printf("pthread_exit value %lu\n", (unsigned long)(uintptr_t)r);
	fflush(stdout);
	pthread_create(&t, 0, ender, 0);
	for (;;)
		pause();
}
