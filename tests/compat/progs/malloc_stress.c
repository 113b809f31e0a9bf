// compat: glibc
/* Many allocations of many sizes, realloc growth, and a checksum of the contents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	enum { N = 4000 };
	static unsigned char *p[N];
	static size_t sz[N];
	unsigned long sum = 0;
	unsigned seed = 1;

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < N; i++) {
			seed = seed * 1103515245 + 12345;
			sz[i] = (seed >> 8) % (i % 50 == 0 ? 200000 : 300) + 1;
			p[i] = realloc(p[i], sz[i]);
			if (!p[i])
				return printf("allocation failed\n"), 1;
			memset(p[i], i & 0xff, sz[i]);
		}
		for (int i = 0; i < N; i += 2) {
			free(p[i]);
			p[i] = 0;
		}
	}
	for (int i = 0; i < N; i++)
		for (size_t j = 0; p[i] && j < sz[i]; j += 7)
			sum += p[i][j];
	printf("checksum %lu\n", sum);
	return 0;
}
