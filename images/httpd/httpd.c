/*
 * httpd: a small HTTP/1.1 static-file server for ukd, epoll-based, with
 * keep-alive. Serves the files under DOCROOT (packed into its image).
 * Usage: httpd [PORT] [DOCROOT]    (defaults: 8080 /www)
 * Runs unchanged as a Linux process (e.g. httpd 8080 images/httpd/www).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CONN 4096
#define REQ_MAX 8192
#define MAX_EVENTS 64

struct conn {
	int fd;
	size_t in_len;
	char in[REQ_MAX];
	char *out; /* response not yet written */
	size_t out_len, out_off;
	int close_after;
};

static const char *docroot = "/www";
static struct conn *conns[MAX_CONN];
static unsigned long requests;

static const char *mime(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (!dot)
		return "application/octet-stream";
	if (!strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (!strcmp(dot, ".txt"))
		return "text/plain; charset=utf-8";
	if (!strcmp(dot, ".css"))
		return "text/css";
	if (!strcmp(dot, ".js"))
		return "application/javascript";
	if (!strcmp(dot, ".png"))
		return "image/png";
	return "application/octet-stream";
}

static void conn_close(struct conn *c, int ep)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, 0);
	close(c->fd);
	conns[c->fd] = 0;
	free(c->out);
	free(c);
}

/* Builds a whole response (headers and body) into c->out. */
static void respond(struct conn *c, int status, const char *reason, const char *type,
		    const char *body, size_t body_len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nServer: ukd-httpd\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: %s\r\n\r\n",
			 status, reason, type, body_len, c->close_after ? "close" : "keep-alive");

	c->out = malloc((size_t)n + body_len);
	if (!c->out) {
		c->close_after = 1;
		return;
	}
	memcpy(c->out, head, (size_t)n);
	memcpy(c->out + n, body, body_len);
	c->out_len = (size_t)n + body_len;
	c->out_off = 0;
}

static void error_page(struct conn *c, int status, const char *reason)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);

	respond(c, status, reason, "text/plain; charset=utf-8", body, (size_t)n);
}

static void serve_file(struct conn *c, const char *url)
{
	char path[1024];
	struct stat st;
	char *data;
	int fd;

	if (strstr(url, "..") || strlen(url) > 512) {
		error_page(c, 403, "Forbidden");
		return;
	}
	snprintf(path, sizeof(path), "%s%s%s", docroot, url,
		 url[strlen(url) - 1] == '/' ? "index.html" : "");
	if ((fd = open(path, O_RDONLY)) < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		error_page(c, 404, "Not Found");
		return;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data || read(fd, data, (size_t)st.st_size) != st.st_size) {
		close(fd);
		free(data);
		error_page(c, 500, "Internal Server Error");
		return;
	}
	close(fd);
	respond(c, 200, "OK", mime(path), data, (size_t)st.st_size);
	free(data);
}

/* Handles one complete request at the start of c->in; returns its length, 0 if incomplete. */
static size_t handle_request(struct conn *c)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4), method[16], url[1024], version[16];
	size_t len;

	if (!end)
		return 0;
	len = (size_t)(end - c->in) + 4;
	*end = 0;
	requests++;
	if (sscanf(c->in, "%15s %1023s %15s", method, url, version) != 3 || url[0] != '/') {
		c->close_after = 1;
		error_page(c, 400, "Bad Request");
		return len;
	}
	c->close_after =
		strcmp(version, "HTTP/1.1") != 0 || strcasestr(c->in, "\nConnection: close");
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		error_page(c, 405, "Method Not Allowed");
	else
		serve_file(c, url);
	return len;
}

static int flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = 0;
	return 1;
}

static void on_readable(struct conn *c, int ep)
{
	for (;;) {
		ssize_t n;
		size_t used;

		if (c->out) /* finish the previous response first */
			break;
		if (c->in_len == sizeof(c->in)) {
			c->close_after = 1;
			error_page(c, 431, "Request Header Fields Too Large");
			break;
		}
		n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			conn_close(c, ep);
			return;
		}
		if (n < 0)
			break;
		c->in_len += (size_t)n;
		while (!c->out && (used = handle_request(c))) {
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
		}
	}
	if (c->out) {
		int r = flush_out(c);
		struct epoll_event ev = {EPOLLIN | (r == 0 ? EPOLLOUT : 0), {.ptr = c}};

		if (r < 0 || (r > 0 && c->close_after)) {
			conn_close(c, ep);
			return;
		}
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

static void on_writable(struct conn *c, int ep)
{
	int r = flush_out(c);
	struct epoll_event ev = {EPOLLIN, {.ptr = c}};

	if (r < 0 || (r > 0 && c->close_after)) {
		conn_close(c, ep);
		return;
	}
	if (r > 0) {
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		on_readable(c, ep); /* pipelined requests may be waiting */
	}
}

static void accept_all(int lfd, int ep)
{
	for (;;) {
		int fd = accept4(lfd, 0, 0, SOCK_NONBLOCK), one = 1;
		struct conn *c;
		struct epoll_event ev;

		if (fd < 0)
			return;
		if (fd >= MAX_CONN || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		conns[fd] = c;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080, one = 1, lfd, ep;
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct epoll_event ev = {EPOLLIN, {.ptr = 0}}, events[MAX_EVENTS];

	if (argc > 2)
		docroot = argv[2];
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 512)) {
		perror("httpd: cannot listen");
		return 1;
	}
	ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("httpd: listening on port %d, serving %s\n", port, docroot);
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, events, MAX_EVENTS, -1);

		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;

			if (!c)
				accept_all(lfd, ep);
			else if (events[i].events & EPOLLOUT)
				on_writable(c, ep);
			else
				on_readable(c, ep);
		}
	}
}
