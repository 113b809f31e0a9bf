/*
 * exit_after: prints a line, sleeps, then exits: `exit_after [SECONDS [STATUS]]`
 * (default 1 s, status 1). The restart-policy tests run it as a service that
 * keeps failing (or keeps ending well, with status 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	int status = argc > 2 ? atoi(argv[2]) : 1;
	struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};

	printf("exit_after: exiting with %d in %.1f s\n", status, secs);
	fflush(stdout);
	nanosleep(&ts, NULL);
	return status;
}
