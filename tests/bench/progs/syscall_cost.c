/*
 * syscall_cost: the price of a syscall round trip (getpid) and of a thread
 * switch (futex ping-pong between two threads), in ns per operation.
 * Run natively and as a unikernel by tests/bench/runtime_bench.py.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FUTEX_WAIT_PRIVATE 128 /* FUTEX_WAIT | FUTEX_PRIVATE_FLAG */
#define FUTEX_WAKE_PRIVATE 129
#define SYSCALLS 200000
#define PINGS 20000

static volatile int turn;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void wait_for(int want)
{
	while (turn != want)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, !want, 0, 0, 0);
}

static void pass_to(int who)
{
	turn = who;
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

static void *partner(void *arg)
{
	(void)arg;
	for (int i = 0; i < PINGS; i++) {
		wait_for(1);
		pass_to(0);
	}
	return 0;
}

int main(void)
{
	pthread_t t;
	double t0;

	t0 = now();
	for (int i = 0; i < SYSCALLS; i++)
		syscall(SYS_getpid);
	printf("getpid_ns %.1f\n", (now() - t0) / SYSCALLS);
	pthread_create(&t, 0, partner, 0);
	t0 = now();
	for (int i = 0; i < PINGS; i++) {
		pass_to(1);
		wait_for(0);
	}
	printf("futex_pingpong_ns %.1f\n", (now() - t0) / PINGS / 2);
	pthread_join(t, 0);
	return 0;
}
