// compat: glibc
/* pthread_cond_timedwait and sem_timedwait time out with ETIMEDOUT after about the right time. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec dl;
	sem_t s;
	double t0, el;
	int r;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += 100000000;
	if (dl.tv_nsec >= 1000000000)
		dl.tv_sec++, dl.tv_nsec -= 1000000000;
	t0 = now();
	pthread_mutex_lock(&m);
	r = pthread_cond_timedwait(&c, &m, &dl);
	el = now() - t0;
	printf("cond_timedwait: %s, waited %s\n", r == ETIMEDOUT ? "ETIMEDOUT" : "other",
	       el >= 0.09 && el < 2 ? "about 100 ms" : "wrong time");
	sem_init(&s, 0, 0);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += 50000000;
	if (dl.tv_nsec >= 1000000000)
		dl.tv_sec++, dl.tv_nsec -= 1000000000;
	t0 = now();
	r = sem_timedwait(&s, &dl);
	el = now() - t0;
	printf("sem_timedwait: %s, waited %s\n", r && errno == ETIMEDOUT ? "ETIMEDOUT" : "other",
	       el >= 0.04 && el < 2 ? "about 50 ms" : "wrong time");
	return 0;
}
