// compat: glibc
/* A SIGSEGV handler recovers with siglongjmp, three times; si_addr names the bad address. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static sigjmp_buf jb;
static volatile uintptr_t fault_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	fault_addr = (uintptr_t)si->si_addr;
	siglongjmp(jb, 1);
}

int main(void)
{
	struct sigaction sa;
	uintptr_t addrs[3] = {0x10, 0x1000, 0x7f0000};

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, 0);
	for (int i = 0; i < 3; i++) {
		if (sigsetjmp(jb, 1) == 0) {
			volatile int x = *(volatile int *)addrs[i];
			(void)x;
			printf("no fault?\n");
		} else {
			printf("recovered from fault at %#lx\n", (unsigned long)fault_addr);
		}
	}
	printf("done\n");
	return 0;
}
