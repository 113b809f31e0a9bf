// compat: glibc
/* Locale-free libc work: qsort, bsearch, strtod, strtol, atoi. */
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	const char *in[] = {"3.5", "-1e3", "2.25", "1e-3", "42", "-0.5", "1e300", "7"};
	double v[8], key = 42;
	char *end;

	for (int i = 0; i < 8; i++)
		v[i] = strtod(in[i], &end);
	qsort(v, 8, sizeof(v[0]), cmp);
	for (int i = 0; i < 8; i++)
		printf("%g ", v[i]);
	printf("\nfound 42 at %ld\n", (long)((double *)bsearch(&key, v, 8, sizeof(v[0]), cmp) - v));
	printf("strtol %ld %ld %ld\n", strtol("0x7f", 0, 16), strtol("-0777", 0, 8),
	       strtol("z", 0, 36));
	printf("atoi %d\n", atoi("  -12abc"));
	return 0;
}
