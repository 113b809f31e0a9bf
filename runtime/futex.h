/* futex.h: fast user-space mutex waits, keyed by user address (one address space). */
#ifndef FUTEX_H
#define FUTEX_H

#include <stdint.h>

/* Blocks while *uaddr == val, until woken (bitset must intersect) or deadline (TSC, 0: none). */
long futex_wait(uint64_t uaddr, uint32_t val, uint64_t deadline, uint32_t bitset);
/* Wakes up to n waiters on uaddr whose bitset intersects; returns how many. */
long futex_wake(uint64_t uaddr, int n, uint32_t bitset);
/* Wakes n on uaddr, moves up to n2 others to uaddr2; with check, only if *uaddr == val3. */
long futex_requeue(uint64_t uaddr, int n, int n2, uint64_t uaddr2, int check, uint32_t val3);

#endif
