/*
 * uaccess.h: the only way the runtime reads or writes application memory.
 * Each call checks that the whole range is user memory the application may
 * access (faulting in demand pages), then copies with SMAP opened briefly.
 */
#ifndef UACCESS_H
#define UACCESS_H

#include <stddef.h>
#include <stdint.h>

/* 0 or -EFAULT. */
int copy_from_user(void *dst, uint64_t src, size_t n);
int copy_to_user(uint64_t dst, const void *src, size_t n);
/* Copies a NUL-terminated string of at most max-1 bytes; returns its length or
 * -EFAULT/-ENAMETOOLONG. */
long copy_string_from_user(char *dst, uint64_t src, size_t max);

#endif
