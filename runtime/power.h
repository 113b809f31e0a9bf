/* power.h: ending the VM. */
#ifndef POWER_H
#define POWER_H

/*
 * Powers the VM off so that the VMM process ends by itself. `status` is the
 * application's exit status (0-255); where an isa-debug-exit device sits at
 * port 0xf4 (raw-QEMU test harness) QEMU exits with (status << 1) | 1.
 */
__attribute__((noreturn)) void power_off(int status);

#endif
