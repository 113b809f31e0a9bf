/* loader.c: ELF loading and the initial process stack. */
#include "loader.h"

#include "console.h"
#include "cpu.h"
#include "errno.h"
#include "heap.h"
#include "layout.h"
#include "lib.h"
#include "pmem.h"
#include "proc.h"
#include "random.h"
#include "time.h"
#include "trap.h"
#include "uaccess.h"
#include "vm.h"

#define STACK_SIZE (8ull << 20) /* reserved; pages come on demand */
#define PIE_BASE 0x555555554000ull
#define MMAP_TOP 0x7f0000000000ull

enum {
	AT_NULL = 0,
	AT_PHDR = 3,
	AT_PHENT = 4,
	AT_PHNUM = 5,
	AT_PAGESZ = 6,
	AT_BASE = 7,
	AT_FLAGS = 8,
	AT_ENTRY = 9,
	AT_UID = 11,
	AT_EUID = 12,
	AT_GID = 13,
	AT_EGID = 14,
	AT_PLATFORM = 15,
	AT_HWCAP = 16,
	AT_CLKTCK = 17,
	AT_SECURE = 23,
	AT_RANDOM = 25,
	AT_HWCAP2 = 26,
	AT_EXECFN = 31,
};

__attribute__((noreturn)) static void fail(const char *what, int err)
{
	kprintf("runtime: cannot start the application: %s (error %d)\n", what, err);
	proc_exit(127);
}

static int prot_of(uint32_t flags)
{
	return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) |
	       (flags & PF_X ? PROT_EXEC : 0);
}

/* Each page gets fresh memory, filled through the direct map, then mapped with its final rights. */
static int load_segment(const struct elf_image *img, const Elf64_Phdr *p, uint64_t bias)
{
	uint64_t start = ALIGN_DOWN(p->p_vaddr, PAGE_SIZE),
		 end = ALIGN_UP(p->p_vaddr + p->p_memsz, PAGE_SIZE);
	int err = vm_user_alloc(start + bias, end - start, prot_of(p->p_flags));

	if (err)
		return err;

	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		uint64_t pa = pmem_alloc(1), lo = MAX(va, p->p_vaddr);
		uint64_t hi = MIN(va + PAGE_SIZE, p->p_vaddr + p->p_filesz);

		if (!pa)
			return -ENOMEM;
		if (lo < hi)
			memcpy((char *)phys_to_virt(pa) + (lo - va),
			       img->data + p->p_offset + (lo - p->p_vaddr), hi - lo);
		if ((err = vm_user_map(va + bias, pa, prot_of(p->p_flags))) < 0) {
			pmem_free(pa, 1);
			return err;
		}
	}
	return 0;
}

static uint64_t pick_base(const struct elf_image *img)
{
	if (!img->pie)
		return 0;
	/* 28 bits of page-granular randomness, as Linux gives PIE programs. */
	return PIE_BASE + (random_u64() & ((1ull << 28) - 1)) * PAGE_SIZE - img->lo;
}

/* The initial stack is built in a runtime buffer, then copied in one piece. */
struct stack_builder {
	uint8_t *buf;	  /* mirrors [top - size, top) */
	uint64_t top, sp; /* user addresses */
	size_t size;
};

static uint64_t push_bytes(struct stack_builder *b, const void *data, size_t n)
{
	if (b->top - b->sp + n > b->size)
		return 0;
	b->sp -= n;
	memcpy(b->buf + b->size - (b->top - b->sp), data, n);
	return b->sp;
}

static uint64_t push_str(struct stack_builder *b, const char *s)
{
	return push_bytes(b, s, strlen(s) + 1);
}

static int count(char **v)
{
	int n = 0;

	while (v && v[n])
		n++;
	return n;
}

