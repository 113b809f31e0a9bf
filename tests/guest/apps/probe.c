/*
 * probe: a test application that misbehaves on request, so the guest tests
 * can check that the runtime catches it. Usage: probe COMMAND [ADDR]
 *   null       dereference NULL            codewrite  write into its own code
 *   peek ADDR  read an address             poke ADDR  write an address
 *   smash      overflow a stack buffer     random     print PIE base and AT_RANDOM
 *   enosys     call an unimplemented syscall twice, then exit 0
 *   ud         execute an invalid instruction
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(int argc, char **argv);

__attribute__((noinline)) static int null_deref(volatile int *p)
{
	return *p;
}

__attribute__((noinline)) static void write_code(void)
{
	volatile unsigned char *code = (volatile unsigned char *)(uintptr_t)&write_code;

	code[0] = 0xcc;
}

__attribute__((noinline)) static void smash(const char *src, size_t n)
{
	char buf[8];

	/* A length the compiler cannot see, so it does not refuse to build this. */
	for (size_t i = 0; i < n; i++)
		buf[i] = src[i];
	printf("copied %.8s\n", buf);
}

static void print_random(void)
{
	const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);

	printf("main at %p\n", (void *)(uintptr_t)&main);
	printf("AT_RANDOM ");
	for (int i = 0; i < 16; i++)
		printf("%02x", r[i]);
	printf("\n");
}

static int enosys(void)
{
	for (int i = 0; i < 2; i++) {
		long r = syscall(100 /* times: not implemented */, 0);

		printf("syscall 100 -> %ld errno %d\n", r, errno);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	uintptr_t addr = argc > 2 ? strtoull(argv[2], 0, 0) : 0;

	setvbuf(stdout, 0, _IONBF, 0);
	printf("probe %s\n", cmd);
	if (!strcmp(cmd, "null"))
		return null_deref(0);
	if (!strcmp(cmd, "codewrite"))
		write_code();
	if (!strcmp(cmd, "peek"))
		printf("read %d\n", *(volatile int *)addr);
	if (!strcmp(cmd, "poke"))
		*(volatile int *)addr = 1;
	if (!strcmp(cmd, "smash"))
		smash(cmd, strlen(cmd) * 16);
	if (!strcmp(cmd, "random"))
		print_random();
	if (!strcmp(cmd, "enosys"))
		return enosys();
	if (!strcmp(cmd, "ud"))
		__asm__ volatile("ud2");
	printf("probe survived\n");
	return 0;
}
