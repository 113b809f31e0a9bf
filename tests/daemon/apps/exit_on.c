/*
 * exit_on: exits when the host says so: `exit_on DEVICE STATUS` reads the
 * first byte of DEVICE (a volume, /dev/vda) every 20 ms and exits with
 * STATUS once it is not 0. The exit-status tests end a guest at a moment
 * they choose (ukd killed, or just restarted) by writing that byte into the
 * volume's file on the host.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/vda";
	int status = argc > 2 ? atoi(argv[2]) : 1;
	struct timespec tick = {0, 20000000};
	unsigned char b = 0;
	int fd = open(dev, O_RDONLY);

	if (fd < 0) {
		perror("exit_on: open");
		return 2;
	}
	printf("exit_on: exiting with %d once %s says so\n", status, dev);
	fflush(stdout);
	while (pread(fd, &b, 1, 0) == 1 && !b)
		nanosleep(&tick, NULL);
	printf("exit_on: told to exit\n");
	return status;
}
