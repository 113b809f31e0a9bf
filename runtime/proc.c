/* proc.c: process state and process end. */
#include "proc.h"

#include "console.h"
#include "health.h"
#include "power.h"
#include "random.h"
#include "syscall.h"

struct proc proc;

static const char *const signames[] = {
	[1] = "SIGHUP",	  [2] = "SIGINT",   [3] = "SIGQUIT",  [4] = "SIGILL",	[5] = "SIGTRAP",
	[6] = "SIGABRT",  [7] = "SIGBUS",   [8] = "SIGFPE",   [9] = "SIGKILL",	[10] = "SIGUSR1",
	[11] = "SIGSEGV", [12] = "SIGUSR2", [13] = "SIGPIPE", [14] = "SIGALRM", [15] = "SIGTERM",
};

const char *proc_signal_name(int sig)
{
	if (sig > 0 && sig < (int)(sizeof(signames) / sizeof(signames[0])) && signames[sig])
		return signames[sig];
	return "signal";
}

void proc_exit(int status)
{
	syscall_report_unknown();
	if (proc.debug_boot)
		random_report();
	/* Before the console line: when the host is away, both would be lost. */
	health_exit_wait();
	kprintf("exit status %d\n", status & 0xff);
	health_exit(status & 0xff);
	power_off(status & 0xff);
}

void proc_kill(int sig)
{
	kprintf("killed by signal %d (%s)\n", sig, proc_signal_name(sig));
	health_note_signal(sig);
	proc_exit(128 + sig);
}
