/*
 * sys_proc.c: process identity, exit, signals (recorded; delivery comes with
 * the threads work), limits, uname, randomness and clocks.
 */
#include "cpu.h"
#include "errno.h"
#include "layout.h"
#include "lib.h"
#include "proc.h"
#include "pmem.h"
#include "random.h"
#include "sched.h"
#include "syscall.h"
#include "time.h"
#include "uaccess.h"

#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define NSIG 64
#define PID 1

long sys_exit_group(const uint64_t *a)
{
	proc_exit((int)a[0]);
}

long sys_getpid(const uint64_t *a)
{
	(void)a;
	return PID;
}

long sys_getppid(const uint64_t *a)
{
	(void)a;
	return 0;
}

/* The application is the only user there is; it runs as root, as in a container. */
long sys_getuid(const uint64_t *a)
{
	(void)a;
	return 0;
}

long sys_geteuid(const uint64_t *a)
{
	return sys_getuid(a);
}

long sys_getgid(const uint64_t *a)
{
	return sys_getuid(a);
}

long sys_getegid(const uint64_t *a)
{
	return sys_getuid(a);
}

long sys_set_robust_list(const uint64_t *a)
{
	return a[1] == 24 ? 0 : -EINVAL;
}

long sys_arch_prctl(const uint64_t *a)
{
	uint64_t fs;

	switch (a[0]) {
	case ARCH_SET_FS:
		if (a[1] >= USER_TOP)
			return -EPERM;
		wrmsr(MSR_FS_BASE, a[1]);
		return 0;
	case ARCH_GET_FS: fs = rdmsr(MSR_FS_BASE); return copy_to_user(a[1], &fs, sizeof(fs));
	default: return -EINVAL;
	}
}

struct rlimit {
	uint64_t cur, max;
};

static struct rlimit rlimit_of(uint64_t res)
{
	const uint64_t inf = ~0ull;

	switch (res) {
	case 3: return (struct rlimit){8ull << 20, inf}; /* RLIMIT_STACK */
	case 7: return (struct rlimit){1024, 4096};	 /* RLIMIT_NOFILE */
	default: return (struct rlimit){inf, inf};
	}
}

long sys_prlimit64(const uint64_t *a)
{
	struct rlimit r = rlimit_of(a[1]);

	if ((a[0] != 0 && a[0] != PID) || a[1] > 15)
		return a[1] > 15 ? -EINVAL : -ESRCH;
	if (a[3] && copy_to_user(a[3], &r, sizeof(r)))
		return -EFAULT;
	return 0; /* new limits are accepted and not enforced */
}

long sys_getrlimit(const uint64_t *a)
{
	struct rlimit r = rlimit_of(a[0]);

	return a[0] > 15 ? -EINVAL : copy_to_user(a[1], &r, sizeof(r));
}

long sys_uname(const uint64_t *a)
{
	char u[6][65] = {"Linux", "", "6.1.0-ukd", "#1 ukd runtime", "x86_64", "(none)"};

	memcpy(u[1], proc.hostname, sizeof(u[1]) - 1);
	return copy_to_user(a[0], u, sizeof(u));
}

struct sysinfo {
	int64_t uptime;
	uint64_t loads[3], totalram, freeram, sharedram, bufferram, totalswap, freeswap;
	uint16_t procs, pad;
	uint32_t pad2;
	uint64_t totalhigh, freehigh;
	uint32_t mem_unit;
	char reserved[4];
};

long sys_sysinfo(const uint64_t *a)
{
	struct sysinfo si = {0};

	si.uptime = time_now_ns(CLOCK_BOOTTIME) / 1000000000;
	si.totalram = pmem_total_pages() * PAGE_SIZE;
	si.freeram = pmem_free_pages() * PAGE_SIZE;
	si.procs = (uint16_t)sched_nthreads();
	si.mem_unit = 1;
	return copy_to_user(a[0], &si, sizeof(si));
}

struct rusage {
	int64_t utime[2], stime[2];
	int64_t maxrss, ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock, msgsnd,
		msgrcv, nsignals, nvcsw, nivcsw;
};

long sys_getrusage(const uint64_t *a)
{
	struct rusage ru = {0};
	int who = (int)a[0];
	uint64_t ns;

	if (who != 0 && who != -1 && who != 1) /* SELF, CHILDREN, THREAD */
		return -EINVAL;
	ns = who == -1
		     ? 0
		     : time_tsc_to_ns(who == 1 ? sched_thread_cpu_tsc() : sched_process_cpu_tsc());
	ru.utime[0] = (int64_t)(ns / 1000000000);
	ru.utime[1] = (int64_t)(ns % 1000000000 / 1000);
	ru.maxrss = who == -1 ? 0 : (int64_t)(pmem_high_water_pages() * 4); /* KiB */
	return copy_to_user(a[1], &ru, sizeof(ru));
}

/* One vCPU: the only CPU is CPU 0. */
long sys_sched_getaffinity(const uint64_t *a)
{
	uint64_t mask = 1;

	if (a[1] < sizeof(mask))
		return -EINVAL;
	if (a[0] != 0 && !sched_find((int)a[0]))
		return -ESRCH;
	return copy_to_user(a[2], &mask, sizeof(mask)) ? -EFAULT : (long)sizeof(mask);
}

long sys_sched_setaffinity(const uint64_t *a)
{
	uint64_t mask;

	if (a[1] < sizeof(mask))
		return -EINVAL;
	if (copy_from_user(&mask, a[2], sizeof(mask)))
		return -EFAULT;
	return mask & 1 ? 0 : -EINVAL;
}

#define GRND_MAX (1u << 25)

long sys_getrandom(const uint64_t *a)
{
	uint8_t chunk[256];
	uint64_t len = MIN(a[1], GRND_MAX);

	for (uint64_t done = 0; done < len; done += sizeof(chunk)) {
		size_t n = MIN(len - done, sizeof(chunk));

		random_fill(chunk, n);
		if (copy_to_user(a[0] + done, chunk, n))
			return done ? (long)done : -EFAULT;
	}
	return (long)len;
}

struct timespec {
	int64_t sec, nsec;
};

long sys_clock_gettime(const uint64_t *a)
{
	int64_t ns = time_now_ns((int)a[0]);
	struct timespec ts;

	if (ns < 0)
		return ns;
	ts = (struct timespec){ns / 1000000000, ns % 1000000000};
	return copy_to_user(a[1], &ts, sizeof(ts));
}

long sys_clock_getres(const uint64_t *a)
{
	struct timespec ts = {0, 1};

	if (time_now_ns((int)a[0]) < 0)
		return -EINVAL;
	return a[1] ? copy_to_user(a[1], &ts, sizeof(ts)) : 0;
}

long sys_gettimeofday(const uint64_t *a)
{
	int64_t ns = time_now_ns(CLOCK_REALTIME);
	int64_t tv[2] = {ns / 1000000000, ns % 1000000000 / 1000};

	return a[0] ? copy_to_user(a[0], tv, sizeof(tv)) : 0;
}

long sys_time(const uint64_t *a)
{
	int64_t t = time_now_ns(CLOCK_REALTIME) / 1000000000;

	if (a[0] && copy_to_user(a[0], &t, sizeof(t)))
		return -EFAULT;
	return t;
}

/* Restartable sequences need per-CPU preemption hooks we do not have; glibc
 * treats ENOSYS as "unsupported" and carries on, so this is not "unknown". */
long sys_rseq(const uint64_t *a)
{
	(void)a;
	return -ENOSYS;
}
