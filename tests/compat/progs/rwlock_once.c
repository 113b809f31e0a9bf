// compat: glibc
/* pthread_once runs once; readers share an rwlock, writers exclude them. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static int init_count, value, bad_reads;

static void init(void)
{
	init_count++;
}

static void *reader(void *arg)
{
	(void)arg;
	pthread_once(&once, init);
	for (int i = 0; i < 2000; i++) {
		pthread_rwlock_rdlock(&rw);
		if (value % 2)
			bad_reads++;
		pthread_rwlock_unlock(&rw);
	}
	return 0;
}

static void *writer(void *arg)
{
	(void)arg;
	pthread_once(&once, init);
	for (int i = 0; i < 1000; i++) {
		pthread_rwlock_wrlock(&rw);
		value++;
		sched_yield();
		value++;
		pthread_rwlock_unlock(&rw);
	}
	return 0;
}

int main(void)
{
	pthread_t t[6];

	for (int i = 0; i < 6; i++)
		pthread_create(&t[i], 0, i < 2 ? writer : reader, 0);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], 0);
	printf("init ran %d times, value %d, torn reads %d\n", init_count, value, bad_reads);
	return 0;
}
