/* string.h for lwIP inside the runtime: the runtime's own string functions. */
#ifndef UK_LWIP_STRING_H
#define UK_LWIP_STRING_H
#include "../lib.h"
#endif
