/*
 * time.h: clocks. The TSC frequency is taken from kvmclock or CPUID, or
 * measured against the PIT, the first time a clock is read (so boot pays
 * nothing); CLOCK_MONOTONIC follows kvmclock where the hypervisor offers it;
 * the wall clock starts from the CMOS RTC at that moment.
 */
#ifndef TIME_H
#define TIME_H

#include <stdint.h>

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7

/* Nanoseconds on `clock`, or -EINVAL for a clock we do not have. */
int64_t time_now_ns(int clock);
/* Finds the TSC frequency (and the APIC timer's, against the PIT if needed), once. */
void time_calibrate(void);
/* TSC cycles to nanoseconds and back (calibrating first if needed). */
uint64_t time_tsc_to_ns(uint64_t cycles);
uint64_t time_ns_to_tsc(uint64_t ns);
/* The CLOCK_REALTIME reading at the moment the TSC read `tsc`. */
int64_t time_tsc_to_realtime_ns(uint64_t tsc);
/* Where the TSC frequency came from: "kvmclock", "CPUID" or "PIT". */
const char *time_source(void);

#endif
