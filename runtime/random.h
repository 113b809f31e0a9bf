/* random.h: randomness from RDRAND (virtio-rng joins later). */
#ifndef RANDOM_H
#define RANDOM_H

#include <stddef.h>
#include <stdint.h>

uint64_t random_u64(void);
void random_fill(void *buf, size_t len);

#endif