static uint64_t build_stack(struct stack_builder *b, char **argv, char **envp, uint64_t entry)
{
	int argc = count(argv), envc = count(envp), nauxv = 0;
	uint64_t *ptrs, uptrs[512], auxv[2 * 24], rnd[2] = {random_u64(), random_u64()};
	uint64_t at_random, platform, hwcap, execfn, words;
	uint32_t r[4];

	if (argc + envc + 2 > (int)ARRAY_SIZE(uptrs))
		return 0;
	at_random = push_bytes(b, rnd, sizeof(rnd));
	platform = push_str(b, "x86_64");
	execfn = push_str(b, proc.exe);
	for (int i = 0; i < argc; i++)
		uptrs[i] = push_str(b, argv[i]);
	uptrs[argc] = 0;
	for (int i = 0; i < envc; i++)
		uptrs[argc + 1 + i] = push_str(b, envp[i]);
	uptrs[argc + 1 + envc] = 0;
	cpuid(1, 0, r);
	hwcap = r[3];
#define AUX(k, v) (auxv[nauxv++] = (k), auxv[nauxv++] = (v))
	AUX(AT_PHDR, proc.base + proc.app.phdr_vaddr);
	AUX(AT_PHENT, sizeof(Elf64_Phdr));
	AUX(AT_PHNUM, proc.app.phnum);
	AUX(AT_PAGESZ, PAGE_SIZE);
	AUX(AT_BASE, 0);
	AUX(AT_FLAGS, 0);
	AUX(AT_ENTRY, entry);
	AUX(AT_UID, 0);
	AUX(AT_EUID, 0);
	AUX(AT_GID, 0);
	AUX(AT_EGID, 0);
	AUX(AT_PLATFORM, platform);
	AUX(AT_HWCAP, hwcap);
	AUX(AT_HWCAP2, 0);
	AUX(AT_CLKTCK, 100);
	AUX(AT_SECURE, 0);
	AUX(AT_RANDOM, at_random);
	AUX(AT_EXECFN, execfn);
	AUX(AT_NULL, 0);
#undef AUX
	if (!at_random || !platform || !execfn)
		return 0;
	/* argc, argv[], 0, envp[], 0, auxv: the stack pointer ends 16-byte aligned at argc. */
	words = 1 + (argc + 1) + (envc + 1) + nauxv;
	b->sp = ALIGN_DOWN(b->sp - words * 8, 16);
	if (b->top - b->sp > b->size)
		return 0;
	ptrs = (uint64_t *)(b->buf + b->size - (b->top - b->sp));
	ptrs[0] = argc;
	memcpy(&ptrs[1], uptrs, (argc + envc + 2) * 8);
	memcpy(&ptrs[1 + argc + 1 + envc + 1], auxv, nauxv * 8);
	return b->sp;
}

static void set_exe_name(const char *argv0)
{
	const char *slash = argv0, *p;

	for (p = argv0; *p; p++)
		if (*p == '/')
			slash = p + 1;
	proc.exe[0] = '/';
	memcpy(proc.exe + 1, slash, MIN(strlen(slash), sizeof(proc.exe) - 2));
}

void loader_run(const void *elf, size_t size, char **argv, char **envp)
{
	uint64_t stack_top = MMAP_TOP + (1ull << 32) - (random_u64() & 0xfffff) * 16, sp, entry;
	struct stack_builder sb = {.size = 64 * 1024};
	static struct trapframe tf;
	int err;

	if ((err = elf_parse(&proc.app, elf, size)) != ELF_OK) {
		kprintf("runtime: application ELF rejected: %s\n", elf_strerror(err));
		proc_exit(127);
	}
	proc.base = pick_base(&proc.app);
	for (unsigned i = 0; i < proc.app.phnum; i++)
		if (proc.app.ph[i].p_type == PT_LOAD &&
		    (err = load_segment(&proc.app, &proc.app.ph[i], proc.base)) < 0)
			fail("loading a segment", err);
	if (!proc.app.phdr_vaddr)
		fail("program headers are not in a loaded segment", -EINVAL);
	proc.brk_start = proc.brk = proc.base + proc.app.hi + (random_u64() & 0xff) * PAGE_SIZE;
	proc.mmap_top = MMAP_TOP - (random_u64() & 0xffff) * PAGE_SIZE;
	stack_top = ALIGN_DOWN(stack_top, 16);
	if ((err = vm_user_alloc(ALIGN_UP(stack_top, PAGE_SIZE) - STACK_SIZE, STACK_SIZE,
				 PROT_READ | PROT_WRITE)) < 0)
		fail("reserving the stack", err);
	set_exe_name(argv[0]);
	entry = proc.base + proc.app.eh->e_entry;
	sb.top = sb.sp = stack_top;
	if (!(sb.buf = kmalloc(sb.size)) || !(sp = build_stack(&sb, argv, envp, entry)))
		fail("arguments and environment do not fit in 64 KiB", -E2BIG);
	if ((err = copy_to_user(sp, sb.buf + sb.size - (sb.top - sp), sb.top - sp)) < 0)
		fail("writing the initial stack", err);
	kfree(sb.buf);
	tf = (struct trapframe){
		.rip = entry, .cs = USER_CS, .rflags = 0x202, .rsp = sp, .ss = USER_DS};
	proc.tsc_main = rdtsc();
	if (proc.debug_boot) { /* measured before printing, so the print costs nothing */
		kprintf("boot: first instruction to application entry: %lu us (%lu TSC cycles)\n",
			time_tsc_to_ns(proc.tsc_main - proc.tsc_boot) / 1000,
			proc.tsc_main - proc.tsc_boot);
		kprintf("boot: TSC %lu kHz, from %s\n", time_ns_to_tsc(1000000), time_source());
	}
	user_enter(&tf);
}
