/*
 * random.h: the runtime's entropy pool (random.c): RDRAND and virtio-rng in,
 * a ChaCha20 keystream out. Never blocks.
 */
#ifndef RANDOM_H
#define RANDOM_H

#include <stddef.h>
#include <stdint.h>

uint64_t random_u64(void);
void random_fill(void *buf, size_t len);
/* Stirs device entropy into the pool. */
void random_mix(const void *buf, size_t len);
/* A device driver's poll: random_fill calls it first (it must not block; it may call random_mix).
 */
void random_set_source(void (*poll)(void));
/* With debug=boot, at exit: how many bytes the device gave (nothing without one). */
void random_report(void);

#endif
