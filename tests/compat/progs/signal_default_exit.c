/* An unhandled SIGTERM sent to itself ends the process with status 128+15. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("about to be terminated\n");
	fflush(stdout);
	kill(getpid(), SIGTERM);
	printf("not reached\n");
	return 0;
}
