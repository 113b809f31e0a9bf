/*
 * crash.h: crash reports. One readable report on the console per fatal
 * event: what happened, where (symbolized against the runtime's and the
 * application's symbol tables), the registers and a backtrace; then the VM
 * powers off with a failure status.
 */
#ifndef CRASH_H
#define CRASH_H

#include <stdint.h>

#include "trap.h"

/*
 * A CPU exception. An application fault whose signal the program handles
 * returns (the handler runs next); otherwise the report is printed and the
 * process ends with status 128+signal (runtime faults: 255).
 */
void crash_exception(struct trapframe *tf);
/* A runtime bug found by a check (the message says which). Status 255. */
__attribute__((noreturn)) void crash_panic(const char *why);

/* The canary value for the runtime's own -fstack-protector (set at boot from RDRAND). */
extern uintptr_t __stack_chk_guard;

#endif
