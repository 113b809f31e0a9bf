/*
 * probe: a test application that misbehaves on request, so the guest tests
 * can check that the runtime catches it. Usage: probe COMMAND [ADDR]
 *   null       dereference NULL            codewrite  write into its own code
 *   peek ADDR  read an address             poke ADDR  write an address
 *   smash      overflow a stack buffer
 *   random [MS] (sleep, then) print PIE base, canary, AT_RANDOM, getrandom
 *   enosys     call an unimplemented syscall twice, then exit 0
 *   ud         execute an invalid instruction
 *   execstack  call code written to the stack   execheap  ... to the heap
 *   memory     exercise malloc/brk/mmap/mprotect, a large stack and SSE math
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
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
	unsigned char buf[32];
	unsigned long canary;

	/* The stack protector's value, which libc derives from AT_RANDOM. */
	__asm__("mov %%fs:0x28, %0" : "=r"(canary));
	printf("main at %p\n", (void *)(uintptr_t)&main);
	printf("canary %016lx\n", canary);
	printf("AT_RANDOM ");
	for (int i = 0; i < 16; i++)
		printf("%02x", r[i]);
	printf("\n");
	if (getrandom(buf, sizeof(buf), 0) != sizeof(buf))
		printf("getrandom failed: %s\n", strerror(errno));
	printf("getrandom ");
	for (size_t i = 0; i < sizeof(buf); i++)
		printf("%02x", buf[i]);
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

__attribute__((noinline)) static unsigned deep_stack(void)
{
	volatile unsigned char big[1 << 20]; /* 1 MiB: needs demand-paged stack */
	unsigned sum = 0;

	for (size_t i = 0; i < sizeof(big); i += 4096)
		big[i] = (unsigned char)i;
	for (size_t i = 0; i < sizeof(big); i += 4096)
		sum += big[i];
	return sum;
}

static int memory(void)
{
	enum { N = 1000 };
	static char *small[N];
	size_t big = 32u << 20;
	char *p = malloc(big);
	volatile double x = 1.5;

	if (!p)
		return printf("malloc(32 MiB) failed\n"), 1;
	memset(p, 0x5a, big);
	for (size_t i = 0; i < big; i += 4096)
		if (p[i] != 0x5a)
			return printf("big block corrupt\n"), 1;
	free(p);
	for (int i = 0; i < N; i++)
		if (!(small[i] = malloc(16 + i)))
			return printf("small malloc failed\n"), 1;
	for (int i = 0; i < N; i++)
		free(small[i]);
	p = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || p[12345] != 0)
		return printf("mmap failed or not zeroed\n"), 1;
	p[0] = 1;
	if (mprotect(p, 1 << 20, PROT_READ) || munmap(p, 1 << 20))
		return printf("mprotect/munmap failed\n"), 1;
	if (mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) !=
	    MAP_FAILED)
		return printf("W+X mapping was allowed\n"), 1;
	printf("stack sum %u\n", deep_stack());
	printf("float %.3f\n", x * x + 0.25);
	printf("memory ok\n");
	return 0;
}

/* Calls a `ret` written to writable memory: NX must fault on the fetch. */
__attribute__((noinline)) static void exec_data(unsigned char *p)
{
	p[0] = 0xc3;
	printf("calling data at %p\n", (void *)p);
	((void (*)(void))(uintptr_t)p)();
}

/* Bytes to overflow a buffer with (a static source: reading past argv could fault first). */
static const char filler[64] = "this string is much longer than the eight-byte buffer";

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
		smash(filler,
		      sizeof(filler) - (size_t)(argc - 2)); /* argc: a length gcc cannot see */
	if (!strcmp(cmd, "random")) {
		if (addr) /* random MS: sleep first */
			usleep((useconds_t)addr * 1000);
		print_random();
	}
	if (!strcmp(cmd, "enosys"))
		return enosys();
	if (!strcmp(cmd, "memory"))
		return memory();
	if (!strcmp(cmd, "execstack")) {
		unsigned char code[16];

		exec_data(code);
	}
	if (!strcmp(cmd, "execheap"))
		exec_data(malloc(16));
	if (!strcmp(cmd, "ud"))
		__asm__ volatile("ud2");
	printf("probe survived\n");
	return 0;
}
