// compat: glibc
/* mremap grows and shrinks mappings, keeping their contents; realloc of big blocks relies on it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
	size_t pg = 4096;
	char *p = mmap(0, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q;
	int ok = 1;

	memset(p, 'x', 4 * pg);
	q = mremap(p, 4 * pg, 64 * pg, MREMAP_MAYMOVE);
	for (size_t i = 0; i < 4 * pg; i++)
		ok &= q[i] == 'x';
	printf("grown: %s, contents kept: %s, new part zero: %s\n", q != MAP_FAILED ? "yes" : "no",
	       ok ? "yes" : "no", q[10 * pg] == 0 ? "yes" : "no");
	p = mremap(q, 64 * pg, 2 * pg, 0);
	printf("shrunk in place: %s, still readable: %c\n", p == q ? "yes" : "no", p[pg]);
	char *big = malloc(1 << 20);
	memset(big, 7, 1 << 20);
	big = realloc(big, 8 << 20);
	printf("realloc 1 MiB -> 8 MiB keeps data: %s\n", big[(1 << 20) - 1] == 7 ? "yes" : "no");
	free(big);
	return 0;
}
