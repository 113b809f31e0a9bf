/*
 * fetch: a guest-side client for the network tests. Connects to
 * argv[1]:argv[2] up to argv[3] times (one try a second), sends a GET and
 * prints "fetch OK <status line>" or "fetch FAIL <errno text>" per try, then
 * "fetch done" and exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int fetch_once(const char *ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	struct timeval tv = {.tv_sec = 2};
	char buf[256];
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return printf("fetch FAIL setup: %s\n", strerror(errno)), -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("fetch FAIL connect: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	dprintf(fd, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", ip);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return printf("fetch FAIL read: %s\n", n ? strerror(errno) : "eof"), -1;
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	printf("fetch OK %s\n", buf);
	return 0;
}

int main(int argc, char **argv)
{
	int tries = argc > 3 ? atoi(argv[3]) : 5;

	if (argc < 3)
		return printf("usage: fetch IP PORT [TRIES]\n"), 2;
	for (int i = 0; i < tries; i++) {
		fflush(stdout);
		if (fetch_once(argv[1], atoi(argv[2])) == 0)
			break;
		sleep(1);
	}
	printf("fetch done\n");
	fflush(stdout);
	return 0;
}
