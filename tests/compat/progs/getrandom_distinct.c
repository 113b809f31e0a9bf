// compat: glibc
/* getrandom gives different bytes each call, and large requests are filled. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int main(void)
{
	unsigned char a[32], b[32], big[100000];
	int zeros = 0;

	if (getrandom(a, sizeof(a), 0) != sizeof(a) || getrandom(b, sizeof(b), 0) != sizeof(b))
		return printf("getrandom failed\n"), 1;
	printf("two draws differ: %s\n", memcmp(a, b, sizeof(a)) ? "yes" : "no");
	memset(big, 0, sizeof(big));
	printf("big request filled: %s\n",
	       getrandom(big, sizeof(big), 0) == sizeof(big) ? "yes" : "no");
	for (size_t i = 0; i < sizeof(big); i++)
		zeros += big[i] == 0;
	printf("zero bytes plausible: %s\n", zeros > 100 && zeros < 1000 ? "yes" : "no");
	return 0;
}
