// compat: glibc
/* fopen/fprintf/fgets/fscanf/fseek on files, as a program's config handling would. */
#include <stdio.h>
#include <string.h>

int main(void)
{
	const char *path = "/tmp/ukd-compat-stdio.conf";
	FILE *f = fopen(path, "w");
	char line[128], key[32];
	int value, n = 0;

	for (int i = 0; i < 50; i++)
		fprintf(f, "key%02d = %d\n", i, i * i);
	fclose(f);
	f = fopen(path, "r");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s = %d", key, &value) == 2 && value % 7 == 0)
			n++;
	printf("lines with value divisible by 7: %d\n", n);
	fseek(f, -9, SEEK_END);
	fgets(line, sizeof(line), f);
	printf("tail: %s", line);
	printf("ftell at end: %ld\n", ftell(f));
	fclose(f);
	f = fopen(path, "a+");
	fputs("extra = 1\n", f);
	rewind(f);
	fgets(line, sizeof(line), f);
	printf("first line after append: %s", line);
	fclose(f);
	remove(path);
	printf("fopen missing: %s\n", fopen(path, "r") ? "opened" : "NULL");
	return 0;
}
