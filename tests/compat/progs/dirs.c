// compat: glibc
/* mkdir, readdir (sorted), rename files and directories, rmdir rules, getcwd/chdir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *dir)
{
	DIR *d = opendir(dir);
	char *names[32];
	int n = 0;
	struct dirent *e;

	while (d && (e = readdir(d)) && n < 32)
		names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp);
	printf("%s:", dir);
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]), free(names[i]);
	printf("\n");
}

int main(void)
{
	const char *base = "/tmp/ukd-compat-dirs";
	char cwd[256];

	/* Leftovers from an interrupted earlier run. */
	rmdir("/tmp/ukd-compat-dirs/a/b");
	unlink("/tmp/ukd-compat-dirs/a/f2");
	unlink("/tmp/ukd-compat-dirs/f1");
	rmdir("/tmp/ukd-compat-dirs/a");
	rmdir("/tmp/ukd-compat-dirs/c");
	rmdir(base);
	printf("mkdir: %d\n", mkdir(base, 0755));
	printf("mkdir again: %d %s\n", mkdir(base, 0755), errno == EEXIST ? "EEXIST" : "?");
	chdir(base);
	printf("getcwd: %s\n", getcwd(cwd, sizeof(cwd)));
	mkdir("a", 0755);
	mkdir("a/b", 0755);
	close(open("f1", O_CREAT | O_WRONLY, 0644));
	list(".");
	printf("rename f1 -> a/f2: %d\n", rename("f1", "a/f2"));
	printf("rename a -> c: %d\n", rename("a", "c"));
	list(".");
	list("c");
	printf("rmdir non-empty: %d %s\n", rmdir("c"), errno == ENOTEMPTY ? "ENOTEMPTY" : "?");
	printf("unlink dir: %d %s\n", unlink("c/b"), errno == EISDIR ? "EISDIR" : "?");
	printf("rmdir file: %d %s\n", rmdir("c/f2"), errno == ENOTDIR ? "ENOTDIR" : "?");
	chdir("c");
	printf("getcwd in c: %s\n", getcwd(cwd, sizeof(cwd)));
	chdir("..");
	printf("cleanup: %d %d %d %d\n", unlink("c/f2"), rmdir("c/b"), rmdir("c"), rmdir(base));
	return 0;
}
