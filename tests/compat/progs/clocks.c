// compat: glibc
/* The clocks: monotonic never goes back, realtime is a plausible date, CPU clocks advance with
 * work. */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

int main(void)
{
	struct timespec a, b, c0, c1, res;
	struct timeval tv;
	int backwards = 0;
	volatile unsigned long spin = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 10000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (b.tv_sec < a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec < a.tv_nsec))
			backwards++;
		a = b;
	}
	printf("monotonic went backwards %d times\n", backwards);
	clock_gettime(CLOCK_REALTIME, &a);
	gettimeofday(&tv, 0);
	printf("realtime after 2024: %s\n", a.tv_sec > 1704067200 ? "yes" : "no");
	printf("gettimeofday agrees: %s\n", tv.tv_sec - a.tv_sec < 2 ? "yes" : "no");
	printf("time() agrees: %s\n", time(0) - a.tv_sec < 2 ? "yes" : "no");
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (unsigned long i = 0; i < 20000000; i++)
		spin += i;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	printf("cpu clock advanced: %s\n",
	       (c1.tv_sec - c0.tv_sec) * 1000000000L + (c1.tv_nsec - c0.tv_nsec) > 0 ? "yes"
										     : "no");
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	printf("thread cpu clock works: %s\n", c0.tv_sec >= 0 ? "yes" : "no");
	printf("clock_getres ok: %s\n", clock_getres(CLOCK_MONOTONIC, &res) == 0 ? "yes" : "no");
	return 0;
}
