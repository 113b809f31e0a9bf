/* stdlib.h for lwIP inside the runtime: lwIP only needs atoi (netif name parsing). */
#ifndef UK_LWIP_STDLIB_H
#define UK_LWIP_STDLIB_H
int atoi(const char *s);
#endif
