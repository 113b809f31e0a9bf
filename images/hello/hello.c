/*
 * hello: the smallest ukd example. Prints a greeting, its arguments and
 * the GREETING environment variable, then exits with the status given as
 * its first argument (default 0). Runs unchanged as a Linux process.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	const char *greeting = getenv("GREETING");

	printf("Hello from ukd\n");
	for (int i = 0; i < argc; i++)
		printf("argv[%d] = %s\n", i, argv[i]);
	printf("GREETING = %s\n", greeting ? greeting : "(unset)");
	return argc > 1 ? atoi(argv[1]) : 0;
}
