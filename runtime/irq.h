/*
 * irq.h: device interrupts. A driver takes a vector and gets its handler
 * called (with the end-of-interrupt sent for it). Interrupts only arrive
 * while the application runs in ring 3 or the vCPU idles, never in the
 * middle of runtime code, so handlers may call into the network stack.
 */
#ifndef IRQ_H
#define IRQ_H

#include <stdint.h>

/* A free vector with fn(arg) as its handler, or -ENOSPC. */
int irq_alloc(void (*fn)(void *arg), void *arg);
/* Runs the handler for vector; 1 if there was one. */
int irq_dispatch(unsigned vector);

/*
 * For the exit path, which may begin anywhere in the runtime (a crash in a
 * handler, the network stack, a syscall): from now on an interrupt, the
 * timer's included, only ends a halt; no handler or scheduler code runs,
 * ever again. Interrupts still in service are ended.
 */
void irq_quiesce(void);
/* 1 once irq_quiesce() was called (trap.c then only acknowledges interrupts). */
int irq_quiesced(void);
/* After irq_quiesce(): halts until an interrupt, or the TSC reaches `tsc`. */
void irq_halt_until(uint64_t tsc);

#endif
