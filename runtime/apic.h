/*
 * apic.h: the local APIC, used for one timer interrupt at a time (one-shot,
 * never periodic: an idle guest gets no interrupts at all).
 */
#ifndef APIC_H
#define APIC_H

#include <stdint.h>

#define APIC_TIMER_VECTOR 0x20
#define APIC_SPURIOUS_VECTOR 0xff

/* Maps and enables the local APIC; the timer starts disarmed. */
void apic_init(void);
void apic_eoi(void);
/*
 * Ends every interrupt in service (the exit path may begin inside a
 * handler, whose vector would block every one of lower priority, the
 * timer's included, until its end-of-interrupt).
 */
void apic_eoi_all(void);
/*
 * Fires APIC_TIMER_VECTOR once when the TSC reaches `tsc` (0 disarms). Uses
 * the TSC-deadline mode where the CPU has it (one MSR write, no conversion),
 * else the one-shot count-down, which may fire early for far deadlines: the
 * scheduler re-arms.
 */
void apic_timer_arm_at(uint64_t tsc);
/* From the timer interrupt: the one-shot has fired, the next arm is written. */
void apic_timer_fired(void);
/*
 * For calibration: starts the counter free-running, reads how far it went
 * (without stopping it; 0 in TSC-deadline mode), and stops it.
 */
void apic_timer_count_start(void);
uint32_t apic_timer_count_read(void);
void apic_timer_count_stop(void);
/* Set by time.c's calibration: timer counts per second at our divider. */
void apic_set_frequency(uint64_t hz);

#endif
