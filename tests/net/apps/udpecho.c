/*
 * udpecho: a guest-side UDP echo server for the published-port tests.
 * Listens on argv[1] (default 7777), prints "udpecho: ready", and sends every
 * datagram back to where it came from, prefixed with "echo:".
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	char buf[1500], out[1600];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 7777));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("udpecho");
		return 1;
	}
	printf("udpecho: ready\n");
	fflush(stdout);
	for (;;) {
		struct sockaddr_in from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);

		if (n < 0)
			continue;
		memcpy(out, "echo:", 5);
		memcpy(out + 5, buf, (size_t)n);
		sendto(fd, out, (size_t)n + 5, 0, (struct sockaddr *)&from, len);
	}
}
