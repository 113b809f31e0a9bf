// compat: glibc
/* __thread variables are per thread; pthread keys too, with destructors. */
#include <pthread.h>
#include <stdint.h>
#include <sched.h>
#include <stdio.h>

static __thread int tls_value = 7;
static __thread char tls_buf[64];
static pthread_key_t key;
static int destructed;

static void destructor(void *p)
{
	(void)p;
	__atomic_fetch_add(&destructed, 1, __ATOMIC_SEQ_CST);
}

static void *work(void *arg)
{
	int id = (int)(uintptr_t)arg;

	tls_value += id;
	snprintf(tls_buf, sizeof(tls_buf), "thread %d", id);
	pthread_setspecific(key, arg);
	for (int i = 0; i < 1000; i++)
		sched_yield();
	return (void *)(uintptr_t)(tls_value * 100 + (int)(uintptr_t)pthread_getspecific(key));
}

int main(void)
{
	pthread_t t[5];
	void *r;

	pthread_key_create(&key, destructor);
	for (uintptr_t i = 0; i < 5; i++)
		pthread_create(&t[i], 0, work, (void *)(i + 1));
	for (int i = 0; i < 5; i++) {
		pthread_join(t[i], &r);
		printf("thread %d tls result %lu\n", i + 1, (unsigned long)(uintptr_t)r);
	}
	printf("main tls_value %d, buf \"%s\", destructors %d\n", tls_value, tls_buf, destructed);
	return 0;
}
