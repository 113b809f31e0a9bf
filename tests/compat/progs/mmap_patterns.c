// compat: glibc
/* Anonymous mmap: zero fill, MAP_FIXED replace, partial munmap, mprotect, PROT_NONE reserve. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
	size_t pg = 4096;
	unsigned char *p =
		mmap(0, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *r;
	int zero = 1;

	if (p == MAP_FAILED)
		return printf("mmap failed\n"), 1;
	for (size_t i = 0; i < 16 * pg; i++)
		zero &= p[i] == 0;
	printf("zero filled: %s\n", zero ? "yes" : "no");
	memset(p, 0xab, 16 * pg);
	r = mmap(p + 4 * pg, 2 * pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("MAP_FIXED at requested address: %s, fresh zero: %s, neighbour kept: %s\n",
	       r == p + 4 * pg ? "yes" : "no", r[0] == 0 ? "yes" : "no",
	       p[3 * pg] == 0xab ? "yes" : "no");
	printf("munmap middle: %d\n", munmap(p + 8 * pg, 2 * pg));
	printf("mprotect read-only: %d\n", mprotect(p, 4 * pg, PROT_READ));
	printf("read after mprotect: %x\n", p[pg]);
	r = mmap(0, 64 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("PROT_NONE reserve: %s\n", r != MAP_FAILED ? "yes" : "no");
	printf("mprotect part RW: %d\n", mprotect(r + 8 * pg, 8 * pg, PROT_READ | PROT_WRITE));
	r[8 * pg] = 1;
	printf("write into it: %d\n", r[8 * pg]);
	printf("mmap len 0: %s\n",
	       mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? "fails"
										       : "works");
	return 0;
}
