/*
 * time.c: the TSC frequency from kvmclock, else from CPUID (0x15, 0x16,
 * 0x40000010), else measured against PIT channel 2 with bracketed samples;
 * CLOCK_MONOTONIC and BOOTTIME from kvmclock when the hypervisor offers it,
 * else the TSC; the wall clock from the CMOS RTC.
 */
#include "time.h"

#include "apic.h"
#include "cpu.h"
#include "errno.h"
#include "fmt.h"
#include "pmem.h"
#include "proc.h"
#include "sched.h"

#define PIT_HZ 1193182u
#define CAL_TICKS (PIT_HZ / 500)    /* a window of at least 2 ms */
#define CAL_MAX_TICKS (PIT_HZ / 25) /* and at most 40 ms (the counter wraps at 55) */
#define CAL_PPM 2000		    /* the error the two brackets may leave */
#define CAL_START_WIDTH 16	    /* PIT ticks: a start bracket worth retrying */
#define CAL_START_TRIES 8
#define CAL_WINDOW_TRIES 4
#define CAL_MAX_SAMPLES 200000 /* ~40 ms takes some 10^4 */

#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define CPUID_TIMING_INFO 0x40000010 /* eax: TSC kHz, ebx: APIC bus kHz (VMware, QEMU) */

/* The pvclock ABI (Linux's struct pvclock_vcpu_time_info); the host updates it. */
struct pvclock {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
};
_Static_assert(sizeof(struct pvclock) == 32, "pvclock layout");

static uint64_t tsc_hz, tsc_at_rtc;
static int64_t rtc_epoch_ns;
static const char *tsc_source = "none";
static char pit_source[64];
static volatile struct pvclock kvmclock __attribute__((aligned(64)));
static int have_kvmclock;
static uint64_t kvmclock_boot_ns, last_mono_ns;

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

/* Nanoseconds since the host's reference, and the TSC it was computed from. */
static uint64_t kvmclock_read(uint64_t *tsc_out)
{
	uint32_t v;
	uint64_t tsc, delta, ns;

	do {
		v = kvmclock.version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		tsc = rdtsc();
		delta = tsc > kvmclock.tsc_timestamp ? tsc - kvmclock.tsc_timestamp : 0;
		delta = kvmclock.tsc_shift < 0 ? delta >> -kvmclock.tsc_shift
					       : delta << kvmclock.tsc_shift;
		ns = kvmclock.system_time +
		     (uint64_t)(((unsigned __int128)delta * kvmclock.tsc_to_system_mul) >> 32);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((v & 1) || v != kvmclock.version);
	if (tsc_out)
		*tsc_out = tsc;
	return ns;
}

/* kvmclock: registers the pvclock page and takes the TSC frequency from it. */
static int kvmclock_init(void)
{
	uint32_t r[4];
	uint64_t hz, tsc, ns;

	cpuid(KVM_CPUID_SIGNATURE, 0, r);
	/* "KVMKVMKVM\0\0\0"; a max leaf of 0 means 0x40000001 on old KVM */
	if (r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[3] != 0x4d ||
	    (r[0] && r[0] < KVM_CPUID_FEATURES))
		return 0;
	cpuid(KVM_CPUID_FEATURES, 0, r);
	if (!(r[0] & KVM_FEATURE_CLOCKSOURCE2))
		return 0;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, virt_to_phys((const void *)&kvmclock) | 1);
	for (int i = 0; i < 1000 && !kvmclock.tsc_to_system_mul; i++)
		__asm__ volatile("pause");
	if (!kvmclock.tsc_to_system_mul) {
		wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
		return 0;
	}
	hz = (1000000000ull << 32) / kvmclock.tsc_to_system_mul;
	hz = kvmclock.tsc_shift < 0 ? hz << -kvmclock.tsc_shift : hz >> kvmclock.tsc_shift;
	if (hz < 1000000) /* nonsense: keep the PIT */
		return 0;
	tsc_hz = hz;
	ns = kvmclock_read(&tsc);
	have_kvmclock = 1;
	kvmclock_boot_ns = ns - time_tsc_to_ns(tsc - proc.tsc_boot);
	return 1;
}

/* The TSC frequency from CPUID leaves that state it; 0 when none does. */
static uint64_t cpuid_tsc_hz(void)
{
	uint32_t r[4], max;

	cpuid(0, 0, r);
	max = r[0];
	if (max >= 0x15) {
		cpuid(0x15, 0, r); /* TSC = crystal (ecx) * ebx / eax */
		if (r[0] && r[1] && r[2])
			return (uint64_t)r[2] * r[1] / r[0];
	}
	cpuid(KVM_CPUID_SIGNATURE, 0, r);
	if (r[0] >= CPUID_TIMING_INFO && r[0] < 0x40000100) {
		cpuid(CPUID_TIMING_INFO, 0, r);
		if (r[0])
			return (uint64_t)r[0] * 1000;
	}
	if (max >= 0x16) {
		cpuid(0x16, 0, r); /* base frequency in MHz: nominal, close enough */
		if (r[0] & 0xffff)
			return (uint64_t)(r[0] & 0xffff) * 1000000;
	}
	return 0;
}

/*
 * One calibration sample: the TSC and the APIC timer's count read between two
 * reads of PIT channel 2, which counts down. `mid2` is twice the PIT count
 * at the middle of the bracket, `width` how many PIT ticks the bracket took:
 * a vCPU descheduled by the host in between (common under TCG on a busy
 * host) shows as a wide bracket, and such a sample is not used.
 */
