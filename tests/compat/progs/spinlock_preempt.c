/* A thread spinning on a flag must not starve the thread that sets it: the runtime preempts. */
#include <pthread.h>
#include <stdio.h>

static volatile int flag;
static pthread_spinlock_t spin;
static long shared;

static void *setter(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		pthread_spin_lock(&spin);
		shared++;
		pthread_spin_unlock(&spin);
	}
	flag = 1;
	return 0;
}

int main(void)
{
	pthread_t t;

	pthread_spin_init(&spin, 0);
	pthread_create(&t, 0, setter, 0);
	while (!flag) /* busy: no syscall, so only a timer can switch threads */
		;
	pthread_join(t, 0);
	printf("flag seen, shared %ld\n", shared);
	return 0;
}
