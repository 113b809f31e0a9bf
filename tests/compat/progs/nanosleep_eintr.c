/* A sleeping thread wakes with EINTR when a signal is handled, and reports the time left. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static pthread_t sleeper;
static volatile int handled;

static void handler(int sig)
{
	(void)sig;
	handled++;
}

static void *sleep_fn(void *arg)
{
	struct timespec req = {5, 0}, rem = {0, 0};
	int r = nanosleep(&req, &rem);

	(void)arg;
	printf("nanosleep: %d %s, handled %d\n", r, r && errno == EINTR ? "EINTR" : "?", handled);
	return 0;
}

int main(void)
{
	struct sigaction sa = {0};

	sa.sa_handler = handler;
	sigaction(SIGUSR1, &sa, 0);
	pthread_create(&sleeper, 0, sleep_fn, 0);
	usleep(50000);
	pthread_kill(sleeper, SIGUSR1);
	pthread_join(sleeper, 0);
	return 0;
}
