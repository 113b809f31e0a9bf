// compat: glibc
/* After a handler returns, the interrupted code's registers and FPU/SSE state are intact. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile int hits;

static void handler(int sig)
{
	volatile double junk = 0;

	(void)sig;
	for (int i = 0; i < 100; i++)
		junk += i * 0.5; /* clobbers SSE registers inside the handler */
	hits++;
}

int main(void)
{
	double acc = 0;
	long iacc = 0;

	signal(SIGUSR1, handler);
	for (int i = 1; i <= 1000; i++) {
		acc += 1.0 / i;
		iacc += i * 3;
		if (i % 100 == 0)
			raise(SIGUSR1);
	}
	printf("handler ran %d times, harmonic %.12f, sum %ld\n", hits, acc, iacc);
	return 0;
}
