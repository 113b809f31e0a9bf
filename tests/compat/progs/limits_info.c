// compat: glibc
/* sysinfo, getrusage, sched_getaffinity and sysconf give sane answers. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>

int main(void)
{
	struct sysinfo si;
	struct rusage ru;
	cpu_set_t set;
	volatile unsigned long spin = 0;
	int r;

	r = sysinfo(&si);
	printf("sysinfo: %d, ram > 1 MiB: %s, free <= total: %s\n", r,
	       (unsigned long long)si.totalram * si.mem_unit > (1 << 20) ? "yes" : "no",
	       si.freeram <= si.totalram ? "yes" : "no");
	for (unsigned long i = 0; i < 30000000; i++)
		spin += i;
	r = getrusage(RUSAGE_SELF, &ru);
	printf("getrusage: %d, maxrss > 0: %s\n", r, ru.ru_maxrss > 0 ? "yes" : "no");
	CPU_ZERO(&set);
	r = sched_getaffinity(0, sizeof(set), &set);
	printf("sched_getaffinity: %d, cpu0: %d\n", r, CPU_ISSET(0, &set) ? 1 : 0);
	printf("online cpus >= 1: %s\n", sysconf(_SC_NPROCESSORS_ONLN) >= 1 ? "yes" : "no");
	return 0;
}
