// compat: glibc
/* Producer/consumer over a bounded queue with a mutex and two condition variables. */
#include <pthread.h>
#include <stdio.h>

#define CAP 4
static int q[CAP], head, count;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 1; i <= 1000; i++) {
		pthread_mutex_lock(&m);
		while (count == CAP)
			pthread_cond_wait(&not_full, &m);
		q[(head + count++) % CAP] = i;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&m);
	}
	return 0;
}

int main(void)
{
	pthread_t t;
	long sum = 0;

	pthread_create(&t, 0, producer, 0);
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&m);
		while (count == 0)
			pthread_cond_wait(&not_empty, &m);
		sum += q[head];
		head = (head + 1) % CAP;
		count--;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&m);
	}
	pthread_join(t, 0);
	printf("consumed 1000 items, sum %ld\n", sum);
	return 0;
}
