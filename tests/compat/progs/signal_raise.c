// compat: glibc
/* Handlers run for raise, kill(getpid()) and pthread_kill; masks hold a signal back until
 * unblocked. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got[65];
static volatile int info_ok;

static void handler(int sig)
{
	got[sig]++;
}

static void info_handler(int sig, siginfo_t *si, void *uc)
{
	info_ok = si->si_signo == sig && uc != 0;
	got[sig]++;
}

static void *thread_fn(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000 && !got[SIGUSR2]; i++)
		usleep(100);
	return 0;
}

int main(void)
{
	struct sigaction sa;
	sigset_t set, pending;
	pthread_t t;

	signal(SIGUSR1, handler);
	raise(SIGUSR1);
	printf("raise: handler ran %d times\n", got[SIGUSR1]);
	kill(getpid(), SIGUSR1);
	printf("kill(getpid()): %d\n", got[SIGUSR1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = info_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR2, &sa, 0);
	pthread_create(&t, 0, thread_fn, 0);
	pthread_kill(t, SIGUSR2);
	pthread_join(t, 0);
	printf("pthread_kill: %d, siginfo ok %d\n", got[SIGUSR2], info_ok);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, 0);
	raise(SIGUSR1);
	sigpending(&pending);
	printf("blocked: ran %d, pending %d\n", got[SIGUSR1], sigismember(&pending, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &set, 0);
	printf("unblocked: ran %d\n", got[SIGUSR1]);
	signal(SIGUSR1, SIG_IGN);
	raise(SIGUSR1);
	printf("ignored: ran %d\n", got[SIGUSR1]);
	return 0;
}
