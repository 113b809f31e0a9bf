// compat: glibc
/* Identity calls return sane values; uname fields are set. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void)
{
	struct utsname u;
	struct rlimit rl;

	printf("getpid positive: %s\n", getpid() > 0 ? "yes" : "no");
	printf("gettid == getpid in main: %s\n", syscall(SYS_gettid) == getpid() ? "yes" : "no");
	printf("uname: %d, sysname %s, machine %s\n", uname(&u), u.sysname, u.machine);
	int r = getrlimit(RLIMIT_NOFILE, &rl);

	printf("getrlimit(NOFILE): %d, soft limit >= 64: %s\n", r,
	       rl.rlim_cur >= 64 ? "yes" : "no");
	printf("getrlimit(STACK): %d\n", getrlimit(RLIMIT_STACK, &rl));
	printf("sysconf pagesize %ld\n", sysconf(_SC_PAGESIZE));
	return 0;
}
