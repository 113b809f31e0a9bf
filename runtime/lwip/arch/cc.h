/* arch/cc.h: lwIP's compiler and platform hooks for the freestanding runtime. */
#ifndef LWIP_ARCH_CC_H
#define LWIP_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_CTYPE_H 1
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"
#define LWIP_RAND() ((u32_t)lwip_random())

void lwip_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void lwip_assert_failed(const char *msg, const char *file, int line);
unsigned long lwip_random(void);
void *lwip_heap_alloc(size_t size);
void *lwip_heap_calloc(size_t n, size_t size);
void lwip_heap_free(void *p);

#define LWIP_PLATFORM_DIAG(x) lwip_diag x
#define LWIP_PLATFORM_ASSERT(x) lwip_assert_failed(x, __FILE__, __LINE__)

#endif
