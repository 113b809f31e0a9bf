// compat: glibc
/* printf and friends: integers, floats, strings, padding, snprintf truncation. */
#include <stdio.h>
#include <string.h>

int main(void)
{
	char buf[16];
	const char *volatile src = "truncated string";
	int n = snprintf(buf, sizeof(buf), "%s-%d", src, 42);

	printf("[%5d] [%-5d] [%05d] [%x] [%#o] [%lld]\n", 42, 42, 42, 255, 8, -1234567890123LL);
	printf("[%.3f] [%10.2e] [%g] [%a]\n", 3.14159265, 12345.678, 0.0001, 1.0);
	printf("[%s] [%.3s] [%c] [%%]\n", "str", "abcdef", 'z');
	printf("snprintf wanted %d, got \"%s\"\n", n, buf);
	return 0;
}
