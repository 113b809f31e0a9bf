// compat: glibc
/* 8 threads increment one counter under a mutex; no update may be lost. */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *work(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return 0;
}

int main(void)
{
	pthread_t t[8];

	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], 0, work, 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], 0);
	printf("counter %ld\n", counter);
	return 0;
}
