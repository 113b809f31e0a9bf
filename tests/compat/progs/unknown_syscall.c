// compat: glibc
/* An unimplemented (or nonexistent) syscall returns ENOSYS and the program keeps running. */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	long r = syscall(1000, 1, 2, 3);

	printf("syscall 1000: %ld, errno %s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
	r = syscall(-1);
	printf("syscall -1: %ld, errno %s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
	printf("still running\n");
	return 0;
}
