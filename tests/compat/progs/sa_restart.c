/*
 * SA_RESTART (man 7 signal): a thread blocks in a call, another thread
 * signals it, then releases it. With SA_RESTART, read/write/readv on pipes,
 * accept/recv on sockets and an untimed futex wait go on after the handler;
 * without it they fail with EINTR. poll, select, epoll_wait, nanosleep and a
 * timed futex wait fail with EINTR either way.
 */
// compat: glibc
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

static volatile int handled, done;
static int fds[2], lfd, cfd, sfd, epfd;
static int futex_word;
static char byte;

static void handler(int sig)
{
	(void)sig;
	handled++;
}

static void pause_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};

	nanosleep(&ts, 0);
}

/* ---- the blocking calls, and what releases each ---- */

static long do_read(void)
{
	return read(fds[0], &byte, 1);
}

static long do_readv(void)
{
	struct iovec iov = {&byte, 1};

	return readv(fds[0], &iov, 1);
}

static void release_pipe(void)
{
	write(fds[1], "x", 1);
}

static long do_write(void)
{
	return write(fds[1], "y", 1);
}

static void fill_pipe(void)
{
	char buf[4096] = {0};

	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	while (write(fds[1], buf, sizeof(buf)) > 0)
		;
	while (write(fds[1], buf, 1) > 0)
		;
	fcntl(fds[1], F_SETFL, 0);
}

static void release_write(void)
{
	char buf[4096];

	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	while (read(fds[0], buf, sizeof(buf)) > 0)
		;
}

static long do_futex(void)
{
	return syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
}

static long do_futex_timed(void)
{
	struct timespec ts = {5, 0};

	return syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, 0, 0);
}

static void release_futex(void)
{
	__atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

static long do_accept(void)
{
	return accept(lfd, 0, 0);
}

static void release_accept(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	getsockname(lfd, (struct sockaddr *)&a, &len);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	connect(cfd, (struct sockaddr *)&a, len);
}

static long do_recv(void)
{
	return recv(sfd, &byte, 1, 0);
}

static void release_recv(void)
{
	send(cfd, "z", 1, 0);
}

static long do_poll(void)
{
	struct pollfd p = {fds[0], POLLIN, 0};

	return poll(&p, 1, -1);
}

static long do_select(void)
{
	fd_set r;

	FD_ZERO(&r);
	FD_SET(fds[0], &r);
	return select(fds[0] + 1, &r, 0, 0, 0);
}

static long do_epoll(void)
{
	struct epoll_event ev;

	return epoll_wait(epfd, &ev, 1, -1);
}

static long do_nanosleep(void)
{
	struct timespec ts = {3, 0};

	return nanosleep(&ts, 0);
}

static void release_nothing(void)
{
}

/* ---- one case: block, signal, check, release ---- */

static long result;
static int result_errno;

static void *worker(void *arg)
{
	long (*fn)(void) = (long (*)(void))arg;

	result = fn();
	result_errno = errno;
	__atomic_store_n(&done, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void listen_loopback(void)
{
	struct sockaddr_in a = {0};

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	bind(lfd, (struct sockaddr *)&a, sizeof(a));
	listen(lfd, 4);
}

static void setup(const char *name)
{
	struct epoll_event ev = {EPOLLIN, {0}};

	pipe(fds);
	futex_word = 0;
	cfd = sfd = lfd = epfd = -1;
	if (!strcmp(name, "write"))
		fill_pipe();
	if (!strcmp(name, "accept") || !strcmp(name, "recv"))
		listen_loopback();
	if (!strcmp(name, "recv")) {
		release_accept();
		sfd = accept(lfd, 0, 0);
	}
	if (!strcmp(name, "epoll_wait")) {
		epfd = epoll_create1(0);
		epoll_ctl(epfd, EPOLL_CTL_ADD, fds[0], &ev);
	}
}

static void teardown(void)
{
	int all[] = {fds[0], fds[1], lfd, cfd, sfd, epfd};

	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] >= 0)
			close(all[i]);
}

static void run(const char *name, long (*fn)(void), void (*release)(void), int restart)
{
	struct sigaction sa = {0};
	pthread_t t;
	int done_after_signal;

	sa.sa_handler = handler;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGUSR1, &sa, 0);
	setup(name);
	handled = done = 0;
	pthread_create(&t, 0, worker, (void *)fn);
	pause_ms(100);
	pthread_kill(t, SIGUSR1);
	pause_ms(100);
	done_after_signal = done;
	release();
	pthread_join(t, 0);
	printf("%-10s %-10s handled %d, %s after the signal, then %s\n", name,
	       restart ? "SA_RESTART" : "no flag", handled,
	       done_after_signal ? "returned" : "still blocked",
	       result < 0 ? (result_errno == EINTR ? "EINTR" : strerror(result_errno))
			  : (result > 0 ? "success (> 0)" : "success (0)"));
	teardown();
}

int main(void)
{
	static const struct {
		const char *name;
		long (*fn)(void);
		void (*release)(void);
	} cases[] = {
		{"read", do_read, release_pipe},
		{"readv", do_readv, release_pipe},
		{"write", do_write, release_write},
		{"futex", do_futex, release_futex},
		{"accept", do_accept, release_accept},
		{"recv", do_recv, release_recv},
		{"futex_tmo", do_futex_timed, release_futex},
		{"poll", do_poll, release_pipe},
		{"select", do_select, release_pipe},
		{"epoll_wait", do_epoll, release_pipe},
		{"nanosleep", do_nanosleep, release_nothing},
	};

	setvbuf(stdout, 0, _IONBF, 0);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int restart = 0; restart < 2; restart++)
			run(cases[i].name, cases[i].fn, cases[i].release, restart);
	return 0;
}
