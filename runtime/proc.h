/* proc.h: the one application process: its layout and how it ends. */
#ifndef PROC_H
#define PROC_H

#include <stdint.h>

#include "elf.h"

struct proc {
	struct elf_image app;
	uint64_t base;		 /* load bias: 0 for ET_EXEC, random for PIE */
	uint64_t brk_start, brk; /* program break */
	uint64_t mmap_top;	 /* mmap hands out addresses downwards from here */
	uint64_t tid_address;	 /* set_tid_address */
	char exe[128];		 /* "/" + the application's base name */
	char hostname[65];	 /* uname nodename (hostname= option) */
	uint64_t tsc_boot, tsc_main;
	int debug_boot;
};

extern struct proc proc;

/* Prints "exit status N" on the console and powers the VM off. */
__attribute__((noreturn)) void proc_exit(int status);
/* Ends the process as a fatal signal would: "killed by signal N (NAME)", status 128+N. */
__attribute__((noreturn)) void proc_kill(int sig);
const char *proc_signal_name(int sig);

#endif
