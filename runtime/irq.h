/*
 * irq.h: device interrupts. A driver takes a vector and gets its handler
 * called (with the end-of-interrupt sent for it). Interrupts only arrive
 * while the application runs in ring 3 or the vCPU idles, never in the
 * middle of runtime code, so handlers may call into the network stack.
 */
#ifndef IRQ_H
#define IRQ_H

/* A free vector with fn(arg) as its handler, or -ENOSPC. */
int irq_alloc(void (*fn)(void *arg), void *arg);
/* Runs the handler for vector; 1 if there was one. */
int irq_dispatch(unsigned vector);

#endif
