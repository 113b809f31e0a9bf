// compat: glibc
/* setjmp/longjmp across frames, and the string functions' edge cases. */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static jmp_buf env;

static volatile int depth;

static int deep(int n);
static int (*volatile recurse)(int) = deep;

static int deep(int n)
{
	if (n == depth)
		longjmp(env, 42);
	return recurse(n + 1) + 1;
}

int main(void)
{
	char buf[64] = "overlapping memmove test";
	int r = setjmp(env);

	if (r == 0) {
		depth = 100;
		deep(0);
	}
	printf("longjmp returned %d\n", r);
	memmove(buf + 4, buf, 12);
	printf("memmove: %s\n", buf);
	printf("strstr: %s\n", strstr("haystack with needle inside", "needle"));
	printf("strncmp: %d %d\n", strncmp("abc", "abd", 2), strncmp("abc", "abd", 3) < 0);
	printf("strtok:");
	for (char *s = strtok(strcpy(buf, "a,b,,c"), ","); s; s = strtok(0, ","))
		printf(" [%s]", s);
	printf("\nstrlen %zu, strspn %zu, strcspn %zu\n", strlen("hello"), strspn("aaab", "a"),
	       strcspn("xyz,", ","));
	return 0;
}
