// compat: glibc
/* nanosleep, usleep and clock_nanosleep (relative and absolute) sleep at least as asked, and not
 * wildly more. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static long long ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *verdict(long long slept, long long asked)
{
	return slept >= asked && slept < asked + 500000000LL ? "ok" : "out of bounds";
}

int main(void)
{
	struct timespec req = {0, 30000000}, abs;
	long long t0 = ns(CLOCK_MONOTONIC);

	nanosleep(&req, 0);
	printf("nanosleep 30ms: %s\n", verdict(ns(CLOCK_MONOTONIC) - t0, 30000000));
	t0 = ns(CLOCK_MONOTONIC);
	usleep(20000);
	printf("usleep 20ms: %s\n", verdict(ns(CLOCK_MONOTONIC) - t0, 20000000));
	t0 = ns(CLOCK_MONOTONIC);
	clock_nanosleep(CLOCK_MONOTONIC, 0, &req, 0);
	printf("clock_nanosleep relative: %s\n", verdict(ns(CLOCK_MONOTONIC) - t0, 30000000));
	t0 = ns(CLOCK_MONOTONIC);
	abs.tv_sec = (t0 + 40000000) / 1000000000;
	abs.tv_nsec = (t0 + 40000000) % 1000000000;
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, 0);
	printf("clock_nanosleep absolute: %s\n", verdict(ns(CLOCK_MONOTONIC) - t0, 40000000));
	t0 = ns(CLOCK_MONOTONIC);
	sleep(1);
	printf("sleep 1s: %s\n", verdict(ns(CLOCK_MONOTONIC) - t0, 1000000000));
	return 0;
}
