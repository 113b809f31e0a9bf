/* crash.c: the crash report. */
#include "crash.h"

#include "console.h"
#include "cpu.h"
#include "health.h"
#include "image.h"
#include "layout.h"
#include "proc.h"
#include "signal.h"
#include "vm.h"

#define MAX_FRAMES 16
#define PANIC_STATUS 255

extern char _text_start[], _text_end[], _data_start[], _end[];

static const char *const names[32] = {
	"divide error (#DE)",
	"debug (#DB)",
	"NMI",
	"breakpoint (#BP)",
	"overflow (#OF)",
	"bound range (#BR)",
	"invalid opcode (#UD)",
	"device not available (#NM)",
	"double fault (#DF)",
	"coprocessor segment overrun",
	"invalid TSS (#TS)",
	"segment not present (#NP)",
	"stack fault (#SS)",
	"general protection (#GP)",
	"page fault (#PF)",
	"reserved",
	"x87 floating point (#MF)",
	"alignment check (#AC)",
	"machine check (#MC)",
	"SIMD floating point (#XM)",
	"virtualization (#VE)",
	"control protection (#CP)",
};

static int signal_of(uint64_t vec)
{
	switch (vec) {
	case 0:
	case 16:
	case 19: return 8; /* SIGFPE */
	case 1:
	case 3: return 5;   /* SIGTRAP */
	case 6: return 4;   /* SIGILL */
	case 17: return 7;  /* SIGBUS */
	default: return 11; /* SIGSEGV */
	}
}

static int in_runtime(uint64_t addr)
{
	return (addr >= (uint64_t)_text_start && addr < (uint64_t)_end) || addr >= DMAP_BASE;
}

static int in_app(uint64_t addr)
{
	return addr < USER_TOP && !in_runtime(addr);
}

/* "name+0xoff (where)" for an address, or "?" */
static void print_symbol(uint64_t addr)
{
	const char *name = 0;
	uint64_t off = 0;

	/*
	 * Only inside the application's image: its symbol table's size-less
	 * entries (assembly functions) would otherwise name any stack or heap
	 * address, e.g. code run from the stack, as "func+0x28b937e00a73".
	 */
	if (in_app(addr) && proc.app.syms && addr - proc.base >= proc.app.lo &&
	    addr - proc.base < proc.app.hi)
		name = elf_symbolize(proc.app.syms, proc.app.nsyms, proc.app.strs, proc.app.strsize,
				     addr - proc.base, &off);
	else if (!in_app(addr))
		name = image_runtime_symbol(addr, &off);
	health_panic_frame(addr, name, off, in_app(addr));
	if (name)
		kprintf("%s+0x%lx", name, off);
	else
		kprintf("?");
	kprintf(" (%s)\n", in_app(addr) ? "application" : "runtime");
}

/* Reads a word of the stack being walked, if it is safely readable. */
static int read_word(uint64_t addr, int user, uint64_t *out)
{
	if (addr % 8)
		return 0;
	if (user) {
		if (!vm_user_ok(addr, 8, 0))
			return 0;
		user_access_begin();
		*out = *(const uint64_t *)addr;
		user_access_end();
		return 1;
	}
	if (!((addr >= (uint64_t)_data_start && addr + 8 <= (uint64_t)_end) ||
	      (addr >= KSTACK_REGION && addr < KSTACK_REGION + (1ull << 30))))
		return 0;
	if (addr >= KSTACK_REGION && !(vm_pte(addr) && (*vm_pte(addr) & PTE_P)))
		return 0;
	*out = *(const uint64_t *)addr;
	return 1;
}

static int is_text(uint64_t addr, int user)
{
	if (!user)
		return addr >= (uint64_t)_text_start && addr < (uint64_t)_text_end;
	for (unsigned i = 0; i < proc.app.phnum; i++) {
		const Elf64_Phdr *p = &proc.app.ph[i];

		if (p->p_type == PT_LOAD && (p->p_flags & PF_X) && addr >= proc.base + p->p_vaddr &&
		    addr < proc.base + p->p_vaddr + p->p_memsz)
			return 1;
	}
	return 0;
}

