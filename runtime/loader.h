/*
 * loader.h: starts the application: maps its ELF (each segment with its own
 * permissions; PIE at a random base), builds the Linux x86-64 initial stack
 * (argc, argv, envp, auxv) and enters ring 3 at its entry point.
 */
#ifndef LOADER_H
#define LOADER_H

#include <stddef.h>

/* Does not return; on failure it reports why and powers off with status 127. */
__attribute__((noreturn)) void loader_run(const void *elf, size_t size, char **argv, char **envp);

#endif
