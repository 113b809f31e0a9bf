/*
 * health_app.c: a guest test application for the health agent (test_health.py).
 *   health_app ready    declares itself ready and sets metrics, then idles 2 s
 *   health_app null     dereferences NULL in crash_here()
 *   health_app later N  sleeps N ms, then dereferences NULL (a crash at a moment the test chose)
 *   health_app term     runs a SIGTERM handler, then exits 0
 *   health_app ignore   ignores SIGTERM and sleeps
 *   health_app spin     runs a SIGTERM handler, busy in a loop until it has run, then exits 0
 *   health_app idle     sleeps (heartbeats only)
 * Natively (no /dev/health) the ukapp calls are no-ops: `ready` then still exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ukapp.h"

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

__attribute__((noinline, noipa)) static int crash_here(volatile int *p)
{
	return *p;
}

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, ms % 1000 * 1000000};

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "ready";

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(mode, "ready")) {
		if (ukapp_not_ready("warming up") || ukapp_metric_set("requests", 41) ||
		    ukapp_metric_add("requests", 1) || ukapp_metric_set("temp:c", -5))
			return 2;
		if (ukapp_metric_set("bad name", 1) == 0 || ukapp_ready())
			return 2;
		printf("health_app: ready\n");
		nap(2000);
		return 0;
	}
	if (!strcmp(mode, "null")) {
		printf("health_app: dereferencing NULL\n");
		return crash_here(NULL);
	}
	if (!strcmp(mode, "later") && argc > 2) {
		printf("health_app: crashing in %s ms\n", argv[2]);
		nap(atol(argv[2]));
		return crash_here(NULL);
	}
	if (!strcmp(mode, "term") || !strcmp(mode, "ignore")) {
		signal(SIGTERM, !strcmp(mode, "term") ? on_term : SIG_IGN);
		printf("health_app: waiting for SIGTERM\n");
		while (!got_term)
			nap(100000);
		printf("health_app: SIGTERM handled\n");
		return 0;
	}
	if (!strcmp(mode, "spin")) {
		/* Never idle, never in a system call: only an interrupt reaches the runtime. */
		signal(SIGTERM, on_term);
		printf("health_app: spinning\n");
		while (!got_term)
			;
		printf("health_app: SIGTERM handled\n");
		return 0;
	}
	for (;;)
		nap(100000);
}
