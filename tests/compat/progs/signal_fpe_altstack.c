// compat: glibc
/* SIGFPE from integer division by zero, handled on an alternate signal stack; SA_RESETHAND. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sigjmp_buf jb;
static volatile int on_alt, code;
static char *alt;

static void on_fpe(int sig, siginfo_t *si, void *uc)
{
	char here;

	(void)sig, (void)uc;
	on_alt = &here >= alt && &here < alt + 65536;
	code = si->si_code;
	siglongjmp(jb, 1);
}

int main(int argc, char **argv)
{
	struct sigaction sa, old;
	stack_t ss;
	volatile int zero = argc - 1;

	(void)argv;
	alt = malloc(65536);
	ss.ss_sp = alt;
	ss.ss_size = 65536;
	ss.ss_flags = 0;
	printf("sigaltstack: %d\n", sigaltstack(&ss, 0));
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fpe;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
	sigaction(SIGFPE, &sa, 0);
	if (sigsetjmp(jb, 1) == 0)
		printf("quotient %d\n", 10 / zero);
	printf("SIGFPE handled on the alternate stack: %d, si_code FPE_INTDIV: %d\n", on_alt,
	       code == FPE_INTDIV);
	sigaction(SIGFPE, 0, &old);
	printf("SA_RESETHAND restored the default: %d\n", old.sa_handler == SIG_DFL);
	return 0;
}
