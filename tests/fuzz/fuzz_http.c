/*
 * fuzz_http.c: libFuzzer target for ukd's HTTP request path (ukd/http.c over
 * libhttp-parser), the first code every API byte meets.
 *
 * The real server runs on a libuv loop in this process, listening on a unix
 * socket; each input is sent by a client connection as it is, then the client
 * shuts down its writing side and reads until the server hangs up. The
 * handler answers like ukd's routes do: at once, with an error, streamed, or
 * later (after the client may be gone). A server that never hangs up on a
 * client that has said everything is a bug too: the target aborts after 10 s.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I ukd tests/fuzz/fuzz_http.c \
 *	ukd/http.c ukd/log.c ukd/util.c -luv -lhttp_parser -o fuzz_http
 *   ./fuzz_http -max_total_time=3600 CORPUS_DIR tests/fuzz/corpus/http   (the long run)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "http.h"
#include "log.h"

#define PENDING_MAX 64

static uv_loop_t loop;
static uv_idle_t idle;
static struct http_server *srv;
static struct sockaddr_un addr = {.sun_family = AF_UNIX};
static struct http_req *pending[PENDING_MAX];
static int npending;

/* Answers the requests that waited for a later loop iteration, as ukd's workers do. */
static void answer_pending(uv_idle_t *h)
{
	(void)h;
	for (int i = 0; i < npending; i++) {
		struct http_req *req = pending[i];

		if (http_req_gone(req))
			http_respond_json(req, 200, "{}"); /* dropped: must not crash */
		else
			http_respond_error(req, 404, "not_found", "no %.100s", req->path);
	}
	npending = 0;
	uv_idle_stop(&idle);
}

static void handler(struct http_req *req, void *opaque)
{
	char buf[64];

	(void)opaque;
	/* What the routes read: query parameters, repeated ones, the body. */
	http_query(req, "t", 0, buf, sizeof(buf));
	http_query(req, "name", 1, buf, sizeof(buf));
	if (!strncmp(req->path, "/later", 6) && npending < PENDING_MAX) {
		pending[npending++] = req;
		uv_idle_start(&idle, answer_pending);
	} else if (!strncmp(req->path, "/stream", 7)) {
		http_stream_begin(req, 200, "text/plain");
		http_stream_write(req, req->body, req->body_len);
		http_stream_write(req, req->path, strlen(req->path));
		http_stream_end(req);
	} else if (req->body_len % 2) {
		http_respond_error(req, 422, "invalid_spec", "path %s, type %s, %zu bytes",
				   req->path, req->content_type, req->body_len);
	} else {
		http_respond(req, 200, "application/octet-stream", req->body, req->body_len,
			     "X-Test: 1\r\n");
	}
}

static size_t limit(const struct http_req *req, void *opaque)
{
	(void)opaque;
	return req->method == HTTP_POST ? 4096 : 64;
}

static void cleanup(void)
{
	unlink(addr.sun_path);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/fuzz_http.%d.sock", (int)getpid());
	if (uv_loop_init(&loop) || uv_idle_init(&loop, &idle) ||
	    http_server_start(&srv, &loop, addr.sun_path, handler, limit, NULL) < 0) {
		fprintf(stderr, "fuzz_http: cannot start the server on %s\n", addr.sun_path);
		exit(1);
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	double deadline = now() + 10;
	size_t off = 0;
	int shut = 0, idle_rounds = 0;
	char buf[65536];

	if (fd < 0 || (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 &&
		       errno != EINPROGRESS && errno != EAGAIN))
		abort();
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = uv_backend_fd(&loop), .events = POLLIN}};
		ssize_t n;

		if (off < size) {
			n = write(fd, data + off, size - off);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				off = size; /* the server hung up early (an error answer) */
		}
		if (off == size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		uv_run(&loop, UV_RUN_NOWAIT);
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
		if (now() > deadline) {
			fprintf(stderr, "fuzz_http: the server kept a finished client for 10 s\n");
			abort();
		}
		/*
		 * libuv registers a new watcher only on its next poll, so a few
		 * rounds go by without waiting; then wait for either side.
		 */
		if (n < 0 && ++idle_rounds > 8)
			poll(p, 2, 1);
		else if (n > 0)
			idle_rounds = 0;
	}
	close(fd);
	/* Let the server see the hang-up and free the connection before the next input. */
	for (int i = 0; i < 4; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	return 0;
}
