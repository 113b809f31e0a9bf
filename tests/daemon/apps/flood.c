/*
 * flood: writes numbered lines to stdout as fast as it can, then says so and
 * waits: `flood [MIB [SECONDS]]` stops after MIB MiB (default 64) or SECONDS
 * seconds (default 60), whichever comes first, prints
 * "flood done: N lines, B bytes" and sleeps until stopped. Every line is
 * "flood NNNNNNNNN " padded with '.' to 100 bytes, so a reader can tell which
 * lines it got and whether any was cut.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE 100

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long long limit = (argc > 1 ? atoll(argv[1]) : 64) << 20, bytes = 0;
	double secs = argc > 2 ? atof(argv[2]) : 60.0, start = now();
	char buf[40 * LINE];
	long lines = 0;

	printf("flood: up to %lld bytes in %.0f s\n", limit, secs);
	fflush(stdout);
	while (bytes < limit && now() - start < secs) {
		/* 40 lines per write: one syscall for 4000 bytes. */
		for (int i = 0; i < 40; i++) {
			char *l = buf + i * LINE;
			int n = snprintf(l, LINE, "flood %09ld ", lines++);

			memset(l + n, '.', LINE - 1 - (size_t)n);
			l[LINE - 1] = '\n';
		}
		if (write(1, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return 1;
		bytes += (long long)sizeof(buf);
	}
	printf("flood done: %ld lines, %lld bytes in %.1f s\n", lines, bytes, now() - start);
	fflush(stdout);
	for (;;)
		sleep(3600);
}
