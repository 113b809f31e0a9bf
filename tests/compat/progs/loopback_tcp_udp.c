/*
 * TCP and UDP over 127.0.0.1 inside one program: echo through a thread,
 * getaddrinfo, names. musl only: glibc's static getaddrinfo needs NSS modules
 * from the host's shared libraries.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int lfd;

static void *echo(void *arg)
{
	char buf[70000];
	int c = accept(lfd, 0, 0);
	ssize_t n;

	(void)arg;
	while ((n = read(c, buf, sizeof(buf))) > 0)
		write(c, buf, (size_t)n);
	close(c);
	return 0;
}

int main(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	static char out[65536], in[65536];
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = 0;
	pthread_t t;
	size_t got = 0;
	int c, u1, u2, one = 1;
	char ubuf[16];

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	c = bind(lfd, (struct sockaddr *)&a, sizeof(a));
	printf("bind: %d, ", c);
	printf("listen: %d\n", listen(lfd, 4));
	getsockname(lfd, (struct sockaddr *)&a, &len);
	printf("ephemeral port assigned: %s\n", ntohs(a.sin_port) > 0 ? "yes" : "no");
	pthread_create(&t, 0, echo, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	printf("connect: %d\n", connect(c, (struct sockaddr *)&a, sizeof(a)));
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 13);
	printf("write 64 KiB: %zd\n", write(c, out, sizeof(out)));
	while (got < sizeof(in)) {
		ssize_t n = read(c, in + got, sizeof(in) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	printf("echoed back intact: %s\n",
	       got == sizeof(in) && !memcmp(in, out, sizeof(in)) ? "yes" : "no");
	close(c);
	pthread_join(t, 0);
	u1 = socket(AF_INET, SOCK_DGRAM, 0);
	u2 = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = 0;
	bind(u1, (struct sockaddr *)&a, sizeof(a));
	len = sizeof(a);
	getsockname(u1, (struct sockaddr *)&a, &len);
	printf("udp sendto: %zd\n", sendto(u2, "datagram", 8, 0, (struct sockaddr *)&a, sizeof(a)));
	memset(ubuf, 0, sizeof(ubuf));
	ssize_t un = recv(u1, ubuf, sizeof(ubuf), 0);
	printf("udp recv: %zd %s\n", un, ubuf);
	c = getaddrinfo("127.0.0.1", "80", &hints, &ai);
	printf("getaddrinfo numeric: %d\n", c);
	if (!c)
		freeaddrinfo(ai);
	ai = 0;
	c = getaddrinfo("localhost", "80", &hints, &ai);
	printf("getaddrinfo localhost: %d\n", c);
	if (!c && ai)
		printf("localhost is %s\n",
		       inet_ntoa(((struct sockaddr_in *)ai->ai_addr)->sin_addr));
	return 0;
}
