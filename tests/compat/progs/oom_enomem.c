/* Exhausting memory gives ENOMEM / NULL, never a crash: the program stays in control. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
	void *big = malloc((size_t)1 << 46); /* 64 TiB: no machine has that */
	void *m = mmap(0, (size_t)1 << 47, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);

	printf("malloc(64 TiB): %s\n", big ? "succeeded" : "NULL");
	printf("mmap(128 TiB): %s\n", m == MAP_FAILED ? "MAP_FAILED" : "succeeded");
	return 0;
}
