/*
 * boot.c: from the PVH entry (boot.S) to the application. Reads the VMM's
 * hvm_start_info (command line, memory map), finds the payload behind the
 * runtime, sets up memory and the CPU, then hands over to the loader.
 */
#include "ukimage.h"
#include "apic.h"
#include "cmdline.h"
#include "devices.h"
#include "console.h"
#include "cpu.h"
#include "crash.h"
#include "../drivers/drivers.h"
#include "health.h"
#include "heap.h"
#include "image.h"
#include "layout.h"
#include "lib.h"
#include "loader.h"
#include "net.h"
#include "pmem.h"
#include "proc.h"
#include "ramfs.h"
#include "random.h"
#include "sched.h"
#include "vm.h"

#define HVM_START_MAGIC 0x336ec578
#define MAX_RAM_REGIONS 32
#define CMDLINE_MAX 4096

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

extern char _end[];
extern uint64_t boot_tsc0;

static char cmdline_buf[CMDLINE_MAX];
static struct pmem_region ram[MAX_RAM_REGIONS];
static int nram;

/* Copies what we need out of hvm_start_info while the bootstrap identity map is live. */
static void read_start_info(uint64_t pa)
{
	const struct hvm_start_info *si = (const void *)pa;
	const struct hvm_memmap_entry *mm;

	if (si->magic != HVM_START_MAGIC || si->version < 1)
		crash_panic("no PVH start info (boot this image with a PVH-capable VMM)");
	if (si->cmdline_paddr) {
		const char *c = (const char *)si->cmdline_paddr;
		size_t n = strnlen(c, CMDLINE_MAX - 1);

		memcpy(cmdline_buf, c, n);
		if (n == CMDLINE_MAX - 1)
			kprintf("runtime: command line truncated to %d bytes\n", CMDLINE_MAX - 1);
	}
	mm = (const void *)si->memmap_paddr;
	for (uint32_t i = 0; i < si->memmap_entries && nram < MAX_RAM_REGIONS; i++)
		if (mm[i].type == 1 && mm[i].addr >= 0x100000)
			ram[nram++] = (struct pmem_region){mm[i].addr, mm[i].size};
	if (!nram)
		crash_panic("the VMM gave no RAM above 1 MiB");
}

static uint64_t ram_top(void)
{
	uint64_t top = 0;

	for (int i = 0; i < nram; i++)
		top = MAX(top, ram[i].base + ram[i].size);
	return top;
}

static int same_key(const char *a, const char *b)
{
	while (*a && *a != '=' && *a == *b)
		a++, b++;
	return *a == '=' && *b == '=';
}

/* a then b; with `override`, an entry of a whose key is also in b is left out. */
static char **join(char **a, int na, char **b, int nb, int override)
{
	char **v = kmalloc(sizeof(char *) * (na + nb + 1));
	int n = 0;

	if (!v)
		crash_panic("out of memory building argv/envp");
	for (int i = 0; i < na; i++) {
		int dup = 0;

		for (int j = 0; override && j < nb && !dup; j++)
			dup = same_key(a[i], b[j]);
		if (!dup)
			v[n++] = a[i];
	}
	for (int i = 0; i < nb; i++)
		v[n++] = b[i];
	return v;
}

/* Manifest strings with `prefix=` as a vector (pointing into the image). */
static char **manifest_list(const char *prefix, int *n)
{
	size_t pos = 0, plen = strlen(prefix);
	const char *s;
	char **v;

	*n = 0;
	while ((s = image_manifest_next(&pos)))
		*n += !strncmp(s, prefix, plen);
	if (!(v = kmalloc(sizeof(char *) * (*n + 1))))
		crash_panic("out of memory reading the manifest");
	*n = 0;
	pos = 0;
	while ((s = image_manifest_next(&pos)))
		if (!strncmp(s, prefix, plen))
			v[(*n)++] = (char *)s + plen;
	return v;
}

static const char default_hosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost\n";

/* The image's files, readable (and writable, copy on write) in the ramfs. */
static void add_image_files(void)
{
	struct image_blob b;

	for (unsigned i = 0; image_find(UKIMG_FILE, i, &b); i++)
		if (ramfs_add_file(b.name, b.data, b.size, image_file_mode(i)))
			kprintf("runtime: cannot add image file %s\n", b.name);
	/* As on any Linux system, localhost resolves; an image may bring its own. */
	ramfs_add_file("/etc/hosts", default_hosts, sizeof(default_hosts) - 1, 0644);
}

static void start_application(const struct cmdline *c)
{
	struct image_blob app;
	const char *argv0 = image_manifest_get("app");
	char **args, **env, *a0[1];
	int nargs, nenv;

	if (!image_find(UKIMG_APP, 0, &app))
		crash_panic("the image has no application");
	args = manifest_list("arg=", &nargs);
	env = manifest_list("env=", &nenv);
	a0[0] = (char *)(argv0 ? argv0 : "app");
	/* Args after -- replace the manifest's; env.K=V adds to (and overrides) its env. */
	if (c->has_args)
		args = c->args, nargs = c->nargs;
	args = join(a0, 1, args, nargs, 0);
	env = join(env, nenv, c->env, c->nenv, 1);
	loader_run(app.data, app.size, args, env);
}

/* debug=crash: proves that a fault inside the runtime gives a symbolized report. */
__attribute__((noinline)) static void crash_test(void)
{
	kprintf("runtime: debug=crash: reading address 0x8 from the runtime\n");
	uintptr_t addr = 8;

	__asm__ volatile("" : "+r"(addr)); /* hide the constant from the compiler's checks */
	(void)*(volatile uint64_t *)addr;
}

__attribute__((no_stack_protector)) void boot_main(uint32_t start_info)
{
	uint64_t payload = ALIGN_UP((uint64_t)_end, PAGE_SIZE), size, kstack, fault_stack;
	struct cmdline c;

	__stack_chk_guard = random_u64();
	proc.tsc_boot = boot_tsc0;
	console_init();
	read_start_info(start_info);
	size = image_check((const void *)payload, ram_top() > payload ? ram_top() - payload : 0);
	if (!size)
		proc_exit(127);
	pmem_init(ram, nram, payload + size);
	cpu_detect();
	vm_init(ram_top());
	image_set_base(phys_to_virt(payload));
	kstack = vm_kstack_alloc();
	fault_stack = vm_kstack_alloc();
	if (!kstack || !fault_stack)
		crash_panic("cannot allocate kernel stacks");
	cpu_init(kstack, fault_stack);
	apic_init();
	sched_init(kstack);
	ramfs_init();
	devices_init();
	add_image_files();
	cmdline_parse(cmdline_buf, &c);
	proc.debug_boot = c.debug_boot;
	memcpy(proc.hostname, c.hostname ? c.hostname : "ukd",
	       strlen(c.hostname ? c.hostname : "ukd"));
	if (c.debug_crash)
		crash_test();
	drivers_init();
	if (net_init(&c))
		proc_exit(127);
	health_start();
	start_application(&c);
}
