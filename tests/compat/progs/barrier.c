// compat: glibc
/* A barrier holds 6 threads until all arrive, for 5 rounds. */
#include <pthread.h>
#include <stdio.h>

static pthread_barrier_t b;
static int arrived[5];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static int errors;

static void *work(void *arg)
{
	(void)arg;
	for (int r = 0; r < 5; r++) {
		pthread_mutex_lock(&m);
		arrived[r]++;
		pthread_mutex_unlock(&m);
		pthread_barrier_wait(&b);
		pthread_mutex_lock(&m);
		if (arrived[r] != 6)
			errors++;
		pthread_mutex_unlock(&m);
		pthread_barrier_wait(&b);
	}
	return 0;
}

int main(void)
{
	pthread_t t[6];

	pthread_barrier_init(&b, 0, 6);
	for (int i = 0; i < 6; i++)
		pthread_create(&t[i], 0, work, 0);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], 0);
	printf("5 rounds, errors %d\n", errors);
	return 0;
}
