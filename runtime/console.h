/*
 * console.h: the COM1 (16550) console. Boot messages, the application's
 * stdout/stderr and crash reports all go here, unbuffered, so nothing is lost
 * when the guest powers off.
 */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <stddef.h>

void console_init(void);
void console_write(const char *buf, size_t len);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