static void backtrace(const struct trapframe *tf, int user)
{
	uint64_t fp = tf->rbp, ret, next;
	int n = 1;

	kprintf("backtrace:\n  #0  0x%016lx  ", tf->rip);
	print_symbol(tf->rip);
	/* Frame-pointer chain, each link checked before it is followed. */
	while (n < MAX_FRAMES && read_word(fp + 8, user, &ret) && read_word(fp, user, &next) &&
	       is_text(ret, user)) {
		kprintf("  #%-2d 0x%016lx  ", n++, ret);
		print_symbol(ret);
		if (next <= fp)
			break;
		fp = next;
	}
	if (n > 1)
		return;
	/* No usable frame pointers (common at -O2): show code addresses found on the stack. */
	kprintf("  (no frame pointers; code addresses found on the stack follow)\n");
	for (int i = 0; i < 64 && n < MAX_FRAMES; i++) {
		if (!read_word(tf->rsp + 8 * i, user, &ret) || !is_text(ret, user))
			continue;
		kprintf("  ?%-2d 0x%016lx  ", n++, ret);
		print_symbol(ret);
	}
}

static void registers(const struct trapframe *tf)
{
	kprintf("rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", tf->rax, tf->rbx, tf->rcx,
		tf->rdx);
	kprintf("rsi %016lx rdi %016lx rbp %016lx rsp %016lx\n", tf->rsi, tf->rdi, tf->rbp,
		tf->rsp);
	kprintf("r8  %016lx r9  %016lx r10 %016lx r11 %016lx\n", tf->r8, tf->r9, tf->r10, tf->r11);
	kprintf("r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n", tf->r12, tf->r13, tf->r14,
		tf->r15);
	kprintf("rip %016lx rflags %08lx cs %02lx ss %02lx\n", tf->rip, tf->rflags, tf->cs, tf->ss);
}

static void page_fault_detail(const struct trapframe *tf)
{
	uint64_t e = tf->error, addr = read_cr2();

	kprintf("fault address 0x%016lx: %s %s page, from %s mode%s\n", addr,
		e & 16	? "instruction fetch from a"
		: e & 2 ? "write to a"
			: "read of a",
		e & 1 ? "protected" : "non-present", e & 4 ? "user" : "runtime",
		e & 1 && in_runtime(addr) && (e & 4) ? " (the runtime's memory is off-limits)"
						     : "");
}

/* si_code for a fault, as Linux reports it. */
static int fault_code(const struct trapframe *tf)
{
	if (tf->vector == 14)
		return tf->error & 1 ? 2 : 1; /* SEGV_ACCERR : SEGV_MAPERR */
	if (tf->vector == 6)
		return 1; /* ILL_ILLOPC */
	if (tf->vector == 0)
		return 1; /* FPE_INTDIV */
	return 128;	  /* SI_KERNEL, as Linux gives for #GP */
}

void crash_exception(struct trapframe *tf)
{
	int user = (tf->cs & 3) == 3;
	uint64_t vec = tf->vector;

	/* A program that handles the signal gets it (it may recover, e.g. with siglongjmp). */
	if (user &&
	    signal_fault(tf, signal_of(vec), fault_code(tf), vec == 14 ? read_cr2() : tf->rip))
		return;

	kprintf("\n=== crash: %s, vector %lu, in the %s ===\n",
		vec < 32 && names[vec] ? names[vec] : "?", vec, user ? "application" : "runtime");
	health_panic_begin(vec < 32 && names[vec] ? names[vec] : "?",
			   user ? "application" : "runtime", vec == 14 ? read_cr2() : 0);
	kprintf("error code 0x%lx\n", tf->error);
	if (vec == 14)
		page_fault_detail(tf);
	kprintf("at 0x%016lx  ", tf->rip);
	print_symbol(tf->rip);
	registers(tf);
	backtrace(tf, user);
	if (!user) {
		kprintf("runtime panic\n");
		proc_exit(PANIC_STATUS);
	}
	proc_kill(signal_of(vec));
}

void crash_panic(const char *why)
{
	kprintf("\n=== runtime panic: %s ===\n", why);
	health_panic_begin(why, "runtime", 0);
	proc_exit(PANIC_STATUS);
}

/* The runtime's own -fstack-protector checks land here. */
uintptr_t __stack_chk_guard;

__attribute__((noreturn)) void __stack_chk_fail(void)
{
	crash_panic("stack smashing detected in the runtime");
}
