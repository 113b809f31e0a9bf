/* time.c: TSC calibration against PIT channel 2, and the CMOS RTC. */
#include "time.h"

#include "apic.h"
#include "cpu.h"
#include "errno.h"
#include "proc.h"
#include "sched.h"

#define PIT_HZ 1193182u
#define CAL_TICKS (PIT_HZ / 500) /* a 2 ms window */

static uint64_t tsc_hz, tsc_at_rtc;
static int64_t rtc_epoch_ns;

static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static int bcd(uint8_t v, int is_bcd)
{
	return is_bcd ? (v >> 4) * 10 + (v & 15) : v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static int64_t read_rtc(void)
{
	int is_bcd, h;
	int64_t days;

	for (int i = 0; i < 100000 && (cmos(0x0a) & 0x80); i++)
		; /* update in progress */
	is_bcd = !(cmos(0x0b) & 4);
	h = cmos(0x04);
	h = bcd(h & 0x7f, is_bcd) + ((h & 0x80) && !(cmos(0x0b) & 2) ? 12 : 0);
	days = days_from_civil(2000 + bcd(cmos(0x09), is_bcd), bcd(cmos(0x08), is_bcd),
			       bcd(cmos(0x07), is_bcd));
	return ((days * 24 + h) * 60 + bcd(cmos(0x02), is_bcd)) * 60 + bcd(cmos(0x00), is_bcd);
}

static void calibrate(void)
{
	uint64_t t0, t1;
	uint32_t apic_counts;

	outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate on, speaker off */
	outb(0x43, 0xb0);			/* channel 2, lo/hi, mode 0 */
	outb(0x42, CAL_TICKS & 0xff);
	outb(0x42, CAL_TICKS >> 8);
	apic_timer_count_start();
	t0 = rdtsc();
	for (uint64_t i = 0; i < 100000000 && !(inb(0x61) & 0x20); i++)
		;
	t1 = rdtsc();
	apic_counts = apic_timer_count_elapsed();
	tsc_hz = (t1 - t0) * (PIT_HZ / CAL_TICKS);
	if (!tsc_hz)
		tsc_hz = 1000000000;
	apic_set_frequency((uint64_t)apic_counts * (PIT_HZ / CAL_TICKS));
	tsc_at_rtc = rdtsc();
	rtc_epoch_ns = read_rtc() * 1000000000ll;
}

void time_calibrate(void)
{
	if (!tsc_hz)
		calibrate();
}

uint64_t time_ns_to_tsc(uint64_t ns)
{
	if (!tsc_hz)
		calibrate();
	return ns / 1000000000u * tsc_hz + ns % 1000000000u * tsc_hz / 1000000000u;
}

uint64_t time_tsc_to_ns(uint64_t cycles)
{
	if (!tsc_hz)
		calibrate();
	/* Split so that no product overflows 64 bits (tsc_hz < 2^34). */
	return cycles / tsc_hz * 1000000000u + cycles % tsc_hz * 1000000000u / tsc_hz;
}

int64_t time_now_ns(int clock)
{
	uint64_t now;

	time_calibrate(); /* before reading the TSC: calibration takes time */
	now = rdtsc();
	switch (clock) {
	case CLOCK_REALTIME:
	case CLOCK_REALTIME_COARSE: return rtc_epoch_ns + (int64_t)time_tsc_to_ns(now - tsc_at_rtc);
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME: return (int64_t)time_tsc_to_ns(now - proc.tsc_boot);
	case CLOCK_PROCESS_CPUTIME_ID: return (int64_t)time_tsc_to_ns(sched_process_cpu_tsc());
	case CLOCK_THREAD_CPUTIME_ID: return (int64_t)time_tsc_to_ns(sched_thread_cpu_tsc());
	default: return -EINVAL;
	}
}

int64_t time_tsc_to_realtime_ns(uint64_t tsc)
{
	time_calibrate();
	if (tsc < tsc_at_rtc)
		return rtc_epoch_ns - (int64_t)time_tsc_to_ns(tsc_at_rtc - tsc);
	return rtc_epoch_ns + (int64_t)time_tsc_to_ns(tsc - tsc_at_rtc);
}
