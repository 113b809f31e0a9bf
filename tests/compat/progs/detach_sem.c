// compat: glibc
/* Detached threads report through a semaphore; main waits for all of them. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

static sem_t done;
static int total;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg)
{
	pthread_mutex_lock(&m);
	total += *(int *)arg;
	pthread_mutex_unlock(&m);
	sem_post(&done);
	return 0;
}

int main(void)
{
	static int vals[10];
	pthread_attr_t attr;
	pthread_t t;

	sem_init(&done, 0, 0);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < 10; i++) {
		vals[i] = i * i;
		pthread_create(&t, &attr, work, &vals[i]);
	}
	for (int i = 0; i < 10; i++)
		sem_wait(&done);
	printf("10 detached threads, total %d\n", total);
	return 0;
}