struct pit_sample {
	uint64_t tsc;
	uint32_t apic, mid2, width;
};

static uint16_t pit2_read(void)
{
	uint8_t lo;

	outb(0x43, 0x80); /* latch channel 2's count */
	lo = inb(0x42);
	return (uint16_t)(lo | inb(0x42) << 8);
}

static void pit_sample(struct pit_sample *s)
{
	uint16_t a = pit2_read(), b;

	s->tsc = rdtsc();
	s->apic = apic_timer_count_read();
	b = pit2_read();
	s->mid2 = (uint32_t)a + b;
	s->width = a >= b ? a - b : 0xffff; /* b > a: the counter wrapped */
}

/*
 * One window on PIT channel 2, counting down from 0xffff in mode 0 (its
 * output rises at 0, after 55 ms, and marks a wrapped, unusable window).
 * Ends at the first sample at least CAL_TICKS after the start whose
 * brackets leave an error of at most CAL_PPM, or at CAL_MAX_TICKS with the
 * best one. Returns the error bound in ppm, or 0 if the window is void.
 */
static uint32_t pit_window(uint64_t *tsc_hz_out, uint64_t *apic_hz_out, uint32_t *us_out)
{
	struct pit_sample s0, s, best = {0};
	uint64_t best_err = ~0ull, err;
	uint32_t elapsed2;

	outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate on, speaker off */
	outb(0x43, 0xb0);			/* channel 2, lo/hi, mode 0 */
	outb(0x42, 0xff);
	outb(0x42, 0xff);
	apic_timer_count_start();
	pit_sample(&s0);
	for (int i = 0; i < CAL_START_TRIES && s0.width > CAL_START_WIDTH; i++)
		pit_sample(&s0);
	if (s0.width == 0xffff)
		return 0;
	for (int n = 0;; n++) {
		if (n == CAL_MAX_SAMPLES)
			return 0; /* no PIT counting here */
		pit_sample(&s);
		if ((inb(0x61) & 0x20) || s.mid2 > s0.mid2 || s.width == 0xffff)
			return 0; /* the counter wrapped: descheduled for 55 ms */
		elapsed2 = s0.mid2 - s.mid2;
		if (elapsed2 < 2 * CAL_TICKS)
			continue;
		/* Each end is known to within half its bracket, plus a tick of rounding. */
		err = (uint64_t)(s0.width + s.width + 2) * 1000000 / elapsed2;
		if (err < best_err) {
			best_err = err;
			best = s;
		}
		if (best_err <= CAL_PPM || elapsed2 >= 2 * CAL_MAX_TICKS)
			break;
	}
	elapsed2 = s0.mid2 - best.mid2;
	*tsc_hz_out = (best.tsc - s0.tsc) * 2 * PIT_HZ / elapsed2;
	*apic_hz_out = (uint64_t)(best.apic - s0.apic) * 2 * PIT_HZ / elapsed2;
	*us_out = (uint32_t)((uint64_t)elapsed2 * 500000 / PIT_HZ);
	return (uint32_t)best_err;
}

/*
 * The TSC (if still unknown) and the APIC timer's rate against PIT channel
 * 2, over a window of about 2 ms whose ends are bracketed samples (see
 * pit_sample); a window spoilt by a long stall is taken again.
 */
static void calibrate_pit(void)
{
	uint64_t t_hz = 0, a_hz = 0;
	uint32_t ppm = 0, us = 0;
	int tries;

	for (tries = 1; tries <= CAL_WINDOW_TRIES && !ppm; tries++)
		ppm = pit_window(&t_hz, &a_hz, &us);
	apic_timer_count_stop();
	if (!tsc_hz && t_hz) {
		tsc_hz = t_hz;
		fmt_snprintf(pit_source, sizeof(pit_source), "PIT (%u us window, +-%u ppm, try %d)",
			     us, ppm, tries - 1);
		tsc_source = pit_source;
	}
	if (!tsc_hz)
		tsc_hz = 1000000000;
	apic_set_frequency(a_hz);
}

static void calibrate(void)
{
	if (kvmclock_init())
		tsc_source = "kvmclock";
	else if ((tsc_hz = cpuid_tsc_hz()))
		tsc_source = "CPUID";
	/* The APIC timer's rate matters only without TSC-deadline mode. */
	if (!tsc_hz || !cpu_features.tsc_deadline)
		calibrate_pit();
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
	/*
	 * Rounded up: a timer never fires early, and (with a TSC of at least
	 * 1 GHz) time_tsc_to_ns() gives back exactly the ns it was given, as
	 * timerfd_gettime must.
	 */
	return ns / 1000000000u * tsc_hz + (ns % 1000000000u * tsc_hz + 999999999u) / 1000000000u;
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
	case CLOCK_BOOTTIME:
		if (have_kvmclock) {
			uint64_t ns = kvmclock_read(0) - kvmclock_boot_ns;

			/* Never backwards, even if the host corrects its clock. */
			return (int64_t)(last_mono_ns = ns > last_mono_ns ? ns : last_mono_ns);
		}
		return (int64_t)time_tsc_to_ns(now - proc.tsc_boot);
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

const char *time_source(void)
{
	time_calibrate();
	return tsc_source;
}
